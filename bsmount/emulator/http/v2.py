"""The v2 routes of the emulator (``/v2/...``): bare objects and ``{Items, Paging}`` lists.

users/current, projects/{id}, biosamples, datasets (+ files), appsessions, runs/{id}/files (one
directory level or recursive, with SubDirectories and TotalCount on request), files/{id}
(+ content), GET properties of projects/biosamples/datasets/appsessions/runs, and
``DELETE oauthv2tokens/current``. v2 file lists hide files whose UploadStatus is not
``complete`` unless ``statuses`` asks for them; ``filehrefcontentresolution=true`` puts signed
content URLs into ``HrefContent``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import BaseRoute

from bsmount.emulator.blobs.signing import sign_content_url
from bsmount.emulator.http.paging import FILES_CAP, Page, paginate
from bsmount.emulator.http.responses import json_response
from bsmount.emulator.http.routing import Ctx, api_route, content_response
from bsmount.emulator.http.v1 import FILE_SORTS, filter_files
from bsmount.emulator.http.views.v2 import V2Views
from bsmount.emulator.state.model import AppSession, BioSample, Dataset, Entity, File, Project, Run

__all__ = ["routes"]

log = logging.getLogger(__name__)

PREFIX = "/v2"
PROPERTY_KINDS = ("projects", "biosamples", "datasets", "appsessions", "runs")


def _created(entity: Any) -> Any:
    return entity.date_created


def _modified(entity: Any) -> Any:
    return entity.date_modified


def _name(entity: Any) -> str:
    return str(entity.name).casefold()


BIOSAMPLE_SORTS: dict[str, Callable[[Any], Any]] = {
    "BioSampleName": _name,
    "DateCreated": _created,
    "DateModified": _modified,
}
APPSESSION_SORTS: dict[str, Callable[[Any], Any]] = {
    "Name": _name,
    "DateCreated": _created,
    "DateModified": _modified,
}


def _views(ctx: Ctx) -> V2Views:
    return V2Views(ctx.state, ctx.base_url)


def _page(page: Page, render: Callable[[Any], Any], **extra: Any) -> Response:
    total = extra.pop("total", True)
    body: dict[str, Any] = {"Items": [render(item) for item in page.items]}
    body["Paging"] = page.v2_paging(total=total)
    body.update(extra)
    return json_response(body)


# ---------------------------------------------------------------------- users, tokens, projects
async def user_current(ctx: Ctx) -> Response:
    return json_response(_views(ctx).user(ctx.user))


async def revoke_token(ctx: Ctx) -> Response:
    ctx.state.revoke_token(ctx.token)
    log.info("token of user %s revoked", ctx.user.id)
    return json_response({})


async def project(ctx: Ctx) -> Response:
    found: Project = ctx.get("projects")
    return json_response(_views(ctx).project(found, full=True))


# ---------------------------------------------------------------------- biosamples
async def biosamples(ctx: Ctx) -> Response:
    items: list[BioSample] = ctx.state.visible("biosamples", ctx.user)
    projects = set(ctx.params.get_list("projectid"))
    if projects:
        items = [b for b in items if b.project_id in projects]
    names = set(ctx.params.get_list("biosamplename"))
    if names:
        items = [b for b in items if b.name in names]
    page = paginate(ctx.params, items, BIOSAMPLE_SORTS)
    return _page(page, _views(ctx).biosample)


async def biosample(ctx: Ctx) -> Response:
    found: BioSample = ctx.get("biosamples")
    return json_response(_views(ctx).biosample(found, full=True))


# ---------------------------------------------------------------------- datasets
def _dataset_sorts(ctx: Ctx) -> dict[str, Callable[[Any], Any]]:
    state = ctx.state

    def project_name(d: Dataset) -> str:
        found = state.peek("projects", d.project_id)
        return found.name.casefold() if found is not None else ""

    def session_name(d: Dataset) -> str:
        found = state.peek("appsessions", d.appsession_id or "")
        return found.name.casefold() if found is not None else ""

    def application_name(d: Dataset) -> str:
        found = state.peek("appsessions", d.appsession_id or "")
        return found.application.name.casefold() if found is not None else ""

    return {
        "Name": _name,
        "DateCreated": _created,
        "DateModified": _modified,
        "ProjectName": project_name,
        "AppSessionName": session_name,
        "ApplicationName": application_name,
        "Size": lambda d: state.total_size("datasets", d),
        "QcStatus": lambda d: d.qc_status,
    }


def _type_matches(dataset: Dataset, wanted: list[str]) -> bool:
    dtype = dataset.dataset_type
    for spec in wanted:
        if spec.startswith("~"):
            name = spec[1:]
            if name == dtype.id or name in dtype.conforms_to:
                return True
        elif spec == dtype.id:
            return True
    return False


async def datasets(ctx: Ctx) -> Response:
    params = ctx.params
    items: list[Dataset] = ctx.state.visible("datasets", ctx.user)
    projects = set(params.get_list("projectid"))
    if projects:
        items = [d for d in items if d.project_id in projects]
    inputs = set(params.get_list("inputbiosamples"))
    if inputs:
        items = [d for d in items if inputs.intersection(d.biosample_ids)]
    sessions = set(params.get_list("appsessionids"))
    if sessions:
        items = [d for d in items if d.appsession_id in sessions]
    types = params.get_list("datasettypes")
    if types:
        items = [d for d in items if _type_matches(d, types)]
    include = {i.lower() for i in params.get_list("include")}
    filters = params.get_list("propertyfilters")
    views = _views(ctx)
    page = paginate(
        params, items, _dataset_sorts(ctx), default_sort="DateCreated", default_dir="Desc"
    )
    with_props = "properties" in include
    return _page(page, lambda d: views.dataset(d, properties=with_props, property_filters=filters))


async def dataset(ctx: Ctx) -> Response:
    found: Dataset = ctx.get("datasets")
    return json_response(_views(ctx).dataset(found, properties=True))


# ---------------------------------------------------------------------- appsessions
async def appsessions(ctx: Ctx) -> Response:
    params = ctx.params
    items: list[AppSession] = ctx.state.appsessions_of(ctx.user)
    projects = set(params.get_list("output.projects"))
    if projects:
        items = [a for a in items if a.project_id in projects]
    statuses = {s.lower() for s in params.get_list("executionstatus")}
    if statuses:
        items = [a for a in items if a.status.lower() in statuses]
    app_ids = set(params.get_list("appid"))
    if app_ids:
        items = [a for a in items if a.application.id in app_ids]
    biosamples = set(params.get_list("input.biosamples"))
    if biosamples:
        items = [a for a in items if biosamples.intersection(_input_biosamples(a))]
    page = paginate(params, items, APPSESSION_SORTS)
    return _page(page, _views(ctx).appsession)


def _input_biosamples(session: AppSession) -> set[str]:
    """The biosamples an appsession used: those its ``Input.*`` properties reference [G]."""
    return {
        ref_id
        for prop in session.properties
        if prop.name.lower().startswith("input.")
        for ref_kind, ref_id in prop.refs
        if ref_kind == "biosamples"
    }


async def appsession(ctx: Ctx) -> Response:
    found: AppSession = ctx.get("appsessions")
    return json_response(_views(ctx).appsession(found, full=True))


# ---------------------------------------------------------------------- files
def _statuses(ctx: Ctx, files: list[File]) -> list[File]:
    wanted = {s.lower() for s in ctx.params.get_list("statuses")} or {"complete"}
    return [f for f in files if f.upload_status.lower() in wanted]


def _file_renderer(ctx: Ctx) -> Callable[[File], dict[str, Any]]:
    views = _views(ctx)
    if not ctx.params.get_bool("filehrefcontentresolution", False):
        return views.file
    config = ctx.config
    base = config.blob_base_url if config.blob_base_url is not None else ctx.base_url

    def render(item: File) -> dict[str, Any]:
        url, _ = sign_content_url(base, item.id, item.name, config.url_ttl, config.signing_key)
        return views.file(item, href_content=url)

    return render


async def dataset_files(ctx: Ctx) -> Response:
    found: Dataset = ctx.get("datasets")
    files = _statuses(ctx, filter_files(ctx.params, ctx.state.files_of("datasets", found)))
    page = paginate(ctx.params, files, FILE_SORTS, cap=FILES_CAP)
    return _page(page, _file_renderer(ctx))


async def run_files(ctx: Ctx) -> Response:
    """One directory of a run (``directory``, default ``/``), or all below it with
    ``recursive=true``; ``include=Subdirectories`` lists the child directories and
    ``include=TotalCount`` adds TotalCount to Paging."""
    params = ctx.params
    found: Run = ctx.get("runs")
    directory = (params.get("directory") or "/").strip().strip("/")
    prefix = directory + "/" if directory else ""
    index = ctx.state.dir_index("runs", found)
    if params.get_bool("recursive", False):
        files = [f for f in ctx.state.files_of("runs", found) if f.path.startswith(prefix)]
    else:
        files = list(index.files.get(prefix, []))
    files = _statuses(ctx, filter_files(params, files, by_directory=False))
    include = {i.lower() for i in params.get_list("include")}
    page = paginate(params, files, FILE_SORTS, cap=FILES_CAP)
    extra: dict[str, Any] = {"total": "totalcount" in include}
    if "subdirectories" in include:
        base = _views(ctx).href(f"runs/{found.id}/files")
        extra["SubDirectories"] = [
            {"Href": f"{base}?directory={quote('/' + prefix + name + '/')}", "Name": name}
            for name in index.subdirs.get(prefix, [])
        ]
    return _page(page, _file_renderer(ctx), **extra)


async def file(ctx: Ctx) -> Response:
    found: File = ctx.get("files")
    return json_response(_views(ctx).file(found, full=True))


# ---------------------------------------------------------------------- properties
def _properties_route(kind: str) -> BaseRoute:
    async def listing(ctx: Ctx) -> Response:
        owner: Entity = ctx.get(kind)
        views = _views(ctx)
        page = paginate(
            ctx.params, owner.properties, {"Name": lambda p: p.name}, default_sort="Name"
        )
        return _page(page, lambda p: views.property(kind, owner, p))

    return api_route(f"{PREFIX}/{kind}/{{id}}/properties", listing, "v2")


def routes() -> list[BaseRoute]:
    """Every /v2 read route (the catch-all 404 for unknown paths comes after them)."""
    table: list[BaseRoute] = [
        api_route(f"{PREFIX}/users/current", user_current, "v2"),
        api_route(f"{PREFIX}/oauthv2tokens/current", revoke_token, "v2", methods=("DELETE",)),
        api_route(f"{PREFIX}/projects/{{id}}", project, "v2"),
        api_route(f"{PREFIX}/biosamples", biosamples, "v2"),
        api_route(f"{PREFIX}/biosamples/{{id}}", biosample, "v2"),
        api_route(f"{PREFIX}/datasets", datasets, "v2"),
        api_route(f"{PREFIX}/datasets/{{id}}", dataset, "v2"),
        api_route(f"{PREFIX}/datasets/{{id}}/files", dataset_files, "v2"),
        api_route(f"{PREFIX}/appsessions", appsessions, "v2"),
        api_route(f"{PREFIX}/appsessions/{{id}}", appsession, "v2"),
        api_route(f"{PREFIX}/runs/{{id}}/files", run_files, "v2"),
        api_route(f"{PREFIX}/files/{{id}}", file, "v2"),
        api_route(f"{PREFIX}/files/{{id}}/content", content_response, "v2"),
    ]
    table.extend(_properties_route(kind) for kind in PROPERTY_KINDS)
    return table
