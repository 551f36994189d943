"""Logging in: the OAuth 2 device flow of BaseSpace (client side, trio + httpx).

The flow (basespace-api.md §1.4): ``POST v1pre3/oauthv2/deviceauthorization`` (form:
``response_type=device_code``, ``client_id``, ``scope`` joined with ","), show the user the
verification URL and code, then poll ``POST v1pre3/oauthv2/token`` (form: ``grant_type=device``,
``client_id``, ``client_secret``, ``code``) every ``interval`` seconds until the user approves
(200 with ``access_token``), denies (``access_denied``) or the code expires (``expired_token``, or
``expires_in`` seconds pass). ``slow_down`` adds 5 s to the interval (RFC 8628 §3.5).

``invalid_scope``: with the default scope list, the scope the server names (else the last one) is
dropped and the request retried, as the ``bs`` CLI does; scopes the user asked for explicitly are
never dropped silently: the login is refused with a message naming the scope.

Writing the resulting config file is :mod:`bsmount.config.files`.

No token, device code or client secret ever goes into a log record or an exception message.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio

from bsmount import __version__
from bsmount.errors import BsmountError, redact

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_SCOPES",
    "AccessDenied",
    "AuthError",
    "AuthResult",
    "DeviceAuthorization",
    "InvalidScope",
    "LoginExpired",
    "device_login",
    "make_oauth_http",
    "parse_scopes",
    "poll_for_token",
    "request_device_code",
]

log = logging.getLogger(__name__)

# BaseSpace only runs the device flow for a registered application: register one at
# https://developer.basespace.illumina.com (Native App) and give its credentials through
# BSMOUNT_CLIENT_ID / BSMOUNT_CLIENT_SECRET or --client-id / --client-secret. These defaults
# identify bsmount to servers that accept any client (the emulator does); a native app's "secret"
# is not confidential (it ships inside every copy of the program), unlike the access token.
DEFAULT_CLIENT_ID = "bsmount"
DEFAULT_CLIENT_SECRET = "bsmount-native-client"

# What a read/write mount needs, most essential first (the fallback for invalid_scope drops from
# the end): listing (BROWSE) and reading files (READ); setting properties and stopping analyses
# through control files (WRITE, which also implies CREATE/READ/BROWSE per basespace-api.md §1.5);
# `mkdir Projects/NAME` (CREATE PROJECTS); `.trash` (MOVETOTRASH).
DEFAULT_SCOPES: tuple[str, ...] = (
    "BROWSE GLOBAL",
    "READ GLOBAL",
    "WRITE GLOBAL",
    "CREATE PROJECTS",
    "MOVETOTRASH GLOBAL",
)

DEVICE_AUTHORIZATION_PATH = "v1pre3/oauthv2/deviceauthorization"
TOKEN_PATH = "v1pre3/oauthv2/token"
DEFAULT_INTERVAL = 5.0  # RFC 8628 §3.2, when the server gives none
MIN_INTERVAL = 0.1  # never poll faster than this, whatever the server says
SLOW_DOWN_STEP = 5.0  # RFC 8628 §3.5
DEFAULT_EXPIRES_IN = 1800.0
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]{1,4096}")  # printable ASCII without spaces
_DESCRIPTION_LIMIT = 300


class AuthError(BsmountError):
    """The login failed; the message is for the user (one line, never a secret)."""


class AccessDenied(AuthError):
    """The user declined the access request."""


class LoginExpired(AuthError):
    """The device code expired (or the wait limit passed) before the user approved."""


class InvalidScope(AuthError):
    """The server refused a scope; ``scope`` is the one it named, if it did."""

    def __init__(self, message: str, *, scope: str | None, scopes: tuple[str, ...]) -> None:
        super().__init__(message)
        self.scope = scope
        self.scopes = scopes


@dataclass(frozen=True)
class DeviceAuthorization:
    """The answer of the device-authorization step (the device code is kept out of ``repr``)."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_with_code_uri: str
    expires_in: float
    interval: float
    scopes: tuple[str, ...]  # the scopes requested in the end (after any drop)


@dataclass(frozen=True)
class AuthResult:
    """A finished login: the token (out of ``repr``) for ``api_server`` with ``scopes``."""

    api_server: str
    token: str = field(repr=False)
    scopes: tuple[str, ...] = ()


