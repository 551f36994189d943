"""BlockCache: index, byte-bounded LRU, pins, failure handling, version-keyed invalidation."""

from __future__ import annotations

import pytest

from bsmount._types import FileVersion
from bsmount.errors import TransportError
from bsmount.io.blocks import BlockCache, Part

BS = 16
V1 = FileVersion("f1", 1000, "a" * 32)
V1B = FileVersion("f1", 1000, "b" * 32)  # same file, another version
V2 = FileVersion("f2", 1000, None)


def new_part(cache: BlockCache, version: FileVersion, first: int, last: int) -> Part:
    part = Part(version, first, last, BS, prefetch=False)
    cache.add(part)
    return part


def fill(cache: BlockCache, part: Part) -> None:
    cache.complete(part, bytes(part.size))


def test_part_geometry_clamps_at_eof() -> None:
    part = Part(FileVersion("x", 40), 2, 3, BS, prefetch=True)
    assert (part.start, part.end, part.size) == (32, 40, 8)


def test_pending_is_reserved_then_cached_and_indexed() -> None:
    cache = BlockCache(capacity=1000, block_size=BS)
    part = new_part(cache, V1, 0, 4)
    assert cache.reserved_bytes == 64 and cache.cached_bytes == 0
    assert all(cache.get(V1, b) is part for b in range(4))
    assert cache.get(V1, 4) is None and cache.get(V1B, 0) is None
    fill(cache, part)
    assert part.ok and part.in_lru
    assert (cache.reserved_bytes, cache.cached_bytes) == (0, 64)


def test_overlapping_parts_are_refused() -> None:
    cache = BlockCache(capacity=1000, block_size=BS)
    new_part(cache, V1, 0, 4)
    with pytest.raises(AssertionError):
        new_part(cache, V1, 3, 5)
    new_part(cache, V1B, 3, 5)  # another version: independent


def test_lru_evicts_oldest_within_byte_bound() -> None:
    cache = BlockCache(capacity=100, block_size=BS)
    parts = []
    for i in range(5):
        p = new_part(cache, V1, 2 * i, 2 * i + 2)  # 32 bytes each
        fill(cache, p)
        parts.append(p)
        assert cache.cached_bytes <= 100
    # 3 parts fit (96 bytes); the two oldest went
    assert cache.cached_bytes == 96 and cache.evictions == 2
    assert cache.get(V1, 0) is None and cache.get(V1, 2) is None
    assert cache.get(V1, 4) is parts[2]
    cache.touch(parts[2])  # now most recent: the next eviction takes parts[3]
    fill(cache, new_part(cache, V1, 20, 22))
    assert cache.get(V1, 4) is parts[2] and cache.get(V1, 6) is None


def test_pinned_parts_are_never_evicted() -> None:
    cache = BlockCache(capacity=32, block_size=BS)
    pinned = new_part(cache, V1, 0, 2)
    cache.pin(pinned)
    fill(cache, pinned)
    assert not pinned.in_lru and cache.reserved_bytes == 32
    for i in range(1, 5):
        fill(cache, new_part(cache, V1, 2 * i, 2 * i + 2))
    assert cache.get(V1, 0) is pinned
    cache.unpin(pinned)  # back to the LRU as most recent: the other one goes
    assert pinned.in_lru and cache.cached_bytes == 32 and cache.reserved_bytes == 0
    with pytest.raises(AssertionError):
        cache.unpin(pinned)


def test_part_larger_than_capacity_is_not_kept() -> None:
    cache = BlockCache(capacity=10, block_size=BS)
    part = new_part(cache, V1, 0, 2)
    fill(cache, part)
    assert part.ok and part.data == bytes(32)  # the holder still has its bytes
    assert cache.get(V1, 0) is None and cache.cached_bytes == 0


def test_failed_part_is_forgotten_and_wakes_waiters() -> None:
    cache = BlockCache(capacity=1000, block_size=BS)
    part = new_part(cache, V1, 0, 2)
    cache.pin(part)
    err = TransportError("boom")
    cache.fail(part, err)
    assert part.done.is_set() and part.error is err and not part.ok
    assert cache.get(V1, 0) is None
    assert cache.reserved_bytes == 0 and cache.cached_bytes == 0
    cache.unpin(part)
    assert cache.reserved_bytes == 0
    new_part(cache, V1, 0, 2)  # the blocks can be fetched again


def test_invalidate_drops_all_versions_of_one_file_only() -> None:
    cache = BlockCache(capacity=1000, block_size=BS)
    a = new_part(cache, V1, 0, 2)
    b = new_part(cache, V1B, 0, 2)
    c = new_part(cache, V2, 0, 2)
    pending = new_part(cache, V1, 4, 6)
    for p in (a, b, c):
        fill(cache, p)
    dropped = cache.invalidate_file("f1")
    assert set(map(id, dropped)) == {id(a), id(b), id(pending)}
    assert cache.get(V1, 0) is None and cache.get(V1B, 0) is None and cache.get(V1, 4) is None
    assert cache.get(V2, 0) is c
    assert cache.cached_bytes == 32  # only f2's part
    assert cache.reserved_bytes == 32  # the pending part keeps its reservation until it ends
    fill(cache, pending)  # completes after invalidation: not cached
    assert cache.reserved_bytes == 0 and cache.cached_bytes == 32
    assert cache.get(V1, 4) is None


def test_wasted_prefetch_is_counted_on_eviction() -> None:
    cache = BlockCache(capacity=32, block_size=BS)
    unused = Part(V1, 0, 2, BS, prefetch=True)
    cache.add(unused)
    fill(cache, unused)
    used = Part(V1, 2, 4, BS, prefetch=True)
    cache.add(used)
    fill(cache, used)  # evicts `unused`
    assert cache.wasted_bytes == 32
    used.used = True
    fill(cache, new_part(cache, V1, 4, 6))  # evicts `used`: not waste
    assert cache.wasted_bytes == 32


def test_drop_pending_part_releases_on_completion() -> None:
    cache = BlockCache(capacity=1000, block_size=BS)
    part = new_part(cache, V2, 0, 3)
    cache.drop(part)
    assert cache.get(V2, 0) is None and cache.reserved_bytes == 48
    cache.fail(part, TransportError("cancelled"))
    assert cache.reserved_bytes == 0 and cache.cached_bytes == 0
