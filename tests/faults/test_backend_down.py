"""Issue 7, "backend down": the emulator dies during a sequential read of the 5 GiB file.

The mount runs with ``--io-timeout 10``. The emulator is killed (SIGKILL: a crashed backend) while
a reader streams the file, and started again on the same port with the same URL-signing key:

- down for 2 s (shorter than the bound): the reader resumes and gets every byte right;
- down until the reader has its answer (longer than the bound): the reader gets EIO, and no single
  ``read()`` waited longer than the bound;
- meanwhile ``ls -l`` of directories listed before keeps answering from the cache;
- once the backend is back, a new read of the same file succeeds without remounting.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.emulator_proc import SMALL_FILES, write_small_seed
from tests.faults.helpers import MiB, direct_md5, read_through, reader_result, start_reader
from tests.mount.mounting import Mount, fuse_marker

pytestmark = [pytest.mark.faults, fuse_marker()]

IO_TIMEOUT = 10.0
SLACK = 1.5  # scheduling, the kernel's round trip, the reader's own overhead


def _ls_while(proc: subprocess.Popen[str], dirs: list[Path], until: float) -> list[float]:
    """``ls -l`` the directories in a loop while ``proc`` runs (at most until ``until``)."""
    spent: list[float] = []
    while proc.poll() is None and time.monotonic() < until:
        for directory in dirs:
            before = time.monotonic()
            out = subprocess.run(["ls", "-l", str(directory)], capture_output=True, timeout=10)
            spent.append(time.monotonic() - before)
            assert out.returncode == 0, out.stderr
        time.sleep(0.25)
    return spent


@pytest.mark.expect_log_warnings(
    r"giving up on read of file \d+ bytes \d+-\d+: .*ConnectError",
    r"read of file \d+ bytes \d+-\d+ failed: .*ConnectError",
    r"read\(\d+, \d+, \d+\) -> EIO: TransportError: .*(ConnectError|no data for bytes)",
)
def test_reads_resume_or_fail_within_the_bound(
    emulator_factory: Callable[..., Any],
    mounter: Callable[..., Mount],
    tmp_path: Path,
    figures: dict[str, Any],
) -> None:
    emu = emulator_factory(write_small_seed(tmp_path / "seed"))
    m = mounter(emu, "--io-timeout", str(IO_TIMEOUT))
    files = m.path / "Projects" / "Transport" / "AppResults" / "Blobs" / "Files"
    huge = files / "big" / "huge.bin"
    huge_id = SMALL_FILES["huge"][0]
    cached = [m.path / "Projects", m.path / "Projects" / "Transport" / "AppResults", files]
    for directory in cached:
        assert subprocess.run(["ls", "-l", str(directory)], capture_output=True).returncode == 0
    length = 2 * 2**30  # long enough that the reader is still reading when the backend dies
    want_a = direct_md5(emu, huge_id, 0, length)
    want_after = direct_md5(emu, huge_id, 3 * 2**30, 3 * 2**30 + 64 * MiB)

    # A: down for 2 s, shorter than the bound: the reader resumes.
    reader = start_reader(huge, "--length", str(length))
    time.sleep(0.5)
    emu.kill()
    down_a = time.monotonic()
    ls_a = _ls_while(reader, cached, down_a + 2.0)
    time.sleep(max(0.0, down_a + 2.0 - time.monotonic()))
    emu.start()
    result_a = reader_result(reader, timeout=120)
    assert result_a["errno"] is None, result_a
    assert result_a["bytes"] == length
    assert result_a["md5"] == want_a
    assert result_a["longest_read"] <= IO_TIMEOUT + SLACK, result_a
    assert result_a["longest_read"] >= 1.0, result_a  # it did wait through the outage

    # B: down for longer than the bound: EIO, no read() longer than the bound.
    length_b = 2 * 2**30
    reader = start_reader(huge, "--offset", str(2 * 2**30), "--length", str(length_b))
    time.sleep(0.5)
    emu.kill()
    down_b = time.monotonic()
    ls_b = _ls_while(reader, cached, down_b + 3 * IO_TIMEOUT)
    result_b = reader_result(reader, timeout=30)
    outage = time.monotonic() - down_b
    assert result_b["errno"] == "EIO", result_b
    assert result_b["bytes"] < length_b
    assert result_b["error_after"] <= IO_TIMEOUT + SLACK, result_b
    assert result_b["longest_read"] <= IO_TIMEOUT + SLACK, result_b
    assert ls_a and ls_b and max(ls_a + ls_b) < 1.0, (ls_a, ls_b)

    # The backend comes back: a new read works without remounting.
    emu.start()
    after = read_through(huge, "--offset", str(3 * 2**30), "--length", str(64 * MiB))
    assert after["errno"] is None and after["md5"] == want_after, after
    log = m.log()
    assert f"file {huge_id}" in log and "EIO" in log
    figures["backend_down"] = {
        "io_timeout_s": IO_TIMEOUT,
        "short_outage_longest_read_s": result_a["longest_read"],
        "long_outage_eio_after_s": result_b["error_after"],
        "long_outage_longest_read_s": result_b["longest_read"],
        "long_outage_down_s": round(outage, 1),
        "ls_max_s": round(max(ls_a + ls_b), 3),
        "bytes_verified": length + 64 * MiB,
    }
