"""The v1pre3 read routes of the emulator (``/v1pre3/...``), in the v1 envelope.

Users, projects (GET, and POST to create one; ``users/current/projects?Name=`` keeps the project
of exactly that name), samples, appresults, runs, appsessions, files
(+ content), properties of projects/samples/appresults/runs/appsessions/files (list, one, items)
and genomes. Shapes come from :mod:`bsmount.emulator.http.views.v1`; auth and errors from
:mod:`bsmount.emulator.http.routing`, paging from :mod:`bsmount.emulator.http.paging`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from bsmount.emulator.http.errors import ApiProblem
from bsmount.emulator.http.paging import FILES_CAP, paginate
from bsmount.emulator.http.request import Params, read_fields
from bsmount.emulator.http.responses import v1_ok
from bsmount.emulator.http.routing import Ctx, api_route, content_response
from bsmount.emulator.http.views.v1 import V1Views
from bsmount.emulator.state.model import (
    AppResult,
    AppSession,
    Entity,
    File,
    Project,
    Property,
    Run,
    Sample,
)
from bsmount.emulator.state.properties import find_property

__all__ = ["filter_files", "routes"]

log = logging.getLogger(__name__)

PREFIX = "/v1pre3"
PROPERTY_KINDS = ("projects", "samples", "appresults", "runs", "appsessions", "files")


def _name(entity: Any) -> str:
    return str(entity.name).casefold()


def _created(entity: Any) -> datetime:
    return entity.date_created  # type: ignore[no-any-return]


def _modified(entity: Any) -> datetime:
    return entity.date_modified  # type: ignore[no-any-return]


BASIC_SORTS: dict[str, Callable[[Any], Any]] = {"Name": _name, "DateCreated": _created}
RUN_SORTS: dict[str, Callable[[Any], Any]] = {
    "DateCreated": _created,
    "DateModified": _modified,
    "ExperimentName": lambda r: r.experiment_name.casefold(),
    "Status": lambda r: r.status,
    "Workflow": lambda r: r.workflow,
    "InstrumentName": lambda r: r.instrument_name,
    "PlatformName": lambda r: r.platform_name,
}
FILE_SORTS: dict[str, Callable[[Any], Any]] = {
    "Path": lambda f: f.path.casefold(),
    "Name": _name,
    "DateCreated": _created,
}
GENOME_SORTS: dict[str, Callable[[Any], Any]] = {
    "SpeciesName": lambda g: g.species_name.casefold(),
    "Build": lambda g: g.build.casefold(),
}


def _views(ctx: Ctx) -> V1Views:
    return V1Views(ctx.state)


def _list(ctx: Ctx, items: list[Any], render: Callable[[Any], Any], **kw: Any) -> Response:
    sorts = kw.pop("sorts", BASIC_SORTS)
    return v1_ok(paginate(ctx.params, items, sorts, **kw).v1(render))


def _by_status(params: Params, items: list[Any]) -> list[Any]:
    wanted = {s.lower() for s in params.get_list("statuses")}
    return [i for i in items if i.status.lower() in wanted] if wanted else items


def _suffixes(values: list[str]) -> tuple[str, ...]:
    return tuple(v.lower() if v.startswith(".") else "." + v.lower() for v in values)


def filter_files(params: Params, files: list[File], *, by_directory: bool = True) -> list[File]:
    """Apply ``Extensions``/``ExcludeExtensions`` (``.bam,.vcf``) and, with ``by_directory``,
    ``Directory`` (every file below that directory, relative to the container root)."""
    extensions = _suffixes(params.get_list("extensions"))
    if extensions:
        files = [f for f in files if f.name.lower().endswith(extensions)]
    excluded = _suffixes(params.get_list("excludeextensions"))
    if excluded:
        files = [f for f in files if not f.name.lower().endswith(excluded)]
    directory = (params.get("directory") or "").strip().strip("/") if by_directory else ""
    if directory:
        prefix = directory + "/"
        files = [f for f in files if f.path.startswith(prefix)]
    return files


# ---------------------------------------------------------------------- users
def _check_self(ctx: Ctx) -> None:
    uid = ctx.path("uid")
    if uid not in ("current", ctx.user.id):
        ctx.get("users", uid)  # 404 for unknown users, 403 for other users


async def user(ctx: Ctx) -> Response:
    _check_self(ctx)
    return v1_ok(_views(ctx).user(ctx.user))


async def user_projects(ctx: Ctx) -> Response:
    _check_self(ctx)
    views = _views(ctx)
    projects = ctx.state.projects_of(ctx.user)
    name = ctx.params.get("name")
    if name is not None:  # BaseSpacePy's getUserProjectByName: the project of that exact name
        projects = [p for p in projects if p.name == name]
    return _list(ctx, projects, views.project)


async def user_runs(ctx: Ctx) -> Response:
    _check_self(ctx)
    runs = _by_status(ctx.params, ctx.state.runs_of(ctx.user))
    return _list(ctx, runs, _views(ctx).run, sorts=RUN_SORTS)


async def user_appsessions(ctx: Ctx) -> Response:
    _check_self(ctx)
    sessions = _by_status(ctx.params, ctx.state.appsessions_of(ctx.user))
    app_ids = set(ctx.params.get_list("appid"))
    if app_ids:
        sessions = [s for s in sessions if s.application.id in app_ids]
    return _list(ctx, sessions, _views(ctx).appsession)


# ---------------------------------------------------------------------- projects
async def project(ctx: Ctx) -> Response:
    found: Project = ctx.get("projects")
    return v1_ok(_views(ctx).project(found, full=True))


async def project_samples(ctx: Ctx) -> Response:
    found: Project = ctx.get("projects")
    return _list(ctx, ctx.state.samples_in(found), _views(ctx).sample)


async def project_appresults(ctx: Ctx) -> Response:
    found: Project = ctx.get("projects")
    results = _by_status(ctx.params, ctx.state.appresults_in(found))
    return _list(ctx, results, _views(ctx).appresult)


async def create_project(ctx: Ctx) -> Response:
    fields = await read_fields(ctx.request)
    name = fields.get("name", "").strip()
    if not name:
        raise ApiProblem(400, "BASESPACE.PROJECTS.NAME_REQUIRED", "A project Name is required")
    if len(name) > 255:
        raise ApiProblem(
            400, "BASESPACE.PROJECTS.NAME_TOO_LONG", "Project names are limited to 255 characters"
        )
    created, is_new = ctx.state.create_project(ctx.user, name, fields.get("description", ""))
    return v1_ok(_views(ctx).project(created, full=True), 201 if is_new else 200)


# ---------------------------------------------------------------------- samples, appresults, runs
async def sample(ctx: Ctx) -> Response:
    found: Sample = ctx.get("samples")
    return v1_ok(_views(ctx).sample(found, full=True))


async def appresult(ctx: Ctx) -> Response:
    found: AppResult = ctx.get("appresults")
    return v1_ok(_views(ctx).appresult(found, full=True))


async def run(ctx: Ctx) -> Response:
    found: Run = ctx.get("runs")
    return v1_ok(_views(ctx).run(found, full=True))


async def run_samples(ctx: Ctx) -> Response:
    found: Run = ctx.get("runs")
    linked = [
        s
        for s in ctx.state.visible("samples", ctx.user)
        if any(("runs", found.id) in p.refs for p in s.properties)
    ]
    return _list(ctx, linked, _views(ctx).sample)


def _files_route(kind: str) -> Callable[[Ctx], Any]:
    async def handler(ctx: Ctx) -> Response:
        container: Entity = ctx.get(kind)
        files = filter_files(ctx.params, ctx.state.files_of(kind, container))
        return _list(ctx, files, _views(ctx).file, sorts=FILE_SORTS, cap=FILES_CAP)

    return handler


# ---------------------------------------------------------------------- appsessions, files
async def appsession(ctx: Ctx) -> Response:
    found: AppSession = ctx.get("appsessions")
    return v1_ok(_views(ctx).appsession(found, full=True))


async def appsession_appresults(ctx: Ctx) -> Response:
    found: AppSession = ctx.get("appsessions")
    return _list(ctx, ctx.state.appresults_of_session(found), _views(ctx).appresult)


async def file(ctx: Ctx) -> Response:
    found: File = ctx.get("files")
    return v1_ok(_views(ctx).file(found, full=True))


# ---------------------------------------------------------------------- genomes
async def genomes(ctx: Ctx) -> Response:
    items = list(ctx.state.model.genomes.values())
    return _list(ctx, items, _views(ctx).genome, sorts=GENOME_SORTS)


async def genome(ctx: Ctx) -> Response:
    return v1_ok(_views(ctx).genome(ctx.get("genomes")))


# ---------------------------------------------------------------------- properties
@dataclass
class PropertyItem:
    """One item of an array property, as ``.../properties/{name}/items`` lists it."""

    id: str
    date_created: datetime
    content: Any


def property_of(ctx: Ctx, kind: str) -> tuple[Entity, Property]:
    owner: Entity = ctx.get(kind)
    return owner, find_property(owner, ctx.path("name"))


def _property_routes(kind: str) -> list[BaseRoute]:
    async def listing(ctx: Ctx) -> Response:
        owner: Entity = ctx.get(kind)
        views = _views(ctx)
        return _list(
            ctx,
            owner.properties,
            lambda p: views.property(kind, owner, p),
            sorts={"Name": lambda p: p.name},
            default_sort="Name",
        )

    async def single(ctx: Ctx) -> Response:
        owner, prop = property_of(ctx, kind)
        return v1_ok(_views(ctx).property(kind, owner, prop))

    async def items(ctx: Ctx) -> Response:
        _, prop = property_of(ctx, kind)
        values = _views(ctx).property_values(prop) if prop.type != "string" else [prop.content]
        entries = [PropertyItem(str(i + 1), prop.date_created, v) for i, v in enumerate(values)]
        page = paginate(ctx.params, entries, {"DateCreated": _created}, default_sort="DateCreated")
        # The SDKs pick the item model from the list's Type (``run[]`` -> runs...).
        return v1_ok({"Type": prop.type, **page.v1(lambda e: {"Id": e.id, "Content": e.content})})

    base = f"{PREFIX}/{kind}/{{id}}/properties"
    return [
        api_route(base, listing, "v1"),
        api_route(base + "/{name}", single, "v1"),
        api_route(base + "/{name}/items", items, "v1"),
    ]


def routes() -> list[BaseRoute]:
    """Every /v1pre3 read route (the catch-all 404 for unknown paths comes after them)."""
    table: list[BaseRoute] = [
        api_route(f"{PREFIX}/users/{{uid}}", user, "v1"),
        api_route(f"{PREFIX}/users/{{uid}}/projects", user_projects, "v1"),
        api_route(f"{PREFIX}/users/{{uid}}/runs", user_runs, "v1"),
        api_route(f"{PREFIX}/users/{{uid}}/appsessions", user_appsessions, "v1"),
        api_route(f"{PREFIX}/projects", create_project, "v1", methods=("POST",)),
        api_route(f"{PREFIX}/projects/{{id}}", project, "v1"),
        api_route(f"{PREFIX}/projects/{{id}}/samples", project_samples, "v1"),
        api_route(f"{PREFIX}/projects/{{id}}/appresults", project_appresults, "v1"),
        api_route(f"{PREFIX}/samples/{{id}}", sample, "v1"),
        api_route(f"{PREFIX}/samples/{{id}}/files", _files_route("samples"), "v1"),
        api_route(f"{PREFIX}/appresults/{{id}}", appresult, "v1"),
        api_route(f"{PREFIX}/appresults/{{id}}/files", _files_route("appresults"), "v1"),
        api_route(f"{PREFIX}/runs/{{id}}", run, "v1"),
        api_route(f"{PREFIX}/runs/{{id}}/files", _files_route("runs"), "v1"),
        api_route(f"{PREFIX}/runs/{{id}}/samples", run_samples, "v1"),
        api_route(f"{PREFIX}/appsessions/{{id}}", appsession, "v1"),
        api_route(f"{PREFIX}/appsessions/{{id}}/appresults", appsession_appresults, "v1"),
        api_route(f"{PREFIX}/files/{{id}}", file, "v1"),
        api_route(f"{PREFIX}/files/{{id}}/content", content_response, "v1"),
        api_route(f"{PREFIX}/genomes", genomes, "v1"),
        api_route(f"{PREFIX}/genomes/{{id}}", genome, "v1"),
    ]
    for kind in PROPERTY_KINDS:
        table.extend(_property_routes(kind))
    return table
