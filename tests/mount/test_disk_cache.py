"""The persistent block cache through real mounts (``--cache-dir DIR --disk-cache-size SIZE``).

An emulator of its own (a small seed: a 20 MiB file, a 12 MB indexed BAM, a text file), mounts
that come and go over the same cache directory, and the emulator's request log to count what
each one fetched:

* a file read, the mount stopped, a new mount over the same cache directory reads it again:
  the same bytes and no blob request (not even a content URL);
* samtools region queries repeated after a remount fetch nothing and answer the same;
* ``.bsmount/stats`` counts the hits, the misses and the bytes on disk;
* the cache stays within its cap (``du`` of the directory);
* a file changed on the server (new ETag, same id) is read anew, never from the old blocks;
* a mount killed with SIGKILL mid-read leaves no block that a later mount serves wrong.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulator_proc import EmulatorProcess
from tests.mount.apiwalk import blob_requests
from tests.mount.mounting import Mount, fuse_skip_reason

MiB = 1024 * 1024
TOKEN = "d15c" * 8
FILES = Path("Projects") / "P" / "AppResults" / "A" / "Files"
REGIONS = ["chr1:100000-104000", "chr1:1500000-1503000", "chr2:700000-705000", "chrM:100-9000"]


def _seed(directory: Path, changing: bytes) -> Path:
    from bsmount.emulator.genomics.bam import write_bam
    from bsmount.emulator.genomics.reference import build_genome

    bam = directory / "sample.bam"
    if not bam.exists():
        write_bam(build_genome(), bam, "ACGTACGT", n_pairs=40_000)
    (directory / "changing.txt").write_bytes(changing)
    files = [
        {"path": "big.bin", "size": 20 * MiB, "seed": 7},
        {"path": "other.bin", "size": 6 * MiB, "seed": 8},
        {"path": "sample.bam", "source": str(bam)},
        {"path": "sample.bam.bai", "source": str(bam) + ".bai"},
        {"path": "changing.txt", "source": str(directory / "changing.txt")},
    ]
    seed = {
        "users": [{"name": "Disk Cache", "tokens": [TOKEN]}],
        "projects": [{"name": "P", "appresults": [{"name": "A", "files": files}]}],
    }
    path = directory / "seed.json"
    path.write_text(json.dumps(seed))
    return path


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[EmulatorProcess]:
    reason = fuse_skip_reason()
    if reason:
        pytest.skip(reason)
    proc = EmulatorProcess(_seed(tmp_path, b"first version\n" * 1000))
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def mounter(tmp_path: Path, emu: EmulatorProcess) -> Iterator[Callable[..., Mount]]:
    """Start mounts of ``emu`` over ``tmp_path/cache`` (with ``--disk-cache-size``, default
    1 GiB); every mount still running at the end is unmounted."""
    started: list[Mount] = []

    def start(size: str = "1G", *extra: str) -> Mount:
        n = len(started)
        args = ("--cache-dir", str(tmp_path / "cache"), "--disk-cache-size", size, *extra)
        m = Mount(emu.url, emu.token, tmp_path / f"mnt{n}", tmp_path / f"mount{n}.log", args)
        started.append(m.start())
        return m

    try:
        yield start
    finally:
        for m in started:
            if m.proc is not None and m.proc.poll() is None:
                m.stop()
            else:
                m.kill()
            assert TOKEN not in m.log()


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        while chunk := handle.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def _stats(m: Mount) -> dict[str, Any]:
    stats: dict[str, Any] = json.loads((m.path / ".bsmount" / "stats").read_text())
    return stats


def _settled(m: Mount, timeout: float = 30.0) -> dict[str, Any]:
    """``disk_cache`` of the stats once every block fetched has been written to disk."""
    deadline = time.monotonic() + timeout
    while True:
        disk: dict[str, Any] = _stats(m)["disk_cache"]
        idle = disk["pending_write_bytes"] == 0 and disk["orphan_bytes"] == 0
        if idle or time.monotonic() > deadline:
            return disk
        time.sleep(0.05)


def _logged_blob_requests(emu: EmulatorProcess, expected: int) -> list[dict[str, Any]]:
    """The blob requests in the log, waiting up to 5 s for ``expected`` of them (the emulator
    logs a request once its answer is sent, which may be just after the client has it)."""
    deadline = time.monotonic() + 5
    while True:
        found = blob_requests(emu.requests())
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _samtools(bam: Path, region: str) -> str:
    done = subprocess.run(
        ["samtools", "view", str(bam), region], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _du(path: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


def test_reread_after_remount_fetches_nothing(
    mounter: Callable[..., Mount], emu: EmulatorProcess, tmp_path: Path
) -> None:
    first = mounter()
    big = first.path / FILES / "big.bin"
    expected = _md5(big)
    disk = _settled(first)
    assert disk["misses"] > 0 and disk["bytes_fetched"] == 20 * MiB
    assert disk["bytes_on_disk"] >= 20 * MiB
    first.stop()

    second = mounter()
    emu.clear_requests()
    assert _md5(second.path / FILES / "big.bin") == expected
    assert blob_requests(emu.requests()) == []
    assert not [r for r in emu.requests() if r["path"].endswith("/content")]
    stats = _stats(second)
    disk = stats["disk_cache"]
    assert disk["hits"] > 0 and disk["misses"] == 0
    assert disk["bytes_read"] == 20 * MiB and disk["bytes_fetched"] == 0
    assert stats["bytes_fetched"] == 0  # from the server
    assert _du(tmp_path / "cache" / "blocks") == disk["bytes_on_disk"]


def test_samtools_region_queries_after_remount_fetch_nothing(
    mounter: Callable[..., Mount], emu: EmulatorProcess
) -> None:
    if shutil.which("samtools") is None:
        pytest.skip("samtools is not installed")
    first = mounter()
    bam = first.path / FILES / "sample.bam"
    emu.clear_requests()
    answers = [_samtools(bam, region) for region in REGIONS]
    assert all(answer.count("\n") > 0 for answer in answers)
    fetched = sum(r["bytes_sent"] for r in blob_requests(emu.requests()))
    assert 0 < fetched < bam.stat().st_size / 2  # index-driven reads, not the whole BAM
    _settled(first)
    first.stop()

    second = mounter()
    bam = second.path / FILES / "sample.bam"
    emu.clear_requests()
    assert [_samtools(bam, region) for region in REGIONS] == answers
    # No read samtools waited for went to the server. The engine's read-ahead may lay a part out
    # further than in the first run (its layout depends on timing): such a part, dropped when
    # samtools exits, is the only thing fetched, and it is then stored for the next time.
    disk = _stats(second)["disk_cache"]
    assert disk["hits"] > 0 and disk["misses"] == disk["cancelled"]
    refetched = sum(r["bytes_sent"] for r in blob_requests(emu.requests()))
    assert refetched == disk["bytes_fetched"] <= fetched / 8


def test_the_cache_stays_within_its_cap(
    mounter: Callable[..., Mount], emu: EmulatorProcess, tmp_path: Path
) -> None:
    m = mounter("8M")
    files = m.path / FILES
    for name in ("big.bin", "other.bin", "sample.bam"):
        _md5(files / name)
    deadline = time.monotonic() + 30
    while True:
        disk = _settled(m)
        if disk["bytes_on_disk"] <= 8 * MiB or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert disk["evictions"] > 0 and disk["eviction_passes"] > 0
    assert _du(tmp_path / "cache" / "blocks") <= 8 * MiB
    # what is left is the most recently read: the end of the BAM, served from disk
    emu.clear_requests()
    size = (files / "sample.bam").stat().st_size
    with (files / "sample.bam").open("rb") as handle:
        handle.seek(size - MiB)
        assert len(handle.read()) == MiB
    assert blob_requests(emu.requests()) == []


def test_a_file_changed_on_the_server_is_not_served_from_old_blocks(
    mounter: Callable[..., Mount], emu: EmulatorProcess, tmp_path: Path
) -> None:
    first = mounter()
    path = first.path / FILES / "changing.txt"
    assert path.read_bytes() == b"first version\n" * 1000
    _settled(first)
    first.stop()
    # the same file (same id, same size), new content, hence a new ETag
    emu.stop()
    _seed(tmp_path, b"other version\n" * 1000)
    emu.start()  # same port, same signing key: the same server to the mount
    second = mounter()
    emu.clear_requests()
    assert (second.path / FILES / "changing.txt").read_bytes() == b"other version\n" * 1000
    disk = _stats(second)["disk_cache"]
    assert disk["misses"] == 1 and disk["hits"] == 0 and disk["bytes_fetched"] == 14_000
    assert len(_logged_blob_requests(emu, 1)) == 1


def test_a_killed_mount_leaves_no_wrong_block(
    mounter: Callable[..., Mount], emu: EmulatorProcess
) -> None:
    first = mounter()
    big = first.path / FILES / "big.bin"
    reader = subprocess.Popen(["cat", str(big)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while _stats(first)["disk_cache"]["blocks_written"] < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    first.proc.kill()  # type: ignore[union-attr]  # kill -9, writes in flight
    first.kill()
    reader.wait(timeout=30)
    second = mounter()
    got = _md5(second.path / FILES / "big.bin")
    disk = _stats(second)["disk_cache"]
    assert disk["hits"] + disk["misses"] > 0 and disk["corrupt_blocks"] == 0
    second.stop()
    plain = mounter("0")  # no disk cache: straight from the server
    assert _md5(plain.path / FILES / "big.bin") == got
    assert "disk_cache" not in _stats(plain)


def test_two_mounts_of_the_account_share_the_blocks(
    mounter: Callable[..., Mount], emu: EmulatorProcess
) -> None:
    """Two mounts at once over one cache directory: what one read, the other reads from disk;
    both read the same file at the same time and get the same bytes."""
    one, two = mounter(), mounter()
    expected = _md5(one.path / FILES / "other.bin")
    _settled(one)
    emu.clear_requests()
    assert _md5(two.path / FILES / "other.bin") == expected
    assert blob_requests(emu.requests()) == []
    readers = [
        subprocess.Popen(["md5sum", str(m.path / FILES / "big.bin")], stdout=subprocess.PIPE)
        for m in (one, two)
    ]
    sums = {r.communicate(timeout=120)[0].split()[0] for r in readers}
    assert len(sums) == 1
    for m in (one, two):
        assert _settled(m)["corrupt_blocks"] == 0
