"""A threaded HTTP/1.1 client for blob reads: ``http.client`` in worker threads, bodies read
straight into the caller's buffer.

Why: on the trio loop, httpx + httpcore + h11 cost ~1.6 CPU-seconds per GiB received (three
copies of every byte in h11's buffers, an event per socket read) and cap one stream near
0.5 GB/s; the same ranged GETs through ``http.client`` in a worker thread, with ``readinto`` into
a preallocated buffer, cost ~0.4 CPU-seconds per GiB, most of it the kernel's copy, which runs
without the GIL and so in parallel with the FUSE loop. httpx's client layer alone costs
~150-250 µs of the trio thread per request, a quarter of a random 4 KiB read (docs/performance.md,
"what limits bsmount").

:class:`ThreadedTransport` is the blob client (:func:`~bsmount.api.http.make_blob_http` makes it):
:meth:`ThreadedTransport.get` (what :class:`~bsmount.api.content.ContentReader` uses) sends the
request, reads the status and headers and, for a 200/206, fills as much of the caller's buffer as
arrives within the progress interval, all in one worker-thread hop; the :class:`Exchange` it
returns has the status, headers, bytes filled and a :class:`Body` for the rest. A GET of at most
256 KiB on a kept-alive plain-HTTP connection makes no thread hop at all: it is sent and read on
the trio thread (:mod:`bsmount.api.threaded_loop`; random reads and small files). It is the only
path blob bytes take, in tests too: a test's ``httpx.MockTransport`` is reached through
:mod:`bsmount.api.mock_network`, whose connections hand each request to it and serve its answer as
HTTP/1.1 bytes that this module parses and reads as it does a server's (``open_connection``; with
``threads=False`` the worker functions run on the trio thread, where MockTransport handlers may
read trio's clock). Why not a library (pycurl, urllib3): docs/design.md, "Blob HTTP".

Connections: a keep-alive pool per (scheme, host, port), at most ``max_connections`` in use,
LIFO reuse, dropped after ``keepalive_expiry`` idle seconds or when the server has closed them
(checked before reuse; a reused connection that fails before any response byte is retried once on
a new one: blob requests are GETs). Timeouts follow httpx's (connect, read, write, pool).
Cancellation never waits for a thread: the thread is abandoned, its socket shut down (which ends
any blocking call at once) and the connection is never reused.

Exceptions map onto httpx's: ``ConnectError``/``ConnectTimeout``, ``ReadError``/``ReadTimeout``,
``WriteError``/``WriteTimeout``, ``RemoteProtocolError``, ``PoolTimeout``, ``UnsupportedProtocol``,
so :func:`bsmount.api.retry.is_retryable` treats them as it treats httpcore's.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import trio

from bsmount.api.threaded_body import Body, Conn, Key, map_error
from bsmount.api.threaded_loop import StaleConnection, eligible, exchange_in_loop, request_bytes

__all__ = ["Body", "Exchange", "Opener", "ThreadedTransport"]

log = logging.getLogger(__name__)

# Error bodies up to this size are read in the request's own hop, keeping the connection.
_SMALL_BODY = 64 * 1024

T = TypeVar("T")
_Timeouts = dict[str, float | None]
#: Makes the (unconnected) ``http.client`` connection for a key, given the connect timeout.
Opener = Callable[[Key, float | None], http.client.HTTPConnection]


@dataclass(slots=True)
class Exchange:
    """A response from :meth:`ThreadedTransport.get`: its head, and the body's first bytes."""

    status: int
    headers: http.client.HTTPMessage  # ``headers.get(name)`` is case-insensitive
    filled: int  # bytes of the body already in the caller's buffer
    body: Body  # the rest; ``await body.aclose()`` when done
    md5: str | None = None  # hex MD5 of the whole buffer, when asked and filled at once


@dataclass(slots=True)
class _Request:
    target: str  # path and query, as sent
    headers: Sequence[tuple[str, str]]
    timeouts: _Timeouts


