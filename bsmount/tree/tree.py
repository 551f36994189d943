"""The virtual tree: turns directory nodes into cached listings and names into nodes.

:class:`Tree` is what the FUSE adapter talks to. It owns the metadata caches
(:mod:`bsmount.tree.metacache`) and asks each directory's kind (:mod:`bsmount.tree.kinds`) for
its listing and for names its listing does not show, handing the kinds a narrow
:class:`~bsmount.tree.nodes.LayoutContext`. Listing a directory for a walker
(``walk=True``, what ``opendir`` asks) also queues its sub-directories for the listing prefetch
(:mod:`bsmount.tree.listing_prefetch`). It never touches pyfuse3 and raises only domain
exceptions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import trio

from bsmount.config.settings import Defaults
from bsmount.tree.kinds import ROOT
from bsmount.tree.listing_prefetch import ListingPrefetcher
from bsmount.tree.metacache import Listing, ListingCache, NegativeCache
from bsmount.tree.nodes import DirSpec, LayoutClient, LayoutContext, Node, NodeKey, dir_node

__all__ = ["ROOT_KEY", "Tree"]

log = logging.getLogger(__name__)

ROOT_KEY: NodeKey = ()


class Tree:
    """Listings and lookups over the BaseSpace account, with TTL caching."""

    def __init__(
        self,
        client: LayoutClient,
        *,
        ttl: float = Defaults.metadata_ttl,
        negative_ttl: float = Defaults.negative_ttl,
        max_entries: int = Defaults.max_cached_entries,
        timer: Callable[[], float] = time.monotonic,
        nursery: trio.Nursery | None = None,
        prefetch_concurrency: int = 6,
        prefetch_depth: int = 1,
        biosample_project: str | None = None,
    ) -> None:
        """``nursery``: where listing prefetch workers run (None, or a TTL of 0 — nothing to
        keep the prefetched listings in —: no prefetch); ``biosample_project``: the project
        (name or id) of biosamples made by ``mkdir BioSamples/NAME`` (None: refused)."""
        self.client = client
        self.root = dir_node(ROOT_KEY, DirSpec(ROOT))
        self.cache = ListingCache(ttl, max_entries, timer)
        self.negative = NegativeCache(min(negative_ttl, ttl) if ttl > 0 else 0.0, timer=timer)
        self.context = LayoutContext(
            client, self.cache, self.negative, self.root, self._listing, biosample_project
        )
        self.prefetcher = ListingPrefetcher(
            self._prefetch_load,
            nursery if ttl > 0 else None,
            concurrency=prefetch_concurrency,
            max_depth=prefetch_depth,
        )

    async def listing(self, node: Node, *, walk: bool = False) -> Listing:
        """The entries of directory ``node`` (cached for the TTL; all pages fetched).

        ``walk``: a reader is listing the directory (``opendir``), not resolving a name in it:
        its run sub-directories are prefetched.
        """
        listing = await self._listing(node)
        if walk:
            self.prefetcher.expand(node, listing, 0)
        return listing

    async def _prefetch_load(self, node: Node, depth: int) -> Listing:
        listing = await self._listing(node)
        self.prefetcher.expand(node, listing, depth)
        return listing

    def close(self) -> None:
        """Stop background work (prefetch); cached listings stay readable."""
        self.prefetcher.close()

    async def _listing(self, node: Node) -> Listing:
        if node.spec is None:
            raise NotADirectoryError(node.key)
        return await node.spec.kind.listing(self.context, node)

    async def lookup(self, parent: Node, name: str) -> Node | None:
        """The child called ``name`` of ``parent``, or None (remembered briefly)."""
        if (parent.key, name) in self.negative:
            return None
        child = (await self.listing(parent)).entries.get(name)
        if child is None and parent.spec is not None:
            child = await parent.spec.kind.lookup_unlisted(self.context, parent, name)
        if child is None:
            self.negative.add(parent.key, name)
        return child

    async def make_directory(self, parent: Node, name: str) -> Node:
        """``mkdir``: create ``name`` in ``parent`` as its kind says, and return the new node."""
        if parent.spec is None:
            raise NotADirectoryError(parent.key)
        for key in await parent.spec.kind.make_directory(self.context, parent, name):
            self.invalidate(key)
        child = await self.lookup(parent, name)
        if child is None:
            raise FileNotFoundError(f"{name!r} was created but is not listed yet")
        return child

    def invalidate(self, prefix: NodeKey = ROOT_KEY) -> int:
        """Forget cached listings at and below ``prefix`` (a ``.refresh`` write, a remount)."""
        self.negative.invalidate(prefix)
        self.prefetcher.forget(prefix)
        return self.cache.invalidate(prefix)
