"""``mount.fuse.bsmount``: the helper mount(8) runs for ``mount -t fuse.bsmount`` and fstab.

mount(8) looks for ``/sbin/mount.fuse.bsmount`` (``make install`` links it to this entry point;
a pip user links it by hand, see docs/usage.md) and calls it as::

    mount.fuse.bsmount SOURCE MOUNTPOINT [-sfnv] [-N NAMESPACE] [-o OPTIONS] [-t TYPE]

SOURCE is the bs config name (``~/.basespace/SOURCE.cfg``, as ``bs -c SOURCE``) or a config
file's path. The helper turns that into ``bsmount mount MOUNTPOINT -c SOURCE -o OPTIONS`` (the
options are read by :mod:`.options`) and, like ``mount.fuse3``, returns once the mount answers,
the mount itself running on in the background with its log in a file. ``setuid=USER`` mounts as
that user (its own ``~/.basespace``, its own log); with no ``HOME`` (early boot) ``/root`` is
used, again as ``mount.fuse3`` does. ``-f`` (fake) checks the arguments and mounts nothing.
"""

from __future__ import annotations

import os
import pwd
import sys

__all__ = ["main"]

USAGE = "usage: mount.fuse.bsmount CONFIG-NAME|CONFIG-PATH MOUNTPOINT [-o OPTIONS]"


def _become(user: str) -> None:
    """Switch to ``user`` (fstab ``setuid=USER``): its groups, uid and HOME."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise SystemExit(f"mount.fuse.bsmount: no such user {user!r} (setuid=)") from None
    if os.getuid() != entry.pw_uid:
        os.initgroups(entry.pw_name, entry.pw_gid)
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
    os.environ["HOME"] = entry.pw_dir
    os.environ["USER"] = os.environ["LOGNAME"] = entry.pw_name
    os.environ.pop("XDG_STATE_HOME", None)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    if len(args) < 2:
        print(USAGE, file=sys.stderr)
        return 1
    source, mountpoint, rest = args[0], args[1], args[2:]
    options: list[str] = []
    setuid = ""
    fake = False
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg in ("-o", "-t", "-N") and i + 1 < len(rest):
            if arg == "-o":
                for item in rest[i + 1].split(","):
                    if item.startswith("setuid="):
                        setuid = item[len("setuid=") :]
                    elif item:
                        options.append(item)
            i += 2
            continue
        if arg.startswith("-") and set(arg[1:]) <= set("sfnvi"):
            fake = fake or "f" in arg  # -s sloppy, -n no mtab, -v verbose, -i: nothing to do
            i += 1
            continue
        print(f"mount.fuse.bsmount: unexpected argument {arg!r}\n{USAGE}", file=sys.stderr)
        return 1
    if setuid:
        _become(setuid)
    elif not os.environ.get("HOME"):
        os.environ["HOME"] = "/root"
    if not any(item.startswith("fsname=") for item in options):
        options.insert(0, f"fsname={source}")  # what mount -a compares with the fstab line
    command = [mountpoint, "-c", source, "-o", ",".join(options)]
    if fake:
        from bsmount.mount.cli import check_arguments

        return check_arguments(command)
    from bsmount.mount.cli import main as mount_main

    return mount_main("mount", command)
