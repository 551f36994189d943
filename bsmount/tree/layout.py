"""The entity directories: the root, lists of entities, an entity's own directory, the links
from an appsession to what it produced, metadata-only entities, and ``.bsmount/``.

Keys are built from the parent's key plus ids, so a name change on the server never changes an
inode, and the same entity reached by two paths gets two distinct inodes (``du`` and ``cp`` then
count it where it appears). Entity directories hold ``.id .type .name .href .json .curl`` and
the control files their kind declares; list directories hold ``.id.<id> -> <name>`` symlinks,
``.list.csv .list.json .headers`` (:mod:`.list_files`) and their filter directories
(:mod:`.filter_layout`).
Which kinds exist, and how they nest, is declared in :mod:`bsmount.tree.kinds`.
"""

from __future__ import annotations

import errno
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bsmount.api.models import Entity
from bsmount.controls.base import ControlFile
from bsmount.controls.registry import DIRECTORY_FILES
from bsmount.errors import ControlError
from bsmount.tree import oddities
from bsmount.tree.list_files import LIST_FILE_NAMES, list_file_entries
from bsmount.tree.metacache import Listing
from bsmount.tree.naming import Named, assign_names
from bsmount.tree.nodes import (
    CachedKind,
    DirKind,
    DirSpec,
    LayoutClient,
    LayoutContext,
    Node,
    NodeKey,
    control_nodes,
    dir_node,
    link_node,
    static_file_node,
    to_ns,
)

__all__ = [
    "DIR_CONTROL_NAMES",
    "ENTITY_META_FILES",
    "AppResultListKind",
    "AppSessionLinksKind",
    "EntityDirKind",
    "EntityListKind",
    "MetaEntityKind",
    "ProjectListKind",
    "RootKind",
    "SampleListKind",
    "StaticDirKind",
    "dir_controls",
    "display_name",
    "entity_dir",
    "meta_entries",
]

log = logging.getLogger(__name__)

ENTITY_META_FILES = (".id", ".type", ".name", ".href", ".json", ".curl")
DIR_CONTROL_NAMES = tuple(f.name for f in DIRECTORY_FILES)

Fetch = Callable[[LayoutClient, tuple[str, ...]], Awaitable[Sequence[Any]]]


def dir_controls(key: NodeKey) -> dict[str, Node]:
    """``.refresh`` and ``.error``, present in every directory."""
    return control_nodes(key, DIRECTORY_FILES)


def display_name(entity: Any) -> str:
    """The name an entity gets in its list: runs use their experiment name, like BaseMount."""
    experiment = getattr(entity, "experiment_name", "")
    if getattr(entity, "kind", "") == "runs" and experiment:
        return str(experiment)
    return str(entity.name)


def _text(value: str) -> bytes:
    return (value + "\n").encode("utf-8")


def meta_entries(client: LayoutClient, key: NodeKey, entity: Entity) -> dict[str, Node]:
    """``.id .type .name .href .json .curl`` of an entity directory."""
    href = entity.href or f"v1pre3/{entity.kind}/{entity.id}"
    mtime = to_ns(entity.date_modified or entity.date_created)

    async def load_json() -> bytes:
        document = await client.get_json(href)
        return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    return {
        ".id": static_file_node(key + (".id",), _text(entity.id), mtime_ns=mtime),
        ".type": static_file_node(key + (".type",), _text(entity.kind), mtime_ns=mtime),
        ".name": static_file_node(key + (".name",), _text(entity.name), mtime_ns=mtime),
        ".href": static_file_node(
            key + (".href",), _text(client.absolute_url(href)), mtime_ns=mtime
        ),
        ".json": static_file_node(key + (".json",), loader=load_json, mtime_ns=mtime),
        ".curl": static_file_node(
            key + (".curl",), _text(client.curl_command(href)), mtime_ns=mtime
        ),
    }


def entity_dir(key: NodeKey, kind: DirKind, entity: Entity) -> Node:
    """The directory of ``entity`` at ``key``, of ``kind``."""
    return dir_node(
        key,
        DirSpec(kind, (entity.id,), entity),
        to_ns(entity.date_modified or entity.date_created),
    )


