"""``bsmount mount``, ``bsmount unmount`` and ``bsmount status``.

``mount`` checks everything it can before mounting (credentials, mount point, FUSE, the server
and the token) and fails with one line and a non-zero exit. Without ``--foreground`` it starts
itself again in the background (the token travels in the child's environment, never in argv) and
returns only once the mount answers. A mount point left dead by a killed process ("Transport
endpoint is not connected") is cleaned up first.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import trio

from bsmount import __version__
from bsmount.config import Credentials, Defaults, MiB, MountSettings, load_credentials
from bsmount.errors import ApiError, BsmountError, ConfigError, TransportError, Unauthorized
from bsmount.logsetup import setup_logging

__all__ = ["main"]

log = logging.getLogger(__name__)

EXIT_USAGE = 2
EXIT_FAILED = 1
MOUNT_WAIT_SECONDS = 30.0


def _parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"bsmount {command}")
    parser.add_argument("mountpoint", type=Path, nargs="?" if command == "status" else None)
    if command == "mount":
        parser.add_argument("--api-server", help="API URL or region (use1, euc1, euw2, ...)")
        parser.add_argument("-c", "--config", help="config NAME (~/.basespace/NAME.cfg) or PATH")
        parser.add_argument("-f", "--foreground", action="store_true")
        parser.add_argument(
            "--metadata-ttl", type=float, default=Defaults.metadata_ttl, metavar="SECONDS"
        )
        parser.add_argument(
            "--io-timeout", type=float, default=Defaults.io_timeout, metavar="SECONDS"
        )
        parser.add_argument(
            "--cache-size", type=int, default=Defaults.cache_bytes // MiB, metavar="MIB"
        )
        parser.add_argument("--allow-other", action="store_true")
        parser.add_argument("--debug", action="store_true")
        parser.add_argument("--log-file", type=Path)
        parser.add_argument(
            "--ca-file", type=Path, metavar="PEM", help="also trust this CA for the API's TLS"
        )
        parser.add_argument("--access-token", help=argparse.SUPPRESS)
    if command == "unmount":
        parser.add_argument("--lazy", action="store_true", help="detach even if busy (last resort)")
    return parser


def main(command: str, argv: list[str]) -> int:
    args = _parser(command).parse_args(argv)
    try:
        if command == "mount":
            return _mount(args)
        if command == "unmount":
            return _unmount(args.mountpoint, lazy=args.lazy)
        return _status(args.mountpoint)
    except (ConfigError, MountError) as exc:
        print(f"bsmount {command}: {exc}", file=sys.stderr)
        return EXIT_FAILED


class MountError(BsmountError):
    """A mount or unmount precondition failed (shown as one line)."""


def _is_dead_mount(path: Path) -> bool:
    """A FUSE mount whose process is gone (ENOTCONN). ``stat`` alone can miss it: the kernel
    answers it from the root's cached attributes; ``statfs`` always asks the filesystem."""
    for probe in (os.stat, os.statvfs):
        try:
            probe(path)
        except OSError as exc:
            if exc.errno == errno.ENOTCONN:
                return True
    return False


def _fusermount() -> str:
    return shutil.which("fusermount3") or shutil.which("fusermount") or "fusermount3"


def _detach(path: Path, lazy: bool) -> subprocess.CompletedProcess[str]:
    cmd = [_fusermount(), "-u"] + (["-z"] if lazy else []) + [str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=30)


def _check_mountpoint(path: Path) -> None:
    if _is_dead_mount(path):
        log.warning("%s is a dead mount (transport endpoint not connected); cleaning up", path)
        result = _detach(path, lazy=True)
        if _is_dead_mount(path):
            raise MountError(f"{path} is a dead mount and could not be cleaned: {result.stderr}")
    if not path.exists():
        raise MountError(f"mount point {path} does not exist")
    if not path.is_dir():
        raise MountError(f"mount point {path} is not a directory")
    if os.path.ismount(path):
        raise MountError(f"{path} is already mounted (bsmount unmount {path})")
    if any(path.iterdir()):
        raise MountError(f"mount point {path} is not empty")
    if not os.path.exists("/dev/fuse"):
        raise MountError("FUSE is not available: /dev/fuse is missing (apt-get install fuse3)")


async def _check_server(creds: Credentials, ca_file: Path | None) -> str:
    from bsmount.api.client import BaseSpaceClient

    async with BaseSpaceClient(
        creds.api_server,
        creds.token,
        max_retries=2,
        io_deadline=20,
        ca_file=str(ca_file) if ca_file else None,
    ) as c:
        user = await c.current_user()
        return user.name


def _verify_credentials(creds: Credentials, ca_file: Path | None = None) -> None:
    try:
        name = trio.run(_check_server, creds, ca_file)
    except Unauthorized:
        raise MountError(f"the access token was refused by {creds.api_server}") from None
    except ApiError as exc:
        raise MountError(f"{creds.api_server} answered {exc}") from None
    except TransportError as exc:
        hint = ""
        if "CERTIFICATE_VERIFY_FAILED" in str(exc) and ca_file is None:
            hint = " (a server with a private CA? trust it with --ca-file PEM)"
        raise MountError(f"cannot reach {creds.api_server}: {exc}{hint}") from None
    log.info("token accepted for user %s", name)


