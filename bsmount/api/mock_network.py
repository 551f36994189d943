"""An in-memory network for the blob pool: connections whose socket hands each request to an httpx
transport (tests' ``httpx.MockTransport``) and serves its answer as HTTP/1.1 bytes.

With it a test's fake blob store drives the production path of a blob read end to end: the pool
of :class:`~bsmount.api.threaded.ThreadedTransport` (checkout, keep-alive, slots), ``http.client``
parsing the head, :class:`~bsmount.api.threaded_body.Body` reading the body into the caller's
buffer, and the error mapping. Only the socket is different, and the thread hop (the pool runs
with ``threads=False``: MockTransport handlers read trio's clock, which autojump clocks advance
only when they can see every task blocked, not inside a worker thread).

An answer without ``Content-Length`` is sent with ``Connection: close`` and ended by closing the
connection, as servers do. An exception from the handler or from the answer's body stream is
raised where ``http.client`` reads it (httpx exceptions pass :func:`~bsmount.api.threaded_body.
map_error` unchanged), after the bytes that came before it.
"""

from __future__ import annotations

import http.client
import io
import socket
from collections.abc import Iterator

import httpx

from bsmount.api.threaded import Opener
from bsmount.api.threaded_body import Key

__all__ = ["mock_opener"]


def mock_opener(transport: httpx.BaseTransport) -> Opener:
    """An ``open_connection`` for :class:`~bsmount.api.threaded.ThreadedTransport` whose
    connections are answered by ``transport`` (sync ``handle_request``: MockTransport has one)."""

    def open_connection(key: Key, connect_timeout: float | None) -> http.client.HTTPConnection:
        return _Connection(transport, key)

    return open_connection


class _Connection(http.client.HTTPConnection):
    def __init__(self, transport: httpx.BaseTransport, key: Key) -> None:
        scheme, host, port = key
        super().__init__(host, port)
        self._transport = transport
        self._scheme = scheme

    def connect(self) -> None:
        self.sock = _Socket(self._transport, self._scheme)


class _Socket:
    """What ``http.client`` and the pool use of a socket: ``sendall`` collects a request,
    ``makefile`` answers it. ``fileno`` is a real socket that never turns readable, so the pool's
    check for connections the server closed finds this one open."""

    def __init__(self, transport: httpx.BaseTransport, scheme: str) -> None:
        self._transport = transport
        self._scheme = scheme
        self._sent = bytearray()
        self._pair = socket.socketpair()

    def sendall(self, data: bytes) -> None:
        self._sent += data

    def settimeout(self, timeout: float | None) -> None:
        pass

    def fileno(self) -> int:
        return self._pair[0].fileno()

    def makefile(self, mode: str) -> io.BufferedReader:
        raw, self._sent = bytes(self._sent), bytearray()
        return io.BufferedReader(_Answer(self._answer(raw)))

    def close(self) -> None:
        for end in self._pair:
            end.close()

    def _answer(self, raw: bytes) -> Iterator[bytes]:
        head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, target, _ = head[0].split(" ", 2)
        headers = [tuple(line.split(":", 1)) for line in head[1:]]
        host = next((v.strip() for k, v in headers if k.lower() == "host"), "")
        request = httpx.Request(
            method,
            f"{self._scheme}://{host}{target}",
            headers=[(k.strip(), v.strip()) for k, v in headers],
        )
        response = self._transport.handle_request(request)
        reason = response.reason_phrase or httpx.codes.get_reason_phrase(response.status_code)
        lines = [f"HTTP/1.1 {response.status_code} {reason}"]
        lines += [f"{name}: {value}" for name, value in response.headers.multi_items()]
        if "content-length" not in response.headers:
            lines.append("Connection: close")
        yield ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        stream = response.stream
        assert isinstance(stream, httpx.SyncByteStream), "a sync body stream is needed"
        yield from stream


class _Answer(io.RawIOBase):
    """The bytes of one answer, as the connection's reading end."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
