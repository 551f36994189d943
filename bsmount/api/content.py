"""File content: the pre-signed URL cache and verified ranged reads (the read engine's RangeSource).

``ContentReader.content_url`` resolves ``files/{id}/content?redirect=meta`` once per file and
reuses the URL until ``Expires`` minus a margin (the margin never exceeds half the URL's lifetime,
so short-lived URLs are still reused); concurrent callers share one resolution (single-flight).

``read_range`` sends ``Range: bytes=a-b`` to the blob URL through the credential-free pool and
fills a preallocated buffer from ``aiter_raw``. Every answer is checked before its bytes count:
status 206 (a 200 is accepted only when the whole object was asked), ``Content-Range`` equal to
the request and to the known size, ``Content-Length``, the body length, and the ``ETag`` against
``FileVersion.etag`` (a different one raises :class:`~bsmount.errors.StaleFileError` at once).
Whole-object reads of files with a plain-MD5 ETag (up to ``MD5_CHECK_MAX``) are checked against it.
A 403 from the blob store refreshes the URL once per read. Outages (connection errors, timeouts,
429, 5xx) are retried with the client's backoff until ``io_deadline`` passes without progress, so a
backend that comes back in time is survived; a read resumes where the failed attempt stopped.
Wrong answers that bring no progress are retried ``max_retries`` times, then raise
:class:`~bsmount.errors.IntegrityError`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import cachetools
import httpx
import trio

from bsmount._types import FileVersion
from bsmount.api.client import BaseSpaceClient
from bsmount.api.http import api_error
from bsmount.api.models import ContentUrl, unquote_etag
from bsmount.api.retry import Attempt, describe_error, is_retryable, parse_retry_after, retrying
from bsmount.errors import (
    BsmountError,
    ContentUrlExpired,
    IntegrityError,
    StaleFileError,
    TransportError,
    redact,
)

__all__ = ["MD5_CHECK_MAX", "ContentReader"]

log = logging.getLogger(__name__)

#: Whole-object reads up to this size are checked against a plain-MD5 ETag.
MD5_CHECK_MAX = 64 * 2**20
_UNTIL_DEADLINE = 1_000_000  # "retry until the stall deadline" for outages during reads
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


class _Pending:
    """One in-flight URL resolution that concurrent callers wait on."""

    def __init__(self) -> None:
        self.event = trio.Event()
        self.result: ContentUrl | None = None
        self.error: Exception | None = None


class _Fill:
    """How much of a read's buffer holds verified bytes (survives failed attempts)."""

    def __init__(self) -> None:
        self.filled = 0


