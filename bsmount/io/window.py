"""Per-handle read-ahead windows: which parts a streaming handle pins and fetches ahead of itself.

Owns :class:`ReadHandle` (the state of one open file) and :class:`Windows`, which lays the window
its :class:`~bsmount.io.stream_readahead.AccessPattern` asks for out over the shared
:class:`~bsmount.io.blocks.BlockCache`, and knows which handles hold a window (to reclaim idle
ones). For a read of blocks ``[b0, b1)`` on a streaming handle it pins the parts holding
``[b0, high-water mark + window)``, adopting parts that exist (fetched by any handle) and asking
the engine's :class:`~bsmount.io.fetcher.Fetcher` for the gaps:

* the blocks the read itself needs are fetched at once, in parts of their own, so a read never
  waits on more bytes than it needs when nothing was prefetched — except when the rest of the
  file is at most ``initial_window``: then one request fetches it all (a small file costs one
  GET, the run-folder case);
* read-ahead goes out in parts of at least half the window (at most ``part_size``), so a stream
  makes a few large requests instead of one per 128 KiB READ, and only while the bytes reserved
  engine-wide (in flight + pinned) stay within ``max_inflight``; when they do not, windows of
  handles idle for :data:`IDLE_RECLAIM_SECONDS` are unpinned to make room;
* parts the reader has left ``seek_back`` behind are unpinned (they stay cached, in LRU order).

Dropping a window (a seek, a release, an invalidation) unpins it and, on request, cancels the
pending fetches that no other window, verifier or waiting read wants.
"""

from __future__ import annotations

from collections import deque

import trio

from bsmount._types import FileVersion
from bsmount.io.blocks import BlockCache, Part
from bsmount.io.fetcher import Fetcher, chunks
from bsmount.io.stream_readahead import AccessPattern, StreamReadAheadConfig
from bsmount.io.verify import Md5Verifier

__all__ = ["IDLE_RECLAIM_SECONDS", "ReadHandle", "Windows"]

# A handle that has not read for this long gives its window back (its parts stay cached,
# unpinned) when another stream needs budget: an idle `less`, or a half-read file kept open, must
# not starve the streams that are reading.
IDLE_RECLAIM_SECONDS = 1.0
# Scan for idle handles at most this often (the scan is O(open handles)).
_RECLAIM_SCAN_INTERVAL = 0.05


class ReadHandle:
    """Per-open-file state: the access pattern, the pinned window, the optional MD5 check."""

    __slots__ = (
        "closed",
        "hid",
        "last_active",
        "pattern",
        "pinned",
        "pinned_set",
        "scan",
        "verifier",
        "version",
    )

    def __init__(self, hid: int, version: FileVersion, config: StreamReadAheadConfig) -> None:
        self.hid = hid
        self.version = version
        self.pattern = AccessPattern(config, version.size)
        self.pinned: deque[Part] = deque()  # the window, in file order
        self.pinned_set: set[Part] = set()
        self.scan = -1  # block up to which the window has been laid out (-1: from the next read)
        self.verifier: Md5Verifier | None = None
        self.last_active = 0.0
        self.closed = False

    def __repr__(self) -> str:
        return f"<ReadHandle {self.hid} {self.version.file_id} window={len(self.pinned)} parts>"


