"""``bsmount status``: the active mounts and what each one has in flight, with rates.

The mounts are the ``fuse.bsmount`` lines of ``/proc/mounts``; what each one is doing comes from
its own ``.bsmount/stats`` control file (JSON, read through the mount like any file). Rates are
the difference of two samples ``--interval`` apart; ``--watch`` keeps sampling and redraws until
Ctrl-C or ``--count`` refreshes. A mount that does not answer within :data:`READ_TIMEOUT`, or
that this user may not read, is shown with the reason instead of its numbers.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bsmount import __version__
from bsmount.config import MiB

__all__ = ["READ_TIMEOUT", "Sample", "format_mount", "mounts", "read_stats", "show_status"]

READ_TIMEOUT = 5.0  # seconds a mount may take to answer `.bsmount/stats`
CLEAR = "\x1b[H\x1b[2J"


def _unescape(field_text: str) -> str:
    """/proc/mounts writes space, tab, newline and backslash as octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field_text)


def mounts(proc_mounts: str = "/proc/mounts") -> list[tuple[str, str, str]]:
    """``(mountpoint, source, options)`` of each bsmount mount."""
    found = []
    with open(proc_mounts, encoding="utf-8") as table:
        for line in table:
            parts = line.split()
            if len(parts) >= 4 and parts[2] in ("fuse.bsmount", "bsmount"):
                found.append((_unescape(parts[1]), _unescape(parts[0]), parts[3]))
    return found


def read_stats(mountpoint: str, timeout: float = READ_TIMEOUT) -> dict[str, Any] | str:
    """The mount's ``.bsmount/stats``, or why it could not be read (a hung mount must not hang
    ``status``: the read runs in a daemon thread that is abandoned after ``timeout``)."""
    result: list[dict[str, Any] | str] = []

    def read() -> None:
        try:
            text = (Path(mountpoint) / ".bsmount" / "stats").read_text(encoding="utf-8")
            result.append(json.loads(text))
        except OSError as exc:
            result.append(exc.strerror or str(exc))
        except ValueError as exc:
            result.append(f"unreadable statistics: {exc}")

    reader = threading.Thread(target=read, daemon=True, name="bsmount-status")
    reader.start()
    reader.join(timeout)
    return result[0] if result else f"no answer within {timeout:.0f} s"


@dataclass
class Sample:
    """One reading of a mount's statistics and when it was taken."""

    stats: Mapping[str, Any]
    at: float = field(default_factory=time.monotonic)


def _num(stats: Mapping[str, Any], *path: str) -> float:
    value: Any = stats
    for key in path:
        if not isinstance(value, Mapping):
            return 0.0
        value = value.get(key, 0)
    return float(value) if isinstance(value, int | float) else 0.0


