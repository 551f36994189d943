"""The persistent block cache in the read path: a :class:`RangeSource` that tries local disk first.

Owns :class:`DiskCachedSource`, which wraps the API client's ``ContentReader`` (any
:class:`~bsmount.io.fetcher.RangeSource`) and is what the read engine fetches its parts from
when ``--disk-cache-size`` is set, and its counters (:class:`DiskCacheCounters`, shown under
``disk_cache`` in ``.bsmount/stats``). The files themselves are :mod:`bsmount.io.disk_store`'s.

For a part ``[start, end)`` (always whole blocks of the engine's grid, the last one possibly the
file's short tail):

1. one worker thread reads every block of the part that is on disk, straight into the part's
   buffer, checking each block's header and CRC-32 (nothing blocks the trio loop);
2. all there: the part is served from disk with no request at all (not even the signed URL's);
   a whole small file is also checked against its plain-MD5 ETag in that thread, as the
   network path does, so the engine's "verified" mark means the same thing;
3. otherwise the missing runs of blocks are fetched from the wrapped source (a whole small file
   with an MD5 ETag is fetched whole, so the source checks it) and the fetched bytes are written
   to disk in the background, by worker threads, block file by block file (write, then rename);
   a reader only waits when more than ``write_backlog`` bytes are still to be written (the disk
   cache is write-through: a cold read fills it, so the next one fetches nothing);
4. a fetch the engine cancels (a read-ahead of a reader that closed the file or jumped) is
   finished anyway while at most ``orphan_budget`` bytes of such fetches are under way, and
   stored: the next run of the same reads lays out the same read-ahead and finds it on disk,
   where a cancelled fetch would be fetched again (samtools queries repeated after a remount);
5. after writes have added a quarter of the cap (or the estimate passes the cap), one eviction
   pass runs in a worker thread (:meth:`~bsmount.io.disk_store.DiskStore.evict`): it re-counts
   the real usage of the whole cache directory (other mounts write there too) and evicts the
   least recently used blocks down to 90% of the cap once it is over the cap. A pass also runs
   at start-up.

Disk errors never fail a read: a block that cannot be read is a miss, a block that cannot be
written is counted (``write_errors``) and logged once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import ParamSpec, TypeVar

import trio

from bsmount._types import FileVersion
from bsmount.io.disk_store import DiskStore, EvictionResult, ReadResult
from bsmount.io.fetcher import RangeSource

__all__ = ["DiskCacheCounters", "DiskCachedSource"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# Eviction stops at this share of the cap, so a pass is not needed after every write.
LOW_WATER = 0.9
# Re-count the whole directory after this share of the cap was written by this mount (a pass
# stats every block file: ~2.5 µs each, 0.2 s for 80,000 blocks = 5 GiB).
RESCAN_SHARE = 1 / 4


@dataclass(slots=True)
class DiskCacheCounters:
    hits: int = 0  # parts served wholly from disk
    misses: int = 0  # parts that needed the network (wholly or in part), cancelled ones too
    cancelled: int = 0  # misses whose reader left before the bytes came (read-ahead dropped)
    orphans_stored: int = 0  # of those, fetches finished anyway and written to disk
    block_hits: int = 0
    block_misses: int = 0
    bytes_read: int = 0  # bytes served from disk
    bytes_fetched: int = 0  # bytes fetched from the server through this layer
    bytes_written: int = 0  # disk usage added by this mount's writes
    blocks_written: int = 0
    corrupt_blocks: int = 0  # block files found damaged (deleted, fetched again)
    md5_mismatches: int = 0  # whole small files from disk whose MD5 did not match (refetched)
    write_errors: int = 0
    write_waits: int = 0  # reads that waited for the write backlog
    evictions: int = 0  # blocks this mount's passes deleted (any mount's blocks)
    evicted_bytes: int = 0
    eviction_passes: int = 0
    stale_tmp_removed: int = 0  # temporary files a killed writer left behind


class DiskCachedSource:
    """A :class:`RangeSource` reading through a persistent :class:`DiskStore` (module doc)."""

    def __init__(
        self,
        inner: RangeSource,
        store: DiskStore,
        nursery: trio.Nursery,
        capacity: int,
        *,
        write_backlog: int = 64 * 1024 * 1024,
        writers: int = 2,
        orphan_budget: int = 64 * 1024 * 1024,
        threads: bool = True,
    ) -> None:
        """``capacity``: the cap on the cache directory's disk usage (bytes).
        ``threads=False`` runs the disk calls on the trio thread (tests with a fake clock)."""
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.whole_read_md5_limit = inner.whole_read_md5_limit
        self.counters = DiskCacheCounters()
        self.capacity = capacity
        self.store = store
        self.bytes_on_disk = 0  # last count of the whole directory + this mount's writes since
        self._inner = inner
        self._nursery = nursery
        self._threads = threads
        self._bs = store.block_size
        self._write_backlog = write_backlog
        self._writers = trio.CapacityLimiter(writers)
        self._pending_writes = 0
        self._write_room = trio.Event()
        self._written_since_scan = 0
        self._evicting = False  # a task runs eviction passes
        self._evict_again = False
        self._write_error_logged = False
        self._disk = trio.CapacityLimiter(4)  # disk reads in flight (worker threads)
        self._orphan_budget = orphan_budget
        self._orphan_bytes = 0

    # -- RangeSource ----------------------------------------------------------------------------

    async def read_range(self, version: FileVersion, start: int, end: int) -> bytes | bytearray:
        if not self.store.cacheable(version) or start % self._bs:
            return await self._inner.read_range(version, start, end)
        bs = self._bs
        first, last = start // bs, -(-end // bs)
        if end != min(last * bs, version.size):
            return await self._inner.read_range(version, start, end)  # not whole blocks
        buf = bytearray(end - start)
        whole_md5 = self._whole_md5(version, start, end)
        found = await self._run(self._read_disk, version, first, last, buf, whole_md5)
        counters = self.counters
        counters.corrupt_blocks += found.corrupt
        counters.block_hits += (last - first) - len(found.missing)
        counters.bytes_read += found.hit_bytes
        if not found.missing:
            counters.hits += 1
            return buf
        try:
            runs = [(first, last)] if whole_md5 else _runs(found.missing)
            if runs == [(first, last)]:
                return await self._fetch(version, first, start, end)
            for run_first, run_last in runs:
                run_start, run_end = run_first * bs, min(run_last * bs, version.size)
                data = await self._fetch(version, run_first, run_start, run_end)
                buf[run_start - start : run_end - start] = data
            return buf
        except trio.Cancelled:
            counters.cancelled += 1  # a read-ahead nobody wants any more (module doc, 4)
            raise
        finally:
            counters.misses += 1
            counters.block_misses += len(found.missing)

    # -- statistics and housekeeping ------------------------------------------------------------

    def statistics(self) -> dict[str, int]:
        """``disk_cache`` of ``.bsmount/stats``."""
        return {
            **asdict(self.counters),
            "bytes_on_disk": self.bytes_on_disk,
            "capacity": self.capacity,
            "pending_write_bytes": self._pending_writes,
            "orphan_bytes": self._orphan_bytes,
        }

    async def start(self) -> None:
        """Create the directories and count (and trim) what earlier mounts left."""
        await self._run(self.store.prepare)
        await self.evict(wait=True)

    async def evict(self, *, wait: bool = False) -> None:
        """One eviction pass (module doc); with ``wait``, after the one another mount runs."""
        try:
            low_water = int(self.capacity * LOW_WATER)
            written_before = self._written_since_scan
            self._written_since_scan = 0
            result: EvictionResult = await self._run(
                self.store.evict, low_water, high_water=self.capacity, wait=wait
            )
            counters = self.counters
            if result.skipped:  # another mount is counting; ours is re-counted at the next pass
                self._written_since_scan += written_before
                return
            counters.eviction_passes += 1
            counters.evictions += result.evicted_blocks
            counters.evicted_bytes += result.evicted_bytes
            counters.stale_tmp_removed += result.stale_tmp
            self.bytes_on_disk = result.remaining_bytes + self._written_since_scan
            if result.evicted_blocks:
                log.info(
                    "disk cache: %d MiB in %d blocks, evicted %d blocks (%d MiB) to stay under %d"
                    " MiB",
                    result.scanned_bytes >> 20,
                    result.files,
                    result.evicted_blocks,
                    result.evicted_bytes >> 20,
                    self.capacity >> 20,
                )
        except OSError as exc:
            log.warning("disk cache: eviction pass failed: %s", exc)

    def _want_eviction(self) -> None:
        """Ask for a pass; passes run one after another in one task while asked for (writes
        that land during a pass ask again)."""
        self._evict_again = True
        if not self._evicting:
            self._evicting = True
            self._nursery.start_soon(self._evict_loop)

    async def _evict_loop(self) -> None:
        try:
            while self._evict_again:
                self._evict_again = False
                await self.evict()
        finally:
            self._evicting = False

    # -- internals ------------------------------------------------------------------------------

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn`` in a worker thread (at most four disk calls at once)."""
        if not self._threads:
            return fn(*args, **kwargs)
        async with self._disk:
            return await trio.to_thread.run_sync(lambda: fn(*args, **kwargs))

    def _whole_md5(self, version: FileVersion, start: int, end: int) -> bool:
        return (
            start == 0
            and end == version.size <= self.whole_read_md5_limit
            and version.md5 is not None
        )

    def _read_disk(
        self, version: FileVersion, first: int, last: int, buf: bytearray, whole_md5: bool
    ) -> ReadResult:
        found = self.store.read_into(version, first, last, buf)
        if whole_md5 and not found.missing:
            digest = hashlib.md5(buf, usedforsecurity=False).hexdigest()
            if digest != version.md5:
                self.counters.md5_mismatches += 1
                log.info(
                    "disk cache: file %s from disk does not match its MD5: fetched again",
                    version.file_id,
                )
                found.missing = list(range(first, last))
        return found

    async def _fetch(
        self, version: FileVersion, first: int, start: int, end: int
    ) -> bytes | bytearray:
        """``[start, end)`` (whole blocks from ``first``) from the wrapped source, queued for
        the disk. The fetch is a task of its own: if the caller is cancelled (a read-ahead the
        engine no longer wants), it goes on while at most ``orphan_budget`` bytes of such fetches
        are under way, so that its bytes still reach the disk."""
        job = _Fetch(end - start)
        self._nursery.start_soon(self._fetch_task, job, version, first, start, end)
        try:
            await job.done.wait()
        except trio.Cancelled:
            if self._orphan_bytes + job.size <= self._orphan_budget:
                job.orphan = True
                self._orphan_bytes += job.size
            else:
                job.scope.cancel()
            raise
        if job.error is not None:
            raise job.error
        assert job.data is not None
        return job.data

    async def _fetch_task(
        self, job: _Fetch, version: FileVersion, first: int, start: int, end: int
    ) -> None:
        try:
            with job.scope:
                data = await self._inner.read_range(version, start, end)
                self.counters.bytes_fetched += len(data)
                job.data = data
                await self._store_later(version, first, data)  # waits while the backlog is full
                if job.orphan:
                    self.counters.orphans_stored += 1
        except Exception as exc:
            job.error = exc
            if job.orphan:
                log.debug(
                    "disk cache: fetch of %s [%d, %d) failed: %s", version.file_id, start, end, exc
                )
        finally:
            if job.orphan:
                self._orphan_bytes -= job.size
            job.done.set()

    async def _store_later(self, version: FileVersion, first: int, data: bytes | bytearray) -> None:
        """Queue ``data`` (whole blocks from ``first``) for writing; wait while the backlog is
        full. The buffer is only read (it becomes the engine's read-only part)."""
        size = len(data)
        while self._pending_writes > 0 and self._pending_writes + size > self._write_backlog:
            self.counters.write_waits += 1
            await self._write_room.wait()
        self._pending_writes += size
        self._nursery.start_soon(self._write, version, first, data)

    async def _write(self, version: FileVersion, first: int, data: bytes | bytearray) -> None:
        counters = self.counters
        try:
            async with self._writers:
                added = await self._run(self.store.write_blocks, version, first, memoryview(data))
            counters.bytes_written += added
            counters.blocks_written += -(-len(data) // self._bs)
            self.bytes_on_disk += added
            self._written_since_scan += added
        except OSError as exc:
            counters.write_errors += 1
            if not self._write_error_logged:
                self._write_error_logged = True
                log.warning("disk cache: cannot write blocks (%s); reads go on uncached", exc)
        finally:
            self._pending_writes -= len(data)
            self._write_room.set()
            self._write_room = trio.Event()
        over = self.bytes_on_disk > self.capacity
        if over or self._written_since_scan > self.capacity * RESCAN_SHARE:
            self._want_eviction()


class _Fetch:
    """One fetch from the wrapped source, run as a task (see ``DiskCachedSource._fetch``)."""

    __slots__ = ("data", "done", "error", "orphan", "scope", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: bytes | bytearray | None = None
        self.error: Exception | None = None
        self.done = trio.Event()
        self.scope = trio.CancelScope()
        self.orphan = False  # its reader left; finishing it only for the disk


def _runs(blocks: list[int]) -> list[tuple[int, int]]:
    """Sorted block numbers as ``[first, last)`` runs of consecutive blocks."""
    runs: list[tuple[int, int]] = []
    for block in blocks:
        if runs and runs[-1][1] == block:
            runs[-1] = (runs[-1][0], block + 1)
        else:
            runs.append((block, block + 1))
    return runs
