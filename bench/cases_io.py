"""Cases 1-3 and 8: sequential, random and parallel reads, peak memory, and the py-spy profile.

Every measured run of a mount side is a fresh mount with the page cache dropped and the server's
copy warm (:meth:`bench.harness.Bench.cold`); curl reads the same blob from nginx. Figures go to
``bench.results`` under the case keys the report knows (``seq_dd``, ``seq_cat``, ``rand_iops``,
``rand_p50``, ``rand_p99``, ``par4``, ``par1``, ``rss``).
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import GIB, MB, BenchError, cpu_seconds, timed, which
from bench.harness import MOUNTS, Bench, Figure, check

__all__ = ["memory", "parallel", "profile_sequential", "random_reads", "sequential"]

log = logging.getLogger(__name__)


def _curl(url: str, timeout: float = 600.0) -> float:
    """Seconds to download ``url`` to /dev/null (checks the size against Content-Length)."""
    fmt = "%{http_code} %{size_download}"
    elapsed, out = timed(
        ["curl", "-s", "-o", "/dev/null", "-w", fmt, url], timeout=timeout, stdout=subprocess.PIPE
    )
    check(out.split()[0] == "200", f"curl: HTTP {out}")
    return elapsed


def sequential(bench: Bench) -> None:
    """Case 1: ``dd bs=1M`` and ``cat > /dev/null`` of the big file, cold."""
    big = bench.layout.one("Sequential")
    size = bench.sizes.big
    commands = {
        "seq_dd": lambda p: ["dd", f"if={p}", "of=/dev/null", "bs=1M"],
        "seq_cat": lambda p: ["cat", str(p)],
    }
    for run in range(bench.runs):
        for case, make in commands.items():
            for side in bench.sides:
                fig = bench.results.figure(case, side, "MB/s")

                def step(
                    side: str = side, case: str = case, make: Any = make, fig: Figure = fig
                ) -> None:
                    if side == "curl":
                        bench.prepare_cold([big])
                        fig.values.append(size / _curl(bench.url(big)) / MB)
                        return
                    with bench.cold(side, "seq", [big]) as mount:
                        cpu0 = cpu_seconds(mount.pid) or 0.0
                        elapsed, _ = timed(make(bench.path(side, big)))
                        cpu = (cpu_seconds(mount.pid) or 0.0) - cpu0
                    fig.values.append(size / elapsed / MB)
                    fig.details.setdefault("cpu_seconds", []).append(round(cpu, 2))
                    fig.details.setdefault("cpu_share", []).append(round(cpu / elapsed, 2))

                bench.results.attempt([case], side, "MB/s", step)
            log.info("run %d %s: %s", run + 1, case, _medians(bench, case))


def _medians(bench: Bench, case: str) -> str:
    figs = bench.results.figures.get(case, {})
    return ", ".join(f"{s}={f.median:.0f}" for s, f in figs.items() if f.median is not None)


def random_reads(bench: Bench) -> None:
    """Case 2: fio 4 KiB random reads (sync, one job, time-based): IOPS, p50 and p99 latency."""
    big = bench.layout.one("Sequential")
    for _run in range(bench.runs):
        for side in (s for s in bench.sides if s in MOUNTS):

            def step(side: str = side) -> None:
                uri = (
                    big.blob_uri(bench.paths.blobs)
                    if side == "bsmount"
                    else f"/tree/{big.tree_rel()}"
                )
                with bench.cold(side, "rand", [big], touch=GIB):  # 4 KiB reads: little cached
                    offset = bench.nginx.offset()
                    cmd = [
                        "fio", "--name=rand", f"--filename={bench.path(side, big)}", "--readonly",
                        "--rw=randread", "--bs=4k", "--ioengine=sync", "--numjobs=1",
                        "--time_based", f"--runtime={bench.fio_runtime}", "--output-format=json",
                    ]  # fmt: skip
                    _, out = timed(cmd, timeout=bench.fio_runtime + 120, stdout=subprocess.PIPE)
                    fetched = bench.bytes_in(offset, {uri})
                job = json.loads(out[out.index("{") :])["jobs"][0]["read"]
                check(job["io_bytes"] > 0 and not job.get("error"), "fio read nothing")
                pct = job["clat_ns"]["percentile"]
                fig = bench.results.figure("rand_iops", side, "IOPS")
                fig.values.append(job["iops"])
                # What the server sent per 4 KiB read asked for (read-ahead and over-fetch).
                per_read = fetched["bytes"] / max(1, job["total_ios"])
                fig.details.setdefault("server_bytes_per_read", []).append(round(per_read))
                fig.details.setdefault("server_requests", []).append(fetched["requests"])
                fig.details.setdefault("reads", []).append(job["total_ios"])
                bench.results.figure("rand_p50", side, "µs").values.append(pct["50.000000"] / 1e3)
                bench.results.figure("rand_p99", side, "µs").values.append(pct["99.000000"] / 1e3)

            bench.results.attempt(["rand_iops", "rand_p50", "rand_p99"], side, "IOPS", step)
        log.info("random: %s", _medians(bench, "rand_iops"))


def _parallel_dd(paths: list[Path]) -> float:
    """Seconds for ``dd bs=1M`` of all ``paths`` at once (wall time until the last ends)."""
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            ["dd", f"if={p}", "of=/dev/null", "bs=1M"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in paths
    ]
    errors = []
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=900)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if proc.returncode != 0:
            errors.append(err.strip().splitlines()[-1:] or ["?"])
    elapsed = time.perf_counter() - start
    if errors:
        raise BenchError(f"dd failed: {errors[0][0]}")
    return elapsed


def _parallel_curl(urls: list[str]) -> float:
    start = time.perf_counter()
    procs = [
        subprocess.Popen(["curl", "-sf", "-o", "/dev/null", url], stderr=subprocess.DEVNULL)
        for url in urls
    ]
    codes = [proc.wait(timeout=900) for proc in procs]
    check(not any(codes), f"curl exit codes {codes}")
    return time.perf_counter() - start


def parallel(bench: Bench) -> None:
    """Case 3: four readers of four files at once (aggregate MB/s) and one reader alone."""
    files = bench.layout.group("Parallel")
    size = bench.sizes.par
    for _run in range(bench.runs):
        for side in bench.sides:
            for case, chosen in (("par4", files), ("par1", files[:1])):

                def step(side: str = side, case: str = case, chosen: Any = chosen) -> None:
                    total = size * len(chosen)
                    if side == "curl":
                        bench.prepare_cold(chosen)
                        elapsed = _parallel_curl([bench.url(f) for f in chosen])
                    else:
                        with bench.cold(side, "par", chosen):
                            elapsed = _parallel_dd([bench.path(side, f) for f in chosen])
                    bench.results.figure(case, side, "MB/s").values.append(total / elapsed / MB)

                bench.results.attempt([case], side, "MB/s", step)
        log.info("parallel: %s / single %s", _medians(bench, "par4"), _medians(bench, "par1"))


#: The read cases whose mounts count for case 8 (uploads have their own row, 11).
READ_CASES = ("seq", "rand", "par", "bam", "small", "list", "ttfb")


def memory(bench: Bench) -> None:
    """Case 8: the largest peak RSS of each mount process over every read case."""
    for side in (s for s in bench.sides if s in MOUNTS):
        by_case = bench.rss.get(side, {})
        peaks = [v for case in READ_CASES for v in by_case.get(case, [])]
        fig = bench.results.figure("rss", side, "MiB")
        fig.details = {case: max(values) for case, values in by_case.items()}
        if peaks:
            fig.values = [max(peaks)]
        else:
            fig.error = "no mount of a read case finished"


_GENERIC = ("<frozen runpy>", "bsmount/__main__.py", "bsmount/cli.py", "bsmount/mount_cli.py",
            "bsmount/mount.py", "trio/_core/_run.py")  # fmt: skip


def _leaf_name(frames: list[str]) -> str:
    """The leaf frame; an unnamed native frame (libc's memcpy and friends) gets the nearest
    Python caller, so that a copy shows where it is made."""
    leaf = frames[-1]
    if not leaf.startswith("0x"):
        return leaf
    caller = next((f for f in reversed(frames) if ".py:" in f), "?")
    return f"unnamed native code (memcpy...) <- {caller}"


def _summarize_folded(path: Path, top: int = 20) -> dict[str, Any]:
    """Self and inclusive sample shares per function from py-spy's ``--format raw`` output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if _idle(frames):
            idle += count
            continue
        total += count
        own[_leaf_name(frames)] += count
        for frame in set(frames):
            if ".py:" in frame and not any(g in frame for g in _GENERIC):
                inclusive[frame] += count

    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * n / max(1, total), 1)] for name, n in counter.most_common(top)]

    return {
        "samples": total,
        "idle_samples": idle,
        "self_pct": share(own),
        "inclusive_pct": share(inclusive),
    }


