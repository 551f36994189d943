"""Fixtures of the fault-injection suite: private emulators and mounts, and the figures it reports.

- ``mounter(emu, *mount_args)`` mounts a private emulator at a fresh mount point and unmounts it
  at the end of the test, checking that the emulator's token never reached the mount log.
- ``figures`` collects the suite's measurements (faults fired per kind, bytes verified, errors
  returned, longest stall, RSS under load, stat latency); they are printed at the end of the run
  and written as JSON to ``$BSMOUNT_FAULT_FIGURES`` when that is set. docs/reliability.md quotes
  them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.helpers import kill_readers
from tests.mount.mounting import Mount, fuse_skip_reason

_FIGURES: dict[str, Any] = {}


@pytest.fixture(scope="session")
def figures() -> dict[str, Any]:
    return _FIGURES


@pytest.fixture
def mounter(tmp_path: Path) -> Iterator[Callable[..., Mount]]:
    reason = fuse_skip_reason()
    if reason:
        pytest.skip(reason)
    mounts: list[tuple[Mount, str]] = []

    def start(emu: Any, *mount_args: str) -> Mount:
        n = len(mounts)
        m = Mount(emu.url, emu.token, tmp_path / f"mnt{n}", tmp_path / f"mount{n}.log", mount_args)
        m.start()
        mounts.append((m, emu.token))
        return m

    try:
        yield start
    finally:
        kill_readers()
        for m, token in mounts:
            if m.proc is not None and m.proc.poll() is None:
                m.stop()
            else:
                m.kill()
            assert token not in m.log(), "the token leaked into the mount log"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("fault-injection figures")
    for key in sorted(_FIGURES):
        terminalreporter.write_line(f"{key}: {json.dumps(_FIGURES[key], sort_keys=True)}")
    target = os.environ.get("BSMOUNT_FAULT_FIGURES")
    if target:
        Path(target).write_text(json.dumps(_FIGURES, indent=1, sort_keys=True) + "\n")
