"""What every BaseSpace API route of the emulator shares: auth, parameters, paging, envelopes,
errors, response headers, and the ``files/{id}/content`` endpoint of both versions.

- Auth: the token comes from ``x-access-token``, ``Authorization: Bearer`` or ``?access_token=``;
  a missing, unknown or revoked token is 401 ``BASESPACE.AUTH.INVALID_TOKEN``.
- Parameters: names and enum values are case-insensitive (``Limit``/``limit``, ``SortDir=desc``).
- Paging: :mod:`bsmount.emulator.http.paging` (``Offset``/``Limit``/``SortBy``/``SortDir``).
- Errors: v1pre3 bodies are ``{ResponseStatus:{ErrorCode,Message},Notifications:[...]}``; v2
  bodies are ``{ErrorCode,ErrorMessage,RequestId,AdditionalData}``; an unknown path is a 404 with
  a Message and no ErrorCode in either version. Unknown file ids are 403 (as BaseSpace does), other
  unknown ids 404, another user's entities 403, trashed ones 410.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from bsmount.emulator.blobs.route import sign_content_url
from bsmount.emulator.config import EmulatorConfig
from bsmount.emulator.state.account import (
    EmulatorState,
    ForbiddenEntity,
    RemovedEntity,
    StateError,
    UnknownEntity,
)
from bsmount.emulator.state.model import File, User, format_date

__all__ = [
    "ApiProblem",
    "Ctx",
    "Params",
    "api_route",
    "catch_all_routes",
    "content_response",
    "json_response",
]

log = logging.getLogger(__name__)

Version = Literal["v1", "v2"]

UNKNOWN_PATH_MESSAGE = (
    "This isn't a recognized path. Please refer to the API documentation at "
    "https://developer.basespace.illumina.com/docs for the available resources."
)
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
}
_URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class ApiProblem(Exception):
    """An error response: HTTP status, ErrorCode ("" for none) and Message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def problem_for(error: StateError) -> ApiProblem:
    label = _KIND_LABELS.get(error.kind, "Resource")
    if isinstance(error, RemovedEntity):
        return ApiProblem(
            410,
            "BASESPACE.COMMON.RESOURCE_REMOVED",
            "This resource and its underlying data has been removed by its owner",
        )
    if isinstance(error, ForbiddenEntity) or error.kind == "files":
        access = "READ" if error.kind == "files" else "BROWSE"
        return ApiProblem(
            403,
            "BASESPACE.COMMON.INSUFFICIENT_RESOURCE_PERMISSIONS",
            f"Sorry but this requires {access} access to this {label} resource.",
        )
    assert isinstance(error, UnknownEntity)
    return ApiProblem(
        404,
        "BASESPACE.COMMON.NOT_FOUND",
        f"The requested {label} ({error.entity_id}) was not found.",
    )


# ---------------------------------------------------------------------- responses
def request_id() -> str:
    stamp = time.strftime("%Y.%m.%d.%H.%M.%S", time.gmtime())
    return f"{stamp}.{''.join(secrets.choice(_URLSAFE) for _ in range(22))}"


def api_headers(rid: str | None = None) -> dict[str, str]:
    """The headers BaseSpace puts on every API response."""
    return {
        "Cache-Control": "no-cache, no-store, must-revalidate",
        "Pragma": "no-cache",
        "Expires": "0",
        "X-Request-ID": rid or request_id(),
        "X-BaseSpace-Source": "master/readonly",
        "X-Content-Type-Options": "nosniff",
        "Strict-Transport-Security": "max-age=10886400; includeSubDomains; preload",
    }


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    all_headers = api_headers()
    if headers:
        all_headers.update(headers)
    return Response(payload, status, all_headers, media_type="application/json; charset=utf-8")


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


