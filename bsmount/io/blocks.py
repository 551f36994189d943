"""The shared block cache: which bytes of which file version are held or being fetched.

Owns the index, the LRU and the byte accounting; it does no I/O and starts no task (the reader
does). Vocabulary:

* A **block** is ``block_size`` bytes of one :class:`~bsmount._types.FileVersion` at a fixed grid
  position (the last block of a file is short). Blocks are the unit of lookup: the index maps
  ``(version, block index)`` to the :class:`Part` that holds it.
* A **part** is one ranged fetch: a contiguous run of whole blocks, fetched by one source call
  into one buffer (up to ``part_size``, 8 MiB by default, for streams; one or two blocks for
  random reads). All its blocks share that buffer, so memory is accounted and evicted per part.
  Parts never overlap in the index: a part is only created for blocks the index does not hold.

Every part is in exactly one accounting state:

* ``RESERVED``: still being fetched, or pinned (prefetched for a handle that has not read it yet,
  or queued for MD5 verification). Counted in ``reserved_bytes``; never evicted. The reader caps
  new prefetches so that reserved bytes stay within its in-flight budget.
* ``LRU``: complete, unpinned, reusable by any handle; counted in ``cached_bytes``, which eviction
  keeps ≤ ``capacity``.
* ``NONE``: failed, evicted or invalidated. Failed parts leave the index at once, so the next read
  fetches again; a failure is never cached.

A part is also ``single-flight``: whoever needs one of its blocks while it is pending awaits
``part.done`` instead of fetching again. Readers keep references to the parts they wait on, so an
eviction or invalidation never takes bytes away from a read in progress; they only stop new reads
from finding them.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import trio

from bsmount._types import FileVersion

__all__ = ["BlockCache", "Part"]

log = logging.getLogger(__name__)

_NONE, _RESERVED, _LRU = 0, 1, 2


class Part:
    """One ranged fetch of ``[start, end)`` of ``version``, covering blocks ``[first, last)``."""

    __slots__ = (
        "acct",
        "data",
        "done",
        "dropped",
        "end",
        "error",
        "first",
        "interest",
        "last",
        "pins",
        "prefetch",
        "scope",
        "start",
        "used",
        "version",
        "view",
    )

    def __init__(
        self, version: FileVersion, first: int, last: int, block_size: int, *, prefetch: bool
    ) -> None:
        self.version = version
        self.first = first
        self.last = last
        self.start = first * block_size
        self.end = min(last * block_size, version.size)
        self.prefetch = prefetch
        self.data: bytes | bytearray = b""
        self.view = memoryview(b"")  # read-only, over ``data``
        self.error: BaseException | None = None
        self.done = trio.Event()
        self.scope = trio.CancelScope()
        self.pins = 0  # handles (windows) and verifiers holding it
        self.interest = 0  # reads currently waiting on or about to read it
        self.used = False  # served at least one read
        self.dropped = False  # out of the index (evicted, invalidated, cancelled, failed)
        self.acct = _NONE

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def in_lru(self) -> bool:
        """Complete, unpinned and counted in the cache's bytes (evictable)."""
        return self.acct == _LRU

    @property
    def ok(self) -> bool:
        """Complete and holding valid bytes."""
        return self.done.is_set() and self.error is None

    def __repr__(self) -> str:
        state = "ok" if self.ok else ("failed" if self.done.is_set() else "pending")
        return (
            f"<Part {self.version.file_id}[{self.start}:{self.end}] {state}"
            f" pins={self.pins} interest={self.interest}>"
        )


