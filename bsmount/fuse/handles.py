"""Open file and directory handles of the FUSE adapter.

:class:`OpenFile` is an open file: a data file's read handle, a generated file's bytes, or a
control file's state (payload written so far, whether it acted). :class:`FileHandles` hands out
handle numbers for both files and directories.

:class:`DirectoryHandles` keeps open directories and listings made ready for readdirplus replies.

A listing's visible entries, encoded names and entry attributes are built once and reused while
that listing is the tree's current one, so a directory listed again (``ls -l`` twice, ``find``
over a cached tree) costs a lookup, not a pass over its entries. The memo is bounded by entries
(an EntryAttributes is ~200 bytes: 50,000 entries ≈ 12 MB) and expires with the kernel TTL. No
pyfuse3 import here: attributes are built by the caller and stored as opaque objects.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache

from bsmount.io.reader import ReadHandle
from bsmount.tree.metacache import Listing
from bsmount.tree.nodes import Node, NodeKey
from bsmount.upload.transfer import FileUpload

__all__ = ["DirectoryHandles", "FileHandles", "OpenFile", "PreparedDir"]

MEMO_ENTRIES = 50_000


@dataclass(slots=True)
class OpenFile:
    """An open file handle: a data file's read handle, or a generated or control file's state."""

    node: Node
    handle: ReadHandle | None = None
    content: bytes | None = None
    failed_errno: int = 0
    failed_at: float = 0.0
    # control files opened for writing: the payload so far, and whether it was acted on
    writing: bool = False
    payload: bytearray | None = None
    acted: bool = False
    opener_pid: int = 0
    # files written through the mount: their upload, their directory, bytes since the last commit
    upload: FileUpload | None = None
    directory: NodeKey = ()
    wrote: bool = False


class FileHandles:
    """Open files by handle number; numbers are shared with directory handles."""

    def __init__(self) -> None:
        self._open: dict[int, OpenFile] = {}
        self._next = 1

    def new_number(self) -> int:
        number = self._next
        self._next += 1
        return number

    def add(self, opened: OpenFile) -> int:
        number = self.new_number()
        self._open[number] = opened
        return number

    def get(self, fh: int) -> OpenFile | None:
        return self._open.get(fh)

    def pop(self, fh: int) -> OpenFile | None:
        return self._open.pop(fh, None)

    def __len__(self) -> int:
        return len(self._open)


@dataclass(slots=True)
class PreparedDir:
    """A listing ready for readdirplus: visible entries, encoded names, and attributes (filled
    in on each entry's first reply), shared by the handles that list it."""

    listing: Listing  # the tree's Listing object these entries were made from
    entries: list[tuple[str, Node]]
    names: list[bytes]
    attrs: list[Any]  # pyfuse3.EntryAttributes or None


class DirectoryHandles:
    """File handles of open directories, and the memo of prepared listings."""

    def __init__(self, ttl: float, memo_entries: int = MEMO_ENTRIES) -> None:
        self._memo_entries = memo_entries
        self._memo: TTLCache[NodeKey, PreparedDir] = TTLCache(
            maxsize=memo_entries,
            ttl=max(ttl, 1.0),
            getsizeof=lambda prepared: max(1, len(prepared.entries)),
        )
        self._open: dict[int, PreparedDir] = {}

    def open(self, fh: int, key: NodeKey, listing: Listing) -> PreparedDir:
        """Register handle ``fh`` on the directory ``key`` whose current listing is ``listing``."""
        prepared = self._memo.get(key)
        if prepared is None or prepared.listing is not listing:
            entries = [
                (name, child) for name, child in listing.entries.items() if not child.unlisted
            ]
            names = [os.fsencode(name) for name, _ in entries]
            prepared = PreparedDir(listing, entries, names, [None] * len(entries))
            if len(entries) <= self._memo_entries:
                self._memo[key] = prepared
        self._open[fh] = prepared
        return prepared

    def get(self, fh: int) -> PreparedDir | None:
        return self._open.get(fh)

    def release(self, fh: int) -> None:
        self._open.pop(fh, None)

    def entries(self, fh: int) -> Sequence[tuple[str, Node]]:
        prepared = self._open.get(fh)
        return prepared.entries if prepared is not None else ()

    def __len__(self) -> int:
        return len(self._open)
