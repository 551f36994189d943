"""The control files every directory has: ``.refresh`` (drop cached metadata of the subtree)
and ``.error`` (the last refused action in the directory, and why)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from bsmount.controls.base import (
    READ_ONLY,
    WRITE_ONLY,
    ControlBinding,
    ControlContext,
    ControlFile,
    Effect,
)

__all__ = ["ErrorFile", "RefreshFile"]


class RefreshFile(ControlFile):
    name: ClassVar[str] = ".refresh"
    mode: ClassVar[int] = WRITE_ONLY
    where: ClassVar[str] = "every directory"
    writes: ClassVar[str] = "any write drops cached metadata of this subtree"

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        return Effect(invalidate=(binding.directory,))


class ErrorFile(ControlFile):
    name: ClassVar[str] = ".error"
    mode: ClassVar[int] = READ_ONLY
    where: ClassVar[str] = "every directory"
    reads: ClassVar[str] = "the last refused action in this directory and why"

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        return ctx.error_text(binding.directory)
