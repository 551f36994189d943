"""The OAuth 2 device flow (basespace-api.md §1.4): API routes, approval page, control plane.

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
- ``GET /oauth/device[?code=USER_CODE]``: an HTML page with Approve and Deny buttons (``POST
  /oauth/device``, form ``user_code``, ``user``, ``action=approve|deny``).
- Control plane (:func:`control_routes`, under ``/_emulator``): ``POST oauth/approve
  {"user_code", "user"?}``, ``POST oauth/deny {"user_code"}``, ``GET oauth/pending``,
  ``POST oauth/config {"expires_in"?, "interval"?}`` (for new authorizations).

Scopes (:func:`parse_scopes`): comma-separated, case-insensitive, one of ``{BROWSE|READ|WRITE|
CREATE|MOVETOTRASH} GLOBAL``, ``CREATE PROJECTS``, ``CREATE RUNS``, ``START APPLICATIONS``,
``MANAGE APPLICATIONS``, ``AUDIT USER``, ``AUDIT DOMAIN``, or ``{BROWSE|READ|WRITE} {PROJECT|RUN|
SAMPLE|APPRESULT|APPSESSION|BIOSAMPLE|DATASET} <id>``; stored upper case. Grants and issued tokens
live in the state's model, so ``POST /_emulator/reset`` forgets them.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
import zlib
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bsmount.emulator.http.routing import Ctx, api_route, json_response, v1_ok
from bsmount.emulator.http.views.v1 import V1Views
from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.model import DeviceGrant, TokenGrant, format_date
from bsmount.emulator.state.tables import utcnow

__all__ = [
    "DEFAULT_SCOPES",
    "FULL_SCOPES",
    "DecisionError",
    "OAuthError",
    "control_routes",
    "decide",
    "describe",
    "find_grant",
    "normalize_user_code",
    "parse_scopes",
    "routes",
]

log = logging.getLogger(__name__)

DEFAULT_SCOPES = ["BROWSE GLOBAL"]  # when the request names none (a guess)
# What seed and --token tokens report: everything a user could grant.
FULL_SCOPES = [
    "BROWSE GLOBAL",
    "READ GLOBAL",
    "WRITE GLOBAL",
    "CREATE GLOBAL",
    "CREATE PROJECTS",
    "MOVETOTRASH GLOBAL",
    "START APPLICATIONS",
    "AUDIT USER",
]
TOKEN_LIFETIME = 315_360_000  # ten years: BaseSpace tokens do not expire
_SCOPE_PATTERNS = [
    re.compile(r"(BROWSE|READ|WRITE|CREATE|MOVETOTRASH) GLOBAL"),
    re.compile(r"CREATE (PROJECTS|RUNS)"),
    re.compile(r"(START|MANAGE) APPLICATIONS"),
    re.compile(r"AUDIT (USER|DOMAIN)"),
    re.compile(r"(BROWSE|READ|WRITE) (PROJECT|RUN|SAMPLE|APPRESULT|APPSESSION|BIOSAMPLE) [0-9]+"),
    re.compile(r"(BROWSE|READ|WRITE) DATASET DS\.[0-9A-F]{32}"),
]
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ23456789"
DEVICE_GRANT_TYPES = ("device", "urn:ietf:params:oauth:grant-type:device_code")


class OAuthError(Exception):
    """An OAuth error answer: ``{"error": error, "error_description": description}``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> Response:
        body = {"error": self.error, "error_description": self.description}
        return json_response(body, self.status)


def parse_scopes(text: str | None) -> list[str]:
    """The scopes of a ``scope`` field, canonical upper case; ValueError names a bad one."""
    if text is None or not text.strip():
        return list(DEFAULT_SCOPES)
    scopes: list[str] = []
    for raw in text.split(","):
        scope = " ".join(raw.split()).upper()
        if not scope:
            continue
        if not any(p.fullmatch(scope) for p in _SCOPE_PATTERNS):
            raise ValueError(raw.strip())
        if scope not in scopes:
            scopes.append(scope)
    if not scopes:
        return list(DEFAULT_SCOPES)
    return scopes


def normalize_user_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper()


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


def _new_user_code(state: EmulatorState) -> str:
    taken = {g.user_code for g in state.model.device_grants.values()}
    while True:
        code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(8))
        if code not in taken:
            return code


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
        return error.response()
    with state.lock:
        model = state.model
        grant = DeviceGrant(
            device_code=secrets.token_urlsafe(24),
            user_code=_new_user_code(state),
            client_id=client_id,
            scopes=scopes,
            created=time.monotonic(),
            expires_in=model.oauth_expires_in,
            interval=model.oauth_interval,
        )
        model.device_grants[grant.device_code] = grant
    page = str(request.base_url).rstrip("/") + "/oauth/device"
    log.info("device authorization started (user code %s, scopes %s)", grant.user_code, scopes)
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


