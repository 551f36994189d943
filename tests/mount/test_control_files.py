"""Control files through a real mount; the server's state is checked through the API after each."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.emulator_proc import EmulatorProcess
from tests.mount.apiwalk import items
from tests.mount.mounting import DEMO_ODD_NAMES, Mount, fuse_skip_reason

pytestmark = [DEMO_ODD_NAMES]

DEMO_PROJECT = "20000001"
RUNNING = "60000003"
COMPLETE = "60000001"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, Mount]]:
    reason = fuse_skip_reason()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("control")
    emu = EmulatorProcess("demo", data_dir=os.environ.get("BSMOUNT_TEST_DATA_DIR") or None)
    m = Mount(
        emu.url,
        emu.token,
        base / "mnt",
        base / "mount.log",
        ("--metadata-ttl", "300", "--allow-other"),
    ).start()
    try:
        yield emu, m
    finally:
        m.stop()
        emu.stop()


def _entity(m: Mount, *parts: str) -> Path:
    """Resolve a path whose components may be `.id.<id>` links."""
    path = m.path
    for part in parts:
        path = path / part
        if part.startswith(".id."):
            path = path.parent / os.readlink(path)
    return path


def _api_properties(emu: EmulatorProcess, route: str) -> dict[str, Any]:
    return {p["Name"]: p for p in items(emu, f"{route}/properties")}


def _write(path: Path, payload: bytes) -> None:
    """open/write/close like a program would; errors of write or close propagate."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def test_properties_read_equals_api(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    shown = json.loads((_entity(m, "Projects", f".id.{DEMO_PROJECT}") / ".properties").read_text())
    api = _api_properties(emu, f"v1pre3/projects/{DEMO_PROJECT}")
    assert set(shown) == set(api)
    for name, prop in api.items():
        if prop["Type"] == "string":
            assert shown[name] == prop["Content"]
        elif prop["Type"] == "string[]":  # only the first items are inlined; .properties has all
            assert shown[name][: len(prop["Items"])] == prop["Items"]
            assert len(shown[name]) == prop.get("ItemsTotalCount", len(prop["Items"]))


