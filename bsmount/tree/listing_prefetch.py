"""Listing prefetch: the sub-directories of a listed run directory are listed before they are asked.

A run folder is listed one directory at a time (v2 ``runs/{id}/files?directory=...``), so a walk
(``find``, ``du``, ``ls -R``, ``rsync``) costs one round trip per directory, one after another,
unless the next listings are already on their way. When a reader lists such a directory
(``opendir``), :class:`ListingPrefetcher` queues its sub-directories and a few worker tasks list
them through the tree's single-flight :class:`~bsmount.tree.metacache.ListingCache` — a reader
that arrives while a prefetch is in flight waits for it, and a prefetch of a listing a reader
already fetched is a cache hit, so no directory is ever listed twice.

Bounds, so a huge tree is never crawled on its own:

* only directories whose kind says so (``prefetch_listing``: run sub-directories; other trees arrive
  whole with one list call, and entity lists cost nothing to expand);
* at most ``max_depth`` levels below a directory a reader listed (1: its children only), so the
  prefetch follows the walker instead of running ahead of it through the whole run;
* at most ``concurrency`` listings in flight and ``max_pending`` queued (the rest are dropped);
* the queue is served shallowest first, then in the order the reader saw the entries, which is
  the order ``find`` descends in.

Prefetch failures are logged at debug level and counted, never raised: the reader that later
asks for that directory fetches it itself and sees the error then, if it persists. Workers run in
the mount's nursery and end with it; :meth:`ListingPrefetcher.close` cancels them earlier.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import trio

from bsmount.tree.metacache import Listing
from bsmount.tree.nodes import Node, NodeKey

__all__ = ["ListingPrefetcher", "PrefetchCounters", "prefetchable"]

log = logging.getLogger(__name__)

Load = Callable[[Node, int], Awaitable[Listing]]


def prefetchable(node: Node) -> bool:
    """Whether listing ``node`` costs a request of its own that a prefetch can hide."""
    return node.spec is not None and node.spec.kind.prefetch_listing


@dataclass(slots=True)
class PrefetchCounters:
    """Counters for ``.bsmount/stats`` and the tests."""

    queued: int = 0
    done: int = 0
    failed: int = 0
    dropped: int = 0
    peak_in_flight: int = 0


class ListingPrefetcher:
    """Lists the sub-directories of listed directories ahead of the reader, with bounds.

    ``load(node, depth)`` lists one directory through the cache (and, when ``depth`` is below
    ``max_depth``, hands the result back to :meth:`expand`). Without a nursery nothing is
    prefetched.
    """

    def __init__(
        self,
        load: Load,
        nursery: trio.Nursery | None,
        *,
        concurrency: int = 6,
        max_depth: int = 1,
        max_pending: int = 4096,
    ) -> None:
        self._load = load
        self._nursery = nursery
        self.concurrency = max(1, concurrency)
        self.max_depth = max(0, max_depth)
        self.max_pending = max(0, max_pending)
        self.counters = PrefetchCounters()
        self._heap: list[tuple[int, int, NodeKey]] = []
        self._queued: dict[NodeKey, tuple[int, Node]] = {}  # key -> (depth, node)
        self._order = itertools.count()
        self._workers = 0
        self._in_flight = 0
        self._scopes: set[trio.CancelScope] = set()
        self._closed = False

    def statistics(self) -> dict[str, int]:
        """The counters, for ``.bsmount/stats``."""
        return dataclasses.asdict(self.counters)

    @property
    def enabled(self) -> bool:
        return self._nursery is not None and not self._closed and self.max_depth > 0

    @property
    def pending(self) -> int:
        return len(self._queued)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def expand(self, directory: Node, listing: Listing, depth: int) -> None:
        """Queue the prefetchable sub-directories of ``directory`` (its ``listing``, listed at
        ``depth``; 0: by a reader). A listing object is expanded once per depth it is seen at,
        so listing a cached directory again costs one comparison."""
        spec = directory.spec
        if not self.enabled or depth >= self.max_depth or spec is None:
            return
        if not spec.kind.prefetch_children:
            return
        seen = listing.prefetch_depth
        if seen is not None and seen <= depth:
            return
        listing.prefetch_depth = depth
        self.schedule((child for child in listing.entries.values() if prefetchable(child)), depth)

    def schedule(self, nodes: Iterable[Node], parent_depth: int) -> None:
        """Queue ``nodes`` at ``parent_depth + 1`` and start workers as needed."""
        if not self.enabled:
            return
        depth = parent_depth + 1
        for node in nodes:
            known = self._queued.get(node.key)
            if known is not None and known[0] <= depth:
                continue
            if known is None and len(self._queued) >= self.max_pending:
                self.counters.dropped += 1
                continue
            self._queued[node.key] = (depth, node)
            heapq.heappush(self._heap, (depth, next(self._order), node.key))
            self.counters.queued += 1
        self._start_workers()

    def forget(self, prefix: NodeKey) -> None:
        """Drop queued work at and below ``prefix`` (its listings were invalidated)."""
        size = len(prefix)
        for key in [k for k in self._queued if k[:size] == prefix]:
            del self._queued[key]  # its heap entry is skipped when popped

    def close(self) -> None:
        """Stop prefetching: the queue is emptied and running listings are cancelled."""
        self._closed = True
        self._queued.clear()
        self._heap.clear()
        for scope in list(self._scopes):
            scope.cancel()

    def _start_workers(self) -> None:
        assert self._nursery is not None
        while self._workers < min(self.concurrency, len(self._queued)):
            self._workers += 1
            self._nursery.start_soon(self._worker)

    def _pop(self) -> tuple[int, Node] | None:
        while self._heap:
            depth, _seq, key = heapq.heappop(self._heap)
            queued = self._queued.get(key)
            if queued is None or queued[0] != depth:
                continue  # forgotten, or queued again at a smaller depth (that entry comes first)
            del self._queued[key]
            return queued
        return None

    async def _worker(self) -> None:
        scope = trio.CancelScope()
        self._scopes.add(scope)
        try:
            with scope:
                while not self._closed:
                    item = self._pop()
                    if item is None:
                        return
                    depth, node = item
                    self._in_flight += 1
                    peak = max(self.counters.peak_in_flight, self._in_flight)
                    self.counters.peak_in_flight = peak
                    try:
                        await self._load(node, depth)
                        self.counters.done += 1
                    except Exception as exc:  # the reader asking later sees it, not this task
                        self.counters.failed += 1
                        name = type(exc).__name__
                        log.debug("prefetch of listing %r failed: %s: %s", node.key, name, exc)
                    finally:
                        self._in_flight -= 1
        finally:
            self._scopes.discard(scope)
            self._workers -= 1
