"""ReadEngine: byte-exact reads (property-based), single flight, errors, cancellation, MD5."""

from __future__ import annotations

import hashlib
import random

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bsmount._types import FileVersion
from bsmount.errors import IntegrityError, StaleFileError, TransportError
from bsmount.io import ReadEngine, StreamReadAheadConfig
from bsmount.io.stream_readahead import KiB, MiB
from bsmount.io.testing import PatternSource, pattern_bytes

# A tiny geometry so that short random reads cross blocks, parts, windows and evictions.
TINY = StreamReadAheadConfig(
    block_size=16,
    part_size=64,
    initial_window=48,
    max_window=256,
    seek_back=64,
    head=64,
    seek_forward=128,
    promote_after=40,
)


def _self_consistent(file_id: str, size: int) -> FileVersion:
    """A version whose ETag is the MD5 of what :class:`EtagBlindSource` serves for it."""
    # pattern content is salted by the ETag, so the source serves the bytes of a fixed version
    # and the engine is given a version whose ETag is the MD5 of those bytes.
    served = FileVersion(file_id, size, "0" * 32)
    return FileVersion(file_id, size, hashlib.md5(pattern_bytes(served, 0, size)).hexdigest())


class EtagBlindSource(PatternSource):
    """Serves the bytes of the version with an all-zero ETag whatever ETag is asked for."""

    async def read_range(self, version: FileVersion, start: int, end: int) -> bytes | bytearray:
        served = FileVersion(version.file_id, version.size, "0" * 32)
        return await super().read_range(served, start, end)


def expected_blind(version: FileVersion, start: int, end: int) -> bytes:
    return pattern_bytes(FileVersion(version.file_id, version.size, "0" * 32), start, end)


# -- property-based: random reads on several handles and files --------------------------------

read_op = st.tuples(
    st.integers(0, 5),  # handle index
    st.integers(0, 1100),  # offset (files are up to ~1000 bytes: includes past EOF)
    st.integers(0, 200),  # size
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    sizes=st.lists(st.integers(0, 1000), min_size=1, max_size=3),
    batches=st.lists(st.lists(read_op, min_size=1, max_size=6), min_size=1, max_size=12),
    cache_bytes=st.sampled_from([0, 100, 400, 100_000]),
    inflight=st.sampled_from([64, 300, 10_000]),
    latency=st.sampled_from([0.0, 0.0001]),
    buffers=st.booleans(),
    zero_copy=st.booleans(),
)
async def test_random_reads_are_byte_exact(
    sizes: list[int],
    batches: list[list[tuple[int, int, int]]],
    cache_bytes: int,
    inflight: int,
    latency: float,
    buffers: bool,
    zero_copy: bool,
) -> None:
    versions = [FileVersion(f"f{i}", size, f"{i:032x}") for i, size in enumerate(sizes)]
    source = PatternSource(latency=latency, buffers=buffers)
    async with trio.open_nursery() as nursery:
        engine = ReadEngine(
            source, nursery, cache_bytes=cache_bytes, max_inflight_total=inflight, config=TINY
        )
        handles = [engine.open(versions[i % len(versions)]) for i in range(6)]

        async def check(h: int, offset: int, size: int) -> None:
            handle = handles[h]
            if zero_copy:  # what the FUSE adapter uses: possibly a view into a cached part
                view = await engine.read_buffer(handle, offset, size)
                assert not isinstance(view, memoryview) or view.readonly
                data = bytes(view)
            else:
                data = await engine.read(handle, offset, size)
            assert data == pattern_bytes(handle.version, offset, offset + size)

        for batch in batches:  # reads of a batch run concurrently
            async with trio.open_nursery() as inner:
                for h, offset, size in batch:
                    inner.start_soon(check, h, offset, size)
            stats = engine.statistics()
            assert stats["cached_bytes"] <= cache_bytes
        for handle in handles:
            engine.release(handle)
    stats = engine.statistics()
    assert stats["inflight"] == 0 and stats["reserved_bytes"] == 0
    assert stats["bytes_fetched"] == source.completed_bytes
    for r in source.requests:  # every fetch is block-aligned (or ends at EOF)
        assert r.start % TINY.block_size == 0


