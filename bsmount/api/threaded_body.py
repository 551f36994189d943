"""One pooled ``http.client`` connection and the body of its current response, read in worker
threads (the parts of :mod:`bsmount.api.threaded` that run per connection).

:class:`Conn` wraps an ``http.client.HTTPConnection`` used by one worker thread at a time and can
be killed from any thread (its socket is shut down, which ends a blocking read at once).
:class:`Body` reads a response body into a caller's buffer (``readinto``), each read in a worker
thread through the owning pool, and gives the connection back on ``aclose`` (kept alive only when
the body was read to its end without error).
:func:`map_error` turns ``http.client``/socket errors into the httpx exceptions httpcore raises.
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

import httpx

__all__ = ["Body", "Conn", "Key", "Pool", "map_error"]

# A worker thread returns to the trio loop at least this often while filling a buffer, so the
# caller can count progress (stall deadlines) on slow links.
PROGRESS_INTERVAL = 0.5
# Bytes per blocking read inside one fill (the progress check runs between them).
READ_SLICE = 1 << 20

T = TypeVar("T")
Key = tuple[str, str, int]  # scheme, host, port


class Pool(Protocol):
    """What a :class:`Body` needs from the transport that owns its connection."""

    async def in_thread(self, conn: Conn, fn: Callable[[], T]) -> T: ...

    def checkin(self, conn: Conn, *, reusable: bool) -> None: ...


class Conn:
    """One pooled ``http.client`` connection; used by one worker thread at a time."""

    def __init__(self, key: Key, hc: http.client.HTTPConnection) -> None:
        self.key = key
        self.http = hc
        self.reused = False
        self.idle_since = 0.0
        self._lock = threading.Lock()
        self._busy = False
        self._dead = False

    def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in the calling (worker) thread; closes the connection if it was killed."""
        with self._lock:
            if self._dead:
                raise httpx.ReadError("connection closed")
            self._busy = True
        try:
            return fn()
        finally:
            with self._lock:
                self._busy = False
                dead = self._dead
            if dead:
                self.http.close()

    def kill(self) -> None:
        """Never reuse; end any blocking call now (from any thread) and close the socket."""
        with self._lock:
            self._dead = True
            busy = self._busy
        sock = self.http.sock
        if busy and sock is not None:
            try:  # the plain-socket method: SSLSocket.shutdown would race the reading thread
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass
        elif not busy:
            self.http.close()

    @property
    def dead(self) -> bool:
        return self._dead

    def stale(self) -> bool:
        """An idle connection the server has closed (readable means EOF or junk)."""
        sock = self.http.sock
        if sock is None:
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)


class Body:
    """The body of one response; reads run in worker threads. Close it (``aclose``) always."""

    def __init__(self, transport: Pool, conn: Conn, resp: http.client.HTTPResponse) -> None:
        self._transport = transport
        self._conn = conn
        self._resp = resp
        self.response = resp  # status, headers (read-only use)
        self._closed = False
        self._failed = False
        self._error: Exception | None = None  # raised by the next read (bytes came before it)

    async def readinto(self, buffer: memoryview) -> int:
        """Fill ``buffer`` (writable) from the body; returns the bytes written, 0 at the end.

        Returns early (with what it has) every ~0.5 s, so callers can record progress. An error
        after some bytes were read returns those bytes; the next call raises it."""
        self._check()
        if len(buffer) == 0 or self._resp.isclosed():
            return 0
        n = await self._run(lambda: self.fill(buffer))
        if n == 0:
            self._check()
        return n

    async def at_eof(self) -> bool:
        """Whether the body is complete (reads one byte to find out when the length is unknown;
        a byte found means the body is longer than the caller expected)."""
        self._check()
        if self._resp.isclosed():
            return True
        return await self.readinto(memoryview(bytearray(1))) == 0

    async def aclose(self) -> None:
        """Give the connection back (kept alive if the body was read to its end)."""
        if self._closed:
            return
        self._closed = True
        reusable = self._resp.isclosed() and not self._failed
        self._transport.checkin(self._conn, reusable=reusable)

    # -- worker-thread side ---------------------------------------------------------------------

    def fill(self, buffer: memoryview) -> int:
        """Worker thread: read until ``buffer`` is full, the body ends, or the progress interval
        has passed."""
        resp = self._resp
        started = time.monotonic()
        total, size = 0, len(buffer)
        try:
            while total < size:
                n = resp.readinto(buffer[total : min(size, total + READ_SLICE)])
                if not n:
                    self._eof()
                    break
                total += n
                if time.monotonic() - started >= PROGRESS_INTERVAL:
                    break
        except Exception as exc:
            self._failed = True
            error = map_error(exc, "read")
            if total == 0:
                raise error from exc
            self._error = error
        return total

    def _eof(self) -> None:
        """The body ended (http.client saw EOF); short of its Content-Length is an error."""
        remaining = self._resp.length
        if remaining:
            self._failed = True
            self._error = httpx.RemoteProtocolError(
                f"peer closed the connection {remaining} bytes before the end of the body"
            )

    # -- trio side ------------------------------------------------------------------------------

    def _check(self) -> None:
        if self._closed:
            raise httpx.StreamClosed()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    async def _run(self, fn: Callable[[], T]) -> T:
        try:
            return await self._transport.in_thread(self._conn, fn)
        except BaseException:
            self._failed = True
            raise


def map_error(exc: BaseException, phase: str) -> Exception:
    """An http.client / socket error as the httpx exception a httpcore transport would raise."""
    if isinstance(exc, httpx.HTTPError):
        return exc
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, TimeoutError | socket.timeout):
        timeouts: dict[str, type[httpx.TransportError]] = {
            "connect": httpx.ConnectTimeout,
            "write": httpx.WriteTimeout,
        }
        return timeouts.get(phase, httpx.ReadTimeout)(text)
    if isinstance(exc, http.client.HTTPException):  # RemoteDisconnected, BadStatusLine...
        return httpx.RemoteProtocolError(text)
    if isinstance(exc, OSError | ValueError):
        errors: dict[str, type[httpx.TransportError]] = {
            "connect": httpx.ConnectError,
            "write": httpx.WriteError,
        }
        return errors.get(phase, httpx.ReadError)(text)
    return httpx.RemoteProtocolError(text)
