"""The run upload routes of the emulator's v2 API (``bs upload run``; rules in
:mod:`bsmount.emulator.state.run_uploads`).

- ``POST v2/runs?experimentname=&instrumenttype=[&samplesheetname=]`` (the parameters may also
  come as a JSON or form body) → 200 with the new ``V2Run`` (``UploadStatus: Uploading``).
- ``POST v2/runs/{id}?uploadstatus=Completed|Failed`` (query, JSON or form) → 200 ``V2Run``.
- ``GET v2/runs/{id}`` → 200 ``V2Run``.
- ``POST v2/runs/{id}/files`` (``multipart/form-data``, the file in a part named ``file`` or
  carrying a filename) → 200 with the ``complete`` V1pre3File. Its path is the part's filename,
  which may hold the run folder's directories (``Data/Intensities/...``), under the
  ``directory`` of the query or of a text part before the file, if any [G].
- The run's files also go in through ``POST v1pre3/runs/{id}/files?name=&directory=
  [&multipart=true]`` and the parts and status routes every upload uses
  (:mod:`bsmount.emulator.http.uploads`) [G]: what bsmount sends.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from bsmount.emulator.http.errors import ApiProblem
from bsmount.emulator.http.formdata import FormDataError, FormFileReader, form_boundary
from bsmount.emulator.http.request import read_fields
from bsmount.emulator.http.responses import json_response
from bsmount.emulator.http.routing import Ctx, api_route
from bsmount.emulator.http.uploads import reading_body, receive_form_files
from bsmount.emulator.http.views.v2 import V2Views
from bsmount.emulator.state.errors import StateError
from bsmount.emulator.state.model import Run, format_date
from bsmount.emulator.state.run_uploads import NewRun, create_run, set_upload_status
from bsmount.emulator.state.uploads import FileTarget, add_single_file, prepare_file

__all__ = ["routes", "v2_run"]

V2 = "/v2"


def v2_run(views: V2Views, run: Run) -> dict[str, Any]:
    """A ``V2Run`` (basespace-v2-reference.md)."""
    read1, read2, index1, index2 = run.cycles
    finished = run.date_upload_completed
    return {
        "Id": run.id,
        "Href": views.href(f"runs/{run.id}"),
        "Name": run.name,
        "ExperimentName": run.experiment_name,
        "DateCreated": format_date(run.date_created),
        "DateModified": format_date(run.date_modified),
        "Status": run.status,
        "UserOwnedBy": views.user_compact(run.owner_id),
        "UserUploadedBy": views.user_compact(run.owner_id),
        "Instrument": {
            "Name": run.instrument_name,
            "Type": run.instrument_type,
            "PlatformName": run.platform_name,
        },
        "FlowcellBarcode": run.flowcell_barcode,
        "ReagentBarcode": run.reagent_barcode,
        "Workflow": run.workflow,
        "TotalSize": views.state.total_size("runs", run),
        "UploadStatus": run.upload_status,
        "DateUploadStarted": format_date(run.date_created),
        "DateUploadCompleted": format_date(finished) if finished else None,
        "SequencingStats": {
            "NumCyclesRead1": read1,
            "NumCyclesRead2": read2,
            "NumCyclesIndex1": index1,
            "NumCyclesIndex2": index2,
        },
        "IsDeleted": run.deleted,
        "IsArchived": False,
        "IsFileDataDeleted": False,
        "HrefFiles": views.href(f"runs/{run.id}/files"),
        "V1Pre3Id": run.id,
    }


def _views(ctx: Ctx) -> V2Views:
    return V2Views(ctx.state, ctx.base_url)


async def post_run(ctx: Ctx) -> Response:
    fields = await read_fields(ctx.request)
    spec = NewRun(
        experiment_name=fields.get("experimentname", ""),
        instrument_type=fields.get("instrumenttype", ""),
        sample_sheet_name=fields.get("samplesheetname", ""),
    )
    run = create_run(ctx.state, ctx.user, spec)
    return json_response(v2_run(_views(ctx), run))


async def update_run(ctx: Ctx) -> Response:
    fields = await read_fields(ctx.request)
    status = fields.get("uploadstatus", "")
    if not status:
        raise ApiProblem(
            400,
            "BASESPACE.COMMON.INVALID_PARAMETER",
            "uploadstatus=Uploading|Completed|Failed is required",
        )
    run = set_upload_status(ctx.state, ctx.user, ctx.path("id"), status)
    return json_response(v2_run(_views(ctx), run))


def _invalid(message: str) -> ApiProblem:
    return ApiProblem(400, "BASESPACE.COMMON.INVALID_REQUEST", message)


async def post_run_file(ctx: Ctx) -> Response:
    """One file of the run folder, as a form."""
    try:
        boundary = form_boundary(ctx.request.headers.get("content-type", ""))
    except FormDataError as exc:
        raise _invalid(str(exc)) from None
    if boundary is None:
        raise _invalid("the file goes in a multipart/form-data body (a part named file)")

    def target_of(reader: FormFileReader) -> FileTarget:
        fields = {k.lower(): v for k, v in reader.fields.items()}
        directory = ctx.params.get("directory") or fields.get("directory", "")
        inner, _, name = (
            (reader.filename or fields.get("name") or "").replace("\\", "/").rpartition("/")
        )
        path = "/".join(p for p in (directory.strip("/"), inner.strip("/")) if p)
        return prepare_file(ctx.state, ctx.user, "runs", ctx.path("id"), name, path)

    reader, opened = await receive_form_files(ctx, boundary, target_of)
    if not opened:
        raise _invalid("the form has no file part")
    target, writer = opened[0]
    body = writer.commit()
    content_type = (reader.content_type or "application/octet-stream").split(";")[0].strip()
    try:
        item = add_single_file(ctx.state, target, content_type, body)
    except StateError:
        ctx.state.spool.remove_body(body)
        raise
    return json_response(_views(ctx).file(item, full=True))


async def get_run(ctx: Ctx) -> Response:
    found: Run = ctx.get("runs")
    return json_response(v2_run(_views(ctx), found))


def routes() -> list[BaseRoute]:
    """The run upload routes (before the v2 reads)."""
    return [
        api_route(f"{V2}/runs", post_run, "v2", methods=("POST",)),
        api_route(f"{V2}/runs/{{id}}", update_run, "v2", methods=("POST",)),
        api_route(f"{V2}/runs/{{id}}", get_run, "v2"),
        api_route(f"{V2}/runs/{{id}}/files", reading_body(post_run_file), "v2", ("POST",)),
    ]
