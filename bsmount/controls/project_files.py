"""``.description`` in each project: ``bs create project --description`` after the fact.

``mkdir Projects/<name>`` creates a project with no description (a directory name is all mkdir
gives); ``echo "text" > Projects/<name>/.description`` then sets it, and reading it gives the
project's description as the server has it now.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from typing import ClassVar

from bsmount.api import actions
from bsmount.controls.base import (
    READ_WRITE,
    ControlBinding,
    ControlContext,
    ControlFile,
    Effect,
    payload_text,
)
from bsmount.errors import ControlError

__all__ = ["MAX_DESCRIPTION", "DescriptionFile"]

log = logging.getLogger("bsmount.controls")

MAX_DESCRIPTION = 4096  # [G] characters a description may have (the reference gives no limit)


class DescriptionFile(ControlFile):
    name: ClassVar[str] = ".description"
    mode: ClassVar[int] = READ_WRITE
    bs_command: ClassVar[str] = "bs create project --description"
    where: ClassVar[str] = "each project"
    reads: ClassVar[str] = "the project's description (fresh, never cached)"
    writes: ClassVar[str] = (
        "sets the description to what is written (one trailing newline dropped), at close"
    )

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        document = await ctx.client.get_json(binding.entity.href)
        body = document.get("Response", document) if isinstance(document, dict) else {}
        text = str(body.get("Description") or "")
        return (text + "\n").encode("utf-8") if text else b""

    def is_complete(self, payload: bytes) -> bool:
        return False  # free text, possibly several lines: act at close

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        entity = binding.entity
        text = payload_text(payload)
        text = text[:-1] if text.endswith("\n") else text
        if len(text) > MAX_DESCRIPTION:
            raise ControlError(
                errno.EINVAL, f"a description is at most {MAX_DESCRIPTION} characters"
            )
        await actions.update_project_description(ctx.client, entity.id, text)
        log.info("set the description of project %s (%d characters)", entity.id, len(text))
        return Effect()  # nothing listed shows it: .json and .description are read fresh
