"""Listing prefetch: bounded, quiet on errors, cancellable, and never a duplicate request."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import trio
import trio.testing

from bsmount.api.models import FileInfo, RunDirectory
from bsmount.errors import TransportError
from bsmount.tree.kinds import RUN_FOLDER
from bsmount.tree.listing_prefetch import ListingPrefetcher, prefetchable
from bsmount.tree.metacache import Listing
from bsmount.tree.nodes import DirSpec, Node, dir_node
from bsmount.tree.tree import Tree

RUN_KEY = ("Runs", "41", "Files")


def _run_dir(path: str = "") -> Node:
    if not path:
        return dir_node(RUN_KEY, DirSpec(RUN_FOLDER, ("41",)))
    return dir_node(RUN_KEY + ("d", path), DirSpec(RUN_FOLDER, ("41", path)))


def _file(fid: str, path: str) -> FileInfo:
    return FileInfo.from_json(
        {
            "Id": fid,
            "Name": path.rsplit("/", 1)[-1],
            "Path": path,
            "Size": 10,
            "UploadStatus": "complete",
            "DateCreated": "2020-01-01T00:00:00.0000000Z",
        }
    )


class RunClient:
    """A run folder: ``lanes`` lanes of ``cycles`` cycle directories of 2 files each.

    Every listing takes ``delay`` seconds (the fake clock autojumps) and is counted; listings of
    directories in ``failing`` raise."""

    def __init__(self, lanes: int = 4, cycles: int = 10, delay: float = 0.05) -> None:
        self.delay = delay
        self.calls: Counter[str] = Counter()
        self.in_flight = 0
        self.peak = 0
        self.failing: set[str] = set()
        base = "Data/Intensities/BaseCalls"
        self.dirs: dict[str, list[str]] = {
            "": ["Data"],
            "Data": ["Intensities"],
            "Data/Intensities": ["BaseCalls"],
            base: [f"L00{lane}" for lane in range(1, lanes + 1)],
        }
        for lane in range(1, lanes + 1):
            lane_dir = f"{base}/L00{lane}"
            self.dirs[lane_dir] = [f"C{c}.1" for c in range(1, cycles + 1)]
            for c in range(1, cycles + 1):
                self.dirs[f"{lane_dir}/C{c}.1"] = []

    async def list_run_directory(self, run_id: str, directory: str = "/") -> RunDirectory:
        path = directory.strip("/")
        self.calls[path] += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await trio.sleep(self.delay)
            if path in self.failing:
                raise TransportError(f"listing of {path!r} failed")
            files = [_file(f"{path}#{i}", f"{path}/f{i}.bcl".lstrip("/")) for i in range(2)]
            return RunDirectory(files=files, subdirectories=list(self.dirs[path]))
        finally:
            self.in_flight -= 1


def _tree(client: RunClient, nursery: trio.Nursery | None, **options: Any) -> Tree:
    return Tree(client, nursery=nursery, **options)  # type: ignore[arg-type]


async def _walk(tree: Tree, node: Node, found: list[str]) -> None:
    """A depth-first ``find``: list (walk=True), then descend into sub-directories in order."""
    listing = await tree.listing(node, walk=True)
    for name, child in listing.entries.items():
        if name.startswith("."):
            continue
        found.append("/".join(child.key))
        if child.is_dir:
            await _walk(tree, child, found)


async def test_walk_lists_each_directory_once_and_overlaps_requests(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client = RunClient(lanes=4, cycles=10, delay=0.05)
    async with trio.open_nursery() as nursery:
        tree = _tree(client, nursery, prefetch_concurrency=4)
        found: list[str] = []
        start = trio.current_time()
        await _walk(tree, _run_dir(), found)
        elapsed = trio.current_time() - start
        assert tree.prefetcher.pending == 0
    assert set(client.calls) == set(client.dirs)
    assert max(client.calls.values()) == 1  # single flight + cache: never listed twice
    assert 1 < client.peak <= 4
    # 48 directories one after another would take 48 × 0.05 s; the prefetch overlaps them
    assert elapsed < 0.5 * len(client.dirs) * client.delay
    assert len([f for f in found if "/f" not in f]) == len(client.dirs) - 1


async def test_sequential_without_nursery(autojump_clock: trio.testing.MockClock) -> None:
    client = RunClient(lanes=2, cycles=3, delay=0.05)
    tree = _tree(client, None)
    found: list[str] = []
    start = trio.current_time()
    await _walk(tree, _run_dir(), found)
    assert trio.current_time() - start == pytest.approx(len(client.dirs) * client.delay)
    assert client.peak == 1
    assert not tree.prefetcher.enabled


async def test_concurrency_is_bounded(autojump_clock: trio.testing.MockClock) -> None:
    client = RunClient(lanes=1, cycles=40, delay=0.05)
    async with trio.open_nursery() as nursery:
        tree = _tree(client, nursery, prefetch_concurrency=3)
        await tree.listing(_run_dir("Data/Intensities/BaseCalls/L001"), walk=True)
        await trio.sleep(0.01)
        assert tree.prefetcher.in_flight == 3
        assert tree.prefetcher.pending == 40 - 3
    assert client.peak == 3
    assert tree.prefetcher.counters.done == 40
    assert tree.prefetcher.counters.peak_in_flight == 3


async def test_depth_bound_follows_the_reader(autojump_clock: trio.testing.MockClock) -> None:
    """Listing the lanes' parent prefetches the lanes, not the cycles below them; listing a lane
    then prefetches its cycles, each once."""
    client = RunClient(lanes=4, cycles=10, delay=0.05)
    base = "Data/Intensities/BaseCalls"
    async with trio.open_nursery() as nursery:
        tree = _tree(client, nursery)
        await tree.listing(_run_dir(base), walk=True)
        await trio.sleep(1)
        assert set(client.calls) == {base} | {f"{base}/L00{n}" for n in range(1, 5)}
        await tree.listing(_run_dir(f"{base}/L001"), walk=True)  # cached: its cycles follow
        await tree.listing(_run_dir(f"{base}/L001"), walk=True)  # expanded once only
        await trio.sleep(1)
    assert client.calls[f"{base}/L001"] == 1
    assert sum(1 for key in client.calls if key.startswith(f"{base}/L001/")) == 10
    assert not any(key.startswith(f"{base}/L002/") for key in client.calls)
    assert max(client.calls.values()) == 1
    assert tree.prefetcher.counters.queued == 4 + 10


async def test_lookup_does_not_prefetch(autojump_clock: trio.testing.MockClock) -> None:
    client = RunClient(lanes=4, cycles=2)
    async with trio.open_nursery() as nursery:
        tree = _tree(client, nursery)
        child = await tree.lookup(_run_dir("Data/Intensities/BaseCalls"), "L001")
        assert child is not None and prefetchable(child)
        assert tree.prefetcher.counters.queued == 0
    assert set(client.calls) == {"Data/Intensities/BaseCalls"}


async def test_errors_are_swallowed_and_the_reader_sees_them(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client = RunClient(lanes=4, cycles=2)
    client.failing = {"Data/Intensities/BaseCalls/L002"}
    async with trio.open_nursery() as nursery:
        tree = _tree(client, nursery)
        await tree.listing(_run_dir("Data/Intensities/BaseCalls"), walk=True)
        await trio.testing.wait_all_tasks_blocked()
        await trio.sleep(1)
        assert tree.prefetcher.counters.failed == 1
        assert tree.prefetcher.counters.done == 3
        # the failure was not cached: the reader's own listing tries again and sees the error
        with pytest.raises(TransportError):
            await tree.listing(_run_dir("Data/Intensities/BaseCalls/L002"))
    assert client.calls["Data/Intensities/BaseCalls/L002"] == 2


async def test_close_cancels_prefetch(autojump_clock: trio.testing.MockClock) -> None:
    client = RunClient(lanes=1, cycles=50, delay=3600)
    cycles = [_run_dir(f"Data/Intensities/BaseCalls/L001/C{c}.1") for c in range(1, 51)]
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            tree = _tree(client, nursery, prefetch_concurrency=4)
            tree.prefetcher.schedule(cycles, 0)
            await trio.sleep(1)
            assert tree.prefetcher.in_flight == 4
            tree.close()  # the nursery can now close although every listing takes an hour
    assert tree.prefetcher.pending == 0
    assert client.in_flight == 0
    assert tree.prefetcher.counters.done == 0
    assert tree.prefetcher.counters.failed == 0  # a cancellation is not a failure
    tree.prefetcher.schedule(cycles, 0)  # closed: ignored
    assert tree.prefetcher.counters.queued == 50


async def test_nursery_cancel_ends_workers(autojump_clock: trio.testing.MockClock) -> None:
    client = RunClient(lanes=1, cycles=20, delay=3600)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            tree = _tree(client, nursery)
            tree.prefetcher.schedule(
                [_run_dir(f"Data/Intensities/BaseCalls/L001/C{c}.1") for c in range(1, 21)], 0
            )
            await trio.sleep(1)
            assert client.in_flight == 6
            nursery.cancel_scope.cancel()  # what unmounting does
    assert client.in_flight == 0


async def test_pending_queue_is_bounded(autojump_clock: trio.testing.MockClock) -> None:
    client = RunClient(lanes=1, cycles=30, delay=0.05)
    async with trio.open_nursery() as nursery:
        prefetcher = ListingPrefetcher(
            lambda node, depth: _tree(client, None).listing(node), nursery, max_pending=10
        )
        prefetcher.schedule(
            [_run_dir(f"Data/Intensities/BaseCalls/L001/C{c}.1") for c in range(1, 31)], 0
        )
        assert prefetcher.pending == 10
        assert prefetcher.counters.dropped == 20
    assert sum(client.calls.values()) == 10


async def test_no_prefetch_without_a_cache(autojump_clock: trio.testing.MockClock) -> None:
    """With a TTL of 0 nothing would keep a prefetched listing: prefetch is off."""
    client = RunClient(lanes=4, cycles=2)
    async with trio.open_nursery() as nursery:
        tree = _tree(client, nursery, ttl=0)
        await tree.listing(_run_dir("Data/Intensities/BaseCalls"), walk=True)
        assert not tree.prefetcher.enabled
    assert set(client.calls) == {"Data/Intensities/BaseCalls"}


async def test_invalidate_forgets_queued_work(autojump_clock: trio.testing.MockClock) -> None:
    client = RunClient(lanes=1, cycles=20, delay=0.05)
    async with trio.open_nursery() as nursery:
        tree = _tree(client, nursery, prefetch_concurrency=2)
        await tree.listing(_run_dir("Data/Intensities/BaseCalls/L001"), walk=True)
        await trio.sleep(0.01)
        tree.invalidate(RUN_KEY)
        assert tree.prefetcher.pending == 0
    assert sum(client.calls.values()) == 1 + 2  # the listing and the two already in flight


async def test_reader_waiting_on_a_cancelled_prefetch_loads_itself(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A reader that joined a prefetch's flight is not handed the prefetch's cancellation."""
    client = RunClient(lanes=1, cycles=3, delay=10)
    lane = _run_dir("Data/Intensities/BaseCalls/L001")
    got: list[Listing] = []
    async with trio.open_nursery() as nursery:
        tree = _tree(client, nursery)
        tree.prefetcher.schedule([lane], 0)
        await trio.sleep(1)  # the prefetch's request is in flight
        assert client.in_flight == 1

        async def reader() -> None:
            got.append(await tree.listing(lane))

        nursery.start_soon(reader)
        await trio.sleep(1)  # the reader waits on the prefetch's flight
        tree.close()
    assert got and set(got[0].entries) >= {"C1.1", "C2.1", "C3.1"}
    assert client.calls["Data/Intensities/BaseCalls/L001"] == 2  # the cancelled one, the reader's
