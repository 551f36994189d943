"""The control files of entity directories: ``.properties``, ``.trash``, ``.status``, ``.kill``
and ``.await`` — ``bs property`` (all, set, delete), ``bs delete`` (``--preserve-metadata``),
``bs get ... status``, ``bs kill`` and ``bs await`` as files."""

from __future__ import annotations

import errno
import json
import logging
from collections.abc import Callable
from typing import Any, ClassVar

from bsmount.api import actions
from bsmount.controls.base import (
    READ_ONLY,
    READ_WRITE,
    WRITE_ONLY,
    ControlBinding,
    ControlContext,
    ControlFile,
    Effect,
    json_bytes,
    payload_text,
)
from bsmount.controls.property_files import PROPERTIES_DIR
from bsmount.controls.trash_files import TRASH_KEY
from bsmount.errors import ControlError

__all__ = [
    "FINAL_STATES",
    "AwaitFile",
    "KillFile",
    "PropertiesFile",
    "StatusFile",
    "TrashFile",
    "parse_properties",
    "status_of",
]

log = logging.getLogger("bsmount.controls")

FINAL_STATES = {"complete", "aborted", "failed", "timedout", "stopped", "error", "canceled"}


def status_of(document: Any) -> str:
    """The status field of an entity's JSON (v1 envelope or bare v2)."""
    body = document.get("Response", document) if isinstance(document, dict) else {}
    status = body.get("ExecutionStatus") or body.get("Status") or ""
    return str(status)


def parse_properties(payload: bytes) -> dict[str, actions.PropertyValue | None]:
    """A JSON object ``{name: value}`` or ``name=value`` lines; bad input is a ControlError.

    None (``name=`` with no value, or JSON ``null``) asks for the property's deletion."""
    text = payload_text(payload).strip()
    if not text:
        raise ControlError(errno.EINVAL, "empty payload: write a JSON object or name=value lines")
    values: dict[str, actions.PropertyValue | None] = {}
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ControlError(errno.EINVAL, f"invalid JSON: {exc.msg} at char {exc.pos}") from None
        if not isinstance(document, dict):
            raise ControlError(errno.EINVAL, "the JSON payload must be an object {name: value}")
        values = document
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, sep, value = line.partition("=")
            if not sep or not name.strip():
                raise ControlError(errno.EINVAL, f"line {number}: expected name=value")
            values[name.strip()] = value.strip() or None
    for key, item in values.items():
        if item is None:
            continue
        try:
            actions.property_body(key, item)
        except ValueError as exc:
            raise ControlError(errno.EINVAL, str(exc)) from None
    return values


def _property_view(prop: Any) -> Any:
    value = prop.value
    if isinstance(value, dict) and "id" in value:
        return {k: value[k] for k in ("type", "id", "name") if k in value}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [{k: v[k] for k in ("type", "id", "name") if k in v} for v in value]
    return value


class PropertiesFile(ControlFile):
    name: ClassVar[str] = ".properties"
    mode: ClassVar[int] = READ_WRITE
    bs_command: ClassVar[str] = "bs <entity> property all / get / set / delete"
    where: ClassVar[str] = "every project, sample, appresult, run, appsession, dataset, biosample"
    reads: ClassVar[str] = "all properties as JSON (fresh, never cached)"
    writes: ClassVar[str] = (
        "a JSON object or `name=value` lines (at close) sets those properties; `name=` or `null`"
        " deletes one"
    )

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        entity = binding.entity
        props = await ctx.client.get_properties(entity.kind, entity.id)
        return json_bytes({p.name: _property_view(p) for p in props})

    def is_complete(self, payload: bytes) -> bool:
        """A JSON object once it parses; ``name=value`` lines only at close: bash's ``printf``
        sends one line per ``write``, and acting at the first would refuse the next ones."""
        text = payload.decode("utf-8", "replace").strip()
        if text.startswith("{"):
            try:
                json.loads(text)
            except json.JSONDecodeError:
                return False
            return True
        return False

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        entity = binding.entity
        values = parse_properties(payload)
        deletes = [name for name, value in values.items() if value is None]
        sets = {name: value for name, value in values.items() if value is not None}
        if deletes:  # refuse before sending anything when one is not there
            existing = {p.name for p in await ctx.client.get_properties(entity.kind, entity.id)}
            missing = [name for name in deletes if name not in existing]
            if missing:
                raise ControlError(
                    errno.ENOENT, f"no property named {', '.join(missing)} to delete"
                )
        if sets:
            await actions.set_properties(ctx.client, entity.kind, entity.id, sets)
        for name in deletes:
            await actions.delete_property(ctx.client, entity.kind, entity.id, name)
        log.info(
            "set %d and deleted %d properties on %s %s",
            len(sets),
            len(deletes),
            entity.kind,
            entity.id,
        )
        return Effect(invalidate=(binding.directory + (PROPERTIES_DIR,),))


