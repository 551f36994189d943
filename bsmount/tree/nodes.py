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
import errno
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from bsmount._types import FileVersion
from bsmount.api.models import Entity, FileInfo, RunDirectory
from bsmount.controls.base import ControlBinding, ControlFile
from bsmount.errors import BsmountError, ControlError

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "LINK_MODE",
    "LOCAL_FILE_MODE",
    "WRITABLE_DIR_MODE",
    "CachedKind",
    "DirKind",
    "DirSpec",
    "LayoutClient",
    "LayoutContext",
    "Listing",
    "LiveContent",
    "LocalContent",
    "LookupRefused",
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
WRITABLE_DIR_MODE = 0o755  # directories that accept new files (an AppResult being written)
LOCAL_FILE_MODE = 0o644  # files being written through this mount

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
    source: Node | None = None  # a filter directory (``Datasets/.type/``): the list it filters


class LocalContent(Protocol):
    """A file being written through this mount (:class:`bsmount.upload.transfer.FileUpload`):
    its size grows as it is written."""

    @property
    def size(self) -> int: ...


class LiveContent(Protocol):
    """A remote file that grows while it is read (a running analysis's log,
    :class:`bsmount.tree.appsession_layout.LiveLog`): its last known version, and a way to look
    it up again (rate-limited by the implementation)."""

    @property
    def version(self) -> FileVersion: ...

    async def refresh(self) -> FileVersion: ...


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
    local: LocalContent | None = None  # files being written through this mount
    live: LiveContent | None = None  # remote files that grow (logs): size looked up again

    @property
    def mode(self) -> int:
        if self.control is not None:
            return self.control.file.mode
        if self.local is not None:
            return LOCAL_FILE_MODE
        if self.type is NodeType.DIR:
            kind = self.spec.kind if self.spec is not None else None
            if kind is not None and (kind.creates or kind.accepts_writes):
                return WRITABLE_DIR_MODE
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


@dataclass(slots=True)
class Listing:
    """One directory's entries, name → node, in display order.

    ``prefetch_depth``: the smallest depth at which its sub-directories were queued for
    prefetch (:mod:`bsmount.tree.listing_prefetch`), None if never.
    """

    entries: dict[str, Node] = field(default_factory=dict)
    fetched_at: float = 0.0
    prefetch_depth: int | None = None


class LayoutClient(Protocol):
    """The subset of :class:`bsmount.api.client.BaseSpaceClient` the kinds use."""

    def absolute_url(self, href: str) -> str: ...
    def curl_command(self, href: str) -> str: ...
    async def get_json(self, path_or_href: str, params: Any = None) -> Any: ...
    async def list_items(self, path: str, params: Any = None) -> list[dict[str, Any]]: ...
    async def get_entity(self, kind: str, entity_id: str) -> Entity: ...
    async def get_properties(self, kind: str, entity_id: str) -> Sequence[Any]: ...
    async def create_project(self, name: str, description: str = "") -> Any: ...
    async def create_appresult(self, project_id: str, name: str) -> Any: ...
    async def list_projects(self) -> Sequence[Any]: ...
    async def list_samples(self, project_id: str) -> Sequence[Any]: ...
    async def list_appresults(self, project_id: str) -> Sequence[Any]: ...
    async def list_appsessions(
        self, project_id: str | None = None, *, input_biosample: str | None = None
    ) -> Sequence[Any]: ...
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


class ListingStore(Protocol):
    """The listing cache as kinds use it (:class:`bsmount.tree.metacache.ListingCache`)."""

    async def get(self, key: NodeKey, load: Callable[[], Awaitable[Listing]]) -> Listing: ...
    def put(self, key: NodeKey, listing: Listing) -> None: ...


class NegativeStore(Protocol):
    """The negative lookup cache (:class:`bsmount.tree.metacache.NegativeCache`)."""

    def add(self, parent: NodeKey, name: str) -> None: ...


@dataclass(frozen=True, slots=True)
class LayoutContext:
    """What a kind may use: the client, the caches, the root, and listing another directory
    (through the cache, the way the tree lists it)."""

    client: LayoutClient
    cache: ListingStore
    negative: NegativeStore
    root: Node
    listing: Callable[[Node], Awaitable[Listing]]
    #: The project (name or id) ``mkdir BioSamples/NAME`` makes biosamples in (None: refused).
    biosample_project: str | None = None


class LookupRefused(BsmountError):
    """A lookup refused for a reason worth telling: the FUSE adapter answers ENOENT and records
    ``reason`` in the ``.error`` of ``directory`` (and the log)."""

    def __init__(self, directory: NodeKey, action: str, reason: str) -> None:
        super().__init__(reason)
        self.directory = directory
        self.action = action
        self.reason = reason


class DirKind(ABC):
    """One sort of directory. Instances are declared in :mod:`bsmount.tree.kinds`."""

    #: Listing it costs one request of its own that a listing prefetch can hide (run folders).
    prefetch_listing: ClassVar[bool] = False
    #: Its sub-directories may be worth listing ahead of a walker (a run, a run folder).
    prefetch_children: ClassVar[bool] = False
    #: The ``bs`` command ``mkdir`` in it stands for ("" when it accepts no new directories).
    creates: ClassVar[str] = ""
    #: Files may be written into it (an AppResult's ``Files``, while its session runs).
    accepts_uploads: bool = False
    #: FASTQ files copied into it become Samples (a project's ``Samples/``).
    accepts_fastq: bool = False
    #: Run folders copied into it become runs (``Runs/`` and the run folders being copied).
    accepts_run_folder: bool = False

    @property
    def accepts_writes(self) -> bool:
        """New files may be written into it (any way)."""
        return self.accepts_uploads or self.accepts_fastq or self.accepts_run_folder

    def __init__(self, name: str, shows: str) -> None:
        self.name = name  # a stable identifier, for logs and the docs
        self.shows = shows  # one line: what a directory of this kind holds

    @abstractmethod
    async def listing(self, ctx: LayoutContext, node: Node) -> Listing:
        """The entries of ``node``, a directory of this kind (cached by the kind's rules)."""

    async def lookup_unlisted(self, ctx: LayoutContext, parent: Node, name: str) -> Node | None:
        """A child its listing does not show (a search query, an id), or None. Kinds whose
        names are all listed keep this default."""
        return None

    async def make_directory(
        self, ctx: LayoutContext, parent: Node, name: str
    ) -> tuple[NodeKey, ...]:
        """Create ``name`` in ``parent`` (``mkdir``); the keys whose listings changed."""
        raise ControlError(errno.EROFS, f"{self.name} directories accept no new directories")

    def __repr__(self) -> str:
        return f"<directory kind {self.name}>"


class CachedKind(DirKind):
    """A kind whose listing is built from scratch and kept in the listing cache by its key."""

    async def listing(self, ctx: LayoutContext, node: Node) -> Listing:
        return await ctx.cache.get(node.key, lambda: self.build(ctx, node))

    @abstractmethod
    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        """Fetch and build the listing of ``node``."""
