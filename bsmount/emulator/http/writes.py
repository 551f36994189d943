"""The write routes of the emulator's BaseSpace API (v1pre3 and v2), registered before the read
routes of :mod:`bsmount.emulator.http.v1` and :mod:`bsmount.emulator.http.v2` (the catch-all 404s
stay last).

- Properties (rules in :mod:`bsmount.emulator.state.properties`): ``POST v1pre3/{projects,
  samples,appresults,runs,appsessions,files}/{id}/properties`` → the updated property list (v1
  envelope); ``DELETE v1pre3/.../properties/{name}`` → the deleted property; ``POST v2/{projects,
  biosamples,datasets,appsessions,runs}/{id}/properties`` → ``{Items, Paging}``; ``DELETE
  v2/.../properties/{name}`` → ``{}``; and ``GET v2/.../properties/{name}`` and ``.../items``.
- AppSessions: ``POST v2/appsessions/{id}/stop`` (Running/NeedsAttention → Aborted, returns the
  V2AppSession; a finished one is 400 ``BASESPACE.APPSESSIONS.NOT_RUNNING``) and v1pre3
  ``POST appsessions/{id}`` ``{"status": "complete", "statussummary": "..."}`` (Complete and
  Aborted are final).
- Trash (:mod:`bsmount.emulator.state.trash`; shapes in :mod:`bsmount.emulator.http.views.trash`):
  ``DELETE v2/{projects,runs,samples,appresults,appsessions,biosamples,datasets}/{id}`` → the
  V1pre3TrashItem (``preserve=Metadata``: the files only); ``GET v2/trash``,
  ``GET v2/trash/{id}``, ``POST v2/trash/{id}/restorefromtrash``, ``DELETE v2/trash`` (empties
  it); ``bypasstrash=true`` is refused (403: deleting past the trash needs a scope no emulator
  token has).
- ``POST v2/projects?name=&description=`` (or a JSON body): like ``POST v1pre3/projects``.
- [G] ``POST v2/projects/{id}`` ``{"Name", "Description"}``: changes them (:func:`update_project`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from bsmount.emulator.http.errors import ApiProblem
from bsmount.emulator.http.paging import LIST_CAP, Page, paginate
from bsmount.emulator.http.request import read_fields, read_properties
from bsmount.emulator.http.responses import json_response, v1_ok
from bsmount.emulator.http.routing import Ctx, api_route
from bsmount.emulator.http.views.trash import render_item
from bsmount.emulator.http.views.v1 import V1Views, sorted_properties
from bsmount.emulator.http.views.v2 import V2Views
from bsmount.emulator.state.account import APPSESSION_STATUSES
from bsmount.emulator.state.model import AppSession, Entity, Property
from bsmount.emulator.state.properties import (
    apply_properties,
    delete_property,
    find_property,
    validate_properties,
)
from bsmount.emulator.state.trash import (
    ACTIVE_STATUSES,
    TRASH_KINDS,
    empty,
    move_to_trash,
    named,
    record_of,
    restore,
    trash_of,
)

__all__ = ["routes"]

log = logging.getLogger(__name__)

V1 = "/v1pre3"
V2 = "/v2"
V1_PROPERTY_KINDS = ("projects", "samples", "appresults", "runs", "appsessions", "files")
V2_PROPERTY_KINDS = ("projects", "biosamples", "datasets", "appsessions", "runs")
# Statuses no v1pre3 status change leaves (BaseSpacePy: "once Status is set to Completed or
# Aborted, no further changes can made"); a TimedOut session can still be moved.
FINAL_STATUSES = ("Complete", "Aborted")
TRASH_SORTS: dict[str, Callable[[Any], Any]] = {
    "Name": lambda r: r.name.casefold(),
    "DateDeleted": lambda r: r.record.date_deleted,
}


@dataclass
class _Entry:
    """One item of ``v2 .../properties/{name}/items`` (paged by Id)."""

    id: str
    body: dict[str, Any]


def _full_page(owner: Entity) -> Page:
    props = sorted_properties(owner)
    return Page(props[:LIST_CAP], len(props), 0, LIST_CAP, "Name", "Asc")


# ---------------------------------------------------------------------- properties
async def _set_properties(ctx: Ctx, kind: str) -> Entity:
    owner: Entity = ctx.get(kind)
    items = await read_properties(ctx.request)
    props = validate_properties(ctx.state, ctx.user, items)
    apply_properties(ctx.state, owner, props)
    return owner


def _v1_property_routes(kind: str) -> list[BaseRoute]:
    async def post(ctx: Ctx) -> Response:
        owner = await _set_properties(ctx, kind)
        views = V1Views(ctx.state)
        return v1_ok(_full_page(owner).v1(lambda p: views.property(kind, owner, p)))

    async def delete(ctx: Ctx) -> Response:
        owner: Entity = ctx.get(kind)
        prop = delete_property(ctx.state, owner, ctx.path("name"))
        return v1_ok(V1Views(ctx.state).property(kind, owner, prop))

    base = f"{V1}/{kind}/{{id}}/properties"
    return [
        api_route(base, post, "v1", methods=("POST",)),
        api_route(base + "/{name}", delete, "v1", methods=("DELETE",)),
    ]


def _v2_property_routes(kind: str) -> list[BaseRoute]:
    async def post(ctx: Ctx) -> Response:
        owner = await _set_properties(ctx, kind)
        views = V2Views(ctx.state, ctx.base_url)
        page = _full_page(owner)
        items = [views.property(kind, owner, p) for p in page.items]
        return json_response({"Items": items, "Paging": page.v2_paging()})

    async def delete(ctx: Ctx) -> Response:
        owner: Entity = ctx.get(kind)
        delete_property(ctx.state, owner, ctx.path("name"))
        return json_response({})

    def found(ctx: Ctx) -> tuple[Entity, Property]:
        owner: Entity = ctx.get(kind)
        return owner, find_property(owner, ctx.path("name"))

    async def single(ctx: Ctx) -> Response:
        owner, prop = found(ctx)
        return json_response(V2Views(ctx.state, ctx.base_url).property(kind, owner, prop))

    async def items(ctx: Ctx) -> Response:
        _, prop = found(ctx)
        values = V2Views(ctx.state, ctx.base_url).property_items(prop)
        page = paginate(ctx.params, [_Entry(v["Id"], v) for v in values], {})
        items = [entry.body for entry in page.items]
        return json_response({"Items": items, "Paging": page.v2_paging()})

    base = f"{V2}/{kind}/{{id}}/properties"
    return [
        api_route(base, post, "v2", methods=("POST",)),
        api_route(base + "/{name}", delete, "v2", methods=("DELETE",)),
        api_route(base + "/{name}", single, "v2"),
        api_route(base + "/{name}/items", items, "v2"),
    ]


# ---------------------------------------------------------------------- appsessions
def _not_running(session: AppSession) -> ApiProblem:
    return ApiProblem(
        400,
        "BASESPACE.APPSESSIONS.NOT_RUNNING",
        f"AppSession {session.id} cannot be stopped: its ExecutionStatus is {session.status}"
        " (only Pending, Running or NeedsAttention analyses can be stopped)",
    )


async def stop_appsession(ctx: Ctx) -> Response:
    """``POST v2/appsessions/{id}/stop``: Pending/Running/NeedsAttention → Aborted."""
    session: AppSession = ctx.get("appsessions")
    with ctx.state.lock:
        if session.status not in ACTIVE_STATUSES:
            raise _not_running(session)
        ctx.state.set_appsession_status(session.id, "Aborted")
    log.info("user %s stopped appsession %s", ctx.user.id, session.id)
    return json_response(V2Views(ctx.state, ctx.base_url).appsession(session, full=True))


async def set_appsession_status(ctx: Ctx) -> Response:
    """v1pre3 ``POST appsessions/{id}`` ``{status, statussummary}``; a finished session is
    final."""
    fields = await read_fields(ctx.request)
    wanted = fields.get("status", "").strip().lower()
    canonical = {s.lower(): s for s in APPSESSION_STATUSES}.get(wanted)
    if canonical is None:
        raise ApiProblem(
            400,
            "BASESPACE.COMMON.INVALID_PARAMETER",
            f"status must be one of {', '.join(APPSESSION_STATUSES)}",
        )
    session: AppSession = ctx.get("appsessions")
    with ctx.state.lock:
        if session.status in FINAL_STATUSES:
            raise ApiProblem(
                400,
                "BASESPACE.APPSESSIONS.NOT_RUNNING",
                f"AppSession {session.id} is {session.status}: its status cannot change any more",
            )
        ctx.state.set_appsession_status(session.id, canonical, fields.get("statussummary"))
    return v1_ok(V1Views(ctx.state).appsession(session, full=True))


# ---------------------------------------------------------------------- trash
def _permanent_refused() -> ApiProblem:
    return ApiProblem(
        403,
        "BASESPACE.AUTH.INSUFFICIENT_SCOPE",
        "Permanent deletion needs a scope this access token does not have"
        " (the emulator never deletes permanently; use the trash)",
    )


def _trash_route(kind: str) -> BaseRoute:
    async def handler(ctx: Ctx) -> Response:
        if ctx.params.get_bool("bypasstrash", False):
            raise _permanent_refused()
        preserve = (ctx.params.get("preserve") or "").strip()
        if preserve and preserve.lower() != "metadata":
            raise ApiProblem(
                400, "BASESPACE.COMMON.INVALID_PARAMETER", "preserve accepts only Metadata"
            )
        record = move_to_trash(
            ctx.state, ctx.user, kind, ctx.path("id"), preserve_metadata=bool(preserve)
        )
        return json_response(render_item(ctx.state, ctx.base_url, record, full=True))

    return api_route(f"{V2}/{kind}/{{id}}", handler, "v2", methods=("DELETE",))


async def trash_list(ctx: Ctx) -> Response:
    items = named(ctx.state, trash_of(ctx.state, ctx.user))
    page = paginate(ctx.params, items, TRASH_SORTS, default_sort="DateDeleted", default_dir="Desc")
    rendered = [render_item(ctx.state, ctx.base_url, n.record) for n in page.items]
    return json_response({"Items": rendered, "Paging": page.v2_paging()})


async def trash_item(ctx: Ctx) -> Response:
    record = record_of(ctx.state, ctx.user, ctx.path("id"))
    return json_response(render_item(ctx.state, ctx.base_url, record, full=True))


async def trash_restore(ctx: Ctx) -> Response:
    record = restore(ctx.state, ctx.user, ctx.path("id"))
    body = render_item(ctx.state, ctx.base_url, record, full=True, status="Restored")
    return json_response(body)


async def trash_empty(ctx: Ctx) -> Response:
    """``DELETE v2/trash``: 200 and ``{}`` [G: the body]; the items can no longer be restored."""
    empty(ctx.state, ctx.user)
    return json_response({})


# ---------------------------------------------------------------------- projects
async def create_project(ctx: Ctx) -> Response:
    """``POST v2/projects?name=&description=``: 201 and the project, or 200 and the caller's
    existing project of that name."""
    fields = await read_fields(ctx.request)
    name = fields.get("name", "").strip()
    if not name:
        raise ApiProblem(400, "BASESPACE.PROJECTS.NAME_REQUIRED", "A project name is required")
    if len(name) > 255:
        raise ApiProblem(
            400, "BASESPACE.PROJECTS.NAME_TOO_LONG", "Project names are limited to 255 characters"
        )
    project, is_new = ctx.state.create_project(ctx.user, name, fields.get("description", ""))
    body = V2Views(ctx.state, ctx.base_url).project(project, full=True)
    return json_response(body, 201 if is_new else 200)


async def update_project(ctx: Ctx) -> Response:
    """[G] ``POST v2/projects/{id}`` ``{"Name", "Description"}`` (either may be left out): 200
    and the project. The v2 reference has no project update; this follows its other
    ``POST v2/<kind>/{id}`` updates (biosamples, datasets, runs). A name, when given, follows the
    rules of ``POST v2/projects``."""
    fields = await read_fields(ctx.request)
    name = fields["name"].strip() if "name" in fields else None
    if name is not None and not name:
        raise ApiProblem(400, "BASESPACE.PROJECTS.NAME_REQUIRED", "A project name is required")
    if name is not None and len(name) > 255:
        raise ApiProblem(
            400, "BASESPACE.PROJECTS.NAME_TOO_LONG", "Project names are limited to 255 characters"
        )
    description = fields.get("description")
    if name is None and description is None:
        raise ApiProblem(
            400, "BASESPACE.COMMON.INVALID_REQUEST", "Give a Name or a Description to change"
        )
    project = ctx.state.update_project(ctx.user, ctx.path("id"), name=name, description=description)
    return json_response(V2Views(ctx.state, ctx.base_url).project(project, full=True))


def routes() -> list[BaseRoute]:
    """Every write route (register these before the v1pre3 and v2 reads and their catch-alls)."""
    table: list[BaseRoute] = [
        api_route(f"{V1}/appsessions/{{id}}", set_appsession_status, "v1", methods=("POST",)),
        api_route(f"{V2}/appsessions/{{id}}/stop", stop_appsession, "v2", methods=("POST",)),
        api_route(f"{V2}/projects", create_project, "v2", methods=("POST",)),
        api_route(f"{V2}/projects/{{id}}", update_project, "v2", methods=("POST",)),
        api_route(f"{V2}/trash", trash_list, "v2"),
        api_route(f"{V2}/trash", trash_empty, "v2", methods=("DELETE",)),
        api_route(f"{V2}/trash/{{id}}", trash_item, "v2"),
        api_route(f"{V2}/trash/{{id}}/restorefromtrash", trash_restore, "v2", methods=("POST",)),
    ]
    table.extend(_trash_route(kind) for kind in TRASH_KINDS)
    for kind in V1_PROPERTY_KINDS:
        table.extend(_v1_property_routes(kind))
    for kind in V2_PROPERTY_KINDS:
        table.extend(_v2_property_routes(kind))
    return table
