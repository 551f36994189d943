"""``bsmount mount``, ``bsmount unmount`` and ``bsmount status`` (the last: :mod:`.status`).

``mount`` checks everything it can before mounting (credentials, mount point, FUSE, the server
and the token) and fails with one line and a non-zero exit. Without ``--foreground`` it starts
itself again in the background (the token travels in the child's environment, never in argv) and
returns only once the mount answers. A mount point left dead by a killed process ("Transport
endpoint is not connected") is cleaned up first. Mount options in ``-o`` form (fstab, mount(8))
are rewritten into this command's own options by :mod:`.options`.
"""

from __future__ import annotations

import argparse
import errno
import grp
import logging
import os
import pwd
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import trio

from bsmount.config import Credentials, Defaults, MiB, MountSettings, load_credentials
from bsmount.errors import ApiError, BsmountError, ConfigError, TransportError, Unauthorized
from bsmount.logsetup import setup_logging
from bsmount.mount.options import KERNEL_FLAGS, expand_options, mount_option_names
from bsmount.mount.status import show_status

__all__ = ["main"]

log = logging.getLogger(__name__)

EXIT_USAGE = 2
EXIT_FAILED = 1
MOUNT_WAIT_SECONDS = 30.0


MOUNT_DESCRIPTION = """\
Mount a BaseSpace account at MOUNTPOINT (an empty directory). Without --foreground the command
returns once the mount answers and the mount runs in the background; `bsmount unmount` (or
`umount`, `fusermount3 -u`) stops it. Credentials: -c NAME, else BASESPACE_API_SERVER and
BASESPACE_ACCESS_TOKEN, else ~/.basespace/default.cfg.
"""
MOUNT_OPTIONS_TEXT = (
    "mount options (-o, as in fstab): the options above by their long names, with underscores"
    " or dashes, as name=value or a flag: {names}; ro is read_only. Passed to the kernel as"
    " given: {kernel}. Accepted and ignored (read by mount(8), systemd or fstab): _netdev,"
    " nofail, noauto, auto, user, users, defaults, rw, x-*, comment=*."
)
MOUNT_EXAMPLES = """
examples:
  bsmount mount ~/BaseSpace
  bsmount mount ~/BaseSpace -c work -o cache_size=256,metadata_ttl=300
  bsmount mount /mnt/basespace -c work --foreground       # systemd, containers
  mount -t fuse.bsmount work /mnt/basespace -o allow_other,uid=1000,gid=1000,ro
"""


def _user_id(value: str) -> int:
    """A user name or a numeric uid."""
    if value.isdigit():
        return int(value)
    try:
        return pwd.getpwnam(value).pw_uid
    except KeyError:
        raise argparse.ArgumentTypeError(f"no such user: {value!r}") from None


def _group_id(value: str) -> int:
    """A group name or a numeric gid."""
    if value.isdigit():
        return int(value)
    try:
        return grp.getgrnam(value).gr_gid
    except KeyError:
        raise argparse.ArgumentTypeError(f"no such group: {value!r}") from None


def _positive(kind: type[float] | type[int]) -> Callable[[str], float | int]:
    def parse(value: str) -> float | int:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
        if number < 0:
            raise argparse.ArgumentTypeError(f"must not be negative: {value!r}")
        return number

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


_SIZE = re.compile(r"(\d+(?:\.\d*)?)\s*([KMGT]?)(I?B)?", re.IGNORECASE)
_SIZE_UNITS = {"K": 1024, "M": MiB, "G": 1024 * MiB, "T": 1024 * 1024 * MiB}


