"""Signed content URLs and the S3-like blob route that serves file bytes with HTTP Range.

:func:`sign_content_url` makes URLs shaped like BaseSpace's pre-signed S3 URLs
(basespace-api.md §6.2) but pointing at the emulator: ``{base}/s3/<32 hex key>/<quoted name>
?AWSAccessKeyId=..&Expires=<epoch>&Signature=..&response-content-disposition=..``.
The signature is an HMAC-SHA256 (urlsafe base64) over the method, the path, the expiry and the
``response-*`` overrides, so HEAD (signed for GET) gets a signature mismatch like on S3.

:func:`blob_route` serves ``GET /s3/{key}/{name}``: no API token is needed and API auth headers
are ignored, but an ``Authorization`` header is refused (400) as S3 does with query auth. Expired
or tampered URLs get 403 with an S3 XML error body. Range: ``bytes=a-b``, ``bytes=a-`` and
``bytes=-n`` give 206 + ``Content-Range``; past the end gives 416 + ``Content-Range: bytes */size``;
anything else (several ranges, bad syntax) is ignored and the whole body is sent (200), as S3 does.
Bodies stream in ~1 MiB chunks and stop when the client goes away.

This module does not own the file model: it asks ``app.state.emulator.file_content(file_id)``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import math
import re
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode
from xml.sax.saxutils import escape

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bsmount.emulator.blobs.content import ContentSource

__all__ = [
    "BlobResponse",
    "blob_key",
    "blob_route",
    "expired_error",
    "file_id_for_key",
    "parse_range",
    "s3_error",
    "sign_content_url",
]

log = logging.getLogger(__name__)

# Seconds between the JSON ``Expires`` and the S3 ``Expires`` (real traffic: 2 minutes), capped at
# 1% of the lifetime so that short test lifetimes stay meaningful.
_EXPIRES_MARGIN = 120.0
_SERVER_EPOCH = datetime.now(UTC).replace(microsecond=0)
_DEFAULT_TYPE = "application/octet-stream"
# key -> file id for ids the key cannot encode (not decimal, or 20+ digits); filled on signing.
_KEY_TO_FILE: dict[str, str] = {}
_FEISTEL_ROUNDS = 4


def _hmac(key: bytes, message: str | bytes) -> bytes:
    data = message.encode("utf-8") if isinstance(message, str) else message
    return hmac.new(key, data, hashlib.sha256).digest()


def _feistel(block: bytes, key: bytes, decrypt: bool = False) -> bytes:
    """A keyed permutation of 16 bytes (4-round Feistel network over HMAC-SHA256)."""
    left, right = block[:8], block[8:]
    rounds = range(_FEISTEL_ROUNDS)
    if not decrypt:
        for i in rounds:
            mask = _hmac(key, bytes([i]) + right)[:8]
            left, right = right, bytes(a ^ b for a, b in zip(left, mask, strict=True))
    else:
        for i in reversed(rounds):
            mask = _hmac(key, bytes([i]) + left)[:8]
            left, right = bytes(a ^ b for a, b in zip(right, mask, strict=True)), left
    return left + right


def _tag(file_id: str, key: bytes) -> bytes:
    return _hmac(key, f"blob-key:{file_id}")[:7]


@functools.lru_cache(maxsize=1 << 18)
def blob_key(file_id: str, key: bytes) -> str:
    """The 32-hex path prefix of a file's blob URL: stable for a signing key and opaque.

    Decimal ids below 20 digits (all BaseSpace file ids) are encrypted into the key, so it decodes
    without any state and URLs survive an emulator restart with the same signing key; other ids
    are remembered in a process-wide table. Memoized: a listing of 1,000 files with signed URLs
    would otherwise spend a quarter of its time here.
    """
    if file_id.isdecimal() and file_id.isascii() and len(file_id) < 20:
        plain = int(file_id).to_bytes(8, "big") + bytes([len(file_id)]) + _tag(file_id, key)
        return _feistel(plain, key).hex()
    key_hex = _hmac(key, f"key:{file_id}")[:16].hex()
    _KEY_TO_FILE[key_hex] = file_id
    return key_hex


def file_id_for_key(key_hex: str, key: bytes) -> str | None:
    """The file id a blob key stands for, or None if the key is not one of ours."""
    if key_hex in _KEY_TO_FILE:
        return _KEY_TO_FILE[key_hex]
    try:
        block = bytes.fromhex(key_hex)
    except ValueError:
        return None
    if len(block) != 16:
        return None
    plain = _feistel(block, key, decrypt=True)
    digits = plain[8]
    if not 1 <= digits < 20:
        return None
    file_id = str(int.from_bytes(plain[:8], "big")).zfill(digits)
    if len(file_id) != digits or not hmac.compare_digest(plain[9:], _tag(file_id, key)):
        return None
    return file_id


@functools.lru_cache(maxsize=16)
def _access_key_id(key: bytes) -> str:
    digest = base64.b32encode(_hmac(key, "access-key-id")).decode("ascii")
    return "AKIA" + digest[:16]


def _signature(key: bytes, method: str, path: str, expires: str, params: dict[str, str]) -> str:
    overrides = "&".join(f"{k}={params[k]}" for k in sorted(params) if k.startswith("response-"))
    message = f"{method.upper()}\n{path}\n{expires}\n{overrides}"
    return base64.urlsafe_b64encode(_hmac(key, message)).decode("ascii").rstrip("=")


def _disposition(file_name: str) -> str:
    """``filename=<name>`` as BaseSpace asks S3 for; RFC 6266 ``filename*`` for non-ASCII."""
    if file_name.isascii() and '"' not in file_name:
        return f"filename={file_name}"
    return f"filename*=UTF-8''{quote(file_name, safe='')}"


def sign_content_url(
    base_url: str, file_id: str, file_name: str, ttl_seconds: float, key: bytes
) -> tuple[str, datetime]:
    """Return (absolute signed URL on the blob route, expiry shown in the API as aware UTC)."""
    now = time.time()
    expires_epoch = math.ceil(now + ttl_seconds)
    key_hex = blob_key(file_id, key)
    path = f"/s3/{key_hex}/{file_name}"
    params = {
        "response-content-disposition": _disposition(file_name),
        "response-content-type": _DEFAULT_TYPE,
    }
    query = {
        "AWSAccessKeyId": _access_key_id(key),
        "Expires": str(expires_epoch),
        **params,
        "Signature": _signature(key, "GET", path, str(expires_epoch), params),
    }
    url = f"{base_url.rstrip('/')}/s3/{key_hex}/{quote(file_name, safe='')}?{urlencode(query)}"
    margin = min(_EXPIRES_MARGIN, ttl_seconds / 100)
    return url, datetime.fromtimestamp(expires_epoch - margin, UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def s3_error(
    status: int,
    code: str,
    message: str,
    *,
    head: bool = False,
    extra: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An S3-style XML error response (no body for HEAD, like S3)."""
    request_id = secrets.token_hex(8).upper()
    fields = {"Code": code, "Message": message, **(extra or {}), "RequestId": request_id}
    fields["HostId"] = base64.b64encode(secrets.token_bytes(48)).decode("ascii")
    body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
    body += "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items()) + "</Error>"
    all_headers = {"x-amz-request-id": request_id, "Server": "AmazonS3", **(headers or {})}
    if head:
        return Response(b"", status, headers=all_headers, media_type="application/xml")
    return Response(body.encode("utf-8"), status, headers=all_headers, media_type="application/xml")


