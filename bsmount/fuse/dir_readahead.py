"""Directory read-ahead: small files opened one after another are fetched before they are opened.

``cp -r``, ``rsync``, ``tar`` and ``md5sum *`` open the files of a directory one after another
and read each whole. A run folder is thousands of small files, so what such a walk costs is one
round trip per file unless the next files are on their way while the current one is copied.

The walkers do not agree on the order: ``tar`` follows ``readdir``, GNU ``cp`` sorts by inode
number (``SAVEDIR_SORT_FASTREAD``), ``rsync`` and shell globs by name. So each recently listed
directory is indexed in all three orders, lazily on the first open of one of its files (``find``
and ``ls`` never pay for it). :class:`DirectoryReadAhead` watches the opens: once two files have
been opened in a row in one of those orders (at most ``max_skip`` entries apart), it asks the read
engine to fetch the next files in that order whole
(:meth:`~bsmount.io.reader.ReadEngine.prefetch_file`), keeping up to ``depth`` files and
``max_bytes`` ahead of the walker. Only files up to ``max_file_size`` are fetched this way (a big
file gets its own stream prefetch once opened); the engine refuses when its in-flight budget is
half spent, so streams are never starved. A jump (random access) ends the streak and prefetching
stops until order is seen again. Prefetched files that are never opened cost only their bytes;
the block cache's LRU lets them go.

Only the last ``remember_dirs`` listed directories are tracked.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Literal, Protocol

from bsmount._types import FileVersion
from bsmount.tree.nodes import Node, NodeKey

__all__ = ["DirectoryReadAhead"]

log = logging.getLogger(__name__)

MiB = 2**20
_ORDERS = ("listing", "inode", "name")


class Prefetcher(Protocol):
    """What the read-ahead needs of the read engine."""

    def prefetch_file(self, version: FileVersion) -> Literal["started", "held", "refused"]: ...


class _Order:
    """One order of a directory's files and the walk seen in it."""

    __slots__ = ("ahead_to", "files", "last_opened", "streak")

    def __init__(self, files: list[FileVersion]) -> None:
        self.files = files
        self.last_opened = -1
        self.streak = 0
        self.ahead_to = 0  # files[:ahead_to] were prefetched or passed


class _Directory:
    __slots__ = ("entries", "keys", "orders", "source")

    def __init__(self, source: object, entries: list[tuple[str, Node]]) -> None:
        self.source = source  # what it was made from: the same listing again costs nothing
        self.entries = entries  # (name, node) of its files, in listing order
        self.keys: list[NodeKey] = []
        self.orders: list[_Order] = []


class DirectoryReadAhead:
    """Prefetches the next small files of a directory walked in order."""

    def __init__(
        self,
        engine: Prefetcher,
        ino_of: Callable[[Node], int],
        *,
        depth: int = 8,
        max_bytes: int = 16 * MiB,
        max_file_size: int = 8 * MiB,
        max_skip: int = 2,
        remember_dirs: int = 4,
    ) -> None:
        self._engine = engine
        self._ino_of = ino_of
        self.depth = depth
        self.max_bytes = max_bytes
        self.max_file_size = max_file_size
        self.max_skip = max_skip
        self.remember_dirs = remember_dirs
        self._dirs: OrderedDict[NodeKey, _Directory] = OrderedDict()
        self._unindexed: list[_Directory] = []
        # file key -> its directory and its position in each order
        self._position: dict[NodeKey, tuple[_Directory, list[int]]] = {}
        self.prefetched = 0  # files the engine started fetching for us

    def listed(self, directory: NodeKey, entries: Iterable[tuple[str, Node]]) -> None:
        """A directory was opened for listing: its ``(name, node)`` entries. Listing the same
        entries object again (a memoized listing) keeps what is tracked, walk state included."""
        old = self._dirs.get(directory)
        if old is not None and old.source is entries:
            self._dirs.move_to_end(directory)
            return
        files = [entry for entry in entries if entry[1].version is not None]
        if old is not None:
            del self._dirs[directory]
            self._forget(old)
        if not files:
            return
        tracked = _Directory(entries, files)
        self._dirs[directory] = tracked
        self._unindexed.append(tracked)
        while len(self._dirs) > self.remember_dirs:
            _, evicted = self._dirs.popitem(last=False)
            self._forget(evicted)

    def opened(self, node: Node) -> None:
        """A file was opened: if it continues an in-order walk, prefetch what follows it."""
        found = self._position.get(node.key)
        if found is None and self._unindexed:
            self._index_pending()
            found = self._position.get(node.key)
        if found is None:
            return
        tracked, positions = found
        for order, index in zip(tracked.orders, positions, strict=True):
            step = index - order.last_opened
            in_order = order.last_opened >= 0 and 0 < step <= self.max_skip
            order.streak = order.streak + 1 if in_order else 0
            order.last_opened = index
            if order.streak:
                self._fill(order, index)
            else:
                order.ahead_to = index + 1

    def _index_pending(self) -> None:
        position = self._position
        for tracked in self._unindexed:
            entries = tracked.entries
            count = len(entries)
            ranks: list[list[int]] = [[0] * len(_ORDERS) for _ in range(count)]
            inodes = [self._ino_of(node) for _, node in entries]
            by_inode = sorted(range(count), key=inodes.__getitem__)
            by_name = sorted(range(count), key=lambda i: os.fsencode(entries[i][0]))
            for slot, order in enumerate((range(count), by_inode, by_name)):
                files = []
                for rank, i in enumerate(order):
                    ranks[i][slot] = rank
                    version = entries[i][1].version
                    assert version is not None
                    files.append(version)
                tracked.orders.append(_Order(files))
            for i, (_, node) in enumerate(entries):
                position[node.key] = (tracked, ranks[i])
                tracked.keys.append(node.key)
        self._unindexed.clear()

    def _fill(self, order: _Order, index: int) -> None:
        files = order.files
        position = max(order.ahead_to, index + 1)
        stop = min(len(files), index + 1 + self.depth)
        budget = self.max_bytes
        while position < stop:
            version = files[position]
            if version.size <= self.max_file_size:
                if version.size > budget:
                    break
                answer = self._engine.prefetch_file(version)
                if answer == "refused":
                    break  # the in-flight budget is spent: the next open resumes from here
                budget -= version.size
                if answer == "started":
                    self.prefetched += 1
            position += 1
        order.ahead_to = max(order.ahead_to, position)

    def _forget(self, tracked: _Directory) -> None:
        if tracked in self._unindexed:
            self._unindexed.remove(tracked)
        position = self._position
        for key in tracked.keys:
            if position.get(key, (None, []))[0] is tracked:
                del position[key]