def _size(value: str) -> int:
    """``20G``, ``512M``, ``1.5T``, ``4096B``, ``0`` → bytes (binary units, ``GB`` and ``GiB``
    alike; a bare number is MiB, as in every other size option)."""
    match = _SIZE.fullmatch(value.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {value!r} (e.g. 20G, 512M)")
    number, unit, suffix = match.groups()
    scale = _SIZE_UNITS[unit.upper()] if unit else (1 if suffix else MiB)
    return int(float(number) * scale)


_size.__name__ = "size"


def _mount_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bsmount mount",
        description=MOUNT_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("mountpoint", type=Path, help="an empty directory to mount at")
    add = parser.add_argument
    add(
        "-c",
        "--config",
        metavar="NAME|PATH",
        help="credentials from ~/.basespace/NAME.cfg (as `bs -c NAME`) or a config file PATH"
        " (default: the environment, then ~/.basespace/default.cfg)",
    )
    add(
        "--api-server",
        metavar="URL|REGION",
        help="API server URL or region alias (use1, euc1, euw2, aps2, cac1, cnn1)"
        " (default: the one in the credentials)",
    )
    add(
        "-f",
        "--foreground",
        action="store_true",
        help="stay attached, for systemd (Type=notify) and containers: log to stderr unless"
        " --log-file, unmount on SIGTERM/Ctrl-C (default: off, return once mounted)",
    )
    add(
        "--metadata-ttl",
        type=_positive(float),
        default=Defaults.metadata_ttl,
        metavar="SECONDS",
        help="how long listings and attributes are reused; 0 disables caching"
        " (default: %(default)s s)",
    )
    add(
        "--io-timeout",
        type=_positive(float),
        default=Defaults.io_timeout,
        metavar="SECONDS",
        help="upper bound on any single filesystem operation; past it, EIO"
        " (default: %(default)s s)",
    )
    add(
        "--cache-size",
        type=_positive(int),
        default=Defaults.cache_bytes // MiB,
        metavar="MIB",
        help="block cache for file contents, shared by all open files (default: %(default)s MiB)",
    )
    add(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="where files being written are spooled until BaseSpace has them, and the disk"
        " cache's blocks/ (see --disk-cache-size), mode 0700"
        " (default: $XDG_CACHE_HOME/bsmount, ~/.cache/bsmount)",
    )
    add(
        "--disk-cache-size",
        type=_size,
        default=Defaults.disk_cache_bytes,
        metavar="SIZE",
        help="keep the blocks read on local disk under --cache-dir, up to SIZE (20G, 512M),"
        " shared by the mounts of the same account and kept across remounts; 0 turns it off"
        " (default: off)",
    )
    add(
        "--upload-part-size",
        type=_positive(int),
        default=Defaults.upload_part_size // MiB,
        metavar="MIB",
        help="files written go up in parts of this size, streamed while they are written;"
        " BaseSpace takes 5-25 MB parts (default: %(default)s MiB)",
    )
    add(
        "--biosample-project",
        metavar="PROJECT",
        help="the project (name or id) that `mkdir BioSamples/NAME` makes biosamples in, as"
        " `bs create biosample -p`; mkdir in Projects/<p>/BioSamples/ needs none"
        " (default: none, mkdir BioSamples/NAME is refused)",
    )
    add(
        "--allow-other",
        action="store_true",
        help="let other users (and root) use the mount; needs user_allow_other in"
        " /etc/fuse.conf unless run by root (default: off, only the mounting user)",
    )
    add(
        "--uid",
        type=_user_id,
        metavar="USER|UID",
        help="owner shown for every file; control files take writes from this user only"
        " (default: the user running the mount)",
    )
    add(
        "--gid",
        type=_group_id,
        metavar="GROUP|GID",
        help="group shown for every file (default: the group of the user running the mount)",
    )
    add(
        "--read-only",
        action="store_true",
        help="-o ro: the kernel refuses every write, control files included (default: off)",
    )
    add(
        "--fsname",
        default=MountSettings.fsname,
        metavar="NAME",
        help="the mount's source in /proc/mounts, df and findmnt; mount(8) sets it to the"
        " config name (default: %(default)s)",
    )
    add(
        "--debug",
        action="store_true",
        help="log at debug level, with libfuse's debug output (default: off, info level)",
    )
    add(
        "--log-file",
        type=Path,
        metavar="PATH",
        help="where the mount logs, mode 0600 (default: stderr with --foreground, else"
        " ~/.local/state/bsmount/<mountpoint>.log)",
    )
    add(
        "--ca-file",
        type=Path,
        metavar="PEM",
        help="also trust this CA for the API server's TLS (default: the system's CAs only)",
    )
    add(
        "-o",
        dest="options",
        metavar="OPT[,OPT...]",
        help="mount options as in fstab (see below); repeatable (default: none)",
    )
    add("--kernel-options", default="", help=argparse.SUPPRESS)
    add("--access-token", help=argparse.SUPPRESS)
    options = MOUNT_OPTIONS_TEXT.format(
        names=", ".join(mount_option_names(parser)), kernel=", ".join(sorted(KERNEL_FLAGS))
    )
    parser.epilog = textwrap.fill(options, width=96) + "\n" + MOUNT_EXAMPLES
    return parser


def _parser(command: str) -> argparse.ArgumentParser:
    if command == "mount":
        return _mount_parser()
    if command == "unmount":
        parser = argparse.ArgumentParser(
            prog="bsmount unmount",
            description="Unmount a bsmount mount; if it is busy, name the processes holding it.",
        )
        parser.add_argument("mountpoint", type=Path, help="where it is mounted")
        parser.add_argument(
            "--lazy",
            action="store_true",
            help="detach even if busy; it goes once the last user lets go (default: off)",
        )
        return parser
    parser = argparse.ArgumentParser(
        prog="bsmount status",
        description="Active bsmount mounts and, from each one's .bsmount/stats, what is in"
        " flight (filesystem operations, reads, .await waits, uploads) with rates over"
        " --interval.",
    )
    parser.add_argument(
        "mountpoint", type=Path, nargs="?", help="show only this mount (default: all)"
    )
    parser.add_argument(
        "-w",
        "--watch",
        action="store_true",
        help="refresh every --interval until Ctrl-C (default: off, print once)",
    )
    parser.add_argument(
        "-n",
        "--interval",
        type=_positive(float),
        default=Defaults.status_interval,
        metavar="SECONDS",
        help="time between the two samples that rates come from, and between refreshes"
        " with --watch; 0: no rates (default: %(default)s s)",
    )
    parser.add_argument(
        "--count",
        type=int,
        metavar="N",
        help="with --watch, stop after N refreshes (default: until Ctrl-C)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print each mount's raw statistics as JSON lines (default: a table for people)",
    )
    return parser


def main(command: str, argv: list[str]) -> int:
    parser = _parser(command)
    try:
        if command == "mount":
            args = parser.parse_args(expand_options(argv, parser))
            return _mount(args)
        args = parser.parse_args(argv)
        if command == "unmount":
            return _unmount(args.mountpoint, lazy=args.lazy)
        return show_status(
            args.mountpoint,
            watch=args.watch,
            interval=args.interval,
            count=args.count,
            as_json=args.json,
        )
    except (ConfigError, MountError) as exc:
        print(f"bsmount {command}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130 if command != "status" else 0


def check_arguments(argv: list[str]) -> int:
    """Parse ``bsmount mount`` arguments and options only (``mount -f``: a fake mount)."""
    parser = _mount_parser()
    try:
        parser.parse_args(expand_options(argv, parser))
    except ConfigError as exc:
        print(f"bsmount mount: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0


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
        cache_dir=args.cache_dir.resolve() if args.cache_dir else None,
        disk_cache_bytes=args.disk_cache_size,
        upload_part_size=args.upload_part_size * MiB,
        allow_other=args.allow_other,
        biosample_project=args.biosample_project,
        uid=args.uid,
        gid=args.gid,
        read_only=args.read_only,
        kernel_options=tuple(o for o in args.kernel_options.split(",") if o),
        fsname=args.fsname,
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
        "--upload-part-size",
        str(args.upload_part_size),
        "--disk-cache-size",
        f"{args.disk_cache_size}B",
    ]
    child_args += ["--cache-dir", str(args.cache_dir.resolve())] if args.cache_dir else []
    child_args += ["--allow-other"] if args.allow_other else []
    if args.biosample_project:
        child_args += ["--biosample-project", args.biosample_project]
    child_args += ["--uid", str(args.uid)] if args.uid is not None else []
    child_args += ["--gid", str(args.gid)] if args.gid is not None else []
    child_args += ["--read-only"] if args.read_only else []
    child_args += ["--kernel-options", args.kernel_options] if args.kernel_options else []
    child_args += ["--fsname", args.fsname]
    child_args += ["--debug"] if args.debug else []
    child_args += ["--ca-file", str(args.ca_file)] if args.ca_file else []
    env = dict(os.environ)
    env["BASESPACE_API_SERVER"] = creds.api_server
    env["BASESPACE_ACCESS_TOKEN"] = creds.token
    # readiness is this process's to report (it returns once mounted), not the child's
    env.pop("NOTIFY_SOCKET", None)
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