def expired_error(expires_epoch: int | None = None, *, head: bool = False) -> Response:
    """403 ``AccessDenied`` / ``Request has expired`` as S3 answers an expired pre-signed URL."""
    now = datetime.now(UTC)
    if expires_epoch is None:  # an injected expiry: pretend it passed a second ago
        expires = now - timedelta(seconds=1)
    else:
        expires = datetime.fromtimestamp(expires_epoch, UTC)
    extra = {"Expires": _iso(expires), "ServerTime": _iso(now)}
    return s3_error(403, "AccessDenied", "Request has expired", head=head, extra=extra)


_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """Parse a Range header against ``size``.

    Returns ``(start, end)`` (end exclusive) for a satisfiable single range, ``None`` when the
    header is absent or ignored (bad syntax, several ranges, start > end), or ``"unsatisfiable"``.
    """
    if header is None:
        return None
    match = _RANGE.match(header)
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:  # suffix: the last n bytes
        count = int(last)
        if count == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - count), size
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        return "unsatisfiable"
    end = size if not last else min(size, int(last) + 1)
    return start, end


class BlobResponse(Response):
    """Streams ``content[start:end]``; stops early when the client disconnects."""

    def __init__(
        self, content: ContentSource, start: int, end: int, status: int, headers: dict[str, str]
    ) -> None:
        self.content = content
        self.start = start
        self.end = end
        self.status_code = status
        self.background = None
        self.init_headers({**headers, "Content-Length": str(end - start)})

    async def _chunks(self) -> Any:
        iterator: Iterator[bytes] = self.content.iter_range(self.start, self.end)
        if not getattr(self.content, "blocking_io", False):
            for chunk in iterator:
                yield chunk
            return
        while True:
            chunk = await anyio.to_thread.run_sync(next, iterator, b"")
            if not chunk:
                return
            yield chunk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if scope.get("method") == "HEAD":
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        async with anyio.create_task_group() as tg:

            async def watch_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                tg.cancel_scope.cancel()

            tg.start_soon(watch_disconnect)
            async for chunk in self._chunks():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            tg.cancel_scope.cancel()