class Windows:
    """Lays out, trims and drops the read-ahead windows of an engine's handles."""

    def __init__(
        self,
        cache: BlockCache,
        config: StreamReadAheadConfig,
        fetcher: Fetcher,
        max_inflight: int,
    ) -> None:
        """``max_inflight``: the bytes reserved engine-wide (in flight + pinned) beyond which
        read-ahead pauses."""
        self.reclaims = 0  # idle windows unpinned to make room
        self._cache = cache
        self._cfg = config
        self._fetcher = fetcher
        self._bs = config.block_size
        self._part_blocks = config.part_size // config.block_size
        self._max_inflight = max_inflight
        self._holding: set[ReadHandle] = set()  # handles that pinned a window since their drop
        self._last_reclaim = -1e9

    def extend(self, handle: ReadHandle, b0: int, b1: int) -> None:
        """Lay the handle's window out to cover ``[b0, b1)`` now and read ahead if worthwhile."""
        pattern, cfg, bs = handle.pattern, self._cfg, self._bs
        scan = max(handle.scan, b0)
        target = -(-pattern.target_end() // bs)
        stop = max(b1, target)
        if scan < stop:
            min_part = min(cfg.part_size, pattern.window() // 2)
            if scan >= b1 and target < self._nblocks(handle) and (target - scan) * bs < min_part:
                stop = scan  # not worth a request yet
            handle.scan = self._lay_out(handle, scan, b1, stop, min_part)
        limit = pattern.hw - cfg.seek_back
        pinned = handle.pinned
        while pinned and pinned[0].end <= limit:
            part = pinned.popleft()
            handle.pinned_set.discard(part)
            self._cache.unpin(part)

    def drop(self, handle: ReadHandle, *, cancel: bool, keep: tuple[int, int] = (0, 0)) -> None:
        """Unpin the handle's window; with ``cancel``, stop its prefetches nobody else wants
        (except those holding blocks ``keep``: the read being served needs them)."""
        if handle.verifier is not None and handle.verifier.running:
            handle.verifier.abandon("the sequential run ended")
        for part in handle.pinned:
            self._cache.unpin(part)
            if cancel and not (part.first < keep[1] and keep[0] < part.last):
                self._fetcher.cancel_if_orphaned(part)
        handle.pinned.clear()
        handle.pinned_set.clear()
        handle.scan = -1
        self._holding.discard(handle)

    # -- internals ------------------------------------------------------------------------------

    def _nblocks(self, handle: ReadHandle) -> int:
        return -(-handle.version.size // self._bs)

    def _lay_out(self, handle: ReadHandle, b: int, b1: int, stop: int, min_part: int) -> int:
        """Adopt or create parts for blocks ``[b, stop)``; ``[b, b1)`` regardless of budget.
        Returns the block where the layout stopped."""
        version, cache, bs = handle.version, self._cache, self._bs
        nblocks = self._nblocks(handle)
        idx = cache.blocks(version)
        while b < stop:
            part = idx.get(b) if idx is not None else None
            if part is not None:
                if part not in handle.pinned_set:
                    if b >= b1 and part.in_lru and not self._budget(part.size, handle):
                        return b  # adopting a cached part would overrun the budget
                    self._pin(handle, part)
                b = part.last
                continue
            if b >= b1:
                limit = min(stop, b + self._part_blocks)
            elif stop == nblocks and version.size - b * bs <= self._cfg.initial_window:
                limit = stop  # a small rest of file: one request for the read and the rest
            else:
                limit = b1
            gap_end = b + 1
            while gap_end < limit and (idx is None or gap_end not in idx):
                gap_end += 1
            if b < b1:  # blocks the current read needs: fetch now, whatever the budget
                for first, last in chunks(b, gap_end, self._part_blocks):
                    self._pin(handle, self._fetcher.start(version, first, last, False))
                b = gap_end
            else:
                last = gap_end
                if last == stop < nblocks and (last - b) * bs < min_part:
                    return b  # a small tail cut by the window: wait for it to grow
                if not self._budget(min(last * bs, version.size) - b * bs, handle):
                    return b
                self._pin(handle, self._fetcher.start(version, b, last, True))
                b = last
            idx = cache.blocks(version)
        return b

    def _pin(self, handle: ReadHandle, part: Part) -> None:
        self._cache.pin(part)
        handle.pinned.append(part)
        handle.pinned_set.add(part)
        self._holding.add(handle)
        if handle.verifier is not None:
            handle.verifier.offer(part)

    def has_budget(self, nbytes: int, share: float = 0.5) -> bool:
        """May ``nbytes`` be reserved by speculative fetches outside any window (directory
        read-ahead)? They may use only ``share`` of the budget, so streams keep the rest."""
        return self._cache.reserved_bytes + nbytes <= self._max_inflight * share

    def _budget(self, nbytes: int, handle: ReadHandle) -> bool:
        """May ``nbytes`` more be reserved? Reclaims idle handles' windows if not."""
        if self._cache.reserved_bytes + nbytes <= self._max_inflight:
            return True
        now = trio.current_time()
        if now - self._last_reclaim >= _RECLAIM_SCAN_INTERVAL:
            self._last_reclaim = now
            for other in list(self._holding):
                if (
                    other is not handle
                    and other.pinned
                    and now - other.last_active >= IDLE_RECLAIM_SECONDS
                ):
                    self.reclaims += 1
                    self.drop(other, cancel=False)
        return self._cache.reserved_bytes + nbytes <= self._max_inflight
