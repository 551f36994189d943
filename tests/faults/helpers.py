"""Helpers of the fault-injection suite: walking the demo, reader processes, direct reads, RSS.

Everything that compares the mount with the truth goes to the emulator directly (plain httpx
through :mod:`tests.mount.apiwalk`), never through bsmount's own client. Reads through the mount
that may block run in a separate process (``readfile.py``), so a hang cannot hang the test run.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.mount.apiwalk import complete, content_url, items

READER = Path(__file__).resolve().parent / "readfile.py"
MiB = 2**20
GiB = 2**30


def entity_dir(list_dir: Path, entity_id: str) -> Path:
    """The directory of an entity in a list directory, through its ``.id.<id>`` link."""
    target = os.readlink(list_dir / f".id.{entity_id}")
    assert "/" not in target, target
    return list_dir / target


def demo_files(emulator: Any, mnt: Path) -> list[tuple[Path, dict[str, Any]]]:
    """(path in the mount, API file) for every sample, appresult and run file of the account."""
    out: list[tuple[Path, dict[str, Any]]] = []
    for project in items(emulator, "v1pre3/users/current/projects"):
        pdir = entity_dir(mnt / "Projects", project["Id"])
        for kind, sub in (("samples", "Samples"), ("appresults", "AppResults")):
            for entity in items(emulator, f"v1pre3/projects/{project['Id']}/{kind}"):
                edir = entity_dir(pdir / sub, entity["Id"])
                files = items(emulator, f"v1pre3/{kind}/{entity['Id']}/files", limit=1000)
                for f in complete(files):
                    out.append((edir / "Files" / f["Path"].lstrip("/"), f))
    for run in items(emulator, "v1pre3/users/current/runs"):
        rdir = entity_dir(mnt / "Runs", run["Id"])
        files = items(emulator, f"v2/runs/{run['Id']}/files", limit=1000, recursive="true")
        for f in complete(files):
            out.append((rdir / "Files" / f["Path"].lstrip("/"), f))
    return out


_DIRECT = httpx.Client(timeout=120)  # one pool: a new client costs ~40 ms (its SSL context)


def direct_md5(emulator: Any, file_id: str, start: int = 0, end: int | None = None) -> str:
    """MD5 of a file's bytes ``[start, end)`` streamed straight from its content URL."""
    headers = {}
    if start or end is not None:
        headers["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
    digest = hashlib.md5()
    with _DIRECT.stream("GET", content_url(emulator, file_id), headers=headers) as resp:
        resp.raise_for_status()
        for chunk in resp.iter_bytes(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def direct_md5s(emulator: Any, file_ids: list[str], threads: int = 4) -> list[str]:
    """:func:`direct_md5` of whole files, a few at a time."""
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda file_id: direct_md5(emulator, file_id), file_ids))


def md5sum_all(paths: list[str], processes: int = 4, timeout: float = 600) -> dict[str, str]:
    """``md5sum`` of every path through the mount, in a few parallel processes.

    Asserts that every process exits 0 with nothing on stderr (no reader saw an error)."""
    groups = [paths[i::processes] for i in range(processes) if paths[i::processes]]
    procs = [
        subprocess.Popen(
            ["md5sum", "--", *group], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for group in groups
    ]
    got: dict[str, str] = {}
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0 and err == "", err[-3000:]
        got.update((line[34:], line[:32]) for line in out.splitlines())
    return got


_READERS: list[subprocess.Popen[str]] = []


def start_reader(path: Path, *args: str) -> subprocess.Popen[str]:
    """Start ``readfile.py PATH ARGS`` (see its docstring); collect with :func:`reader_result`."""
    proc = subprocess.Popen(
        [sys.executable, str(READER), str(path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _READERS.append(proc)
    return proc


def kill_readers() -> None:
    """Kill the reader processes still running (a failed test must not keep a mount busy)."""
    for proc in _READERS:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    _READERS.clear()


def reader_result(proc: subprocess.Popen[str], timeout: float = 300.0) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def read_through(path: Path, *args: str, timeout: float = 300.0) -> dict[str, Any]:
    return reader_result(start_reader(path, *args), timeout)


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in bytes."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def fired_by_action(emulator: Any) -> dict[str, int]:
    """How many times each kind of fault fired (``GET /_emulator/faults``)."""
    counts: Counter[str] = Counter()
    for rule in emulator.faults():
        action = rule["action"]
        if isinstance(action, dict):
            kind = f"status {action['status']}" if "status" in action else "delay"
        else:
            kind = str(action)
        counts[kind] += int(rule["fired"])
    return dict(counts)


def log_lines(log: str, *needles: str) -> list[str]:
    """The lines of a mount log holding every one of ``needles``."""
    return [line for line in log.splitlines() if all(n in line for n in needles)]
