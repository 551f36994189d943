"""The ``Files`` directories: a sample's, appresult's or dataset's file tree built from one
complete file listing, and a run's folder listed one directory at a time.

Paths with ``/`` become sub-directories, components are sanitised like names, and a file whose
name collides with a sub-directory (or another file) is disambiguated; odd names and sizes are
reported once per directory (:mod:`bsmount.tree.oddities`). Only complete uploads are listed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bsmount.api.models import FileInfo
from bsmount.tree import oddities
from bsmount.tree.layout import DIR_CONTROLS, LayoutClient, dir_controls
from bsmount.tree.metacache import Listing
from bsmount.tree.naming import Named, assign_names, sanitize_component
from bsmount.tree.nodes import DirSpec, Node, NodeKey, dir_node, remote_file_node, to_ns

__all__ = ["fetch_entity_files", "file_tree_listings", "list_run_directory"]


def file_tree_listings(
    files_key: NodeKey, source_kind: str, entity_id: str, files: Sequence[FileInfo]
) -> dict[NodeKey, Listing]:
    """All directory listings under a ``Files`` directory, from its complete file list.

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
                files_key + ("d", path), DirSpec("filetree", (source_kind, entity_id, path))
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


async def fetch_entity_files(client: LayoutClient, kind: str, entity_id: str) -> list[FileInfo]:
    if kind == "files_samples":
        return list(await client.list_sample_files(entity_id))
    if kind == "files_appresults":
        return list(await client.list_appresult_files(entity_id))
    if kind == "files_datasets":
        return list(await client.list_dataset_files(entity_id))
    raise ValueError(f"not a file list kind: {kind}")


async def list_run_directory(client: LayoutClient, node: Node, run_id: str, path: str) -> Listing:
    directory = "/" + path if path else "/"
    result = await client.list_run_directory(run_id, directory)
    files_key = node.key if not path else node.key[:-2]
    listing = Listing()
    subdirs: list[str] = []
    for sub in result.subdirectories:
        component = sanitize_component(sub.strip("/").rsplit("/", 1)[-1], "_")
        if component in listing.entries:
            continue
        child_path = f"{path}/{sub.strip('/').rsplit('/', 1)[-1]}" if path else sub.strip("/")
        subdirs.append(component)
        listing.entries[component] = dir_node(
            files_key + ("d", child_path), DirSpec("runfiles", (run_id, child_path))
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
        reserved=[*reserved, *DIR_CONTROLS],
    )
    for item in named:
        info = item.item
        listing.entries[item.name] = remote_file_node(
            files_key + ("f", info.id),
            info.version(),
            to_ns(info.date_modified or info.date_created),
        )
    return named