class TrashFile(ControlFile):
    name: ClassVar[str] = ".trash"
    mode: ClassVar[int] = WRITE_ONLY
    bs_command: ClassVar[str] = "bs delete <entity> (move-to-trash) [--preserve-metadata]"
    where: ClassVar[str] = "projects, runs, appresults, appsessions, samples, datasets, biosamples"
    writes: ClassVar[str] = (
        "`yes` moves the entity to the trash; `preserve-metadata` only its files (not projects, "
        "biosamples)"
    )

    def is_complete(self, payload: bytes) -> bool:
        return payload.endswith(b"\n")

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        entity = binding.entity
        word = payload_text(payload).strip()
        if word == "preserve-metadata":
            if entity.kind not in actions.PRESERVE_KINDS:
                raise ControlError(
                    errno.EINVAL,
                    f"{entity.kind} have no file data of their own to trash: write 'yes' to "
                    "move the whole entity to the trash",
                )
            await actions.move_to_trash(ctx.client, entity.kind, entity.id, preserve_metadata=True)
            log.info("moved the files of %s %s to the trash", entity.kind, entity.id)
            return Effect(invalidate=(binding.directory, TRASH_KEY))
        if word != "yes":
            raise ControlError(
                errno.EINVAL,
                f"write exactly 'yes' to move to the trash, not {word!r} ('preserve-metadata' "
                "moves only its files)",
            )
        await actions.move_to_trash(ctx.client, entity.kind, entity.id)
        log.info("moved %s %s to the trash", entity.kind, entity.id)
        return Effect(invalidate=(binding.directory[:-1], TRASH_KEY), removed=(binding.directory,))


class StatusFile(ControlFile):
    name: ClassVar[str] = ".status"
    mode: ClassVar[int] = READ_ONLY
    bs_command: ClassVar[str] = "bs get <entity> -F Status / -F ExecutionStatus"
    where: ClassVar[str] = "appsessions, runs, samples"
    reads: ClassVar[str] = "live status (not cached)"

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        document = await ctx.client.get_json(binding.entity.href)
        return (status_of(document) + "\n").encode("utf-8")


class KillFile(StatusFile):
    name: ClassVar[str] = ".kill"
    mode: ClassVar[int] = READ_WRITE
    bs_command: ClassVar[str] = "bs kill appsession"
    where: ClassVar[str] = "each appsession"
    reads: ClassVar[str] = "its current status"
    writes: ClassVar[str] = "any write stops the analysis"

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        entity = binding.entity
        status = status_of(await ctx.client.get_json(entity.href))
        if status.lower() in FINAL_STATES:
            raise ControlError(
                errno.EINVAL,
                f"appsession {entity.id} is {status}: only running ones can be killed",
            )
        await actions.stop_appsession(ctx.client, entity.id)
        log.info("stopped appsession %s", entity.id)
        return Effect(invalidate=(binding.directory[:-1],))


class AwaitFile(ControlFile):
    name: ClassVar[str] = ".await"
    mode: ClassVar[int] = READ_ONLY
    bs_command: ClassVar[str] = "bs await appsession"
    where: ClassVar[str] = "each appsession (not listed, but there)"
    reads: ClassVar[str] = "blocks until the analysis ends, then its final JSON"
    unlisted: ClassVar[bool] = True  # tree walkers (cp -r, rsync, grep -r) must never block on it
    unbounded_read: ClassVar[bool] = True

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        return json_bytes(await ctx.await_final(binding.entity, interrupted))
