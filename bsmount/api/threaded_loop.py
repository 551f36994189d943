"""Small GETs on kept-alive connections, answered on the trio thread (no worker-thread hop).

Part of :class:`~bsmount.api.threaded.ThreadedTransport`. A worker-thread hop costs two thread
wake-ups per request (trio → worker, worker → trio through trio's wake-up socket) on top of the
two the server exchange needs; on a VM a wake-up of an idle vCPU is tens of µs, and the hop
was about half of a random 4 KiB read's 0.8 ms (docs/performance.md). For a GET whose body is
at most :data:`LOOP_MAX` bytes, on a connection the pool already holds open (HTTP or HTTPS: the
TLS handshake of a new connection is made in a worker thread, as its connect is),
:func:`exchange_in_loop` sends the request with non-blocking socket calls (OpenSSL encrypts and
decrypts TLS records, as in the worker thread), reads and parses the head itself (a few µs;
``http.client``'s ``email``-based header parser takes ~60 µs) and reads the body straight into
the caller's buffer, waiting with ``trio.lowlevel.wait_readable``; copying at most 256 KiB holds
the GIL for a few µs.

The answer is the same :class:`~bsmount.api.threaded_body.Body` as the threaded path's, built on
an ``http.client.HTTPResponse`` whose head this module has parsed: when the whole body is already
in the buffer it is closed and the connection goes back to the pool; anything else (a chunked or
unsized body, a body longer than the buffer, one cut short) is read or reported by the threaded
:class:`Body` as usual, from the bytes already received on. Errors map as the threaded path's do;
a kept-alive connection that fails before any response byte raises :class:`StaleConnection`
(the pool retries once on a new connection, as it does for the threaded path).
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
from collections.abc import Sequence
from typing import Any

import httpx
import trio

from bsmount.api.threaded_body import Body, Conn, Pool, map_error

__all__ = ["LOOP_MAX", "StaleConnection", "eligible", "exchange_in_loop"]

#: Bodies up to this size are read on the trio thread (random reads' 64-128 KiB blocks, whole
#: small files); larger ones (read-ahead parts of 8 MiB) keep the worker thread, where the
#: kernel's copy runs without the GIL.
LOOP_MAX = 256 * 1024
_HEAD_MAX = 64 * 1024  # a head longer than this is refused (http.client allows about as much)
_SMALL_BODY = 64 * 1024  # error bodies up to this are read whole, keeping the connection
_SCRATCH = 16 * 1024


class StaleConnection(Exception):
    """A reused keep-alive connection failed before any response byte (the server closed it)."""


def eligible(conn: Conn, size: int, request: bytes | None) -> bool:
    """Whether a GET filling ``size`` bytes may run on the trio thread on ``conn``."""
    return request is not None and size <= LOOP_MAX and conn.reused and conn.http.sock is not None


def request_bytes(
    hc: http.client.HTTPConnection, target: str, headers: Sequence[tuple[str, str]]
) -> bytes | None:
    """The request as ``http.client`` would send it (Host, ``Accept-Encoding: identity``, then
    ``headers``), or None when anything needs its validation (non-ASCII, CR/LF): the threaded
    path then sends it and raises what ``http.client`` raises."""
    host = hc.host
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if hc.port != hc.default_port:
        host = f"{host}:{hc.port}"
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}", "Accept-Encoding: identity"]
    lines += [f"{name}: {value}" for name, value in headers]
    text = "\r\n".join(lines)
    if "\n" in target or any("\n" in n or "\r" in n or "\n" in v or "\r" in v for n, v in headers):
        return None
    if not text.isascii() or " " in target:
        return None
    return (text + "\r\n\r\n").encode("ascii")


async def exchange_in_loop(
    pool: Pool,
    conn: Conn,
    request: bytes,
    timeouts: dict[str, float | None],
    into: memoryview,
) -> tuple[Body, int]:
    """Send ``request`` on ``conn`` and start on the answer, on the trio thread (module doc):
    the :class:`Body` and the bytes of it already in ``into``. Kills ``conn`` on any failure
    or cancellation."""
    sock: socket.socket = conn.http.sock  # type: ignore[assignment]
    read_timeout = timeouts.get("read")
    try:
        sock.setblocking(False)
        await _send_all(sock, request, timeouts.get("write"))
        head, leftover = await _read_head(sock, read_timeout)
        resp = _response(head)
        filled = 0
        if not resp.chunked and resp.length is not None:
            if resp.status in (200, 206):  # the buffer takes what it can now
                want = min(resp.length, len(into))
                taken = min(len(leftover), want)
                into[:taken] = leftover[:taken]
                leftover = leftover[taken:]
                filled = await _recv_into(sock, into, taken, want, read_timeout)
                resp.length -= filled
            elif resp.length <= _SMALL_BODY:  # a small error body is read whole, and dropped
                rest = memoryview(bytearray(resp.length))
                taken = min(len(leftover), resp.length)
                rest[:taken] = leftover[:taken]
                leftover = leftover[taken:]
                resp.length -= await _recv_into(sock, rest, taken, len(rest), read_timeout)
        if resp.length == 0 and not resp.chunked:
            if leftover:
                raise httpx.RemoteProtocolError("the server sent more than the body it announced")
            if resp.will_close:
                conn.http.close()
            return Body(pool, conn, resp), filled  # fp None: the body is complete
        # the rest (from the bytes already received on) is read by worker threads
        sock.settimeout(read_timeout)
        resp.fp = io.BufferedReader(_Prefixed(bytes(leftover), sock))  # type: ignore[assignment]
        if resp.will_close:
            conn.http.close()  # the response's reader keeps the socket open until it is done
        return Body(pool, conn, resp), filled
    except BaseException:
        conn.kill()
        raise


class _Prefixed(io.RawIOBase):
    """The bytes already received after the head, then the socket (a counted reference to it,
    as ``socket.makefile`` takes: closing the connection leaves it open until this closes)."""

    def __init__(self, prefix: bytes, sock: socket.socket) -> None:
        super().__init__()
        self._prefix = prefix
        self._raw = sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        return self._raw.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _NoSocket:
    """What ``HTTPResponse.__init__`` is given: the head is parsed here, the body reader is
    made only when the body is not complete."""

    def makefile(self, mode: str) -> None:
        return None


async def _wait(sock: socket.socket, readable: bool, timeout: float | None) -> None:
    wait = trio.lowlevel.wait_readable if readable else trio.lowlevel.wait_writable
    if timeout is None:
        await wait(sock)
        return
    with trio.CancelScope(deadline=trio.current_time() + timeout) as scope:
        await wait(sock)
    if scope.cancelled_caught:
        kind = httpx.ReadTimeout if readable else httpx.WriteTimeout
        raise kind(f"no answer within {timeout:g} s")


async def _send_all(sock: socket.socket, data: bytes, timeout: float | None) -> None:
    view = memoryview(data)
    while view:
        try:
            sent = sock.send(view)
        except (BlockingIOError, ssl.SSLWantWriteError):
            await _wait(sock, False, timeout)
            continue
        except ssl.SSLWantReadError:  # TLS may need to read first (a key update)
            await _wait(sock, True, timeout)
            continue
        except ConnectionError as exc:  # the server closed the kept-alive connection
            raise StaleConnection() from exc
        except OSError as exc:
            raise map_error(exc, "write") from exc
        view = view[sent:]


async def _read_head(sock: socket.socket, timeout: float | None) -> tuple[bytes, memoryview]:
    """The head (status line and headers, without the blank line) and the bytes after it."""
    buf = bytearray(_SCRATCH)
    got = 0
    while True:
        if got == len(buf):
            if got >= _HEAD_MAX:
                raise httpx.RemoteProtocolError(f"response head longer than {_HEAD_MAX} bytes")
            buf.extend(bytes(len(buf)))
        try:
            n = sock.recv_into(memoryview(buf)[got:])
        except (BlockingIOError, ssl.SSLWantReadError):
            await _wait(sock, True, timeout)
            continue
        except ssl.SSLWantWriteError:
            await _wait(sock, False, timeout)
            continue
        except ConnectionError as exc:
            if got == 0:
                raise StaleConnection() from exc
            raise map_error(exc, "read") from exc
        except OSError as exc:
            raise map_error(exc, "read") from exc
        if n == 0:
            if got == 0:
                raise StaleConnection()
            raise httpx.RemoteProtocolError("the server closed the connection in the head")
        end = buf.find(b"\r\n\r\n", max(0, got - 3), got + n)
        got += n
        if end >= 0:
            return bytes(buf[:end]), memoryview(buf)[end + 4 : got]


async def _recv_into(
    sock: socket.socket, into: memoryview, filled: int, want: int, timeout: float | None
) -> int:
    """Fill ``into[filled:want]``; returns how far it got (short only if the server closed)."""
    while filled < want:
        try:
            n = sock.recv_into(into[filled:want])
        except (BlockingIOError, ssl.SSLWantReadError):
            await _wait(sock, True, timeout)
            continue
        except ssl.SSLWantWriteError:
            await _wait(sock, False, timeout)
            continue
        except OSError as exc:
            if filled:
                return filled  # what came is kept; the threaded Body reports the cut
            raise map_error(exc, "read") from exc
        if n == 0:
            return filled
        filled += n
    return filled


def _response(head: bytes) -> http.client.HTTPResponse:
    """An ``HTTPResponse`` in the state its ``begin()`` leaves, from a head parsed here."""
    lines = head.decode("iso-8859-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise httpx.RemoteProtocolError(f"bad status line {lines[0][:100]!r}")
    msg = http.client.HTTPMessage()
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise httpx.RemoteProtocolError(f"bad header line {line[:100]!r}")
        msg[name] = value.strip()
    resp = http.client.HTTPResponse(_NoSocket(), method="GET")  # type: ignore[arg-type]
    resp.version = 11 if version == "HTTP/1.1" else 10
    resp.status = int(code)
    resp.reason = reason
    resp.headers = resp.msg = msg
    encoding = (msg.get("transfer-encoding") or "").lower()
    resp.chunked = encoding == "chunked"
    resp.chunk_left = None
    resp.will_close = resp._check_close()  # type: ignore[attr-defined]
    resp.length = None
    length = msg.get("content-length")
    if length is not None and not resp.chunked:
        try:
            resp.length = int(length)
        except ValueError:
            raise httpx.RemoteProtocolError(f"bad Content-Length {length!r}") from None
        if resp.length < 0:
            raise httpx.RemoteProtocolError(f"bad Content-Length {length!r}")
    if resp.status in (204, 304) or 100 <= resp.status < 200:
        resp.length = 0
    if not resp.will_close and not resp.chunked and resp.length is None:
        resp.will_close = True
    return resp
