"""Error answers of the emulator's BaseSpace API, and the one place state errors become them.

- :class:`ApiProblem` is an error answer (HTTP status, ErrorCode, Message) raised by the HTTP
  layer itself (bad parameters, missing token...).
- :func:`problem_for` translates the state layer's refusals
  (:mod:`bsmount.emulator.state.errors`): unknown ids are 404 (403 for files, as BaseSpace
  does), another user's entities 403, trashed ones 410, unknown properties 404
  ``BASESPACE.PROPERTIES.NOT_FOUND``, broken rules 400 with their own code, conflicts 409 and
  unreadable (not yet uploaded) content 404, with theirs.
- :func:`error_response` renders either version's body: v1pre3 is
  ``{ResponseStatus:{ErrorCode,Message},Notifications:[...]}``, v2 is
  ``{ErrorCode,ErrorMessage,RequestId,AdditionalData}``.
- An unknown path is a 404 with a Message and no ErrorCode in either version
  (:func:`catch_all_routes`, the last routes under ``/v1pre3`` and ``/v2``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from bsmount.emulator.http.responses import Version, json_response, request_id
from bsmount.emulator.state.errors import (
    Conflict,
    ContentNotReady,
    EntityError,
    ForbiddenEntity,
    InvalidRequest,
    PropertyNotFound,
    RemovedEntity,
    StateError,
)

__all__ = [
    "ApiProblem",
    "catch_all_routes",
    "error_response",
    "problem_for",
    "unknown_path",
]

UNKNOWN_PATH_MESSAGE = (
    "This isn't a recognized path. Please refer to the API documentation at "
    "https://developer.basespace.illumina.com/docs for the available resources."
)
# How each kind of entity is named in error messages, and the access a 403 says it needs.
_KIND_LABELS = {
    "users": "User",
    "projects": "Project",
    "samples": "Sample",
    "appresults": "AppResult",
    "runs": "Run",
    "appsessions": "AppSession",
    "biosamples": "BioSample",
    "datasets": "Dataset",
    "files": "File",
    "genomes": "Genome",
    "trash": "TrashItem",
    "applications": "Application",
}
_ACCESS = {"files": "READ", "trash": "WRITE"}


class ApiProblem(Exception):
    """An error response: HTTP status, ErrorCode ("" for none) and Message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def problem_for(error: StateError) -> ApiProblem:
    """The API's answer to a refusal of the state layer."""
    if isinstance(error, Conflict):
        return ApiProblem(409, error.code, error.message)
    if isinstance(error, ContentNotReady):
        return ApiProblem(404, error.code, error.message)
    if isinstance(error, InvalidRequest):
        return ApiProblem(400, error.code, error.message)
    if isinstance(error, PropertyNotFound):
        return ApiProblem(
            404,
            "BASESPACE.PROPERTIES.NOT_FOUND",
            f"No property named {error.name} exists on this resource",
        )
    assert isinstance(error, EntityError)
    label = _KIND_LABELS.get(error.kind, "Resource")
    if isinstance(error, RemovedEntity):
        return ApiProblem(
            410,
            "BASESPACE.COMMON.RESOURCE_REMOVED",
            "This resource and its underlying data has been removed by its owner",
        )
    if isinstance(error, ForbiddenEntity) or error.kind == "files":
        access = _ACCESS.get(error.kind, "BROWSE")
        return ApiProblem(
            403,
            "BASESPACE.COMMON.INSUFFICIENT_RESOURCE_PERMISSIONS",
            f"Sorry but this requires {access} access to this {label} resource.",
        )
    return ApiProblem(
        404,
        "BASESPACE.COMMON.NOT_FOUND",
        f"The requested {label} ({error.entity_id}) was not found.",
    )


def error_response(version: Version, problem: ApiProblem) -> Response:
    rid = request_id()
    headers = {"X-Request-ID": rid}
    if version == "v2" and problem.code:
        body: dict[str, Any] = {
            "ErrorCode": problem.code,
            "ErrorMessage": problem.message,
            "RequestId": rid,
            "AdditionalData": {},
        }
        return json_response(body, problem.status, headers)
    status: dict[str, str] = {"ErrorCode": problem.code} if problem.code else {}
    status["Message"] = problem.message
    notes = [{"Type": "error", "Item": problem.message}] if problem.code else []
    return json_response(
        {"ResponseStatus": status, "Notifications": notes}, problem.status, headers
    )


async def unknown_path(request: Request) -> Response:
    """404 with a Message and no ErrorCode, as BaseSpace answers unknown paths."""
    return error_response("v1", ApiProblem(404, "", UNKNOWN_PATH_MESSAGE))


class CatchAll:
    """The last route under /v1pre3 and /v2: a path with a trailing ``/`` is routed again
    without it (SDKs post to ``v1pre3/projects/``); anything else is :func:`unknown_path`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        stripped = path.rstrip("/")
        if path != stripped and stripped.startswith(self.prefix + "/"):
            raw = scope.get("raw_path")
            inner = dict(scope, path=stripped)
            if isinstance(raw, bytes):
                inner["raw_path"] = raw.rstrip(b"/")
            await scope["app"].router(inner, receive, send)
            return
        response = await unknown_path(Request(scope, receive))
        await response(scope, receive, send)


def catch_all_routes(prefix: str) -> list[BaseRoute]:
    """Routes for every other path (and method) under ``prefix``."""
    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
    app = CatchAll(prefix)
    return [
        Route(f"{prefix}/{{rest:path}}", app, methods=methods),
        Route(prefix, app, methods=methods),
    ]
