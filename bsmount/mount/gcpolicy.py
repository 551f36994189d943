"""When the cyclic garbage collector may stop the mount: full collections wait for quiet moments.

A mount that caches 100,000s of listing entries holds millions of objects the collector tracks.
CPython's full (generation 2) collection walks all of them with the GIL held: 100-900 ms in
which no FUSE request is answered, and CPython starts one after every 25% growth of the
long-lived objects, i.e. several while a big tree is being listed. So full collections are taken
off the automatic schedule (``threshold2`` raised out of reach); the young generations stay
automatic (each walks at most a few thousand objects, and they collect most cyclic garbage).
:class:`IdleCollector` runs the full ones itself:

- when the filesystem has had no request in flight for ``idle_after`` seconds, at least
  ``min_young`` generation-1 collections happened since the last full one (CPython's own
  ``threshold2``), and at least ``spacing`` times the last full collection's duration has
  passed since it ended (so a mostly idle mount with a big tree spends at most ~2% of its time
  collecting, and a request arriving during a collection is rare);
- at the latest every ``max_interval`` seconds while anything may be pending, so under endless
  load cyclic garbage stays bounded (one pause per ``max_interval``).

``gc.freeze`` is not used: objects evicted later from the caches include reference cycles
(cachetools' links), which a frozen generation would keep forever.

Every collection's pause, wall and CPU, is measured (``gc.callbacks``) and reported in
``stats()`` (``.bsmount/stats``).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any

import trio

__all__ = ["IdleCollector"]

log = logging.getLogger(__name__)

_OUT_OF_REACH = 1_000_000_000


class IdleCollector:
    """Schedules full collections for idle moments; measures every collection's pause."""

    def __init__(
        self,
        idle_for: Callable[[], float],
        *,
        idle_after: float = 0.5,
        max_interval: float = 300.0,
        spacing: float = 50.0,
        check_every: float = 0.25,
    ) -> None:
        """``idle_for()``: seconds the filesystem has been without a request in flight (0 while
        one is being answered)."""
        self._idle_for = idle_for
        self.idle_after = idle_after
        self.max_interval = max_interval
        self.spacing = spacing
        self._last_duration = 0.0
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
        """Give the collector its automatic schedule back."""
        if self._saved is None:
            return
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
        """Run a full collection if it is due; returns why (``"idle"``, ``"forced"``) or None."""
        young = gc.get_count()[2]  # generation-1 collections since the last full one
        if young == 0:
            return None
        now = time.monotonic()
        since = now - self._last_full
        quiet = (
            young >= self.min_young
            and since >= self.spacing * self._last_duration
            and self._idle_for() >= self.idle_after
        )
        overdue = since >= self.max_interval
        if not (quiet or overdue):
            return None
        why = "idle" if quiet else "forced"
        started = time.perf_counter()
        self._collecting = True
        try:
            found = gc.collect(2)
        finally:
            self._collecting = False
        self._last_duration = time.perf_counter() - started
        self._last_full = time.monotonic()
        if quiet:
            self.full_idle += 1
        else:
            self.full_forced += 1
        log.debug(
            "full collection (%s): %d unreachable objects, %.1f ms",
            why,
            found,
            self._last_duration * 1000,
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

    def statistics(self) -> dict[str, Any]:
        """For ``.bsmount/stats``: full collections run, and the longest pause per generation."""
        return {
            "full_collections_idle": self.full_idle,
            "full_collections_forced": self.full_forced,
            "longest_pause_ms": {str(g): round(ms, 1) for g, ms in self.longest_ms.items()},
            "longest_scheduled_pause_ms": round(self.longest_scheduled_ms, 1),
            "longest_cpu_ms": round(self.longest_cpu_ms, 1),
        }
