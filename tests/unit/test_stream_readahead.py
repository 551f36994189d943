"""Stream read-ahead: the pure AccessPattern (sequential detection), then the fetch pattern."""

from __future__ import annotations

import random

import pytest
import trio
import trio.testing

from bsmount._types import FileVersion
from bsmount.io import ReadEngine, StreamReadAheadConfig
from bsmount.io.stream_readahead import AccessPattern, KiB, MiB
from bsmount.io.testing import PatternSource, pattern_bytes

CFG = StreamReadAheadConfig()


# -- AccessPattern (no I/O) ---------------------------------------------------------------------


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        StreamReadAheadConfig(block_size=0)
    with pytest.raises(ValueError):
        StreamReadAheadConfig(block_size=64 * KiB, part_size=100 * KiB)
    with pytest.raises(ValueError):
        StreamReadAheadConfig(initial_window=2 * MiB, max_window=1 * MiB)


def test_read_from_zero_streams_at_once_and_window_ramps_to_cap() -> None:
    ap = AccessPattern(CFG, 10 * 2**30)
    obs = ap.observe(0, 128 * KiB)
    assert obs.sequential and not obs.reset
    assert ap.window() == CFG.initial_window
    windows = []
    for i in range(1, 1024):
        ap.observe(i * 128 * KiB, (i + 1) * 128 * KiB)
        windows.append(ap.window())
    assert windows == sorted(windows)  # never shrinks while sequential
    assert windows[-1] == CFG.max_window
    # 2x what was read, until the cap
    assert windows[15] == 2 * 17 * 128 * KiB


def test_random_start_needs_contiguous_bytes_before_prefetching() -> None:
    ap = AccessPattern(CFG, 10 * 2**30)
    base = 100 * MiB
    assert not ap.observe(base, base + 64 * KiB).sequential
    assert ap.window() == 0
    pos = base + 64 * KiB
    while pos - base < CFG.promote_after - 64 * KiB:
        assert not ap.observe(pos, pos + 64 * KiB).sequential
        pos += 64 * KiB
    assert ap.observe(pos, pos + 64 * KiB).sequential
    assert ap.window() == max(CFG.initial_window, 2 * CFG.promote_after)


def test_kernel_out_of_order_readahead_stays_sequential() -> None:
    ap = AccessPattern(CFG, 2**30)
    rng = random.Random(1)
    reads = [(i * 128 * KiB, (i + 1) * 128 * KiB) for i in range(512)]
    # deliver in batches of 4, shuffled inside each batch (what async read-ahead looks like)
    for b in range(0, len(reads), 4):
        batch = reads[b : b + 4]
        rng.shuffle(batch)
        for off, end in batch:
            obs = ap.observe(off, end)
            assert obs.sequential and not obs.reset
    assert ap.hw == 512 * 128 * KiB


def test_jumps_reset_the_window() -> None:
    ap = AccessPattern(CFG, 2**34)
    for i in range(40):
        ap.observe(i * MiB, (i + 1) * MiB)
    assert ap.window() == CFG.max_window
    # backward beyond the seek window
    obs = ap.observe(10 * MiB, 10 * MiB + 4096)
    assert obs.reset and not obs.sequential and ap.window() == 0
    # a random reader never resets (nothing to drop) and never streams
    for off in (5 * 2**30, 3 * 2**30, 7 * 2**30):
        obs = ap.observe(off, off + 4096)
        assert not obs.reset and not obs.sequential


def test_forward_skip_within_window_keeps_stream_but_not_beyond() -> None:
    ap = AccessPattern(CFG, 2**34)
    ap.observe(0, MiB)
    assert ap.window() == 2 * MiB
    assert ap.observe(2 * MiB, 3 * MiB).sequential  # skipped 1 MiB < window
    w = ap.window()
    obs = ap.observe(3 * MiB + w + 1, 3 * MiB + w + 2)  # beyond the window
    assert obs.reset and not obs.sequential


def test_restart_forgets_the_run() -> None:
    ap = AccessPattern(CFG, 2**30)
    ap.observe(0, MiB)
    ap.restart()
    assert not ap.observe(5 * MiB, 6 * MiB).sequential


# -- the engine's requests ----------------------------------------------------------------------


async def _read_kernel_style(
    engine: ReadEngine, version: FileVersion, *, req: int = 128 * KiB, seed: int = 0
) -> bytes:
    """Read a whole file in `req`-sized READs issued 2-4 at a time, completing out of order."""
    handle = engine.open(version)
    rng = random.Random(seed)
    offsets = list(range(0, version.size, req))
    out: dict[int, bytes] = {}

    async def one(off: int) -> None:
        await trio.sleep(rng.random() * 1e-4)
        out[off] = await engine.read(handle, off, req)

    i = 0
    while i < len(offsets):
        batch = offsets[i : i + rng.randint(2, 4)]
        i += len(batch)
        rng.shuffle(batch)
        async with trio.open_nursery() as n:
            for off in batch:
                n.start_soon(one, off)
    engine.release(handle)
    return b"".join(out[o] for o in offsets)


