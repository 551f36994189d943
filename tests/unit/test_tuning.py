"""bsmount.fuse.kernel_readahead (mountinfo parsing, the read-ahead knob's guards) and
bsmount.mount.malloc_tuning (malloc thresholds)."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from bsmount.fuse.kernel_readahead import KernelReadAhead, is_fuse_mount
from bsmount.mount.malloc_tuning import tune_malloc

MOUNTINFO = """\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
43 22 0:40 / /tmp/with\\040space/mnt rw,nosuid,nodev,noatime - fuse.bsmount bsmount rw,user_id=0
44 22 0:41 / /tmp/over rw shared:7 master:2 - fuse.bsmount bsmount rw
45 44 0:42 / /tmp/over rw - tmpfs tmpfs rw
"""


@pytest.fixture
def mountinfo(tmp_path: Path) -> str:
    path = tmp_path / "mountinfo"
    path.write_text(MOUNTINFO, encoding="utf-8")
    return str(path)


def test_is_fuse_mount(mountinfo: str) -> None:
    assert is_fuse_mount("/tmp/with space/mnt", "0:40", mountinfo)  # octal escapes undone
    assert not is_fuse_mount("/tmp/with space/mnt", "0:41", mountinfo)  # another device
    assert not is_fuse_mount("/", "254:0", mountinfo)  # not FUSE: the disk is never touched
    assert not is_fuse_mount("/tmp/over", "0:41", mountinfo)  # covered by a later mount
    assert not is_fuse_mount("/tmp/elsewhere", "0:40", mountinfo)


async def test_read_ahead_leaves_a_plain_directory_alone(tmp_path: Path) -> None:
    knob = KernelReadAhead(str(tmp_path), 4096)
    assert not await knob.apply()  # not a FUSE mount: nothing written
    assert knob.path is None
    knob.restore()  # nothing to restore
    assert knob.path is None


async def test_read_ahead_missing_mountpoint_is_logged_not_raised(tmp_path: Path) -> None:
    assert not await KernelReadAhead(str(tmp_path / "absent"), 4096).apply()


def test_restore_writes_the_previous_value_back(tmp_path: Path) -> None:
    knob_file = tmp_path / "read_ahead_kb"
    knob_file.write_text("4096", encoding="ascii")
    knob = KernelReadAhead(str(tmp_path), 4096)
    knob.path, knob.previous = str(knob_file), "128"
    knob.restore()
    assert knob_file.read_text(encoding="ascii") == "128"
    assert knob.path is None


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_tune_malloc_on_glibc() -> None:
    assert tune_malloc() is True
