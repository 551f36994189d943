"""Issue 7, "security": the token stays secret, TLS is verified, the mount is private.

- A mount with ``--debug`` is driven through listings, metadata files, reads, a refused control
  write and API errors whose bodies quote the token and a URL signature (injected by fault
  rules); the token then appears in none of: the log file, the process's stdout/stderr (exception
  texts), ``ps`` output, ``.json``, ``.curl``, ``.bsmount/config``, ``.error``; no content-URL
  signature appears in the log beyond its first 4 characters.
- A mount process killed by SIGSEGV with core dumps allowed leaves no core file (it turns them off).
- Config files: ``bsmount auth`` writes them 0600 (tests/integration/test_auth.py,
  tests/unit/test_auth.py); one readable by others gets a warning naming ``chmod 600``.
- ``--access-token`` is refused with a hint; plain ``http://`` to a non-loopback server is refused
  before anything is sent.
- TLS, against a loopback HTTPS proxy in front of the emulator with a certificate from a private
  CA (trustme): refused without the CA (also when ``SSL_CERT_FILE`` names it: the environment does
  not change what is trusted), mounted and read with ``--ca-file``.
- The mount is private: another uid (``setpriv --reuid 65534``) cannot list it; with
  ``--allow-other`` it can list but not write control files.
- The emulator refuses to listen on a non-loopback address without ``--allow-remote``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.helpers import demo_files, direct_md5, entity_dir
from tests.faults.tlsproxy import TlsProxy
from tests.mount.apiwalk import content_url
from tests.mount.mounting import DEMO_ODD_NAMES, FUSERMOUNT, Mount, fuse_marker

pytestmark = [pytest.mark.faults, fuse_marker(), DEMO_ODD_NAMES]

PROJECT = "20000001"


def _bsmount(
    *args: str, env: dict[str, str] | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bsmount", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _env(url: str, token: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASESPACE_")}
    return {**env, "BASESPACE_API_SERVER": url, "BASESPACE_ACCESS_TOKEN": token, **extra}


def _wait_mounted(path: Path, proc: subprocess.Popen[Any], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.ismount(path):
        assert proc.poll() is None, f"mount exited with {proc.returncode}"
        assert time.monotonic() < deadline, "mount did not appear"
        time.sleep(0.05)


def _unmount(path: Path, proc: subprocess.Popen[Any]) -> None:
    subprocess.run([FUSERMOUNT, "-u", str(path)], capture_output=True, check=False)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if os.path.ismount(path) or proc.returncode != 0:
        subprocess.run([FUSERMOUNT, "-u", "-z", str(path)], capture_output=True, check=False)


def test_token_appears_nowhere(
    emulator_factory: Callable[..., Any], tmp_path: Path, figures: dict[str, Any]
) -> None:
    emu = emulator_factory("demo")
    token = emu.token
    mnt, log, out = tmp_path / "mnt", tmp_path / "debug.log", tmp_path / "stdout.txt"
    mnt.mkdir()
    signature = "SECRETSIGNATUREd41d8cd98f00b204e9800998ecf8427e"
    leaky = {
        "ResponseStatus": {
            "ErrorCode": "BASESPACE.COMMON.BAD",
            "Message": f"token {token} refused; see {emu.url}/s3/x/y?Signature={signature}",
        }
    }
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bsmount",
                "mount",
                str(mnt),
                "--foreground",
                "--debug",
                "--log-file",
                str(log),
            ],
            env=_env(emu.url, token),
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    texts: dict[str, str] = {}
    try:
        _wait_mounted(mnt, proc)
        texts["ps"] = subprocess.run(
            ["ps", "axww", "-o", "args"], capture_output=True, text=True, check=True
        ).stdout
        texts["config"] = (mnt / ".bsmount" / "config").read_text()
        pdir = entity_dir(mnt / "Projects", PROJECT)
        for directory in [pdir, *[p for p in (pdir / "Samples").iterdir() if p.is_dir()][:3]]:
            for meta in (".json", ".curl", ".properties"):
                texts[f"{directory.name}/{meta}"] = (directory / meta).read_text()
        assert "$BASESPACE_ACCESS_TOKEN" in texts[f"{pdir.name}/.curl"]
        files = [(p, f) for p, f in demo_files(emu, mnt) if 0 < int(f["Size"]) < 2**20][:5]
        for path, f in files:
            assert hashlib.md5(path.read_bytes()).hexdigest() == direct_md5(emu, f["Id"])
        # API errors whose bodies quote the token and a signature, and a refused control write
        emu.add_fault(path="^/v2/appsessions$", action={"status": 400, "body": leaky})
        emu.add_fault(
            path=f"^/v1pre3/projects/{PROJECT}/properties$", action={"status": 500, "body": leaky}
        )
        with pytest.raises(OSError):
            os.listdir(pdir / "AppSessions")
        with pytest.raises(OSError):
            (pdir / ".properties").read_text()
        with pytest.raises(OSError):
            (pdir / ".properties").write_text('{"Bsmount.X": 5}\n')
        texts["error"] = (pdir / ".error").read_text()
    finally:
        _unmount(mnt, proc)
    texts["log"] = log.read_text(errors="replace")
    texts["stdout"] = out.read_text(errors="replace")
    assert "DEBUG" in texts["log"] and "/s3/" in texts["log"]  # it did log, at debug level
    leaks = [name for name, text in texts.items() if token in text]
    assert not leaks, leaks
    assert signature not in texts["log"] and signature[:8] not in texts["stdout"]
    logged = re.findall(r"Signature=([^&\s'\"]*)", texts["log"])
    assert logged and all(len(value.rstrip("…")) <= 4 for value in logged), set(logged)
    figures["security"] = {"texts_checked": len(texts), "signatures_seen_redacted": len(logged)}


def test_a_crash_writes_no_core_file(emulator: Any, tmp_path: Path) -> None:
    pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    if pattern.startswith("|") or "/" in pattern:
        pytest.skip(f"core files do not go to the working directory here ({pattern!r})")
    mnt = tmp_path / "mnt"
    mnt.mkdir()

    def allow_cores() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bsmount",
            "mount",
            str(mnt),
            "--foreground",
            "--log-file",
            str(tmp_path / "m.log"),
        ],
        env=_env(emulator.url, emulator.token),
        cwd=tmp_path,
        preexec_fn=allow_cores,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_mounted(mnt, proc)
        os.kill(proc.pid, signal.SIGSEGV)
        assert proc.wait(timeout=20) == -signal.SIGSEGV
        time.sleep(0.5)
        cores = [p.name for p in tmp_path.iterdir() if p.name.startswith("core")]
        assert not cores, cores
    finally:
        _unmount(mnt, proc)


def test_config_readable_by_others_gives_a_warning(emulator: Any, tmp_path: Path) -> None:
    cfg = tmp_path / "shared.cfg"
    cfg.write_text(f"apiServer = {emulator.url}\naccessToken = {emulator.token}\n")
    cfg.chmod(0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASESPACE_")}
    out = _bsmount("whoami", "-c", str(cfg), env=env)
    assert out.returncode == 0, out.stderr
    assert "accessible by others" in out.stderr and "chmod 600" in out.stderr
    assert emulator.token not in out.stdout + out.stderr
    cfg.chmod(0o600)
    quiet = _bsmount("whoami", "-c", str(cfg), env=env)
    assert quiet.returncode == 0 and "accessible by others" not in quiet.stderr


def test_refusals_on_the_command_line(emulator: Any, tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    secret = "f00dfeedf00dfeedf00dfeedf00dfeed"
    for args in (["--access-token", secret], [f"--access-token={secret}"]):
        out = _bsmount("mount", str(mnt), *args, env=_env(emulator.url, emulator.token))
        assert out.returncode != 0
        assert "BASESPACE_ACCESS_TOKEN" in out.stderr and secret not in out.stderr
    for server in ("http://192.0.2.10", "http://bs.example.com:8080", "http://[2001:db8::1]"):
        started = time.monotonic()
        out = _bsmount("mount", str(mnt), env=_env(server, emulator.token))
        assert out.returncode != 0 and "refusing plain http://" in out.stderr, out.stderr
        assert time.monotonic() - started < 30  # refused before trying to connect
        out = _bsmount("mount", str(mnt), "--api-server", server, env=_env(emulator.url, "x" * 32))
        assert out.returncode != 0 and "refusing plain http://" in out.stderr, out.stderr
    assert not os.path.ismount(mnt)


@pytest.fixture
def tls_emulator(emulator_factory: Callable[..., Any], tmp_path: Path) -> Iterator[Any]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    proxy = TlsProxy(ca.issue_cert("127.0.0.1", "localhost"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    try:
        emu = emulator_factory("demo", extra_args=["--blob-base-url", proxy.url])
        proxy.target = emu.port
        emu.tls_url = proxy.url
        emu.ca_file = tmp_path / "ca.pem"
        emu.proxy = proxy
        yield emu
    finally:
        proxy.close()


def test_tls_is_verified_and_a_ca_file_can_be_given(tls_emulator: Any, tmp_path: Path) -> None:
    emu = tls_emulator
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = _env(emu.tls_url, emu.token)
    refused = _bsmount("mount", str(mnt), env=env)
    assert refused.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in refused.stderr and "--ca-file" in refused.stderr
    from_env = _bsmount("mount", str(mnt), env={**env, "SSL_CERT_FILE": str(emu.ca_file)})
    assert from_env.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in from_env.stderr
    assert emu.proxy.handshake_failures >= 2
    m = Mount(emu.tls_url, emu.token, mnt, tmp_path / "tls.log", ("--ca-file", str(emu.ca_file)))
    m.start()
    try:
        assert "Projects" in os.listdir(mnt)
        files = [(p, f) for p, f in demo_files(emu, mnt) if 0 < int(f["Size"]) < 2**20][:2]
        assert files
        with httpx.Client(verify=ssl.create_default_context(cafile=str(emu.ca_file))) as direct:
            for path, f in files:  # content URLs point at the proxy too: bytes over TLS
                blob = direct.get(content_url(emu, f["Id"]))
                assert blob.status_code == 200
                assert path.read_bytes() == blob.content
        config = json.loads((mnt / ".bsmount" / "config").read_text())
        assert config["ca_file"] == str(emu.ca_file) and config["api_server"] == emu.tls_url
    finally:
        m.stop()


def _as_nobody(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", *cmd],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_mount_is_private_unless_allow_other(emulator: Any) -> None:
    base = Path(tempfile.mkdtemp(prefix="bsmount-private-"))
    base.chmod(0o755)  # another user may reach the mount point; only the mount may refuse
    mounts: list[Mount] = []
    try:
        private = Mount(emulator.url, emulator.token, base / "private", base / "private.log")
        mounts.append(private.start())
        assert os.listdir(private.path)
        denied = _as_nobody("ls", str(private.path))
        assert denied.returncode != 0 and "ermission denied" in denied.stderr, denied
        shared = Mount(
            emulator.url, emulator.token, base / "shared", base / "shared.log", ("--allow-other",)
        )
        mounts.append(shared.start())
        listed = _as_nobody("ls", str(shared.path / "Projects"))
        assert listed.returncode == 0 and listed.stdout.strip(), listed
        target = entity_dir(shared.path / "Projects", PROJECT) / ".properties"
        before = target.read_text()
        write = _as_nobody("sh", "-c", f"echo '{{\"Bsmount.Intruder\": \"x\"}}' > '{target}'")
        assert write.returncode != 0 and "ermission denied" in write.stderr, write
        assert target.read_text() == before
        assert os.stat(shared.path).st_uid == os.getuid()
    finally:
        for m in mounts:
            m.stop()
        for child in base.iterdir():
            if child.is_dir():
                child.rmdir()
            else:
                child.unlink()
        base.rmdir()


def test_the_emulator_stays_on_loopback() -> None:
    for host in ("0.0.0.0", "::", "192.0.2.1"):
        out = subprocess.run(
            [sys.executable, "-m", "bsmount", "emulator", "--host", host, "--port", "0"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.returncode == 2, (host, out.stderr)
        assert "non-loopback" in out.stderr and "--allow-remote" in out.stderr