class BlockCache:
    """Index of parts by (version, block), byte-bounded LRU of complete parts, accounting."""

    def __init__(self, capacity: int, block_size: int) -> None:
        if capacity < 0 or block_size <= 0:
            raise ValueError("capacity must be >= 0 and block_size > 0")
        self.capacity = capacity
        self.block_size = block_size
        self._index: dict[FileVersion, dict[int, Part]] = {}
        self._versions: dict[str, set[FileVersion]] = {}
        self._lru: OrderedDict[Part, None] = OrderedDict()
        self.cached_bytes = 0
        self.reserved_bytes = 0
        self.evictions = 0
        self.wasted_bytes = 0  # prefetched, completed, never read, then let go

    # -- lookup ---------------------------------------------------------------------------------

    def blocks(self, version: FileVersion) -> dict[int, Part] | None:
        """The block → part map of one version (read-only use), or None if nothing is held."""
        return self._index.get(version)

    def get(self, version: FileVersion, block: int) -> Part | None:
        idx = self._index.get(version)
        return idx.get(block) if idx is not None else None

    def touch(self, part: Part) -> None:
        """Mark a complete part as recently used."""
        if part.acct == _LRU:
            self._lru.move_to_end(part)

    # -- life cycle -----------------------------------------------------------------------------

    def add(self, part: Part) -> None:
        """Register a new pending part; its blocks must not be held by any other part."""
        idx = self._index.get(part.version)
        if idx is None:
            idx = self._index[part.version] = {}
            self._versions.setdefault(part.version.file_id, set()).add(part.version)
        for block in range(part.first, part.last):
            if block in idx:
                raise AssertionError(f"block {block} of {part.version} is already held")
            idx[block] = part
        self._settle(part)

    def complete(self, part: Part, data: bytes | bytearray) -> None:
        """The fetch succeeded with exactly ``part.size`` bytes: publish them, wake waiters.

        A ``bytearray`` is adopted as it is (no copy) and only ever exposed read-only."""
        if len(data) != part.size:
            raise AssertionError("complete() needs exactly part.size bytes")
        part.data = data
        part.view = memoryview(data).toreadonly()
        part.done.set()
        self._settle(part)

    def fail(self, part: Part, error: BaseException) -> None:
        """The fetch failed: forget the part (a later read fetches again), wake waiters."""
        part.error = error
        self._unindex(part)
        part.done.set()
        self._settle(part)

    def pin(self, part: Part) -> None:
        """Keep a part out of the LRU (it is counted as reserved) until :meth:`unpin`."""
        part.pins += 1
        self._settle(part)

    def unpin(self, part: Part) -> None:
        part.pins -= 1
        if part.pins < 0:
            raise AssertionError("unbalanced unpin")
        self._settle(part)

    def drop(self, part: Part) -> None:
        """Take a part out of the index (a pending one keeps its reservation until it ends)."""
        self._unindex(part)
        self._settle(part)

    def invalidate_file(self, file_id: str) -> list[Part]:
        """Forget every part of every version of ``file_id``; returns the parts dropped."""
        dropped: list[Part] = []
        for version in self._versions.pop(file_id, set()):
            idx = self._index.pop(version, {})
            seen: set[int] = set()
            for part in idx.values():
                if id(part) in seen:
                    continue
                seen.add(id(part))
                part.dropped = True
                self._settle(part)
                dropped.append(part)
        return dropped

    # -- internals ------------------------------------------------------------------------------

    def _unindex(self, part: Part) -> None:
        part.dropped = True
        idx = self._index.get(part.version)
        if idx is None:
            return
        for block in range(part.first, part.last):
            if idx.get(block) is part:
                del idx[block]
        if not idx:
            del self._index[part.version]
            versions = self._versions.get(part.version.file_id)
            if versions is not None:
                versions.discard(part.version)
                if not versions:
                    del self._versions[part.version.file_id]

    def _settle(self, part: Part) -> None:
        """Move the part's bytes to the accounting state its flags call for."""
        if part.done.is_set() and part.error is not None:
            want = _NONE
        elif part.pins > 0 or not part.done.is_set():
            want = _RESERVED
        elif part.dropped:
            want = _NONE
        else:
            want = _LRU
        if want == part.acct:
            return
        size = part.size
        if part.acct == _RESERVED:
            self.reserved_bytes -= size
        elif part.acct == _LRU:
            self.cached_bytes -= size
            del self._lru[part]
        part.acct = want
        if want == _RESERVED:
            self.reserved_bytes += size
        elif want == _LRU:
            self.cached_bytes += size
            self._lru[part] = None
            self._evict()
        elif part.error is None and part.prefetch and not part.used:
            self.wasted_bytes += size

    def _evict(self) -> None:
        while self.cached_bytes > self.capacity and self._lru:
            victim = next(iter(self._lru))
            self.evictions += 1
            self._unindex(victim)
            self._settle(victim)