# ---------------------------------------------------------------------- parameters
class Params:
    """Query parameters with case-insensitive names; ``x[]`` counts as ``x``."""

    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self._items = [(k.lower().removesuffix("[]"), v) for k, v in items]

    def get(self, name: str) -> str | None:
        wanted = name.lower()
        found = None
        for key, value in self._items:
            if key == wanted:
                found = value
        return found

    def get_list(self, name: str) -> list[str]:
        """Every value of ``name``, comma-separated values split, blanks dropped."""
        wanted = name.lower()
        values: list[str] = []
        for key, value in self._items:
            if key == wanted:
                values.extend(v.strip() for v in value.split(",") if v.strip())
        return values

    def get_int(self, name: str, default: int) -> int:
        raw = self.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise ApiProblem(
                400, "BASESPACE.COMMON.INVALID_PARAMETER", f"{name} must be an integer"
            ) from None
        if value < 0:
            raise ApiProblem(400, "BASESPACE.COMMON.INVALID_PARAMETER", f"{name} must be >= 0")
        return value

    def get_bool(self, name: str, default: bool) -> bool:
        raw = self.get(name)
        if raw is None or raw.strip() == "":
            return default
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ApiProblem(400, "BASESPACE.COMMON.INVALID_PARAMETER", f"{name} must be true or false")


# ---------------------------------------------------------------------- the request context
@dataclass
class Ctx:
    """What a handler gets: the request, the account, the caller and the parameters."""

    request: Request
    state: EmulatorState
    config: EmulatorConfig
    user: User
    token: str
    params: Params
    version: Version

    @property
    def base_url(self) -> str:
        return str(self.request.base_url).rstrip("/")

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def get(self, kind: str, entity_id: str | None = None) -> Any:
        """The entity the path names (``{id}`` by default), or an API error."""
        return self.state.get(
            kind, entity_id if entity_id is not None else self.path("id"), self.user
        )


Handler = Callable[[Ctx], Awaitable[Response]]


def extract_token(request: Request) -> str:
    """The API token from the three places BaseSpace accepts it ("" if none)."""
    header = request.headers.get("x-access-token", "").strip()
    if header:
        return header
    auth = request.headers.get("authorization", "").strip()
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for key, value in request.query_params.multi_items():
        if key.lower() == "access_token" and value.strip():
            return value.strip()
    return ""


def api_route(
    path: str, handler: Handler, version: Version, methods: Sequence[str] = ("GET",)
) -> BaseRoute:
    """A starlette route running ``handler`` after auth, turning errors into API error bodies."""

    async def endpoint(request: Request) -> Response:
        try:
            state: EmulatorState = request.app.state.emulator
            config: EmulatorConfig = request.app.state.config
            state.apply_timers()
            token = extract_token(request)
            user = state.user_for_token(token) if token else None
            if user is None:
                message = (
                    "The access token is invalid or has been revoked"
                    if token
                    else "An access token is required (x-access-token or Authorization: Bearer)"
                )
                raise ApiProblem(401, "BASESPACE.AUTH.INVALID_TOKEN", message)
            params = Params(request.query_params.multi_items())
            ctx = Ctx(request, state, config, user, token, params, version)
            return await handler(ctx)
        except StateError as error:
            return error_response(version, problem_for(error))
        except ApiProblem as problem:
            return error_response(version, problem)

    return Route(path, endpoint, methods=list(methods))


# ---------------------------------------------------------------------- files/{id}/content
async def content_response(ctx: Ctx) -> Response:
    """``files/{id}/content``: ``redirect=meta`` gives the signed URL as JSON, otherwise 302."""
    entity_id = ctx.path("id")
    item: File = ctx.get("files", entity_id)
    if item.content is None:
        raise UnknownEntity("files", entity_id)
    config = ctx.config
    base = config.blob_base_url if config.blob_base_url is not None else ctx.base_url
    url, expires = sign_content_url(base, item.id, item.name, config.url_ttl, config.signing_key)
    mode = (ctx.params.get("redirect") or "true").strip().lower()
    if mode == "meta":
        meta = {"Expires": format_date(expires), "HrefContent": url, "SupportsRange": True}
        body: dict[str, Any] = meta
        if ctx.version == "v1":
            body = {"Response": meta, "ResponseStatus": {}, "Notifications": []}
        return json_response(body, headers={"Accept-Ranges": "bytes"})
    headers = api_headers()
    headers["Location"] = url
    return Response(b"", 302, headers)


def v1_ok(body: Any, status: int = 200) -> Response:
    return json_response({"Response": body, "ResponseStatus": {}, "Notifications": []}, status)