def _check_auth(request: Request, key: bytes, path: str) -> Response | None:
    head = request.method == "HEAD"
    if "authorization" in request.headers:
        return s3_error(
            400,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified",
            head=head,
            extra={"ArgumentName": "Authorization"},
        )
    query = dict(parse_qsl(request.url.query, keep_blank_values=True))
    signature, expires = query.get("Signature"), query.get("Expires", "")
    if not signature or not expires or "AWSAccessKeyId" not in query:
        return s3_error(
            403,
            "AccessDenied",
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId "
            "parameters",
            head=head,
        )
    wanted = _signature(key, request.method, path, expires, query)
    if query["AWSAccessKeyId"] != _access_key_id(key) or not hmac.compare_digest(signature, wanted):
        return s3_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            head=head,
        )
    if not expires.isdigit() or int(expires) < time.time():
        return expired_error(int(expires) if expires.isdigit() else 0, head=head)
    return None


async def _blob_endpoint(request: Request) -> Response:
    config = request.app.state.config
    key_hex: str = request.path_params["key"]
    name: str = request.path_params["name"]
    denied = _check_auth(request, config.signing_key, f"/s3/{key_hex}/{name}")
    if denied is not None:
        return denied
    head = request.method == "HEAD"
    file_id = file_id_for_key(key_hex, config.signing_key)
    found = None if file_id is None else request.app.state.emulator.file_content(file_id)
    if found is None:
        extra = {"Key": f"{key_hex}/{name}"}
        return s3_error(
            404, "NoSuchKey", "The specified key does not exist.", head=head, extra=extra
        )
    content: ContentSource = found[1]
    if getattr(content, "blocking_io", False):
        # A local file's MD5 may not be computed yet: hash it off the event loop.
        await anyio.to_thread.run_sync(lambda: content.etag)
    query = dict(parse_qsl(request.url.query, keep_blank_values=True))
    modified = getattr(content, "last_modified", None) or _SERVER_EPOCH
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": f'"{content.etag}"',
        "Last-Modified": format_datetime(modified.astimezone(UTC), usegmt=True),
        "Content-Type": query.get("response-content-type", _DEFAULT_TYPE),
        "x-amz-request-id": secrets.token_hex(8).upper(),
        "x-amz-server-side-encryption": "AES256",
        "Server": "AmazonS3",
    }
    if "response-content-disposition" in query:
        disposition = query["response-content-disposition"]
        if not disposition.isascii():  # header values must be Latin-1; keep them ASCII
            disposition = quote(disposition, safe=" =;/'\"*-._()!,:@&+$")
        headers["Content-Disposition"] = disposition
    size = content.size
    wanted = parse_range(request.headers.get("range"), size)
    if wanted == "unsatisfiable":
        return s3_error(
            416,
            "InvalidRange",
            "The requested range is not satisfiable",
            head=head,
            extra={"RangeRequested": request.headers["range"], "ActualObjectSize": str(size)},
            headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
        )
    if wanted is None:
        return BlobResponse(content, 0, size, 200, headers)
    assert not isinstance(wanted, str)
    start, end = wanted
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return BlobResponse(content, start, end, 206, headers)


def blob_route() -> Route:
    """The ``/s3/{key}/{name}`` route (GET and HEAD)."""
    return Route("/s3/{key}/{name:path}", _blob_endpoint, methods=["GET", "HEAD"], name="blob")
