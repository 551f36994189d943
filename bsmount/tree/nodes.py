"""The nodes of the virtual tree: directories, remote files, generated files, control files and
symlinks.

A node is a plain value built from API data; it knows its key (its identity, made of ids), what
``stat`` shows, and for directories *what* to list (a :class:`DirSpec`: a directory kind of
:mod:`bsmount.tree.kinds` and its arguments); the kind knows *how*. A control file's node
carries a :class:`~bsmount.controls.base.ControlBinding`. Nodes are immutable; a fresher listing
makes new node objects with the same keys, which keep their inode numbers.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bsmount._types import FileVersion
from bsmount.controls.base import ControlBinding, ControlFile

if TYPE_CHECKING:
    from bsmount.tree.directory_kind import DirKind

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "LINK_MODE",
    "DirSpec",
    "Node",
    "NodeKey",
    "NodeType",
    "control_node",
    "control_nodes",
    "dir_node",
    "link_node",
    "remote_file_node",
    "static_file_node",
    "to_ns",
]

NodeKey = tuple[str, ...]

DIR_MODE = 0o555
FILE_MODE = 0o444
LINK_MODE = 0o777

MOUNT_TIME_NS = time.time_ns()


class NodeType(enum.Enum):
    DIR = "dir"
    FILE = "file"
    SYMLINK = "symlink"


@dataclass(frozen=True, slots=True)
class DirSpec:
    """What a directory lists: its kind (:mod:`bsmount.tree.kinds`) and its arguments (ids, a
    path prefix...)."""

    kind: DirKind
    args: tuple[str, ...] = ()
    entity: Any = None  # the API entity behind an entity directory, for metadata files


@dataclass(slots=True, eq=False)
class Node:
    """One entry of the tree. Treat it as immutable: a changed entity is a new Node (the inode
    table compares versions to notice). Not ``frozen``: a frozen dataclass's ``__init__`` costs
    three times as much (2.1 vs 0.6 µs), 0.15 s of a 100,000-file listing."""

    key: NodeKey
    type: NodeType
    mtime_ns: int = MOUNT_TIME_NS
    size: int = 0
    spec: DirSpec | None = None  # directories
    version: FileVersion | None = None  # remote files
    content: bytes | None = None  # generated files with known content
    loader: Callable[[], Awaitable[bytes]] | None = None  # generated files fetched on open
    target: str | None = None  # symlinks
    control: ControlBinding | None = None  # control files

    @property
    def mode(self) -> int:
        if self.control is not None:
            return self.control.file.mode
        if self.type is NodeType.DIR:
            return DIR_MODE
        if self.type is NodeType.SYMLINK:
            return LINK_MODE
        return FILE_MODE

    @property
    def is_dir(self) -> bool:
        return self.type is NodeType.DIR

    @property
    def unlisted(self) -> bool:
        """Answers lookups but is left out of ``readdir`` (``.await``, whose read blocks)."""
        return self.control is not None and self.control.file.unlisted


def to_ns(when: datetime | None) -> int:
    """Nanoseconds since the epoch, or the mount time when the API gave no date."""
    if when is None:
        return MOUNT_TIME_NS
    try:
        return int(when.timestamp() * 1_000_000_000)
    except (OverflowError, OSError, ValueError):
        return MOUNT_TIME_NS


def dir_node(key: NodeKey, spec: DirSpec, mtime_ns: int = MOUNT_TIME_NS) -> Node:
    return Node(key=key, type=NodeType.DIR, spec=spec, mtime_ns=mtime_ns)


def remote_file_node(key: NodeKey, version: FileVersion, mtime_ns: int) -> Node:
    return Node(key=key, type=NodeType.FILE, version=version, size=version.size, mtime_ns=mtime_ns)


def static_file_node(
    key: NodeKey,
    content: bytes | None = None,
    *,
    loader: Callable[[], Awaitable[bytes]] | None = None,
    mtime_ns: int = MOUNT_TIME_NS,
) -> Node:
    size = len(content) if content is not None else 0
    return Node(
        key=key,
        type=NodeType.FILE,
        content=content,
        loader=loader,
        size=size,
        mtime_ns=mtime_ns,
    )


def link_node(key: NodeKey, target: str, mtime_ns: int = MOUNT_TIME_NS) -> Node:
    return Node(
        key=key,
        type=NodeType.SYMLINK,
        target=target,
        size=len(target.encode("utf-8")),
        mtime_ns=mtime_ns,
    )


def control_node(
    directory: NodeKey,
    file: ControlFile,
    *,
    entity: Any = None,
    mtime_ns: int = MOUNT_TIME_NS,
) -> Node:
    """The control file ``file`` in ``directory`` (acting on ``entity``, for entity files)."""
    return Node(
        key=directory + (file.name,),
        type=NodeType.FILE,
        mtime_ns=mtime_ns,
        control=ControlBinding(file, directory, entity),
    )


def control_nodes(
    directory: NodeKey, files: Iterable[ControlFile], entity: Any = None
) -> dict[str, Node]:
    """Name → node of several control files of one directory."""
    return {f.name: control_node(directory, f, entity=entity) for f in files}
