"""The processes a benchmark run starts: nginx, the emulator, a bsmount mount, an rclone mount.

Each is a class with ``start()`` and ``stop()`` (idempotent, safe after a failed start) that only
ever signals the process it started. :class:`Nginx` also reads its access log
(:meth:`Nginx.entries` since an offset), which is how the bytes a client fetched are counted.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from bench.common import BenchError, Paths, peak_rss_mib, which
from bench.data import SIGNING_KEY, TOKEN

__all__ = [
    "AccessEntry",
    "BsMount",
    "CeilingMount",
    "Emulator",
    "FuseMount",
    "Nginx",
    "RcloneMount",
]

log = logging.getLogger(__name__)

_TEMPLATE = Path(__file__).with_name("nginx.conf.template")
_LINE = re.compile(
    r'^(?P<msec>[\d.]+) (?P<status>\d+) (?P<body>\d+) (?P<sent>\d+) "(?P<method>[^"]*)" '
    r'"(?P<uri>.*)" "(?P<range>[^"]*)" (?P<rtime>[\d.]+)$'
)
_FUSERMOUNT = which("fusermount3") or "fusermount3"


def _stop_process(proc: subprocess.Popen[Any] | None, sig: int, timeout: float) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _wait_port(port: int, proc: subprocess.Popen[Any], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{what} exited {proc.returncode} at start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"{what} did not listen on port {port} within {timeout:.0f} s")


@dataclass(frozen=True)
class AccessEntry:
    time: float
    status: int
    body_bytes: int
    bytes_sent: int
    method: str
    uri: str
    range: str | None


class Nginx:
    """nginx serving ``paths.blobs`` on ``127.0.0.1:port`` with autoindex and sendfile."""

    def __init__(self, paths: Paths, port: int) -> None:
        self.paths = paths
        self.port = port
        self.conf = paths.root / "nginx.conf"
        self.access_log = paths.logs / "nginx-access.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = which("nginx")
        if binary is None:
            raise BenchError("nginx is not installed (make bench-deps)")
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.paths.root / "nginx-tmp" / sub).mkdir(parents=True, exist_ok=True)
        values = {
            "@USER@": pwd.getpwuid(os.geteuid()).pw_name,
            "@WORK@": str(self.paths.root),
            "@LOGS@": str(self.paths.logs),
            "@PORT@": str(self.port),
            "@ROOT@": str(self.paths.blobs),
        }
        text = _TEMPLATE.read_text()
        for key, value in values.items():
            text = text.replace(key, value)
        self.conf.write_text(text)
        self.access_log.unlink(missing_ok=True)
        error_log = self.paths.logs / "nginx-error.log"
        cmd = [binary, "-c", str(self.conf), "-p", str(self.paths.root), "-e", str(error_log)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, self.proc, "nginx")

    def stop(self) -> None:
        _stop_process(self.proc, signal.SIGQUIT, 10.0)

    def offset(self) -> int:
        """The access log's current size: pass it to :meth:`entries` later."""
        try:
            return self.access_log.stat().st_size
        except FileNotFoundError:
            return 0

    def entries(self, since: int, settle: float = 0.3) -> list[AccessEntry]:
        """Access-log entries written after ``since`` (waits ``settle`` s for late lines: nginx
        logs a request when it ends, after an aborted client too)."""
        time.sleep(settle)
        out: list[AccessEntry] = []
        with self.access_log.open("rb") as handle:
            handle.seek(since)
            for raw in handle:
                match = _LINE.match(raw.decode("utf-8", "replace").rstrip("\n"))
                if match is None:
                    continue
                out.append(
                    AccessEntry(
                        float(match["msec"]),
                        int(match["status"]),
                        int(match["body"]),
                        int(match["sent"]),
                        match["method"],
                        match["uri"],
                        None if match["range"] == "-" else match["range"],
                    )
                )
        return out


def _read_line(stream: IO[bytes], timeout: float) -> str | None:
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not result or not result[0]:
        return None
    return result[0].decode("utf-8", "replace").strip()


