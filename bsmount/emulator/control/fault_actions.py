"""How fault actions act on a response: the ASGI ``send`` wrappers and the helpers behind them.

Used by :mod:`bsmount.emulator.control.faults` (rules and middleware): immediate answers of
``status`` and ``expire`` rules in the style of the route hit (S3 XML for blobs, a BaseSpace-like
JSON body for the API), the ``corrupt``, ``etag_change`` and cutting (``reset``/``truncate``)
wrappers of the response, the ``reset_body`` and ``throttle`` wrappers of the request body (for
uploads), the neighbouring Range of ``wrong_range``, and :func:`reset_connection`, which resets
the TCP connection under the server's feet.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import socket
import struct
import termios
import time
from typing import Any

import anyio
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from bsmount.emulator.blobs.route import expired_error, s3_error

__all__ = [
    "Cut",
    "ReceiveCut",
    "body_cutting",
    "body_throttling",
    "corrupting",
    "cutting",
    "drain_body",
    "etag_changing",
    "fault_status_response",
    "request_header",
    "reset_connection",
    "shifted_range",
]

log = logging.getLogger(__name__)


class Cut(Exception):
    """Raised through the app to stop a response that a fault cuts short."""


def request_header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _shift_hex(digest: str) -> str:
    return "".join("0123456789abcdef"[(int(c, 16) + 1) % 16] for c in digest.lower())


_JSON_ETAG = re.compile(rb'("ETag"\s*:\s*")([0-9a-fA-F]{32})')


def etag_changing(send: Send) -> Send:
    """A different ``ETag``: in the header (same ``-N`` suffix) and, in a JSON body, every
    ``"ETag": "<32 hex>"`` value (a part PUT's answer), same length, so Content-Length holds."""
    is_json = False

    async def wrapped(message: Message) -> None:
        nonlocal is_json
        if message["type"] == "http.response.start":
            headers = []
            for key, value in message.get("headers", []):
                if key.lower() == b"etag":
                    text = value.decode("latin-1").strip('"')
                    digest, dash, parts = text.partition("-")
                    value = f'"{_shift_hex(digest)}{dash}{parts}"'.encode("latin-1")
                if key.lower() == b"content-type" and b"json" in value.lower():
                    is_json = True
                headers.append((key, value))
            message = {**message, "headers": headers}
        elif message["type"] == "http.response.body" and is_json:
            body = _JSON_ETAG.sub(
                lambda m: m.group(1) + _shift_hex(m.group(2).decode()).encode(),
                bytes(message.get("body", b"")),
            )
            message = {**message, "body": body}
        await send(message)

    return wrapped


class ReceiveCut(Exception):
    """Raised from a request body that a ``reset_body`` fault cuts short."""


def body_cutting(receive: Receive, scope: Scope) -> Receive:
    """Hand over about half of the request body (``Content-Length`` / 2, at least one byte; the
    first chunk when the length is unknown), then raise :class:`ReceiveCut`."""
    length = request_header(scope["headers"], b"content-length")
    budget = max(1, int(length) // 2) if length is not None and length.isdigit() else 0
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        if seen > 0 and seen >= budget:
            raise ReceiveCut
        message = await receive()
        if message["type"] == "http.request":
            body = bytes(message.get("body", b""))
            if budget and seen + len(body) >= budget:
                body = body[: budget - seen]
            seen += len(body)
            message = {**message, "body": body, "more_body": True}
        return message

    return wrapped


def body_throttling(receive: Receive, rate: float) -> Receive:
    """Hand over the request body at most ``rate`` bytes per second."""
    started = time.monotonic()
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            ahead = seen / rate - (time.monotonic() - started)
            if ahead > 0:
                await anyio.sleep(ahead)
        return message

    return wrapped


async def drain_body(receive: Receive) -> None:
    """Read and drop the request body (a fault answering at once keeps the connection usable
    and the client sees the answer, not a broken pipe)."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


def corrupting(send: Send) -> Send:
    target = 0
    seen = 0
    done = False

    async def wrapped(message: Message) -> None:
        nonlocal target, seen, done
        if message["type"] == "http.response.start":
            length = request_header(list(message.get("headers", [])), b"content-length")
            target = int(length) // 2 if length is not None and length.isdigit() else 0
        elif message["type"] == "http.response.body" and not done:
            body = bytes(message.get("body", b""))
            if seen <= target < seen + len(body):
                flipped = bytearray(body)
                flipped[target - seen] ^= 0xFF
                message = {**message, "body": bytes(flipped)}
                done = True
            seen += len(body)
        await send(message)

    return wrapped


def cutting(send: Send) -> Send:
    """Forward the headers and about half the body, then raise :class:`Cut`."""
    budget = 0
    seen = 0

    async def wrapped(message: Message) -> None:
        nonlocal budget, seen
        if message["type"] == "http.response.start":
            length = request_header(list(message.get("headers", [])), b"content-length")
            budget = int(length) // 2 if length is not None and length.isdigit() else -1
            await send(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        body = bytes(message.get("body", b""))
        if budget < 0:  # unknown length: half of the first chunk
            budget = len(body) // 2
        room = budget - seen
        if len(body) < room:
            seen += len(body)
            if message.get("more_body", False):
                await send(message)
                return
            room = len(body) - 1  # a short last chunk: still cut before the end
        if room > 0:
            await send({"type": "http.response.body", "body": body[:room], "more_body": True})
        raise Cut

    return wrapped


_S3_CODES = {
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
    429: ("SlowDown", "Please reduce your request rate."),
}


def fault_status_response(action: str, params: dict[str, Any], scope: Scope) -> Response:
    """The immediate answer of a ``status`` or ``expire`` rule, in the style of the route hit."""
    head = scope["method"] == "HEAD"
    if action == "expire":
        return expired_error(None, head=head)
    status: int = params["status"]
    headers: dict[str, str] = params["headers"]
    if "body" in params:
        body = params["body"]
        if isinstance(body, str):
            return Response(body, status, headers=headers, media_type="text/plain")
        return Response(json.dumps(body), status, headers=headers, media_type="application/json")
    if scope["path"].startswith("/s3/"):
        code, message = _S3_CODES.get(status, ("ServiceUnavailable", "Injected fault."))
        return s3_error(status, code, message, head=head, headers=headers)
    payload = {
        "ResponseStatus": {
            "ErrorCode": f"EMULATOR.FAULT.{status}",
            "Message": f"Injected fault: HTTP {status}",
        }
    }
    return Response(
        json.dumps(payload), status, headers=headers, media_type="application/json; charset=utf-8"
    )


_RANGE = re.compile(rb"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def shifted_range(asked: bytes | None) -> bytes:
    """A Range header for a neighbouring range (one byte off, or a suffix one byte longer)."""
    match = _RANGE.match(asked or b"")
    if match is None or not (match.group(1) or match.group(2)):
        return b"bytes=1-"
    first, last = match.group(1), match.group(2)
    if not first:
        return b"bytes=-%d" % (int(last) + 1)
    step = -1 if int(first) > 0 else 1
    if not last:
        return b"bytes=%d-" % (int(first) + step)
    return b"bytes=%d-%d" % (int(first) + step, int(last) + step)


def _find_socket_fd(scope: Scope) -> int | None:
    """The fd of the TCP connection a request came on (matched by both of its addresses)."""
    client, server = scope.get("client"), scope.get("server")
    if not client or not server:
        return None
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return None
    for name in names:
        fd = int(name)
        try:
            if not os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                continue
            with socket.socket(fileno=os.dup(fd)) as sock:
                peer, local = sock.getpeername(), sock.getsockname()
        except OSError:
            continue
        if (
            isinstance(peer, tuple)
            and tuple(peer[:2]) == tuple(client)
            and tuple(local[:2]) == tuple(server)
        ):
            return fd
    return None


async def reset_connection(scope: Scope, drain_timeout: float = 2.0) -> None:
    """Abort the request's TCP connection with a RST, under the server's feet.

    The connection's fd is found through ``/proc/self/fd``. What was sent is first let through
    (until the kernel's send queue is empty, at most ``drain_timeout`` seconds), so the client
    really gets part of the body; then linger is set to zero and the fd is atomically replaced
    (``dup2``) by an unconnected socket, so closing our duplicate releases the last reference to
    the connection and the kernel sends RST at once. The server later closes the harmless
    replacement. Without a real socket (in-process tests) the response is only cut.
    """
    fd = _find_socket_fd(scope)
    if fd is None:
        log.warning("reset fault: connection socket not found; closing instead")
        return
    original = socket.socket(fileno=os.dup(fd))
    try:
        deadline = time.monotonic() + drain_timeout
        while _unsent(original) > 0 and time.monotonic() < deadline:
            await anyio.sleep(0.005)
        original.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with socket.socket(original.family, socket.SOCK_STREAM) as replacement:
            os.dup2(replacement.fileno(), fd)
    finally:
        with contextlib.suppress(OSError):
            original.close()


def _unsent(sock: socket.socket) -> int:
    """Bytes still in the socket's send queue (not yet acknowledged by the peer)."""
    try:
        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return 0
    return int(struct.unpack("i", raw)[0])