def exchange(state: EmulatorState, client_id: str, device_code: str, now: float) -> str:
    """The access token for an approved ``device_code`` (once), or an :class:`OAuthError`."""
    with state.lock:
        model = state.model
        grant = model.device_grants.get(device_code)
        if grant is None or grant.status == "used":
            raise OAuthError("invalid_grant", "The device code is invalid or was already used")
        if grant.client_id != client_id:
            raise OAuthError("invalid_client", "The device code was issued to another client")
        last, grant.last_poll = grant.last_poll, now
        if grant.expired(now):
            raise OAuthError("expired_token", "The device code has expired")
        if grant.status == "denied":
            raise OAuthError("access_denied", "User has denied the access request")
        if grant.status == "approved" and grant.user_id is not None:
            token = secrets.token_hex(16)
            grant.status = "used"
            model.tokens[token] = grant.user_id
            model.token_grants[token] = TokenGrant(grant.client_id, list(grant.scopes), utcnow())
            log.info("device code of user code %s exchanged for a token", grant.user_code)
            return token
        if last is not None and now - last < 0.75 * grant.interval:
            raise OAuthError("slow_down", "Polling too fast: wait interval seconds between polls")
        raise OAuthError("authorization_pending", "User has not yet approved the access request")


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
        return error.response()
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
    """The OAuth API routes and the approval page (register before api_v1's catch-all)."""
    from bsmount.emulator.oauth.page import device_page, device_page_post

    return [
        Route("/v1pre3/oauthv2/deviceauthorization", device_authorization, methods=["POST"]),
        Route("/v1pre3/oauthv2/token", token, methods=["POST"]),
        api_route("/v1pre3/oauthv2/token/current", token_current, "v1"),
        Route("/oauth/device", device_page, methods=["GET"]),
        Route("/oauth/device", device_page_post, methods=["POST"]),
    ]


# ---------------------------------------------------------------------- approval
class DecisionError(Exception):
    """Approving or denying failed: HTTP ``status`` and a message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def find_grant(state: EmulatorState, user_code: str) -> DeviceGrant | None:
    """The grant whose user code is ``user_code`` (case, spaces and dashes ignored)."""
    wanted = normalize_user_code(user_code)
    return next((g for g in state.model.device_grants.values() if g.user_code == wanted), None)


def decide(
    state: EmulatorState, user_code: str, approve: bool, user_id: str | None = None
) -> DeviceGrant:
    """Approve (for ``user_id``, default the first user) or deny the grant of ``user_code``."""
    with state.lock:
        grant = find_grant(state, user_code)
        if grant is None:
            raise DecisionError(404, f"no device authorization with user code {user_code!r}")
        if grant.expired(time.monotonic()):
            raise DecisionError(410, f"the user code {grant.user_code} has expired")
        if grant.status != "pending":
            raise DecisionError(409, f"the user code {grant.user_code} was already {grant.status}")
        if approve:
            uid = user_id or state.first_user.id
            if uid not in state.model.users:
                raise DecisionError(404, f"no user with id {uid!r}")
            grant.user_id = uid
            grant.status = "approved"
        else:
            grant.status = "denied"
    log.info("user code %s %s", grant.user_code, grant.status)
    return grant


def describe(grant: DeviceGrant, now: float) -> dict[str, Any]:
    return {
        "user_code": grant.user_code,
        "client_id": grant.client_id,
        "scopes": list(grant.scopes),
        "status": grant.status,
        "user": grant.user_id,
        "expires_in": max(0, round(grant.created + grant.expires_in - now)),
        "interval": grant.interval,
    }


async def _control_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise DecisionError(400, "body is not JSON") from None
    if not isinstance(body, dict):
        raise DecisionError(400, "body must be a JSON object")
    return body


def _control_decision(approve: bool) -> Any:
    async def handler(request: Request) -> Response:
        state: EmulatorState = request.app.state.emulator
        try:
            body = await _control_body(request)
            code = body.get("user_code")
            user = body.get("user")
            if not isinstance(code, str) or not code:
                raise DecisionError(400, 'body must be {"user_code": "...", "user": optional id}')
            if user is not None and not isinstance(user, str):
                raise DecisionError(400, "user must be a user id string")
            grant = decide(state, code, approve, user)
        except DecisionError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        return JSONResponse(describe(grant, time.monotonic()))

    return handler


async def pending(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    now = time.monotonic()
    grants = state.model.device_grants.values()
    return JSONResponse(
        [describe(g, now) for g in grants if g.status == "pending" and not g.expired(now)]
    )


async def config(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    try:
        body = await _control_body(request)
        values: dict[str, int] = {}
        for key, minimum in (("expires_in", 1), ("interval", 0)):
            value = body.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise DecisionError(400, f"{key} must be an integer >= {minimum}")
            values[key] = value
    except DecisionError as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    with state.lock:
        model = state.model
        model.oauth_expires_in = values.get("expires_in", model.oauth_expires_in)
        model.oauth_interval = values.get("interval", model.oauth_interval)
    return JSONResponse({"expires_in": model.oauth_expires_in, "interval": model.oauth_interval})


def control_routes() -> list[BaseRoute]:
    """Routes for the ``/_emulator`` mount."""
    return [
        Route("/oauth/approve", _control_decision(True), methods=["POST"]),
        Route("/oauth/deny", _control_decision(False), methods=["POST"]),
        Route("/oauth/pending", pending, methods=["GET"]),
        Route("/oauth/config", config, methods=["POST"]),
    ]
