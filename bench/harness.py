"""The benchmark context shared by the cases: :class:`Bench` and the result records.

:class:`Bench` knows the layout, the running nginx and emulator, and how to reach a file through
each side (``bsmount``, ``rclone``, or ``curl`` straight from nginx). :meth:`Bench.cold` gives a
fresh mount with the page cache dropped and the server side warmed, and records the mount's peak
RSS. :class:`Results` collects figures as ``results[case][side] = Figure`` and a failure of one
case/side as an error string instead of a crash.
"""

from __future__ import annotations

import logging
import statistics
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import GIB, BenchError, Paths, drop_caches, warm, warm_memory
from bench.data import BenchFile, Layout, Sizes
from bench.services import BsMount, CeilingMount, Emulator, FuseMount, Nginx, RcloneMount

__all__ = ["MOUNTS", "SIDES", "Bench", "Figure", "Results"]

log = logging.getLogger(__name__)

SIDES = ("bsmount", "rclone", "curl", "ceiling")
#: The FUSE sides (mounted for each cold run); ``curl`` reads straight from nginx.
MOUNTS = ("bsmount", "rclone", "ceiling")


@dataclass
class Figure:
    """One measured quantity for one side: every run's value plus free-form details."""

    unit: str
    values: list[float] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"unit": self.unit, "values": self.values}
        if self.values:
            out.update(median=self.median, min=min(self.values), max=max(self.values))
        if self.details:
            out["details"] = self.details
        if self.error:
            out["error"] = self.error
        return out


class Results:
    def __init__(self) -> None:
        self.figures: dict[str, dict[str, Figure]] = {}

    def figure(self, case: str, side: str, unit: str) -> Figure:
        return self.figures.setdefault(case, {}).setdefault(side, Figure(unit))

    def get(self, case: str, side: str) -> Figure | None:
        return self.figures.get(case, {}).get(side)

    def attempt(self, cases: Iterable[str], side: str, unit: str, step: Callable[[], None]) -> None:
        """Run ``step``; on failure mark ``cases`` x ``side`` with the error and go on."""
        try:
            step()
        except Exception as exc:  # a failing case must not stop the run
            message = str(exc) if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}"
            log.warning("%s / %s failed: %s", ",".join(cases), side, message)
            log.debug("%s", traceback.format_exc())
            for case in cases:
                self.figure(case, side, unit).error = message[:300]

    def as_json(self) -> dict[str, Any]:
        return {
            case: {side: fig.as_json() for side, fig in sides.items()}
            for case, sides in self.figures.items()
        }


@dataclass
class Bench:
    paths: Paths
    layout: Layout
    quick: bool
    runs: int
    fio_runtime: int
    nginx: Nginx
    emulator: Emulator
    sides: tuple[str, ...] = SIDES
    results: Results = field(default_factory=Results)
    can_drop: bool = True
    # Peak RSS (MiB) of every mount process: side -> case -> one value per mount.
    rss: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    # Memory touched and freed before each cold run (0: no warm-up), and what was done.
    warmup_bytes: int = 0
    warmups: list[float] = field(default_factory=list)  # bytes actually touched, per cold run

    @property
    def sizes(self) -> Sizes:
        return self.layout.sizes

    # ------------------------------------------------------------------ where things are
    def mountpoint(self, side: str) -> Path:
        return self.paths.mnt / side

    def path(self, side: str, item: BenchFile) -> Path:
        if side in ("bsmount", "ceiling"):  # the ceiling serves bsmount's paths
            return item.mnt(self.mountpoint(side))
        if side == "rclone":
            return self.mountpoint(side) / item.tree_rel()
        raise ValueError(side)

    def mnt_side(self, side: str) -> str:
        """The side whose layout ``side`` has (the ceiling has bsmount's)."""
        return "bsmount" if side == "ceiling" else side

    def dir_of(self, side: str, items: list[BenchFile]) -> Path:
        """The directory holding ``items`` (which share one) through ``side``."""
        return self.path(side, items[0]).parent

    def url(self, item: BenchFile) -> str:
        """The file straight from nginx, at the path bsmount's content URL has."""
        return self.nginx.url + item.blob_uri(self.paths.blobs)

    def uri(self, side: str, item: BenchFile) -> str:
        """The path nginx logs when ``side`` reads ``item`` (rclone goes through the tree)."""
        return f"/tree/{item.tree_rel()}" if side == "rclone" else item.blob_uri(self.paths.blobs)

    def blob(self, item: BenchFile) -> Path:
        return item.blob(self.paths.blobs)

    # ------------------------------------------------------------------ mounts
    def mount(self, side: str) -> FuseMount:
        log_file = self.paths.logs / f"{side}.log"
        if side == "bsmount":
            return BsMount(self.mountpoint(side), log_file, self.emulator.url)
        if side == "rclone":
            url = self.nginx.url + "/tree/"
            return RcloneMount(
                self.mountpoint(side), log_file, url, self.paths.root / "rclone.conf"
            )
        if side == "ceiling":
            return CeilingMount(self.mountpoint(side), log_file, self.paths.root / "ceiling.json")
        raise ValueError(side)

    def prepare_cold(self, warm_files: Iterable[BenchFile] = (), touch: int | None = None) -> None:
        """Drop the page cache, read the server-side copies back into memory, then touch and
        free memory (:func:`bench.common.warm_memory`), last, so that the run starts on warm free
        pages: ``touch`` bytes, by default the size of ``warm_files`` (what a reader of them puts
        in the page cache) + 1 GiB, at most :attr:`warmup_bytes`."""
        if self.can_drop:
            self.can_drop = drop_caches()
        blobs = [self.blob(item) for item in warm_files]
        warm(blobs)
        if touch is None:
            touch = sum(blob.stat().st_size for blob in blobs) + GIB
        touch = min(touch, self.warmup_bytes)
        if touch > 0:
            self.warmups.append(warm_memory(touch))

    @contextmanager
    def cold(
        self,
        side: str,
        case: str,
        warm_files: Iterable[BenchFile] = (),
        touch: int | None = None,
    ) -> Iterator[FuseMount]:
        """A fresh mount of ``side`` with a dropped page cache, a warm server and warm free
        memory (``touch``: see :meth:`prepare_cold`)."""
        mount = self.mount(side)
        mount.start()
        try:
            self.prepare_cold(warm_files, touch)
            yield mount
        finally:
            mount.stop()
            if mount.peak_rss_mib is not None:
                self.rss.setdefault(side, {}).setdefault(case, []).append(mount.peak_rss_mib)

    def bytes_in(self, since: int, uris: set[str]) -> dict[str, Any]:
        """What nginx sent for ``uris`` since log offset ``since``: bytes, requests, largest."""
        entries = [e for e in self.nginx.entries(since) if e.uri in uris]
        bodies = [e.body_bytes for e in entries]
        return {
            "bytes": sum(bodies),
            "requests": len(entries),
            "largest": max(bodies, default=0),
            "statuses": sorted({e.status for e in entries}),
        }


def check(condition: bool, message: str) -> None:
    if not condition:
        raise BenchError(message)