async def test_sequential_64mib_uses_few_large_requests() -> None:
    version = FileVersion("seq", 64 * MiB, None)
    source = PatternSource()
    async with trio.open_nursery() as nursery:
        engine = ReadEngine(source, nursery, cache_bytes=256 * MiB)
        data = await _read_kernel_style(engine, version)
    assert data == pattern_bytes(version, 0, version.size)
    stats = engine.statistics()
    assert stats["bytes_fetched"] < 1.1 * version.size
    assert source.bytes_requested == stats["bytes_fetched"]
    # ~8 ramp-up requests, then 8 MiB parts: 64 MiB in well under 30 requests (512 READs)
    assert len(source.requests) <= 30, len(source.requests)
    big = [r for r in source.requests if r.size >= 4 * MiB]
    assert sum(r.size for r in big) >= 0.8 * version.size
    assert max(r.size for r in source.requests) <= CFG.part_size
    assert source.max_active >= 2  # several parts in flight
    assert stats["cache_hits"] + stats["inflight_hits"] >= 0.9 * stats["reads"]


async def test_parts_stay_in_flight_while_streaming_with_latency() -> None:
    version = FileVersion("lat", 48 * MiB, None)
    source = PatternSource(latency=0.002)
    async with trio.open_nursery() as nursery:
        engine = ReadEngine(source, nursery)
        handle = engine.open(version)
        for off in range(0, version.size, MiB):
            assert await engine.read(handle, off, MiB) == pattern_bytes(version, off, off + MiB)
        engine.release(handle)
    assert source.max_active >= 4  # the window keeps several 8 MiB GETs in flight
    assert engine.statistics()["bytes_fetched"] <= version.size


