"""Inode numbers are stable per key; lookup counts follow pyfuse3's rules."""

from __future__ import annotations

from dataclasses import dataclass

from bsmount.tree.inodes import ROOT_INODE, InodeTable, ino_for_key


@dataclass(frozen=True)
class N:
    key: tuple[str, ...]


def test_same_key_same_inode_even_after_forget() -> None:
    table: InodeTable[N] = InodeTable(N(()))
    a = table.remember(N(("Projects", "1")))
    table.forget(a, 1)
    assert table.get(a) is None
    assert table.remember(N(("Projects", "1"))) == a == ino_for_key(("Projects", "1"))


def test_counts_accumulate_and_release() -> None:
    table: InodeTable[N] = InodeTable(N(()))
    node = N(("x",))
    ino = table.remember(node)
    table.remember(node, 2)
    assert table.count(ino) == 3
    table.forget(ino, 2)
    assert table.get(ino) is node
    table.forget(ino, 1)
    assert table.get(ino) is None


def test_root_is_never_forgotten() -> None:
    root = N(())
    table: InodeTable[N] = InodeTable(root)
    table.forget(ROOT_INODE, 10)
    assert table.get(ROOT_INODE) is root


def test_refresh_replaces_node_object() -> None:
    table: InodeTable[N] = InodeTable(N(()))
    first = N(("k",))
    ino = table.remember(first)
    second = N(("k",))
    assert table.refresh(second) == ino
    assert table.get(ino) is second


def test_inodes_avoid_reserved_range() -> None:
    for i in range(2000):
        assert ino_for_key(("k", str(i))) >= 1024