chaos_op = st.one_of(
    st.tuples(st.just("read"), st.integers(0, 3), st.integers(0, 900), st.integers(1, 150)),
    st.tuples(st.just("cancel"), st.integers(0, 3), st.integers(0, 900), st.integers(0, 4)),
    st.tuples(st.just("invalidate"), st.integers(0, 1), st.just(0), st.just(0)),
    st.tuples(st.just("reopen"), st.integers(0, 3), st.just(0), st.just(0)),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches=st.lists(st.lists(chaos_op, min_size=1, max_size=8), min_size=1, max_size=10),
    cache_bytes=st.sampled_from([0, 200, 5000]),
    verify=st.booleans(),
)
async def test_cancel_release_invalidate_keep_bytes_exact_and_books_balanced(
    batches: list[list[tuple[str, int, int, int]]], cache_bytes: int, verify: bool
) -> None:
    versions = [_self_consistent("c0", 800), _self_consistent("c1", 333)]
    source = EtagBlindSource(latency=0.0001)
    async with trio.open_nursery() as nursery:
        engine = ReadEngine(
            source,
            nursery,
            cache_bytes=cache_bytes,
            config=TINY,
            verify_md5=verify,
            max_inflight_total=200,
        )
        handles = [engine.open(versions[i % 2]) for i in range(4)]

        async def read(h: int, offset: int, size: int) -> None:
            handle = handles[h]
            data = await engine.read(handle, offset, size)
            assert data == expected_blind(handle.version, offset, offset + size)

        async def cancelled_read(h: int, offset: int, ticks: int) -> None:
            with trio.CancelScope() as scope:
                nursery.start_soon(_cancel_after, scope, ticks)
                await read(h, offset, 40)

        async with trio.open_nursery() as inner:
            for batch in batches:
                for op, a, b, c in batch:
                    if op == "read":
                        inner.start_soon(read, a, b, c)
                    elif op == "cancel":
                        inner.start_soon(cancelled_read, a, b, c)
                    elif op == "invalidate":
                        engine.invalidate(versions[a].file_id)
                    else:
                        engine.release(handles[a])
                        handles[a] = engine.open(versions[a % 2])
                await trio.testing.wait_all_tasks_blocked()
                assert engine.statistics()["cached_bytes"] <= cache_bytes
        for handle in handles:
            engine.release(handle)
    stats = engine.statistics()
    assert stats["inflight"] == 0 and stats["reserved_bytes"] == 0 and stats["md5_failed"] == 0
    assert stats["open_handles"] == 0


async def _cancel_after(scope: trio.CancelScope, ticks: int) -> None:
    for _ in range(ticks):
        await trio.lowlevel.checkpoint()
    scope.cancel()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    reads=st.lists(st.tuples(st.integers(0, 3000), st.integers(1, 300)), min_size=1, max_size=30),
    fail_mod=st.integers(2, 5),
)
async def test_faults_never_give_wrong_bytes(reads: list[tuple[int, int]], fail_mod: int) -> None:
    version = FileVersion("faulty", 2500, None)
    calls = 0

    def fault(v: FileVersion, start: int, end: int) -> BaseException | int | None:
        nonlocal calls
        calls += 1
        if calls % fail_mod == 0:
            return TransportError("injected")
        if calls % (fail_mod + 1) == 0:
            return (end - start) // 2  # a short body
        return None

    source = PatternSource(fault=fault)
    async with trio.open_nursery() as nursery:
        engine = ReadEngine(source, nursery, cache_bytes=500, config=TINY)
        handle = engine.open(version)

        async def one(offset: int, size: int) -> None:
            try:
                data = await engine.read(handle, offset, size)
            except (TransportError, IntegrityError):
                return
            assert data == pattern_bytes(version, offset, offset + size)

        async with trio.open_nursery() as inner:
            for offset, size in reads:
                inner.start_soon(one, offset, size)
        # whatever failed before, a fault-free pass reads everything right
        source.fault = None
        for offset, size in reads:
            assert await engine.read(handle, offset, size) == pattern_bytes(
                version, offset, offset + size
            )
        engine.release(handle)
    assert engine.statistics()["reserved_bytes"] == 0


