"""``bsmount emulator`` as a command: first line, token, refusals and signals."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bsmount.emulator.server import is_loopback
from tests.emulator_proc import SMALL_TOKEN, EmulatorProcess, write_small_seed


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bsmount", "emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def finish(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    return write_small_seed(tmp_path)


def wait_healthy(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_emulator/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"{url} never became healthy")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_first_line_is_the_url_then_the_token_and_signals_exit_zero(seed: Path, sig: int) -> None:
    proc = start("--port", "0", "--seed", str(seed))
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().rstrip("\n")
        token = proc.stdout.readline().rstrip("\n")
        assert url.startswith("http://127.0.0.1:")
        port = int(url.rsplit(":", 1)[1])
        assert 0 < port < 65536
        assert token == SMALL_TOKEN
        wait_healthy(url)
        me = httpx.get(f"{url}/v1pre3/users/current", headers={"x-access-token": token})
        assert me.status_code == 200
    finally:
        assert finish(proc, sig) == 0


def test_token_option_replaces_the_first_users_token(seed: Path) -> None:
    proc = start("--seed", str(seed), "--token", "my-own-token")
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert proc.stdout.readline().strip() == "my-own-token"
        wait_healthy(url)
        mine = httpx.get(f"{url}/v2/users/current", headers={"x-access-token": "my-own-token"})
        assert mine.status_code == 200
        old = httpx.get(f"{url}/v2/users/current", headers={"x-access-token": SMALL_TOKEN})
        assert old.status_code == 401
    finally:
        assert finish(proc) == 0


def test_fixed_port_and_url_ttl(seed: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = start("--port", str(port), "--seed", str(seed), "--url-ttl", "60")
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url == f"http://127.0.0.1:{port}"
        wait_healthy(url)
        meta = httpx.get(
            f"{url}/v1pre3/files/9001/content",
            params={"redirect": "meta"},
            headers={"x-access-token": SMALL_TOKEN},
        ).json()["Response"]
        expires = int(httpx.URL(meta["HrefContent"]).params["Expires"])
        assert 55 <= expires - time.time() <= 62
    finally:
        assert finish(proc) == 0


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.com"])
def test_refuses_non_loopback_without_allow_remote(seed: Path, host: str) -> None:
    proc = start("--host", host, "--seed", str(seed))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert out == ""
    assert "--allow-remote" in err
    assert "Traceback" not in err


def test_allow_remote_listens_on_all_addresses(seed: Path) -> None:
    proc = start("--host", "0.0.0.0", "--allow-remote", "--seed", str(seed))
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://0.0.0.0:")
        wait_healthy(url.replace("0.0.0.0", "127.0.0.1"))
    finally:
        assert finish(proc) == 0


def test_bad_seed_is_a_clean_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"projects": [{"name": 5}]}')
    for spec in (str(bad), str(tmp_path / "missing.json")):
        proc = start("--seed", spec)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 2, err
        assert out == ""
        assert err.startswith("bsmount emulator: ")
        assert "Traceback" not in err


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.1.2.3") and is_loopback("::1")
    assert is_loopback("localhost") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1") and not is_loopback("host")


def test_session_fixture_serves_the_demo(emulator: EmulatorProcess) -> None:
    assert emulator.running
    assert emulator.url.startswith("http://127.0.0.1:")
    assert emulator.api("v1pre3/users/current")["Response"]["Id"]
    projects = emulator.api("v1pre3/users/current/projects", Limit=0)["Response"]
    assert projects["TotalCount"] >= 3
    assert emulator.http.get("/_emulator/health").json() == {"status": "ok"}
