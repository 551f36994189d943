"""Uploads under faults: part PUTs answered 503, cut mid-body, slow, or acknowledged with a wrong
ETag; the backend down mid-upload. Retried faults end in the right file; a wrong answer fails
the copy with EIO and leaves nothing complete on the server; kill -9 mid-upload publishes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.mount.apiwalk import direct_md5, items
from tests.mount.mounting import Mount, fuse_marker

pytestmark = [
    pytest.mark.faults,
    fuse_marker(),
    pytest.mark.expect_log_warnings(
        r"WARNING bsmount\.tree\.oddities: odd entries from the server in .*name\(s\) changed"
    ),
]
MiB = 1 << 20
PROJECT = "20000001"


def _start(emulator_factory: Callable[..., Any], mounter: Callable[..., Mount], tmp: Path) -> Any:
    emu = emulator_factory()
    emu.http.post("/_emulator/config", json={"min_part_size": 64 * 1024}).raise_for_status()
    m = mounter(emu, "--upload-part-size", "1", "--cache-dir", str(tmp / "cache"))
    return emu, m


def _appresult(m: Mount, name: str) -> Path:
    project = m.path / "Projects" / os.readlink(m.path / "Projects" / f".id.{PROJECT}")
    path = project / "AppResults" / name
    os.mkdir(path)
    return path


def _server(emu: Any, appresult: Path, statuses: str = "") -> list[dict[str, Any]]:
    appresult_id = (appresult / ".id").read_text().strip()
    return items(emu, f"v1pre3/appresults/{appresult_id}/files")


@pytest.mark.expect_log_warnings(r"giving up|retrying|attempt")
def test_retried_part_faults_end_in_the_right_file(
    emulator_factory: Callable[..., Any], mounter: Callable[..., Mount], tmp_path: Path
) -> None:
    emu, m = _start(emulator_factory, mounter, tmp_path)
    emu.add_fault(method="PUT", path="/parts/", action={"status": 503}, count=4)
    emu.add_fault(method="PUT", path="/parts/", action="reset_body", count=3)
    emu.add_fault(method="PUT", path="/parts/", action={"delay": 0.3}, count=5)
    data = os.urandom(12 * MiB + 5)
    (tmp_path / "src.bin").write_bytes(data)
    target = _appresult(m, "Faulty parts")
    subprocess.run(["cp", str(tmp_path / "src.bin"), str(target / "Files" / "x.bin")], check=True)
    files = _server(emu, target)
    assert [f["Path"] for f in files] == ["x.bin"] and files[0]["Size"] == len(data)
    assert direct_md5(emu, files[0]["Id"]) == hashlib.md5(data).hexdigest()
    fired = {
        f["action"] if isinstance(f["action"], str) else next(iter(f["action"])): f["fired"]
        for f in emu.faults()
    }
    assert fired == {"status": 4, "reset_body": 3, "delay": 5}, fired


@pytest.mark.expect_log_warnings(
    r"part \d+ failed: .*ETag",
    r"(write|upload|close) 'x\.bin' refused in .*ETag",
    r"-> EIO: .*ETag",
)
def test_a_wrong_part_etag_fails_the_copy_and_publishes_nothing(
    emulator_factory: Callable[..., Any], mounter: Callable[..., Mount], tmp_path: Path
) -> None:
    emu, m = _start(emulator_factory, mounter, tmp_path)
    emu.add_fault(method="PUT", path="/parts/2$", action="etag_change")
    (tmp_path / "src.bin").write_bytes(os.urandom(4 * MiB))
    target = _appresult(m, "Wrong ETag")
    out = subprocess.run(
        ["cp", str(tmp_path / "src.bin"), str(target / "Files" / "x.bin")],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0 and "Input/output error" in out.stderr
    assert "ETag" in (target / "Files" / ".error").read_text()
    assert [f for f in _server(emu, target) if f["UploadStatus"] == "complete"] == []
    assert "x.bin" not in os.listdir(target / "Files")


@pytest.mark.expect_log_warnings(r"part \d+|HTTP 503|retr|Connection|reset|RemoteProtocol")
def test_backend_unreachable_for_20_s_mid_upload(
    emulator_factory: Callable[..., Any], mounter: Callable[..., Mount], tmp_path: Path
) -> None:
    """For 20 s in the middle of a copy every upload request has its connection reset (the
    backend unreachable; the emulator's state must survive, so its process keeps running):
    the parts are retried through it and the copy completes with the right bytes."""
    emu, m = _start(emulator_factory, mounter, tmp_path)
    emu.add_fault(method="PUT", path="/parts/", action={"throttle": 512 * 1024})
    data = os.urandom(16 * MiB)
    (tmp_path / "src.bin").write_bytes(data)
    target = _appresult(m, "Outage")
    copy = subprocess.Popen(["cp", str(tmp_path / "src.bin"), str(target / "Files" / "x.bin")])
    time.sleep(1.0)
    emu.clear_faults()
    emu.add_fault(method="*", path="^/v1pre3/(files|appresults)/", action="reset_body")
    time.sleep(20.0)
    assert copy.poll() is None  # still waiting for its parts
    emu.clear_faults()
    assert copy.wait(timeout=120) == 0
    files = _server(emu, target)
    assert files[0]["Size"] == len(data)
    assert direct_md5(emu, files[0]["Id"]) == hashlib.md5(data).hexdigest()


@pytest.mark.expect_log_warnings(r".*")  # the killed mount's last words
def test_kill_9_mid_upload_publishes_nothing(
    emulator_factory: Callable[..., Any], mounter: Callable[..., Mount], tmp_path: Path
) -> None:
    emu, m = _start(emulator_factory, mounter, tmp_path)
    emu.add_fault(method="PUT", path="/parts/", action={"throttle": 256 * 1024})
    (tmp_path / "src.bin").write_bytes(os.urandom(16 * MiB))
    target = _appresult(m, "Killed")
    target_id = (target / ".id").read_text().strip()
    copy = subprocess.Popen(
        ["cp", str(tmp_path / "src.bin"), str(target / "Files" / "x.bin")],
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.5)
    os.kill(m.pid, signal.SIGKILL)
    copy.wait(timeout=30)
    assert copy.returncode != 0
    spool = list((tmp_path / "cache").glob("uploads/*/spool/*.spool"))
    assert spool, "the killed mount left its spool file"
    records = list((tmp_path / "cache").glob("uploads/*/journal/*.json"))
    assert len(records) == 1, "the started multipart upload is in the journal"
    record = json.loads(records[0].read_text())
    assert set(record) == {"file_id", "appresult_id", "path"}  # no token, no URL
    assert oct(records[0].stat().st_mode & 0o777) == "0o600"
    m.kill()  # lazy unmount of the dead mount
    again = Mount(  # the same mount point again, as after a reboot
        emu.url,
        emu.token,
        m.path,
        tmp_path / "again.log",
        ("--upload-part-size", "1", "--cache-dir", str(tmp_path / "cache")),
    ).start()
    assert list((tmp_path / "cache").glob("uploads/*/spool/*.spool")) == []  # dropped at mount
    assert list((tmp_path / "cache").glob("uploads/*/journal/*.json")) == []
    files = items(emu, f"v1pre3/appresults/{target_id}/files")
    assert [f for f in files if f["UploadStatus"] == "complete"] == []
    assert [f["UploadStatus"] for f in files] == ["aborted"]  # aborted by the new mount
    try:
        assert "x.bin" not in os.listdir(
            again.path / "Projects" / f".id.{PROJECT}" / "AppResults" / "Killed" / "Files"
        )
    finally:
        again.stop()


@pytest.mark.expect_log_warnings(r"part \d+|retr")
def test_two_mounts_share_a_cache_dir(
    emulator_factory: Callable[..., Any], mounter: Callable[..., Mount], tmp_path: Path
) -> None:
    """A second mount starting on the same cache directory leaves the first one's uploads alone
    (each mount point has its own locked upload directory)."""
    emu, m = _start(emulator_factory, mounter, tmp_path)
    emu.add_fault(method="PUT", path="/parts/", action={"throttle": 1024 * 1024})
    data = os.urandom(12 * MiB)
    (tmp_path / "src.bin").write_bytes(data)
    target = _appresult(m, "Shared cache")
    copy = subprocess.Popen(["cp", str(tmp_path / "src.bin"), str(target / "Files" / "x.bin")])
    time.sleep(1.0)
    other = mounter(emu, "--upload-part-size", "1", "--cache-dir", str(tmp_path / "cache"))
    assert other.path != m.path
    assert copy.wait(timeout=120) == 0
    files = _server(emu, target)
    assert direct_md5(emu, files[0]["Id"]) == hashlib.md5(data).hexdigest()
