"""The persistent block cache: DiskStore (files, checks, eviction) and DiskCachedSource (the read
path through it, on its own and under a ReadEngine)."""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from bsmount._types import FileVersion
from bsmount.io import ReadEngine
from bsmount.io.disk_source import DiskCachedSource
from bsmount.io.disk_store import HEADER, DiskStore, account_key, block_disk_bytes
from bsmount.io.testing import PatternSource, pattern_bytes

BS = 64 * 1024
ACCOUNT = account_key("https://api.example", "1234")


def _version(
    file_id: str = "f1", size: int = 10 * BS + 123, etag: str | None = "e" * 8
) -> FileVersion:
    return FileVersion(file_id, size, etag)


def _store(tmp_path: Path, account: str = ACCOUNT) -> DiskStore:
    store = DiskStore(tmp_path / "blocks", account, BS)
    store.prepare()
    return store


def _block_files(store: DiskStore) -> list[Path]:
    return sorted(p for p in store.root.rglob("*") if p.is_file() and p.name.isdigit())


def _du(path: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


# -- DiskStore ----------------------------------------------------------------------------------


def test_account_key_hides_the_inputs_and_tells_accounts_apart() -> None:
    key = account_key("https://api.example", "1234")
    assert "1234" not in key and "example" not in key
    assert key == account_key("https://api.example/", "1234")
    assert key != account_key("https://api.example", "1235")
    assert key != account_key("https://api.other", "1234")


def test_write_then_read_back_every_block_including_the_short_last_one(tmp_path: Path) -> None:
    store, v = _store(tmp_path), _version()
    data = pattern_bytes(v, 0, v.size)
    added = store.write_blocks(v, 0, data)
    assert added == 10 * block_disk_bytes(BS) + block_disk_bytes(123)
    assert len(_block_files(store)) == 11
    assert added == _du(store.root)  # the accounting is what du sees
    buf = bytearray(v.size)
    found = store.read_into(v, 0, 11, buf)
    assert found.missing == [] and found.corrupt == 0 and found.hit_bytes == v.size
    assert bytes(buf) == data
    part = bytearray(3 * BS)
    assert store.read_into(v, 4, 7, part).missing == []
    assert bytes(part) == data[4 * BS : 7 * BS]


def test_missing_blocks_other_versions_and_etagless_files(tmp_path: Path) -> None:
    store, v = _store(tmp_path), _version()
    store.write_blocks(v, 2, pattern_bytes(v, 2 * BS, 4 * BS))
    buf = bytearray(6 * BS)
    assert store.read_into(v, 0, 6, buf).missing == [0, 1, 4, 5]
    changed = _version(etag="f" * 8)  # the file changed on the server: other bytes
    assert store.read_into(changed, 0, 6, bytearray(6 * BS)).missing == list(range(6))
    other_account = DiskStore(store.root, account_key("https://api.example", "9"), BS)
    assert other_account.read_into(v, 2, 4, bytearray(2 * BS)).missing == [2, 3]
    assert not store.cacheable(_version(etag=None))
    assert not store.cacheable(_version(size=0))
    assert store.cacheable(v)


@pytest.mark.parametrize(
    "damage", ["truncated", "flipped", "wrong_index", "empty", "header_only", "wrong_key"]
)
def test_a_damaged_block_file_is_a_miss_and_is_deleted(tmp_path: Path, damage: str) -> None:
    store, v = _store(tmp_path), _version()
    data = pattern_bytes(v, 0, 3 * BS)
    store.write_blocks(v, 0, data)
    path = store.version_dir(v) / "1"
    raw = bytearray(path.read_bytes())
    if damage == "truncated":  # what a power loss can leave
        raw = raw[: HEADER.size + BS // 2]
    elif damage == "flipped":
        raw[HEADER.size + 1000] ^= 0x01
    elif damage == "wrong_index":
        raw = bytearray((store.version_dir(v) / "2").read_bytes())
    elif damage == "empty":
        raw = bytearray()
    elif damage == "header_only":
        raw = raw[: HEADER.size]
    else:  # another version's block under this name (a hash collision)
        other = _version(etag="x" * 8)
        store.write_blocks(other, 1, pattern_bytes(other, BS, 2 * BS))
        raw = bytearray((store.version_dir(other) / "1").read_bytes())
    path.write_bytes(raw)
    buf = bytearray(3 * BS)
    found = store.read_into(v, 0, 3, buf)
    assert found.missing == [1] and found.corrupt == 1
    assert not path.exists()
    assert bytes(buf[:BS]) == data[:BS] and bytes(buf[2 * BS :]) == data[2 * BS :]


def test_a_killed_writer_leaves_only_a_temporary_file(tmp_path: Path) -> None:
    """kill -9 between write and rename: the half-written temporary file is never read as a
    block, and an eviction pass removes it once it is stale."""
    store, v = _store(tmp_path), _version()
    directory = store.version_dir(v)
    directory.mkdir(parents=True)
    tmp = directory / f".0.{os.getpid()}.deadbeef.tmp"
    tmp.write_bytes(b"BSMB" + b"\0" * 100)  # truncated mid-write
    assert store.read_into(v, 0, 1, bytearray(BS)).missing == [0]
    assert store.evict(1 << 30).stale_tmp == 0  # young: could be a live writer's
    old = os.stat(tmp).st_mtime - 3600
    os.utime(tmp, (old, old))
    result = store.evict(1 << 30)
    assert result.stale_tmp == 1 and not tmp.exists()


def test_eviction_removes_least_recently_used_blocks_down_to_the_cap(tmp_path: Path) -> None:
    store = _store(tmp_path)
    versions = [_version(f"f{i}", 4 * BS) for i in range(6)]
    for age, v in enumerate(versions):
        store.write_blocks(v, 0, pattern_bytes(v, 0, v.size))
        for path in store.version_dir(v).iterdir():
            stamp = 1_000_000 + age * 100
            os.utime(path, (stamp, stamp))
    # a hit on the oldest file makes it the most recently used
    assert store.read_into(versions[0], 0, 4, bytearray(4 * BS)).missing == []
    per_file = 4 * block_disk_bytes(BS)
    result = store.evict(3 * per_file)
    assert result.scanned_bytes == 6 * per_file == result.files * block_disk_bytes(BS)
    assert result.evicted_blocks == 12 and result.remaining_bytes == 3 * per_file
    assert _du(store.root) <= 3 * per_file
    held = [v.file_id for v in versions if store.version_dir(v).exists()]
    assert held == ["f0", "f4", "f5"]  # f1-f3 were the least recently used; empty dirs removed


def test_eviction_by_another_mount_is_skipped_while_one_holds_the_lock(tmp_path: Path) -> None:
    import fcntl

    store = _store(tmp_path)
    fd = os.open(store.root / ".evict.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert store.evict(0).skipped
    finally:
        os.close(fd)
    assert not store.evict(0).skipped


def test_concurrent_writers_and_readers_of_the_same_blocks(tmp_path: Path) -> None:
    """Two mounts (threads here) writing the same version while others read and one evicts:
    every block read is whole and right, or a miss."""
    store, v = _store(tmp_path), _version(size=32 * BS)
    data = pattern_bytes(v, 0, v.size)
    other = DiskStore(store.root, ACCOUNT, BS)  # a second mount of the same account
    errors: list[BaseException] = []
    stop = threading.Event()

    def write(s: DiskStore) -> None:
        for _ in range(20):
            s.write_blocks(v, 0, data)

    def read() -> None:
        while not stop.is_set():
            buf = bytearray(v.size)
            found = s_read.read_into(v, 0, 32, buf)
            assert found.corrupt == 0
            for block in set(range(32)) - set(found.missing):
                if buf[block * BS : (block + 1) * BS] != data[block * BS : (block + 1) * BS]:
                    raise AssertionError(f"wrong bytes in block {block}")

    def evict() -> None:
        while not stop.is_set():
            store.evict(8 * block_disk_bytes(BS))

    s_read = DiskStore(store.root, ACCOUNT, BS)

    def guard(fn: Callable[..., None], *args: object) -> threading.Thread:
        def run() -> None:
            try:
                fn(*args)
            except BaseException as exc:
                errors.append(exc)

        return threading.Thread(target=run)

    writers = [guard(write, store), guard(write, other)]
    others = [guard(read), guard(read), guard(evict)]
    for t in writers + others:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in others:
        t.join()
    assert errors == []
    buf = bytearray(v.size)
    store.write_blocks(v, 0, data)
    assert store.read_into(v, 0, 32, buf).missing == [] and bytes(buf) == data
    assert not [p for p in store.root.rglob("*.tmp")]  # every temporary file was renamed


# -- DiskCachedSource ---------------------------------------------------------------------------


async def _settle(cached: DiskCachedSource) -> None:
    while cached.statistics()["pending_write_bytes"]:
        await trio.sleep(0.01)


async def test_second_read_is_served_from_disk_with_no_request(tmp_path: Path) -> None:
    v = _version(size=40 * BS + 7)
    source = PatternSource(buffers=True)
    async with trio.open_nursery() as nursery:
        cached = DiskCachedSource(source, _store(tmp_path), nursery, 1 << 30)
        await cached.start()
        assert bytes(await cached.read_range(v, 0, 8 * BS)) == pattern_bytes(v, 0, 8 * BS)
        assert bytes(await cached.read_range(v, 8 * BS, v.size)) == pattern_bytes(v, 8 * BS, v.size)
        await _settle(cached)
        assert len(source.requests) == 2
        # a fresh source and cache object: a remount
        source2 = PatternSource()
        again = DiskCachedSource(source2, _store(tmp_path), nursery, 1 << 30)
        await again.start()
        assert again.bytes_on_disk == 41 * block_disk_bytes(BS) - block_disk_bytes(
            BS
        ) + block_disk_bytes(7)
        got = await again.read_range(v, 4 * BS, 20 * BS)
        assert bytes(got) == pattern_bytes(v, 4 * BS, 20 * BS)
        assert source2.requests == []
        stats = again.statistics()
        assert stats["hits"] == 1 and stats["misses"] == 0 and stats["block_hits"] == 16
        assert stats["bytes_read"] == 16 * BS and stats["bytes_fetched"] == 0


async def test_only_the_missing_runs_are_fetched(tmp_path: Path) -> None:
    v = _version(size=16 * BS)
    source = PatternSource()
    async with trio.open_nursery() as nursery:
        cached = DiskCachedSource(source, _store(tmp_path), nursery, 1 << 30)
        await cached.start()
        await cached.read_range(v, 2 * BS, 4 * BS)
        await cached.read_range(v, 9 * BS, 10 * BS)
        await _settle(cached)
        source.requests.clear()
        got = await cached.read_range(v, 0, 16 * BS)
        assert bytes(got) == pattern_bytes(v, 0, v.size)
        assert [(r.start // BS, r.end // BS) for r in source.requests] == [
            (0, 2),
            (4, 9),
            (10, 16),
        ]
        stats = cached.statistics()
        assert stats["block_hits"] == 3 and stats["block_misses"] == 13 + 3


async def test_a_whole_small_file_from_disk_is_checked_against_its_md5(tmp_path: Path) -> None:
    size = 3 * BS + 5
    content = pattern_bytes(FileVersion("s", size, "x"), 0, size)
    v = FileVersion("s", size, hashlib.md5(content).hexdigest())

    class Md5Source:
        """Answers ``content``; checks whole reads against the MD5 ETag, as ContentReader."""

        whole_read_md5_limit = 8 << 20

        def __init__(self) -> None:
            self.requests: list[tuple[int, int]] = []

        async def read_range(self, version: FileVersion, start: int, end: int) -> bytes:
            self.requests.append((start, end))
            return content[start:end]

    source = Md5Source()
    async with trio.open_nursery() as nursery:
        store = _store(tmp_path)
        cached = DiskCachedSource(source, store, nursery, 1 << 30)
        await cached.start()
        assert await cached.read_range(v, 0, size) == content
        await _settle(cached)
        assert len(source.requests) == 1
        assert await cached.read_range(v, 0, size) == content
        assert len(source.requests) == 1  # from disk
        # a block rewritten with wrong bytes but a valid header (what a bug elsewhere would do)
        store.write_blocks(v, 1, b"\0" * BS)
        assert await cached.read_range(v, 0, size) == content
        assert len(source.requests) == 2 and cached.statistics()["md5_mismatches"] == 1


async def test_the_cap_is_kept_by_eviction_passes(tmp_path: Path) -> None:
    cap = 64 * block_disk_bytes(BS)
    source = PatternSource()
    async with trio.open_nursery() as nursery:
        store = _store(tmp_path)
        cached = DiskCachedSource(source, store, nursery, cap)
        await cached.start()
        for i in range(8):
            v = _version(f"big{i}", 32 * BS)
            for first in range(0, 32, 8):
                await cached.read_range(v, first * BS, (first + 8) * BS)
        await _settle(cached)
        await cached.evict(wait=True)
        stats = cached.statistics()
        assert stats["evictions"] > 0
        assert _du(store.root) <= cap
        assert stats["bytes_on_disk"] == _du(store.root)


@pytest.mark.expect_log_warnings(r"disk cache: cannot write blocks")
async def test_write_errors_never_fail_a_read(tmp_path: Path) -> None:
    source = PatternSource()
    v = _version(size=4 * BS)

    def disk_full(version: FileVersion, first: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    async with trio.open_nursery() as nursery:
        store = _store(tmp_path)
        cached = DiskCachedSource(source, store, nursery, 1 << 30)
        await cached.start()
        store.write_blocks = disk_full  # type: ignore[method-assign]
        for _ in range(2):
            assert bytes(await cached.read_range(v, 0, v.size)) == pattern_bytes(v, 0, v.size)
            await _settle(cached)
        assert cached.statistics()["write_errors"] == 2
        assert len(source.requests) == 2 and _block_files(store) == []


async def test_the_engine_reads_through_the_disk_cache_after_a_remount(tmp_path: Path) -> None:
    """A ReadEngine over the disk cache: read a file, throw engine and memory away, read it
    again in other read sizes: the bytes match and the source sees no request."""
    v = _version("bam", 300 * BS + 99, etag="a" * 32 + "-3")
    source = PatternSource(buffers=True)
    async with trio.open_nursery() as nursery:
        cached = DiskCachedSource(source, _store(tmp_path), nursery, 1 << 30)
        await cached.start()
        engine = ReadEngine(cached, nursery)
        handle = engine.open(v)
        pos = 0
        while pos < v.size:
            pos += len(await engine.read(handle, pos, 128 * 1024))
        engine.release(handle)
        await _settle(cached)
        engine.close()
        fetched = len(source.requests)
        assert fetched > 0
        source2 = PatternSource()
        cached2 = DiskCachedSource(source2, _store(tmp_path), nursery, 1 << 30)
        await cached2.start()
        engine2 = ReadEngine(cached2, nursery)
        handle = engine2.open(v)
        for offset in (5 * BS + 17, 200 * BS, 0, v.size - 1000):  # random reads
            assert await engine2.read(handle, offset, 4096) == pattern_bytes(
                v, offset, offset + 4096
            )
        engine2.release(handle)
        handle = engine2.open(v)
        out = bytearray()
        while len(out) < v.size:
            out += await engine2.read(handle, len(out), 1 << 20)
        assert hashlib.md5(out).digest() == hashlib.md5(pattern_bytes(v, 0, v.size)).digest()
        assert source2.requests == []
        engine2.close()
        nursery.cancel_scope.cancel()


# -- options and status -------------------------------------------------------------------------


def test_disk_cache_size_option_takes_units_and_an_fstab_form() -> None:
    from bsmount.mount.cli import _mount_parser, _size
    from bsmount.mount.options import expand_options

    assert [_size(v) for v in ("20G", "512M", "1.5T", "64", "4096B", "2GiB", "0")] == [
        20 << 30,
        512 << 20,
        3 << 39,
        64 << 20,
        4096,
        2 << 30,
        0,
    ]
    parser = _mount_parser()
    args = parser.parse_args(expand_options(["/mnt", "-o", "disk_cache_size=20G"], parser))
    assert args.disk_cache_size == 20 << 30
    assert parser.parse_args(["/mnt"]).disk_cache_size == 0  # off by default
    with pytest.raises(SystemExit):
        parser.parse_args(["/mnt", "--disk-cache-size", "lots"])


def test_status_shows_the_disk_cache() -> None:
    from bsmount.mount.status import Sample, format_mount

    disk = {"bytes_on_disk": 3 << 30, "capacity": 20 << 30, "bytes_read": 1 << 30}
    stats = {"uptime_seconds": 5, "disk_cache": {**disk, "hits": 3, "misses": 1, "evictions": 7}}
    lines = format_mount("/mnt", "demo", Sample(stats))
    assert (
        "  disk cache: 3.0 GiB of 20.0 GiB, read 1.0 GiB from disk, 75% hits, 7 blocks evicted"
        in lines
    )
    assert not any("disk cache" in line for line in format_mount("/mnt", "demo", Sample({})))


@pytest.mark.expect_log_warnings(r"disk cache off: cannot use")
async def test_an_unusable_cache_directory_mounts_without_the_cache(tmp_path: Path) -> None:
    from bsmount.config import Credentials, MountSettings
    from bsmount.mount.disk_cache import open_disk_cache, with_disk_cache

    (tmp_path / "file").write_text("not a directory")
    creds = Credentials("https://api.example", "t0k3n")

    def settings(cache_dir: Path, size: int) -> MountSettings:
        return MountSettings(tmp_path, creds, cache_dir=cache_dir, disk_cache_bytes=size)

    async with trio.open_nursery() as nursery:
        source = PatternSource()
        assert await open_disk_cache(settings(tmp_path / "c", 0), "1", source, nursery) is None
        assert (
            await open_disk_cache(settings(tmp_path / "file", 1 << 30), "1", source, nursery)
            is None
        )
        cached = await open_disk_cache(settings(tmp_path / "c", 1 << 30), "1", source, nursery)
        assert cached is not None and (tmp_path / "c" / "blocks").is_dir()
        stats = with_disk_cache({"bytes_fetched": 10}, cached)
        assert stats["disk_cache"]["capacity"] == 1 << 30 and stats["bytes_fetched"] == 10
        assert with_disk_cache({"bytes_fetched": 10}, None) == {"bytes_fetched": 10}


def test_eviction_starts_over_the_high_water_mark_only(tmp_path: Path) -> None:
    store, v = _store(tmp_path), _version(size=10 * BS)
    store.write_blocks(v, 0, pattern_bytes(v, 0, v.size))
    used = 10 * block_disk_bytes(BS)
    kept = store.evict(used // 2, high_water=used)  # at the cap, not over it
    assert kept.evicted_blocks == 0 and kept.remaining_bytes == used
    trimmed = store.evict(used // 2, high_water=used - 1)
    assert trimmed.evicted_blocks == 5 and trimmed.remaining_bytes == used // 2


async def test_a_cancelled_read_ahead_is_finished_for_the_disk(tmp_path: Path) -> None:
    """The engine cancels a read-ahead its reader no longer wants: the fetch goes on (within the
    orphan budget) and lands on disk, so the same read-ahead next time is a hit."""
    v = _version(size=64 * BS)
    source = PatternSource(latency=0.2)
    async with trio.open_nursery() as nursery:
        cached = DiskCachedSource(source, _store(tmp_path), nursery, 1 << 30, orphan_budget=16 * BS)
        await cached.start()
        with trio.move_on_after(0.05):
            await cached.read_range(v, 0, 8 * BS)  # within the budget: finished anyway
        with trio.move_on_after(0.05):
            await cached.read_range(v, 8 * BS, 40 * BS)  # over it: cancelled
        assert cached.statistics()["orphan_bytes"] == 8 * BS
        while source.active:
            await trio.sleep(0.05)
        await _settle(cached)
        stats = cached.statistics()
        assert stats["cancelled"] == 2 and stats["orphans_stored"] == 1
        assert stats["orphan_bytes"] == 0 and source.cancelled == 1
        source.requests.clear()
        assert bytes(await cached.read_range(v, 0, 8 * BS)) == pattern_bytes(v, 0, 8 * BS)
        assert source.requests == []
        await cached.read_range(v, 8 * BS, 40 * BS)
        assert len(source.requests) == 1  # that one was not kept
