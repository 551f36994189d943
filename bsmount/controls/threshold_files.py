"""Lane and workflow settings as files: ``.qcthresholds`` and ``.qcthresholds.csv`` (``bs lane
threshold ...`` in ``Runs/``, ``bs workflow threshold ...`` in a workflow's directory),
``.workflowdependencies`` (``bs workflow dependency ...``) and ``.create-workflow`` (``bs create
workflow``, in an appsession's directory).

Reading a settings file exports (fresh from the server, never cached); writing it acts at close,
by what the payload says (:mod:`.threshold_formats`): a whole document imports (replaces
everything), ``add ...`` adds or updates, ``clear`` clears. Every threshold or dependency is
checked before anything is sent; a refusal is EINVAL with its reason in the directory's
``.error``, and the server's settings are left as they were.

Where a file stands says what it acts on: in ``Runs/`` (no entity) the account's lane
thresholds, in an application's directory that workflow's.
"""

from __future__ import annotations

import errno
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from bsmount.api import lanes
from bsmount.controls.base import (
    READ_WRITE,
    WRITE_ONLY,
    ControlBinding,
    ControlContext,
    ControlFile,
    Effect,
    json_bytes,
    payload_text,
)
from bsmount.controls.threshold_formats import (
    merge,
    parse_command,
    parse_thresholds,
    thresholds_csv,
    thresholds_json,
)
from bsmount.errors import ControlError

__all__ = [
    "APPLICATIONS_DIR",
    "CreateWorkflowFile",
    "QcThresholdsCsvFile",
    "QcThresholdsFile",
    "WorkflowDependenciesFile",
]

log = logging.getLogger("bsmount.controls")

APPLICATIONS_DIR = "Applications"  # where a created workflow shows (its listing is refreshed)
MAX_DEPTH = 8  # nesting of dependencies a write may carry


def _is_clear(payload: bytes) -> bool:
    """``clear`` and its newline act at once (a shell's ``>`` hides errors at close); a
    document acts at close."""
    return payload.endswith(b"\n") and payload.strip().lower() == b"clear"


def _app_id(binding: ControlBinding) -> str | None:
    """The workflow the file acts on, or None for the account's lane thresholds."""
    entity = binding.entity
    return None if entity is None else str(entity.id)


async def _get_thresholds(ctx: ControlContext, app_id: str | None) -> list[dict[str, Any]]:
    if app_id is None:
        return await lanes.get_lane_thresholds(ctx.client)
    return await lanes.get_workflow_thresholds(ctx.client, app_id)