# -- EOF and argument edges ---------------------------------------------------------------------


async def test_eof_short_reads_and_empty_file(nursery: trio.Nursery) -> None:
    source = PatternSource()
    engine = ReadEngine(source, nursery)
    version = FileVersion("small", 1000, None)
    handle = engine.open(version)
    assert await engine.read(handle, 990, 100) == pattern_bytes(version, 990, 1000)
    assert await engine.read(handle, 1000, 10) == b""
    assert await engine.read(handle, 5000, 10) == b""
    assert await engine.read(handle, 10, 0) == b""
    with pytest.raises(ValueError):
        await engine.read(handle, -1, 10)
    empty = engine.open(FileVersion("empty", 0, None))
    assert await engine.read(empty, 0, 4096) == b""
    assert all(r.end <= 1000 for r in source.requests)
    engine.release(handle)
    engine.release(empty)
    with pytest.raises(ValueError):
        await engine.read(handle, 0, 10)


async def test_open_does_no_io(nursery: trio.Nursery) -> None:
    source = PatternSource()
    engine = ReadEngine(source, nursery)
    handle = engine.open(FileVersion("x", 10 * MiB, None))
    await trio.testing.wait_all_tasks_blocked()
    assert source.requests == [] and engine.statistics()["open_handles"] == 1
    engine.release(handle)
    engine.release(handle)  # idempotent
    assert engine.statistics()["open_handles"] == 0


async def test_read_buffer_avoids_copies(nursery: trio.Nursery) -> None:
    engine = ReadEngine(PatternSource(), nursery)
    version = FileVersion("buf", 4 * MiB, None)
    handle = engine.open(version)
    view = await engine.read_buffer(handle, 1000, 128 * KiB)
    assert isinstance(view, memoryview) and view.readonly
    assert bytes(view) == pattern_bytes(version, 1000, 1000 + 128 * KiB)
    data = await engine.read(handle, 1000, 128 * KiB)
    assert type(data) is bytes and data == bytes(view)
    engine.release(handle)


async def test_bytearray_answers_are_adopted_and_exposed_read_only(nursery: trio.Nursery) -> None:
    source = PatternSource(buffers=True)
    engine = ReadEngine(source, nursery, config=StreamReadAheadConfig(part_size=256 * KiB))
    version = FileVersion("ba", 1 * MiB, None)
    handle = engine.open(version)
    whole = await engine.read_buffer(handle, 0, 64 * KiB)  # one whole block: still a view
    assert isinstance(whole, memoryview) and whole.readonly
    with pytest.raises(TypeError):
        whole[0] = 0  # type: ignore[index]
    assert bytes(whole) == pattern_bytes(version, 0, 64 * KiB)
    across = await engine.read_buffer(handle, 200 * KiB, 128 * KiB)  # crosses parts: joined
    assert bytes(across) == pattern_bytes(version, 200 * KiB, 328 * KiB)
    assert type(await engine.read(handle, 0, 10)) is bytes
    engine.release(handle)


# -- single flight, errors, cancellation --------------------------------------------------------


async def test_concurrent_readers_of_one_block_share_one_fetch(nursery: trio.Nursery) -> None:
    source = PatternSource()
    source.gate = trio.Event()
    engine = ReadEngine(source, nursery)
    version = FileVersion("hot", 100 * MiB, None)
    offset = 50 * MiB + 1000
    results: list[bytes] = []

    async def reader() -> None:
        handle = engine.open(version)
        results.append(await engine.read(handle, offset, 4096))
        engine.release(handle)

    async with trio.open_nursery() as inner:
        for _ in range(10):
            inner.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        assert len(source.requests) == 1
        source.gate.set()
    assert results == [pattern_bytes(version, offset, offset + 4096)] * 10
    assert len(source.requests) == 1
    stats = engine.statistics()
    assert stats["cache_misses"] == 1 and stats["inflight_hits"] == 9


