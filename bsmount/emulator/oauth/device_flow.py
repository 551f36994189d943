"""The OAuth 2 device flow's rules (basespace-api.md §1.4), free of HTTP: scopes, device
authorizations, their approval and the exchange of an approved device code for a token.

Scopes (:func:`parse_scopes`): comma-separated, case-insensitive, one of ``{BROWSE|READ|WRITE|
CREATE|MOVETOTRASH} GLOBAL``, ``CREATE PROJECTS``, ``CREATE RUNS``, ``START APPLICATIONS``,
``MANAGE APPLICATIONS``, ``AUDIT USER``, ``AUDIT DOMAIN``, or ``{BROWSE|READ|WRITE} {PROJECT|RUN|
SAMPLE|APPRESULT|APPSESSION|BIOSAMPLE|DATASET} <id>``; stored upper case. :func:`start` opens an
authorization, :func:`decide` approves or denies it (:class:`DecisionError` says why it cannot),
:func:`exchange` answers the token endpoint's polls (:class:`OAuthError` until approved). Grants
and issued tokens live in the state's model, so ``POST /_emulator/reset`` forgets them. The
routes are :mod:`bsmount.emulator.oauth.routes`, :mod:`bsmount.emulator.oauth.page` and
:mod:`bsmount.emulator.oauth.control`.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.model import DeviceGrant, TokenGrant
from bsmount.emulator.state.tables import utcnow

__all__ = [
    "DEFAULT_SCOPES",
    "DEVICE_GRANT_TYPES",
    "FULL_SCOPES",
    "TOKEN_LIFETIME",
    "DecisionError",
    "OAuthError",
    "decide",
    "describe",
    "exchange",
    "find_grant",
    "normalize_user_code",
    "parse_scopes",
    "start",
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


def _new_user_code(state: EmulatorState) -> str:
    taken = {g.user_code for g in state.model.device_grants.values()}
    while True:
        code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(8))
        if code not in taken:
            return code


def start(state: EmulatorState, client_id: str, scopes: list[str]) -> DeviceGrant:
    """A new pending device authorization for ``client_id`` (lifetime and interval: the
    account's current OAuth settings)."""
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
    log.info("device authorization started (user code %s, scopes %s)", grant.user_code, scopes)
    return grant


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
