"""``mount -t fuse.bsmount`` and an fstab line, through the real mount(8) and our helper.

mount(8) runs ``/sbin/mount.fuse.bsmount`` (``make install`` links it to this venv's entry
point) with a sanitised environment: HOME is dropped, so a config *name* resolves in root's
``~/.basespace`` there. These tests give the config file by path instead (the fixture's temporary
HOME); name resolution is tested by calling the helper directly with that HOME.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import logcheck
from tests.mount.mounting import DEMO_ODD_NAMES, fuse_skip_reason

HELPER = Path("/sbin/mount.fuse.bsmount")
OURS = Path(sys.prefix) / "bin" / "mount.fuse.bsmount"
# The tested fstab options: mount(8)'s and systemd's own, the kernel's, FUSE's and bsmount's.
OPTIONS = (
    "_netdev,nofail,allow_other,uid=1000,gid=1000,ro,nosuid,nodev,"
    "cache_size=32,metadata_ttl=30,io_timeout=20"
)


def _skip_reason() -> str | None:
    reason = fuse_skip_reason()
    if reason:
        return reason
    if os.getuid() != 0:
        return "mount(8) with a helper needs root"
    if shutil.which("mount") is None:
        return "mount(8) is not installed (util-linux)"
    if not HELPER.exists() or HELPER.resolve() != OURS.resolve():
        return f"{HELPER} is not this checkout's helper: run make install as root"
    return None


pytestmark = [
    pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason())),
    pytest.mark.mount,
    DEMO_ODD_NAMES,
]


def _pid_of(output: str) -> int:
    match = re.search(r"\(pid (\d+)", output)
    assert match, output
    return int(match[1])


def _wait_gone(pid: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"mount process {pid} still running {timeout} s after umount")


@pytest.fixture
def mnt(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "BaseSpace"
    path.mkdir()
    log = tmp_path / "mount.log"
    watch = logcheck.watch(log)
    try:
        yield path
    finally:
        if os.path.ismount(path):
            subprocess.run(["umount", "-l", str(path)], check=False)
        logcheck.unwatch(watch)


def _check_mounted(mnt: Path, source: str) -> None:
    with open("/proc/mounts", encoding="utf-8") as table:
        rows = [line.split() for line in table if line.split()[1] == str(mnt)]
    assert len(rows) == 1, rows
    src, _where, fstype, options = rows[0][:4]
    assert (src, fstype) == (source, "fuse.bsmount")
    for option in ("ro", "nosuid", "nodev", "allow_other"):
        assert option in options.split(","), options
    projects = sorted(os.listdir(mnt / "Projects"))
    assert "Demo: Myeloid DNA Panel (MiSeq, 2x151)" in projects
    info = os.stat(mnt / "README")
    assert (info.st_uid, info.st_gid) == (1000, 1000)
    with pytest.raises(OSError) as refused:
        (mnt / ".refresh").write_text("\n")
    assert refused.value.errno == errno.EROFS


def test_mount_t_fuse_bsmount(bs_home: Path, mnt: Path, tmp_path: Path, emulator: Any) -> None:
    config = bs_home / ".basespace" / "emu.cfg"
    log = tmp_path / "mount.log"
    done = subprocess.run(
        ["mount", "-t", "fuse.bsmount", str(config), str(mnt), "-o", f"{OPTIONS},log_file={log}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr + log.read_text()
    pid = _pid_of(done.stdout)
    _check_mounted(mnt, str(config))
    status = subprocess.run(
        [sys.executable, "-m", "bsmount", "status", str(mnt), "--interval", "0.2"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert f"{mnt}  ({config})" in status.stdout and "in flight:" in status.stdout
    done = subprocess.run(["umount", str(mnt)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    _wait_gone(pid)
    assert not os.path.ismount(mnt)
    text = log.read_text()
    assert "unmounted" in text
    assert emulator.token not in text


def test_fstab_line(bs_home: Path, mnt: Path, tmp_path: Path) -> None:
    """The fstab line of docs/usage.md, mounted by its mount point as at boot (and by mount -a,
    which must see it as mounted afterwards)."""
    config = bs_home / ".basespace" / "emu.cfg"
    log = tmp_path / "mount.log"
    fstab = tmp_path / "fstab"
    fstab.write_text(f"{config} {mnt} fuse.bsmount {OPTIONS},log_file={log} 0 0\n")
    done = subprocess.run(
        ["mount", "--fstab", str(fstab), str(mnt)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr + log.read_text()
    pid = _pid_of(done.stdout)
    _check_mounted(mnt, str(config))
    again = subprocess.run(
        ["mount", "--fstab", str(fstab), "-a", "-v"], capture_output=True, text=True, check=False
    )
    assert again.returncode == 0 and "already mounted" in again.stdout, again
    assert subprocess.run(["umount", str(mnt)], check=False).returncode == 0
    _wait_gone(pid)


def test_helper_resolves_a_config_name(bs_home: Path, mnt: Path, tmp_path: Path) -> None:
    """``mount.fuse.bsmount NAME`` reads ``$HOME/.basespace/NAME.cfg`` (as ``bs -c NAME``)."""
    log = tmp_path / "mount.log"
    env = {**os.environ, "HOME": str(bs_home)}
    env.pop("BASESPACE_ACCESS_TOKEN", None)
    done = subprocess.run(
        [str(OURS), "emu", str(mnt), "-o", f"ro,log_file={log}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr + log.read_text()
    pid = _pid_of(done.stdout)
    assert os.listdir(mnt / "Projects")
    with open("/proc/mounts", encoding="utf-8") as table:
        assert any(line.split()[:2] == ["emu", str(mnt)] for line in table)
    assert subprocess.run(["umount", str(mnt)], check=False).returncode == 0
    _wait_gone(pid)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("cache_size=abc", "argument --cache-size: not a number: 'abc'"),
        ("bogus=1", "unknown mount option 'bogus'"),
        ("cache_size", "mount option 'cache_size' needs a value"),
        ("access_token=secret123", "a token in a mount option would show in `ps`"),
    ],
)
def test_helper_refuses_bad_options(options: str, message: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(OURS), "emu", str(tmp_path), "-f", "-o", options],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert re.search(message, done.stderr), done.stderr
    assert "Traceback" not in done.stderr and "secret123" not in done.stderr


def test_fake_mount_accepts_every_tested_option(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(OURS), "emu", str(tmp_path), "-f", "-o", OPTIONS + ",x-systemd.automount,noauto"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not os.path.ismount(tmp_path)
