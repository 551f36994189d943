"""The control files of an AppResult being written: ``.complete`` and ``.abort`` — BaseMount's
``mark-as-complete`` and ``bs`` setting an AppSession's status — which end its AppSession, after
which nothing more can be added to it."""

from __future__ import annotations

import errno
import logging
from typing import ClassVar

from bsmount.api import uploads
from bsmount.controls.base import (
    WRITE_ONLY,
    ControlBinding,
    ControlContext,
    ControlFile,
    Effect,
    payload_text,
)
from bsmount.errors import ControlError

__all__ = ["AbortFile", "CompleteFile"]

log = logging.getLogger("bsmount.controls")


class _SessionEnd(ControlFile):
    """Writing ``yes`` ends the AppResult's AppSession with :attr:`status`."""

    mode: ClassVar[int] = WRITE_ONLY
    status: ClassVar[str]
    summary: ClassVar[str]

    def is_complete(self, payload: bytes) -> bool:
        return payload.endswith(b"\n")

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        entity = binding.entity
        word = payload_text(payload).strip()
        if word != "yes":
            raise ControlError(errno.EINVAL, f"write exactly 'yes' to {self.name}, not {word!r}")
        busy = ctx.uploads_in_flight(entity.id)
        if busy:
            raise ControlError(
                errno.EBUSY,
                f"{busy} file(s) of appresult {entity.id} are still being written or uploaded",
            )
        session_id = entity.appsession_id
        if not session_id:
            raise ControlError(errno.EINVAL, f"appresult {entity.id} has no appsession")
        await uploads.set_appsession_status(ctx.client, session_id, self.status, self.summary)
        log.info("appsession %s of appresult %s is now %s", session_id, entity.id, self.status)
        return Effect(
            invalidate=(binding.directory[:-1], binding.directory[:-2] + ("AppSessions",)),
            sessions=(entity.id,),
        )


class CompleteFile(_SessionEnd):
    name: ClassVar[str] = ".complete"
    bs_command: ClassVar[str] = "basemount-cmd mark-as-complete"
    where: ClassVar[str] = "each appresult"
    writes: ClassVar[str] = "`yes` sets its appsession Complete: no more files can be added"
    status: ClassVar[str] = "Complete"
    summary: ClassVar[str] = "Uploaded through bsmount"


class AbortFile(_SessionEnd):
    name: ClassVar[str] = ".abort"
    bs_command: ClassVar[str] = "bs appsession (status Aborted)"
    where: ClassVar[str] = "each appresult"
    writes: ClassVar[str] = "`yes` sets its appsession Aborted"
    status: ClassVar[str] = "Aborted"
    summary: ClassVar[str] = "Aborted through bsmount"
