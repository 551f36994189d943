"""Filters as directories (``bs list ... --filter``), and lists of links to ``.ResourceById``.

::

    Datasets/.type/                     one directory per DatasetType.Id in Datasets/
    Datasets/.type/<type>/<name>        -> ../../<name>, the datasets of that type
    AppSessions/.status/<status>/<name> -> ../../<name>, the appsessions in that ExecutionStatus
    BioSamples/<b>/AppSessions/<name>   -> ../../../.ResourceById/appsessions/<id>

A filter directory lists nothing of its own: it reads the listing of the list directory it
filters (its :attr:`DirSpec.source`, through the listing cache: no request when that listing is
cached) and shows the entries whose value matches, as symlinks, so names and inodes stay the
list's. A value directory also holds ``.list.csv .list.json .headers`` of its subset
(:mod:`.list_files`). Values known in advance (the execution statuses) are listed even when no
entity has them, so ``ls AppSessions/.status/Running/`` is empty rather than missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bsmount.tree.layout import EntityListKind, dir_controls
from bsmount.tree.list_files import list_file_entries
from bsmount.tree.metacache import Listing
from bsmount.tree.naming import sanitize_component
from bsmount.tree.nodes import (
    CachedKind,
    DirKind,
    DirSpec,
    LayoutContext,
    Node,
    NodeKey,
    dir_node,
    link_node,
)

__all__ = ["FilterKind", "FilterValueKind", "ResourceLinkListKind"]

ValueOf = Callable[[Any], str]


def _entities(listing: Listing) -> list[tuple[str, Node, Any]]:
    """(name, node, entity) of the entities a list directory shows (not its dot files)."""
    found = []
    for name, child in listing.entries.items():
        entity = _entity_of(child)
        if entity is not None and not name.startswith("."):
            found.append((name, child, entity))
    return found


def _entity_of(node: Node) -> Any:
    return node.spec.entity if node.spec is not None else None


class FilterValueKind(CachedKind):
    """``<list>/.<filter>/<value>/``: symlinks to the list's entries whose value is ``args[0]``,
    and the subset's ``.list.csv .list.json .headers``."""

    def __init__(self, name: str, shows: str, *, value_of: ValueOf) -> None:
        super().__init__(name, shows)
        self.value_of = value_of

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        spec = node.spec
        assert spec is not None and spec.source is not None
        wanted = spec.args[0]
        source = await ctx.listing(spec.source)
        listing = Listing()
        matching = []
        for name, child, entity in _entities(source):
            if self.value_of(entity) != wanted:
                continue
            matching.append(entity)
            listing.entries[name] = link_node(
                node.key + (entity.id,), f"../../{name}", child.mtime_ns
            )
        if matching:
            kind = getattr(matching[0], "kind", "")
            listing.entries.update(list_file_entries(node.key, kind, matching))
        listing.entries.update(dir_controls(node.key))
        return listing


class FilterKind(CachedKind):
    """``<list>/.<filter>/``: one directory per value present in the list (and per ``known``
    value), each a :class:`FilterValueKind`."""

    def __init__(
        self, name: str, shows: str, *, value: FilterValueKind, known: Sequence[str] = ()
    ) -> None:
        super().__init__(name, shows)
        self.value = value
        self.known = tuple(known)

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        spec = node.spec
        assert spec is not None and spec.source is not None
        source = await ctx.listing(spec.source)
        values: dict[str, int] = {}
        for _name, child, entity in _entities(source):
            value = self.value_of(entity)
            if value:
                values[value] = max(values.get(value, 0), child.mtime_ns)
        for value in self.known:
            values.setdefault(value, 0)
        listing = Listing()
        for value in sorted(values):
            name = sanitize_component(value, value)
            if name.startswith(".") or name in listing.entries:
                continue  # a value that would hide as a dot file or collide: not worth a name
            value_spec = DirSpec(self.value, (value,), source=spec.source)
            key = node.key + (name,)
            listing.entries[name] = (
                dir_node(key, value_spec, values[value])
                if values[value]
                else dir_node(key, value_spec)
            )
        listing.entries.update(dir_controls(node.key))
        return listing

    def value_of(self, entity: Any) -> str:
        return self.value.value_of(entity)


class ResourceLinkListKind(EntityListKind):
    """A list whose entries are symlinks to the entities' ``.ResourceById`` directories (an
    appsession reached from a biosample has no project path of its own here). Its
    ``.list.csv``... are the list's; it has no filter directories (a filter needs entity
    directories to read)."""

    def __init__(
        self,
        name: str,
        shows: str,
        *,
        child: DirKind,
        fetch: Any,
        resource_type: str,
        resource_root: str,
    ) -> None:
        super().__init__(name, shows, child=child, fetch=fetch)
        self.resource_type = resource_type
        self.resource_root = resource_root

    def entity_node(self, key: NodeKey, entity: Any, mtime_ns: int) -> Node:
        up = "../" * (len(key) - 1)
        target = f"{up}{self.resource_root}/{self.resource_type}/{entity.id}"
        return link_node(key, target, mtime_ns)