def test_set_properties_json_and_lines(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    target = _entity(m, "Projects", f".id.{DEMO_PROJECT}") / ".properties"
    before = _api_properties(emu, f"v1pre3/projects/{DEMO_PROJECT}")
    _write(target, b'{"Bsmount.Test.Owner": "lab-7", "Bsmount.Test.Tags": ["wgs", "trio"]}\n')
    after = _api_properties(emu, f"v1pre3/projects/{DEMO_PROJECT}")
    assert after["Bsmount.Test.Owner"]["Content"] == "lab-7"
    assert after["Bsmount.Test.Tags"]["Items"] == ["wgs", "trio"]
    for name in before:
        assert name in after  # partial update: the others are untouched
    subprocess.run(
        [
            "sh",
            "-c",
            f"printf 'Bsmount.Test.Reviewer=alice\\nBsmount.Test.Batch=7\\n' > '{target}'",
        ],
        check=True,
    )
    after = _api_properties(emu, f"v1pre3/projects/{DEMO_PROJECT}")
    assert after["Bsmount.Test.Reviewer"]["Content"] == "alice"
    assert after["Bsmount.Test.Batch"]["Content"] == "7"
    assert json.loads(target.read_text())["Bsmount.Test.Owner"] == "lab-7"


@pytest.mark.parametrize(
    "payload",
    [
        b'{"Bsmount.Bad": ',
        b'{"nodots": "x"}\n',
        b'{"Bsmount.Num": 42}\n',
        b"\xff\xfe=x\n",
        b"no equals\n",
    ],
)
@pytest.mark.expect_log_warnings(
    r"write \.properties refused in 'Projects/20000001': ",
    r"(write|flush)\(\d+.*\) -> EINVAL: ",
)
def test_bad_property_payloads_change_nothing(
    setup: tuple[EmulatorProcess, Mount], payload: bytes
) -> None:
    emu, m = setup
    pdir = _entity(m, "Projects", f".id.{DEMO_PROJECT}")
    before = _api_properties(emu, f"v1pre3/projects/{DEMO_PROJECT}")
    with pytest.raises(OSError) as info:
        _write(pdir / ".properties", payload)
    assert info.value.errno == errno.EINVAL
    assert _api_properties(emu, f"v1pre3/projects/{DEMO_PROJECT}") == before
    assert ".properties" in (pdir / ".error").read_text()


@pytest.mark.expect_log_warnings(
    r"write \.properties refused in 'Projects/20000001': payload over \d+ bytes",
    r"write\(.*\) -> EFBIG: payload over \d+ bytes refused",
)
def test_huge_payload_is_refused(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    pdir = _entity(m, "Projects", f".id.{DEMO_PROJECT}")
    before = _api_properties(emu, f"v1pre3/projects/{DEMO_PROJECT}")
    with pytest.raises(OSError) as info:
        _write(pdir / ".properties", b'{"Bsmount.Big": "' + b"x" * (2 << 20) + b'"}')
    assert info.value.errno == errno.EFBIG
    assert _api_properties(emu, f"v1pre3/projects/{DEMO_PROJECT}") == before


def _appsession(emu: EmulatorProcess, appsession_id: str) -> dict[str, Any]:
    return dict(emu.api(f"v2/appsessions/{appsession_id}"))


@pytest.mark.expect_log_warnings(
    r"write \.kill refused in '.*/60000001': appsession 60000001 is Complete",
    r"write\(.*\) -> EINVAL: appsession 60000001 is Complete",
)
def test_kill_running_and_refuse_finished(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    sessions = _entity(m, "Projects", f".id.{DEMO_PROJECT}", "AppSessions")
    complete = sessions / os.readlink(sessions / f".id.{COMPLETE}")
    assert (complete / ".status").read_text().strip() == "Complete"
    with pytest.raises(OSError) as info:
        _write(complete / ".kill", b"stop\n")
    assert info.value.errno == errno.EINVAL
    assert "Complete" in (complete / ".error").read_text()
    assert _appsession(emu, COMPLETE)["ExecutionStatus"] == "Complete"

    running = sessions / os.readlink(sessions / f".id.{RUNNING}")
    assert (running / ".kill").read_text().strip() == "Running"
    _write(running / ".kill", b"stop\n")
    assert _appsession(emu, RUNNING)["ExecutionStatus"] == "Aborted"
    assert (running / ".status").read_text().strip() == "Aborted"


@pytest.mark.expect_log_warnings(
    r"read \.await refused in '.*/60000003': interrupted by a signal",
    r"read\(\d+, 0, \d+\) -> EINTR: interrupted by a signal",
)
def test_await_returns_when_complete_and_interrupt_is_harmless(
    setup: tuple[EmulatorProcess, Mount],
) -> None:
    emu, m = setup
    emu.reset()
    sessions = _entity(m, "Projects", f".id.{DEMO_PROJECT}", "AppSessions")
    (sessions / ".refresh").write_text("\n")
    running = sessions / os.readlink(sessions / f".id.{RUNNING}")
    assert ".await" not in os.listdir(running)  # never opened by cp -r / rsync
    # an interrupted reader dies at once and leaves the mount healthy
    reader = subprocess.Popen(
        ["cat", str(running / ".await")],
        stdout=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as in a terminal
    )
    time.sleep(1)
    reader.send_signal(signal.SIGINT)
    assert reader.wait(timeout=5) != 0
    assert reader.stdout is not None
    reader.stdout.close()
    assert os.listdir(m.path / "Projects")

    results: list[Any] = []

    def wait() -> None:
        results.append(json.loads((running / ".await").read_text()))

    waiters = [threading.Thread(target=wait) for _ in range(3)]
    for t in waiters:
        t.start()
    time.sleep(1)
    assert all(t.is_alive() for t in waiters)
    emu.clear_requests()
    emu.set_appsession_status(RUNNING, "Complete")
    for t in waiters:
        t.join(timeout=30)
    assert len(results) == 3
    assert all(str(r).count("Complete") >= 1 for r in results)
    polls = [r for r in emu.requests() if r["path"].endswith(f"/appsessions/{RUNNING}")]
    assert len(polls) <= 3  # one shared polling loop, not one per reader


@pytest.mark.expect_log_warnings(
    r"write \.trash refused in '.*/30000006': write exactly 'yes'",
    r"write\(.*\) -> EINVAL: write exactly 'yes' to move to the trash, not 'please'",
)
def test_trash_and_refuse_other_text(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    project = _entity(m, "Projects", f".id.{DEMO_PROJECT}")
    samples = project / "Samples"
    victim_id = items(emu, f"v1pre3/projects/{DEMO_PROJECT}/samples")[-1]["Id"]
    victim = samples / os.readlink(samples / f".id.{victim_id}")
    with pytest.raises(OSError) as info:
        _write(victim / ".trash", b"please\n")
    assert info.value.errno == errno.EINVAL
    assert victim_id in {s["Id"] for s in items(emu, f"v1pre3/projects/{DEMO_PROJECT}/samples")}
    _write(victim / ".trash", b"yes\n")
    assert victim.name not in os.listdir(samples)
    assert victim_id not in {s["Id"] for s in items(emu, f"v1pre3/projects/{DEMO_PROJECT}/samples")}
    trash = emu.api("v2/trash", Limit=1024)
    assert victim_id in json.dumps(trash)


@pytest.mark.expect_log_warnings(
    r"rmdir refused in 'Projects': rmdir does not delete 'Made By mkdir'",
    r"rmdir\(.*\) -> EPERM: rmdir does not delete 'Made By mkdir'",
)
def test_mkdir_creates_project_and_refuses_duplicates(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    (m.path / "Projects" / "Made By mkdir").mkdir()
    names = {p["Name"] for p in items(emu, "v1pre3/users/current/projects")}
    assert "Made By mkdir" in names
    assert (m.path / "Projects" / "Made By mkdir" / ".id").exists()
    with pytest.raises(FileExistsError):
        (m.path / "Projects" / "Made By mkdir").mkdir()
    with pytest.raises(OSError) as info:
        (m.path / "Projects" / "Made By mkdir").rmdir()
    assert info.value.errno == errno.EPERM


def test_refresh_shows_new_project_before_ttl(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    before = set(os.listdir(m.path / "Projects"))
    httpx.post(
        f"{emu.url}/v1pre3/projects",
        json={"Name": "Made Through API"},
        headers={"x-access-token": emu.token},
    ).raise_for_status()
    assert set(os.listdir(m.path / "Projects")) == before  # TTL is 300 s
    (m.path / "Projects" / ".refresh").write_text("now\n")
    assert "Made Through API" in os.listdir(m.path / "Projects")


def test_stats_move_after_a_read(setup: tuple[EmulatorProcess, Mount]) -> None:
    _emu, m = setup
    before = json.loads((m.path / ".bsmount" / "stats").read_text())
    fastq = next(
        Path(root) / name
        for root, _d, names in os.walk(m.path / "Projects")
        for name in names
        if name.endswith(".fastq.gz")
    )
    size = len(fastq.read_bytes())
    after = json.loads((m.path / ".bsmount" / "stats").read_text())
    assert after["bytes_fetched"] >= before["bytes_fetched"] + min(size, 1)
    assert after["uptime_seconds"] >= before["uptime_seconds"]
    assert sum(after["api"].values()) > sum(before["api"].values())
    config = (m.path / ".bsmount" / "config").read_text()
    assert _emu.token not in config and "redacted" in config
    assert "bsmount" in (m.path / ".bsmount" / "version").read_text()


def test_other_users_cannot_write(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    target = _entity(m, "Projects", f".id.{DEMO_PROJECT}") / ".properties"
    before = _api_properties(emu, f"v1pre3/projects/{DEMO_PROJECT}")
    result = subprocess.run(
        [
            "setpriv",
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "sh",
            "-c",
            f"echo '{{\"Bsmount.Intruder\": \"x\"}}' > '{target}'",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "ermission denied" in result.stderr
    assert _api_properties(emu, f"v1pre3/projects/{DEMO_PROJECT}") == before


@pytest.mark.expect_log_warnings(
    r"write \.commands refused in '': unknown command 'explode'",
    r"write\(.*\) -> EINVAL: unknown command 'explode'",
)
def test_commands_file(setup: tuple[EmulatorProcess, Mount]) -> None:
    _emu, m = setup
    words = (m.path / ".commands").read_text()
    assert "refresh" in words and "move-to-trash" in words and "unmount" in words
    _write(m.path / ".commands", b"refresh\n")
    with pytest.raises(OSError) as info:
        _write(m.path / ".commands", b"explode\n")
    assert info.value.errno == errno.EINVAL
    assert "explode" in (m.path / ".error").read_text()
