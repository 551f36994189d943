"""``bsmount auth``/``whoami``/``config`` as subprocesses against a real emulator process.

Each login runs ``python -m bsmount auth`` with ``HOME`` in a temporary directory, reads the user
code from its stdout and approves or denies it through the emulator's control plane; then the
written config is used by ``whoami`` and by ``eval "$(bsmount config load NAME)"`` + curl.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bsmount.auth.device_flow import DEFAULT_SCOPES
from bsmount.config import read_config_file
from tests.emulator_proc import EmulatorProcess, write_small_seed

USER_NAME = "Transport Tester"  # the small seed's only user


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    seed = write_small_seed(tmp_path_factory.mktemp("auth-seed"))
    with EmulatorProcess(seed) as proc:
        yield proc


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BASESPACE_", "BSMOUNT_"))}
    env.update(HOME=str(home), **extra)
    return env


def bsmount(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bsmount", *args],
        env=_env(home, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Login:
    """A running ``bsmount auth`` whose stdout is read as it comes."""

    def __init__(self, home: Path, *args: str, **env: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bsmount", "auth", *args],
            env=_env(home, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.out = b""

    def user_code(self, timeout: float = 30.0) -> str:
        """The code from the ``User code: XXXX`` line."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while b"User code:" not in self.out or not self.out.endswith(b"\n"):
            left = deadline - time.monotonic()
            assert left > 0, f"no user code in {self.out!r}"
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                assert chunk, f"auth exited early: {self.finish()}"
                self.out += chunk
        line = next(x for x in self.out.decode().splitlines() if x.startswith("User code:"))
        return line.split()[2]

    def finish(self, timeout: float = 30.0) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, (self.out + out).decode(), err.decode()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.communicate()


@contextlib.contextmanager
def login(home: Path, *args: str, **env: str) -> Iterator[Login]:
    running = Login(home, *args, **env)
    try:
        yield running
    finally:
        if running.proc.poll() is None:
            running.kill()


def test_approve_whoami_and_config_load(emulator: EmulatorProcess, home: Path) -> None:
    with login(home, "-c", "emu", "--api-server", emulator.url, BSMOUNT_CLIENT_ID="it") as run:
        code = run.user_code()
        assert f"{emulator.url}/oauth/device?code={code}" in run.out.decode()
        pending = {p["user_code"]: p for p in emulator.pending_devices()}
        assert pending[code]["client_id"] == "it"
        assert pending[code]["scopes"] == list(DEFAULT_SCOPES)
        emulator.approve_device(code)
        rc, out, err = run.finish()
    assert rc == 0, err
    assert f"Logged in as {USER_NAME}" in out
    path = home / ".basespace" / "emu.cfg"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    creds = read_config_file(path)
    assert creds.api_server == emulator.url
    token = creds.token
    assert token not in out and token not in err
    # the emulator issued that token for the requested scopes
    details = emulator.api_call("GET", "v1pre3/oauthv2/token/current", token=token)
    assert details.status_code == 200
    assert details.json()["Response"]["Scopes"] == list(DEFAULT_SCOPES)

    who = bsmount(home, "whoami", "-c", "emu")
    assert who.returncode == 0, who.stderr
    assert f"| Name           | {USER_NAME}" in who.stdout
    assert f"| Host           | {emulator.url}" in who.stdout

    listing = bsmount(home, "config", "list")
    assert "| emu " in listing.stdout and emulator.url in listing.stdout
    assert token not in listing.stdout + listing.stderr

    script = (
        f'eval "$({sys.executable} -m bsmount config load emu)" && '
        'curl -sS --fail -H "x-access-token: $BASESPACE_ACCESS_TOKEN" '
        '"$BASESPACE_API_SERVER/v1pre3/users/current"'
    )
    shell = subprocess.run(
        ["bash", "-c", script], env=_env(home), capture_output=True, text=True, timeout=60
    )
    assert shell.returncode == 0, shell.stderr
    assert json.loads(shell.stdout)["Response"]["Name"] == USER_NAME

    # with the variables from `config load`, whoami needs no -c
    env = dict(
        line.removeprefix("export ").split("=", 1)
        for line in bsmount(home, "config", "load", "emu").stdout.splitlines()
    )
    assert env["BASESPACE_ACCESS_TOKEN"] == token
    assert USER_NAME in bsmount(home, "whoami", **env).stdout

    # a second login to the same config is refused before any device authorization
    before = len(emulator.pending_devices())
    again = bsmount(home, "auth", "-c", "emu", "--api-server", emulator.url)
    assert again.returncode == 1 and "--force" in again.stderr
    assert len(emulator.pending_devices()) == before


def test_deny(emulator: EmulatorProcess, home: Path) -> None:
    with login(home, "--api-server", emulator.url) as run:
        emulator.deny_device(run.user_code())
        rc, _out, err = run.finish()
    assert rc == 1
    assert "access was denied" in err
    assert not (home / ".basespace" / "default.cfg").exists()


def test_invalid_scope_is_refused(emulator: EmulatorProcess, home: Path) -> None:
    result = bsmount(
        home, "auth", "--api-server", emulator.url, "--scopes", "READ GLOBAL,FLY GLOBAL"
    )
    assert result.returncode == 1
    assert "'FLY GLOBAL'" in result.stderr
    assert not (home / ".basespace").exists()


def test_force_replaces_and_expiry(emulator: EmulatorProcess, home: Path) -> None:
    path = home / ".basespace" / "default.cfg"
    path.parent.mkdir(mode=0o700)
    path.write_text("apiServer = https://api.test\naccessToken = old-token-value\n")
    with login(home, "--api-server", emulator.url, "--force", "--scopes", "browse global") as run:
        emulator.approve_device(run.user_code())
        rc, _out, err = run.finish()
    assert rc == 0, err
    creds = read_config_file(path)
    assert creds.token != "old-token-value" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert emulator.api_call("GET", "v1pre3/users/current", token=creds.token).status_code == 200

    emulator.set_oauth_config(expires_in=2)
    try:
        with login(home, "-c", "late", "--api-server", emulator.url) as run:
            run.user_code()
            rc, _out, err = run.finish()
    finally:
        emulator.set_oauth_config(expires_in=1800)
    assert rc == 1
    assert "expired" in err or "not approved within" in err
    assert not (home / ".basespace" / "late.cfg").exists()


def test_ctrl_c_while_waiting(emulator: EmulatorProcess, home: Path) -> None:
    with login(home, "-c", "gone", "--api-server", emulator.url) as run:
        run.user_code()
        run.proc.send_signal(signal.SIGINT)
        rc, _out, err = run.finish()
    assert rc == 130 and "interrupted" in err and "Traceback" not in err
    assert not (home / ".basespace" / "gone.cfg").exists()