def _api_requests(stats: Mapping[str, Any]) -> float:
    api = stats.get("api", {})
    if not isinstance(api, Mapping):
        return 0.0
    return float(sum(v for k, v in api.items() if k.startswith("requests_")))


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def format_mount(
    mountpoint: str, source: str, now: Sample | str, before: Sample | None = None
) -> list[str]:
    """The lines shown for one mount: what is in flight, totals and (given an earlier sample)
    rates per second."""
    if isinstance(now, str):
        return [f"{mountpoint}  ({source})  statistics unavailable: {now}"]
    s = now.stats
    flight = s.get("in_flight", {})
    flight = flight if isinstance(flight, Mapping) else {}
    header = f"{mountpoint}  ({source})  up {_duration(_num(s, 'uptime_seconds'))}"
    parts = [
        # the open and read of .bsmount/stats that this sample is count as one each: not shown
        f"operations {max(0, int(_num(flight, 'operations')) - 1)}",
        f"reads {int(_num(flight, 'reads'))} ({_size(_num(flight, 'read_bytes'))})",
        f"awaits {int(_num(flight, 'awaits'))}",
    ]
    if "uploads" in flight:
        parts.append(f"uploads {int(_num(flight, 'uploads'))}")
    parts.append(f"open files {max(0, int(_num(s, 'open_handles')) - 1)}")
    lines = [header, "  in flight: " + ", ".join(parts)]
    cache = _num(s, "read_engine", "cached_bytes")
    capacity = _num(s, "read_engine", "cache_capacity")
    hits, misses = _num(s, "block_cache", "hits"), _num(s, "block_cache", "misses")
    ratio = f", {100 * hits / (hits + misses):.0f}% hits" if hits + misses else ""
    errors = s.get("errors_by_errno", {})
    error_count = sum(errors.values()) if isinstance(errors, Mapping) else 0
    uploads = s.get("uploads", {})
    uploads = uploads if isinstance(uploads, Mapping) else {}
    for upload in (
        uploads.get("in_flight", []) if isinstance(uploads.get("in_flight"), list) else []
    ):
        if isinstance(upload, Mapping):
            error = f", error: {upload['error']}" if upload.get("error") else ""
            lines.append(
                f"  uploading {upload.get('path')}: {_size(_num(upload, 'bytes_written'))}"
                f" written, {_size(_num(upload, 'bytes_sent'))} sent in"
                f" {int(_num(upload, 'parts_sent'))} parts ({_num(upload, 'rate_mb_s'):.1f} MB/s,"
                f" {upload.get('state')}){error}"
            )
    lines.append(
        f"  totals: served {_size(_num(s, 'bytes_served'))}, fetched"
        f" {_size(_num(s, 'bytes_fetched'))}, {int(_api_requests(s))} API requests,"
        f" {error_count} errors; cache {_size(cache)} of {_size(capacity)}{ratio}"
    )
    disk = s.get("disk_cache")
    if isinstance(disk, Mapping):
        disk_hits, disk_misses = _num(disk, "hits"), _num(disk, "misses")
        disk_ratio = (
            f", {100 * disk_hits / (disk_hits + disk_misses):.0f}% hits"
            if disk_hits + disk_misses
            else ""
        )
        lines.append(
            f"  disk cache: {_size(_num(disk, 'bytes_on_disk'))} of"
            f" {_size(_num(disk, 'capacity'))}, read {_size(_num(disk, 'bytes_read'))} from"
            f" disk{disk_ratio}, {int(_num(disk, 'evictions'))} blocks evicted"
        )
    if before is not None and not isinstance(before, str):
        span = now.at - before.at
        if span > 0:

            def rate(value: float, earlier: float) -> float:
                return max(0.0, value - earlier) / span

            b = before.stats
            served = rate(_num(s, "bytes_served"), _num(b, "bytes_served"))
            fetched = rate(_num(s, "bytes_fetched"), _num(b, "bytes_fetched"))
            requests = rate(_api_requests(s), _api_requests(b))
            reads = rate(_num(s, "read_engine", "reads"), _num(b, "read_engine", "reads"))
            sent = rate(_num(s, "uploads", "bytes_sent"), _num(b, "uploads", "bytes_sent"))
            lines.append(
                f"  rates: served {served / MiB:.1f} MiB/s, fetched {fetched / MiB:.1f} MiB/s,"
                f" uploaded {sent / MiB:.1f} MiB/s, {reads:.0f} reads/s,"
                f" {requests:.1f} API requests/s (over {span:.1f} s)"
            )
    return lines


def _sample_all(targets: list[tuple[str, str, str]]) -> dict[str, Sample | str]:
    out: dict[str, Sample | str] = {}
    for mountpoint, _source, _options in targets:
        stats = read_stats(mountpoint)
        out[mountpoint] = Sample(stats) if isinstance(stats, dict) else stats
    return out


def _render(
    targets: list[tuple[str, str, str]],
    now: dict[str, Sample | str],
    before: dict[str, Sample | str],
    total: int,
) -> str:
    lines: list[str] = []
    for mountpoint, source, _options in targets:
        previous = before.get(mountpoint)
        lines += format_mount(
            mountpoint, source, now[mountpoint], previous if isinstance(previous, Sample) else None
        )
    lines.append(f"bsmount {__version__}: {total} mount(s)")
    return "\n".join(lines) + "\n"


def _json_lines(targets: list[tuple[str, str, str]], now: dict[str, Sample | str]) -> str:
    rows = []
    for mountpoint, source, _options in targets:
        sample = now[mountpoint]
        row: dict[str, Any] = {"mountpoint": mountpoint, "source": source}
        if isinstance(sample, Sample):
            row["stats"] = sample.stats
        else:
            row["error"] = sample
        rows.append(json.dumps(row, sort_keys=True))
    return "".join(row + "\n" for row in rows)


def show_status(
    path: Path | None,
    *,
    watch: bool = False,
    interval: float,
    count: int | None = None,
    as_json: bool = False,
) -> int:
    """Print the mounts (all, or the one at ``path``) once, or every ``interval`` with ``watch``."""
    every = mounts()
    wanted = os.path.realpath(path) if path is not None else None
    targets = [m for m in every if wanted is None or m[0] == wanted]
    if wanted is not None and not targets:
        print(f"bsmount status: {path} is not a bsmount mount", file=sys.stderr)
        return 1
    before: dict[str, Sample | str] = {}
    if interval > 0 and not as_json and targets:
        before = _sample_all(targets)
        time.sleep(interval)
    shown = 0
    clear = CLEAR if watch and sys.stdout.isatty() else ""
    while True:
        now = _sample_all(targets)
        if as_json:
            text = _json_lines(targets, now)
        else:
            text = clear + _render(targets, now, before, len(every))
        sys.stdout.write(text)
        sys.stdout.flush()
        shown += 1
        before = now
        if not watch or (count is not None and shown >= count):
            return 0
        time.sleep(interval)
