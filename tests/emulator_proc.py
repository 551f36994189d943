"""``EmulatorProcess``: a real ``bsmount emulator`` subprocess for tests, driven over HTTP.

It starts ``python -m bsmount emulator --port 0 ...``, reads the base URL from the first line of
stdout and the token from the second, waits for ``/_emulator/health``, and offers the control
plane as methods (``requests()``, ``add_fault()``, ``reset()``...) plus ``api()``: a direct,
authenticated GET with plain httpx, so tests can compare bsmount's view with the API's without
going through bsmount's client. ``restart()`` stops and starts the process on the same port
(for "backend down" tests). Every process started is stopped at interpreter exit at the latest.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "SMALL_FILES",
    "SMALL_TOKEN",
    "EmulatorError",
    "EmulatorProcess",
    "stop_all",
    "write_small_seed",
]

_STARTUP_TIMEOUT = 120.0  # the demo seed may build its genomics files on first use
# Every process ever started and not yet stopped (strong references: a test that drops its
# EmulatorProcess without stopping it must not leave the process behind).
_LIVE: set[EmulatorProcess] = set()
_LOGS: set[Path] = set()


class EmulatorError(RuntimeError):
    """The emulator process did not start or answer as expected."""


def _read_line(stream: Any, timeout: float) -> str | None:
    """One line from a pipe, or None if the process died or the timeout passed."""
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not result or not result[0]:
        return None
    return result[0].decode("utf-8", "replace").rstrip("\r\n")


class EmulatorProcess:
    """One emulator subprocess. Use as a context manager or call :meth:`stop`."""

    def __init__(
        self,
        seed: str | os.PathLike[str] = "demo",
        *,
        url_ttl: float | None = None,
        token: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        extra_args: list[str] | None = None,
        port: int = 0,
        start: bool = True,
    ) -> None:
        self.seed = str(seed)
        self.url_ttl = url_ttl
        self.data_dir = None if data_dir is None else str(data_dir)
        self.extra_args = list(extra_args or [])
        self.port = port
        self.url = ""
        self.token = token or ""
        self._token_arg = token
        self._signing_key = os.urandom(32).hex()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_path = Path(tempfile.mkstemp(prefix="bsmount-emulator-", suffix=".log")[1])
        self._http: httpx.Client | None = None
        _LOGS.add(self._stderr_path)
        if start:
            self.start()

    # ------------------------------------------------------------------ process lifecycle
    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "bsmount", "emulator", "--port", str(self.port)]
        cmd += ["--seed", self.seed, "--signing-key", self._signing_key]
        if self.url_ttl is not None:
            cmd += ["--url-ttl", str(self.url_ttl)]
        if self._token_arg is not None:
            cmd += ["--token", self._token_arg]
        if self.data_dir is not None:
            cmd += ["--data-dir", self.data_dir]
        return cmd + self.extra_args

    def start(self) -> None:
        if self.running:
            raise EmulatorError("already running")
        stderr = self._stderr_path.open("ab")
        try:
            self._proc = subprocess.Popen(
                self.command(), stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL
            )
        finally:
            stderr.close()
        _LIVE.add(self)
        proc = self._proc
        first = _read_line(proc.stdout, _STARTUP_TIMEOUT)
        second = _read_line(proc.stdout, 10.0) if first else None
        if not first or not first.startswith("http://") or second is None:
            self.kill()
            raise EmulatorError(
                f"emulator did not start (first line {first!r}){self._stderr_tail()}"
            )
        self.url = first
        self.token = second
        self.port = int(first.rsplit(":", 1)[1])
        self._http = httpx.Client(base_url=self.url, timeout=30.0)
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.http.get("/_emulator/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if not self.running or time.monotonic() > deadline:
                self.kill()
                raise EmulatorError(f"emulator at {self.url} is not healthy{self._stderr_tail()}")
            time.sleep(0.05)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait for a clean exit (SIGKILL after ``timeout``); returns the exit status."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._close()
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL at once (a crashed backend)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        self._close()

    def restart(self, downtime: float = 0.0) -> None:
        """Stop, wait ``downtime`` seconds, start again on the same port with the same key."""
        self.stop()
        if downtime:
            time.sleep(downtime)
        deadline = time.monotonic() + 10.0
        while True:
            try:
                self.start()
                return
            except EmulatorError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _close(self) -> None:
        _LIVE.discard(self)
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()

    def _stderr_tail(self) -> str:
        with contextlib.suppress(OSError):
            text = self._stderr_path.read_text("utf-8", "replace")[-4000:]
            return f"\n--- emulator stderr ---\n{text}" if text else ""
        return ""

    @property
    def stderr(self) -> str:
        """Everything the process wrote to stderr so far."""
        return self._stderr_path.read_text("utf-8", "replace")

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ HTTP helpers
    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            raise EmulatorError("emulator is not running")
        return self._http

    def _control(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, f"/_emulator/{path}", **kwargs)
        response.raise_for_status()
        return response

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """The request log (see docs/emulator.md, "Control plane")."""
        result: list[dict[str, Any]] = self._control("GET", f"requests?since={since}").json()
        return result

    def clear_requests(self) -> None:
        self._control("DELETE", "requests")

    def add_fault(self, **rule: Any) -> int:
        """Add one fault rule (keyword arguments are the rule's keys); returns its id."""
        ids: list[int] = self._control("POST", "faults", json=rule).json()["ids"]
        return ids[0]

    def add_faults(self, rules: list[dict[str, Any]], seed: int | None = None) -> list[int]:
        body: dict[str, Any] = {"rules": rules}
        if seed is not None:
            body["seed"] = seed
        ids: list[int] = self._control("POST", "faults", json=body).json()["ids"]
        return ids

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._control("GET", "faults").json()
        return result

    def clear_faults(self) -> None:
        self._control("DELETE", "faults")

    def reset(self) -> None:
        self._control("POST", "reset")

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._control("GET", "stats").json()
        return result

    def set_appsession_status(self, appsession_id: str, status: str) -> None:
        self._control("POST", f"appsessions/{appsession_id}/status", json={"status": status})

    # ------------------------------------------------------------------ uploads
    def uploads(self, status: str | None = None) -> list[dict[str, Any]]:
        """Every upload since the last reset (``GET /_emulator/uploads``), optionally of one
        status (``pending``, ``complete``, ``aborted``)."""
        query = f"?status={status}" if status else ""
        result: list[dict[str, Any]] = self._control("GET", f"uploads{query}").json()
        return result

    def upload_info(self, file_id: str) -> dict[str, Any]:
        """One upload with its parts (``GET /_emulator/uploads/{file_id}``)."""
        result: dict[str, Any] = self._control("GET", f"uploads/{file_id}").json()
        return result

    def upload_config(self, **limits: int) -> dict[str, Any]:
        """Change multipart limits until reset (``min_part_size``, ``max_part_size``,
        ``max_parts``); without arguments, read them. Answers the values in force."""
        if not limits:
            current: dict[str, Any] = self._control("GET", "config").json()
            return current
        result: dict[str, Any] = self._control("POST", "config", json=limits).json()
        return result

    # ------------------------------------------------------------------ OAuth device flow
    def approve_device(self, user_code: str, user: str | None = None) -> dict[str, Any]:
        """Approve a pending device login (as ``user``, an id; default the first user)."""
        body: dict[str, Any] = {"user_code": user_code}
        if user is not None:
            body["user"] = user
        result: dict[str, Any] = self._control("POST", "oauth/approve", json=body).json()
        return result

    def deny_device(self, user_code: str) -> dict[str, Any]:
        """Deny a pending device login: the client's next poll gets ``access_denied``."""
        body = {"user_code": user_code}
        result: dict[str, Any] = self._control("POST", "oauth/deny", json=body).json()
        return result

    def pending_devices(self) -> list[dict[str, Any]]:
        """Pending device logins: ``[{user_code, client_id, scopes, status, expires_in, ...}]``."""
        result: list[dict[str, Any]] = self._control("GET", "oauth/pending").json()
        return result

    def set_oauth_config(
        self, *, expires_in: int | None = None, interval: int | None = None
    ) -> dict[str, Any]:
        """Lifetime and polling interval of the next device authorizations (until reset)."""
        body: dict[str, int] = {}
        if expires_in is not None:
            body["expires_in"] = expires_in
        if interval is not None:
            body["interval"] = interval
        result: dict[str, Any] = self._control("POST", "oauth/config", json=body).json()
        return result

    def api_call(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Any API request (``POST``, ``DELETE``...) with the token (``token`` overrides it);
        ``kwargs`` go to httpx (``json=``, ``params=``, ``data=``)."""
        headers = {"x-access-token": token if token is not None else self.token}
        return self.http.request(method, "/" + path.lstrip("/"), headers=headers, **kwargs)

    @property
    def signing_key(self) -> bytes:
        """The key this process signs content URLs with (kept across :meth:`restart`)."""
        return bytes.fromhex(self._signing_key)

    def content_url(self, file_id: str, file_name: str, ttl: float = 3600.0) -> str:
        """A signed blob URL made locally, as the API would hand it out."""
        from bsmount.emulator.blobs.signing import sign_content_url

        return sign_content_url(self.url, file_id, file_name, ttl, self.signing_key)[0]

    def api_response(self, path: str, **params: Any) -> httpx.Response:
        """A direct GET of an API path (``v1pre3/...`` or ``v2/...``) with the token."""
        return self.http.get(
            "/" + path.lstrip("/"), params=params, headers={"x-access-token": self.token}
        )

    def api(self, path: str, **params: Any) -> Any:
        """Like :meth:`api_response` but raises on an error status and returns the JSON."""
        response = self.api_response(path, **params)
        response.raise_for_status()
        return response.json()


def stop_all() -> None:
    """Stop every emulator process still running (session teardown and interpreter exit)."""
    for emulator in list(_LIVE):
        with contextlib.suppress(Exception):
            emulator.stop(timeout=5.0)
    for path in list(_LOGS):
        with contextlib.suppress(OSError):
            path.unlink()
    _LOGS.clear()


atexit.register(stop_all)


# A small seed with fixed ids, for tests of the transport (blob route, faults, request log).
SMALL_TOKEN = "5ee0" * 8
SMALL_FILES = {
    "hello": ("9001", "hello.txt"),
    "huge": ("9002", "huge.bin"),  # 5 GiB of generated bytes, seed 17
    "local": ("9003", "local.bin"),  # 3 MiB + 5 of random bytes from a local file
    "odd": ("9004", "odd name (1): α&=?.txt"),
    "empty": ("9005", "empty.txt"),
    "mid": ("9006", "mid.bin"),  # 3 MiB + 5 of generated bytes, seed 3
}
SMALL_HUGE_SIZE = 5 * 2**30
SMALL_MID_SIZE = 3 * 2**20 + 5
SMALL_APPSESSION = "7001"


def small_local_bytes() -> bytes:
    return random.Random(5).randbytes(3 * 2**20 + 5)


def write_small_seed(directory: Path) -> Path:
    """Write the small transport seed (and its local source file) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "local.bin").write_bytes(small_local_bytes())
    files = [
        {"id": SMALL_FILES["hello"][0], "path": "hello.txt", "text": "hello world\n"},
        {"id": SMALL_FILES["huge"][0], "path": "big/huge.bin", "size": SMALL_HUGE_SIZE, "seed": 17},
        {"id": SMALL_FILES["local"][0], "path": "local.bin", "source": "local.bin"},
        {"id": SMALL_FILES["odd"][0], "path": SMALL_FILES["odd"][1], "text": "odd\n"},
        {"id": SMALL_FILES["empty"][0], "path": "empty.txt", "text": ""},
        {"id": SMALL_FILES["mid"][0], "path": "mid.bin", "size": SMALL_MID_SIZE, "seed": 3},
    ]
    seed = {
        "users": [{"name": "Transport Tester", "tokens": [SMALL_TOKEN]}],
        "projects": [
            {
                "name": "Transport",
                "appsessions": [
                    {"key": "s1", "id": SMALL_APPSESSION, "name": "Session 1", "status": "Running"}
                ],
                "appresults": [{"name": "Blobs", "appsession": "s1", "files": files}],
            }
        ],
    }
    path = directory / "small-seed.json"
    path.write_text(json.dumps(seed, ensure_ascii=False, indent=1), encoding="utf-8")
    return path
