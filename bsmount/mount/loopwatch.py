"""How long the event loop goes without running: every FUSE request waits at least that long.

:class:`LoopWatch` sleeps ``interval`` seconds again and again and records by how much each
wake-up came late. A late wake-up means something held the loop (a long synchronous step, a
collection) or the process was not scheduled (the machine's cores were busy), and any request
that arrived meanwhile waited as long. ``stats()`` goes into ``.bsmount/stats``; a stall over
``warn_after`` is logged.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

__all__ = ["LoopWatch"]

log = logging.getLogger(__name__)


class LoopWatch:
    """Measures the event loop's wake-up lag."""

    def __init__(self, interval: float = 0.01, warn_after: float = 0.5) -> None:
        self.interval = interval
        self.warn_after = warn_after
        self.samples = 0
        self.longest = 0.0
        self.over_50ms = 0
        self.over_100ms = 0

    def record(self, lag: float) -> None:
        self.samples += 1
        if lag > self.longest:
            self.longest = lag
        if lag > 0.05:
            self.over_50ms += 1
            if lag > 0.1:
                self.over_100ms += 1
            if lag > self.warn_after:
                log.warning("the event loop stalled for %.0f ms", lag * 1000)

    async def run(self) -> None:
        while True:
            due = trio.current_time() + self.interval
            await trio.sleep_until(due)
            self.record(max(0.0, trio.current_time() - due))

    def statistics(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "longest_ms": round(self.longest * 1000, 1),
            "over_50ms": self.over_50ms,
            "over_100ms": self.over_100ms,
        }
