"""Inode numbers and the kernel's lookup counts.

An inode number is derived from the node's key (a tuple naming its place by ids, not by names)
with a 64-bit hash, so an entity keeps its number for the life of the mount — and across
remounts — without the table having to remember forgotten nodes. The table holds only the nodes
the kernel currently references (lookup count > 0), so memory follows the kernel's working set,
not the size of the account.

Invariants (pyfuse3 developer-notes/lookup_counts.rst): every reply that hands an inode to the
kernel (lookup, readdirplus entries, create) adds one to its count; ``forget`` subtracts; state is
dropped only when the count reaches zero. The root is never dropped.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

__all__ = ["ROOT_INODE", "InodeTable", "KeyedNode", "ino_for_key"]

log = logging.getLogger(__name__)

ROOT_INODE = 1
_FIRST_FREE = 1024  # numbers below are reserved for fixed inodes
_MASK = (1 << 63) - 1


class KeyedNode(Protocol):
    @property
    def key(self) -> Hashable: ...


N = TypeVar("N", bound=KeyedNode)


def ino_for_key(key: Hashable) -> int:
    """The preferred inode number of a key: a stable 63-bit hash, never a reserved number."""
    digest = hashlib.blake2b(repr(key).encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little") & _MASK
    return value if value >= _FIRST_FREE else value + _FIRST_FREE


class InodeTable(Generic[N]):
    """Maps inode numbers to the nodes the kernel knows, with lookup counts."""

    def __init__(self, root: N) -> None:
        self._nodes: dict[int, N] = {ROOT_INODE: root}
        self._counts: dict[int, int] = {ROOT_INODE: 1}
        self._by_key: dict[Hashable, int] = {root.key: ROOT_INODE}

    def __len__(self) -> int:
        return len(self._nodes)

    def ino_of(self, node: N) -> int:
        """The inode number of ``node`` (stable; registers nothing)."""
        known = self._by_key.get(node.key)
        if known is not None:
            return known
        ino = ino_for_key(node.key)
        while ino in self._nodes and self._nodes[ino].key != node.key:
            log.warning("inode hash collision at %d for %r; probing", ino, node.key)
            ino = ino + 1 if ino < _MASK else _FIRST_FREE
        return ino

    def remember(self, node: N, count: int = 1) -> int:
        """Hand ``node`` to the kernel ``count`` times; keep the newest node object for its key."""
        ino = self.ino_of(node)
        self._nodes[ino] = node
        self._by_key[node.key] = ino
        self._counts[ino] = self._counts.get(ino, 0) + count
        return ino

    def refresh(self, node: N) -> int | None:
        """Replace a known node by a newer object for the same key (attributes changed)."""
        ino = self._by_key.get(node.key)
        if ino is not None:
            self._nodes[ino] = node
        return ino

    def known_ino(self, key: Hashable) -> int | None:
        """The inode of ``key`` if the kernel currently knows it."""
        return self._by_key.get(key)

    def known_under(self, prefix: tuple[object, ...]) -> list[int]:
        """Inodes the kernel knows whose key starts with ``prefix`` (a subtree)."""
        size = len(prefix)
        return [
            ino
            for key, ino in self._by_key.items()
            if isinstance(key, tuple) and key[:size] == prefix
        ]

    def get(self, ino: int) -> N | None:
        return self._nodes.get(ino)

    def count(self, ino: int) -> int:
        return self._counts.get(ino, 0)

    def forget(self, ino: int, nlookup: int) -> None:
        """The kernel dropped ``nlookup`` references; free the node when none remain."""
        if ino == ROOT_INODE:
            return
        remaining = self._counts.get(ino, 0) - nlookup
        if remaining > 0:
            self._counts[ino] = remaining
            return
        if remaining < 0:
            log.warning("forget(%d, %d) below zero; kernel and table disagree", ino, nlookup)
        node = self._nodes.pop(ino, None)
        self._counts.pop(ino, None)
        if node is not None and self._by_key.get(node.key) == ino:
            del self._by_key[node.key]