def _settings(args: argparse.Namespace, creds: Credentials) -> MountSettings:
    return MountSettings(
        mountpoint=args.mountpoint.resolve(),
        credentials=creds,
        metadata_ttl=args.metadata_ttl,
        io_timeout=args.io_timeout,
        cache_bytes=args.cache_size * MiB,
        allow_other=args.allow_other,
        debug=args.debug,
        log_file=args.log_file,
        ca_file=args.ca_file,
    )


def _default_log_file(mountpoint: Path) -> Path:
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    name = str(mountpoint.resolve()).strip("/").replace("/", "_") or "root"
    return state / "bsmount" / f"{name}.log"


def _mount(args: argparse.Namespace) -> int:
    if args.access_token:
        raise ConfigError(
            "a token on the command line would show in `ps`; use BASESPACE_ACCESS_TOKEN or -c NAME"
        )
    if args.foreground:
        setup_logging(args.log_file, debug=args.debug, stderr=args.log_file is None)
    else:
        setup_logging(None, debug=args.debug, stderr=True, level=logging.WARNING)
    creds = load_credentials(args.config, args.api_server)
    if args.ca_file is not None:
        if not args.ca_file.is_file():
            raise ConfigError(f"CA file {args.ca_file} does not exist")
        args.ca_file = args.ca_file.resolve()
    _check_mountpoint(args.mountpoint)
    _verify_credentials(creds, args.ca_file)
    if args.foreground:
        from bsmount.mount.lifecycle import serve

        serve(_settings(args, creds))
        return 0
    return _daemonize(args, creds)


def _daemonize(args: argparse.Namespace, creds: Credentials) -> int:
    log_file = args.log_file or _default_log_file(args.mountpoint)
    log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    child_args = [
        sys.executable,
        "-m",
        "bsmount",
        "mount",
        str(args.mountpoint.resolve()),
        "--foreground",
        "--log-file",
        str(log_file),
        "--metadata-ttl",
        str(args.metadata_ttl),
        "--io-timeout",
        str(args.io_timeout),
        "--cache-size",
        str(args.cache_size),
    ]
    child_args += ["--allow-other"] if args.allow_other else []
    child_args += ["--debug"] if args.debug else []
    child_args += ["--ca-file", str(args.ca_file)] if args.ca_file else []
    env = dict(os.environ)
    env["BASESPACE_API_SERVER"] = creds.api_server
    env["BASESPACE_ACCESS_TOKEN"] = creds.token
    with open(log_file, "ab") as sink:
        os.chmod(log_file, 0o600)
        child = subprocess.Popen(
            child_args,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + MOUNT_WAIT_SECONDS
    while time.monotonic() < deadline:
        if os.path.ismount(args.mountpoint):
            print(f"bsmount: mounted {args.mountpoint} (pid {child.pid}, log {log_file})")
            return 0
        if child.poll() is not None:
            raise MountError(f"the mount process exited ({child.returncode}); see {log_file}")
        time.sleep(0.05)
    child.terminate()
    raise MountError(f"the mount did not answer within {MOUNT_WAIT_SECONDS:.0f} s; see {log_file}")


def _holders(path: Path) -> list[str]:
    """Processes with a cwd, root, open file or mapping under ``path``."""
    root = str(path.resolve())
    found: list[str] = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        links = [f"/proc/{pid}/cwd", f"/proc/{pid}/root"]
        try:
            links += [f"/proc/{pid}/fd/{fd}" for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        for link in links:
            try:
                target = os.readlink(link)
            except OSError:
                continue
            if target == root or target.startswith(root + "/"):
                try:
                    comm = Path(f"/proc/{pid}/comm").read_text().strip()
                except OSError:
                    comm = "?"
                found.append(f"{pid} {comm}")
                break
    return found


def _unmount(path: Path, *, lazy: bool) -> int:
    setup_logging(None, stderr=True, level=logging.WARNING)
    if not os.path.ismount(path) and not _is_dead_mount(path):
        raise MountError(f"{path} is not mounted")
    result = _detach(path, lazy)
    if result.returncode != 0:
        holders = _holders(path)
        if holders:
            raise MountError(f"{path} is busy; held by: {', '.join(holders)} (or use --lazy)")
        raise MountError(f"cannot unmount {path}: {result.stderr.strip()}")
    print(f"bsmount: unmounted {path}")
    return 0


def _status(path: Path | None) -> int:
    with open("/proc/mounts", encoding="utf-8") as mounts:
        rows = [line.split() for line in mounts if "bsmount" in line.split()[2:3][0]]
    for row in rows:
        if path is None or os.path.realpath(path) == row[1]:
            print(f"{row[1]}\t{row[2]}\t{row[3]}")
    print(f"bsmount {__version__}: {len(rows)} mount(s)")
    return 0
