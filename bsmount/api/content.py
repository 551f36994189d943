"""File content: the pre-signed URL cache and verified ranged reads (the read engine's RangeSource).

``ContentReader.content_url`` resolves ``files/{id}/content?redirect=meta`` once per file and
reuses the URL until ``Expires`` minus a margin (the margin never exceeds half the URL's lifetime,
so short-lived URLs are still reused); concurrent callers share one resolution (single-flight).
URLs that v2 file listings already carried (``filehrefcontentresolution=true``) arrive through
``offer_urls`` and are used instead of a resolution while fresh, so most first reads make no API
request at all.

``read_range`` sends ``Range: bytes=a-b`` to the blob URL through the credential-free pool
(:class:`~bsmount.api.threaded.ThreadedTransport`, tests' mocked blob stores included) and the
body is read by a worker thread straight into a preallocated (not zero-filled) buffer, which it
returns as is (``ThreadedTransport.get``: request, head and body start in one thread hop).
Every answer is checked before its bytes count:
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

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import cachetools
import httpx
import trio

from bsmount._types import FileVersion
from bsmount.api.client import BaseSpaceClient
from bsmount.api.content_checks import Where, check_answer, md5_hex, new_buffer
from bsmount.api.retry import (
    Attempt,
    RetryPolicy,
    describe_error,
    is_retryable,
    retrying,
)
from bsmount.api.threaded import Body
from bsmount.api.urls import ContentUrl, parse_content_url
from bsmount.errors import (
    BsmountError,
    ContentUrlExpired,
    IntegrityError,
    StaleFileError,
    TransportError,
)

__all__ = ["MD5_CHECK_MAX", "ContentReader"]

log = logging.getLogger(__name__)

#: Whole-object reads up to this size are checked against a plain-MD5 ETag.
MD5_CHECK_MAX = 64 * 2**20
_UNTIL_DEADLINE = 1_000_000  # "retry until the stall deadline" for outages during reads


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

    #: whole-file reads up to this size are checked against a plain-MD5 ETag (RangeSource)
    whole_read_md5_limit = MD5_CHECK_MAX

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
        # URLs file listings carried, kept raw (parsing 100,000 of them would cost a second)
        self._hints: cachetools.LRUCache[str, tuple[str, datetime]] = cachetools.LRUCache(
            max_cached_urls
        )
        self.hints_used = 0
        self._pending: dict[str, _Pending] = {}
        self._warned_no_range = False
        self._policy_for: RetryPolicy | None = None  # the client's policy _policy derives from
        self._policy = client.retry_policy

    # --- URLs --------------------------------------------------------------------------------

    def _fresh(self, url: ContentUrl) -> bool:
        lifetime = max((url.expires - url.fetched).total_seconds(), 0.0)
        margin = min(self.url_margin, lifetime / 2)
        return self._now() < url.expires - timedelta(seconds=margin)

    def forget_url(self, file_id: str) -> None:
        """Drop the cached URL of a file (the next read resolves a new one)."""
        self._urls.pop(file_id, None)
        self._hints.pop(file_id, None)

    def remember_url(
        self, file_id: str, href: str, expires: str | None = None, *, seen: datetime | None = None
    ) -> bool:
        """Cache a signed URL a listing already gave (v2 ``filehrefcontentresolution=true``
        puts it in each file's ``HrefContent``), so the first read of the file makes no API
        request: that request is most of a small file's cost and of its first byte's latency.
        ``expires`` is the answer's ``Expires`` when it has one (else the URL's own expiry, else
        10 minutes after ``seen``, when the listing was received: now by default). Returns
        whether a URL was cached (an API path such as ``v1pre3/files/{id}/content`` is not a
        signed URL and is ignored, nor is an expired one)."""
        if not href.startswith(("https://", "http://")):
            return False
        url = parse_content_url({"HrefContent": href, "Expires": expires}, now=seen or self._now())
        if url is None or not self._fresh(url):
            return False
        self._urls[file_id] = url
        return True

    def offer_urls(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Keep the signed URLs a file listing carried, ``(file id, URL)`` pairs (the client's
        ``on_content_urls``); they are parsed only when the file is first read, and used if
        still fresh then, so the read makes no API request."""
        seen = self._now()
        hints = self._hints
        for file_id, href in pairs:
            hints[file_id] = (href, seen)

    def _from_hint(self, file_id: str) -> ContentUrl | None:
        hint = self._hints.pop(file_id, None)
        if hint is None or not self.remember_url(file_id, hint[0], seen=hint[1]):
            return None
        self.hints_used += 1
        return self._urls[file_id]

    async def content_url(self, file_id: str) -> ContentUrl:
        """The file's signed URL: cached until ``Expires - margin``; one resolution at a time."""
        while True:
            cached = self._urls.get(file_id)
            if cached is not None and self._fresh(cached):
                return cached
            hinted = self._from_hint(file_id)
            if hinted is not None:
                return hinted
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

    async def read_range(self, version: FileVersion, start: int, end: int) -> bytearray:
        """Bytes ``[start, end)`` of the file (``end`` clamped to its size), verified.

        Returns the buffer the body was read into (no copy); the caller owns it."""
        if start < 0 or end < start:
            raise ValueError(f"bad range [{start}, {end})")
        end = min(end, version.size)
        if start >= end:
            return bytearray()
        file_id = version.file_id
        buf = new_buffer(end - start)
        fill = _Fill()
        refreshed = False
        fill_at_attempt = 0
        integrity_failures = 0
        check_md5 = start == 0 and end == version.size and version.md5 is not None
        check_md5 = check_md5 and version.size <= MD5_CHECK_MAX
        base = self._client.retry_policy
        # Outages are retried until the stall deadline (a backend that comes back within
        # io_deadline is survived); wrong answers that make no progress only max_retries times.
        if self._policy_for is not base:
            self._policy_for = base
            self._policy = replace(base, max_retries=max(base.max_retries, _UNTIL_DEADLINE))
        policy = self._policy

        async def attempt(state: Attempt) -> None:
            nonlocal refreshed, fill_at_attempt
            fill_at_attempt = fill.filled
            url = await self.content_url(file_id)
            try:
                digest = await self._fetch_into(
                    url, version, start, end, buf, fill, state, check_md5
                )
            except ContentUrlExpired:
                if refreshed:
                    raise
                refreshed = True
                log.info("file %s: content URL refused (expired?); refreshing it once", file_id)
                url = await self._refresh(file_id, url)
                digest = await self._fetch_into(
                    url, version, start, end, buf, fill, state, check_md5
                )
            if check_md5:
                digest = digest or await md5_hex(buf)
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
            self._client.counters.errors += 1
            if isinstance(exc, StaleFileError):
                self.forget_url(file_id)
            log.warning("read of file %s bytes %d-%d failed: %s", file_id, start, end - 1, exc)
            raise
        return buf

    async def stream_range(
        self, version: FileVersion, start: int, end: int
    ) -> AsyncIterator[bytearray]:
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
        digest: bool = False,
    ) -> str | None:
        """One ranged GET for the part of ``[start, end)`` not yet filled; verifies everything.
        With ``digest``, returns the MD5 of the whole buffer when the transport could hash it
        on the way in (else None: the caller hashes)."""
        pos = start + fill.filled
        where = Where(version.file_id, pos, end, url.url)  # formatted only into errors
        self._client.counters.count("blob")
        rng = f"bytes={pos}-{end - 1}"
        view = memoryview(buf)
        try:
            # one worker-thread hop for the request and the body's start, straight into buf
            ex = await self._client.blob_http.get(
                url.url, [("Range", rng)], view[pos - start :], digest=digest and pos == start
            )
            try:
                check_answer(ex.status, ex.headers.get, url, version, pos, end, where)
                self._count(fill, pos - start + ex.filled, ex.filled, state)
                await self._fill_from(ex.body, view, pos - start, fill, state, where)
            finally:
                await ex.body.aclose()
            return ex.md5
        finally:
            view.release()

    def _count(self, fill: _Fill, offset: int, size: int, state: Attempt) -> None:
        """``size`` more verified bytes are in the buffer, up to ``offset``."""
        if size:
            fill.filled = offset
            self._client.counters.bytes_fetched += size
            state.progress()

    async def _fill_from(
        self, body: Body, view: memoryview, at_start: int, fill: _Fill, state: Attempt, where: Where
    ) -> None:
        """Read the rest of the body (which began at ``at_start`` in ``view``) into ``view`` from
        ``fill.filled`` on, exactly to its end (in a worker thread, no copy on the trio loop); a
        longer body discards all of it."""
        offset = fill.filled
        limit = len(view)
        expected = limit - at_start
        while offset < limit:
            size = await body.readinto(view[offset:limit])
            if not size:
                break
            offset += size
            self._count(fill, offset, size, state)
        if offset == limit and not await body.at_eof():
            fill.filled = at_start
            raise IntegrityError(f"body longer than {expected} bytes: {where}")
        if offset < limit:
            raise IntegrityError(f"short body: {offset - at_start} of {expected} bytes: {where}")
