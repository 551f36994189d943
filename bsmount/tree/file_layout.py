"""The ``Files`` directories: a sample's, appresult's or dataset's file tree built from one
complete file listing (:class:`FilesKind`), and a run's folder listed one directory at a time
(:class:`RunFolderKind`).

Paths with ``/`` become sub-directories, components are sanitised like names, and a file whose
name collides with a sub-directory (or another file) is disambiguated; odd names and sizes are
reported once per directory (:mod:`bsmount.tree.oddities`). Only complete uploads are listed.
A sub-directory has the kind of its ``Files`` directory, with the path as second argument; its
key is the ``Files`` key + ``("d", path)``, and a file's key the ``Files`` key + ``("f", id)``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import ClassVar

import trio

from bsmount.api.models import FileInfo
from bsmount.tree import oddities
from bsmount.tree.layout import DIR_CONTROL_NAMES, dir_controls
from bsmount.tree.metacache import Listing
from bsmount.tree.naming import Named, assign_names, sanitize_component
from bsmount.tree.nodes import (
    CachedKind,
    DirKind,
    DirSpec,
    LayoutClient,
    LayoutContext,
    Node,
    NodeKey,
    dir_node,
    remote_file_node,
    to_ns,
)

__all__ = ["FilesKind", "RunFolderKind", "file_tree_listings"]

log = logging.getLogger(__name__)

FetchFiles = Callable[[LayoutClient, str], Awaitable[Sequence[FileInfo]]]
# A Files/ tree of this many files or more is built in a worker thread (100,000 files take ~1.3 s).
_THREAD_MIN_FILES = 5000


def _files_key(node: Node) -> NodeKey:
    """The key of the ``Files`` directory ``node`` is in (or is)."""
    assert node.spec is not None
    return node.key[:-2] if len(node.spec.args) > 1 else node.key


class FilesKind(DirKind):
    """A ``Files`` tree built from one complete file listing; every sub-directory's listing is
    cached from that one request. Args: ``(entity id,)`` or ``(entity id, path)``."""

    def __init__(
        self, name: str, shows: str, *, fetch: FetchFiles, accepts_uploads: bool = False
    ) -> None:
        super().__init__(name, shows)
        self.fetch = fetch
        self.accepts_uploads = accepts_uploads

    async def listing(self, ctx: LayoutContext, node: Node) -> Listing:
        assert node.spec is not None
        files_key = _files_key(node)
        entity_id = node.spec.args[0]
        wanted = node.key

        async def load() -> Listing:
            files = list(await self.fetch(ctx.client, entity_id))
            if len(files) < _THREAD_MIN_FILES:
                listings = file_tree_listings(files_key, self, entity_id, files)
            else:  # ~13 µs per file: off the event loop, so other requests keep being answered
                listings = await trio.to_thread.run_sync(
                    file_tree_listings, files_key, self, entity_id, files
                )
            for key, listing in listings.items():
                if key != wanted:
                    ctx.cache.put(key, listing)
            found = listings.get(wanted)
            if found is None:  # the sub-directory vanished on the server
                log.info("directory %r no longer exists in %s %s", wanted, self.name, entity_id)
                return Listing()
            return found

        return await ctx.cache.get(wanted, load)


class RunFolderKind(CachedKind):
    """A run's folder, one directory per request (v2 ``runs/{id}/files?directory=``): listed
    ahead of walkers. Args: ``(run id,)`` or ``(run id, path)``."""

    prefetch_listing: ClassVar[bool] = True
    prefetch_children: ClassVar[bool] = True

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        assert node.spec is not None
        run_id = node.spec.args[0]
        path = node.spec.args[1] if len(node.spec.args) > 1 else ""
        result = await ctx.client.list_run_directory(run_id, "/" + path if path else "/")
        files_key = _files_key(node)
        listing = Listing()
        subdirs: list[str] = []
        for sub in result.subdirectories:
            component = sanitize_component(sub.strip("/").rsplit("/", 1)[-1], "_")
            if component in listing.entries:
                continue
            child_path = f"{path}/{sub.strip('/').rsplit('/', 1)[-1]}" if path else sub.strip("/")
            subdirs.append(component)
            listing.entries[component] = dir_node(
                files_key + ("d", child_path), DirSpec(self, (run_id, child_path))
            )
        _add_files(
            listing,
            files_key,
            [f for f in result.files if f.upload_status.lower() in ("", "complete", "completed")],
            lambda f: f.name or (f.path or "").rsplit("/", 1)[-1],
            reserved=subdirs,
        )
        listing.entries.update(dir_controls(node.key))
        return listing


def file_tree_listings(
    files_key: NodeKey, kind: DirKind, entity_id: str, files: Sequence[FileInfo]
) -> dict[NodeKey, Listing]:
    """All directory listings under a ``Files`` directory of ``kind``, from its complete file
    list.

    Paths with ``/`` become sub-directories; components are sanitised like names; a file whose
    name collides with a sub-directory (or another file) is disambiguated.
    """
    tree: dict[str, tuple[list[str], list[FileInfo]]] = {"": ([], [])}
    without_id = 0
    for info in files:
        if info.upload_status and info.upload_status.lower() not in ("complete", "completed"):
            continue
        if not info.id:  # cannot be read (its content is fetched by id): skipped, reported
            without_id += 1
            continue
        parts = [p for p in (info.path or info.name).split("/") if p]
        if not parts:
            parts = [info.name or info.id]
        prefix = ""
        for part in parts[:-1]:
            component = sanitize_component(part, "_")
            child = f"{prefix}/{component}" if prefix else component
            if child not in tree:
                tree[child] = ([], [])
                tree[prefix][0].append(component)
            prefix = child
        tree[prefix][1].append(info)

    listings: dict[NodeKey, Listing] = {}
    renamed: list[tuple[str, str]] = []
    odd_sizes: list[tuple[str, object]] = []
    for prefix, (subdirs, dir_files) in tree.items():
        key = files_key + (("d", prefix) if prefix else ())
        listing = Listing()
        for component in subdirs:
            path = f"{prefix}/{component}" if prefix else component
            listing.entries[component] = dir_node(
                files_key + ("d", path), DirSpec(kind, (entity_id, path))
            )
        named = _add_files(
            listing,
            files_key,
            dir_files,
            lambda f: (f.path or f.name).rstrip("/").rsplit("/", 1)[-1] or f.name,
            reserved=subdirs,
        )
        for item in named:
            info = item.item
            shown = f"{prefix}/{item.name}" if prefix else item.name
            if shown != (info.path or info.name).strip("/"):
                renamed.append((info.path or info.name, shown))
            if oddities.size_is_odd(info.raw.get("Size")):
                odd_sizes.append((shown, info.raw.get("Size")))
        listing.entries.update(dir_controls(key))
        listings[key] = listing
    oddities.report(files_key, renamed=renamed, without_id=without_id, odd_sizes=odd_sizes)
    return listings


def _add_files(
    listing: Listing,
    files_key: NodeKey,
    files: Sequence[FileInfo],
    name_of: Callable[[FileInfo], str],
    *,
    reserved: Sequence[str],
) -> list[Named[FileInfo]]:
    """Give ``files`` unique names (none of ``reserved`` or the control files) and add them to
    ``listing``; returns the names given."""
    named = assign_names(
        files,
        name_of=name_of,
        id_of=lambda f: f.id,
        created_of=lambda f: f.date_created,
        reserved=[*reserved, *DIR_CONTROL_NAMES],
    )
    for item in named:
        info = item.item
        listing.entries[item.name] = remote_file_node(
            files_key + ("f", info.id),
            info.version(),
            to_ns(info.date_modified or info.date_created),
        )
    return named
