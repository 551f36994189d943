"""The request log: every request the emulator answered, for tests to inspect.

:class:`RequestLogMiddleware` (ASGI) wraps the whole app, outside fault injection, so an entry shows
what the client really got: ``index``, ``method``, ``path``, ``query`` (with ``access_token``,
``x-access-token`` and ``Signature`` values redacted), ``status``, ``bytes_sent`` (body bytes
actually handed to the server), ``range`` (the Range header or null), ``fault`` (the injected fault
actions, or null), ``kind`` (api_v1, api_v2, blob, control, other), ``duration_ms`` and ``time``
(epoch seconds at arrival). ``GET /_emulator/requests`` itself is not logged, nor are requests that
were in flight when the log was cleared (such as ``POST /_emulator/reset``). The log keeps the last
``capacity`` entries; counters by kind (``GET /_emulator/stats``) are never trimmed.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["FAULT_SCOPE_KEY", "RequestLog", "RequestLogMiddleware", "redact_query", "route_kind"]

log = logging.getLogger(__name__)

# Scope key under which the fault middleware lists the actions it applied to a request.
FAULT_SCOPE_KEY = "bsmount.emulator.control.faults"
_SECRET = re.compile(
    r"(?i)(^|&)((?:access_token|x-access-token|signature|x-amz-signature|code|device_code|client_secret)=)[^&]*"
)


def redact_query(query: str) -> str:
    """Hide secrets in a query string: tokens, signatures, OAuth codes and client secrets."""
    return _SECRET.sub(r"\1\2REDACTED", query)


def route_kind(path: str) -> str:
    """Which part of the emulator a path belongs to."""
    if path.startswith("/v1pre3/") or path == "/v1pre3":
        return "api_v1"
    if path.startswith("/v2/") or path == "/v2":
        return "api_v2"
    if path.startswith("/s3/"):
        return "blob"
    if path.startswith("/_emulator/"):
        return "control"
    return "other"


class RequestLog:
    """A bounded list of request entries plus cumulative counters."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._next_index = 0
        # Bumped by clear(): a request that straddles a clear is not recorded (so the request
        # that clears the log does not show up in it).
        self.generation = 0
        self.counts: dict[str, int] = {}
        self.bytes_by_kind: dict[str, int] = {}
        self.statuses: dict[str, int] = {}

    @property
    def next_index(self) -> int:
        return self._next_index

    def add(self, entry: dict[str, Any]) -> None:
        entry["index"] = self._next_index
        self._next_index += 1
        self._entries.append(entry)
        kind = entry["kind"]
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.bytes_by_kind[kind] = self.bytes_by_kind.get(kind, 0) + entry["bytes_sent"]
        status = str(entry["status"])
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def entries(self, since: int = 0) -> list[dict[str, Any]]:
        """Entries whose ``index`` is at least ``since`` (oldest first)."""
        if not self._entries or since <= self._entries[0]["index"]:
            return list(self._entries)
        skip = since - self._entries[0]["index"]
        return [self._entries[i] for i in range(skip, len(self._entries))]

    def clear(self) -> None:
        """Forget the entries and counters (indexes keep growing)."""
        self.generation += 1
        self._entries.clear()
        self.counts.clear()
        self.bytes_by_kind.clear()
        self.statuses.clear()

    def stats(self) -> dict[str, Any]:
        return {
            "requests": sum(self.counts.values()),
            "by_kind": dict(self.counts),
            "bytes_sent": sum(self.bytes_by_kind.values()),
            "bytes_by_kind": dict(self.bytes_by_kind),
            "by_status": dict(self.statuses),
        }


class RequestLogMiddleware:
    """ASGI middleware recording every HTTP request into a :class:`RequestLog`."""

    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        if method == "GET" and path.rstrip("/") == "/_emulator/requests":
            await self.app(scope, receive, send)
            return
        generation = self.log.generation
        started = time.time()
        clock = time.perf_counter()
        status: int | None = None
        sent = 0
        recorded = False

        def record() -> None:
            nonlocal recorded
            recorded = True
            if generation != self.log.generation:
                return
            self.log.add(
                {
                    "method": method,
                    "path": path,
                    "query": redact_query(scope.get("query_string", b"").decode("latin-1")),
                    "status": status if status is not None else 0,
                    "bytes_sent": sent,
                    "range": _range_header(scope),
                    "fault": list(scope.get(FAULT_SCOPE_KEY) or ()) or None,
                    "kind": route_kind(path),
                    "duration_ms": round((time.perf_counter() - clock) * 1000, 3),
                    "time": started,
                }
            )

        async def logging_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
                if not message.get("more_body", False) and not recorded:
                    # Recorded before the last bytes leave, so a client that has its whole
                    # response always finds it in the log.
                    record()
            await send(message)

        try:
            await self.app(scope, receive, logging_send)
        except BaseException:
            if status is None:
                status = 500
            raise
        finally:
            if not recorded:
                record()


def _range_header(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"range":
            return str(value.decode("latin-1"))
    return None