async def test_random_4k_reads_fetch_one_block_each() -> None:
    version = FileVersion("rand", 4 * 2**30, None)
    source = PatternSource()
    rng = random.Random(7)
    async with trio.open_nursery() as nursery:
        engine = ReadEngine(source, nursery)
        handle = engine.open(version)
        for _ in range(300):  # fio randread: 4 KiB-aligned offsets, one block each
            off = rng.randrange(0, version.size // 4096) * 4096
            assert await engine.read(handle, off, 4096) == pattern_bytes(version, off, off + 4096)
        assert len(source.requests) <= 300
        assert max(r.size for r in source.requests) <= CFG.block_size
        for _ in range(100):  # unaligned: at most the two blocks a read straddles
            off = rng.randrange(0, version.size - 4096)
            assert await engine.read(handle, off, 4096) == pattern_bytes(version, off, off + 4096)
        engine.release(handle)
    assert max(r.size for r in source.requests) <= 2 * CFG.block_size
    assert engine.statistics()["prefetch_parts"] == 0


async def test_index_style_reads_fetch_little() -> None:
    """samtools + BAI: header from 0, then jumps each followed by one or two 64 KiB reads."""
    version = FileVersion("bam", 2 * 2**30, None)
    source = PatternSource()
    rng = random.Random(3)
    read_bytes = 0
    async with trio.open_nursery() as nursery:
        engine = ReadEngine(source, nursery)
        for _query in range(20):  # each samtools run opens the file
            handle = engine.open(version)
            for off in range(0, 192 * KiB, 64 * KiB):  # header
                await engine.read(handle, off, 64 * KiB)
                read_bytes += 64 * KiB
            for _jump in range(3):
                off = rng.randrange(MiB, version.size - MiB)
                for k in range(rng.randint(1, 2)):
                    data = await engine.read(handle, off + k * 65000, 65000)
                    assert data == pattern_bytes(version, off + k * 65000, off + (k + 1) * 65000)
                    read_bytes += 65000
            engine.release(handle)
    # the header prefetch is paid once (then cached); every region costs at most 3 blocks
    assert source.bytes_requested <= 4 * read_bytes
    assert max(r.size for r in source.requests[1:]) <= 3 * CFG.block_size + CFG.initial_window


async def test_small_files_cost_one_request_each() -> None:
    source = PatternSource()
    async with trio.open_nursery() as nursery:
        engine = ReadEngine(source, nursery)
        for i in range(50):
            version = FileVersion(f"small{i}", 256 * KiB + i * 1000, None)
            handle = engine.open(version)
            data = b""
            while chunk := await engine.read(handle, len(data), 128 * KiB):
                data += chunk
            assert data == pattern_bytes(version, 0, version.size)
            engine.release(handle)
    assert len(source.requests) == 50
    assert engine.statistics()["bytes_fetched"] == sum(256 * KiB + i * 1000 for i in range(50))


async def test_short_sequential_run_overfetch_is_bounded() -> None:
    version = FileVersion("short", 2**30, None)
    for run in (64 * KiB, 512 * KiB, 3 * MiB, 20 * MiB):
        source = PatternSource()
        async with trio.open_nursery() as nursery:
            engine = ReadEngine(source, nursery)
            handle = engine.open(version)
            for off in range(0, run, 128 * KiB):
                await engine.read(handle, off, 128 * KiB)
            engine.release(handle)
        fetched = source.bytes_requested
        # window = 2 x bytes read (at least 1 MiB): stopping early wastes at most that
        assert fetched <= 3 * run + CFG.initial_window + 128 * KiB, (run, fetched)


async def test_release_cancels_prefetch_and_leaves_no_tasks() -> None:
    version = FileVersion("slow", 512 * MiB, None)
    source = PatternSource()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            engine = ReadEngine(source, nursery)
            handle = engine.open(version)
            await engine.read(handle, 0, 128 * KiB)  # the demand part completes...
            source.gate = trio.Event()  # ...then every further request hangs
            for off in range(128 * KiB, MiB, 128 * KiB):
                await engine.read(handle, off, 128 * KiB)  # served by the first prefetch part
            await trio.testing.wait_all_tasks_blocked()
            assert source.active >= 1 and engine.statistics()["inflight"] >= 1
            engine.release(handle)
            # nursery exit must not wait for the hung prefetches
    assert source.cancelled >= 1 and source.active == 0
    stats = engine.statistics()
    assert stats["inflight"] == 0 and stats["reserved_bytes"] == 0 and stats["open_handles"] == 0


async def test_shared_prefetch_survives_release_of_one_handle() -> None:
    version = FileVersion("shared", 64 * MiB, None)
    source = PatternSource()
    async with trio.open_nursery() as nursery:
        engine = ReadEngine(source, nursery)
        h1, h2 = engine.open(version), engine.open(version)
        await engine.read(h1, 0, 128 * KiB)
        source.gate = trio.Event()
        for off in range(128 * KiB, MiB, 128 * KiB):
            await engine.read(h1, off, 128 * KiB)
        await trio.testing.wait_all_tasks_blocked()
        result: list[bytes] = []

        async def reader() -> None:  # inside h1's prefetched (and hung) window
            result.append(await engine.read(h2, 2 * MiB, 128 * KiB))

        nursery.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        engine.release(h1)  # h2 waits on one of h1's prefetch parts: it must not be cancelled
        source.gate.set()
        await trio.testing.wait_all_tasks_blocked()
        engine.release(h2)
    assert result == [pattern_bytes(version, 2 * MiB, 2 * MiB + 128 * KiB)]
    assert engine.statistics()["requests"] == len(source.requests)


async def test_global_budget_bounds_prefetch_of_many_streams() -> None:
    source = PatternSource(latency=0.001)
    budget = 24 * MiB
    peak = 0
    async with trio.open_nursery() as nursery:
        engine = ReadEngine(source, nursery, max_inflight_total=budget, cache_bytes=16 * MiB)

        async def stream(i: int) -> None:
            nonlocal peak
            version = FileVersion(f"s{i}", 32 * MiB, None)
            handle = engine.open(version)
            for off in range(0, version.size, MiB):
                data = await engine.read(handle, off, MiB)
                assert data == pattern_bytes(version, off, off + MiB)
                s = engine.statistics()
                peak = max(peak, s["reserved_bytes"])
                assert s["cached_bytes"] <= 16 * MiB
            engine.release(handle)

        async with trio.open_nursery() as n:
            for i in range(8):
                n.start_soon(stream, i)
    # prefetch stops at the budget; demand reads (8 readers x 1 MiB) may add on top
    assert peak <= budget + 8 * 2 * MiB, peak


async def test_idle_handle_gives_its_window_back(autojump_clock: trio.testing.MockClock) -> None:
    source = PatternSource()
    clock_jump = 2.0
    async with trio.open_nursery() as nursery:
        engine = ReadEngine(source, nursery, max_inflight_total=40 * MiB)
        idle = engine.open(FileVersion("idle", 256 * MiB, None))
        for off in range(0, 64 * MiB, MiB):
            await engine.read(idle, off, MiB)
        await trio.testing.wait_all_tasks_blocked()
        held = engine.statistics()["reserved_bytes"]
        assert held >= 30 * MiB  # its window is pinned
        await trio.sleep(clock_jump)  # `idle` stops reading
        busy = engine.open(FileVersion("busy", 256 * MiB, None))
        for off in range(0, 32 * MiB, MiB):
            await engine.read(busy, off, MiB)
        assert engine.statistics()["reclaims"] == 1
        assert busy.pinned and not idle.pinned
        engine.release(idle)
        engine.release(busy)


def test_head_of_file_is_independent_of_the_seek_window() -> None:
    cfg = StreamReadAheadConfig(seek_back=8 * MiB, head=1 * MiB)
    near_head = AccessPattern(cfg, 512 * MiB)
    assert near_head.observe(3 * MiB, 3 * MiB + 4096).sequential is False  # random, near the head
    assert AccessPattern(cfg, 512 * MiB).observe(512 * 1024, 640 * 1024).sequential is True
    # out of order within the seek window: still one run
    assert near_head.observe(3 * MiB - 6 * MiB // 2, 3 * MiB).reset is False
