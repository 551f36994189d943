"""Fixtures for the real-mount tests: a bsmount mount of the session's demo emulator."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.mount.mounting import Mount, fuse_skip_reason


@pytest.fixture(scope="module")
def mount(emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mount]:
    reason = fuse_skip_reason()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("mount")
    m = Mount(emulator.url, emulator.token, base / "BaseSpace", base / "mount.log").start()
    try:
        yield m
    finally:
        m.stop()
        log = m.log()
        assert emulator.token not in log, "the token leaked into the mount log"


@pytest.fixture
def mnt(mount: Mount) -> Path:
    return mount.path


@pytest.fixture(scope="session", autouse=True)
def no_leftover_mounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the suite, no bsmount mount made by a test of this session may remain.

    Only this session's base temp directory is checked, so another pytest run on the machine
    keeps its mounts.
    """
    yield
    session_base = str(tmp_path_factory.getbasetemp())
    with open("/proc/mounts", encoding="utf-8") as mounts:
        leftovers = [
            line.split()[1]
            for line in mounts
            if "fuse.bsmount" in line and line.split()[1].startswith(session_base)
        ]
    for path in leftovers:
        subprocess.run(["fusermount3", "-u", "-z", path], check=False)
    assert not leftovers, f"mounts left behind: {leftovers}"
