"""``.ResourceById/``: any entity by its id, without knowing its path (as BaseMount had).

::

    .ResourceById/                   the types below (+ .refresh .error)
    .ResourceById/<type>/            empty (+ .refresh .error); looking up an id fetches the entity
    .ResourceById/<type>/<id>/       the entity's directory, with the same contents as its place
                                     in the tree, built from one GET of the entity
    .ResourceById/files/<id>         the file itself (readable, like any file of the tree)

An id may be given in either form where an entity has two (:mod:`.id_layout`, ``bs translate``):
``datasets/<v1 id>`` (``123`` or ``sample.123``) is the dataset that is also that sample, and
``samples/ds.<hex>`` the sample that dataset also is.

Types: projects runs samples appresults appsessions biosamples datasets genomes files. An
appsession's ``AppResults/`` and ``Datasets/`` hold symlinks to their outputs' ``.ResourceById``
directories (``../../../appresults/<id>``), since an appsession has no project here. A genome,
which has no place in the tree, is a directory of metadata files. An unknown id gives ENOENT with
the reason in ``.ResourceById/<type>/.error`` (:class:`LookupRefused`). The entity fetched by a
lookup is cached like a listing (the metadata TTL; ``.refresh`` drops it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from bsmount.api.models import AppResult, Entity, FileInfo, parse_list
from bsmount.api.routes import segment
from bsmount.errors import Gone, NotFound
from bsmount.tree.id_layout import lookup_entity
from bsmount.tree.layout import DIR_CONTROL_NAMES, dir_controls, display_name, entity_dir
from bsmount.tree.metacache import Listing
from bsmount.tree.naming import assign_names
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
    remote_file_node,
    to_ns,
)

__all__ = ["ROOT_NAME", "TYPES", "ResourceLinksKind", "ResourceRootKind", "ResourceTypeKind"]

log = logging.getLogger(__name__)

ROOT_NAME = ".ResourceById"
TYPES = (
    "projects",
    "runs",
    "samples",
    "appresults",
    "appsessions",
    "biosamples",
    "datasets",
    "genomes",
    "files",
)
_ENTRY = "\x00entity"  # key suffix under which a looked-up entity is cached as a listing


class ResourceRootKind(CachedKind):
    """``.ResourceById/``: one directory per entity type."""

    def __init__(self, name: str, shows: str, *, type_kind: DirKind) -> None:
        super().__init__(name, shows)
        self.type_kind = type_kind

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        listing = Listing()
        for type_ in TYPES:
            listing.entries[type_] = dir_node((*node.key, type_), DirSpec(self.type_kind, (type_,)))
        listing.entries.update(dir_controls(node.key))
        return listing


class ResourceTypeKind(CachedKind):
    """``.ResourceById/<type>/``: lists nothing; a lookup of an id fetches that entity.

    ``entity_kinds``: type → the kind of its directory; a type missing there (genomes) is shown
    as a directory of ``meta`` kind; files are files."""

    def __init__(
        self, name: str, shows: str, *, entity_kinds: Mapping[str, DirKind], meta: DirKind
    ) -> None:
        super().__init__(name, shows)
        self.entity_kinds = dict(entity_kinds)
        self.meta = meta

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        return Listing(entries=dir_controls(node.key))

    async def lookup_unlisted(self, ctx: LayoutContext, parent: Node, name: str) -> Node | None:
        if name.startswith("."):
            return None
        assert parent.spec is not None
        type_ = parent.spec.args[0]
        key = (*parent.key, name)

        async def load() -> Listing:
            try:
                entity = await lookup_entity(ctx, parent.key, type_, name)
            except (NotFound, Gone) as exc:
                raise LookupRefused(parent.key, f"{type_} {name!r}", f"no such id: {exc}") from exc
            return Listing(entries={name: self._node_for(parent.key, type_, name, entity)})

        try:
            listing = await ctx.cache.get((*key, _ENTRY), load)
        except LookupRefused:
            ctx.negative.add(parent.key, name)  # remembered: not re-fetched at every lookup
            raise
        return listing.entries.get(name)

    def _node_for(self, parent_key: NodeKey, type_: str, name: str, entity: Entity) -> Node:
        key = (*parent_key, name)
        mtime = to_ns(entity.date_modified or entity.date_created)
        entity_id = entity.id or name
        if isinstance(entity, FileInfo):
            if not entity.is_complete:
                raise LookupRefused(
                    parent_key, f"files {name!r}", f"file {name}: upload is {entity.upload_status}"
                )
            return remote_file_node(key, entity.version(), mtime)
        kind = self.entity_kinds.get(type_)
        if kind is None:  # genomes: no place in the tree, metadata files only
            return dir_node(key, DirSpec(self.meta, (entity_id,), entity), mtime)
        return entity_dir(key, kind, entity)


class ResourceLinksKind(CachedKind):
    """``.ResourceById/appsessions/<id>/AppResults`` or ``Datasets``: symlinks to the
    ``.ResourceById`` directories of the appsession's outputs of ``output_type``."""

    def __init__(self, name: str, shows: str, *, output_type: str) -> None:
        super().__init__(name, shows)
        self.output_type = output_type

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        assert node.spec is not None
        appsession_id = node.spec.args[0]
        entities: Sequence[Any]
        if self.output_type == "appresults":
            path = f"v1pre3/appsessions/{segment(appsession_id)}/appresults"
            entities = parse_list(AppResult, await ctx.client.list_items(path))
        else:
            entities = await ctx.client.list_datasets(appsession_id=appsession_id)
        entities = [e for e in entities if e.id]
        named = assign_names(
            entities,
            name_of=display_name,
            id_of=lambda e: str(e.id),
            created_of=lambda e: e.date_created,
            reserved=[*DIR_CONTROL_NAMES, *(f".id.{e.id}" for e in entities)],
        )
        listing = Listing()
        links: dict[str, Node] = {}
        for item in named:
            entity = item.item
            mtime = to_ns(entity.date_modified or entity.date_created)
            listing.entries[item.name] = link_node(
                (*node.key, entity.id), f"../../../{self.output_type}/{entity.id}", mtime
            )
            links[f".id.{entity.id}"] = link_node((*node.key, f".id.{entity.id}"), item.name, mtime)
        listing.entries.update(links)
        listing.entries.update(dir_controls(node.key))
        return listing
