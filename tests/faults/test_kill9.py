"""Issue 7, "kill -9": a mount whose process was killed is detected, cleaned up and replaced.

After ``kill -9`` of the mount process the mount point answers ENOTCONN ("Transport endpoint is
not connected"). ``bsmount mount`` on the same point cleans the dead mount and mounts again, and
``bsmount unmount`` also works on a dead mount.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.mount.mounting import FUSERMOUNT, Mount, fuse_marker

pytestmark = [pytest.mark.faults, fuse_marker()]


def _bsmount(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bsmount", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _kill9(m: Mount) -> None:
    assert m.proc is not None
    m.proc.kill()  # SIGKILL
    m.proc.wait(timeout=10)
    if m.proc.stdout is not None:
        m.proc.stdout.close()
    with pytest.raises(OSError) as info:
        os.listdir(m.path)
    assert info.value.errno == errno.ENOTCONN


def test_dead_mount_is_cleaned_by_mount_and_by_unmount(emulator: Any, tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    env = dict(os.environ, BASESPACE_API_SERVER=emulator.url, BASESPACE_ACCESS_TOKEN=emulator.token)
    log = tmp_path / "daemon.log"
    try:
        first = Mount(emulator.url, emulator.token, mnt, tmp_path / "first.log").start()
        assert "Projects" in os.listdir(mnt)
        _kill9(first)

        remount = _bsmount("mount", str(mnt), "--log-file", str(log), env=env)
        assert remount.returncode == 0, remount.stderr
        assert os.path.ismount(mnt)
        assert "Projects" in os.listdir(mnt)
        assert "dead mount" in remount.stderr  # the cleanup is reported
        down = _bsmount("unmount", str(mnt))
        assert down.returncode == 0, down.stderr
        assert not os.path.ismount(mnt)

        # Killed before anything was listed: the kernel still answers stat() of the mount point
        # from cached attributes, so only a request that reaches the filesystem shows it dead.
        second = Mount(emulator.url, emulator.token, mnt, tmp_path / "second.log").start()
        _kill9(second)
        again = _bsmount("mount", str(mnt), "--log-file", str(log), env=env)
        assert again.returncode == 0, again.stderr
        assert "Projects" in os.listdir(mnt)
        assert _bsmount("unmount", str(mnt)).returncode == 0

        third = Mount(emulator.url, emulator.token, mnt, tmp_path / "third.log").start()
        assert "Projects" in os.listdir(mnt)
        _kill9(third)
        dead = _bsmount("unmount", str(mnt))
        assert dead.returncode == 0, dead.stderr
        assert not os.path.ismount(mnt)
        assert os.listdir(mnt) == []  # a plain, usable directory again
        assert emulator.token not in log.read_text()
    finally:
        if os.path.ismount(mnt):
            subprocess.run([FUSERMOUNT, "-u", "-z", str(mnt)], capture_output=True, check=False)
