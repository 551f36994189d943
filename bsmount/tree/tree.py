"""The virtual tree: turns directory nodes into cached listings and names into nodes.

:class:`Tree` is what the FUSE adapter talks to. It owns the metadata caches
(:mod:`bsmount.tree.metacache`) and delegates the shape of each directory to
:mod:`bsmount.tree.layout`. Listing a run directory for a walker (``walk=True``, what
``opendir`` asks) also queues its sub-directories for :mod:`bsmount.tree.prefetch`. It never
touches pyfuse3 and raises only domain exceptions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import trio

from bsmount.tree import search_layout
from bsmount.tree.file_layout import fetch_entity_files, file_tree_listings, list_run_directory
from bsmount.tree.layout import LayoutClient, list_directory
from bsmount.tree.metacache import Listing, ListingCache, NegativeCache
from bsmount.tree.nodes import DirSpec, Node, NodeKey, dir_node
from bsmount.tree.prefetch import ListingPrefetcher

__all__ = ["ROOT_KEY", "Tree"]

log = logging.getLogger(__name__)

ROOT_KEY: NodeKey = ()
_FILE_LISTS = ("files_samples", "files_appresults", "files_datasets")
_DYNAMIC = search_layout.DYNAMIC_KINDS
_SIBLING_KINDS = {"AppResults": "project_appresults", "Datasets": "project_datasets"}
# A Files/ tree of this many files or more is built in a worker thread (100,000 files take ~1.3 s).
_THREAD_MIN_FILES = 5000


class Tree:
    """Listings and lookups over the BaseSpace account, with TTL caching."""

    def __init__(
        self,
        client: LayoutClient,
        *,
        ttl: float = 60.0,
        negative_ttl: float = 5.0,
        max_entries: int = 1_000_000,
        timer: Callable[[], float] = time.monotonic,
        nursery: trio.Nursery | None = None,
        prefetch_concurrency: int = 6,
        prefetch_depth: int = 1,
    ) -> None:
        """``nursery``: where listing prefetch workers run (None, or a TTL of 0 — nothing to
        keep the prefetched listings in —: no prefetch)."""
        self.client = client
        self.root = dir_node(ROOT_KEY, DirSpec("root"))
        self.cache = ListingCache(ttl, max_entries, timer)
        self.negative = NegativeCache(min(negative_ttl, ttl) if ttl > 0 else 0.0, timer=timer)
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
        spec = node.spec
        if spec is None:
            raise NotADirectoryError(node.key)
        if spec.kind in _FILE_LISTS:
            return await self._file_tree(node.key, spec.kind, spec.args[0], node.key)
        if spec.kind == "filetree":
            source_kind, entity_id, _path = spec.args
            return await self._file_tree(node.key[:-2], source_kind, entity_id, node.key)
        if spec.kind == "runfiles":
            run_id = spec.args[0]
            path = spec.args[1] if len(spec.args) > 1 else ""
            return await self.cache.get(
                node.key, lambda: list_run_directory(self.client, node, run_id, path)
            )
        if spec.kind in search_layout.KINDS:  # Search/ and .ResourceById/
            return await self.cache.get(node.key, lambda: search_layout.list_special(self, node))
        return await self.cache.get(
            node.key, lambda: list_directory(self.client, node, self._sibling_listing)
        )

    async def lookup(self, parent: Node, name: str) -> Node | None:
        """The child called ``name`` of ``parent``, or None (remembered briefly)."""
        if (parent.key, name) in self.negative:
            return None
        child = (await self.listing(parent)).entries.get(name)
        if child is None and parent.spec is not None and parent.spec.kind in _DYNAMIC:
            child = await search_layout.lookup_special(self, parent, name)  # a query, an id
        if child is None:
            self.negative.add(parent.key, name)
        return child

    def invalidate(self, prefix: NodeKey = ROOT_KEY) -> int:
        """Forget cached listings at and below ``prefix`` (a ``.refresh`` write, a remount)."""
        self.negative.invalidate(prefix)
        self.prefetcher.forget(prefix)
        return self.cache.invalidate(prefix)

    async def _file_tree(
        self, files_key: NodeKey, kind: str, entity_id: str, wanted: NodeKey
    ) -> Listing:
        async def load() -> Listing:
            files = await fetch_entity_files(self.client, kind, entity_id)
            if len(files) < _THREAD_MIN_FILES:
                listings = file_tree_listings(files_key, kind, entity_id, files)
            else:  # ~13 µs per file: off the event loop, so other requests keep being answered
                listings = await trio.to_thread.run_sync(
                    file_tree_listings, files_key, kind, entity_id, files
                )
            for key, listing in listings.items():
                if key != wanted:
                    self.cache.put(key, listing)
            found = listings.get(wanted)
            if found is None:  # the sub-directory vanished on the server
                log.info("directory %r no longer exists in files of %s %s", wanted, kind, entity_id)
                return Listing()
            return found

        return await self.cache.get(wanted, load)

    async def _sibling_listing(self, key: NodeKey, dirname: str) -> Listing:
        project_id = key[-2]
        return await self.listing(dir_node(key, DirSpec(_SIBLING_KINDS[dirname], (project_id,))))