def parse_scopes(text: str) -> tuple[str, ...]:
    """``"read global, browse global"`` → ``("READ GLOBAL", "BROWSE GLOBAL")`` (no duplicates)."""
    out: list[str] = []
    for piece in text.split(","):
        scope = " ".join(piece.split()).upper()
        if scope and scope not in out:
            out.append(scope)
    if not out:
        raise AuthError("no scopes given: e.g. --scopes 'BROWSE GLOBAL,READ GLOBAL'")
    return tuple(out)


def make_oauth_http(
    api_server: str,
    *,
    timeout: float = 30.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An httpx client for the OAuth endpoints: no token header, no proxies, no redirects."""
    return httpx.AsyncClient(
        base_url=api_server.rstrip("/") + "/",
        headers={"User-Agent": f"bsmount/{__version__}", "Accept": "application/json"},
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        transport=transport,
        trust_env=False,
        follow_redirects=False,
    )


def _clean(text: object) -> str:
    """Server-provided text made safe for a message: one line, bounded, URL secrets hidden."""
    value = redact(" ".join(str(text).split()))
    return value if len(value) <= _DESCRIPTION_LIMIT else value[: _DESCRIPTION_LIMIT - 1] + "…"


def _json_body(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = json.loads(response.content) if response.content else None
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _oauth_error(body: dict[str, Any] | None) -> tuple[str, str]:
    """(error, error_description) of an OAuth error body; ("", "") if there is none."""
    if body is None:
        return "", ""
    error, description = body.get("error"), body.get("error_description")
    return (
        error if isinstance(error, str) else "",
        _clean(description) if isinstance(description, str) else "",
    )


def _number(value: object, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return default
    return float(value)


def _named_scope(description: str, scopes: Sequence[str]) -> str | None:
    """The requested scope the error description names (the longest match), if any."""
    text = " ".join(description.split()).upper()
    named = [s for s in scopes if s in text]
    return max(named, key=len) if named else None


def _client_hint(error: str) -> str:
    if error in ("invalid_client", "unauthorized_client"):
        return (
            " (BaseSpace needs a registered application: set BSMOUNT_CLIENT_ID and "
            "BSMOUNT_CLIENT_SECRET, see docs/usage.md)"
        )
    return ""


async def request_device_code(
    http: httpx.AsyncClient,
    client_id: str,
    scopes: Sequence[str],
    *,
    drop_invalid_scopes: bool = False,
    on_drop: Callable[[str, str], None] | None = None,
) -> DeviceAuthorization:
    """Step 1: ask for a device code and a user code.

    On ``invalid_scope``: if ``drop_invalid_scopes``, drop the scope the server names (else the
    last one), call ``on_drop(scope, description)`` and retry while scopes remain; otherwise raise
    :class:`InvalidScope`.
    """
    remaining = list(scopes)
    while True:
        form = {
            "response_type": "device_code",
            "client_id": client_id,
            "scope": ",".join(remaining),
        }
        try:
            response = await http.post(DEVICE_AUTHORIZATION_PATH, data=form)
        except httpx.HTTPError as exc:
            reason = _clean(exc) or type(exc).__name__
            raise AuthError(f"cannot reach {http.base_url}: {reason}") from None
        body = _json_body(response)
        error, description = _oauth_error(body)
        if response.status_code == 200 and body is not None and not error:
            return _parse_authorization(body, tuple(remaining))
        if error == "invalid_scope":
            named = _named_scope(description, remaining)
            if not drop_invalid_scopes or len(remaining) <= 1:
                which = f"scope {named!r}" if named else f"scopes {','.join(remaining)!r}"
                raise InvalidScope(
                    f"the server refused the {which}: {description or 'invalid_scope'}",
                    scope=named,
                    scopes=tuple(remaining),
                )
            dropped = named or remaining[-1]
            remaining.remove(dropped)
            log.warning("scope %r refused by the server (%s); retrying without it", dropped, error)
            if on_drop is not None:
                on_drop(dropped, description)
            continue
        what = error or f"HTTP {response.status_code}"
        detail = f": {description}" if description else ""
        raise AuthError(f"device authorization refused ({what}{detail}){_client_hint(error)}")


def _parse_authorization(body: dict[str, Any], scopes: tuple[str, ...]) -> DeviceAuthorization:
    device_code, user_code = body.get("device_code"), body.get("user_code")
    if not isinstance(device_code, str) or not device_code or not isinstance(user_code, str):
        raise AuthError("the device authorization answer has no device_code/user_code")
    uri = body.get("verification_uri")
    uri = uri if isinstance(uri, str) else ""
    with_code = body.get("verification_with_code_uri")
    if not isinstance(with_code, str) or not with_code:
        with_code = uri
    interval = _number(body.get("interval"), DEFAULT_INTERVAL)
    return DeviceAuthorization(
        device_code=device_code,
        user_code=user_code,
        verification_uri=uri,
        verification_with_code_uri=with_code,
        expires_in=max(0.0, _number(body.get("expires_in"), DEFAULT_EXPIRES_IN)),
        interval=max(MIN_INTERVAL, interval),
        scopes=scopes,
    )


async def poll_for_token(
    http: httpx.AsyncClient,
    authorization: DeviceAuthorization,
    client_id: str,
    client_secret: str,
    *,
    timeout: float | None = None,
) -> str:
    """Step 2: poll the token endpoint until approval; return the access token.

    Waits ``interval`` before each poll; gives up when the code expires or ``timeout`` seconds
    pass (:class:`LoginExpired`). Network errors, 429 and 5xx are retried until then.
    """
    interval = authorization.interval
    limit = authorization.expires_in if timeout is None else min(timeout, authorization.expires_in)
    deadline = trio.current_time() + limit
    form = {
        "grant_type": "device",
        "client_id": client_id,
        "client_secret": client_secret,
        "code": authorization.device_code,
    }
    while True:
        now = trio.current_time()
        if now >= deadline:
            raise LoginExpired(
                f"the login code {authorization.user_code} was not approved within "
                f"{limit:.0f} s; run bsmount auth again"
            )
        await trio.sleep(min(interval, deadline - now))
        if trio.current_time() >= deadline:
            continue
        try:
            response = await http.post(TOKEN_PATH, data=form)
        except httpx.HTTPError as exc:
            log.warning("token poll failed (%s); retrying", type(exc).__name__)
            continue
        body = _json_body(response)
        error, description = _oauth_error(body)
        if response.status_code == 200 and body is not None and not error:
            return _token_from(body)
        if error == "authorization_pending":
            log.debug("authorization pending")
            continue
        if error == "slow_down":
            interval += SLOW_DOWN_STEP
            log.info("server asked to slow down: polling every %.1f s", interval)
            continue
        if error in ("access_denied", "AccessDenied"):
            raise AccessDenied("access was denied")
        if error == "expired_token":
            raise LoginExpired(
                f"the login code {authorization.user_code} expired before it was approved; "
                "run bsmount auth again"
            )
        if not error and (response.status_code == 429 or response.status_code >= 500):
            log.warning("token poll answered HTTP %d; retrying", response.status_code)
            continue
        what = error or f"HTTP {response.status_code}"
        detail = f": {description}" if description else ""
        raise AuthError(f"the token request was refused ({what}{detail}){_client_hint(error)}")


def _token_from(body: dict[str, Any]) -> str:
    token = body.get("access_token")
    if not isinstance(token, str) or not _TOKEN_CHARS.fullmatch(token):
        raise AuthError("the token endpoint answered 200 without a usable access_token")
    return token


async def device_login(
    api_server: str,
    *,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    scopes: Sequence[str] = DEFAULT_SCOPES,
    drop_invalid_scopes: bool = False,
    show: Callable[[DeviceAuthorization], None] | None = None,
    on_drop: Callable[[str, str], None] | None = None,
    timeout: float | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AuthResult:
    """The whole device flow against ``api_server``; ``show`` presents the URL and code."""
    async with make_oauth_http(api_server, transport=transport) as http:
        authorization = await request_device_code(
            http, client_id, scopes, drop_invalid_scopes=drop_invalid_scopes, on_drop=on_drop
        )
        log.info(
            "device authorization: user code %s, expires in %.0f s, interval %.1f s",
            authorization.user_code,
            authorization.expires_in,
            authorization.interval,
        )
        if show is not None:
            show(authorization)
        token = await poll_for_token(http, authorization, client_id, client_secret, timeout=timeout)
    log.info("device login approved for %s", api_server)
    return AuthResult(api_server, token, authorization.scopes)
