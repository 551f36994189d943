"""``.ResourceById/``: any entity by its id, without knowing its path (as BaseMount had).

::

    .ResourceById/                   the types below (+ .refresh .error)
    .ResourceById/<type>/            empty (+ .refresh .error); looking up an id fetches the entity
    .ResourceById/<type>/<id>/       the entity's directory, with the same contents as its place
                                     in the tree, built from one GET of the entity
    .ResourceById/files/<id>         the file itself (readable, like any file of the tree)

Types: projects runs samples appresults appsessions biosamples datasets genomes files. An
appsession's ``AppResults/`` and ``Datasets/`` hold symlinks to their outputs' ``.ResourceById``
directories (``../../../appresults/<id>``), since an appsession has no project here. A genome,
which has no place in the tree, is a directory of metadata files. An unknown id gives ENOENT with
the reason in ``.ResourceById/<type>/.error`` (:class:`LookupRefused`). The entity fetched by a
lookup is cached like a listing (the metadata TTL; ``.refresh`` drops it).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bsmount.api.models import AppResult, Entity, FileInfo, parse_list
from bsmount.api.routes import segment
from bsmount.errors import BsmountError, Gone, NotFound
from bsmount.tree.layout import (
    DIR_CONTROLS,
    _meta_entries,
    dir_controls,
    display_name,
    entity_controls,
    entity_dir,
)
from bsmount.tree.metacache import Listing
from bsmount.tree.naming import assign_names
from bsmount.tree.nodes import (
    DirSpec,
    Node,
    NodeKey,
    dir_node,
    link_node,
    remote_file_node,
    to_ns,
)

if TYPE_CHECKING:
    from bsmount.tree.tree import Tree

__all__ = [
    "DYNAMIC_KINDS",
    "KINDS",
    "ROOT_NAME",
    "TYPES",
    "LookupRefused",
    "list_resource",
    "lookup_resource",
]

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
KINDS = frozenset({"resource_root", "resource_type", "resource_appsession", "resource_links"})
DYNAMIC_KINDS = frozenset({"resource_type"})
# Plural type -> the layout kind of its entity directory (those with a place in the tree).
_DIR_KINDS = {
    "projects": "project",
    "runs": "run",
    "samples": "sample",
    "appresults": "appresult",
    "biosamples": "biosample",
    "datasets": "dataset",
}
_ENTRY = "\x00entity"  # key suffix under which a looked-up entity is cached as a listing


class LookupRefused(BsmountError):
    """A lookup refused for a reason worth telling: the FUSE adapter answers ENOENT and records
    ``reason`` in the ``.error`` of ``directory`` (and the log)."""

    def __init__(self, directory: NodeKey, action: str, reason: str) -> None:
        super().__init__(reason)
        self.directory = directory
        self.action = action
        self.reason = reason


async def list_resource(tree: Tree, node: Node) -> Listing:
    """The listing of a ``.ResourceById`` directory kind (:data:`KINDS`)."""
    spec = node.spec
    assert spec is not None
    listing = Listing()
    if spec.kind == "resource_root":
        for type_ in TYPES:
            listing.entries[type_] = dir_node(
                (*node.key, type_), DirSpec("resource_type", (type_,))
            )
    elif spec.kind == "resource_appsession":
        for name, kind in (("AppResults", "appresults"), ("Datasets", "datasets")):
            listing.entries[name] = dir_node(
                (*node.key, name), DirSpec("resource_links", (kind, spec.args[0])), node.mtime_ns
            )
        listing.entries.update(_meta_entries(tree.client, node.key, spec.entity))
        listing.entries.update(entity_controls(node.key, spec.entity))
    elif spec.kind == "resource_links":
        listing = await _appsession_outputs(tree, node, spec.args[0], spec.args[1])
    elif spec.kind != "resource_type":
        raise ValueError(f"unknown directory kind {spec.kind!r}")
    listing.entries.update(dir_controls(node.key))
    return listing


async def _appsession_outputs(tree: Tree, node: Node, kind: str, appsession_id: str) -> Listing:
    """Symlinks from an appsession to the ``.ResourceById`` directories of its outputs."""
    entities: list[Any]
    if kind == "appresults":
        path = f"v1pre3/appsessions/{segment(appsession_id)}/appresults"
        entities = parse_list(AppResult, await tree.client.list_items(path))
    else:
        entities = list(await tree.client.list_datasets(appsession_id=appsession_id))
    entities = [e for e in entities if e.id]
    named = assign_names(
        entities,
        name_of=display_name,
        id_of=lambda e: str(e.id),
        created_of=lambda e: e.date_created,
        reserved=[*DIR_CONTROLS, *(f".id.{e.id}" for e in entities)],
    )
    listing = Listing()
    links: dict[str, Node] = {}
    for item in named:
        entity = item.item
        mtime = to_ns(entity.date_modified or entity.date_created)
        listing.entries[item.name] = link_node(
            (*node.key, entity.id), f"../../../{kind}/{entity.id}", mtime
        )
        links[f".id.{entity.id}"] = link_node((*node.key, f".id.{entity.id}"), item.name, mtime)
    listing.entries.update(links)
    return listing


async def lookup_resource(tree: Tree, parent: Node, name: str) -> Node | None:
    """``.ResourceById/<type>/<id>``: the entity, fetched by one GET (cached like a listing)."""
    spec = parent.spec
    assert spec is not None and spec.kind == "resource_type"
    type_ = spec.args[0]
    key = (*parent.key, name)

    async def load() -> Listing:
        try:
            entity = await tree.client.get_entity(type_, name)
        except (NotFound, Gone) as exc:
            raise LookupRefused(parent.key, f"{type_} {name!r}", f"no such id: {exc}") from exc
        return Listing(entries={name: _node_for(parent.key, type_, name, entity)})

    listing = await tree.cache.get((*key, _ENTRY), load)
    return listing.entries.get(name)


def _node_for(parent_key: NodeKey, type_: str, name: str, entity: Entity) -> Node:
    key = (*parent_key, name)
    mtime = to_ns(entity.date_modified or entity.date_created)
    entity_id = entity.id or name
    if isinstance(entity, FileInfo):
        if not entity.is_complete:
            raise LookupRefused(
                parent_key, f"files {name!r}", f"file {name}: upload is {entity.upload_status}"
            )
        return remote_file_node(key, entity.version(), mtime)
    if type_ == "appsessions":
        return dir_node(key, DirSpec("resource_appsession", (entity_id,), entity), mtime)
    kind = _DIR_KINDS.get(type_)
    if kind is None:  # genomes: no place in the tree, metadata files only
        return dir_node(key, DirSpec("meta_entity", (entity_id,), entity), mtime)
    return entity_dir(key, kind, entity)
