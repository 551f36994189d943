"""The mount's own control files: ``.commands`` at the root (BaseMount's command words) and
``.bsmount/{stats,version,config}``."""

from __future__ import annotations

import errno
import time
from collections.abc import Callable
from typing import ClassVar

from bsmount.api import actions
from bsmount.controls.base import (
    READ_WRITE,
    ControlBinding,
    ControlContext,
    ControlFile,
    Effect,
    json_bytes,
    payload_text,
)
from bsmount.controls.trash_files import TRASH_KEY, restore_path
from bsmount.errors import ControlError

__all__ = [
    "COMMAND_WORDS",
    "CommandsFile",
    "ConfigFile",
    "StatsFile",
    "UploadsFile",
    "VersionFile",
]

COMMAND_WORDS = {
    "refresh": "drop cached metadata of the whole mount (kernel caches included)",
    "move-to-trash PATH": "move the entity at PATH (relative to the mount) to the trash",
    "restore-from-trash PATH": "restore the Trash/ item at PATH (e.g. Trash/MySample)",
    "unmount": "unmount this filesystem",
}


class CommandsFile(ControlFile):
    name: ClassVar[str] = ".commands"
    mode: ClassVar[int] = READ_WRITE
    bs_command: ClassVar[str] = "basemount-cmd (BaseMount)"
    where: ClassVar[str] = "mount root"
    reads: ClassVar[str] = "the accepted words"
    writes: ClassVar[str] = (
        "BaseMount words: `refresh`, `move-to-trash PATH`, `restore-from-trash PATH`, `unmount`"
    )

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        return "".join(f"{w}\t{d}\n" for w, d in COMMAND_WORDS.items()).encode("utf-8")

    def is_complete(self, payload: bytes) -> bool:
        return payload.endswith(b"\n")

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        line = payload_text(payload).strip()
        word, _sep, argument = line.partition(" ")
        if word == "refresh" and not argument:
            return Effect(invalidate=((),))
        if word == "unmount" and not argument:
            return Effect(unmount=True)
        if word == "move-to-trash" and argument:
            node = await ctx.resolve(argument)
            entity = node.spec.entity if node.spec is not None else None
            if entity is None or entity.kind not in actions.TRASH_KINDS:
                raise ControlError(errno.EINVAL, f"{argument} is not an entity that can be trashed")
            await actions.move_to_trash(ctx.client, entity.kind, entity.id)
            return Effect(invalidate=(node.key[:-1], TRASH_KEY), removed=(node.key,))
        if word == "restore-from-trash" and argument:
            return await restore_path(ctx, argument)
        raise ControlError(errno.EINVAL, f"unknown command {line!r}; read .commands for the list")


class StatsFile(ControlFile):
    name: ClassVar[str] = "stats"
    where: ClassVar[str] = "`.bsmount/`"
    reads: ClassVar[str] = (
        "statistics: API requests, bytes, caches, handles, errors by errno, GC pauses, uptime"
    )

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        uptime = round(time.time() - ctx.started, 1)
        return json_bytes({**ctx.statistics(), "uptime_seconds": uptime})


class UploadsFile(ControlFile):
    name: ClassVar[str] = "uploads"
    where: ClassVar[str] = "`.bsmount/`"
    reads: ClassVar[str] = (
        "files being written or uploaded: bytes written and sent, parts, rate, errors"
    )

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        return json_bytes(ctx.statistics().get("uploads", {}))


class VersionFile(ControlFile):
    name: ClassVar[str] = "version"
    where: ClassVar[str] = "`.bsmount/`"
    reads: ClassVar[str] = "versions of bsmount and pyfuse3"

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        return "".join(f"{name} {version}\n" for name, version in ctx.versions.items()).encode()


class ConfigFile(ControlFile):
    name: ClassVar[str] = "config"
    where: ClassVar[str] = "`.bsmount/`"
    reads: ClassVar[str] = "effective settings (token redacted)"

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        return json_bytes(dict(ctx.settings))
