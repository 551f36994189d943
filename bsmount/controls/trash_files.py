"""The trash's control files: ``Trash/<item>/.restore`` (``POST v2/trash/{id}/restorefromtrash``)
and ``Trash/.empty`` (``DELETE v2/trash``), and ``restore-from-trash PATH`` of ``.commands``.

A restore's binding carries a :class:`RestoreTarget`: the trash item and the keys of the tree
where its entity lives again (declared with the trash kinds in :mod:`bsmount.tree.kinds`), so
both the trash and the entity's place are listed afresh. The ``Trash/`` directory itself is
:mod:`bsmount.tree.trash_layout`'s.
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from bsmount.api import actions
from bsmount.controls.base import (
    WRITE_ONLY,
    ControlBinding,
    ControlContext,
    ControlFile,
    Effect,
    Key,
    payload_text,
)
from bsmount.errors import ControlError

__all__ = [
    "TRASH_DIR",
    "TRASH_KEY",
    "EmptyTrashFile",
    "RestoreFile",
    "RestoreTarget",
    "restore_path",
]

log = logging.getLogger("bsmount.controls")

#: The trash's directory at the mount's root, and its key.
TRASH_DIR = "Trash"
TRASH_KEY: Key = (TRASH_DIR,)


@dataclass(frozen=True, slots=True)
class RestoreTarget:
    """What ``.restore`` brings back: the trash item (:class:`bsmount.api.trash.TrashItem`) and
    the keys whose listings show its entity again."""

    item: Any
    places: tuple[Key, ...] = ()


def _yes(payload: bytes, what: str) -> None:
    word = payload_text(payload).strip()
    if word != "yes":
        raise ControlError(errno.EINVAL, f"write exactly 'yes' to {what}, not {word!r}")


class RestoreFile(ControlFile):
    name: ClassVar[str] = ".restore"
    mode: ClassVar[int] = WRITE_ONLY
    bs_command: ClassVar[str] = "basemount-cmd restore-from-trash (BaseMount)"
    where: ClassVar[str] = "each item in `Trash/`"
    writes: ClassVar[str] = "`yes` restores it: back at its place, gone from `Trash/`"

    def is_complete(self, payload: bytes) -> bool:
        return payload.endswith(b"\n")

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        _yes(payload, "restore it from the trash")
        target = binding.entity
        assert isinstance(target, RestoreTarget)
        await actions.restore_from_trash(ctx.client, target.item.id)
        log.info("restored trash item %s (%s)", target.item.id, target.item.name)
        return Effect(
            invalidate=(binding.directory[:-1], *target.places), removed=(binding.directory,)
        )


class EmptyTrashFile(ControlFile):
    name: ClassVar[str] = ".empty"
    mode: ClassVar[int] = WRITE_ONLY
    where: ClassVar[str] = "`Trash/`"
    writes: ClassVar[str] = (
        "`yes` deletes everything in the trash for good (the web UI's Empty Trash; `bs` has none)"
    )

    def is_complete(self, payload: bytes) -> bool:
        return payload.endswith(b"\n")

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        _yes(payload, "empty the trash for good")
        await actions.empty_trash(ctx.client)
        log.info("emptied the trash")
        return Effect(invalidate=(binding.directory,))


async def restore_path(ctx: ControlContext, path: str) -> Effect:
    """``restore-from-trash PATH``: what ``echo yes > PATH/.restore`` does."""
    await ctx.resolve(path)  # ENOENT when there is nothing there
    try:
        restore = await ctx.resolve(f"{path.strip().rstrip('/')}/{RestoreFile.name}")
    except (ControlError, NotADirectoryError):  # nothing called .restore, or PATH is a file
        restore = None
    binding = getattr(restore, "control", None)
    if binding is None or not isinstance(binding.file, RestoreFile):
        raise ControlError(errno.EINVAL, f"{path} is not an item of {TRASH_DIR}/")
    return await binding.file.write(ctx, binding, b"yes\n")