class ContentReader:
    """Reads file content by byte range through cached pre-signed URLs."""

    def __init__(
        self,
        client: BaseSpaceClient,
        *,
        url_margin: float = 300.0,
        max_cached_urls: int = 16384,
        part_size: int = 8 * 2**20,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._client = client
        self.url_margin = url_margin
        self.part_size = part_size
        self._now = clock or (lambda: datetime.now(UTC))
        self._urls: cachetools.LRUCache[str, ContentUrl] = cachetools.LRUCache(max_cached_urls)
        self._pending: dict[str, _Pending] = {}
        self._warned_no_range = False

    # --- URLs --------------------------------------------------------------------------------

    def _fresh(self, url: ContentUrl) -> bool:
        lifetime = max((url.expires - url.fetched).total_seconds(), 0.0)
        margin = min(self.url_margin, lifetime / 2)
        return self._now() < url.expires - timedelta(seconds=margin)

    def forget_url(self, file_id: str) -> None:
        """Drop the cached URL of a file (the next read resolves a new one)."""
        self._urls.pop(file_id, None)

    async def content_url(self, file_id: str) -> ContentUrl:
        """The file's signed URL: cached until ``Expires - margin``; one resolution at a time."""
        while True:
            cached = self._urls.get(file_id)
            if cached is not None and self._fresh(cached):
                return cached
            pending = self._pending.get(file_id)
            if pending is not None:
                await pending.event.wait()
                if pending.error is not None:
                    raise pending.error
                if pending.result is not None:
                    return pending.result
                continue  # the resolving task was cancelled: try again ourselves
            pending = self._pending[file_id] = _Pending()
            try:
                url = await self._client.get_content_url(file_id)
                url = replace(url, fetched=self._now())
                if not url.supports_range and not self._warned_no_range:
                    self._warned_no_range = True  # once per reader: the answer is the same
                    log.warning(
                        "file %s: the API says SupportsRange=false; using ranges anyway", file_id
                    )
                self._urls[file_id] = pending.result = url
                return url
            except Exception as exc:
                pending.error = exc
                raise
            finally:
                del self._pending[file_id]
                pending.event.set()

    async def _refresh(self, file_id: str, stale: ContentUrl) -> ContentUrl:
        current = self._urls.get(file_id)
        if current is not None and current.url != stale.url and self._fresh(current):
            return current  # another reader already refreshed it
        self.forget_url(file_id)
        return await self.content_url(file_id)

    # --- reads -------------------------------------------------------------------------------

    async def read_range(self, version: FileVersion, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the file (``end`` clamped to its size), verified."""
        if start < 0 or end < start:
            raise ValueError(f"bad range [{start}, {end})")
        end = min(end, version.size)
        if start >= end:
            return b""
        file_id = version.file_id
        buf = bytearray(end - start)
        fill = _Fill()
        refreshed = False
        fill_at_attempt = 0
        integrity_failures = 0
        check_md5 = start == 0 and end == version.size and version.md5 is not None
        check_md5 = check_md5 and version.size <= MD5_CHECK_MAX
        base = self._client.retry_policy
        # Outages are retried until the stall deadline (a backend that comes back within
        # io_deadline is survived); wrong answers that make no progress only max_retries times.
        policy = replace(base, max_retries=max(base.max_retries, _UNTIL_DEADLINE))

        async def attempt(state: Attempt) -> None:
            nonlocal refreshed, fill_at_attempt
            fill_at_attempt = fill.filled
            url = await self.content_url(file_id)
            try:
                await self._fetch_into(url, version, start, end, buf, fill, state)
            except ContentUrlExpired:
                if refreshed:
                    raise
                refreshed = True
                log.info("file %s: content URL refused (expired?); refreshing it once", file_id)
                url = await self._refresh(file_id, url)
                await self._fetch_into(url, version, start, end, buf, fill, state)
            if check_md5:
                digest = await _md5(buf)
                if digest != version.md5:
                    fill.filled = fill_at_attempt = 0
                    raise IntegrityError(
                        f"file {file_id}: MD5 {digest} of the whole body differs from ETag "
                        f"{version.md5}"
                    )

        def retry_if(exc: BaseException) -> bool:
            nonlocal integrity_failures
            if isinstance(exc, IntegrityError) and fill.filled <= fill_at_attempt:
                integrity_failures += 1
                return integrity_failures <= base.max_retries
            return is_retryable(exc)

        what = f"read of file {file_id} bytes {start}-{end - 1}"
        try:
            try:
                await retrying(
                    policy, attempt, what=what, retry_if=retry_if, on_retry=self._client.count_retry
                )
            except httpx.HTTPError as exc:  # not retryable (unsupported protocol, stream misuse)
                raise TransportError(f"{what}: {describe_error(exc)}") from exc
        except BsmountError as exc:
            self._client.stats.errors += 1
            if isinstance(exc, StaleFileError):
                self.forget_url(file_id)
            log.warning("read of file %s bytes %d-%d failed: %s", file_id, start, end - 1, exc)
            raise
        return bytes(buf)

    async def stream_range(
        self, version: FileVersion, start: int, end: int
    ) -> AsyncIterator[bytes]:
        """The same bytes and checks as :meth:`read_range`, yielded in ``part_size`` pieces."""
        end = min(end, version.size)
        pos = max(start, 0)
        while pos < end:
            stop = min(pos + self.part_size, end)
            yield await self.read_range(version, pos, stop)
            pos = stop

    async def _fetch_into(
        self,
        url: ContentUrl,
        version: FileVersion,
        start: int,
        end: int,
        buf: bytearray,
        fill: _Fill,
        state: Attempt,
    ) -> None:
        """One ranged GET for the part of ``[start, end)`` not yet filled; verifies everything."""
        file_id = version.file_id
        pos = start + fill.filled
        expected = end - pos
        where = f"file {file_id} bytes {pos}-{end - 1} ({redact(url.url)})"
        stats = self._client.stats
        stats.count("blob")
        headers = {"Range": f"bytes={pos}-{end - 1}"}
        async with self._client.blob_http.stream("GET", url.url, headers=headers) as resp:
            status = resp.status_code
            if status != 206 and status != 200:
                await _drain(resp)
                if status == 403:
                    raise ContentUrlExpired(f"blob store refused the URL: {where}: HTTP 403")
                if status == 416:
                    raise StaleFileError(f"range not satisfiable, the file shrank: {where}")
                retry_after = parse_retry_after(resp.headers.get("retry-after"))
                raise api_error(
                    status,
                    f"blob store error for file {file_id}",
                    url=url.url,
                    retry_after=retry_after,
                )
            etag = unquote_etag(resp.headers.get("etag"))
            if version.etag and etag and etag != version.etag:
                raise StaleFileError(
                    f"file changed: ETag {etag} instead of {version.etag}: {where}"
                )
            if status == 200:
                if not (pos == 0 and end == version.size):
                    raise IntegrityError(
                        f"HTTP 200 (whole object) where a range was asked: {where}"
                    )
            else:
                _check_content_range(resp.headers.get("content-range"), pos, end, version, where)
            length = resp.headers.get("content-length")
            if length is not None and length.strip() != str(expected):
                raise IntegrityError(f"Content-Length {length} instead of {expected}: {where}")
            view = memoryview(buf)
            offset = at_start = pos - start
            limit = len(buf)
            try:
                async for chunk in _raw_chunks(resp):
                    size = len(chunk)
                    if offset + size > limit:
                        fill.filled = at_start
                        raise IntegrityError(f"body longer than {expected} bytes: {where}")
                    view[offset : offset + size] = chunk
                    offset += size
                    fill.filled = offset
                    stats.bytes_fetched += size
                    state.progress()
            finally:
                view.release()
            if offset < limit:
                raise IntegrityError(
                    f"short body: {offset - at_start} of {expected} bytes: {where}"
                )


def _check_content_range(
    header: str | None, pos: int, end: int, version: FileVersion, where: str
) -> None:
    match = _CONTENT_RANGE.match(header or "")
    if match is None:
        raise IntegrityError(f"206 without a valid Content-Range ({header!r}): {where}")
    first, last, total = int(match.group(1)), int(match.group(2)), match.group(3)
    if total != "*" and int(total) != version.size:
        raise StaleFileError(f"file size is now {total}, not {version.size}: {where}")
    if first != pos or last != end - 1:
        raise IntegrityError(f"Content-Range {header!r} does not match the request: {where}")


async def _drain(resp: httpx.Response, limit: int = 64 * 1024) -> None:
    """Read (a bounded part of) an error body so the connection can be reused."""
    seen = 0
    async for chunk in _raw_chunks(resp):
        seen += len(chunk)
        if seen > limit:
            break


def _raw_chunks(resp: httpx.Response) -> AsyncIterator[bytes]:
    """The body as received (no decoding); copes with transports that pre-read bodies."""
    try:
        content = resp.content
    except httpx.ResponseNotRead:
        return resp.aiter_raw()
    return _Once(content)


class _Once:
    """An async iterator over one already-read body (not a generator: nothing to finalize)."""

    def __init__(self, content: bytes) -> None:
        self._content: bytes | None = content or None

    def __aiter__(self) -> _Once:
        return self

    async def __anext__(self) -> bytes:
        if self._content is None:
            raise StopAsyncIteration
        content, self._content = self._content, None
        return content


async def _md5(buf: bytearray) -> str:
    if len(buf) <= 2**20:
        return hashlib.md5(buf).hexdigest()
    return await trio.to_thread.run_sync(lambda: hashlib.md5(buf).hexdigest())