def _idle(frames: list[str]) -> bool:
    """A thread waiting for work, not using CPU: an idle worker thread waiting for its next job
    (py-spy ``--native`` shows its lock wait as unnamed native code) or the trio thread in
    ``epoll_wait`` with nothing to do."""
    leaf = frames[-1]
    if leaf.startswith(("epoll_wait", "poll ")):
        return True
    waiting = any(f.startswith("lock_PyThread_acquire_lock") for f in frames[-5:])
    return waiting and any("_thread_cache.py:211" in f for f in frames[-6:])


def profile_sequential(bench: Bench, logs: Path, stamp: str) -> dict[str, Any] | None:
    """One more cold ``dd`` of the big file through bsmount under ``py-spy record --native``
    (which slows it: the shares matter, not the speed)."""
    spy = which("py-spy")
    if spy is None:
        log.warning("py-spy is not installed: no profile (pip install py-spy)")
        return None
    big = bench.layout.one("Sequential")
    raw = logs / f"{stamp}-seq-profile.txt"
    outcome: dict[str, Any] = {}
    with bench.cold("bsmount", "profile", [big]) as mount:
        cmd = [spy, "record", "--pid", str(mount.pid), "--rate", "100", "--format", "raw"]
        cmd += ["--native", "-o", str(raw)]
        spy_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)
        try:
            cpu0 = cpu_seconds(mount.pid) or 0.0
            elapsed, _ = timed(["dd", f"if={bench.path('bsmount', big)}", "of=/dev/null", "bs=1M"])
            cpu = (cpu_seconds(mount.pid) or 0.0) - cpu0
        finally:
            spy_proc.send_signal(signal.SIGINT)
            try:
                spy_proc.wait(30)
            except subprocess.TimeoutExpired:
                spy_proc.kill()
                spy_proc.wait()
    outcome["mb_per_s_under_profiler"] = round(bench.sizes.big / elapsed / MB, 1)
    outcome["cpu_share"] = round(cpu / elapsed, 2)
    outcome["raw_file"] = str(raw)
    if raw.exists():
        outcome.update(_summarize_folded(raw))
    else:
        stderr = spy_proc.stderr.read().decode(errors="replace") if spy_proc.stderr else ""
        outcome["error"] = f"py-spy wrote nothing: {stderr.strip()[-300:]}"
    if spy_proc.stderr is not None:
        spy_proc.stderr.close()
    return outcome
