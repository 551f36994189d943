"""The S3-like blob route that serves file bytes with HTTP Range, and S3's error answers.

:func:`blob_route` serves ``GET /s3/{key}/{name}``, the URLs :mod:`bsmount.emulator.blobs.signing`
signs: no API token is needed and API auth headers are ignored, but an ``Authorization`` header is
refused (400) as S3 does with query auth. Expired or tampered URLs get 403 with an S3 XML error
body (:func:`s3_error`, :func:`expired_error`, also used by fault injection). Range:
``bytes=a-b``, ``bytes=a-`` and ``bytes=-n`` give 206 + ``Content-Range``; past the end gives
416 + ``Content-Range: bytes */size``; anything else (several ranges, bad syntax) is ignored and
the whole body is sent (200), as S3 does.
Bodies stream in ~1 MiB chunks and stop when the client goes away.

This module does not own the file model: it asks ``app.state.emulator.file_content(file_id)``.
"""

from __future__ import annotations

import base64
import hmac
import logging
import re
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, quote
from xml.sax.saxutils import escape

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bsmount.emulator.blobs.content import ContentSource
from bsmount.emulator.blobs.signing import (
    DEFAULT_CONTENT_TYPE,
    access_key_id,
    file_id_for_key,
    signature,
)

__all__ = ["BlobResponse", "blob_route", "expired_error", "parse_range", "s3_error"]

log = logging.getLogger(__name__)

_SERVER_EPOCH = datetime.now(UTC).replace(microsecond=0)


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
    given, expires = query.get("Signature"), query.get("Expires", "")
    if not given or not expires or "AWSAccessKeyId" not in query:
        return s3_error(
            403,
            "AccessDenied",
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId "
            "parameters",
            head=head,
        )
    wanted = signature(key, request.method, path, expires, query)
    if query["AWSAccessKeyId"] != access_key_id(key) or not hmac.compare_digest(given, wanted):
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
        "Content-Type": query.get("response-content-type", DEFAULT_CONTENT_TYPE),
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
