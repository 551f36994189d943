"""How an API route of the emulator runs: auth, the request context, error answers; and the
``files/{id}/content`` endpoint both versions share.

- Auth: the token comes from ``x-access-token``, ``Authorization: Bearer``, ``?access_token=`` or
  ``?x-access-token=`` (the Search API reference's form);
  a missing, unknown or revoked token is 401 ``BASESPACE.AUTH.INVALID_TOKEN``.
- :func:`api_route` wraps a handler taking a :class:`Ctx` (request, account, caller, parameters):
  every :class:`~bsmount.emulator.http.errors.ApiProblem` and every refusal of the state
  (:class:`~bsmount.emulator.state.errors.StateError`, via
  :func:`~bsmount.emulator.http.errors.problem_for`) becomes the error body of the route's version.
- Parameters: :mod:`bsmount.emulator.http.request`; paging: :mod:`bsmount.emulator.http.paging`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bsmount.emulator.blobs.signing import sign_content_url
from bsmount.emulator.config import EmulatorConfig
from bsmount.emulator.http.errors import ApiProblem, error_response, problem_for
from bsmount.emulator.http.request import Params
from bsmount.emulator.http.responses import Version, api_headers, json_response
from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.errors import StateError, UnknownEntity
from bsmount.emulator.state.model import File, User, format_date
from bsmount.emulator.state.uploads import readable

__all__ = ["Ctx", "api_route", "content_response"]


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


#: Query parameters that carry the token: ``access_token`` (DOC-V1) and ``x-access-token`` (as
#: the Search API's reference shows it). Both are redacted from the request log.
TOKEN_PARAMS = ("access_token", "x-access-token")


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
        if key.lower() in TOKEN_PARAMS and value.strip():
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
    """``files/{id}/content``: ``redirect=meta`` gives the signed URL as JSON, otherwise 302;
    a file whose upload is not complete is 404 ``BASESPACE.FILES.UPLOAD_NOT_COMPLETE``."""
    entity_id = ctx.path("id")
    item: File = ctx.get("files", entity_id)
    readable(item)  # a pending or aborted upload has no content
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