async def test_source_error_propagates_unchanged_and_is_not_cached(nursery: trio.Nursery) -> None:
    err = StaleFileError("file changed")
    fail = [True]

    def fault(v: FileVersion, start: int, end: int) -> BaseException | None:
        return err if fail[0] else None

    source = PatternSource(fault=fault)
    engine = ReadEngine(source, nursery)
    version = FileVersion("err", 10 * MiB, "e" * 32)
    handle = engine.open(version)
    with pytest.raises(StaleFileError) as info:
        await engine.read(handle, 5 * MiB, 4096)
    assert info.value is err
    assert engine.statistics()["fetch_errors"] == 1 and engine.statistics()["cached_bytes"] == 0
    fail[0] = False
    assert await engine.read(handle, 5 * MiB, 4096) == pattern_bytes(
        version, 5 * MiB, 5 * MiB + 4096
    )
    assert len(source.requests) == 2
    engine.release(handle)


async def test_error_wakes_every_waiter(nursery: trio.Nursery) -> None:
    source = PatternSource(fault=lambda v, s, e: TransportError("down"))
    source.gate = trio.Event()
    engine = ReadEngine(source, nursery)
    version = FileVersion("down", 4 * MiB, None)
    errors: list[BaseException] = []

    async def reader() -> None:
        handle = engine.open(version)
        try:
            await engine.read(handle, 3 * MiB, 100)  # random: one block
        except TransportError as exc:
            errors.append(exc)
        engine.release(handle)

    with trio.fail_after(5):
        async with trio.open_nursery() as inner:
            for _ in range(5):
                inner.start_soon(reader)
            await trio.testing.wait_all_tasks_blocked()
            source.gate.set()
    assert len(errors) == 5 and len(source.requests) == 1


async def test_short_answer_from_source_is_an_integrity_error(nursery: trio.Nursery) -> None:
    source = PatternSource(fault=lambda v, s, e: (e - s) - 1)
    engine = ReadEngine(source, nursery)
    handle = engine.open(FileVersion("short", MiB, None))
    with pytest.raises(IntegrityError):
        await engine.read(handle, 200 * KiB, 10)
    engine.release(handle)


async def test_cancelled_reader_does_not_break_the_shared_fetch(nursery: trio.Nursery) -> None:
    source = PatternSource()
    source.gate = trio.Event()
    engine = ReadEngine(source, nursery)
    version = FileVersion("shared", 8 * MiB, None)
    h1, h2 = engine.open(version), engine.open(version)
    got: list[bytes] = []
    async with trio.open_nursery() as inner:
        cancel_me = trio.CancelScope()

        async def interrupted() -> None:
            with cancel_me:
                await engine.read(h1, 3 * MiB, 4096)
            got.append(b"cancelled")

        async def patient() -> None:
            got.append(await engine.read(h2, 3 * MiB, 4096))

        inner.start_soon(interrupted)
        await trio.testing.wait_all_tasks_blocked()
        inner.start_soon(patient)
        await trio.testing.wait_all_tasks_blocked()
        cancel_me.cancel()  # the FUSE request was interrupted
        await trio.testing.wait_all_tasks_blocked()
        source.gate.set()
    assert sorted(got) == sorted([b"cancelled", pattern_bytes(version, 3 * MiB, 3 * MiB + 4096)])
    assert len(source.requests) == 1 and source.cancelled == 0
    # the stream of the interrupted handle carries on
    assert await engine.read(h1, 3 * MiB, 4096) == pattern_bytes(version, 3 * MiB, 3 * MiB + 4096)
    engine.release(h1)
    engine.release(h2)


async def test_close_fails_pending_reads_without_hanging(nursery: trio.Nursery) -> None:
    source = PatternSource()
    source.gate = trio.Event()
    engine = ReadEngine(source, nursery)
    handle = engine.open(FileVersion("c", MiB, None))
    outcome: list[BaseException] = []

    async def reader() -> None:
        try:
            await engine.read(handle, 0, 10)
        except TransportError as exc:
            outcome.append(exc)

    with trio.fail_after(5):
        async with trio.open_nursery() as inner:
            inner.start_soon(reader)
            await trio.testing.wait_all_tasks_blocked()
            engine.close()
    assert len(outcome) == 1 and "closed" in str(outcome[0])
    with pytest.raises(RuntimeError):
        engine.open(FileVersion("d", 1, None))


