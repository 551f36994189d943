"""Cases 12-13: the persistent disk cache, warm, after a remount, against rclone's VFS cache.

Each side mounts with its disk cache in a directory of its own under the bench's work tree:
bsmount with ``--cache-dir DIR --disk-cache-size SIZE``, rclone with ``--vfs-cache-mode full
--cache-dir DIR --vfs-cache-max-size SIZE`` (its other defaults kept). A first mount reads the
data (filling the cache), is unmounted, and a *second* mount reads it again with the page cache
dropped, so both sides read their cache from the disk: that second read is what is measured,
and what nginx sent during it (0 is the goal).

* ``cache_seq`` (MB/s): ``dd bs=1M`` of the big file after the remount; ``cache_seq_bytes``
  (MB): what the server sent meanwhile.
* ``cache_bam`` (s): the 50 ``samtools view -c`` region queries of case 4 after the remount;
  ``cache_bam_bytes`` (MB): what the server sent meanwhile.

The cache directories are emptied before each run's first mount, so every run starts cold, and
removed after each case.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from pathlib import Path

from bench.common import MB, MIB, timed
from bench.harness import Bench, check
from bench.services import BsMount, FuseMount, RcloneMount

__all__ = ["warm_index_queries", "warm_sequential"]

log = logging.getLogger(__name__)

_MOUNTS = ("bsmount", "rclone")


class _RcloneCached(RcloneMount):
    """rclone's mount with its full VFS cache in ``cache_dir``."""

    def __init__(self, bench: Bench, cache_dir: Path, cap: int) -> None:
        super().__init__(
            bench.mountpoint("rclone"),
            bench.paths.logs / "rclone-cache.log",
            bench.nginx.url + "/tree/",
            bench.paths.root / "rclone.conf",
        )
        self.cache_dir = cache_dir
        self.cap = cap

    def command(self) -> tuple[list[str], dict[str, str]]:
        cmd, env = super().command()
        extra = ["--vfs-cache-mode", "full", "--cache-dir", str(self.cache_dir)]
        return [*cmd, *extra, "--vfs-cache-max-size", f"{self.cap // MIB}M"], env


def _cache_dir(bench: Bench, side: str) -> Path:
    return bench.paths.root / "disk-cache" / side


def _mount(bench: Bench, side: str, cap: int) -> FuseMount:
    cache = _cache_dir(bench, side)
    if side == "bsmount":
        args = ("--cache-dir", str(cache), "--disk-cache-size", f"{cap // MIB}M")
        log_file = bench.paths.logs / "bsmount-cache.log"
        return BsMount(bench.mountpoint(side), log_file, bench.emulator.url, args)
    return _RcloneCached(bench, cache, cap)


def _fresh(bench: Bench, side: str) -> None:
    shutil.rmtree(_cache_dir(bench, side), ignore_errors=True)
    _cache_dir(bench, side).mkdir(parents=True)


def _remove_caches(bench: Bench) -> None:
    """The caches of a full run hold ~9 GB: gone once their case is measured."""
    shutil.rmtree(bench.paths.root / "disk-cache", ignore_errors=True)


