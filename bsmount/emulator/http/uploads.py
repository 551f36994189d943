"""The upload routes of the emulator's v1pre3 API (upload-launch.md §1; rules in
:mod:`bsmount.emulator.state.uploads` and :mod:`bsmount.emulator.state.results`).

- ``POST projects/{id}/appresults[?appsessionid=]`` ``{Name, Description, References,
  HrefAppSession}`` and ``POST projects/{id}/samples[?appsessionid=]`` ``{Name, SampleId,
  ExperimentName, SampleNumber, Read1, Read2, IsPairedEnd, NumReadsRaw, NumReadsPF,
  HrefGenome}`` → 201 with the new entity (v1 envelope, full form).
- ``POST {appresults|samples}/{id}/files?name=&directory=``: the body is the file (raw, or the
  one file of a ``multipart/form-data`` form) → 200 with the ``complete`` File. With
  ``&multipart=true`` the body is ignored (BaseSpacePy repeats its parameters there as JSON) →
  200 with a ``pending`` File. Parameters missing from the query string are read from a JSON or
  urlencoded body (the C# SDK's initiate DTO, the Java SDK's form; the file's ContentType is
  then ``application/octet-stream``) or from a form's text parts before its file (the C# SDK's
  ``PostFileWithRequest``: ``Name``, ``Directory``, ``MultiPart`` and no query string).
- ``PUT files/{id}/parts/{n}`` (raw body, optional ``Content-MD5``) → 200
  ``{"Response":{"Number":n,"ETag":"<hex md5>","Size":N},...}`` as compact JSON (BaseSpacePy
  keeps the last whitespace-separated word of the answer), plus an ``ETag`` header.
- ``POST files/{id}?uploadstatus=complete|aborted`` (query, form or JSON body) → 200 with the
  File.

Bodies stream into the account's spool in the chunks the server hands over; nothing holds a
whole body in memory. A refusal made before a body was read still reads (and drops) the body,
so the connection stays usable.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import BaseRoute

from bsmount.emulator.blobs.spool import SpoolWriter
from bsmount.emulator.http.errors import ApiProblem
from bsmount.emulator.http.formdata import FormDataError, FormFileReader, form_boundary
from bsmount.emulator.http.request import read_fields, read_object
from bsmount.emulator.http.responses import json_response, v1_ok
from bsmount.emulator.http.routing import Ctx, api_route
from bsmount.emulator.http.views.v1 import V1Views
from bsmount.emulator.state.errors import StateError
from bsmount.emulator.state.results import (
    NewAppResult,
    NewSample,
    create_appresult,
    create_sample,
)
from bsmount.emulator.state.uploads import (
    UPLOAD_KINDS,
    FileTarget,
    add_single_file,
    check_part,
    finish_multipart,
    parse_content_md5,
    prepare_file,
    put_part,
    start_multipart,
)

__all__ = ["reading_body", "receive_body", "receive_form_files", "routes"]

log = logging.getLogger(__name__)

V1 = "/v1pre3"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# How much of an unwanted body a refusal reads (and drops) to keep the connection usable.
_DRAIN_LIMIT = 64 * 2**20


class _Disconnected(Exception):
    """The client went away before its body was complete."""


def reading_body(handler: Callable[[Ctx], Awaitable[Response]]) -> Callable[[Ctx], Any]:
    """Run ``handler``; on a refusal, read what is left of the body before answering."""

    async def wrapped(ctx: Ctx) -> Response:
        try:
            return await handler(ctx)
        except (ApiProblem, StateError):
            await _drain(ctx)
            raise
        except _Disconnected:
            log.info("%s %s: client went away mid-body", ctx.request.method, ctx.request.url.path)
            return Response(b"", 400)

    return wrapped


async def _drain(ctx: Ctx) -> None:
    seen = 0
    try:
        async for chunk in ctx.request.stream():
            seen += len(chunk)
            if seen > _DRAIN_LIMIT:
                return
    except (ClientDisconnect, RuntimeError):  # gone, or already read
        return


async def receive_body(ctx: Ctx, write: Callable[[bytes], None], limit: int | None = None) -> int:
    """Stream the request body to ``write``; returns its size. Past ``limit`` bytes the rest
    is read but not written (the caller refuses the body by its size)."""
    size = 0
    try:
        async for chunk in ctx.request.stream():
            if not chunk:
                continue
            size += len(chunk)
            if limit is None or size <= limit:
                write(chunk)
    except ClientDisconnect:
        raise _Disconnected from None
    return size


def _media_type(header: str | None) -> str:
    media = (header or "").split(";", 1)[0].strip()
    return media or DEFAULT_CONTENT_TYPE


def _views(ctx: Ctx) -> V1Views:
    return V1Views(ctx.state)


# ---------------------------------------------------------------------- appresults and samples
def _session_id(fields: dict[str, Any]) -> str | None:
    session = fields.get("appsessionid")
    if not session:
        href = str(fields.get("hrefappsession") or "").rstrip("/")
        session = href.rsplit("/", 1)[-1] if href else None
    return str(session).strip() or None if session else None


def _genome_id(fields: dict[str, Any]) -> str | None:
    return str(fields.get("hrefgenome") or "").rstrip("/").rsplit("/", 1)[-1] or None


def _int(fields: dict[str, Any], name: str, default: int = 0) -> int:
    value = fields.get(name.lower())
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiProblem(
            400, "BASESPACE.COMMON.INVALID_PARAMETER", f"{name} must be an integer"
        ) from None


def _bool(fields: dict[str, Any], name: str, default: bool) -> bool:
    value = fields.get(name.lower())
    if value in (None, ""):
        return default
    return str(value).strip().lower() in ("true", "1", "yes")


async def post_appresult(ctx: Ctx) -> Response:
    fields = await read_object(ctx.request)
    references = fields.get("references") or []
    if not isinstance(references, list):
        raise ApiProblem(400, "BASESPACE.COMMON.INVALID_PARAMETER", "References must be a list")
    spec = NewAppResult(
        name=str(fields.get("name") or ""),
        description=str(fields.get("description") or ""),
        appsession_id=_session_id(fields),
        references=references,
        genome_id=_genome_id(fields),
    )
    result = create_appresult(ctx.state, ctx.user, ctx.path("id"), spec)
    return v1_ok(_views(ctx).appresult(result, full=True), 201)


async def post_sample(ctx: Ctx) -> Response:
    fields = await read_object(ctx.request)
    genome = _genome_id(fields)
    read2 = _int(fields, "Read2")
    spec = NewSample(
        name=str(fields.get("name") or ""),
        sample_id=str(fields.get("sampleid") or ""),
        experiment_name=str(fields.get("experimentname") or ""),
        sample_number=_int(fields, "SampleNumber", 1),
        read1=_int(fields, "Read1"),
        read2=read2,
        is_paired_end=_bool(fields, "IsPairedEnd", read2 > 0),
        num_reads_raw=_int(fields, "NumReadsRaw"),
        num_reads_pf=_int(fields, "NumReadsPF"),
        genome_id=genome,
        appsession_id=_session_id(fields),
    )
    sample = create_sample(ctx.state, ctx.user, ctx.path("id"), spec)
    return v1_ok(_views(ctx).sample(sample, full=True), 201)


# ---------------------------------------------------------------------- files
def _truthy(value: object) -> bool:
    return str(value or "").strip().lower() in ("true", "1", "yes")


def _post_files(kind: str) -> Callable[[Ctx], Awaitable[Response]]:
    async def handler(ctx: Ctx) -> Response:
        params = ctx.params
        header = ctx.request.headers.get("content-type", "")
        try:
            boundary = form_boundary(header)
        except FormDataError as exc:
            raise ApiProblem(400, "BASESPACE.COMMON.INVALID_REQUEST", str(exc)) from None
        if boundary is not None:
            return await _form_upload(ctx, kind, boundary)
        name = params.get("name")
        directory = params.get("directory") or ""
        multipart = params.get_bool("multipart", False)
        content_type = _media_type(header)
        if name is None:  # the parameters came in a JSON or urlencoded body (no file in it)
            fields = await read_fields(ctx.request)
            name = fields.get("name")
            directory = fields.get("directory", directory)
            multipart = _truthy(fields.get("multipart")) or multipart
            if name is None or not multipart:
                raise ApiProblem(
                    400, "BASESPACE.COMMON.INVALID_PARAMETER", "name is a required parameter"
                )
            # [G] The Content-Type describes that body (the C# SDK's JSON request, the Java
            # SDK's form), not the file.
            content_type = DEFAULT_CONTENT_TYPE
        target = prepare_file(ctx.state, ctx.user, kind, ctx.path("id"), name, directory)
        if multipart:
            await _drain(ctx)
            item = start_multipart(ctx.state, target, content_type)
            return v1_ok(_views(ctx).file(item, full=True))
        writer = ctx.state.spool.writer(target.file_id, "body")
        try:
            await receive_body(ctx, writer.write)
        except BaseException:
            writer.discard()
            raise
        return _add_single(ctx, target, content_type, writer)

    return reading_body(handler)


def _add_single(ctx: Ctx, target: FileTarget, content_type: str, writer: SpoolWriter) -> Response:
    body = writer.commit()
    try:
        item = add_single_file(ctx.state, target, content_type, body)
    except StateError:
        ctx.state.spool.remove_body(body)
        raise
    return v1_ok(_views(ctx).file(item, full=True))


def _form_parameters(ctx: Ctx, fields: dict[str, str]) -> tuple[str | None, str, bool]:
    """``name``, ``directory``, ``multipart``: the query's, else the form's text fields (the C#
    SDK sends them there as ``Name``, ``Directory``, ``MultiPart``: any case)."""
    lowered = {k.lower(): v for k, v in fields.items()}
    params = ctx.params
    name = params.get("name")
    if name is None:
        name = lowered.get("name")
    directory = params.get("directory")
    if directory is None:
        directory = lowered.get("directory", "")
    multipart = params.get_bool("multipart", False) or _truthy(lowered.get("multipart"))
    return name, directory, multipart


async def receive_form_files(
    ctx: Ctx, boundary: bytes, target_of: Callable[[FormFileReader], FileTarget | None]
) -> tuple[FormFileReader, list[tuple[FileTarget, SpoolWriter]]]:
    """Read a ``multipart/form-data`` body, spooling each file part ``target_of`` gives a
    target (None: the part is not a file to keep); the reader (its text fields) and the files
    opened. On any failure every spooled part is discarded; a malformed form is a 400."""
    opened: list[tuple[FileTarget, SpoolWriter]] = []

    def open_file(reader: FormFileReader) -> Callable[[bytes], None] | None:
        target = target_of(reader)
        if target is None:
            return None
        writer = ctx.state.spool.writer(target.file_id, "body")
        opened.append((target, writer))
        return writer.write

    reader = FormFileReader(boundary, open_file)
    try:
        await receive_body(ctx, reader.feed)
        reader.close()
    except BaseException as exc:
        for _, writer in opened:
            writer.discard()
        if isinstance(exc, FormDataError):
            raise ApiProblem(400, "BASESPACE.COMMON.INVALID_REQUEST", str(exc)) from None
        raise
    return reader, opened


async def _form_upload(ctx: Ctx, kind: str, boundary: bytes) -> Response:
    """A ``multipart/form-data`` body: the file is its file part, the parameters come from the
    query or the text parts before the file."""

    def target_of(reader: FormFileReader) -> FileTarget | None:
        name, directory, multipart = _form_parameters(ctx, reader.fields)
        if multipart:
            return None  # an initiate: the file part is not the file
        if name is None:
            raise ApiProblem(
                400, "BASESPACE.COMMON.INVALID_PARAMETER", "name is a required parameter"
            )
        return prepare_file(ctx.state, ctx.user, kind, ctx.path("id"), name, directory)

    reader, opened = await receive_form_files(ctx, boundary, target_of)
    if opened:
        target, writer = opened[0]
        return _add_single(ctx, target, _media_type(reader.content_type), writer)
    name, directory, multipart = _form_parameters(ctx, reader.fields)
    if multipart and name is not None:
        target = prepare_file(ctx.state, ctx.user, kind, ctx.path("id"), name, directory)
        item = start_multipart(ctx.state, target, DEFAULT_CONTENT_TYPE)
        return v1_ok(_views(ctx).file(item, full=True))
    if name is None:
        raise ApiProblem(400, "BASESPACE.COMMON.INVALID_PARAMETER", "name is a required parameter")
    raise ApiProblem(400, "BASESPACE.COMMON.INVALID_REQUEST", "the form has no file part")


async def put_file_part(ctx: Ctx) -> Response:
    item, number = check_part(ctx.state, ctx.user, ctx.path("id"), ctx.path("number"))
    expected = parse_content_md5(ctx.request.headers.get("content-md5"))
    limit = ctx.state.upload_limits.max_part_size
    writer = ctx.state.spool.writer(item.id, f"part-{number}")
    try:
        size = await receive_body(ctx, writer.write, limit)
    except BaseException:
        writer.discard()
        raise
    if size > limit:
        writer.discard()
        raise ApiProblem(
            400,
            "BASESPACE.FILES.PART_TOO_LARGE",
            f"Part {number} is {size} bytes: parts are limited to {limit}",
        )
    body = writer.commit()
    try:
        put_part(ctx.state, item, number, body, expected)
    except StateError:
        ctx.state.spool.remove_body(body)
        raise
    answer = {"Number": number, "ETag": body.md5_hex, "Size": body.size}
    envelope = {"Response": answer, "ResponseStatus": {}, "Notifications": []}
    return json_response(envelope, headers={"ETag": f'"{body.md5_hex}"'})


async def post_file_status(ctx: Ctx) -> Response:
    fields = await read_fields(ctx.request)
    status = fields.get("uploadstatus")
    if not status:
        raise ApiProblem(
            400, "BASESPACE.COMMON.INVALID_PARAMETER", "uploadstatus=complete|aborted is required"
        )
    item = finish_multipart(ctx.state, ctx.user, ctx.path("id"), status)
    return v1_ok(_views(ctx).file(item, full=True))


def routes() -> list[BaseRoute]:
    """The upload routes (before the v1pre3 reads: they share paths with other methods)."""
    table: list[BaseRoute] = [
        api_route(f"{V1}/projects/{{id}}/appresults", post_appresult, "v1", methods=("POST",)),
        api_route(f"{V1}/projects/{{id}}/samples", post_sample, "v1", methods=("POST",)),
        api_route(
            f"{V1}/files/{{id}}/parts/{{number}}",
            reading_body(put_file_part),
            "v1",
            methods=("PUT",),
        ),
        api_route(f"{V1}/files/{{id}}", post_file_status, "v1", methods=("POST",)),
    ]
    for kind in UPLOAD_KINDS:
        table.append(api_route(f"{V1}/{kind}/{{id}}/files", _post_files(kind), "v1", ("POST",)))
    return table
