"""When the cyclic garbage collector may stop the mount: big scans wait for quiet moments.

A mount that caches 100,000s of listing entries holds millions of objects the collector tracks,
and every collection walks its generations with the GIL held: a full collection over a big tree
takes 100-900 ms, and even a young one takes ~75 ms right after a 100,000-file listing was built
(all those new objects are in the young generation). A ``stat`` that arrives then waits that
long. So:

- Big builds end with :func:`gc.freeze` (:func:`build_frozen`): what they made moves to the
  permanent generation that no collection walks. Frozen objects are
  still freed by reference counting when dropped (listings hold no reference cycles).
- Full (generation 2) collections are taken off the automatic schedule (``threshold2`` raised out
  of reach); the young generations stay automatic (cheap, and they collect most cyclic garbage).
  :class:`IdleCollector` runs the full ones itself when the filesystem has had no request in
  flight for ``idle_after`` seconds and at least ``min_young`` generation-1 collections happened
  since the last one (CPython's own ``threshold2``), or at the latest every ``max_interval``
  seconds under endless load, and freezes the survivors. Every ``thaw_interval`` seconds, when
  idle, it first unfreezes everything, so cyclic garbage frozen by a build is reclaimed too.

The pauses of every collection are measured (``gc.callbacks``) and reported in ``stats()``
(``.bsmount/stats``), so a long one is visible.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import trio

__all__ = ["IdleCollector", "build_frozen"]

log = logging.getLogger(__name__)

_OUT_OF_REACH = 1_000_000_000

P = ParamSpec("P")
T = TypeVar("T")


def build_frozen(build: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``build`` (typically in a worker thread), then freeze what exists, so the 100,000s of
    long-lived objects it made are never walked again (:class:`IdleCollector` thaws them at a
    quiet moment now and then). The collector is not paused meanwhile: pausing it is global, so
    the event loop's own garbage would pile up into one long young collection afterwards, and
    with full collections off the automatic schedule the young ones stay short anyway."""
    try:
        return build(*args, **kwargs)
    finally:
        gc.freeze()


class IdleCollector:
    """Schedules full collections for idle moments; measures every collection's pause."""

    def __init__(
        self,
        idle_for: Callable[[], float],
        *,
        idle_after: float = 0.5,
        max_interval: float = 300.0,
        thaw_interval: float = 600.0,
        check_every: float = 0.25,
    ) -> None:
        """``idle_for()``: seconds the filesystem has been without a request in flight (0 while
        one is being answered)."""
        self._idle_for = idle_for
        self.idle_after = idle_after
        self.max_interval = max_interval
        self.thaw_interval = thaw_interval
        self._last_thaw = time.monotonic()
        self.thaws = 0
        self.check_every = check_every
        self._saved: tuple[int, int, int] | None = None
        self.min_young = 10
        self._started: float | None = None
        self._collecting = False
        self._started_cpu = 0.0
        self.longest_cpu_ms = 0.0  # CPU time of the longest collection (wall time less preemption)
        self._last_full = time.monotonic()
        self.full_idle = 0  # full collections run when idle
        self.full_forced = 0  # ... run because max_interval passed
        # the longest pause per generation, our own scheduled full collections apart
        self.longest_ms: dict[int, float] = {0: 0.0, 1: 0.0, 2: 0.0}
        self.longest_scheduled_ms = 0.0

    # -- life cycle -----------------------------------------------------------------------------

    def install(self) -> None:
        """Take full collections off the automatic schedule and start measuring pauses."""
        if self._saved is not None:
            return
        self._saved = gc.get_threshold()
        self.min_young = max(1, self._saved[2])
        gc.set_threshold(self._saved[0], self._saved[1], _OUT_OF_REACH)
        gc.callbacks.append(self._measure)

    def uninstall(self) -> None:
        """Give the collector its automatic schedule back (and thaw what was frozen)."""
        if self._saved is None:
            return
        gc.unfreeze()
        gc.set_threshold(*self._saved)
        self._saved = None
        if self._measure in gc.callbacks:
            gc.callbacks.remove(self._measure)

    async def run(self) -> None:
        """Install, then check every ``check_every`` seconds until cancelled (then uninstall)."""
        self.install()
        try:
            while True:
                await trio.sleep(self.check_every)
                self.maybe_collect()
        finally:
            self.uninstall()

    # -- policy ---------------------------------------------------------------------------------

    def maybe_collect(self) -> str | None:
        """Run a full collection if it is due; returns why (``"idle"``, ``"thaw"``,
        ``"forced"``) or None."""
        now = time.monotonic()
        young = gc.get_count()[2]  # generation-1 collections since the last full one
        idle = self._idle_for() >= self.idle_after
        thaw = idle and now - self._last_thaw >= self.thaw_interval and gc.get_freeze_count() > 0
        overdue = young > 0 and now - self._last_full >= self.max_interval
        quiet = idle and young >= self.min_young
        if not (thaw or quiet or overdue):
            return None
        why = "thaw" if thaw else "idle" if quiet else "forced"
        started = time.perf_counter()
        self._collecting = True
        try:
            if thaw:
                gc.unfreeze()
                self._last_thaw = now
                self.thaws += 1
            found = gc.collect(2)
            gc.freeze()  # the survivors: later collections need not walk them again
        finally:
            self._collecting = False
        self._last_full = time.monotonic()
        if why == "forced":
            self.full_forced += 1
        else:
            self.full_idle += 1
        log.debug(
            "full collection (%s): %d unreachable objects, %.1f ms",
            why,
            found,
            (time.perf_counter() - started) * 1000,
        )
        return why

    def _measure(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            self._started_cpu = time.thread_time()
            return
        if self._started is None:
            return
        pause = (time.perf_counter() - self._started) * 1000
        cpu = (time.thread_time() - self._started_cpu) * 1000
        self._started = None
        self.longest_cpu_ms = max(self.longest_cpu_ms, cpu)
        if self._collecting:
            self.longest_scheduled_ms = max(self.longest_scheduled_ms, pause)
            return
        generation = int(info.get("generation", 2))
        if pause > self.longest_ms.get(generation, 0.0):
            self.longest_ms[generation] = pause

    def stats(self) -> dict[str, Any]:
        """For ``.bsmount/stats``: full collections run, and the longest pause per generation."""
        return {
            "full_collections_idle": self.full_idle,
            "full_collections_forced": self.full_forced,
            "thaws": self.thaws,
            "frozen_objects": gc.get_freeze_count(),
            "longest_pause_ms": {str(g): round(ms, 1) for g, ms in self.longest_ms.items()},
            "longest_scheduled_pause_ms": round(self.longest_scheduled_ms, 1),
            "longest_cpu_ms": round(self.longest_cpu_ms, 1),
        }
