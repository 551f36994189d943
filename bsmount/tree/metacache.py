"""The metadata cache: directory listings and negative lookups, with TTLs and bounds.

* Listings are kept for ``ttl`` seconds (``--metadata-ttl``), in a cachetools ``TTLCache`` whose
  size is the number of entries it holds, so ``find`` over a huge account cannot grow memory past
  ``max_entries``.
* Concurrent requests for the same listing share one fetch (single flight); a failed fetch is
  not cached and wakes every waiter with the error — except a cancelled one (the loading task's
  deadline, a stopped prefetch), after which a waiter loads the listing itself.
* Negative lookups (a name that is not there) are remembered for a shorter ``negative_ttl``.
* ``invalidate(prefix)`` drops a subtree (keys are tuples of ids, so a subtree is a key prefix).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import trio
from cachetools import TTLCache

from bsmount.tree.nodes import Listing, NodeKey

__all__ = ["Listing", "ListingCache", "NegativeCache"]

log = logging.getLogger(__name__)


class _Flight:
    def __init__(self) -> None:
        self.done = trio.Event()
        self.result: Listing | None = None
        self.error: BaseException | None = None


class ListingCache:
    """TTL- and size-bounded cache of listings with single-flight loading."""

    def __init__(
        self,
        ttl: float,
        max_entries: int,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self._timer = timer
        self._cache: TTLCache[NodeKey, Listing] = TTLCache(
            maxsize=max(1, max_entries),
            ttl=max(ttl, 0.000001),
            timer=timer,
            getsizeof=lambda listing: max(1, len(listing.entries)),
        )
        self._flights: dict[NodeKey, _Flight] = {}
        self.hits = 0
        self.misses = 0

    def peek(self, key: NodeKey) -> Listing | None:
        """A cached listing if it is still fresh; never loads."""
        if self.ttl <= 0:
            return None
        return self._cache.get(key)

    async def get(self, key: NodeKey, load: Callable[[], Awaitable[Listing]]) -> Listing:
        cached = self.peek(key)
        if cached is not None:
            self.hits += 1
            return cached
        flight = self._flights.get(key)
        while flight is not None:
            await flight.done.wait()
            if flight.result is not None:
                return flight.result
            if not isinstance(flight.error, trio.Cancelled):
                assert flight.error is not None
                raise flight.error
            # The loading task was cancelled (its own deadline, a prefetch stopped): that is no
            # answer for this one, which loads (or joins a newer flight) itself.
            flight = self._flights.get(key)
        self.misses += 1
        flight = _Flight()
        self._flights[key] = flight
        try:
            listing = await load()
            listing.fetched_at = self._timer()
            flight.result = listing
            if self.ttl > 0:
                try:
                    self._cache[key] = listing
                except ValueError:  # a single listing larger than the whole cache
                    log.debug(
                        "listing %r (%d entries) exceeds the cache", key, len(listing.entries)
                    )
            return listing
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            del self._flights[key]
            flight.done.set()

    def put(self, key: NodeKey, listing: Listing) -> None:
        """Store a listing fetched as a by-product of another (a whole ``Files`` tree at once)."""
        if self.ttl <= 0:
            return
        listing.fetched_at = self._timer()
        try:
            self._cache[key] = listing
        except ValueError:
            log.debug("listing %r (%d entries) exceeds the cache", key, len(listing.entries))

    def invalidate(self, prefix: NodeKey) -> int:
        """Drop every listing at or below ``prefix``; returns how many were dropped."""
        doomed = [key for key in list(self._cache.keys()) if key[: len(prefix)] == prefix]
        for key in doomed:
            self._cache.pop(key, None)
        return len(doomed)

    def clear(self) -> None:
        self._cache.clear()

    @property
    def entries(self) -> int:
        return int(self._cache.currsize)


class NegativeCache:
    """Remembers (directory key, name) pairs that do not exist, briefly."""

    def __init__(
        self, ttl: float, max_entries: int = 100_000, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._cache: TTLCache[tuple[NodeKey, str], bool] = TTLCache(
            maxsize=max_entries, ttl=max(ttl, 0.000001), timer=timer
        )

    def __contains__(self, item: tuple[NodeKey, str]) -> bool:
        return self.ttl > 0 and item in self._cache

    def add(self, parent: NodeKey, name: str) -> None:
        if self.ttl > 0:
            self._cache[(parent, name)] = True

    def invalidate(self, prefix: NodeKey) -> None:
        for key in [k for k in list(self._cache.keys()) if k[0][: len(prefix)] == prefix]:
            self._cache.pop(key, None)
