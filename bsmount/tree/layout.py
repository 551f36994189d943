"""The shape of the mount: what each kind of directory contains, built from API calls.

Every directory node carries a :class:`DirSpec` (``kind`` + ids); :func:`list_directory` turns it
into a :class:`Listing` using the API client. Keys are built from the parent's key plus ids, so a
name change on the server never changes an inode, and the same entity reached by two paths gets
two distinct inodes (``du`` and ``cp`` then count it where it appears).

Layout (product-spec §2)::

    /README  /Projects  /Runs  /BioSamples
    Projects/<p>/{AppResults,Samples,AppSessions,Datasets,BioSamples}
    .../AppResults/<a>/Files/<path...>   .../Samples/<s>/Files/<path...>
    .../Datasets/<d>/Files/<path...>     .../BioSamples/<b>/Datasets/<d>/Files/...
    .../AppSessions/<s>/{AppResults,Datasets}/<name> -> ../../../AppResults/<name> (symlinks)
    Runs/<r>/Files/<run folder, listed one directory at a time>

Entity directories also hold ``.id .type .name .href .json .curl``; list directories hold
``.id.<id> -> <name>`` symlinks. The ``Files`` trees are built by :mod:`bsmount.tree.file_layout`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from bsmount.api.models import Entity, FileInfo, RunDirectory
from bsmount.tree import oddities
from bsmount.tree.metacache import Listing
from bsmount.tree.naming import Named, assign_names
from bsmount.tree.nodes import (
    DirSpec,
    Node,
    NodeKey,
    control_node,
    dir_node,
    link_node,
    static_file_node,
    to_ns,
)

__all__ = [
    "DIR_CONTROLS",
    "ENTITY_META_FILES",
    "README_TEXT",
    "LayoutClient",
    "dir_controls",
    "entity_kind_dirs",
    "list_directory",
]

log = logging.getLogger(__name__)

ENTITY_META_FILES = (".id", ".type", ".name", ".href", ".json", ".curl")
DIR_CONTROLS = (".refresh", ".error")
WRITE_ONLY = 0o200
READ_WRITE = 0o644
READ_ONLY = 0o444
_PROPERTY_KINDS = (
    "projects",
    "samples",
    "appresults",
    "runs",
    "appsessions",
    "datasets",
    "biosamples",
)
_TRASH_KINDS = (
    "projects",
    "runs",
    "appresults",
    "appsessions",
    "samples",
    "datasets",
    "biosamples",
)
_STATUS_KINDS = ("appsessions", "runs", "samples")


def dir_controls(key: NodeKey) -> dict[str, Node]:
    """``.refresh`` and ``.error``, present in every directory."""
    return {
        ".refresh": control_node(key + (".refresh",), "refresh", key, perm=WRITE_ONLY),
        ".error": control_node(key + (".error",), "error", key, perm=READ_ONLY),
    }


def entity_controls(key: NodeKey, entity: Entity) -> dict[str, Node]:
    """The control files of an entity directory (docs/control-files.md)."""
    kind = entity.kind
    found: dict[str, Node] = {}
    if kind in _PROPERTY_KINDS:
        found[".properties"] = control_node(
            key + (".properties",), "properties", key, entity=entity, perm=READ_WRITE
        )
    if kind in _TRASH_KINDS:
        found[".trash"] = control_node(
            key + (".trash",), "trash", key, entity=entity, perm=WRITE_ONLY
        )
    if kind in _STATUS_KINDS:
        found[".status"] = control_node(
            key + (".status",), "status", key, entity=entity, perm=READ_ONLY
        )
    if kind == "appsessions":
        found[".kill"] = control_node(key + (".kill",), "kill", key, entity=entity, perm=READ_WRITE)
        found[".await"] = control_node(
            key + (".await",), "await", key, entity=entity, perm=READ_ONLY, unlisted=True
        )
    return found


README_TEXT = """\
bsmount — an Illumina BaseSpace Sequence Hub account as a filesystem

  Projects/<project>/{Samples,AppResults,AppSessions,Datasets,BioSamples}/<entity>/Files/...
  Runs/<run>/Files/<run folder>      BioSamples/<biosample>/Datasets/<dataset>/Files/...
  Search/<scope>/<query>/            Search API results as symlinks (docs/search.md)
  .ResourceById/<type>/<id>/         any entity by its id

