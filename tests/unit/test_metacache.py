"""Listing cache: TTL with an injected clock, single flight, bounds, invalidation."""

from __future__ import annotations

import pytest
import trio

from bsmount.tree.kinds import ROOT
from bsmount.tree.metacache import Listing, ListingCache, NegativeCache
from bsmount.tree.nodes import DirSpec, dir_node


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _listing(n: int) -> Listing:
    return Listing({str(i): dir_node((str(i),), DirSpec(ROOT)) for i in range(n)})


async def test_ttl_expiry_reloads() -> None:
    clock = Clock()
    cache = ListingCache(ttl=10, max_entries=100, timer=clock)
    loads = 0

    async def load() -> Listing:
        nonlocal loads
        loads += 1
        return _listing(2)

    await cache.get(("a",), load)
    clock.now = 9.9
    await cache.get(("a",), load)
    assert loads == 1
    clock.now = 10.1
    await cache.get(("a",), load)
    assert loads == 2


async def test_single_flight() -> None:
    cache = ListingCache(ttl=10, max_entries=100)
    loads = 0

    async def load() -> Listing:
        nonlocal loads
        loads += 1
        await trio.sleep(0.05)
        return _listing(1)

    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(cache.get, ("a",), load)
    assert loads == 1


async def test_failure_is_not_cached_and_reaches_all_waiters() -> None:
    cache = ListingCache(ttl=10, max_entries=100)
    failures = 0

    async def boom() -> Listing:
        await trio.sleep(0.01)
        raise OSError("down")

    async def waiter() -> None:
        nonlocal failures
        with pytest.raises(OSError):
            await cache.get(("a",), boom)
        failures += 1

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(waiter)
    assert failures == 3

    async def ok() -> Listing:
        return _listing(1)

    assert len((await cache.get(("a",), ok)).entries) == 1


async def test_bounded_by_entries() -> None:
    cache = ListingCache(ttl=100, max_entries=1000)
    for i in range(50):

        async def load() -> Listing:
            return _listing(100)

        await cache.get((str(i),), load)
    assert cache.entries <= 1000


async def test_invalidate_prefix() -> None:
    cache = ListingCache(ttl=100, max_entries=1000)
    for key in [("P",), ("P", "1"), ("P", "1", "S"), ("R",)]:
        cache.put(key, _listing(1))
    assert cache.invalidate(("P", "1")) == 2
    assert cache.peek(("P",)) is not None
    assert cache.peek(("P", "1", "S")) is None


def test_negative_cache() -> None:
    clock = Clock()
    neg = NegativeCache(ttl=5, timer=clock)
    neg.add(("a",), "x")
    assert (("a",), "x") in neg
    clock.now = 6
    assert (("a",), "x") not in neg
