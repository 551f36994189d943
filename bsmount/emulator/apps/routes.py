"""The API routes of applications and launches (docs/emulator.md "Applications and launches").

- ``GET v1pre3/applications``, ``v1pre3/users/{current}/applications`` [G],
  ``v1pre3/applications/{id}``: the catalogue, v1 envelope;
- ``GET v2/applications``, ``v2/applications/{id}``, ``/settings``, ``/versions``;
- ``POST v1pre3/applications/{id}/appsessions``: a launch (:mod:`.forms`, :mod:`.engine`),
  answered 201 with the AppSession at the top level (BaseSpacePy's ``AppLaunchResponse``);
- ``GET v2/appsessions/{id}/logfiles``: the session's growing log files (V2FilesList).

Lists show the newest version of each app unless ``allversions=true``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from bsmount.emulator.apps.engine import engine_for
from bsmount.emulator.apps.forms import read_launch
from bsmount.emulator.apps.views import (
    application,
    application_compact,
    application_settings,
    version_key,
)
from bsmount.emulator.http.errors import ApiProblem
from bsmount.emulator.http.paging import FILES_CAP, paginate
from bsmount.emulator.http.responses import json_response, v1_ok
from bsmount.emulator.http.routing import Ctx, api_route
from bsmount.emulator.http.v1 import FILE_SORTS, filter_files
from bsmount.emulator.http.views.v1 import V1Views
from bsmount.emulator.http.views.v2 import V2Views
from bsmount.emulator.state.applications import AppVersion
from bsmount.emulator.state.errors import UnknownEntity
from bsmount.emulator.state.model import AppSession, File

__all__ = ["routes"]

APP_SORTS: dict[str, Callable[[Any], Any]] = {
    "Name": lambda a: a.name.casefold(),
    "DateCreated": lambda a: a.date_created or a.date_published,
    "DatePublished": lambda a: a.date_published or a.date_created,
    "VersionNumber": version_key,
}


def _catalogue(ctx: Ctx) -> list[AppVersion]:
    apps = list(ctx.state.model.applications.values())
    if ctx.params.get_bool("allversions", False):
        return apps
    newest: dict[str, AppVersion] = {}
    for app in apps:
        best = newest.get(app.slug)
        if best is None or version_key(app) > version_key(best):
            newest[app.slug] = app
    return list(newest.values())


def _app(ctx: Ctx) -> AppVersion:
    app_id = ctx.path("id")
    found = ctx.state.model.applications.get(app_id)
    if found is None:
        raise UnknownEntity("applications", app_id)
    return found


def _check_self(ctx: Ctx) -> None:
    uid = ctx.path("uid")
    if uid not in ("current", ctx.user.id):
        ctx.get("users", uid)


# ---------------------------------------------------------------------- v1pre3
async def v1_applications(ctx: Ctx) -> Response:
    if "uid" in ctx.request.path_params:
        _check_self(ctx)
    page = paginate(ctx.params, _catalogue(ctx), APP_SORTS, default_sort="Name")
    return v1_ok(page.v1(application_compact))


async def v1_application(ctx: Ctx) -> Response:
    return v1_ok(application(_app(ctx), ctx.base_url))


async def launch(ctx: Ctx) -> Response:
    app = _app(ctx)
    raw = await ctx.request.body()
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiProblem(
            400, "BASESPACE.COMMON.INVALID_REQUEST", "The launch body is not valid JSON"
        ) from None
    plan = read_launch(ctx.state, ctx.user, app, body)
    session = engine_for(ctx.state).launch(ctx.user, plan)
    # At the top level, not in "Response": BaseSpacePy's launchApp reads AppLaunchResponse.Id.
    return json_response(V1Views(ctx.state).appsession(session, full=True), 201)


# ---------------------------------------------------------------------- v2
async def v2_applications(ctx: Ctx) -> Response:
    page = paginate(ctx.params, _catalogue(ctx), APP_SORTS, default_sort="Name")
    body = {"Items": [application_compact(a) for a in page.items], "Paging": page.v2_paging()}
    return json_response(body)


async def v2_application(ctx: Ctx) -> Response:
    return json_response(application(_app(ctx), ctx.base_url))


async def v2_settings(ctx: Ctx) -> Response:
    return json_response(application_settings(_app(ctx), ctx.base_url))


async def v2_versions(ctx: Ctx) -> Response:
    app = _app(ctx)
    family = [a for a in ctx.state.model.applications.values() if a.slug == app.slug]
    page = paginate(ctx.params, family, APP_SORTS, default_sort="VersionNumber", default_dir="Desc")
    listing = page.v1(application_compact)
    return json_response({"Response": listing, "ResponseStatus": {}})


async def logfiles(ctx: Ctx) -> Response:
    session: AppSession = ctx.get("appsessions")
    model = ctx.state.model
    record = model.launches.get(session.id)
    ids = record.log_file_ids if record is not None else []
    files: list[File] = [model.files[i] for i in ids if i in model.files]
    files = filter_files(ctx.params, files)
    page = paginate(ctx.params, files, FILE_SORTS, cap=FILES_CAP)
    views = V2Views(ctx.state, ctx.base_url)
    body = {"Items": [views.file(f) for f in page.items], "Paging": page.v2_paging()}
    return json_response(body)


def routes() -> list[BaseRoute]:
    v1, v2 = "/v1pre3", "/v2"
    return [
        api_route(f"{v1}/applications", v1_applications, "v1"),
        api_route(f"{v1}/users/{{uid}}/applications", v1_applications, "v1"),
        api_route(f"{v1}/applications/{{id}}", v1_application, "v1"),
        api_route(f"{v1}/applications/{{id}}/appsessions", launch, "v1", methods=("POST",)),
        api_route(f"{v2}/applications", v2_applications, "v2"),
        api_route(f"{v2}/applications/{{id}}", v2_application, "v2"),
        api_route(f"{v2}/applications/{{id}}/settings", v2_settings, "v2"),
        api_route(f"{v2}/applications/{{id}}/versions", v2_versions, "v2"),
        api_route(f"{v2}/appsessions/{{id}}/logfiles", logfiles, "v2"),
    ]
