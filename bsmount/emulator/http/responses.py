"""The bodies and headers of the emulator's BaseSpace API answers.

Every API response carries the headers BaseSpace puts on its answers (:func:`api_headers`: no
caching, an ``X-Request-ID``...); JSON is compact UTF-8. v1pre3 answers wrap the resource in
``{Response, ResponseStatus, Notifications}`` (:func:`v1_ok`); v2 answers are bare objects.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any, Literal

from starlette.responses import Response

__all__ = ["Version", "api_headers", "json_response", "request_id", "v1_ok"]

Version = Literal["v1", "v2"]

_URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


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


def v1_ok(body: Any, status: int = 200) -> Response:
    return json_response({"Response": body, "ResponseStatus": {}, "Notifications": []}, status)
