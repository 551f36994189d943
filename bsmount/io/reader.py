"""The read engine: ``read(handle, offset, size)`` → bytes, through a shared cache and read-ahead.

Owns the read path between the FUSE adapter and a :class:`RangeSource` (the API client's
``ContentReader``), the open handles and the read counters (:class:`ReadCounters`); it knows nothing
of HTTP or FUSE. Its collaborators each own their state: the :class:`~bsmount.io.blocks.BlockCache`
(what is held), the :class:`~bsmount.io.fetcher.Fetcher` (fetches in flight), the
:class:`~bsmount.io.window.Windows` (read-ahead windows, which ask the fetcher for their parts) and
the :class:`~bsmount.io.verify.VerifiedVersions` (MD5 verdicts). Everything runs on one trio loop:
fetches are tasks in the nursery the engine was given, so a cancelled read (an interrupted FUSE
request) never cancels a fetch that other reads share.

Read path, for a read of ``[offset, end)`` (``end`` clamped at EOF; ``b""`` at or after EOF):

1. the handle's :class:`~bsmount.io.stream_readahead.AccessPattern` classifies it (stream or
   random);
   a jump out of a stream drops the handle's window and cancels its unshared prefetches;
2. for a stream, the window is extended up to ``high-water mark + window``: existing parts are
   adopted (pinned), gaps become ranged fetches of up to ``part_size``, issued only while the
   global reserved bytes (in flight + prefetched-but-unread) stay within ``max_inflight_total``;
   parts more than ``seek_back`` behind the reader are unpinned into the LRU;
3. the blocks the read needs are looked up in the :class:`~bsmount.io.blocks.BlockCache`; blocks
   nobody holds are fetched now (rounded to whole blocks: a 4 KiB random read costs one 64 KiB
   block) — single-flight, so concurrent readers of one block share one fetch;
4. the read waits for its parts; a failed fetch raises its error (unchanged) to every waiter and
   is not cached, so the next read fetches again; the bytes are sliced from the parts' buffers.

Memory: ``cached_bytes ≤ cache_bytes`` (LRU of complete parts), ``reserved_bytes ≲
max_inflight_total`` (prefetch stops there) plus the blocks of reads in progress.

Wrong bytes are never returned: a part is keyed by the exact :class:`FileVersion` (id, size,
ETag), a source answer of the wrong length is an :class:`~bsmount.errors.IntegrityError`, and
with ``verify_md5`` a full in-order read is checked against a plain-MD5 ETag
(:mod:`bsmount.io.verify`).
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Literal

import trio

from bsmount._types import FileVersion
from bsmount.config.settings import Defaults, MiB
from bsmount.errors import TransportError
from bsmount.io.blocks import BlockCache, Part
from bsmount.io.fetcher import Fetcher, RangeSource
from bsmount.io.stream_readahead import StreamReadAheadConfig
from bsmount.io.verify import Md5Verifier, VerifiedVersions
from bsmount.io.window import ReadHandle, Windows

__all__ = ["RangeSource", "ReadCounters", "ReadEngine", "ReadHandle"]


@dataclass(slots=True)
class ReadCounters:
    reads: int = 0
    bytes_served: int = 0
    cache_hits: int = 0  # reads served from complete parts
    inflight_hits: int = 0  # reads that joined fetches already under way (prefetch or others)
    cache_misses: int = 0  # reads that had to start a fetch
    resets: int = 0  # streams broken by a jump


class ReadEngine:
    """Block cache + per-handle stream read-ahead over a :class:`RangeSource` (see the module
    doc)."""

    def __init__(
        self,
        source: RangeSource,
        nursery: trio.Nursery,
        *,
        cache_bytes: int = Defaults.cache_bytes,
        block_size: int | None = None,
        max_prefetch_bytes_per_handle: int | None = None,
        max_inflight_total: int = Defaults.inflight_bytes,
        config: StreamReadAheadConfig | None = None,
        verify_md5: bool = False,
        verify_max_lag: int = 32 * MiB,
        read_timeout: float | None = None,
    ) -> None:
        """Build an engine whose fetch tasks run in ``nursery``.

        ``cache_bytes`` bounds the LRU of complete parts; ``max_inflight_total`` bounds the bytes
        reserved by fetches in flight and by prefetched, not yet read parts (prefetch pauses
        there; reads are never refused). ``config`` holds the geometry and detector tunables
        (:class:`StreamReadAheadConfig`); ``block_size`` and ``max_prefetch_bytes_per_handle``
        override its ``block_size`` and ``max_window``. ``verify_md5`` checks full in-order reads
        against plain-MD5 ETags (costs ~1.5 ms of a worker thread per MiB; a verified stream is
        throttled to MD5 speed once it runs ``verify_max_lag`` ahead). ``read_timeout`` bounds
        how long a read waits for its bytes before :class:`~bsmount.errors.TransportError` (None:
        rely on the source's own deadline).
        """
        cfg = config or StreamReadAheadConfig()
        if block_size is not None:
            part_size = -(-cfg.part_size // block_size) * block_size
            cfg = dataclasses.replace(cfg, block_size=block_size, part_size=part_size)
        if max_prefetch_bytes_per_handle is not None:
            cfg = dataclasses.replace(
                cfg,
                max_window=max_prefetch_bytes_per_handle,
                initial_window=min(cfg.initial_window, max_prefetch_bytes_per_handle),
            )
        if max_inflight_total <= 0:
            raise ValueError("max_inflight_total must be positive")
        self.config = cfg
        self.counters = ReadCounters()
        self._nursery = nursery
        self._bs = cfg.block_size
        self._verify = verify_md5
        self._verify_lag = verify_max_lag
        self._read_timeout = read_timeout
        self._handles: dict[int, ReadHandle] = {}
        self._ids = itertools.count(1)
        self._closed = False
        self._cache = BlockCache(cache_bytes, cfg.block_size)
        self._verified = VerifiedVersions()
        part_blocks = cfg.part_size // cfg.block_size
        self._fetcher = Fetcher(source, nursery, self._cache, part_blocks, self._verified)
        self._windows = Windows(self._cache, cfg, self._fetcher, max_inflight_total)

    # -- public API -----------------------------------------------------------------------------

    def open(self, version: FileVersion) -> ReadHandle:
        """A handle for reading ``version``; no I/O happens here."""
        if self._closed:
            raise RuntimeError("read engine is closed")
        handle = ReadHandle(next(self._ids), version, self.config)
        handle.last_active = trio.current_time()
        self._handles[handle.hid] = handle
        return handle

    def release(self, handle: ReadHandle) -> None:
        """Close a handle: unpin its window and cancel the prefetches nobody else waits for."""
        if handle.closed:
            return
        handle.closed = True
        self._windows.drop(handle, cancel=True)
        self._handles.pop(handle.hid, None)

    def prefetch_file(self, version: FileVersion) -> Literal["started", "held", "refused"]:
        """Fetch a whole small file before anyone opens it (directory read-ahead, e.g. for
        ``cp -r``): one part, from half of the in-flight budget. ``"held"`` when nothing needs
        fetching (empty, or already held in part or whole), ``"refused"`` when the file is larger
        than a part or the budget is spent."""
        size = version.size
        if size == 0 or self._cache.blocks(version):
            return "held"
        if self._closed or size > self.config.part_size or not self._windows.has_budget(size):
            return "refused"
        self._fetcher.start(version, 0, -(-size // self._bs), True)
        return "started"

    def invalidate(self, file_id: str) -> None:
        """Forget every cached block of ``file_id`` (all versions); reads in progress finish."""
        for handle in self._handles.values():
            if handle.version.file_id == file_id:
                self._windows.drop(handle, cancel=True)
        for part in self._cache.invalidate_file(file_id):
            self._fetcher.cancel_if_orphaned(part)
        self._verified.forget_file(file_id)

    def close(self) -> None:
        """Release every handle and cancel every fetch (waiters get TransportError)."""
        self._closed = True
        for handle in list(self._handles.values()):
            self.release(handle)
        self._fetcher.close()

    def statistics(self) -> dict[str, int]:
        """Counters and gauges (bytes unless named otherwise); cheap, for `.bsmount/stats`."""
        reads, fetches, md5 = self.counters, self._fetcher.counters, self._verified.counters
        inflight, cache = self._fetcher.inflight, self._cache
        return {
            "reads": reads.reads,
            "bytes_served": reads.bytes_served,
            "cache_hits": reads.cache_hits,
            "inflight_hits": reads.inflight_hits,
            "cache_misses": reads.cache_misses,
            "requests": fetches.requests,
            "bytes_fetched": fetches.bytes_fetched,
            "fetch_errors": fetches.fetch_errors,
            "demand_parts": fetches.demand_parts,
            "prefetch_parts": fetches.prefetch_parts,
            "resets": reads.resets,
            "reclaims": self._windows.reclaims,
            "md5_ok": md5.md5_ok,
            "md5_failed": md5.md5_failed,
            "md5_abandoned": md5.md5_abandoned,
            "inflight": len(inflight),
            "inflight_bytes": sum(p.size for p in inflight),
            "reserved_bytes": cache.reserved_bytes,
            "cached_bytes": cache.cached_bytes,
            "cache_capacity": cache.capacity,
            "evictions": cache.evictions,
            "prefetch_wasted": cache.wasted_bytes,
            "open_handles": len(self._handles),
        }

    async def read(self, handle: ReadHandle, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset``: short at EOF, ``b""`` at or after it."""
        buf = await self.read_buffer(handle, offset, size)
        return buf if isinstance(buf, bytes) else bytes(buf)

    async def read_buffer(self, handle: ReadHandle, offset: int, size: int) -> bytes | memoryview:
        """Like :meth:`read` but may return a read-only view into a cached part (no copy).

        The view keeps the part's buffer alive; use it before the next await (the FUSE adapter
        hands it straight to the kernel)."""
        if handle.closed:
            raise ValueError("read on a released handle")
        if offset < 0 or size < 0:
            raise ValueError("negative offset or size")
        version = handle.version
        if size == 0 or offset >= version.size:
            return b""
        end = min(offset + size, version.size)
        bs = self._bs
        b0, b1 = offset // bs, -(-end // bs)
        counters = self.counters
        counters.reads += 1
        handle.last_active = trio.current_time()

        obs = handle.pattern.observe(offset, end)
        if obs.reset:
            counters.resets += 1
            self._windows.drop(handle, cancel=True, keep=(b0, b1))
        fetches = self._fetcher.counters
        created = fetches.demand_parts
        if obs.sequential:
            if self._verify and offset == 0 and handle.pattern.hw == end:
                self._maybe_start_verifier(handle)
            self._windows.extend(handle, b0, b1)
        parts = self._fetcher.parts_for(version, b0, b1)
        if fetches.demand_parts != created:
            counters.cache_misses += 1
        elif all(p.done.is_set() for p in parts):
            counters.cache_hits += 1
        else:
            counters.inflight_hits += 1

        for part in parts:
            part.interest += 1
        try:
            if self._read_timeout is None or self._ready(handle, parts, end):
                await self._wait(handle, parts, end)  # no wait: no deadline to set up
            else:
                # a bare CancelScope: fail_after's generator costs ~10 µs more a read
                deadline = trio.current_time() + self._read_timeout
                with trio.CancelScope(deadline=deadline) as scope:
                    await self._wait(handle, parts, end)
                if scope.cancelled_caught:
                    raise trio.TooSlowError
        except trio.TooSlowError:
            raise TransportError(
                f"file {version.file_id}: no data for bytes {offset}-{end - 1}"
                f" after {self._read_timeout:g} s"
            ) from None
        except Exception:
            if obs.sequential and not handle.closed:
                # restart the stream from the next read (a failed part has left the index)
                handle.pattern.restart()
                self._windows.drop(handle, cancel=False)
            raise
        finally:
            for part in parts:
                part.interest -= 1

        result = self._assemble(parts, offset, end)
        for part in parts:
            part.used = True
            self._cache.touch(part)
        counters.bytes_served += end - offset
        return result

    def _ready(self, handle: ReadHandle, parts: list[Part], end: int) -> bool:
        """Whether :meth:`_wait` would return (or raise) at once: every part is done and no
        MD5 verdict or verification lag is to be waited for."""
        verifier = handle.verifier
        if verifier is not None and (
            end == handle.version.size
            or (verifier.running and handle.pattern.hw - verifier.hashed > self._verify_lag)
        ):
            return False
        return all(part.done.is_set() for part in parts)

    async def _wait(self, handle: ReadHandle, parts: list[Part], end: int) -> None:
        """Wait for the read's parts (and, at EOF, for the MD5 verdict); raise fetch errors."""
        verifier = handle.verifier
        if verifier is not None:
            while verifier.running and handle.pattern.hw - verifier.hashed > self._verify_lag:
                await verifier.wait_progress()
        for part in parts:
            if not part.done.is_set():
                await part.done.wait()
            if part.error is not None:
                raise part.error
        if end == handle.version.size and verifier is not None:
            if await self._verified.verdict(verifier):
                self.invalidate(handle.version.file_id)  # the first mismatch: forget the bytes
            verifier.check()

    # -- internals ------------------------------------------------------------------------------

    @staticmethod
    def _assemble(parts: list[Part], offset: int, end: int) -> bytes | memoryview:
        if len(parts) == 1:
            part = parts[0]
            if part.start == offset and part.end == end:
                return part.view
            return part.view[offset - part.start : end - part.start]
        return b"".join(
            p.view[max(offset, p.start) - p.start : min(end, p.end) - p.start] for p in parts
        )

    # -- MD5 verification -----------------------------------------------------------------------

    def _maybe_start_verifier(self, handle: ReadHandle) -> None:
        version = handle.version
        expected = version.md5
        if expected is None or version.size == 0 or version in self._verified:
            return
        if handle.verifier is not None and handle.verifier.state in ("running", "failed"):
            return
        if handle.pinned:  # a window laid out from the middle cannot be verified from 0
            self._windows.drop(handle, cancel=False)
        verifier = Md5Verifier(self._cache, version, expected)
        handle.verifier = verifier
        self._nursery.start_soon(verifier.run)
