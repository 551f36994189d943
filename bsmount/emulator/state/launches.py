"""What the account remembers of each launched AppSession while (and after) it runs.

A :class:`LaunchRecord` is pure data, kept in the model (so a reset forgets it): the app and
its runner, the validated ``Input.*`` properties, the timeline (Pending until ``start_at``,
Running until ``end_at``), the log plan and how much of it has been written, the output work
(a future computed off the event loop) and the outcome. The rules that move it are
:mod:`bsmount.emulator.apps.engine`'s.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bsmount.emulator.state.model import Property

__all__ = ["LaunchConfig", "LaunchRecord", "LogStep"]


@dataclass(frozen=True)
class LogStep:
    """One step of a run: from ``fraction`` of the run time on, the session's StatusSummary is
    ``summary`` and ``line`` is in its main log (``stderr`` lines go to the second log)."""

    fraction: float
    summary: str
    line: str
    stderr: str = ""


@dataclass
class LaunchConfig:
    """Timings forced on the next launches (``POST /_emulator/launches/config``); None: the
    app's own."""

    pending_seconds: float | None = None
    run_seconds: float | None = None


@dataclass(eq=False)
class LaunchRecord:
    session_id: str
    app_id: str
    runner: str
    user_id: str
    project_id: str
    inputs: dict[str, Property]
    created: datetime
    pending_seconds: float
    run_seconds: float
    steps: list[LogStep]
    # When the session starts Running and when its run time is over (None: not started yet,
    # e.g. launched with AutoStart false).
    start_at: datetime | None = None
    end_at: datetime | None = None
    log_file_ids: list[str] = field(default_factory=list)
    logged: int = 0  # steps already written to the logs
    work: Future[Any] | None = None
    outcome: str = ""  # "" while it runs; then Complete, Failed or Stopped
    appresult_ids: list[str] = field(default_factory=list)
    error: str | None = None
