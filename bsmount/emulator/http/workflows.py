"""The emulator's analysis-workflow routes (``/v2/applications/{id}/...``): QC thresholds,
dependencies, and creating a workflow from an appsession (rules in
:mod:`bsmount.emulator.state.lanes`; the catalogue is :mod:`bsmount.emulator.state.applications`).

- ``GET``/``PUT v2/applications/{id}/qcthresholds``: V2QcThresholdResponse; [G] the PUT body is
  ``{"QcThresholds": [...]}`` or a bare list and replaces the workflow's thresholds;
- ``GET``/``PUT v2/applications/{id}/workflowdependencies``:
  V2AnalysisWorkflowDependenciesResponse ``{"Version", "Dependencies"}``; [G] the PUT body is that
  object and replaces them (a workflow with none answers ``{"Version": "1", "Dependencies": []}``);
- [G] both refuse an application whose Category is not ``Workflow`` (400
  ``BASESPACE.APPLICATIONS.NOT_A_WORKFLOW``): the reference calls them "applied to an analysis
  workflow", and ``bs`` only offers them on workflows;
- ``POST v2/applications/{id}/workflows`` ``{"Name", "ShortDescription", "AppSessionId"}``:
  creates (or, for the same Name from the same application, updates) a workflow application: a
  copy of ``{id}`` with Category ``Workflow``, its own id and slug, added to the catalogue;
  answers IApplicationCompact (the reference leaves it empty: [G] the
  V1pre3ApplicationCompact fields, with WorkflowSourceApplication).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from bsmount.emulator.http.errors import ApiProblem
from bsmount.emulator.http.lanes import read_json_body
from bsmount.emulator.http.responses import json_response
from bsmount.emulator.http.routing import Ctx, api_route
from bsmount.emulator.state.applications import AppVersion
from bsmount.emulator.state.errors import InvalidRequest, UnknownEntity
from bsmount.emulator.state.lanes import Workflow, validate_dependencies, validate_thresholds
from bsmount.emulator.state.model import AppSession, format_date
from bsmount.emulator.state.tables import utcnow

__all__ = ["routes"]

log = logging.getLogger(__name__)

V2 = "/v2"
WORKFLOW_CATEGORY = "Workflow"
NO_DEPENDENCIES = {"Version": "1", "Dependencies": []}


def _application(ctx: Ctx) -> AppVersion:
    app_id = ctx.path("id")
    found = ctx.state.model.applications.get(app_id)
    if found is None:
        raise UnknownEntity("applications", app_id)
    return found


def _workflow(ctx: Ctx) -> AppVersion:
    app = _application(ctx)
    if app.category.casefold() != WORKFLOW_CATEGORY.casefold():
        raise InvalidRequest(
            "BASESPACE.APPLICATIONS.NOT_A_WORKFLOW",
            f"Application {app.id} ({app.name}) is not an analysis workflow",
        )
    return app


async def get_thresholds(ctx: Ctx) -> Response:
    app = _workflow(ctx)
    return json_response({"QcThresholds": ctx.state.model.qc.app_thresholds.get(app.id, [])})


async def put_thresholds(ctx: Ctx) -> Response:
    app = _workflow(ctx)
    items = validate_thresholds(await read_json_body(ctx), lane=False)
    with ctx.state.lock:
        ctx.state.model.qc.app_thresholds[app.id] = items
    log.info("QC thresholds of workflow %s set (%d)", app.id, len(items))
    return json_response({"QcThresholds": items})


async def get_dependencies(ctx: Ctx) -> Response:
    app = _workflow(ctx)
    return json_response(ctx.state.model.qc.dependencies.get(app.id, NO_DEPENDENCIES))


async def put_dependencies(ctx: Ctx) -> Response:
    app = _workflow(ctx)
    qc = ctx.state.model.qc
    current = str(qc.dependencies.get(app.id, NO_DEPENDENCIES)["Version"])
    body = validate_dependencies(await read_json_body(ctx), current)
    with ctx.state.lock:
        qc.dependencies[app.id] = body
    log.info("dependencies of workflow %s set (%d)", app.id, len(body["Dependencies"]))
    return json_response(body)


def _slug(name: str) -> str:
    return "workflow." + (re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-") or "unnamed")


def _compact(ctx: Ctx, app: AppVersion, source: Workflow | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Id": app.id,
        "Href": f"{ctx.base_url}/v1pre3/applications/{app.id}",
        "Name": app.name,
        "CompanyName": app.company,
        "VersionNumber": app.version,
        "ShortDescription": app.short_description,
        "DateCreated": format_date(app.date_created) if app.date_created else None,
        "PublishStatus": "Private",
        "Category": app.category,
        "AppFamilySlug": app.slug,
        "AppVersionSlug": app.version_slug,
    }
    if source is not None:
        body["WorkflowSourceApplication"] = {
            "Id": source.source_app_id,
            "Href": f"{ctx.base_url}/v1pre3/applications/{source.source_app_id}",
            "Name": source.source_app_name,
        }
    return body


def _text(fields: dict[str, Any], name: str, *, required: bool) -> str:
    value = fields.get(name.lower(), "")
    if value is None:
        value = ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ApiProblem(400, "BASESPACE.COMMON.INVALID_REQUEST", f"{name} is required")
    return value.strip()


async def create_workflow(ctx: Ctx) -> Response:
    source = _application(ctx)
    body = await read_json_body(ctx)
    if not isinstance(body, dict):
        raise ApiProblem(400, "BASESPACE.COMMON.INVALID_REQUEST", "Expected a JSON object")
    fields = {str(k).lower(): v for k, v in body.items()}
    name = _text(fields, "Name", required=True)
    description = _text(fields, "ShortDescription", required=False)
    session_id = _text(fields, "AppSessionId", required=True)
    session: AppSession = ctx.get("appsessions", session_id)
    if session.application.id != source.id:
        raise InvalidRequest(
            "BASESPACE.APPLICATIONS.WORKFLOW_INVALID_APPSESSION",
            f"AppSession {session_id} ran application {session.application.id}, not {source.id}",
        )
    model = ctx.state.model
    qc = model.qc
    with ctx.state.lock:
        existing = next(
            (
                w
                for w in qc.workflows.values()
                if w.name == name and w.source_app_id == source.id and w.owner_id == ctx.user.id
            ),
            None,
        )
        workflow_id = existing.id if existing is not None else qc.new_workflow_id()
        now = utcnow()
        record = Workflow(
            workflow_id,
            name,
            description,
            source.id,
            source.name,
            session_id,
            ctx.user.id,
            existing.date_created if existing is not None else now,
        )
        qc.workflows[workflow_id] = record
        app = dataclasses.replace(
            source,
            id=workflow_id,
            name=name,
            slug=_slug(name),
            category=WORKFLOW_CATEGORY,
            short_description=description,
            date_created=record.date_created,
            date_published=record.date_created,
        )
        model.applications[workflow_id] = app
    log.info(
        "workflow %s %r %s from application %s (appsession %s)",
        workflow_id,
        name,
        "updated" if existing is not None else "created",
        source.id,
        session_id,
    )
    return json_response(_compact(ctx, app, record))


def routes() -> list[BaseRoute]:
    base = f"{V2}/applications/{{id}}"
    return [
        api_route(f"{base}/qcthresholds", get_thresholds, "v2"),
        api_route(f"{base}/qcthresholds", put_thresholds, "v2", methods=("PUT",)),
        api_route(f"{base}/workflowdependencies", get_dependencies, "v2"),
        api_route(f"{base}/workflowdependencies", put_dependencies, "v2", methods=("PUT",)),
        api_route(f"{base}/workflows", create_workflow, "v2", methods=("POST",)),
    ]
