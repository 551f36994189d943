"""Small shared helpers of the benchmark: paths, timed commands, page cache, process figures.

Owns :class:`Paths` (the work directory's layout), :func:`timed` (run a command, return its wall
time, raise :class:`BenchError` with the tail of its output on failure), :func:`drop_caches`,
:func:`warm` (read files so the server side is in memory), and the per-process figures read from
``/proc`` (peak RSS, CPU seconds).
"""

from __future__ import annotations

import logging
import mmap
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "GIB",
    "MB",
    "MIB",
    "BenchError",
    "Paths",
    "can_drop_caches",
    "cpu_seconds",
    "drop_caches",
    "free_port",
    "peak_rss_mib",
    "timed",
    "warm",
    "warm_memory",
    "warm_tree",
    "which",
]

log = logging.getLogger(__name__)

MB = 1_000_000
MIB = 1 << 20
GIB = 1 << 30


class BenchError(RuntimeError):
    """A case or a service failed; the message is shown in the table."""


@dataclass(frozen=True)
class Paths:
    """Where everything lives under the work directory (``bench/work/<mode>`` by default)."""

    root: Path

    @property
    def data(self) -> Path:  # generated inputs (the BAM), reused between runs
        return self.root / "data"

    @property
    def blobs(self) -> Path:  # nginx's root: s3/<key>/<name> (materialized) and tree/ (links)
        return self.root / "blobs"

    @property
    def tree(self) -> Path:  # the same files by seed path, for rclone (hard links)
        return self.blobs / "tree"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def mnt(self) -> Path:
        return self.root / "mnt"

    @property
    def scratch(self) -> Path:  # cp -r destinations: tmpfs when there is one
        shm = Path("/dev/shm")
        base = shm if shm.is_dir() and os.access(shm, os.W_OK) else self.root
        return base / f"bsmount-bench-{os.getpid()}"

    def make(self) -> None:
        for path in (self.data, self.blobs, self.tree, self.logs, self.mnt):
            path.mkdir(parents=True, exist_ok=True)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (closed again at once; a race is possible but harmless)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(
    cmd: Sequence[str],
    *,
    timeout: float = 900.0,
    cwd: Path | None = None,
    stdout: int | None = subprocess.DEVNULL,
) -> tuple[float, str]:
    """Run ``cmd``; return (wall seconds, its stdout if captured). Raise BenchError on failure."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            list(cmd),
            stdout=stdout,
            stderr=subprocess.PIPE,
            timeout=timeout,
            cwd=cwd,
            check=False,
            text=True,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{Path(cmd[0]).name} timed out after {timeout:.0f} s") from exc
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        raise BenchError(f"{Path(cmd[0]).name} exited {proc.returncode}: {' | '.join(tail)}")
    return elapsed, proc.stdout or ""


def can_drop_caches() -> bool:
    return os.geteuid() == 0 and os.access("/proc/sys/vm/drop_caches", os.W_OK)


def drop_caches() -> bool:
    """``sync; echo 3 > /proc/sys/vm/drop_caches``; False when not allowed (not root)."""
    if not can_drop_caches():
        return False
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as handle:
        handle.write("3\n")
    return True


def warm(paths: Iterable[Path], *, stat_only: bool = False) -> None:
    """Read ``paths`` (or only stat them) so that nginx serves them from memory, as a remote
    object store would serve from its own memory rather than from this machine's disk."""
    buffer = bytearray(8 * MIB)
    for path in paths:
        if stat_only:
            path.stat()
            continue
        with path.open("rb", buffering=0) as handle:
            while handle.readinto(buffer):
                pass


def memory_available() -> int:
    """MemAvailable from /proc/meminfo, in bytes (0 if unknown)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def warm_memory(nbytes: int) -> int:
    """Touch ``nbytes`` of fresh memory (at most half of what is available), then free it;
    returns the bytes touched.

    On these VMs the first touch of a guest page is slow (~330-460 MB/s, against ~3 GB/s for
    a page touched before), and memory the guest frees (``drop_caches``, a freed buffer) is
    handed back to the host within seconds. A cold run right after a drop would then time the
    VM filling page-cache pages, not the filesystem: touching a large buffer just before the
    run leaves warm pages on the free lists for the page cache to take."""
    nbytes = min(nbytes, memory_available() // 2)
    if nbytes <= 0:
        return 0
    populate = getattr(mmap, "MAP_POPULATE", 0)  # the kernel zeroes every page at once
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | populate
    with mmap.mmap(-1, nbytes, flags=flags) as mapped:
        if not populate:
            chunk = b"\1" * (8 * MIB)
            for offset in range(0, nbytes - len(chunk) + 1, len(chunk)):
                mapped[offset : offset + len(chunk)] = chunk
    return nbytes


def warm_tree(root: Path) -> int:
    """Stat everything below ``root`` (as nginx's autoindex does); return the entry count."""
    count = 0
    for top, dirs, files in os.walk(root):
        for name in files:
            os.lstat(os.path.join(top, name))
        count += len(dirs) + len(files)
    return count


def _status(pid: int) -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
    except OSError:
        pass
    return fields


def peak_rss_mib(pid: int) -> float | None:
    """The process's peak resident set (VmHWM) in MiB, or None if it is gone."""
    value = _status(pid).get("VmHWM")
    if not value:
        return None
    return int(value.split()[0]) / 1024


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds the process has used (all its threads), or None."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def which(name: str) -> str | None:
    """``name`` on PATH, in this Python's bin directory (the venv) or in /usr/sbin, /sbin."""
    found = shutil.which(name)
    if found:
        return found
    dirs = (Path(sys.executable).parent, Path("/usr/sbin"), Path("/sbin"))
    return next((str(d / name) for d in dirs if (d / name).exists()), None)
