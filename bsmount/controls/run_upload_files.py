"""The control files of a run folder being copied into ``Runs/`` (``bs upload run``,
docs/lab.md "Uploading run folders"): ``.complete`` finishes the upload (the run becomes a
BaseSpace run), ``.abort`` abandons it, ``.status`` tells what it waits for.

They act through the mount's run uploads (:class:`RunUploads`, the FUSE adapter's
:class:`bsmount.fuse.run_writes.RunFolders`, reached as ``ctx.run_uploads``), which hold the
state of each run folder being written.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol

from bsmount.controls.base import (
    READ_ONLY,
    WRITE_ONLY,
    ControlBinding,
    ControlContext,
    ControlFile,
    Effect,
    json_bytes,
    payload_text,
)
from bsmount.errors import ControlError

__all__ = ["RunUploadAbortFile", "RunUploadCompleteFile", "RunUploadStatusFile", "RunUploads"]

Key = tuple[str, ...]


class RunUploads(Protocol):
    """The run folders being copied into ``Runs/`` (keyed by their directory)."""

    async def finish(self, directory: Key, status: str) -> Effect: ...
    def describe(self, directory: Key) -> Mapping[str, Any]: ...


def _run_uploads(ctx: ControlContext) -> RunUploads:
    found: RunUploads | None = ctx.run_uploads
    if found is None:
        raise ControlError(errno.EROFS, "this mount does not write (no run uploads)")
    return found


class _RunUploadEnd(ControlFile):
    mode: ClassVar[int] = WRITE_ONLY
    status: ClassVar[str]

    def is_complete(self, payload: bytes) -> bool:
        return payload.endswith(b"\n")

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        word = payload_text(payload).strip()
        if word != "yes":
            raise ControlError(errno.EINVAL, f"write exactly 'yes' to {self.name}, not {word!r}")
        return await _run_uploads(ctx).finish(binding.directory, self.status)


class RunUploadCompleteFile(_RunUploadEnd):
    name: ClassVar[str] = ".complete"
    bs_command: ClassVar[str] = "bs upload run (its end)"
    where: ClassVar[str] = "a run folder being copied into `Runs/`"
    writes: ClassVar[str] = (
        "`yes` marks the run's upload Completed once every file is sent: it becomes a run"
    )
    status: ClassVar[str] = "Completed"


class RunUploadAbortFile(_RunUploadEnd):
    name: ClassVar[str] = ".abort"
    where: ClassVar[str] = "a run folder being copied into `Runs/`"
    writes: ClassVar[str] = "`yes` marks the upload Failed and drops the files not sent"
    status: ClassVar[str] = "Failed"


class RunUploadStatusFile(ControlFile):
    name: ClassVar[str] = ".status"
    mode: ClassVar[int] = READ_ONLY
    where: ClassVar[str] = "a run folder being copied into `Runs/`"
    reads: ClassVar[str] = (
        "JSON: what the upload waits for (RunInfo.xml, RunParameters.xml), the run id and "
        "instrument type, files held, sent and failed"
    )

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        return json_bytes(dict(_run_uploads(ctx).describe(binding.directory)))