class StaticDirKind(CachedKind):
    """A fixed set of entries: sub-directories of given kinds and control files."""

    def __init__(
        self,
        name: str,
        shows: str,
        *,
        subdirs: Sequence[tuple[str, DirKind]] = (),
        files: Sequence[ControlFile] = (),
        directory_files: bool = True,
    ) -> None:
        super().__init__(name, shows)
        self.subdirs = tuple(subdirs)
        self.files = tuple(files)
        self.directory_files = directory_files

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        listing = Listing()
        for name, kind in self.subdirs:
            args = node.spec.args if node.spec is not None else ()
            listing.entries[name] = dir_node(node.key + (name,), DirSpec(kind, args))
        listing.entries.update(control_nodes(node.key, self.files))
        if self.directory_files:
            listing.entries.update(dir_controls(node.key))
        return listing


class RootKind(StaticDirKind):
    """The mount's root: the static sub-directories, a README and ``.commands``."""

    def __init__(
        self,
        name: str,
        shows: str,
        *,
        subdirs: Sequence[tuple[str, DirKind]],
        files: Sequence[ControlFile],
        readme: str,
    ) -> None:
        super().__init__(name, shows, subdirs=subdirs, files=files)
        self.readme = readme.encode("utf-8")

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        listing = Listing()
        for name, kind in self.subdirs:
            listing.entries[name] = dir_node((name,), DirSpec(kind))
        listing.entries["README"] = static_file_node(("README",), self.readme)
        listing.entries.update(control_nodes(node.key, self.files))
        listing.entries.update(dir_controls(node.key))
        return listing


class EntityDirKind(StaticDirKind):
    """An entity's own directory: its sub-directories, metadata files and control files."""

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        spec = node.spec
        assert spec is not None
        listing = Listing()
        for name, kind in self.subdirs:
            listing.entries[name] = dir_node(
                node.key + (name,), DirSpec(kind, spec.args), node.mtime_ns
            )
        listing.entries.update(meta_entries(ctx.client, node.key, spec.entity))
        listing.entries.update(control_nodes(node.key, self.files, spec.entity))
        listing.entries.update(dir_controls(node.key))
        return listing


class MetaEntityKind(EntityDirKind):
    """An entity with no place of its own in the tree (a genome): metadata files only."""


class EntityListKind(CachedKind):
    """A list of entities fetched by one (paged) API call: one directory per entity, named by
    :func:`display_name` (duplicates get a suffix), and ``.id.<id>`` links."""

    def __init__(
        self,
        name: str,
        shows: str,
        *,
        child: DirKind,
        fetch: Fetch,
        filters: Sequence[tuple[str, DirKind]] = (),
        files: Sequence[ControlFile] = (),
    ) -> None:
        super().__init__(name, shows)
        self.child = child
        self.fetch = fetch
        self.filters = tuple(filters)  # (".type", kind): filter directories (filter_layout)
        self.files = tuple(files)  # control files of the list itself (Runs/.qcthresholds)

    def entity_node(self, key: NodeKey, entity: Any, mtime_ns: int) -> Node:
        """The entry of one entity: its directory (a link, in :mod:`.filter_layout`)."""
        return entity_dir(key, self.child, entity)

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        spec = node.spec
        assert spec is not None
        fetched = await self.fetch(ctx.client, spec.args)
        entities = [e for e in fetched if getattr(e, "id", "")]
        reserved = [name for name, _kind in self.filters] + [f.name for f in self.files]
        named_entities = _named_entities(entities, reserved)
        oddities.report(
            node.key,
            renamed=[
                (display_name(n.item), n.name)
                for n in named_entities
                if n.name != display_name(n.item)
            ],
            without_id=len(fetched) - len(entities),
        )
        listing = Listing()
        links: dict[str, Node] = {}
        for named in named_entities:
            entity = named.item
            mtime = to_ns(entity.date_modified or entity.date_created)
            listing.entries[named.name] = self.entity_node(node.key + (entity.id,), entity, mtime)
            links[f".id.{entity.id}"] = link_node(
                node.key + (f".id.{entity.id}",), named.name, mtime
            )
        listing.entries.update(links)
        for name, kind in self.filters:
            listing.entries[name] = dir_node(
                node.key + (name,), DirSpec(kind, spec.args, source=node)
            )
        kind_name = getattr(entities[0], "kind", "") if entities else ""
        listing.entries.update(list_file_entries(node.key, kind_name, entities))
        listing.entries.update(control_nodes(node.key, self.files))
        listing.entries.update(dir_controls(node.key))
        return listing


