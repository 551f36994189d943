"""Shared pytest fixtures: real emulator processes.

- ``emulator`` (session): one ``bsmount emulator --seed demo`` process for the whole session. The
  demo's genomics files are cached in the user cache (``$XDG_CACHE_HOME/bsmount/emulator``) so
  they are built once per machine; set ``BSMOUNT_TEST_DATA_DIR`` to use another directory.
  Tests that change its state or add faults must undo it (``emulator.reset()``).
- ``emulator_factory``: starts extra processes with their own seed/options
  (``emulator_factory(seed=path, url_ttl=1)``), stopped at the end of the test.

No emulator process outlives the session: every :class:`EmulatorProcess` is stopped at session
end and again at interpreter exit.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from emulator_proc import EmulatorProcess, stop_all


def _data_dir() -> str | None:
    return os.environ.get("BSMOUNT_TEST_DATA_DIR") or None


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    """The demo emulator, shared by the session."""
    proc = EmulatorProcess("demo", data_dir=_data_dir())
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., EmulatorProcess]]:
    """Start emulators with their own options; all are stopped when the test ends."""
    started: list[EmulatorProcess] = []

    def start(seed: str | os.PathLike[str] = "demo", **options: Any) -> EmulatorProcess:
        if seed == "demo":
            options.setdefault("data_dir", _data_dir())
        proc = EmulatorProcess(seed, **options)
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            proc.stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_all()
