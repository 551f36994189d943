"""Cases 4-7: BAM index queries, small files, listings and first byte.

Case keys in ``bench.results``: ``bam_time`` (s), ``bam_bytes`` (MB fetched from nginx; side
``samtools`` holds what samtools itself reads from a local copy, measured with strace),
``small`` (files/s), ``ls_cold``, ``ls_warm``, ``find_cold`` (s), ``ttfb`` (ms).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import MB, BenchError, timed, warm_tree, which
from bench.data import BenchFile, contig_lengths, tree_entries
from bench.harness import MOUNTS, Bench, check

__all__ = ["first_byte", "index_queries", "listing", "small_files"]

QUERIES = 50
_STRACE_LINE = re.compile(r"^(\w+)\((\d+|AT_FDCWD),?\s*(.*)\)\s+=\s+(-?\d+)")


def regions(count: int = QUERIES, seed: int = 4) -> list[str]:
    """``count`` random regions of 1-5 kb, contigs weighted by length (fixed seed)."""
    rng = random.Random(seed)
    lengths = contig_lengths()
    names = list(lengths)
    out = []
    for _ in range(count):
        contig = rng.choices(names, weights=[lengths[n] for n in names])[0]
        span = rng.randint(1000, 5000)
        start = rng.randint(1, max(1, lengths[contig] - span))
        out.append(f"{contig}:{start}-{start + span}")
    return out


def _count(target: str, region: str, cwd: Path) -> int:
    _, out = timed(["samtools", "view", "-c", target, region], cwd=cwd, stdout=subprocess.PIPE)
    return int(out.strip())


def _samtools_reads(bam: Path, queries: list[str], work: Path) -> tuple[int, list[int]]:
    """Bytes samtools reads from the BAM and BAI over all queries (strace), and the counts."""
    if which("strace") is None:
        raise BenchError("strace is not installed: cannot measure what samtools reads")
    total = 0
    counts = []
    watched = {str(bam), f"{bam}.bai"}
    for i, region in enumerate(queries):
        trace = work / f"strace-{i}.txt"
        cmd = ["strace", "-qq", "-s", "0", "-e", "trace=openat,read,pread64,close", "-o"]
        _, out = timed([*cmd, str(trace), "samtools", "view", "-c", str(bam), region],
                       stdout=subprocess.PIPE)  # fmt: skip
        counts.append(int(out.strip()))
        fds: set[str] = set()
        for line in trace.read_text(errors="replace").splitlines():
            match = _STRACE_LINE.match(line)
            if match is None:
                continue
            call, fd, rest, result = match.groups()
            if call == "openat" and int(result) >= 0 and rest.split(",")[0].strip('"') in watched:
                fds.add(result)
            elif call == "close" and fd in fds:
                fds.discard(fd)
            elif call in ("read", "pread64") and fd in fds and int(result) > 0:
                total += int(result)
        trace.unlink()
    return total, counts


def index_queries(bench: Bench) -> None:
    """Case 4: 50 ``samtools view -c`` region queries: total time and bytes fetched."""
    bam, bai = bench.layout.group("Alignment")
    queries = regions()
    tree_bam = bench.paths.tree / bam.tree_rel()
    tree_uris = {f"/tree/{bam.tree_rel()}", f"/tree/{bai.tree_rel()}"}
    blob_uris = {bam.blob_uri(bench.paths.blobs), bai.blob_uri(bench.paths.blobs)}
    work = Path(tempfile.mkdtemp(prefix="bench-bam-", dir=bench.paths.root))
    try:
        reference: list[int] = []

        def local() -> None:
            read, counts = _samtools_reads(tree_bam, queries, work)
            reference.extend(counts)
            fig = bench.results.figure("bam_bytes", "samtools", "MB")
            fig.values.append(read / MB)
            fig.details["reads_in"] = sum(counts)

        bench.results.attempt(["bam_bytes"], "samtools", "MB", local)
        for _run in range(bench.runs):
            for side in (s for s in bench.sides if s != "ceiling"):  # it serves zeros

                def step(side: str = side) -> None:
                    if side == "curl":  # htslib over HTTP, the index fetched next to the BAM
                        bench.prepare_cold([bam, bai])
                        _measure(bench, side, f"{bench.nginx.url}/tree/{bam.tree_rel()}",
                                 queries, reference, tree_uris, work)  # fmt: skip
                        return
                    uris = blob_uris if side == "bsmount" else tree_uris
                    with bench.cold(side, "bam", [bam, bai]):
                        target = str(bench.path(side, bam))
                        _measure(bench, side, target, queries, reference, uris, work)

                bench.results.attempt(["bam_time", "bam_bytes"], side, "s", step)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(
    bench: Bench,
    side: str,
    target: str,
    queries: list[str],
    reference: list[int],
    uris: set[str],
    work: Path,
) -> None:
    offset = bench.nginx.offset()
    bench.emulator.clear()
    start = time.perf_counter()
    counts = [_count(target, region, work) for region in queries]
    elapsed = time.perf_counter() - start
    if reference:
        check(counts == reference, f"{side}: samtools counts differ from the local file's")
    fetched = bench.bytes_in(offset, uris)
    bench.results.figure("bam_time", side, "s").values.append(elapsed)
    fig = bench.results.figure("bam_bytes", side, "MB")
    fig.values.append(fetched["bytes"] / MB)
    for key in ("requests", "largest"):
        fig.details.setdefault(key, []).append(fetched[key])
    if side == "bsmount":
        api = [e for e in bench.emulator.requests() if e.get("kind") != "blob"]
        fig.details.setdefault("api_requests", []).append(len(api))


def _curl_many(urls: list[str], work: Path) -> float:
    """Seconds for one curl process to fetch ``urls`` one after another (one connection)."""
    config = work / "curl.cfg"
    config.write_text("".join(f'url = "{u}"\noutput = "/dev/null"\n' for u in urls))
    elapsed, _ = timed(["curl", "-sf", "-K", str(config)], timeout=900)
    return elapsed


def small_files(bench: Bench) -> None:
    """Case 5: ``cp -r`` of the directory of small files: files/s."""
    files = bench.layout.group("BenchSmall")
    for _run in range(bench.runs):
        for side in bench.sides:

            def step(side: str = side) -> None:
                dest = bench.paths.scratch / side
                shutil.rmtree(dest, ignore_errors=True)
                dest.parent.mkdir(parents=True, exist_ok=True)
                try:
                    if side == "curl":
                        bench.prepare_cold(files)
                        elapsed = _curl_many([bench.url(f) for f in files], dest.parent)
                    else:
                        with bench.cold(side, "small", files):
                            source = bench.dir_of(side, files)
                            bench.emulator.clear()
                            elapsed, _ = timed(["cp", "-r", str(source), str(dest)])
                            api = len(bench.emulator.requests())
                        copied = len([n for n in os.listdir(dest) if not n.startswith(".")])
                        check(copied == len(files), f"cp -r copied {copied} of {len(files)}")
                finally:
                    shutil.rmtree(dest.parent, ignore_errors=True)
                fig = bench.results.figure("small", side, "files/s")
                fig.values.append(len(files) / elapsed)
                if side == "bsmount":
                    fig.details.setdefault("api_requests", []).append(api)

            bench.results.attempt(["small"], side, "files/s", step)


def _lines(cmd: list[str]) -> tuple[float, int]:
    """Run ``cmd``; (seconds, lines printed that do not name a hidden entry)."""
    elapsed, out = timed(cmd, stdout=subprocess.PIPE, timeout=900)
    visible = [line for line in out.splitlines() if not line.rsplit("/", 1)[-1].startswith(".")]
    return elapsed, len(visible)


def listing(bench: Bench) -> None:
    """Case 6: ``ls -l`` of the 10,000-entry directory cold and warm; ``find`` of the tree."""
    entries = bench.layout.group("Listing")
    tree = bench.layout.group("BenchTree")
    expected_find = tree_entries(bench.sizes)
    for _run in range(bench.runs):
        for side in (s for s in bench.sides if s in MOUNTS):

            def ls(side: str = side) -> None:
                with bench.cold(side, "list", []):
                    warm_tree(bench.paths.tree / entries[0].tree_group)
                    directory = str(bench.dir_of(side, entries))
                    cold, lines = _lines(["ls", "-l", directory])
                    check(lines == len(entries) + 1, f"ls -l printed {lines} lines")
                    warm, _ = _lines(["ls", "-l", directory])
                bench.results.figure("ls_cold", side, "s").values.append(cold)
                bench.results.figure("ls_warm", side, "s").values.append(warm)

            def find(side: str = side) -> None:
                with bench.cold(side, "list", []):
                    warm_tree(bench.paths.tree / tree[0].tree_group)
                    root = bench.mountpoint(side) / (
                        tree[0].mnt_dir if side != "rclone" else tree[0].tree_group
                    )
                    elapsed, lines = _lines(["find", str(root)])
                check(lines == expected_find, f"find printed {lines} lines, not {expected_find}")
                bench.results.figure("find_cold", side, "s").values.append(elapsed)

            bench.results.attempt(["ls_cold", "ls_warm"], side, "s", ls)
            bench.results.attempt(["find_cold"], side, "s", find)


def _first_bytes(paths: list[Path], blobs: list[Path], *, zeros: bool = False) -> list[float]:
    """Milliseconds from open() to the first 4 KiB of each file, checked against the blob
    (``zeros``: against 4 KiB of zeros, what the ceiling serves)."""
    times = []
    for path, blob in zip(paths, blobs, strict=True):
        start = time.perf_counter()
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.read(fd, 4096)
            times.append((time.perf_counter() - start) * 1000)
        finally:
            os.close(fd)
        if zeros:
            check(data == bytes(4096), f"{path.name}: the ceiling's first 4 KiB are not zeros")
            continue
        with blob.open("rb") as handle:
            check(data == handle.read(4096), f"{path.name}: first 4 KiB differ from the blob")
    return times


def first_byte(bench: Bench) -> None:
    """Case 7: time to the first 4 KiB of 20 unopened files (their directory already listed)."""
    files = bench.layout.group("FirstByte")
    per_run = 20
    for run in range(bench.runs):
        chosen = [files[(run * per_run + i) % len(files)] for i in range(per_run)]
        for side in bench.sides:

            def step(side: str = side, chosen: list[BenchFile] = chosen) -> None:
                fig = bench.results.figure("ttfb", side, "ms")
                if side == "curl":
                    bench.prepare_cold(chosen)
                    fig.values.append(statistics.median(_curl_first(bench, chosen)))
                    return
                with bench.cold(side, "ttfb", chosen):
                    for item in chosen:  # lookups and the listing happen before the clock
                        bench.path(side, item).stat()
                    bench.emulator.clear()
                    times = _first_bytes([bench.path(side, f) for f in chosen],
                                         [bench.blob(f) for f in chosen],
                                         zeros=side == "ceiling")  # fmt: skip
                    api = len(bench.emulator.requests()) if side == "bsmount" else 0
                fig.values.append(statistics.median(times))
                fig.details.setdefault("max_ms", []).append(round(max(times), 2))
                if side == "bsmount":
                    fig.details.setdefault("api_requests_per_file", []).append(api / per_run)
                    # The part of that a content-URL lookup costs (direct, keep-alive httpx).
                    fig.details.setdefault("content_url_api_ms", []).append(
                        round(_content_api_ms(bench, chosen), 2)
                    )

            bench.results.attempt(["ttfb"], side, "ms", step)


def _content_api_ms(bench: Bench, chosen: list[BenchFile]) -> float:
    """Median ms of ``GET v2/files/{id}/content?redirect=meta`` straight to the emulator."""
    times = []
    for item in chosen:
        start = time.perf_counter()
        bench.emulator.api(f"v2/files/{item.file_id}/content", redirect="meta")
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _curl_first(bench: Bench, chosen: list[BenchFile]) -> list[float]:
    times = []
    for item in chosen:
        cmd = ["curl", "-sf", "-r", "0-4095", "-o", "/dev/null", "-w", "%{time_total}"]
        _, out = timed([*cmd, bench.url(item)], stdout=subprocess.PIPE)
        times.append(float(out) * 1000)
    return times
