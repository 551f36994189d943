"""HTTP plumbing of the API client: httpx client construction, response decoding, error mapping.

- ``make_api_http`` builds the ``httpx.AsyncClient`` for the BaseSpace API (carries the
  ``x-access-token`` header); ``make_blob_http`` the pool for pre-signed blob URLs, a
  :class:`~bsmount.api.threaded.ThreadedTransport` (carries **no** BaseSpace credentials; a test's
  httpx transport is reached through :mod:`bsmount.api.mock_network`). Both:
  ``User-Agent: bsmount/<version>``, timeouts on everything, keep-alive pools with their own
  limits, no proxy/netrc from the environment, no redirects followed, TLS verification always on
  (an extra CA file may be given).
- ``decode_api_response`` turns an API response into parsed JSON or one of the
  :mod:`bsmount.errors` exceptions; ``api_error`` maps statuses to that tree.
- ``ClientCounters`` counts requests by kind, bytes fetched, retries and errors.

Nothing here ever puts the token into a message: URLs go through :func:`bsmount.errors.redact`
and server-provided text is scrubbed of the token before it is kept.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from bsmount import __version__
from bsmount.api.mock_network import mock_opener
from bsmount.api.threaded import ThreadedTransport
from bsmount.errors import (
    ApiError,
    BadRequest,
    ConfigError,
    Forbidden,
    Gone,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
    redact,
)

__all__ = [
    "USER_AGENT",
    "ClientCounters",
    "api_error",
    "check_api_server",
    "decode_api_response",
    "make_api_http",
    "make_blob_http",
    "scrub",
]

USER_AGENT = f"bsmount/{__version__}"

_MESSAGE_LIMIT = 300


class _RedactFilter(logging.Filter):
    """httpx logs every request URL at INFO: hide query secrets (tokens, signatures) in them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


# Records of the "httpx" logger carry full URLs, including S3 signatures and access_token.
logging.getLogger("httpx").addFilter(_RedactFilter())


@dataclass
class ClientCounters:
    """Counters of one client; ``as_dict()`` gives a copy (``BaseSpaceClient.statistics()``)."""

    requests: dict[str, int] = field(default_factory=dict)  # "api", "content-url", "blob"
    bytes_fetched: int = 0  # blob body bytes received
    retries: int = 0
    errors: int = 0  # operations that failed after retries

    def count(self, kind: str) -> None:
        self.requests[kind] = self.requests.get(kind, 0) + 1

    def as_dict(self) -> dict[str, int]:
        out = {f"requests_{k.replace('-', '_')}": v for k, v in sorted(self.requests.items())}
        out.update(bytes_fetched=self.bytes_fetched, retries=self.retries, errors=self.errors)
        return out


def check_api_server(api_server: str) -> str:
    """Normalise the API server URL; plain ``http://`` is only allowed to loopback hosts."""
    text = api_server.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"the API server must be an http(s) URL, not {redact(text)!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"refusing plain http:// to {parts.hostname}: use https:// "
            "(plain http is only allowed to 127.0.0.0/8, ::1 and localhost)"
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _timeout(timeout: float) -> httpx.Timeout:
    return httpx.Timeout(timeout, connect=min(timeout, 10.0), pool=timeout)


def _verify(ca_file: str | None) -> ssl.SSLContext | bool:
    if ca_file is None:
        return True
    return ssl.create_default_context(cafile=ca_file)


def make_api_http(
    api_server: str,
    token: str,
    *,
    timeout: float,
    max_connections: int,
    transport: httpx.AsyncBaseTransport | None = None,
    ca_file: str | None = None,
) -> httpx.AsyncClient:
    """The client for API calls: base URL, token header, JSON accept, bounded keep-alive pool."""
    return httpx.AsyncClient(
        base_url=api_server + "/",
        headers={"x-access-token": token, "User-Agent": USER_AGENT, "Accept": "application/json"},
        timeout=_timeout(timeout),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        ),
        transport=transport,
        verify=_verify(ca_file),
        trust_env=False,
        follow_redirects=False,
    )