def _du(path: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


def _settle(side: str, mount: FuseMount) -> None:
    """Let the first mount finish writing its cache before it is unmounted."""
    if side == "bsmount":
        stats_file = mount.mountpoint / ".bsmount" / "stats"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            disk = json.loads(stats_file.read_text()).get("disk_cache", {})
            if not disk.get("pending_write_bytes") and not disk.get("orphan_bytes"):
                return
            time.sleep(0.1)
    else:
        time.sleep(2.0)  # rclone writes its cache as it reads; its metadata at unmount


def warm_sequential(bench: Bench) -> None:
    """Case 12: ``dd bs=1M`` of the big file from a warm disk cache, after a remount."""
    big = bench.layout.one("Sequential")
    size = bench.sizes.big
    cap = size + 512 * MIB
    for _run in range(bench.runs):
        for side in (s for s in bench.sides if s in _MOUNTS):

            def step(side: str = side) -> None:
                _fresh(bench, side)
                with _mount(bench, side, cap) as first:
                    bench.prepare_cold([big])
                    fill, _ = timed(["dd", f"if={bench.path(side, big)}", "of=/dev/null", "bs=1M"])
                    _settle(side, first)
                on_disk = _du(_cache_dir(bench, side))
                with _mount(bench, side, cap) as second:
                    bench.prepare_cold([big])  # the cache is read from disk, not memory
                    offset = bench.nginx.offset()
                    elapsed, _ = timed(
                        ["dd", f"if={bench.path(side, big)}", "of=/dev/null", "bs=1M"]
                    )
                    fetched = bench.bytes_in(offset, {bench.uri(side, big)})
                    if side == "bsmount":
                        stats = json.loads((second.mountpoint / ".bsmount" / "stats").read_text())
                        check(stats.get("disk_cache", {}).get("hits", 0) > 0, "no disk hits")
                fig = bench.results.figure("cache_seq", side, "MB/s")
                fig.values.append(size / elapsed / MB)
                fig.details.setdefault("fill_mb_s", []).append(round(size / fill / MB))
                fig.details.setdefault("cache_dir_mb", []).append(round(on_disk / MB))
                sent = bench.results.figure("cache_seq_bytes", side, "MB")
                sent.values.append(fetched["bytes"] / MB)
                sent.details.setdefault("requests", []).append(fetched["requests"])

            bench.results.attempt(["cache_seq", "cache_seq_bytes"], side, "MB/s", step)
        log.info("warm disk cache, sequential: %s", _figures(bench, "cache_seq"))
    _remove_caches(bench)


def _queries(target: str, regions: list[str], cwd: Path) -> tuple[float, list[int]]:
    start = time.perf_counter()
    counts = []
    for region in regions:
        done = subprocess.run(
            ["samtools", "view", "-c", target, region],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        counts.append(int(done.stdout.strip()))
    return time.perf_counter() - start, counts


def warm_index_queries(bench: Bench) -> None:
    """Case 13: the 50 region queries of case 4 again after a remount, from a warm disk
    cache."""
    from bench.cases_meta import regions

    bam, bai = bench.layout.group("Alignment")
    queries = regions()
    cap = 4096 * MIB
    work = bench.paths.root
    for _run in range(bench.runs):
        for side in (s for s in bench.sides if s in _MOUNTS):

            def step(side: str = side) -> None:
                _fresh(bench, side)
                uris = {bench.uri(side, bam), bench.uri(side, bai)}
                with _mount(bench, side, cap) as first:
                    bench.prepare_cold([bam, bai])
                    offset = bench.nginx.offset()
                    cold_s, reference = _queries(str(bench.path(side, bam)), queries, work)
                    cold = bench.bytes_in(offset, uris)
                    _settle(side, first)
                with _mount(bench, side, cap):
                    bench.prepare_cold([bam, bai])
                    offset = bench.nginx.offset()
                    elapsed, counts = _queries(str(bench.path(side, bam)), queries, work)
                    fetched = bench.bytes_in(offset, uris)
                check(counts == reference, f"{side}: counts differ after the remount")
                fig = bench.results.figure("cache_bam", side, "s")
                fig.values.append(elapsed)
                fig.details.setdefault("cold_s", []).append(round(cold_s, 2))
                fig.details.setdefault("cold_mb", []).append(round(cold["bytes"] / MB, 1))
                sent = bench.results.figure("cache_bam_bytes", side, "MB")
                sent.values.append(fetched["bytes"] / MB)
                sent.details.setdefault("requests", []).append(fetched["requests"])

            bench.results.attempt(["cache_bam", "cache_bam_bytes"], side, "s", step)
        log.info("warm disk cache, BAM queries: %s", _figures(bench, "cache_bam"))
    _remove_caches(bench)


def _figures(bench: Bench, case: str) -> str:
    figs = bench.results.figures.get(case, {})
    return ", ".join(f"{s}={f.median:.1f}" for s, f in figs.items() if f.median is not None)
