"""Unexpected warnings fail the test: bsmount's WARNING/ERROR records, in process and in mount logs.

Two sources are watched while a test runs:

* **in-process records**: :class:`RecordCollector` is a handler on the ``bsmount`` logger that
  keeps every record of level WARNING or above (unit tests, the in-process client, the emulator
  app when a test runs it in process);
* **mount logs**: every :class:`tests.mount.mounting.Mount` registers its log file here
  (:func:`watch`); :func:`take_problems` reads what the mounts appended since the last call and
  returns the records at WARNING or above and those carrying a traceback (a mount stopped during
  the test leaves its last lines in :data:`_PENDING` for the same call).

A test that provokes warnings on purpose declares them, each by the narrowest regex that matches
the record (``re.search`` on the whole record text, e.g. ``WARNING bsmount.fs: .* refused``)::

    @pytest.mark.expect_log_warnings(r"refused write to \\.bsmount/forget")

``pytestmark = pytest.mark.expect_log_warnings(...)`` declares them for a whole module. The
autouse fixture in ``tests/conftest.py`` does the checking at the test's teardown.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "LogWatch",
    "RecordCollector",
    "format_record",
    "log_problems",
    "take_problems",
    "unexpected",
    "unwatch",
    "watch",
]

# The first line of a record in the mount's log (bsmount.logsetup's format):
# "2024-05-01 12:00:00,123 WARNING bsmount.fs: message"
_RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) ", re.M)
_PROBLEM_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})
_TRACEBACK = "Traceback (most recent call last)"


class RecordCollector(logging.Handler):
    """Keeps the records of level WARNING and above that reach the logger it is attached to."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def format_record(record: logging.LogRecord) -> str:
    """A record as the mount's log would show it (without the time)."""
    text = f"{record.levelname} {record.name}: {record.getMessage()}"
    if record.exc_info:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    return text


def log_problems(text: str) -> list[str]:
    """The records of a chunk of mount log (whole lines) at WARNING or above or with a
    traceback; text before the first record counts as one record."""
    starts = [m.start() for m in _RECORD_START.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    problems = []
    for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
        record = text[begin:end].rstrip("\n")
        if not record.strip():
            continue
        match = _RECORD_START.match(record)
        if (match is not None and match["level"] in _PROBLEM_LEVELS) or _TRACEBACK in record:
            problems.append(record)
    return problems


class LogWatch:
    """A log file read incrementally, whole lines only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._pos = path.stat().st_size  # a reused log file: only what is appended counts
        except OSError:
            self._pos = 0

    def read_new(self) -> str:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._pos)
                data = f.read()
        except OSError:
            return ""
        cut = data.rfind(b"\n") + 1
        self._pos += cut
        return data[:cut].decode("utf-8", errors="replace")


_WATCHED: list[LogWatch] = []
_PENDING: list[str] = []


def watch(path: Path) -> LogWatch:
    """Start watching a mount log (from its current end: earlier content is not re-read)."""
    w = LogWatch(path)
    _WATCHED.append(w)
    return w


def unwatch(w: LogWatch) -> None:
    """Stop watching; what the log gained since the last check waits for the next one."""
    if w in _WATCHED:
        _WATCHED.remove(w)
        _PENDING.extend(log_problems(w.read_new()))


def take_problems() -> list[str]:
    """Problem records written since the last call by every mount watched (or stopped since)."""
    problems = [*_PENDING]
    _PENDING.clear()
    for w in _WATCHED:
        problems.extend(log_problems(w.read_new()))
    return problems


def unexpected(problems: Iterable[str], expected: Iterable[str]) -> list[str]:
    """The problems no ``expected`` regex matches (``re.search``)."""
    patterns = [re.compile(p) for p in expected]
    return [p for p in problems if not any(rx.search(p) for rx in patterns)]