# -- memory bounds, versions, invalidation ------------------------------------------------------


async def test_cache_stays_within_its_byte_bound(nursery: trio.Nursery) -> None:
    source = PatternSource()
    cap, budget = 32 * MiB, 64 * MiB
    engine = ReadEngine(source, nursery, cache_bytes=cap, max_inflight_total=budget)
    versions = [FileVersion(f"big{i}", 64 * MiB, None) for i in range(10)]
    peak_cached = peak_reserved = 0

    async def stream(version: FileVersion) -> None:
        nonlocal peak_cached, peak_reserved
        handle = engine.open(version)
        rng = random.Random(version.file_id)
        for off in range(0, version.size, MiB):
            data = await engine.read(handle, off, MiB)
            if rng.random() < 0.05:  # spot-check content (comparing all of it is slow)
                assert data == pattern_bytes(version, off, off + MiB)
            s = engine.statistics()
            peak_cached = max(peak_cached, s["cached_bytes"])
            peak_reserved = max(peak_reserved, s["reserved_bytes"])
        engine.release(handle)

    async with trio.open_nursery() as inner:
        for version in versions:
            inner.start_soon(stream, version)
    assert peak_cached <= cap
    assert peak_reserved <= budget + 10 * 2 * MiB  # + the reads in progress (demand)
    stats = engine.statistics()
    assert stats["bytes_fetched"] >= 640 * MiB and stats["evictions"] > 0
    assert stats["reserved_bytes"] == 0 and stats["cached_bytes"] <= cap


async def test_versions_never_mix_and_invalidate_refetches(nursery: trio.Nursery) -> None:
    source = PatternSource()
    engine = ReadEngine(source, nursery)
    old = FileVersion("doc", 300 * KiB, "1" * 32)
    new = FileVersion("doc", 300 * KiB, "2" * 32)
    other = FileVersion("other", 300 * KiB, None)
    h_old, h_new, h_other = engine.open(old), engine.open(new), engine.open(other)
    a = await engine.read(h_old, 0, 300 * KiB)
    b = await engine.read(h_new, 0, 300 * KiB)
    await engine.read(h_other, 0, 300 * KiB)
    assert a == pattern_bytes(old, 0, 300 * KiB) and b == pattern_bytes(new, 0, 300 * KiB)
    assert a != b
    n = len(source.requests)
    assert await engine.read(h_old, 1000, 10) == a[1000:1010]  # cached
    assert len(source.requests) == n
    engine.invalidate("doc")
    stats = engine.statistics()  # only "other" is left (pinned by its handle's window, or cached)
    assert stats["cached_bytes"] + stats["reserved_bytes"] == 300 * KiB
    assert await engine.read(h_old, 1000, 10) == a[1000:1010]
    assert len(source.requests) > n  # refetched
    n = len(source.requests)
    await engine.read(h_other, 1000, 10)
    assert len(source.requests) == n  # other files untouched
    for h in (h_old, h_new, h_other):
        engine.release(h)


# -- whole-file MD5 verification ----------------------------------------------------------------


async def test_md5_of_a_full_sequential_read_is_checked(nursery: trio.Nursery) -> None:
    version = _self_consistent("good", 20 * MiB + 12345)
    source = EtagBlindSource()
    engine = ReadEngine(source, nursery, verify_md5=True)
    handle = engine.open(version)
    data = bytearray()
    for off in range(0, version.size, 128 * KiB):
        data += await engine.read(handle, off, 128 * KiB)
    assert bytes(data) == expected_blind(version, 0, version.size)
    assert engine.statistics()["md5_ok"] == 1
    engine.release(handle)
    # a second full read of a verified version is not hashed again
    handle = engine.open(version)
    for off in range(0, version.size, MiB):
        await engine.read(handle, off, MiB)
    assert handle.verifier is None
    engine.release(handle)


@pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.io\.verify: file bad: full read does not match its ETag",
)
async def test_md5_mismatch_fails_the_last_read(nursery: trio.Nursery) -> None:
    version = _self_consistent("bad", 5 * MiB)
    source = EtagBlindSource(corrupt=3 * MiB + 17)
    engine = ReadEngine(source, nursery, verify_md5=True)
    handle = engine.open(version)
    with pytest.raises(IntegrityError, match="MD5"):
        for off in range(0, version.size, 128 * KiB):
            await engine.read(handle, off, 128 * KiB)
    assert off == version.size - 128 * KiB  # only the read that reaches EOF fails
    stats = engine.statistics()
    assert stats["md5_failed"] == 1 and stats["cached_bytes"] == 0  # corrupt blocks dropped
    engine.release(handle)


async def test_md5_check_is_abandoned_not_failed_on_seek(nursery: trio.Nursery) -> None:
    version = _self_consistent("seeky", 6 * MiB)
    source = EtagBlindSource(corrupt=5)
    engine = ReadEngine(source, nursery, verify_md5=True)
    handle = engine.open(version)
    await engine.read(handle, 0, 128 * KiB)
    await engine.read(handle, 4 * MiB, 128 * KiB)  # a jump: not a full in-order read any more
    await engine.read(handle, version.size - 100, 100)  # EOF: no verdict, no error
    assert engine.statistics()["md5_failed"] == 0 and engine.statistics()["md5_abandoned"] == 1
    engine.release(handle)


async def test_md5_skipped_without_plain_md5_etag(nursery: trio.Nursery) -> None:
    source = PatternSource()
    engine = ReadEngine(source, nursery, verify_md5=True)
    for etag in (None, "abc-3"):
        handle = engine.open(FileVersion(f"x{etag}", MiB, etag))
        await engine.read(handle, 0, MiB)
        assert handle.verifier is None
        engine.release(handle)


async def test_stats_keys(nursery: trio.Nursery) -> None:
    keys = set(ReadEngine(PatternSource(), nursery).statistics())
    for key in (
        "bytes_served",
        "cache_hits",
        "cache_misses",
        "bytes_fetched",
        "inflight",
        "cached_bytes",
        "open_handles",
        "prefetch_wasted",
        "reserved_bytes",
        "requests",
    ):
        assert key in keys


async def test_read_timeout_bounds_the_wait(autojump_clock: trio.testing.MockClock) -> None:
    source = PatternSource()
    source.gate = trio.Event()  # the source never answers
    async with trio.open_nursery() as nursery:
        engine = ReadEngine(source, nursery, read_timeout=30)
        handle = engine.open(FileVersion("stuck", 10 * MiB, None))
        start = trio.current_time()
        with pytest.raises(TransportError, match="after 30 s"):
            await engine.read(handle, 5 * MiB, 100)
        assert trio.current_time() - start == pytest.approx(30)
        source.gate.set()  # the fetch was not cancelled: a later read gets its bytes
        data = await engine.read(handle, 5 * MiB, 100)
        assert data == pattern_bytes(handle.version, 5 * MiB, 5 * MiB + 100)
        assert len(source.requests) == 1
        engine.release(handle)


async def test_engine_overrides_and_geometry(nursery: trio.Nursery) -> None:
    engine = ReadEngine(
        PatternSource(), nursery, block_size=48 * KiB, max_prefetch_bytes_per_handle=512 * KiB
    )
    cfg = engine.config
    assert cfg.block_size == 48 * KiB and cfg.part_size % cfg.block_size == 0
    assert cfg.max_window == 512 * KiB and cfg.initial_window == 512 * KiB
    version = FileVersion("geo", 3 * MiB + 5, None)
    handle = engine.open(version)
    data = b"".join(
        [await engine.read(handle, off, 100_000) for off in range(0, version.size, 100_000)]
    )
    assert data == pattern_bytes(version, 0, version.size)
    engine.release(handle)
    with pytest.raises(ValueError):
        ReadEngine(PatternSource(), nursery, max_inflight_total=0)
