"""Error paths and the metadata cache, each on a private emulator and mount."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.mount.apiwalk import complete, items
from tests.mount.mounting import DEMO_ODD_NAMES, Mount, fuse_marker

pytestmark = [fuse_marker(), DEMO_ODD_NAMES]


@pytest.fixture
def private(
    emulator_factory: Callable[..., Any], tmp_path: Path
) -> Iterator[Callable[..., tuple[Any, Mount]]]:
    mounts: list[Mount] = []

    def start(*mount_args: str, **emulator_options: Any) -> tuple[Any, Mount]:
        emu = emulator_factory(**emulator_options)
        m = Mount(
            emu.url,
            emu.token,
            tmp_path / f"mnt{len(mounts)}",
            tmp_path / f"m{len(mounts)}.log",
            tuple(mount_args),
        ).start()
        mounts.append(m)
        return emu, m

    try:
        yield start
    finally:
        for m in mounts:
            m.stop()


def _list_requests(log: list[dict[str, Any]], suffix: str) -> list[dict[str, Any]]:
    return [r for r in log if r["path"].endswith(suffix) and r["method"] == "GET"]


def test_ttl_hides_then_shows_a_new_project(private: Callable[..., tuple[Any, Mount]]) -> None:
    emu, m = private("--metadata-ttl", "3")
    before = set(os.listdir(m.path / "Projects"))
    emu.clear_requests()
    created = httpx.post(
        f"{emu.url}/v1pre3/projects",
        json={"Name": "Created Mid-TTL"},
        headers={"x-access-token": emu.token},
    )
    assert created.status_code in (200, 201), created.text
    assert set(os.listdir(m.path / "Projects")) == before
    assert not _list_requests(emu.requests(), "/users/current/projects")
    time.sleep(3.5)
    assert "Created Mid-TTL" in os.listdir(m.path / "Projects")
    assert len(_list_requests(emu.requests(), "/users/current/projects")) >= 1


@pytest.mark.expect_log_warnings(
    r"opendir\(.*\) -> EACCES: Unauthorized: HTTP 401 BASESPACE\.AUTH\.INVALID_TOKEN",
)
def test_revoked_token_gives_eacces(private: Callable[..., tuple[Any, Mount]]) -> None:
    emu, m = private("--metadata-ttl", "0")
    assert os.listdir(m.path / "Projects")
    revoked = httpx.delete(
        f"{emu.url}/v2/oauthv2tokens/current", headers={"x-access-token": emu.token}
    )
    assert revoked.status_code in (200, 204)
    with pytest.raises(PermissionError):
        os.listdir(m.path / "Projects")
    assert "EACCES" in m.log()


@pytest.mark.expect_log_warnings(
    r"giving up on GET \S+/v1pre3/files/\d+/content after \d+ attempts: HTTP 503 EMULATOR\.FAULT",
    r"read\(.*\) -> EIO: TransportError: file \d+: no data for bytes",
)
def test_persistent_faults_give_eio_in_bound_and_other_files_still_read(
    private: Callable[..., tuple[Any, Mount]],
) -> None:
    emu, m = private("--io-timeout", "15")
    project = items(emu, "v1pre3/users/current/projects")[0]
    pdir = m.path / "Projects" / os.readlink(m.path / "Projects" / f".id.{project['Id']}")
    files: list[tuple[Path, dict[str, Any]]] = []
    for sample in items(emu, f"v1pre3/projects/{project['Id']}/samples"):
        sdir = pdir / "Samples" / os.readlink(pdir / "Samples" / f".id.{sample['Id']}")
        for f in complete(items(emu, f"v1pre3/samples/{sample['Id']}/files", limit=1000)):
            if (sdir / "Files" / f["Path"]).exists() and int(f["Size"]) > 0:
                files.append((sdir / "Files" / f["Path"], f))
    assert len(files) >= 2
    (bad_path, bad), (good_path, _good) = files[0], files[1]
    emu.add_fault(method="GET", path=f"/files/{bad['Id']}/content", action={"status": 503})
    started = time.monotonic()
    with pytest.raises(OSError) as info:
        bad_path.read_bytes()
    elapsed = time.monotonic() - started
    assert info.value.errno == errno.EIO
    assert elapsed < 15 + 5
    assert good_path.read_bytes()
    assert "EIO" in m.log()
    emu.clear_faults()
    assert bad_path.read_bytes()


def test_mount_refuses_without_credentials_or_mountpoint(tmp_path: Path, emulator: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASESPACE_")}
    env["HOME"] = str(tmp_path)
    (tmp_path / "mnt").mkdir()
    no_creds = subprocess.run(
        [sys.executable, "-m", "bsmount", "mount", str(tmp_path / "mnt")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert no_creds.returncode != 0
    assert "no credentials" in no_creds.stderr
    env.update(BASESPACE_API_SERVER=emulator.url, BASESPACE_ACCESS_TOKEN=emulator.token)
    missing = subprocess.run(
        [sys.executable, "-m", "bsmount", "mount", str(tmp_path / "absent")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode != 0
    assert "does not exist" in missing.stderr
    env["BASESPACE_ACCESS_TOKEN"] = "0" * 32
    refused = subprocess.run(
        [sys.executable, "-m", "bsmount", "mount", str(tmp_path / "mnt")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "refused" in refused.stderr
    assert "0" * 32 not in refused.stderr


def test_daemon_mount_and_unmount(tmp_path: Path, emulator: Any) -> None:
    env = dict(os.environ, BASESPACE_API_SERVER=emulator.url, BASESPACE_ACCESS_TOKEN=emulator.token)
    mnt = tmp_path / "daemon"
    mnt.mkdir()
    log = tmp_path / "daemon.log"
    mounted = subprocess.run(
        [sys.executable, "-m", "bsmount", "mount", str(mnt), "--log-file", str(log)],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert mounted.returncode == 0, mounted.stderr
    try:
        assert os.path.ismount(mnt)
        assert "Projects" in os.listdir(mnt)
        ps = subprocess.run(["ps", "axww", "-o", "args"], capture_output=True, text=True).stdout
        assert emulator.token not in ps
        again = subprocess.run(
            [sys.executable, "-m", "bsmount", "mount", str(mnt)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode != 0 and "already mounted" in again.stderr
    finally:
        out = subprocess.run(
            [sys.executable, "-m", "bsmount", "unmount", str(mnt)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 0, out.stderr
    assert not os.path.ismount(mnt)
    assert emulator.token not in log.read_text()


def test_sigterm_unmounts_cleanly(emulator: Any, tmp_path: Path) -> None:
    m = Mount(emulator.url, emulator.token, tmp_path / "sig", tmp_path / "sig.log").start()
    assert os.listdir(m.path / "Projects")
    assert m.proc is not None
    m.proc.send_signal(15)
    assert m.proc.wait(timeout=30) == 0
    assert not os.path.ismount(m.path)
    if m.proc.stdout is not None:
        m.proc.stdout.close()


def test_unmount_names_the_processes_holding_a_busy_mount(emulator: Any, tmp_path: Path) -> None:
    m = Mount(emulator.url, emulator.token, tmp_path / "busy", tmp_path / "busy.log").start()
    holder = subprocess.Popen(["sleep", "60"], cwd=m.path / "Projects")
    try:
        busy = subprocess.run(
            [sys.executable, "-m", "bsmount", "unmount", str(m.path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert busy.returncode != 0
        assert f"{holder.pid} sleep" in busy.stderr
        assert os.path.ismount(m.path)
    finally:
        holder.kill()
        holder.wait()
    m.stop()
