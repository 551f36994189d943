"""ThreadedTransport against a scripted loopback HTTP server: bodies, keep-alive, faults, limits."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import trio
import trustme

from bsmount.api.http import make_blob_http
from bsmount.api.threaded import ThreadedTransport

BODY = bytes(range(256)) * 4096  # 1 MiB
TIMEOUT = httpx.Timeout(5.0)

Handler = Callable[[socket.socket, str, dict[str, str]], bool]  # returns keep-alive


class Server:
    """A loopback HTTP/1.1 server whose answer per path is a handler; counts connections."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.handlers: dict[str, Handler] = {}
        self.connections = 0
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._stop = False
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._stop = True
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._conn, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _conn(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while True:
                line = reader.readline()
                if not line:
                    return
                path = line.split()[1].decode()
                headers: dict[str, str] = {}
                while True:
                    hline = reader.readline().decode().strip()
                    if not hline:
                        break
                    name, _, value = hline.partition(":")
                    headers[name.strip().lower()] = value.strip()
                self.requests.append((path, headers))
                handler = self.handlers.get(path.split("?")[0], ranged)
                if not handler(conn, path, headers):
                    return
        except OSError:
            return
        finally:
            reader.close()
            conn.close()


def ranged(conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
    """206 for ``Range: bytes=a-b`` of BODY (200 with all of it without a Range)."""
    rng = headers.get("range")
    if rng:
        a, b = (int(x) for x in rng.split("=")[1].split("-"))
        part = BODY[a : b + 1]
        head = (
            f"HTTP/1.1 206 Partial Content\r\nContent-Length: {len(part)}\r\n"
            f'Content-Range: bytes {a}-{b}/{len(BODY)}\r\nETag: "e1"\r\n\r\n'
        )
    else:
        part = BODY
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(part)}\r\n\r\n"
    conn.sendall(head.encode() + part)
    return True


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.close()


async def get(
    transport: ThreadedTransport, url: str, start: int, end: int
) -> tuple[int, bytearray, int]:
    """A ranged GET through ``get``: (status, buffer, bytes) after reading the body to its end."""
    buf = bytearray(end - start)
    view = memoryview(buf)
    ex = await transport.get(url, [("Range", f"bytes={start}-{end - 1}")], view, TIMEOUT)
    try:
        got = ex.filled
        while got < len(buf):
            n = await ex.body.readinto(view[got:])
            if not n:
                break
            got += n
        assert await ex.body.at_eof()
        return ex.status, buf, got
    finally:
        await ex.body.aclose()


async def test_get_fills_the_buffer_and_reuses_the_connection(server: Server) -> None:
    transport = ThreadedTransport()
    try:
        for start, end in [(0, 4096), (1000, 700_000), (5, 6), (0, len(BODY))]:
            status, buf, got = await get(transport, server.url("/f?sig=a%2Fb"), start, end)
            assert status == 206 and got == end - start and buf == BODY[start:end]
        assert server.connections == 1 and transport.connections_opened == 1
        path, headers = server.requests[0]
        assert path == "/f?sig=a%2Fb"  # sent exactly as given
        assert headers["host"] == f"127.0.0.1:{server.port}"
        assert headers["accept-encoding"] == "identity"
    finally:
        await transport.aclose()


async def test_headers_are_case_insensitive(server: Server) -> None:
    transport = ThreadedTransport()
    try:
        buf = memoryview(bytearray(10))
        ex = await transport.get(server.url("/f"), [("Range", "bytes=0-9")], buf, TIMEOUT)
        await ex.body.aclose()
        assert ex.headers.get("content-range") == f"bytes 0-9/{len(BODY)}"
        assert ex.headers.get("ETAG") == '"e1"'
    finally:
        await transport.aclose()


async def test_blob_client_is_the_pool_with_or_without_a_mock_transport(server: Server) -> None:
    """A mocked blob store is answered through the same pool, http.client parsing and readinto."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        a, b = (int(x) for x in request.headers["range"].split("=")[1].split("-"))
        return httpx.Response(206, content=BODY[a : b + 1], headers={"ETag": '"m"'})

    plain = make_blob_http(timeout=5.0, max_connections=4)
    mocked = make_blob_http(timeout=5.0, max_connections=4, transport=httpx.MockTransport(handler))
    try:
        assert isinstance(plain, ThreadedTransport) and isinstance(mocked, ThreadedTransport)
        for transport in (plain, mocked):
            for start, end in [(0, 4096), (1000, 700_000)]:
                status, buf, got = await get(transport, server.url("/f?sig=a%2Fb"), start, end)
                assert status == 206 and got == end - start and buf == BODY[start:end]
            assert transport.connections_opened == 1
        assert [r.url.raw_path for r in seen] == [b"/f?sig=a%2Fb"] * 2
        assert seen[0].headers["user-agent"].startswith("bsmount/")
        assert seen[0].headers["accept-encoding"] == "identity"
        assert server.requests[0][1]["user-agent"].startswith("bsmount/")
    finally:
        await plain.aclose()
        await mocked.aclose()


async def test_server_closing_an_idle_connection_is_survived(server: Server) -> None:
    closing: list[bool] = [True]

    def once_then_close(conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        ranged(conn, path, headers)
        if closing[0]:
            time.sleep(0.05)
            conn.shutdown(socket.SHUT_RDWR)  # the server drops the kept-alive connection
            return False
        return True

    server.handlers["/f"] = once_then_close
    transport = ThreadedTransport()
    try:
        assert (await get(transport, server.url("/f"), 0, 100))[2] == 100
        await trio.sleep(0.2)
        closing[0] = False
        assert (await get(transport, server.url("/f"), 100, 200))[1] == BODY[100:200]
        assert transport.connections_opened == 2
    finally:
        await transport.aclose()


async def test_reused_connection_reset_before_the_answer_is_retried_once(server: Server) -> None:
    calls: list[int] = []

    def reset_second(conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        calls.append(1)
        if len(calls) == 2:  # read the request, then drop the connection without answering
            conn.close()
            return False
        return ranged(conn, path, headers)

    server.handlers["/f"] = reset_second
    transport = ThreadedTransport()
    try:
        await get(transport, server.url("/f"), 0, 10)
        transport._idle[("http", "127.0.0.1", server.port)][0].stale = lambda: False  # type: ignore[method-assign]
        assert (await get(transport, server.url("/f"), 10, 20))[1] == BODY[10:20]
        assert len(calls) == 3 and transport.connections_opened == 2
    finally:
        await transport.aclose()


async def test_truncated_body_gives_the_bytes_then_an_error(server: Server) -> None:
    def truncate(conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        conn.sendall(
            f"HTTP/1.1 206 Partial Content\r\nContent-Length: 1000\r\n"
            f"Content-Range: bytes 0-999/{len(BODY)}\r\n\r\n".encode()
            + BODY[:300]
        )
        return False

    server.handlers["/t"] = truncate
    transport = ThreadedTransport()
    try:
        buf = bytearray(1000)
        view = memoryview(buf)
        ex = await transport.get(server.url("/t"), [("Range", "bytes=0-999")], view, TIMEOUT)
        try:
            assert ex.filled == 300 and buf[:300] == BODY[:300]
            with pytest.raises(httpx.RemoteProtocolError):
                await ex.body.readinto(view[300:])
        finally:
            await ex.body.aclose()
        assert not transport._idle.get(("http", "127.0.0.1", server.port))
    finally:
        await transport.aclose()


async def test_stalled_body_times_out(server: Server) -> None:
    def stall(conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        conn.sendall(b"HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\n\r\n12345")
        time.sleep(2.0)
        return False

    server.handlers["/s"] = stall
    transport = ThreadedTransport()
    try:
        buf = memoryview(bytearray(10))
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            ex = await transport.get(server.url("/s"), [], buf, httpx.Timeout(0.3))
            try:
                await ex.body.readinto(buf[ex.filled :])
            finally:
                await ex.body.aclose()
        assert time.monotonic() - started < 1.5
    finally:
        await transport.aclose()


async def test_cancellation_does_not_wait_for_the_thread(server: Server) -> None:
    def stall(conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        time.sleep(3.0)
        return False

    server.handlers["/s"] = stall
    transport = ThreadedTransport(max_connections=1)
    try:
        buf = memoryview(bytearray(10))
        started = time.monotonic()
        with trio.move_on_after(0.2):
            await transport.get(server.url("/s"), [], buf, TIMEOUT)
        assert time.monotonic() - started < 1.0
        # the slot came back and the killed connection is not reused
        assert (await get(transport, server.url("/f"), 0, 10))[1] == BODY[:10]
        assert transport.connections_opened == 2
    finally:
        await transport.aclose()


async def test_connection_refused_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = ThreadedTransport()
    try:
        with pytest.raises(httpx.ConnectError):
            await transport.get(f"http://127.0.0.1:{port}/x", [], memoryview(bytearray(1)), TIMEOUT)
    finally:
        await transport.aclose()


async def test_pool_limit_and_pool_timeout(server: Server) -> None:
    transport = ThreadedTransport(max_connections=1)
    try:
        buf = memoryview(bytearray(10))
        held = await transport.get(server.url("/f"), [("Range", "bytes=0-9")], buf, TIMEOUT)
        with pytest.raises(httpx.PoolTimeout):
            await transport.get(server.url("/f"), [], buf, httpx.Timeout(5.0, pool=0.1))
        await held.body.aclose()
        assert (await get(transport, server.url("/f"), 0, 10))[2] == 10
    finally:
        await transport.aclose()


async def test_small_error_body_keeps_the_connection(server: Server) -> None:
    def forbidden(conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        body = b"<Error>AccessDenied</Error>"
        head = f"HTTP/1.1 403 Forbidden\r\nContent-Length: {len(body)}\r\n\r\n"
        conn.sendall(head.encode() + body)
        return True

    server.handlers["/x"] = forbidden
    transport = ThreadedTransport()
    try:
        buf = memoryview(bytearray(10))
        ex = await transport.get(server.url("/x"), [], buf, TIMEOUT)
        assert ex.status == 403 and ex.filled == 0
        await ex.body.aclose()
        assert (await get(transport, server.url("/f"), 0, 10))[2] == 10
        assert transport.connections_opened == 1
    finally:
        await transport.aclose()


async def test_chunked_body_and_a_body_longer_than_the_buffer(server: Server) -> None:
    def chunked(conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        return True

    server.handlers["/c"] = chunked
    transport = ThreadedTransport()
    try:
        buf = bytearray(11)
        ex = await transport.get(server.url("/c"), [], memoryview(buf), TIMEOUT)
        got = ex.filled
        while got < 11:
            got += await ex.body.readinto(memoryview(buf)[got:])
        assert bytes(buf) == b"hello world" and await ex.body.at_eof()
        await ex.body.aclose()
        small = bytearray(5)
        ex = await transport.get(server.url("/c"), [], memoryview(small), TIMEOUT)
        got = ex.filled  # (a reused connection's answer is parsed on the trio thread: 0 here)
        while got < 5:
            got += await ex.body.readinto(memoryview(small)[got:])
        assert bytes(small) == b"hello" and not await ex.body.at_eof()  # more bytes than asked
        await ex.body.aclose()
    finally:
        await transport.aclose()


async def test_unsupported_scheme() -> None:
    transport = ThreadedTransport()
    with pytest.raises(httpx.UnsupportedProtocol):
        await transport.get("ftp://host/x", [], memoryview(bytearray(1)), TIMEOUT)
    with pytest.raises(ValueError):
        ThreadedTransport(verify=False)


async def test_kept_alive_small_gets_run_on_the_trio_thread(server: Server) -> None:
    """On a reused connection a small GET skips the worker thread (threaded_loop) and keeps
    every behaviour of the threaded path: bytes, reuse, short and long bodies, error bodies,
    ``Connection: close``, a stalled answer, cancellation."""

    def long_body(conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        conn.sendall(b"HTTP/1.1 206 Partial Content\r\nContent-Length: 20\r\n\r\n" + BODY[:20])
        return True

    def truncate(conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        conn.sendall(b"HTTP/1.1 206 Partial Content\r\nContent-Length: 1000\r\n\r\n" + BODY[:300])
        return False

    def forbidden(conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbidden")
        return True

    def closing(conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        conn.sendall(
            b"HTTP/1.1 206 Partial Content\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
        )
        return False

    def stall(conn: socket.socket, path: str, headers: dict[str, str]) -> bool:
        conn.sendall(b"HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\n\r\n12345")
        time.sleep(1.5)
        return False

    server.handlers.update(
        {"/long": long_body, "/t": truncate, "/x": forbidden, "/close": closing, "/s": stall}
    )
    transport = ThreadedTransport()
    key = ("http", "127.0.0.1", server.port)
    try:
        assert (await get(transport, server.url("/f"), 0, 100))[1] == BODY[:100]  # new: thread
        assert transport.loop_requests == 0
        status, buf, got = await get(transport, server.url("/f"), 1000, 70_000)
        assert (status, bytes(buf), got) == (206, BODY[1000:70_000], 69_000)
        assert transport.loop_requests == 1 and server.connections == 1

        small = bytearray(10)  # a body longer than asked: detected, the connection dropped
        ex = await transport.get(server.url("/long"), [], memoryview(small), TIMEOUT)
        assert ex.filled == 10 and bytes(small) == BODY[:10] and not await ex.body.at_eof()
        await ex.body.aclose()
        assert not transport._idle.get(key) and transport.loop_requests == 2

        await get(transport, server.url("/f"), 0, 10)  # a new connection (thread), then reused
        buf = bytearray(1000)
        ex = await transport.get(server.url("/t"), [], memoryview(buf), TIMEOUT)
        try:  # cut short: the bytes, then the error
            assert ex.filled == 300 and buf[:300] == BODY[:300]
            with pytest.raises(httpx.RemoteProtocolError):
                await ex.body.readinto(memoryview(buf)[300:])
        finally:
            await ex.body.aclose()
        assert transport.loop_requests == 3

        await get(transport, server.url("/f"), 0, 10)
        ex = await transport.get(server.url("/x"), [], memoryview(bytearray(10)), TIMEOUT)
        assert ex.status == 403 and ex.filled == 0 and await ex.body.at_eof()
        await ex.body.aclose()
        assert len(transport._idle[key]) == 1  # the error body was read: kept alive
        ex = await transport.get(server.url("/close"), [], memoryview(small), TIMEOUT)
        assert ex.filled == 3 and bytes(small[:3]) == b"abc"
        await ex.body.aclose()
        assert not transport._idle.get(key)  # Connection: close is honoured

        await get(transport, server.url("/f"), 0, 10)
        opened = transport.connections_opened
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            ex = await transport.get(server.url("/s"), [], memoryview(small), httpx.Timeout(0.3))
            try:
                await ex.body.readinto(memoryview(small)[ex.filled :])
            finally:
                await ex.body.aclose()
        assert time.monotonic() - started < 1.2

        await get(transport, server.url("/f"), 0, 10)
        with trio.move_on_after(0.2):  # cancelled while waiting on the trio thread
            await transport.get(server.url("/s"), [], memoryview(small), TIMEOUT)
        assert (await get(transport, server.url("/f"), 0, 10))[1] == BODY[:10]
        assert transport.connections_opened == opened + 2  # neither was reused
    finally:
        await transport.aclose()


async def test_kept_alive_small_gets_over_tls_run_on_the_trio_thread() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)

    class TlsServer(Server):
        def _conn(self, conn: socket.socket) -> None:
            try:
                tls = server_context.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):
                conn.close()
                return
            super()._conn(tls)

    server = TlsServer()
    transport = ThreadedTransport(verify=client_context)
    try:
        url = f"https://127.0.0.1:{server.port}/f"
        assert (await get(transport, url, 0, 100))[1] == BODY[:100]  # new: handshake in a thread
        for start in (5000, 300_000, 7):  # then on the trio thread, on the same connection
            status, buf, got = await get(transport, url, start, start + 65_536)
            assert (status, bytes(buf), got) == (206, BODY[start : start + 65_536], 65_536)
        assert transport.loop_requests == 3 and server.connections == 1
    finally:
        await transport.aclose()
        server.close()