class ProjectListKind(EntityListKind):
    """``Projects/``: the list of projects, where ``mkdir NAME`` creates one."""

    creates = "bs create project"

    async def make_directory(
        self, ctx: LayoutContext, parent: Node, name: str
    ) -> tuple[NodeKey, ...]:
        _check_new_name(name, "project")
        listing = await ctx.listing(parent)
        if name in _existing_names(listing):
            raise ControlError(errno.EEXIST, f"a project named {name!r} already exists")
        await ctx.client.create_project(name)
        log.info("created project %r", name)
        return (parent.key,)


class AppResultListKind(EntityListKind):
    """A project's ``AppResults/``, where ``mkdir NAME`` creates an AppResult (and its Running
    AppSession) to copy files into."""

    creates = "bs create appresult (BaseMount's mkdir in AppResults/)"

    async def make_directory(
        self, ctx: LayoutContext, parent: Node, name: str
    ) -> tuple[NodeKey, ...]:
        assert parent.spec is not None
        _check_new_name(name, "appresult")
        listing = await ctx.listing(parent)
        if name in _existing_names(listing):
            raise ControlError(errno.EEXIST, f"an appresult named {name!r} already exists")
        created = await ctx.client.create_appresult(parent.spec.args[0], name)
        log.info("created appresult %r (%s) in project %s", name, created.id, parent.spec.args[0])
        return (parent.key, parent.key[:-1] + ("AppSessions",))


class SampleListKind(EntityListKind):
    """A project's ``Samples/``: FASTQ files copied in become Samples, grouped by the sample
    name of Illumina's file naming (``bs upload dataset``; see bsmount.upload.fastq)."""

    accepts_fastq = True


class AppSessionLinksKind(CachedKind):
    """``AppSessions/<s>/AppResults`` or ``Datasets``: symlinks to the project's entities that
    the appsession produced (``../../../AppResults/<name>``)."""

    def __init__(self, name: str, shows: str, *, sibling_dir: str, sibling: DirKind) -> None:
        super().__init__(name, shows)
        self.sibling_dir = sibling_dir
        self.sibling = sibling

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        spec = node.spec
        assert spec is not None
        appsession_id = spec.args[0]
        # node.key = <project key> + ("AppSessions", <id>, "AppResults"|"Datasets")
        project_key = node.key[:-3]
        sibling_node = dir_node(
            project_key + (self.sibling_dir,), DirSpec(self.sibling, (project_key[-1],))
        )
        sibling = await ctx.listing(sibling_node)
        produced: set[str] | None = None
        if self.sibling_dir == "Datasets":
            produced = {d.id for d in await ctx.client.list_datasets(appsession_id=appsession_id)}
        listing = Listing()
        for name, child in sibling.entries.items():
            if name.startswith(".") or child.spec is None:
                continue
            entity = child.spec.entity
            if produced is None:
                if getattr(entity, "appsession_id", None) != appsession_id:
                    continue
            elif entity.id not in produced:
                continue
            listing.entries[name] = link_node(
                node.key + (entity.id,), f"../../../{self.sibling_dir}/{name}", child.mtime_ns
            )
        listing.entries.update(dir_controls(node.key))
        return listing


def _check_new_name(name: str, what: str) -> None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os.fsdecode keeps bytes that are not UTF-8 as surrogates
        raise ControlError(errno.EINVAL, f"{what} name {name!r} is not valid UTF-8") from None


def _existing_names(listing: Listing) -> set[str]:
    """The names shown in a list directory and the entities' own names."""
    return {
        child.spec.entity.name
        for child in listing.entries.values()
        if child.spec is not None and child.spec.entity is not None
    } | set(listing.entries)


def _named_entities(entities: Sequence[Any], extra: Sequence[str] = ()) -> list[Named[Any]]:
    ids = [str(e.id) for e in entities]
    return assign_names(
        entities,
        name_of=display_name,
        id_of=lambda e: str(e.id),
        created_of=lambda e: e.date_created,
        reserved=[*DIR_CONTROL_NAMES, *LIST_FILE_NAMES, *extra, *(f".id.{i}" for i in ids)],
    )
