"""systemd: the documented ``bsmount@.service`` started as systemd would start it.

The unit's ``ExecStart`` (``bsmount mount ... --foreground``) runs with ``NOTIFY_SOCKET`` set to a
datagram socket this test listens on: ``READY=1`` must arrive once the mount answers, logs go to
stderr (the journal), and SIGTERM (``systemctl stop``) must send ``STOPPING=1``, unmount and exit 0.
The sd_notify client itself is also tested on an abstract socket (``@name``), as systemd uses.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bsmount.mount.sdnotify import notify
from tests import logcheck
from tests.mount.mounting import fuse_skip_reason

UNIT = Path(__file__).resolve().parents[2] / "docs" / "examples" / "bsmount@.service"


def _unit(name: str) -> dict[str, str]:
    """The [Service] settings of the template, instantiated for ``name`` (%i)."""
    settings: dict[str, str] = {}
    section = ""
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings[f"{section}.{key}"] = value.replace("%i", name)
    return settings


class NotifyListener:
    """A datagram socket standing in for systemd's notify socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[str] = []

    def wait_for(self, assignment: str, timeout: float, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + timeout
        while assignment not in self.messages:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                raise AssertionError(f"no {assignment} (got {self.messages}, rc {proc.poll()})")
            self.sock.settimeout(min(left, 0.2))
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.messages += data.decode().split("\n")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[NotifyListener]:
    sock = NotifyListener(tmp_path / "notify.sock")
    try:
        yield sock
    finally:
        sock.close()


def test_unit_is_type_notify_and_foreground() -> None:
    unit = _unit("work")
    assert unit["Service.Type"] == "notify"
    command = shlex.split(unit["Service.ExecStart"])
    assert command[1:3] == ["mount", "/mnt/basespace/work"]
    assert "--foreground" in command and command[command.index("-c") + 1] == "work"
    assert unit["Service.ExecStartPre"] == "/bin/mkdir -p /mnt/basespace/work"
    assert "network-online.target" in unit["Unit.After"]


def test_notify_to_abstract_socket() -> None:
    name = f"bsmount-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        assert notify("READY=1", "STATUS=ok", environ={"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(100) == b"READY=1\nSTATUS=ok"
    assert not notify("READY=1", environ={})
    assert not notify("READY=1", environ={"NOTIFY_SOCKET": "/nonexistent/notify"})


@pytest.mark.skipif(fuse_skip_reason() is not None, reason=str(fuse_skip_reason()))
@pytest.mark.mount
@pytest.mark.expect_log_warnings(r"odd entries from the server")
def test_service_ready_then_sigterm_unmounts(
    emulator: Any, bs_home: Path, tmp_path: Path, listener: NotifyListener
) -> None:
    unit = _unit("emu")
    base = tmp_path / "mnt" / "basespace"
    command = shlex.split(unit["Service.ExecStart"].replace("/mnt/basespace", str(base)))
    pre = shlex.split(unit["Service.ExecStartPre"].replace("/mnt/basespace", str(base)))
    subprocess.run(pre, check=True)
    mnt = base / "emu"
    # the unit's command, with this checkout's bsmount in place of /usr/local/bin/bsmount
    command = [sys.executable, "-m", "bsmount", *command[1:]]
    journal = tmp_path / "journal.log"  # what systemd would put in the journal: stderr
    env = {**os.environ, "HOME": str(bs_home), "NOTIFY_SOCKET": str(listener.path)}
    env.pop("BASESPACE_ACCESS_TOKEN", None)
    watch = logcheck.watch(journal)
    with open(journal, "wb") as stderr:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        listener.wait_for("READY=1", 60, proc)
        # ready means usable: no waiting, the mount answers now
        assert os.path.ismount(mnt)
        assert "Demo: Myeloid DNA Panel (MiSeq, 2x151)" in os.listdir(mnt / "Projects")
        assert any(m.startswith("STATUS=serving") for m in listener.messages)
        assert "STOPPING=1" not in listener.messages
        proc.send_signal(signal.SIGTERM)
        listener.wait_for("STOPPING=1", 20, proc)
        assert proc.wait(timeout=20) == 0
        assert not os.path.ismount(mnt)
    finally:
        if proc.poll() is None:
            subprocess.run(["fusermount3", "-u", "-z", str(mnt)], check=False)
            proc.kill()
            proc.wait()
        logcheck.unwatch(watch)
    text = journal.read_text()
    assert re.search(r"INFO bsmount\.mount\.lifecycle: received SIGTERM: unmounting", text)
    assert "unmounted" in text and emulator.token not in text
