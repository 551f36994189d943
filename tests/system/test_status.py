"""``bsmount status``: what a mount has in flight, with rates, once, live and as JSON.

An ``.await`` reader of a running appsession is work in flight that stays put until the test ends
it, so ``status`` must show it; a read of a demo BAM gives the rates something to count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.mount.mounting import DEMO_ODD_NAMES, Mount, fuse_skip_reason

pytestmark = [
    DEMO_ODD_NAMES,
    pytest.mark.mount,
    pytest.mark.skipif(fuse_skip_reason() is not None, reason=str(fuse_skip_reason())),
]

DEMO_PROJECT = "20000001"
RUNNING = "60000003"


def _status(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bsmount", "status", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout


@pytest.fixture
def mount(emulator: Any, tmp_path: Path) -> Iterator[Mount]:
    m = Mount(emulator.url, emulator.token, tmp_path / "mnt", tmp_path / "mount.log").start()
    try:
        yield m
    finally:
        m.stop()
        emulator.reset()


def test_status_shows_work_in_flight_and_rates(emulator: Any, mount: Mount) -> None:
    sessions = mount.path / "Projects" / f".id.{DEMO_PROJECT}" / "AppSessions"
    running = sessions / os.readlink(sessions / f".id.{RUNNING}")
    results: list[str] = []
    waiter = threading.Thread(target=lambda: results.append((running / ".await").read_text()))
    waiter.start()
    try:
        rows = [json.loads(line) for line in _status(str(mount.path), "--json").splitlines()]
        assert [r["mountpoint"] for r in rows] == [str(mount.path)]
        flight = rows[0]["stats"]["in_flight"]
        assert flight["awaits"] == 1
        assert {"operations", "reads", "read_bytes"} <= flight.keys()

        bam = next((mount.path / "Projects").glob("Demo*/AppResults/*/Files/*.bam"))
        reader = threading.Thread(target=bam.read_bytes)
        reader.start()
        text = _status(str(mount.path), "--interval", "0.5")
        reader.join(timeout=60)
        lines = text.splitlines()
        assert lines[0].startswith(f"{mount.path}  (bsmount)  up ")
        assert "awaits 1" in lines[1] and lines[1].startswith("  in flight: operations ")
        assert lines[2].startswith("  totals: served ")
        assert lines[3].startswith("  rates: served ") and lines[3].endswith("(over 0.5 s)")
        assert lines[-1].endswith("mount(s)")

        live = _status(str(mount.path), "--watch", "--count", "2", "--interval", "0.2")
        assert live.count("in flight:") == 2 and live.count("rates:") == 2
        assert "\x1b[" not in live  # not a terminal: no screen clearing
    finally:
        emulator.set_appsession_status(RUNNING, "Complete")
        waiter.join(timeout=30)
    assert "Complete" in results[0]
    after = json.loads(_status(str(mount.path), "--json"))
    assert after["stats"]["in_flight"]["awaits"] == 0


def test_status_of_a_directory_that_is_not_a_mount(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bsmount", "status", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == f"bsmount status: {tmp_path} is not a bsmount mount\n"


def test_status_lines_show_each_upload_and_the_upload_rate() -> None:
    from bsmount.mount.status import Sample, format_mount

    def stats(sent: int) -> dict[str, Any]:
        return {
            "uptime_seconds": 10,
            "in_flight": {"operations": 1, "uploads": 1},
            "uploads": {
                "bytes_sent": sent,
                "in_flight": [
                    {
                        "path": "sub/big.bin",
                        "bytes_written": 3 << 20,
                        "bytes_sent": 2 << 20,
                        "parts_sent": 2,
                        "rate_mb_s": 4.2,
                        "state": "writing",
                        "error": None,
                    }
                ],
            },
        }

    before, now = Sample(stats(0)), Sample(stats(4 << 20))
    now.at = before.at + 2.0
    lines = format_mount("/mnt", "demo", now, before)
    assert "uploads 1" in lines[1]
    assert any(
        "uploading sub/big.bin: 3.0 MiB written, 2.0 MiB sent in 2 parts (4.2 MB/s, writing)"
        in line
        for line in lines
    ), lines
    assert any("uploaded 2.0 MiB/s" in line for line in lines), lines
