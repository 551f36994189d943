"""What a directory kind is (:class:`DirKind`) and the narrow context kinds list in
(:class:`LayoutContext`).

A kind owns everything about one sort of directory: what it lists and with which API call, how
its entries are named, which control files it carries, what a lookup of a name its listing does
not show means (a search query, an id), whether its sub-directories are worth listing ahead of a
walker, and whether ``mkdir`` creates something in it. Every kind is declared once, in
:mod:`bsmount.tree.kinds`; a directory node's :class:`~bsmount.tree.nodes.DirSpec` points at
its kind object, so nothing compares kind names.

Kinds see the tree through :class:`LayoutContext` (the API client, the listing caches, the
root and a way to list another directory), never the whole :class:`~bsmount.tree.tree.Tree`.
"""

from __future__ import annotations

import errno
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from bsmount.api.models import Entity, FileInfo, RunDirectory
from bsmount.errors import BsmountError, ControlError
from bsmount.tree.metacache import Listing, ListingCache, NegativeCache
from bsmount.tree.nodes import Node, NodeKey

__all__ = ["CachedKind", "DirKind", "LayoutClient", "LayoutContext", "LookupRefused"]


class LayoutClient(Protocol):
    """The subset of :class:`bsmount.api.client.BaseSpaceClient` the kinds use."""

    def absolute_url(self, href: str) -> str: ...
    def curl_command(self, href: str) -> str: ...
    async def get_json(self, path_or_href: str, params: Any = None) -> Any: ...
    async def list_items(self, path: str, params: Any = None) -> list[dict[str, Any]]: ...
    async def get_entity(self, kind: str, entity_id: str) -> Entity: ...
    async def create_project(self, name: str, description: str = "") -> Any: ...
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


@dataclass(frozen=True, slots=True)
class LayoutContext:
    """What a kind may use: the client, the caches, the root, and listing another directory
    (through the cache, the way the tree lists it)."""

    client: LayoutClient
    cache: ListingCache
    negative: NegativeCache
    root: Node
    listing: Callable[[Node], Awaitable[Listing]]


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