class ThreadedTransport:
    """HTTP/1.1 GETs over ``http.client`` in worker threads, with a keep-alive pool (module doc).

    ``timeout`` is the default of :meth:`get`; ``headers`` are sent with every request;
    ``open_connection`` replaces the network (tests: :mod:`bsmount.api.mock_network`) and
    ``threads=False`` runs the worker functions on the trio thread instead."""

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = 32,
        keepalive_expiry: float = 30.0,
        timeout: httpx.Timeout | None = None,
        headers: Sequence[tuple[str, str]] = (),
        open_connection: Opener | None = None,
        threads: bool = True,
    ) -> None:
        if max_connections <= 0:
            raise ValueError("max_connections must be positive")
        if isinstance(verify, ssl.SSLContext):
            self._ssl: ssl.SSLContext | None = verify
        elif verify:
            self._ssl = None  # made on first https use (loading the CA bundle costs ~20 ms)
        else:
            raise ValueError("TLS verification cannot be turned off")
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self.timeout = timeout if timeout is not None else httpx.Timeout(30.0)
        self.headers = list(headers)
        self._open = open_connection or self._open_socket
        self._use_threads = threads
        # small GETs on kept-alive plain sockets skip the thread hop (bsmount.api.threaded_loop)
        self._in_loop = threads and open_connection is None
        self._slots = trio.Semaphore(max_connections)
        self._threads = trio.CapacityLimiter(max_connections)
        self._idle: dict[Key, list[Conn]] = {}
        self._closed = False
        self.connections_opened = 0  # counters, for tests and stats
        self.requests = 0
        self.loop_requests = 0  # of which answered on the trio thread

    # -- the direct interface -------------------------------------------------------------------

    async def get(
        self,
        url: str,
        headers: Sequence[tuple[str, str]],
        into: memoryview,
        timeout: httpx.Timeout | None = None,
        *,
        digest: bool = False,
    ) -> Exchange:
        """GET ``url`` (sent as given: a signed URL is never re-encoded) with the pool's headers
        and ``headers`` (Host and ``Accept-Encoding: identity`` are added); a 200/206 body starts
        filling ``into``. ``timeout`` defaults to the pool's.
        With ``digest``, a body that fills ``into`` in that first step is also MD5-hashed by the
        same worker thread (``Exchange.md5``): no second thread hop, no hashing on the loop."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        try:
            port = parts.port
        except ValueError as exc:
            raise httpx.UnsupportedProtocol(f"bad port in the URL: {exc}") from None
        if scheme not in ("http", "https") or not parts.hostname:
            raise httpx.UnsupportedProtocol(f"not an http(s) URL: scheme {scheme!r}")
        key: Key = (scheme, parts.hostname, port or (443 if scheme == "https" else 80))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        timeouts = (timeout or self.timeout).as_dict()
        req = _Request(target, [*self.headers, *headers], timeouts)
        body, filled, md5 = await self._send(key, req, into, digest)
        return Exchange(body.response.status, body.response.msg, filled, body, md5)

    async def aclose(self) -> None:
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.kill()
        self._idle.clear()

    # -- pool -----------------------------------------------------------------------------------

    async def _send(
        self, key: Key, req: _Request, into: memoryview, digest: bool
    ) -> tuple[Body, int, str | None]:
        """Send ``req`` on a pooled connection; the slot is held until the body is closed."""
        if self._closed:
            raise RuntimeError("transport is closed")
        try:
            self._slots.acquire_nowait()
        except trio.WouldBlock:
            pool_timeout = req.timeouts.get("pool")
            deadline = pool_timeout if pool_timeout is not None else float("inf")
            with trio.move_on_after(deadline) as sc:
                await self._slots.acquire()
            if sc.cancelled_caught:
                raise httpx.PoolTimeout("no free connection in the blob pool") from None
        try:
            conn = self._checkout(key, req.timeouts.get("connect"))
            self.requests += 1
            try:
                if self._in_loop and not digest:
                    request = request_bytes(conn.http, req.target, req.headers)
                    if eligible(conn, len(into), request):
                        assert request is not None
                        self.loop_requests += 1
                        body, filled = await exchange_in_loop(
                            self, conn, request, req.timeouts, into
                        )
                        return body, filled, None
                return await self.in_thread(conn, lambda: self._exchange(conn, req, into, digest))
            except StaleConnection:
                # a kept-alive connection the server closed meanwhile: once more, on a new one
                fresh = self._checkout(key, req.timeouts.get("connect"), reuse=False)
                return await self.in_thread(fresh, lambda: self._exchange(fresh, req, into, digest))
        except BaseException:
            self._slots.release()
            raise

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        return self._ssl

    def _checkout(self, key: Key, connect_timeout: float | None, *, reuse: bool = True) -> Conn:
        idle = self._idle.get(key) if reuse else None
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if now - conn.idle_since <= self.keepalive_expiry and not conn.stale():
                conn.reused = True
                return conn
            conn.kill()
        self.connections_opened += 1
        return Conn(key, self._open(key, connect_timeout))

    def _open_socket(self, key: Key, connect_timeout: float | None) -> http.client.HTTPConnection:
        scheme, host, port = key
        if scheme == "https":
            return http.client.HTTPSConnection(
                host, port, timeout=connect_timeout, context=self._ssl_context()
            )
        return http.client.HTTPConnection(host, port, timeout=connect_timeout)

    def checkin(self, conn: Conn, *, reusable: bool) -> None:
        """A response is done with its connection (trio thread)."""
        try:
            if reusable and not conn.dead and not self._closed and conn.http.sock is not None:
                conn.idle_since = time.monotonic()
                self._idle.setdefault(conn.key, []).append(conn)
            else:
                conn.kill()
        finally:
            self._slots.release()

    async def in_thread(self, conn: Conn, fn: Callable[[], T]) -> T:
        """Run ``fn`` for ``conn`` in a worker thread (on the trio thread without ``threads``); on
        any failure or cancellation (the thread is then abandoned) kill ``conn``."""
        try:
            if not self._use_threads:
                return conn.run(fn)
            return await trio.to_thread.run_sync(
                conn.run, fn, abandon_on_cancel=True, limiter=self._threads
            )
        except BaseException:
            conn.kill()
            raise

    def _exchange(
        self, conn: Conn, req: _Request, into: memoryview, digest: bool
    ) -> tuple[Body, int, str | None]:
        """Worker thread: send the request, read the head, and start on the body: a 200/206
        fills ``into``; a small error body is read whole, so the connection stays usable."""
        hc = conn.http
        phase = "connect"
        try:
            if hc.sock is None:
                hc.connect()
            phase = "write"
            sock: Any = hc.sock
            sock.settimeout(req.timeouts.get("write"))
            hc.putrequest("GET", req.target)
            for name, value in req.headers:
                hc.putheader(name, value)
            hc.endheaders()
            phase = "read"
            sock.settimeout(req.timeouts.get("read"))
            resp = hc.getresponse()
        except Exception as exc:
            if conn.reused and phase != "connect" and isinstance(exc, ConnectionError):
                raise StaleConnection() from exc
            raise map_error(exc, phase) from exc
        body = Body(self, conn, resp)
        filled = 0
        md5 = None
        if resp.status in (200, 206):
            filled = body.fill(into)
            if digest and filled == len(into):
                md5 = hashlib.md5(into).hexdigest()  # releases the GIL
        elif resp.length is not None and resp.length <= _SMALL_BODY:
            try:
                resp.read()
            except Exception as exc:
                raise map_error(exc, "read") from exc
        return body, filled, md5