class Emulator:
    """``bsmount emulator`` on the bench seed, materializing the files for nginx at start-up."""

    def __init__(self, paths: Paths, seed: Path, blob_base_url: str) -> None:
        self.paths = paths
        self.seed = seed
        self.blob_base_url = blob_base_url
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log_file = paths.logs / "emulator.log"
        self._http: httpx.Client | None = None

    def start(self, timeout: float = 3600.0) -> None:
        cmd = [
            sys.executable, "-m", "bsmount", "emulator", "--port", "0",
            "--seed", str(self.seed), "--token", TOKEN, "--signing-key", SIGNING_KEY.hex(),
            "--materialize", str(self.paths.blobs), "--blob-base-url", self.blob_base_url,
            "--log-level", "INFO",
        ]  # fmt: skip
        with self.log_file.open("ab") as err:
            self.proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL
            )
        assert self.proc.stdout is not None
        first = _read_line(self.proc.stdout, timeout)
        token = _read_line(self.proc.stdout, 30.0) if first else None
        if not first or not first.startswith("http://") or token != TOKEN:
            self.stop()
            raise BenchError(f"emulator did not start; see {self.log_file}")
        self.url = first
        self._http = httpx.Client(base_url=self.url, timeout=120.0)

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            raise BenchError("emulator not running")
        return self._http

    def api(self, path: str, **params: Any) -> Any:
        resp = self.http.get("/" + path, params=params, headers={"x-access-token": TOKEN})
        resp.raise_for_status()
        return resp.json()

    def clear(self) -> None:
        """Empty the request log (call before a measured step, then :meth:`requests`)."""
        self.http.delete("/_emulator/requests")

    def requests(self) -> list[dict[str, Any]]:
        """Request-log entries since the last :meth:`clear` (the control plane left out)."""
        entries: list[dict[str, Any]] = self.http.get("/_emulator/requests").json()
        return [e for e in entries if e.get("kind") != "control"]

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        _stop_process(self.proc, signal.SIGTERM, 15.0)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()


class FuseMount:
    """A FUSE mount in a foreground subprocess; ``stop()`` unmounts and waits for it to exit."""

    name = "fuse"

    def __init__(self, mountpoint: Path, log_file: Path) -> None:
        self.mountpoint = mountpoint
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None
        self.peak_rss_mib: float | None = None

    def command(self) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise BenchError(f"{self.name} is not mounted")
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> FuseMount:
        if os.path.ismount(self.mountpoint):  # left over by a killed run
            subprocess.run([_FUSERMOUNT, "-u", "-z", str(self.mountpoint)], check=False)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        cmd, env = self.command()
        with self.log_file.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd, env={**os.environ, **env}, stdout=out, stderr=out, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + timeout
        while not os.path.ismount(self.mountpoint):
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} mount exited {self.proc.returncode}; see log")
            if time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"{self.name} did not mount within {timeout:.0f} s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            self.peak_rss_mib = peak_rss_mib(proc.pid)
        if os.path.ismount(self.mountpoint):
            result = subprocess.run(
                [_FUSERMOUNT, "-u", str(self.mountpoint)], capture_output=True, check=False
            )
            if result.returncode != 0:
                time.sleep(0.5)
                subprocess.run([_FUSERMOUNT, "-u", "-z", str(self.mountpoint)], check=False)
        _stop_process(proc, signal.SIGTERM, 20.0)
        self.proc = None

    def __enter__(self) -> FuseMount:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class BsMount(FuseMount):
    name = "bsmount"

    def __init__(
        self, mountpoint: Path, log_file: Path, api_url: str, extra_args: tuple[str, ...] = ()
    ) -> None:
        super().__init__(mountpoint, log_file)
        self.api_url = api_url
        self.extra_args = extra_args

    def command(self) -> tuple[list[str], dict[str, str]]:
        cmd = [sys.executable, "-m", "bsmount", "mount", str(self.mountpoint), "--foreground"]
        cmd += ["--log-file", str(self.log_file), *self.extra_args]
        env = {"BASESPACE_API_SERVER": self.api_url, "BASESPACE_ACCESS_TOKEN": TOKEN}
        return cmd, env


class CeilingMount(FuseMount):
    """:mod:`bench.ceiling_fs`: bsmount's FUSE set-up with no network, every READ answered from
    one buffer (the ceiling of a pyfuse3 filesystem on this machine)."""

    name = "ceiling"

    def __init__(self, mountpoint: Path, log_file: Path, manifest: Path) -> None:
        super().__init__(mountpoint, log_file)
        self.manifest = manifest

    def command(self) -> tuple[list[str], dict[str, str]]:
        cmd = [sys.executable, "-m", "bench.ceiling_fs", str(self.mountpoint), str(self.manifest)]
        return cmd, {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}


class RcloneMount(FuseMount):
    """``rclone mount :http: MNT --http-url URL --read-only`` with rclone's default options."""

    name = "rclone"

    def __init__(self, mountpoint: Path, log_file: Path, url: str, config: Path) -> None:
        super().__init__(mountpoint, log_file)
        self.url = url
        self.config = config

    def command(self) -> tuple[list[str], dict[str, str]]:
        binary = which("rclone")
        if binary is None:
            raise BenchError("rclone is not installed (make bench-deps)")
        self.config.touch()  # an empty config: no "config file not found" notice
        cmd = [binary, "mount", ":http:", str(self.mountpoint), "--http-url", self.url]
        return [*cmd, "--read-only", "--config", str(self.config)], {}


def dump_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