Every entity directory holds .id .type .name .href .json .curl; every list holds
.id.<id> symlinks. Files stream on demand by HTTP range: nothing is downloaded at open.
Listings are cached for the metadata TTL (see `mount --metadata-ttl`).
Documentation: docs/usage.md and docs/semantics.md in the bsmount repository.
"""


class LayoutClient(Protocol):
    """The subset of :class:`bsmount.api.client.BaseSpaceClient` the layout uses."""

    def absolute_url(self, href: str) -> str: ...
    def curl_command(self, href: str) -> str: ...
    async def get_json(self, path_or_href: str, params: Any = None) -> Any: ...
    async def list_items(self, path: str, params: Any = None) -> list[dict[str, Any]]: ...
    async def get_entity(self, kind: str, entity_id: str) -> Entity: ...
    async def list_projects(self) -> Sequence[Any]: ...
    async def list_samples(self, project_id: str) -> Sequence[Any]: ...
    async def list_appresults(self, project_id: str) -> Sequence[Any]: ...
    async def list_appsessions(self, project_id: str | None = None) -> Sequence[Any]: ...
    async def list_runs(self) -> Sequence[Any]: ...
    async def list_biosamples(self, project_id: str | None = None) -> Sequence[Any]: ...
    async def list_datasets(
        self,
        *,
        project_id: str | None = None,
        biosample_id: str | None = None,
        appsession_id: str | None = None,
    ) -> Sequence[Any]: ...
    async def list_sample_files(self, sample_id: str) -> Sequence[FileInfo]: ...
    async def list_appresult_files(self, appresult_id: str) -> Sequence[FileInfo]: ...
    async def list_dataset_files(self, dataset_id: str) -> Sequence[FileInfo]: ...
    async def list_run_directory(self, run_id: str, directory: str = "/") -> RunDirectory: ...


# Entity kind -> the sub-directories of its entity directory: (name, spec kind).
_ENTITY_SUBDIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "project": (
        ("AppResults", "project_appresults"),
        ("AppSessions", "project_appsessions"),
        ("BioSamples", "project_biosamples"),
        ("Datasets", "project_datasets"),
        ("Samples", "project_samples"),
    ),
    "sample": (("Files", "files_samples"),),
    "appresult": (("Files", "files_appresults"),),
    "dataset": (("Files", "files_datasets"),),
    "biosample": (("Datasets", "biosample_datasets"),),
    "run": (("Files", "runfiles"),),
    "appsession": (("AppResults", "appsession_appresults"), ("Datasets", "appsession_datasets")),
}

# List kinds -> (entity kind of the children, async function fetching them).
Fetch = Callable[[LayoutClient, tuple[str, ...]], Awaitable[Sequence[Any]]]


def _lists() -> dict[str, tuple[str, Fetch]]:
    return {
        "projects": ("project", lambda c, a: c.list_projects()),
        "runs": ("run", lambda c, a: c.list_runs()),
        "biosamples": ("biosample", lambda c, a: c.list_biosamples()),
        "project_samples": ("sample", lambda c, a: c.list_samples(a[0])),
        "project_appresults": ("appresult", lambda c, a: c.list_appresults(a[0])),
        "project_appsessions": ("appsession", lambda c, a: c.list_appsessions(a[0])),
        "project_biosamples": ("biosample", lambda c, a: c.list_biosamples(a[0])),
        "project_datasets": ("dataset", lambda c, a: c.list_datasets(project_id=a[0])),
        "biosample_datasets": ("dataset", lambda c, a: c.list_datasets(biosample_id=a[0])),
    }


LISTS = _lists()


def entity_kind_dirs(kind: str) -> tuple[tuple[str, str], ...]:
    return _ENTITY_SUBDIRS.get(kind, ())


def display_name(entity: Any) -> str:
    """The name an entity gets in its list: runs use their experiment name, like BaseMount."""
    experiment = getattr(entity, "experiment_name", "")
    if getattr(entity, "kind", "") == "runs" and experiment:
        return str(experiment)
    return str(entity.name)


def _named_entities(entities: Sequence[Any]) -> list[Named[Any]]:
    ids = [str(e.id) for e in entities]
    return assign_names(
        entities,
        name_of=display_name,
        id_of=lambda e: str(e.id),
        created_of=lambda e: e.date_created,
        reserved=[*DIR_CONTROLS, *(f".id.{i}" for i in ids)],
    )


def _text(value: str) -> bytes:
    return (value + "\n").encode("utf-8")


def _meta_entries(client: LayoutClient, key: NodeKey, entity: Entity) -> dict[str, Node]:
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


def entity_dir(key: NodeKey, kind: str, entity: Entity) -> Node:
    return dir_node(
        key,
        DirSpec(kind, (entity.id,), entity),
        to_ns(entity.date_modified or entity.date_created),
    )


async def _list_entities(client: LayoutClient, node: Node, spec: DirSpec) -> Listing:
    child_kind, fetch = LISTS[spec.kind]
    fetched = await fetch(client, spec.args)
    entities = [e for e in fetched if getattr(e, "id", "")]
    listing = Listing()
    links: dict[str, Node] = {}
    named_entities = _named_entities(entities)
    oddities.report(
        node.key,
        renamed=[
            (display_name(n.item), n.name) for n in named_entities if n.name != display_name(n.item)
        ],
        without_id=len(fetched) - len(entities),
    )
    for named in named_entities:
        entity = named.item
        listing.entries[named.name] = entity_dir(node.key + (entity.id,), child_kind, entity)
        links[f".id.{entity.id}"] = link_node(node.key + (f".id.{entity.id}",), named.name)
    listing.entries.update(links)
    listing.entries.update(dir_controls(node.key))
    return listing


def _entity_listing(client: LayoutClient, node: Node, spec: DirSpec) -> Listing:
    listing = Listing()
    mtime = node.mtime_ns
    for name, sub_kind in entity_kind_dirs(spec.kind):
        listing.entries[name] = dir_node(node.key + (name,), DirSpec(sub_kind, spec.args), mtime)
    listing.entries.update(_meta_entries(client, node.key, spec.entity))
    listing.entries.update(entity_controls(node.key, spec.entity))
    listing.entries.update(dir_controls(node.key))
    return listing


async def _appsession_links(
    client: LayoutClient, node: Node, spec: DirSpec, sibling: Listing, sibling_dir: str
) -> Listing:
    """Symlinks from an appsession to the project entities it produced."""
    appsession_id = spec.args[0]
    listing = Listing()
    produced: set[str] = set()
    if spec.kind == "appsession_datasets":
        produced = {d.id for d in await client.list_datasets(appsession_id=appsession_id)}
    for name, child in sibling.entries.items():
        if name.startswith(".") or child.spec is None:
            continue
        entity = child.spec.entity
        if spec.kind == "appsession_appresults":
            if getattr(entity, "appsession_id", None) != appsession_id:
                continue
        elif entity.id not in produced:
            continue
        listing.entries[name] = link_node(
            node.key + (entity.id,), f"../../../{sibling_dir}/{name}", child.mtime_ns
        )
    listing.entries.update(dir_controls(node.key))
    return listing


async def list_directory(
    client: LayoutClient,
    node: Node,
    sibling_listing: Callable[[NodeKey, str], Awaitable[Listing]],
) -> Listing:
    """List a directory that is not a ``Files`` tree (those go through the tree cache)."""
    spec = node.spec
    assert spec is not None
    if spec.kind == "root":
        listing = Listing()
        for name, kind in (
            ("BioSamples", "biosamples"),
            ("Projects", "projects"),
            ("Runs", "runs"),
        ):
            listing.entries[name] = dir_node((name,), DirSpec(kind))
        listing.entries["Search"] = dir_node(("Search",), DirSpec("search_root"))
        listing.entries[".ResourceById"] = dir_node((".ResourceById",), DirSpec("resource_root"))
        listing.entries["README"] = static_file_node(("README",), README_TEXT.encode("utf-8"))
        listing.entries[".bsmount"] = dir_node((".bsmount",), DirSpec("bsmount"))
        listing.entries[".commands"] = control_node((".commands",), "commands", (), perm=READ_WRITE)
        listing.entries.update(dir_controls(()))
        return listing
    if spec.kind == "bsmount":
        listing = Listing()
        for name in ("stats", "version", "config"):
            listing.entries[name] = control_node(node.key + (name,), name, node.key, perm=READ_ONLY)
        return listing
    if spec.kind in LISTS:
        return await _list_entities(client, node, spec)
    if spec.kind in _ENTITY_SUBDIRS:
        return _entity_listing(client, node, spec)
    if spec.kind in ("appsession_appresults", "appsession_datasets"):
        # node.key = <project key> + ("AppSessions", <id>, "AppResults"|"Datasets")
        sibling_dir = "AppResults" if spec.kind == "appsession_appresults" else "Datasets"
        project_key = node.key[:-3]
        sibling = await sibling_listing(project_key + (sibling_dir,), sibling_dir)
        return await _appsession_links(client, node, spec, sibling, sibling_dir)
    raise ValueError(f"unknown directory kind {spec.kind!r}")