async def _put_thresholds(
    ctx: ControlContext, app_id: str | None, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    if app_id is None:
        return await lanes.put_lane_thresholds(ctx.client, items)
    return await lanes.put_workflow_thresholds(ctx.client, app_id, items)


class QcThresholdsFile(ControlFile):
    name: ClassVar[str] = ".qcthresholds"
    mode: ClassVar[int] = READ_WRITE
    bs_command: ClassVar[str] = "bs lane threshold / bs workflow threshold"
    where: ClassVar[str] = "`Runs/` (lane thresholds), each workflow in `Applications/`"
    reads: ClassVar[str] = "the QC thresholds as JSON (`export`)"
    writes: ClassVar[str] = (
        "JSON or CSV replaces them (`import`); `add` + thresholds adds or updates; "
        "`clear` clears; at close"
    )

    def render(self, items: list[dict[str, Any]]) -> bytes:
        return thresholds_json(items)

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        return self.render(await _get_thresholds(ctx, _app_id(binding)))

    def is_complete(self, payload: bytes) -> bool:
        return _is_clear(payload)  # a document of several lines: act at close

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        command = parse_command(payload_text(payload))
        app_id = _app_id(binding)
        what = "lane QC thresholds" if app_id is None else f"QC thresholds of workflow {app_id}"
        if command.action == "clear":
            items: list[dict[str, Any]] = []
        else:
            items = parse_thresholds(command.body)
            if command.action == "add":
                items = merge(await _get_thresholds(ctx, app_id), items)
        stored = await _put_thresholds(ctx, app_id, items)
        log.info("%s: %s, %d now set", what, command.action, len(stored))
        return Effect()  # read fresh at every open: nothing cached to drop


class QcThresholdsCsvFile(QcThresholdsFile):
    name: ClassVar[str] = ".qcthresholds.csv"
    bs_command: ClassVar[str] = "bs lane/workflow threshold export -f csv, import"
    reads: ClassVar[str] = "the QC thresholds as CSV (`export -f csv`)"

    def render(self, items: list[dict[str, Any]]) -> bytes:
        return thresholds_csv(items)


def _check_dependency(raw: Any, where: str, depth: int = 0) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise ControlError(errno.EINVAL, f"{where}: dependencies nest deeper than {MAX_DEPTH}")
    if not isinstance(raw, Mapping):
        raise ControlError(errno.EINVAL, f"{where}: a dependency is an object with a Type")
    kind = raw.get("Type")
    if not isinstance(kind, str) or not kind.strip():
        raise ControlError(errno.EINVAL, f"{where}: Type is required")
    attributes = raw.get("Attributes", {})
    children = raw.get("Dependencies", [])
    if not isinstance(attributes, Mapping):
        raise ControlError(errno.EINVAL, f"{where}: Attributes must be an object")
    if not isinstance(children, list):
        raise ControlError(errno.EINVAL, f"{where}: Dependencies must be a list")
    return {
        "Type": kind,
        "Attributes": dict(attributes),
        "Dependencies": [
            _check_dependency(c, f"{where}.Dependencies[{i}]", depth + 1)
            for i, c in enumerate(children)
        ],
    }


def _parse_dependencies(text: str) -> tuple[str | None, list[dict[str, Any]]]:
    """(Version or None, dependencies) from ``{"Version", "Dependencies"}``, a list, or one."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ControlError(
            errno.EINVAL, f"not valid JSON: {exc.msg} at line {exc.lineno}"
        ) from None
    version: Any = None
    if isinstance(document, Mapping) and "Dependencies" in document and "Type" not in document:
        version = document.get("Version")
        document = document["Dependencies"]
    elif isinstance(document, Mapping):
        document = [document]
    if version is not None and (not isinstance(version, str) or not version.strip()):
        raise ControlError(errno.EINVAL, "Version must be a non-empty string")
    if not isinstance(document, list):
        raise ControlError(errno.EINVAL, 'expected {"Version", "Dependencies": [...]} or a list')
    return version, [_check_dependency(d, f"dependency {i + 1}") for i, d in enumerate(document)]


class WorkflowDependenciesFile(ControlFile):
    name: ClassVar[str] = ".workflowdependencies"
    mode: ClassVar[int] = READ_WRITE
    bs_command: ClassVar[str] = "bs workflow dependency"
    where: ClassVar[str] = "each workflow in `Applications/`"
    reads: ClassVar[str] = "the workflow's dependencies as JSON (`export`)"
    writes: ClassVar[str] = (
        '`{"Version", "Dependencies"}` replaces them (`import`); `add` + dependencies '
        "appends; `clear` clears; at close"
    )

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        return json_bytes(await lanes.get_workflow_dependencies(ctx.client, binding.entity.id))

    def is_complete(self, payload: bytes) -> bool:
        return _is_clear(payload)

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        command = parse_command(payload_text(payload))
        app_id = str(binding.entity.id)
        version: str | None = None
        added: list[dict[str, Any]] = []
        if command.action != "clear":
            version, added = _parse_dependencies(command.body)
        current = await lanes.get_workflow_dependencies(ctx.client, app_id)
        items = current["Dependencies"] + added if command.action == "add" else added
        stored = await lanes.put_workflow_dependencies(
            ctx.client, app_id, version or current["Version"] or "1", items
        )
        log.info(
            "dependencies of workflow %s: %s, %d now set",
            app_id,
            command.action,
            len(stored["Dependencies"]),
        )
        return Effect()


class CreateWorkflowFile(ControlFile):
    name: ClassVar[str] = ".create-workflow"
    mode: ClassVar[int] = WRITE_ONLY
    bs_command: ClassVar[str] = "bs create workflow"
    where: ClassVar[str] = "each appsession"
    writes: ClassVar[str] = (
        "NAME (first line) and a description (the rest): a workflow from this analysis's "
        "application and settings; shows in `Applications/`"
    )

    def is_complete(self, payload: bytes) -> bool:
        return False

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        text = payload_text(payload).strip()
        name, _, description = text.partition("\n")
        name, description = name.strip(), description.strip()
        if not name:
            raise ControlError(errno.EINVAL, "write the new workflow's name (first line)")
        if len(name) > 255:
            raise ControlError(errno.EINVAL, "a workflow name is at most 255 characters")
        session = binding.entity
        document = await ctx.client.get_json(f"v2/appsessions/{session.id}")
        application = document.get("Application") if isinstance(document, Mapping) else None
        app_id = application.get("Id") if isinstance(application, Mapping) else None
        if not app_id:
            raise ControlError(errno.EINVAL, f"appsession {session.id} names no application")
        created = await lanes.create_workflow(
            ctx.client, str(app_id), name, description, session.id
        )
        log.info(
            "workflow %s %r created from appsession %s (application %s)",
            created.get("Id", "?"),
            name,
            session.id,
            app_id,
        )
        return Effect(invalidate=((APPLICATIONS_DIR,),))
