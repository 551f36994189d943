"""The OAuth 2 device flow's API routes (basespace-api.md §1.4) and the approval page's.

- ``POST v1pre3/oauthv2/deviceauthorization`` (form, query or JSON: ``response_type=device_code``,
  ``client_id``, ``scope``) → ``{device_code, user_code, verification_uri,
  verification_with_code_uri, expires_in, interval}``; the URIs point at this emulator's
  ``/oauth/device`` page. Errors are ``400 {"error", "error_description"}``:
  ``unsupported_response_type``, ``invalid_request`` (no client_id), ``invalid_scope``.
- ``POST v1pre3/oauthv2/token`` (``grant_type=device``, ``client_id``, ``client_secret``,
  ``code``; RFC 8628's grant type and ``device_code`` are accepted too) → 400
  ``authorization_pending`` / ``slow_down`` (polled again within 3/4 of ``interval``) /
  ``access_denied`` / ``expired_token`` / ``invalid_grant`` (unknown or used code) /
  ``invalid_client`` (another client's code) / ``unsupported_grant_type``, or 200
  ``{"access_token": <32 hex>, "expires_in": 315360000}`` once approved; the token then works for
  the approving user, with the requested scopes.
- ``GET v1pre3/oauthv2/token/current``: introspection in the v1 envelope, with ``Scopes``.
- ``GET``/``POST /oauth/device``: the approval page (:mod:`bsmount.emulator.oauth.page`).

The rules are :mod:`bsmount.emulator.oauth.device_flow`'s; the control plane's switches are
:mod:`bsmount.emulator.oauth.control`.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bsmount.emulator.http.responses import json_response, v1_ok
from bsmount.emulator.http.routing import Ctx, api_route
from bsmount.emulator.http.views.v1 import V1Views
from bsmount.emulator.oauth.device_flow import (
    DEVICE_GRANT_TYPES,
    FULL_SCOPES,
    TOKEN_LIFETIME,
    OAuthError,
    exchange,
    parse_scopes,
    start,
)
from bsmount.emulator.oauth.page import device_page, device_page_post
from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.model import format_date

__all__ = ["routes"]

log = logging.getLogger(__name__)


def _error_response(error: OAuthError) -> Response:
    body = {"error": error.error, "error_description": error.description}
    return json_response(body, error.status)


async def _fields(request: Request) -> dict[str, str]:
    """Query parameters, then a form or JSON body (names lower-cased)."""
    fields = {k.lower(): v for k, v in request.query_params.items()}
    raw = await request.body()
    if raw.strip():
        if raw.lstrip().startswith(b"{"):
            try:
                data = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise OAuthError("invalid_request", "The body is not valid JSON") from None
            if isinstance(data, dict):
                fields.update({str(k).lower(): str(v) for k, v in data.items() if v is not None})
        else:
            pairs = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
            fields.update({k.lower(): v for k, v in pairs})
    return fields


# ---------------------------------------------------------------------- API routes
async def device_authorization(request: Request) -> Response:
    """``POST v1pre3/oauthv2/deviceauthorization``."""
    state: EmulatorState = request.app.state.emulator
    try:
        fields = await _fields(request)
        if fields.get("response_type", "device_code") != "device_code":
            raise OAuthError("unsupported_response_type", "response_type must be device_code")
        client_id = fields.get("client_id", "").strip()
        if not client_id:
            raise OAuthError("invalid_request", "client_id is required")
        try:
            scopes = parse_scopes(fields.get("scope"))
        except ValueError as exc:
            raise OAuthError("invalid_scope", f"The scope '{exc}' is not a valid scope") from None
    except OAuthError as error:
        return _error_response(error)
    grant = start(state, client_id, scopes)
    page = str(request.base_url).rstrip("/") + "/oauth/device"
    return json_response(
        {
            "device_code": grant.device_code,
            "user_code": grant.user_code,
            "verification_uri": page,
            "verification_with_code_uri": f"{page}?code={grant.user_code}",
            "expires_in": grant.expires_in,
            "interval": grant.interval,
        }
    )


async def token(request: Request) -> Response:
    """``POST v1pre3/oauthv2/token`` (device grant)."""
    state: EmulatorState = request.app.state.emulator
    try:
        fields = await _fields(request)
        grant_type = fields.get("grant_type", "")
        if grant_type not in DEVICE_GRANT_TYPES:
            raise OAuthError(
                "unsupported_grant_type", f"grant_type {grant_type!r} is not supported here"
            )
        code = fields.get("code") or fields.get("device_code") or ""
        client_id = fields.get("client_id", "").strip()
        if not code or not client_id:
            raise OAuthError("invalid_request", "client_id and code are required")
        access_token = exchange(state, client_id, code, time.monotonic())
    except OAuthError as error:
        return _error_response(error)
    return json_response({"access_token": access_token, "expires_in": TOKEN_LIFETIME})


async def token_current(ctx: Ctx) -> Response:
    """``GET v1pre3/oauthv2/token/current``: the calling token, its user and its scopes."""
    grant = ctx.state.model.token_grants.get(ctx.token)
    if grant is None:
        client, scopes, created = "bsmount-emulator", list(FULL_SCOPES), ctx.user.date_created
    else:
        client, scopes, created = grant.client_id, list(grant.scopes), grant.date_created
    app_id = str(zlib.crc32(client.encode("utf-8")))
    return v1_ok(
        {
            "Id": str(zlib.crc32(ctx.token.encode("utf-8"))),
            "Href": "v1pre3/oauthv2/token/current",
            "AccessToken": ctx.token,
            "Application": {
                "Id": app_id,
                "Href": f"v1pre3/applications/{app_id}",
                "Name": f"OAuth client {client}",
            },
            "UserResourceOwner": V1Views(ctx.state).user_compact(ctx.user.id),
            "Status": "Active",
            "DateCreated": format_date(created),
            "Scopes": scopes,
        }
    )


def routes() -> list[BaseRoute]:
    """The OAuth API routes and the approval page (register before the v1pre3 catch-all)."""
    return [
        Route("/v1pre3/oauthv2/deviceauthorization", device_authorization, methods=["POST"]),
        Route("/v1pre3/oauthv2/token", token, methods=["POST"]),
        api_route("/v1pre3/oauthv2/token/current", token_current, "v1"),
        Route("/oauth/device", device_page, methods=["GET"]),
        Route("/oauth/device", device_page_post, methods=["POST"]),
    ]
