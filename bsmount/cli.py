"""The ``bsmount`` command line: parses arguments and dispatches to the subcommands.

Subcommands: ``emulator`` (the local BaseSpace, :mod:`bsmount.emulator.server`), ``mount``,
``unmount`` and ``status`` (:mod:`bsmount.mount`), ``auth``, ``whoami`` and ``config``
(:mod:`bsmount.auth.cli`). User-facing failures exit non-zero with a
one-line message and no traceback.
"""

from __future__ import annotations

import sys

__all__ = ["main"]

USAGE = """usage: bsmount <command> [options]      (bsmount <command> --help: its options)

Mount an Illumina BaseSpace Sequence Hub account as a filesystem.

commands:
  mount MOUNTPOINT     mount a BaseSpace account (-c NAME: ~/.basespace/NAME.cfg)
  unmount MOUNTPOINT   unmount it; names the processes holding it if busy
  status [MOUNTPOINT]  active mounts, what they have in flight and rates (--watch: live)
  auth                 log in (OAuth device flow), write ~/.basespace/NAME.cfg
  whoami               the user behind the credentials
  config list|load     list configs / print export lines for eval
  emulator             run the local BaseSpace emulator (tests, demos)

options:
  -h, --help           this text
  -V, --version        print bsmount's version

docs: docs/usage.md; mount(8) and fstab: mount -t fuse.bsmount NAME MOUNTPOINT -o OPTIONS
"""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command in ("-V", "--version", "version"):
        from bsmount import __version__

        print(f"bsmount {__version__}")
        return 0
    if command == "emulator":
        from bsmount.emulator.server import main as emulator_main

        return emulator_main(rest)
    if command in ("mount", "unmount", "status"):
        from bsmount.mount.cli import main as mount_main

        return mount_main(command, rest)
    if command in ("auth", "authenticate", "whoami", "config"):
        from bsmount.auth.cli import main as auth_main

        return auth_main("auth" if command == "authenticate" else command, rest)
    print(f"bsmount: unknown command {command!r}\n{USAGE}", file=sys.stderr, end="")
    return 2
