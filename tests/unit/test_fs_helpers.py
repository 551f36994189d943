"""The FUSE adapter's helpers that need no kernel: prepared listings (fuse.handles) and the
event-loop lag watch (loopwatch)."""

from __future__ import annotations

import trio

from bsmount._types import FileVersion
from bsmount.controls.registry import AWAIT
from bsmount.fuse.handles import DirectoryHandles
from bsmount.mount.loopwatch import LoopWatch
from bsmount.tree.kinds import ROOT
from bsmount.tree.metacache import Listing
from bsmount.tree.nodes import DirSpec, Node, control_node, dir_node, remote_file_node


def listing(names: list[str], hidden: str | None = None) -> Listing:
    entries: dict[str, Node] = {}
    for i, name in enumerate(names):
        entries[name] = remote_file_node(("f", str(i)), FileVersion(str(i), 10), 0)
    entries["sub"] = dir_node(("d", "sub"), DirSpec(ROOT))
    if hidden is not None:
        entries[hidden] = control_node(("c",), AWAIT)
    return Listing(entries=entries)


def test_prepared_listing_is_shared_until_the_listing_changes() -> None:
    dirs = DirectoryHandles(ttl=60.0)
    first = listing(["a", "é"], hidden=".await")
    one = dirs.open(1, ("d",), first)
    assert [name for name, _ in one.entries] == ["a", "é", "sub"]  # unlisted entries left out
    assert one.names == [b"a", "é".encode(), b"sub"] and one.attrs == [None, None, None]
    two = dirs.open(2, ("d",), first)
    assert two is one  # the same listing: prepared once
    newer = listing(["a", "b"])
    three = dirs.open(3, ("d",), newer)
    assert three is not one and [n for n, _ in three.entries] == ["a", "b", "sub"]
    assert dirs.get(1) is one and len(dirs) == 3
    dirs.release(1)
    assert dirs.get(1) is None and dirs.entries(1) == ()
    assert [n for n, _ in dirs.entries(3)] == ["a", "b", "sub"]


def test_huge_listings_are_not_memoized() -> None:
    dirs = DirectoryHandles(ttl=60.0, memo_entries=2)
    big = listing(["a", "b", "c"])
    one = dirs.open(1, ("d",), big)
    assert dirs.open(2, ("d",), big) is not one  # over the memo's bound: rebuilt per handle


def test_loop_watch_counts_stalls() -> None:
    watch = LoopWatch()
    for lag in (0.001, 0.06, 0.2):
        watch.record(lag)
    expected = {"samples": 3, "longest_ms": 200.0, "over_50ms": 2, "over_100ms": 1}
    assert watch.statistics() == expected


async def test_loop_watch_sees_a_blocked_loop() -> None:
    import time

    watch = LoopWatch(interval=0.005)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch.run)
        await trio.sleep(0.05)
        time.sleep(0.15)  # noqa: ASYNC251  # hold the loop, as a long synchronous step would
        await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    assert watch.longest >= 0.1 and watch.over_100ms >= 1
