"""Cases 9-11: writing into BaseSpace through the mount (docs/writing.md), against the emulator's
ingest limit.

* ``up_big``: ``cp`` of one big file (1 GiB; quick 256 MiB) from local disk into a new
  AppResult's ``Files/``; the mount streams it as multipart parts (its default 20 MiB, 8 in
  flight) and ``cp`` returns when the file is complete on the server. The ``curl`` side is the
  ingest limit: the same bytes, already split into 20 MiB part files on local disk, sent by one
  ``curl --parallel --parallel-max 8`` (each part with its ``Content-MD5``, as the mount sends
  them) between an initiate and a complete made with httpx, to the same emulator. Both are timed
  from the initiate to the complete; both files are checked (Size, multipart ETag).
* ``up_small``: ``cp -r`` of 2,000 × 256 KiB files (quick 500) into a new AppResult (one
  request per file, at ``close``); ``curl``: one curl process POSTing the same files one after
  another over one keep-alive connection.
* ``up_rss``: the mount's peak RSS (VmHWM) over the upload cases.

Every mount is a fresh one with its spool in ``<work>/upload-cache``. Before anything is timed
the sources are read into the page cache and as much memory as the case writes is touched once
(a tmpfs file written and deleted): this VM is slow at first touch of a page, and both the
mount's spool and the emulator's part files are new page-cache pages.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.cases_io import _summarize_folded
from bench.common import MB, MIB, BenchError, cpu_seconds, timed, warm, which
from bench.data import PROJECT, TOKEN
from bench.harness import Bench, Figure, check
from bench.services import BsMount

__all__ = ["PART_SIZE", "memory", "profile_upload", "upload_big", "upload_small"]

log = logging.getLogger(__name__)

PART_SIZE = 20 * MIB  # the mount's default --upload-part-size
PARALLEL_PARTS = 8  # the mount's parts in flight (Defaults.upload_parts_in_flight)
_AUTH = {"x-access-token": TOKEN}


# ---------------------------------------------------------------------------------- the data
def _block(seed: int, index: int) -> bytes:
    """MiB ``index`` of a repeatable pseudo-random file."""
    return random.Random((seed << 32) | index).randbytes(MIB)


def big_source(bench: Bench) -> tuple[Path, list[Path], str]:
    """The big file, the same bytes as part files, and its multipart ETag (built once)."""
    size = bench.sizes.upload_big
    root = bench.paths.data / f"upload-{size // MIB}m"
    source = root / "big.bin"
    parts_dir = root / "parts"
    meta = root / "meta.json"
    count = -(-size // PART_SIZE)
    parts = [parts_dir / f"part.{n:05d}" for n in range(1, count + 1)]
    if meta.exists():
        known = json.loads(meta.read_text())
        if known.get("size") == size and all(p.exists() for p in [source, *parts]):
            return source, parts, str(known["etag"])
    log.warning("generating the %d MiB upload source (once; cached in %s)", size // MIB, root)
    shutil.rmtree(root, ignore_errors=True)
    parts_dir.mkdir(parents=True)
    digests = []
    with source.open("wb") as whole:
        for number, part in enumerate(parts):
            first = number * PART_SIZE // MIB
            blocks = min(PART_SIZE, size - number * PART_SIZE) // MIB
            data = b"".join(_block(9, first + i) for i in range(blocks))
            whole.write(data)
            part.write_bytes(data)
            digests.append(hashlib.md5(data).digest())
    etag = f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"
    meta.write_text(json.dumps({"size": size, "part_size": PART_SIZE, "etag": etag}))
    return source, parts, etag


def small_source(bench: Bench) -> Path:
    """A directory of ``upload_small_count`` files of ``upload_small_size`` bytes (built once)."""
    count, size = bench.sizes.upload_small_count, bench.sizes.upload_small_size
    root = bench.paths.data / f"upload-small-{count}x{size >> 10}k"
    done = root / ".done"
    if done.exists():
        return root / "small"
    shutil.rmtree(root, ignore_errors=True)
    (root / "small").mkdir(parents=True)
    rng = random.Random(10)
    for i in range(count):
        (root / "small" / f"s{i:04d}.bin").write_bytes(rng.randbytes(size))
    done.touch()
    return root / "small"


def touch_memory(nbytes: int) -> None:
    """Write and delete ``nbytes`` on tmpfs, so the pages the case then needs are not the VM's
    first touch of them."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        return
    path = shm / f"bsmount-bench-touch-{os.getpid()}"
    chunk = b"\0" * (8 * MIB)
    try:
        with path.open("wb") as out:
            for _ in range(-(-nbytes // len(chunk))):
                out.write(chunk)
    finally:
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------- the API
def _api(bench: Bench, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    resp = bench.emulator.http.request(method, "/" + path, headers=_AUTH, **kwargs)
    if resp.status_code >= 300:
        raise BenchError(f"{method} {path}: HTTP {resp.status_code} {resp.text[:200]}")
    body = resp.json()
    return dict(body.get("Response", body))


def _project_id(bench: Bench) -> str:
    items = _api(bench, "GET", "v1pre3/users/current/projects", params={"Limit": 100})["Items"]
    return str(next(p["Id"] for p in items if p["Name"] == PROJECT))


def _new_appresult(bench: Bench, name: str) -> str:
    made = _api(bench, "POST", f"v1pre3/projects/{_project_id(bench)}/appresults",
                json={"Name": name})  # fmt: skip
    return str(made["Id"])


def _server_file(bench: Bench, appresult_id: str, name: str) -> dict[str, Any]:
    files = _api(bench, "GET", f"v1pre3/appresults/{appresult_id}/files", params={"Limit": 1000})
    found = [f for f in files.get("Items", []) if f.get("Name") == name]
    check(bool(found), f"{name} is not in appresult {appresult_id}")
    return dict(found[0])


def _completed_in(bench: Bench, appresult_id: str) -> list[dict[str, Any]]:
    """The emulator's complete uploads into the AppResult."""
    resp = bench.emulator.http.get("/_emulator/uploads", params={"status": "complete"})
    resp.raise_for_status()
    container = f"appresults/{appresult_id}"
    return [u for u in resp.json() if u.get("container") == container]


# ---------------------------------------------------------------------------------- mounts
def _mount(bench: Bench) -> BsMount:
    cache = bench.paths.root / "upload-cache"
    return BsMount(
        bench.mountpoint("bsmount"),
        bench.paths.logs / "bsmount.log",
        bench.emulator.url,
        extra_args=("--cache-dir", str(cache)),
    )


@contextlib.contextmanager
def _writing_mount(bench: Bench, case: str) -> Iterator[BsMount]:
    """A fresh mount with its spool under the work directory; its peak RSS is recorded."""
    mount = _mount(bench)
    mount.start()
    try:
        yield mount
    finally:
        mount.stop()
        if mount.peak_rss_mib is not None:
            bench.rss.setdefault("bsmount", {}).setdefault(case, []).append(mount.peak_rss_mib)


def _mkdir_appresult(mount: BsMount, name: str) -> tuple[Path, str]:
    appresult = mount.mountpoint / "Projects" / PROJECT / "AppResults" / name
    appresult.mkdir()
    return appresult / "Files", (appresult / ".id").read_text().strip()


def _stamp() -> str:
    return time.strftime("%H%M%S") + f"-{time.monotonic_ns() % 100000}"


# ---------------------------------------------------------------------------------- case 9
def _curl_parts(bench: Bench, file_id: str, parts: list[Path], config: Path) -> None:
    """PUT every part with one ``curl -Z --parallel-max 8``; every answer must be 200."""
    lines = []
    for number, part in enumerate(parts, start=1):
        md5 = base64.b64encode(hashlib.md5(part.read_bytes()).digest()).decode()
        if number > 1:
            lines.append("next")
        lines += [
            f'url = "{bench.emulator.url}/v1pre3/files/{file_id}/parts/{number}"',
            f'upload-file = "{part}"',
            'output = "/dev/null"',
            f'header = "x-access-token: {TOKEN}"',
            f'header = "Content-MD5: {md5}"',
            'header = "Content-Type: application/octet-stream"',
            'write-out = "%{http_code}\\n"',
        ]
    config.write_text("\n".join(lines) + "\n")
    cmd = ["curl", "-s", "--parallel", "--parallel-max", str(PARALLEL_PARTS), "-K", str(config)]
    _, out = timed(cmd, timeout=900, stdout=subprocess.PIPE)
    codes = out.split()
    check(codes == ["200"] * len(parts), f"curl part answers: {sorted(set(codes))} ({len(codes)})")


def _ingest_limit(bench: Bench, parts: list[Path], etag: str, config: Path) -> float:
    """Seconds from initiate to complete for the part files sent by curl."""
    appresult_id = _new_appresult(bench, f"upload-limit-{_stamp()}")
    start = time.perf_counter()
    started = _api(bench, "POST", f"v1pre3/appresults/{appresult_id}/files",
                   params={"name": "big.bin", "multipart": "true"})  # fmt: skip
    file_id = str(started["Id"])
    _curl_parts(bench, file_id, parts, config)
    done = _api(bench, "POST", f"v1pre3/files/{file_id}", params={"uploadstatus": "complete"})
    elapsed = time.perf_counter() - start
    check(done.get("Size") == bench.sizes.upload_big, f"curl upload: size {done.get('Size')}")
    check(done.get("ETag") == etag, f"curl upload: ETag {done.get('ETag')}, expected {etag}")
    return elapsed


def upload_big(bench: Bench) -> None:
    """Case 9: ``cp`` of the big file into the mount against curl's parts (the ingest limit)."""
    size = bench.sizes.upload_big
    source, parts, etag = big_source(bench)
    config = bench.paths.root / "curl-parts.conf"
    for _run in range(bench.runs):
        for side in (s for s in bench.sides if s in ("bsmount", "curl")):
            fig = bench.results.figure("up_big", side, "MB/s")

            def step(side: str = side, fig: Figure = fig) -> None:
                warm([source, *parts])
                touch_memory(3 * size)
                if side == "curl":
                    fig.values.append(size / _ingest_limit(bench, parts, etag, config) / MB)
                    return
                with _writing_mount(bench, "up_big") as mount:
                    files, appresult_id = _mkdir_appresult(mount, f"upload-big-{_stamp()}")
                    cpu0 = cpu_seconds(mount.pid) or 0.0
                    elapsed, _ = timed(["cp", str(source), str(files / "big.bin")], timeout=900)
                    cpu = (cpu_seconds(mount.pid) or 0.0) - cpu0
                server = _server_file(bench, appresult_id, "big.bin")
                check(server.get("Size") == size, f"mount upload: size {server.get('Size')}")
                check(server.get("ETag") == etag, f"mount upload: ETag {server.get('ETag')}")
                fig.values.append(size / elapsed / MB)
                fig.details.setdefault("cpu_seconds", []).append(round(cpu, 2))
                fig.details.setdefault("cpu_share", []).append(round(cpu / elapsed, 2))

            bench.results.attempt(["up_big"], side, "MB/s", step)
            log.info("upload %s run %d: %s", side, _run + 1, fig.values[-1:] or fig.error)
    config.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------- case 10
def _curl_small(bench: Bench, source: Path, names: list[str], config: Path) -> float:
    appresult_id = _new_appresult(bench, f"upload-small-limit-{_stamp()}")
    base = f"{bench.emulator.url}/v1pre3/appresults/{appresult_id}/files"
    lines = [
        f'header = "x-access-token: {TOKEN}"',
        'header = "Content-Type: application/octet-stream"',
        'request = "POST"',
        'write-out = "%{http_code}\\n"',
    ]
    for name in names:
        lines += [f'url = "{base}?name={name}&directory=small"', f'upload-file = "{source / name}"',
                  'output = "/dev/null"']  # fmt: skip
    config.write_text("\n".join(lines) + "\n")
    elapsed, out = timed(["curl", "-s", "-K", str(config)], timeout=900, stdout=subprocess.PIPE)
    codes = out.split()
    check(codes == ["200"] * len(names), f"curl answers: {sorted(set(codes))} ({len(codes)})")
    check(len(_completed_in(bench, appresult_id)) == len(names), "curl: files missing")
    return elapsed


def upload_small(bench: Bench) -> None:
    """Case 10: ``cp -r`` of the small files into a new AppResult: files/s."""
    source = small_source(bench)
    names = sorted(os.listdir(source))
    count = len(names)
    config = bench.paths.root / "curl-small.conf"
    for _run in range(bench.runs):
        for side in (s for s in bench.sides if s in ("bsmount", "curl")):
            fig = bench.results.figure("up_small", side, "files/s")

            def step(side: str = side, fig: Figure = fig) -> None:
                warm(source / name for name in names)
                if side == "curl":
                    fig.values.append(count / _curl_small(bench, source, names, config))
                    return
                with _writing_mount(bench, "up_small") as mount:
                    files, appresult_id = _mkdir_appresult(mount, f"upload-small-{_stamp()}")
                    cpu0 = cpu_seconds(mount.pid) or 0.0
                    elapsed, _ = timed(["cp", "-r", str(source), str(files)], timeout=900)
                    cpu = (cpu_seconds(mount.pid) or 0.0) - cpu0
                uploaded = _completed_in(bench, appresult_id)
                check(len(uploaded) == count, f"{len(uploaded)} of {count} files on the server")
                check(all(u["size"] == bench.sizes.upload_small_size for u in uploaded),
                      "a file has the wrong size")  # fmt: skip
                fig.values.append(count / elapsed)
                per_file = round(1e3 * cpu / count, 2)
                fig.details.setdefault("cpu_ms_per_file", []).append(per_file)

            bench.results.attempt(["up_small"], side, "files/s", step)
            log.info("small uploads %s run %d: %s", side, _run + 1, fig.values[-1:] or fig.error)
    config.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------- case 11
def memory(bench: Bench) -> None:
    """Case 11: the largest peak RSS of the mount over the upload cases."""
    by_case = bench.rss.get("bsmount", {})
    peaks = [v for case in ("up_big", "up_small") for v in by_case.get(case, [])]
    fig = bench.results.figure("up_rss", "bsmount", "MiB")
    fig.details = {case: max(by_case[case]) for case in ("up_big", "up_small") if case in by_case}
    if peaks:
        fig.values = [max(peaks)]
    else:
        fig.error = "no upload mount finished"


def profile_upload(bench: Bench, logs: Path, stamp: str) -> dict[str, Any] | None:
    """One more ``cp`` of the big file under ``py-spy record --native`` (slowed by it: the
    shares matter, not the speed)."""
    spy = which("py-spy")
    if spy is None:
        log.warning("py-spy is not installed: no profile (pip install py-spy)")
        return None
    source, _, _ = big_source(bench)
    raw = logs / f"{stamp}-upload-profile.txt"
    outcome: dict[str, Any] = {"what": f"one cp of {bench.sizes.upload_big // MIB} MiB into"}
    warm([source])
    with _writing_mount(bench, "profile") as mount:
        files, _ = _mkdir_appresult(mount, f"upload-profile-{_stamp()}")
        cmd = [spy, "record", "--pid", str(mount.pid), "--rate", "100", "--format", "raw"]
        cmd += ["--native", "-o", str(raw)]  # (--threads once stalled the mount for minutes)
        spy_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)
        try:
            cpu0 = cpu_seconds(mount.pid) or 0.0
            elapsed, _ = timed(["cp", str(source), str(files / "big.bin")], timeout=900)
            cpu = (cpu_seconds(mount.pid) or 0.0) - cpu0
        finally:
            spy_proc.send_signal(signal.SIGINT)
            try:
                spy_proc.wait(30)
            except subprocess.TimeoutExpired:
                spy_proc.kill()
                spy_proc.wait()
    outcome["mb_per_s_under_profiler"] = round(bench.sizes.upload_big / elapsed / MB, 1)
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
