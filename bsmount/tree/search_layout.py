"""``Search/``: the Search API as directories (product-spec §4, docs/search.md).

::

    Search/                      the scopes: projects runs samples appresults genomes
                                 sample_files appresult_files (+ .refresh .error)
    Search/<scope>/              empty (+ .refresh .error); looking up any name runs it as a query
    Search/<scope>/<query>/      every result (all pages): a symlink to the entity's place in the
                                 tree (../../../Projects/<p>/AppResults/<a>/Files/x.vcf.gz), or a
                                 directory of metadata files where it has none (genomes);
                                 .json (the raw result list), .total (how many: TotalCount),
                                 .id.<id> links, .refresh, .error

Results are listed (``readdir`` order, ``ls -U``) in the service's relevance order, best match
first (the Search API's default ``SortBy=Score``), which bsmount keeps: a duplicate name's
suffix follows creation dates, never the listing order. ``ls`` sorts by name; ``ls -U`` or
``find`` show the ranking.

The query is the directory name, with ``／`` (U+FF0F) standing for ``/``. Names starting with ``.``
are never queries (tools probe for ``.git``, ``.Trash``...). Scopes may be combined with commas
(``Search/samples,appresults/...``). Symlink targets are built from the tree's own listings
(:class:`~bsmount.tree.tree.Tree`), so names — duplicate suffixes included — match exactly; an
entity the tree cannot place is linked to its ``.ResourceById`` directory instead.

A bad scope or query makes the lookup fail with :class:`LookupRefused` (the FUSE adapter answers
ENOENT and puts the reason in the parent's ``.error``); the refusal is remembered in the tree's
negative cache, so it is not re-run at every lookup. Results are cached like any listing (the
metadata TTL); ``.refresh`` in a query directory drops them. The kinds are
:class:`SearchRootKind`, :class:`SearchScopeKind` and :class:`SearchQueryKind`, declared in
:mod:`bsmount.tree.kinds`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

import trio

from bsmount.api.models import Entity, FileInfo
from bsmount.api.search import SCOPES, SearchError, SearchHit, check_scope, hits_of, search_items
from bsmount.errors import BsmountError
from bsmount.tree.layout import DIR_CONTROL_NAMES, dir_controls, display_name
from bsmount.tree.metacache import Listing
from bsmount.tree.naming import assign_names, sanitize_component
from bsmount.tree.nodes import (
    CachedKind,
    DirKind,
    DirSpec,
    LayoutContext,
    LookupRefused,
    Node,
    NodeKey,
    dir_node,
    link_node,
    static_file_node,
    to_ns,
)

__all__ = [
    "QUERY_SLASH",
    "TOTAL_FILE",
    "SearchQueryKind",
    "SearchRootKind",
    "SearchScopeKind",
    "query_of",
]

log = logging.getLogger(__name__)

TOTAL_FILE = ".total"  # the number of results (the service's TotalCount)
QUERY_SLASH = "\uff0f"  # "／" in a query directory's name stands for "/"
RESOLVE_CONCURRENCY = 8  # results placed at once (each may need a tree listing)
#: Kinds with a place in the tree; other results (genomes) are directories of metadata files.
_PLACED_KINDS = frozenset({"projects", "runs", "samples", "appresults", "files"})
_DEPTH = 3  # Search/<scope>/<query>/<entry>: "../" times this reaches the root


def query_of(name: str) -> str:
    """The query a directory name stands for (``／`` → ``/``)."""
    return name.replace(QUERY_SLASH, "/")


def _refuse(ctx: LayoutContext, parent: Node, name: str, action: str, reason: str) -> NoReturn:
    ctx.negative.add(parent.key, name)  # remembered: a bad name is not re-run at every lookup
    raise LookupRefused(parent.key, action, reason)


class SearchRootKind(CachedKind):
    """``Search/``: the scopes; looking up a comma-joined list of scopes works too."""

    def __init__(self, name: str, shows: str, *, scope: DirKind) -> None:
        super().__init__(name, shows)
        self.scope = scope

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        listing = Listing()
        for scope in SCOPES:
            listing.entries[scope] = dir_node((*node.key, scope), DirSpec(self.scope, (scope,)))
        listing.entries.update(dir_controls(node.key))
        return listing

    async def lookup_unlisted(self, ctx: LayoutContext, parent: Node, name: str) -> Node | None:
        if name.startswith("."):
            return None
        reason = check_scope(name)
        if reason is not None:
            _refuse(ctx, parent, name, f"scope {name!r}", reason)
        return dir_node((*parent.key, name), DirSpec(self.scope, (name,)))


class SearchScopeKind(CachedKind):
    """``Search/<scope>/``: empty; looking up any name runs it as a query."""

    def __init__(self, name: str, shows: str, *, query: DirKind) -> None:
        super().__init__(name, shows)
        self.query = query

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        return Listing(entries=dir_controls(node.key))

    async def lookup_unlisted(self, ctx: LayoutContext, parent: Node, name: str) -> Node | None:
        if name.startswith("."):  # tools probe for .git, .Trash...: never queries
            return None
        assert parent.spec is not None
        node = dir_node(
            (*parent.key, name), DirSpec(self.query, (parent.spec.args[0], query_of(name)))
        )
        try:
            await ctx.listing(node)  # runs the query now: a bad one must fail the lookup
        except SearchError as exc:
            _refuse(ctx, parent, name, f"search {name!r}", exc.reason)
        return node


class SearchQueryKind(CachedKind):
    """``Search/<scope>/<query>/``: every result, as a symlink to its place in the tree (or a
    metadata directory of ``meta`` kind where it has none)."""

    def __init__(self, name: str, shows: str, *, meta: DirKind, resource_root: str) -> None:
        super().__init__(name, shows)
        self.meta = meta
        self.resource_root = resource_root  # where unplaced results are linked instead

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        assert node.spec is not None
        scope, query = node.spec.args
        return await _list_query(ctx, node, scope, query, self)


# -- query directories ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Placed:
    hit: SearchHit
    entity: Entity
    target: str | None  # a symlink target, or None for a directory of metadata files


async def _list_query(
    ctx: LayoutContext, node: Node, scope: str, query: str, kind: SearchQueryKind
) -> Listing:
    items = await search_items(ctx.client, scope, query)
    hits = hits_of(items)
    resolver = _Resolver(ctx, kind.resource_root)
    placed: list[_Placed | None] = [None] * len(hits)
    pending = iter(range(len(hits)))

    async def worker() -> None:
        for index in pending:  # the workers share one iterator: each hit is placed once
            placed[index] = await resolver.place(hits[index])

    async with trio.open_nursery() as nursery:
        for _ in range(min(RESOLVE_CONCURRENCY, len(hits))):
            nursery.start_soon(worker)
    results = [p for p in placed if p is not None]
    if len(results) < len(hits):
        log.info(
            "search %s %r: %d results without an entity left out",
            scope,
            query,
            len(hits) - len(results),
        )
    listing = Listing()
    named = assign_names(
        results,
        name_of=lambda p: display_name(p.entity) or p.entity.id,
        id_of=lambda p: p.entity.id,
        created_of=lambda p: p.entity.date_created,
        reserved=[
            ".json",
            TOTAL_FILE,
            *DIR_CONTROL_NAMES,
            *(f".id.{p.entity.id}" for p in results),
        ],
    )
    links: dict[str, Node] = {}
    for item in named:
        entity = item.item.entity
        key = (*node.key, f"{item.item.hit.kind or 'item'}:{entity.id}")
        mtime = to_ns(entity.date_modified or entity.date_created)
        if item.item.target is not None:
            listing.entries[item.name] = link_node(key, item.item.target, mtime)
        else:
            spec = DirSpec(kind.meta, (entity.id,), entity)
            listing.entries[item.name] = dir_node(key, spec, mtime)
        id_link = f".id.{entity.id}"
        if id_link not in links:  # ids repeat only across the types of combined scopes
            links[id_link] = link_node((*node.key, id_link), item.name, mtime)
    listing.entries.update(links)

    async def raw_results() -> bytes:  # rendered when opened: large result lists cost no time
        return (json.dumps(items, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    listing.entries[".json"] = static_file_node((*node.key, ".json"), loader=raw_results)
    listing.entries[TOTAL_FILE] = static_file_node(  # every page is fetched: TotalCount
        (*node.key, TOTAL_FILE), f"{len(items)}\n".encode()
    )
    listing.entries.update(dir_controls(node.key))
    log.info("search %s %r: %d results", scope, query, len(results))
    return listing


@dataclass(frozen=True)
class _Id:
    """A step of a walk: the entity with this id in a list directory (its ``.id.<id>`` link)."""

    entity_id: str


class _Resolver:
    """Finds results' places through the tree's listings (cached, so shared prefixes cost one
    request), with a reverse index (node key -> name) per ``Files`` directory."""

    def __init__(self, ctx: LayoutContext, resource_root: str) -> None:
        self.ctx = ctx
        self.resource_root = resource_root
        self._names: dict[NodeKey, tuple[Listing, dict[NodeKey, str]]] = {}

    async def place(self, hit: SearchHit) -> _Placed | None:
        """Where a result lives, as a symlink target relative to its query directory."""
        entity = hit.entity
        if entity is None:
            return None
        names: list[str] | None = None
        try:
            names = await self._names_of(hit, entity)
        except BsmountError as exc:  # a listing on the way failed: fall back to .ResourceById
            log.info("no place for %s %s in the tree: %s", hit.kind, entity.id, exc)
        up = "../" * _DEPTH
        if names is not None:
            return _Placed(hit, entity, up + "/".join(names))
        if hit.kind in _PLACED_KINDS:  # a place we could not find: the entity by id instead
            return _Placed(hit, entity, f"{up}{self.resource_root}/{hit.kind}/{entity.id}")
        return _Placed(hit, entity, None)

    async def _names_of(self, hit: SearchHit, entity: Entity) -> list[str] | None:
        project = hit.project.id if hit.project is not None else None
        if hit.kind == "projects":
            return await self._walk_names(["Projects", _Id(entity.id)])
        if hit.kind == "runs":
            return await self._walk_names(["Runs", _Id(entity.id)])
        if not project:
            return None
        if hit.kind == "samples":
            return await self._walk_names(["Projects", _Id(project), "Samples", _Id(entity.id)])
        if hit.kind == "appresults":
            return await self._walk_names(["Projects", _Id(project), "AppResults", _Id(entity.id)])
        if hit.kind != "files" or not isinstance(entity, FileInfo):
            return None
        steps: list[str | _Id]
        if hit.appresult is not None:
            steps = ["Projects", _Id(project), "AppResults", _Id(hit.appresult.id), "Files"]
        elif hit.sample is not None:
            steps = ["Projects", _Id(project), "Samples", _Id(hit.sample.id), "Files"]
        else:
            return None
        walked = await self._walk(steps)
        if walked is None:
            return None
        rest = await self._file_names(walked[1], entity)
        return walked[0] + rest if rest is not None else None

    async def _walk_names(self, steps: Sequence[str | _Id]) -> list[str] | None:
        walked = await self._walk(steps)
        return walked[0] if walked is not None else None

    async def _walk(self, steps: Sequence[str | _Id]) -> tuple[list[str], Node] | None:
        node = self.ctx.root
        names: list[str] = []
        for step in steps:
            entries = (await self.ctx.listing(node)).entries
            if isinstance(step, _Id):
                link = entries.get(f".id.{step.entity_id}")
                name = link.target if link is not None else None
            else:
                name = step
            child = entries.get(name) if name is not None else None
            if name is None or child is None or not child.is_dir:
                return None
            names.append(name)
            node = child
        return names, node

    async def _file_names(self, files_node: Node, info: FileInfo) -> list[str] | None:
        """The names from a ``Files`` directory down to the file (matched by its key)."""
        parts = [p for p in (info.path or info.name).split("/") if p]
        node = files_node
        names: list[str] = []
        for part in parts[:-1]:
            component = sanitize_component(part, "_")
            child = (await self.ctx.listing(node)).entries.get(component)
            if child is None or not child.is_dir:
                return None
            names.append(component)
            node = child
        listing = await self.ctx.listing(node)
        known = self._names.get(node.key)
        if known is None or known[0] is not listing:
            known = (listing, {child.key: name for name, child in listing.entries.items()})
            self._names[node.key] = known
        name = known[1].get((*files_node.key, "f", info.id))
        return [*names, name] if name is not None else None
