"""DirectoryReadAhead (bsmount.fuse.dir_readahead): which files it asks the engine to fetch, when.

A fake engine records the requests; a real ReadEngine over PatternSource checks that prefetched
files are then served from the cache, byte for byte, and that the budget is respected.
"""

from __future__ import annotations

from typing import Literal

import trio

from bsmount._types import FileVersion
from bsmount.fuse.dir_readahead import DirectoryReadAhead
from bsmount.io.reader import ReadEngine
from bsmount.io.testing import PatternSource, pattern_bytes
from bsmount.tree.kinds import ROOT
from bsmount.tree.nodes import DirSpec, Node, dir_node, remote_file_node

KiB = 1024
MiB = 1024 * KiB


class FakeEngine:
    def __init__(self, refuse_after: int | None = None) -> None:
        self.asked: list[str] = []
        self.refuse_after = refuse_after

    def prefetch_file(self, version: FileVersion) -> Literal["started", "held", "refused"]:
        if version.file_id in self.asked:
            return "held"  # as the real engine answers for a file it holds
        if self.refuse_after is not None and len(self.asked) >= self.refuse_after:
            return "refused"
        self.asked.append(version.file_id)
        return "started"


def files(count: int, size: int = 256 * KiB) -> list[tuple[str, Node]]:
    """Entries named n000.. whose inode (see ``ino``) runs in the reverse order."""
    out = []
    for i in range(count):
        version = FileVersion(str(1000 + i), size, f"etag{i}")
        out.append((f"n{i:03d}", remote_file_node(("f", str(1000 + i)), version, 0)))
    return out


def rekey(node: Node, prefix: str) -> Node:
    assert node.version is not None
    return remote_file_node((prefix, str(node.key[-1])), node.version, 0)


def ino(node: Node) -> int:
    return 10_000 - int(str(node.key[-1]).lstrip("k") or 0)  # inode order = reverse listing order


def test_nothing_before_an_in_order_second_open() -> None:
    engine = FakeEngine()
    ahead = DirectoryReadAhead(engine, ino, depth=4)
    entries = files(20)
    ahead.listed(("d",), entries)
    ahead.opened(entries[5][1])
    assert engine.asked == []  # one open is not a walk
    ahead.opened(entries[6][1])
    assert engine.asked == ["1007", "1008", "1009", "1010"]
    ahead.opened(entries[7][1])  # keeps depth files ahead, never asks twice
    assert engine.asked[4:] == ["1011"]


def test_random_opens_prefetch_nothing() -> None:
    engine = FakeEngine()
    ahead = DirectoryReadAhead(engine, ino)
    entries = files(50)
    ahead.listed(("d",), entries)
    for i in (3, 40, 12, 27, 5, 33):
        ahead.opened(entries[i][1])
    assert engine.asked == []


def test_inode_and_name_orders_are_followed() -> None:
    # cp sorts by inode: here the reverse of the listing
    engine = FakeEngine()
    ahead = DirectoryReadAhead(engine, ino, depth=3)
    entries = files(10)
    ahead.listed(("d",), entries)
    ahead.opened(entries[9][1])
    ahead.opened(entries[8][1])
    assert engine.asked == ["1007", "1006", "1005"]
    # rsync and globs sort by name: a listing in another order is walked by name
    engine = FakeEngine()
    ahead = DirectoryReadAhead(engine, lambda node: 0, depth=2)
    shuffled = [entries[i] for i in (4, 0, 7, 2, 9, 1, 3, 8, 5, 6)]
    ahead.listed(("d",), shuffled)
    ahead.opened(entries[0][1])
    ahead.opened(entries[1][1])
    assert engine.asked == ["1002", "1003"]


def test_big_files_skipped_and_byte_budget() -> None:
    engine = FakeEngine()
    ahead = DirectoryReadAhead(engine, ino, depth=8, max_bytes=1 * MiB, max_file_size=2 * MiB)
    sizes = [256 * KiB] * 3 + [64 * MiB] + [256 * KiB] * 8
    entries = [
        (f"x{i:02d}", remote_file_node(("f", str(2000 + i)), FileVersion(str(2000 + i), size), 0))
        for i, size in enumerate(sizes)
    ]
    ahead.listed(("d",), entries)
    ahead.opened(entries[0][1])
    ahead.opened(entries[1][1])
    # the 64 MiB file is skipped (a stream prefetch serves it once opened); the 1 MiB byte
    # budget holds four 256 KiB files
    assert engine.asked == ["2002", "2004", "2005", "2006"]


def test_refusal_stops_the_round_and_resumes_later() -> None:
    engine = FakeEngine(refuse_after=2)
    ahead = DirectoryReadAhead(engine, ino, depth=6)
    entries = files(20)
    ahead.listed(("d",), entries)
    ahead.opened(entries[0][1])
    ahead.opened(entries[1][1])
    assert engine.asked == ["1002", "1003"]
    engine.refuse_after = None
    ahead.opened(entries[2][1])
    assert engine.asked[2:] == ["1004", "1005", "1006", "1007", "1008"]


def test_only_recent_directories_are_remembered() -> None:
    engine = FakeEngine()
    ahead = DirectoryReadAhead(engine, ino, remember_dirs=2)
    first = files(5)
    ahead.listed(("a",), first)
    ahead.listed(
        ("b",), [(n, remote_file_node(("g", k.key[-1]), k.version, 0)) for n, k in files(5)]
    )  # type: ignore[arg-type]
    ahead.listed(
        ("c",), [(n, remote_file_node(("h", k.key[-1]), k.version, 0)) for n, k in files(5)]
    )  # type: ignore[arg-type]
    ahead.opened(first[0][1])
    ahead.opened(first[1][1])
    assert engine.asked == []  # "a" was forgotten
    ahead.listed(("e",), [("sub", dir_node(("e", "sub"), DirSpec(ROOT)))])
    assert len(ahead._dirs) == 2  # a directory without files is not tracked


async def test_prefetched_files_are_served_from_the_cache_exactly() -> None:
    source = PatternSource()
    entries = files(12, 200 * KiB + 17)
    async with trio.open_nursery() as nursery:
        engine = ReadEngine(source, nursery, cache_bytes=16 * MiB, max_inflight_total=4 * MiB)
        ahead = DirectoryReadAhead(engine, ino, depth=8)
        ahead.listed(("d",), entries)
        for _, node in entries:
            assert node.version is not None
            handle = engine.open(node.version)
            ahead.opened(node)
            data = await engine.read(handle, 0, node.version.size)
            assert data == pattern_bytes(node.version, 0, node.version.size)
            engine.release(handle)
        stats = engine.statistics()
        # the first two files are read on demand; every later one was prefetched whole
        assert stats["prefetch_parts"] == 10 and stats["demand_parts"] == 2
        assert len(source.requests) == 12  # one request per file, none twice
        # half of the 4 MiB in-flight budget: never more than ~2 MiB reserved by read-ahead
        assert ahead.prefetched == 10
        engine.close()
        nursery.cancel_scope.cancel()
