"""Mount options in ``-o`` form (fstab, ``mount -t fuse.bsmount``, ``bsmount mount -o``).

:func:`expand_options` rewrites each ``-o a,b=c`` of an argument list into the long options of
``bsmount mount`` before argparse sees them, so every option of that command is also a mount
option, named as in fstab (``cache_size=128`` or ``cache-size=128`` is ``--cache-size 128``,
``allow_other`` is ``--allow-other``) and nothing is listed twice. Besides them:

* ``ro`` is ``--read-only``; ``uid=`` and ``gid=`` (a number or a name) are ``--uid``/``--gid``;
* generic VFS flags (``nosuid``, ``nodev``, ``noexec``, ``noatime``...) go to the kernel as given;
* what only mount(8), systemd or fstab read (``_netdev``, ``nofail``, ``noauto``, ``user``,
  ``defaults``, ``rw``, ``x-*``, ``comment=``) is accepted and ignored, as ``mount.fuse3`` does.

An unknown option is an error that names it. ``access_token=`` is refused like
``--access-token``: a token in a mount option would show in ``ps`` and in ``/proc/mounts``.
"""

from __future__ import annotations

import argparse

from bsmount.errors import ConfigError

__all__ = ["IGNORED", "KERNEL_FLAGS", "NOT_MOUNT_OPTIONS", "expand_options", "mount_option_names"]

#: Read by mount(8), systemd or fstab conventions, never by the filesystem.
IGNORED = frozenset(
    {"", "defaults", "auto", "noauto", "user", "nouser", "users", "owner", "group", "_netdev"}
    | {"nofail", "rw", "fail"}
)
IGNORED_PREFIXES = ("x-", "comment=")
#: Generic VFS flags that libfuse passes to mount(2).
KERNEL_FLAGS = frozenset(
    {"nosuid", "suid", "nodev", "dev", "noexec", "exec", "sync", "async", "dirsync"}
    | {"atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime", "strictatime"}
    | {"lazytime", "nolazytime"}
)
#: Options of ``bsmount mount`` that have no ``-o`` form: the config is the mount's source,
#: foreground is how the helper runs, and a token never goes on a command line.
NOT_MOUNT_OPTIONS = frozenset(
    {"config", "foreground", "access_token", "options", "help", "kernel_options"}
)
ALIASES = {"ro": "read_only"}


def _flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """``name_with_underscores`` → the action of ``--name-with-underscores``."""
    found: dict[str, argparse.Action] = {}
    for action in parser._actions:
        if action.dest in NOT_MOUNT_OPTIONS:
            continue
        for flag in action.option_strings:
            if flag.startswith("--"):
                found[flag[2:].replace("-", "_")] = action
    return found


def mount_option_names(parser: argparse.ArgumentParser) -> list[str]:
    """The ``-o`` names of the command's own options (for help and docs)."""
    return sorted(_flags(parser))


def _translate(item: str, flags: dict[str, argparse.Action], kernel: list[str]) -> list[str]:
    name, has_value, value = item.strip().partition("=")
    key = name.strip().replace("-", "_")
    if item.strip() in IGNORED or item.strip().startswith(IGNORED_PREFIXES):
        return []
    if key in KERNEL_FLAGS and not has_value:
        kernel.append(key)
        return []
    if key == "access_token":
        raise ConfigError(
            "a token in a mount option would show in `ps`; use BASESPACE_ACCESS_TOKEN or a config"
        )
    key = ALIASES.get(key, key)
    action = flags.get(key)
    if action is None:
        raise ConfigError(f"unknown mount option {name!r} (bsmount mount --help lists them)")
    flag = f"--{key.replace('_', '-')}"
    takes_value = action.nargs != 0
    if takes_value and not has_value:
        raise ConfigError(f"mount option {name!r} needs a value ({name}={action.metavar or 'X'})")
    if not takes_value and has_value:
        raise ConfigError(f"mount option {name!r} takes no value")
    return [flag, value] if takes_value else [flag]


def expand_options(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """``argv`` with each ``-o OPTS`` (also ``-oOPTS``, ``--options OPTS``) replaced by long
    options; kernel flags are gathered into one ``--kernel-options a,b`` at the end."""
    flags = _flags(parser)
    out: list[str] = []
    kernel: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        value: str | None = None
        if arg in ("-o", "--options"):
            if i + 1 >= len(argv):
                raise ConfigError(f"{arg} needs a value (-o name=value,flag,...)")
            value, i = argv[i + 1], i + 2
        elif arg.startswith("-o") and not arg.startswith("--"):
            value, i = arg[2:], i + 1
        elif arg.startswith("--options="):
            value, i = arg[len("--options=") :], i + 1
        else:
            out.append(arg)
            i += 1
            continue
        for item in value.split(","):
            out += _translate(item, flags, kernel)
    if kernel:
        out += ["--kernel-options", ",".join(dict.fromkeys(kernel))]
    return out