def make_blob_http(
    *,
    timeout: float,
    max_connections: int,
    transport: httpx.AsyncBaseTransport | None = None,
    ca_file: str | None = None,
) -> ThreadedTransport:
    """The pool for pre-signed blob URLs: no credentials, identity encoding, its own connections:
    HTTP/1.1 in worker threads, bodies read straight into the caller's buffer (module doc of
    :mod:`bsmount.api.threaded`). With ``transport`` (tests: ``httpx.MockTransport``, which is
    also a sync transport) the same pool's connections are answered by it in memory."""
    opener = None
    if transport is not None:
        if not isinstance(transport, httpx.BaseTransport):
            raise TypeError("blob reads need a transport with handle_request (httpx.MockTransport)")
        opener = mock_opener(transport)
    return ThreadedTransport(
        verify=_verify(ca_file),
        max_connections=max_connections,
        keepalive_expiry=30.0,
        timeout=_timeout(timeout),
        headers=[("User-Agent", USER_AGENT)],
        open_connection=opener,
        threads=transport is None,
    )


def scrub(text: str, token: str) -> str:
    """Remove the token (anywhere) and URL secrets from server-provided text, and bound its size."""
    if token:
        text = text.replace(token, "***")
    text = redact(" ".join(text.split()))
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def _error_fields(body: Any) -> tuple[str, str]:
    """(ErrorCode, Message) from a v1 envelope, a v2 error, or an OAuth error body."""
    if not isinstance(body, dict):
        return "", ""
    status = body.get("ResponseStatus")
    code = message = ""
    if isinstance(status, dict):
        code = _as_text(status.get("ErrorCode"))
        message = _as_text(status.get("Message"))
    code = code or _as_text(body.get("ErrorCode")) or _as_text(body.get("error"))
    message = (
        message
        or _as_text(body.get("ErrorMessage"))
        or _as_text(body.get("MessageFormatted"))
        or _as_text(body.get("Message"))
        or _as_text(body.get("error_description"))
    )
    return code, message


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def api_error(
    status: int,
    message: str,
    *,
    error_code: str = "",
    method: str = "GET",
    url: str = "",
    retry_after: float | None = None,
) -> ApiError:
    """The :mod:`bsmount.errors` exception for an HTTP error status."""
    cls: type[ApiError]
    if status == 429:
        return RateLimited(
            status, message, error_code=error_code, method=method, url=url, retry_after=retry_after
        )
    if status == 400:
        cls = BadRequest
    elif status == 401:
        cls = Unauthorized
    elif status == 403:
        cls = Forbidden
    elif status == 404:
        cls = NotFound
    elif status == 410:
        cls = Gone
    elif status >= 500:
        cls = ServerError
    else:
        cls = ApiError
    return cls(status, message, error_code=error_code, method=method, url=url)


def decode_api_response(
    response: httpx.Response, *, token: str, retry_after: float | None = None
) -> Any:
    """Parsed JSON of a successful API response, or raise the matching domain error.

    A 2xx that is not JSON raises :class:`TransportError` (retryable: proxies send HTML pages);
    a 200 whose ``ResponseStatus`` carries an ``ErrorCode`` raises :class:`BadRequest`.
    """
    method = response.request.method
    url = str(response.request.url)
    try:
        body: Any = json.loads(response.content) if response.content else None
        parsed = True
    except (ValueError, UnicodeDecodeError):
        body, parsed = None, False
    if response.is_success:
        if not parsed:
            kind = response.headers.get("content-type", "unknown type")
            raise TransportError(
                f"{method} {redact(url)}: HTTP {response.status_code} with a body that is not "
                f"JSON ({scrub(kind, token)}): {scrub(response.text[:80], token)!r}"
            )
        code, message = _error_fields(body)
        status = body.get("ResponseStatus") if isinstance(body, dict) else None
        if isinstance(status, dict) and _as_text(status.get("ErrorCode")):
            raise BadRequest(
                response.status_code,
                scrub(message or "error in a successful response", token),
                error_code=scrub(code, token),
                method=method,
                url=url,
            )
        return body
    code, message = _error_fields(body)
    if not message:
        message = response.reason_phrase or "error"
    return_error = api_error(
        response.status_code,
        scrub(message, token),
        error_code=scrub(code, token),
        method=method,
        url=url,
        retry_after=retry_after,
    )
    raise return_error
