"""``.launch``: ``bs launch application`` as a file of each application directory.

Written: ``field=value`` lines (``field:value`` too: the ``-o field:value`` of ``bs launch
application``), ``#`` comments and blank lines ignored, or a raw JSON launch body. Special keys:
``name`` (the AppSession's name, ``--appsession-label``; ``appsession-name`` and ``label`` mean
the same). A list field (``sample[]``, a checkbox) takes comma-separated values or the key
repeated. A key may carry ``Input.``, ``input_list.`` (``bs``'s list syntax) or ``--``. An
entity field takes ids, hrefs (``v1pre3/samples/1``, ``samples/1``), ``.id.<id>`` or mount paths
relative to the mount's root (``Projects/P/Samples/S``; symlinks such as ``.id.<id>`` links are
followed).

Everything is checked before anything is sent: an unknown field, a missing required one, a value
that is not an integer or not one of the choices, a path that is not an entity of the field's
type (:exc:`~bsmount.errors.ControlError` EINVAL, the reason in ``.error``). The server's own
refusal comes back the same way. The POST is sent once: never again once it may have reached
the server (:func:`bsmount.api.applications.launch_retry_if`).

Read: after a launch, the new AppSession (``id= name= status= path=``, the path in the mount);
before, how to write it.
"""

from __future__ import annotations

import errno
import json
import logging
import posixpath
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bsmount.api import applications
from bsmount.api.applications import ENTITY_TYPES, FormField, LaunchInput
from bsmount.api.models import AppSession
from bsmount.controls.base import (
    READ_WRITE,
    ControlBinding,
    ControlContext,
    ControlFile,
    Effect,
    Key,
    payload_text,
)
from bsmount.errors import ControlError

__all__ = [
    "NAME_KEYS",
    "LaunchFile",
    "LaunchText",
    "parse_launch",
    "resolve_inputs",
]

log = logging.getLogger("bsmount.controls")

#: Keys that name the AppSession rather than a form field.
NAME_KEYS = ("name", "appsession-name", "label")
_HREF = re.compile(r"^(?:v1pre3/|v2/)?([a-z]+)/([A-Za-z0-9][A-Za-z0-9._-]*)$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MAX_LINKS = 8  # symlinks followed when resolving one path
ACCOUNT_APPSESSIONS = "AppSessions"


@dataclass
class LaunchText:
    """A ``.launch`` payload, parsed: the session name and the values per field in order, or a
    raw JSON body."""

    name: str = ""
    values: dict[str, list[str]] = field(default_factory=dict)
    raw: dict[str, Any] | None = None


def _invalid(message: str) -> ControlError:
    return ControlError(errno.EINVAL, message)


def parse_launch(payload: bytes) -> LaunchText:
    """``field=value`` / ``field:value`` lines or a JSON object (no I/O: syntax only)."""
    text = payload_text(payload).strip()
    if not text:
        raise _invalid("empty payload: write field=value lines (see .form) or a JSON launch body")
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _invalid(f"invalid JSON: {exc.msg} at char {exc.pos}") from None
        if not isinstance(document, dict):
            raise _invalid("a JSON launch body must be an object")
        props = document.get("Properties", [])
        if not isinstance(props, list) or not all(isinstance(p, dict) for p in props):
            raise _invalid("Properties must be a list of objects {Name, Type, Content|Items}")
        return LaunchText(raw=document)
    parsed = LaunchText()
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        cut = min((i for i in (stripped.find("="), stripped.find(":")) if i >= 0), default=-1)
        if cut <= 0:
            raise _invalid(f"line {number}: expected field=value (or field:value), got {line!r}")
        key, value = stripped[:cut].strip(), stripped[cut + 1 :].strip()
        key = key.removeprefix("--").removeprefix("Input.").removeprefix("input_list.")
        if key.lower() in NAME_KEYS:
            parsed.name = value
            continue
        parsed.values.setdefault(key, []).append(value)
    if not parsed.values and not parsed.name:
        raise _invalid("no field=value line in the payload")
    return parsed


def _split(values: Sequence[str]) -> list[str]:
    """The items of a list field: each value split on commas, empty ones dropped."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


async def _entity_at(ctx: ControlContext, path: str) -> Any:
    """The entity behind the mount path ``path`` (symlinks followed, at any component)."""
    parts = [p for p in posixpath.normpath(path.strip().strip("/")).split("/") if p]
    resolved: list[str] = []
    hops = 0
    node: Any = None
    while len(resolved) < len(parts):
        here = "/".join([*resolved, parts[len(resolved)]])
        try:
            node = await ctx.resolve(here)
        except ControlError:
            raise _invalid(
                f"no such path in the mount: {path} (give paths relative to the mount's root)"
            ) from None
        target = getattr(node, "target", None)
        if target is None:
            resolved.append(parts[len(resolved)])
            continue
        hops += 1
        followed = posixpath.normpath(posixpath.join("/".join(resolved), target))
        if hops > _MAX_LINKS or followed.startswith(".."):
            raise _invalid(f"{path}: too many symlinks, or a link out of the mount")
        parts = [p for p in followed.split("/") if p] + parts[len(resolved) + 1 :]
        resolved = []
    spec = getattr(node, "spec", None)
    entity = getattr(spec, "entity", None)
    if entity is None or not getattr(entity, "id", ""):
        raise _invalid(f"{path} is not an entity's directory")
    return entity


async def _entity_href(ctx: ControlContext, form_field: FormField, value: str) -> str:
    """``v1pre3/<collection>/<id>`` for one value of an entity field."""
    collection = form_field.entity_collection
    assert collection is not None
    if value.startswith(".id."):
        value = value.removeprefix(".id.")
    if _ID.match(value):
        return f"v1pre3/{collection}/{value}"
    href = _HREF.match(value)
    if href is not None and href.group(1) in ENTITY_TYPES.values():
        if href.group(1) != collection:
            raise _invalid(
                f"{form_field.id}: {value} is one of {href.group(1)}, the field takes {collection}"
            )
        return f"v1pre3/{collection}/{href.group(2)}"
    entity = await _entity_at(ctx, value)
    kind = getattr(entity, "kind", "")
    if kind != collection:
        raise _invalid(
            f"{form_field.id}: {value} is one of {kind or 'no entity type'}, the field takes "
            f"{collection} ({form_field.type})"
        )
    return f"v1pre3/{collection}/{entity.id}"


def _check_plain(form_field: FormField, items: list[str]) -> None:
    base = form_field.type.lower().removesuffix("[]")
    for item in items:
        if base == "integer" and not re.fullmatch(r"-?\d+", item):
            raise _invalid(f"{form_field.id}: {item!r} is not an integer")
        if form_field.choices and base in ("select", "checkbox") and item not in form_field.choices:
            raise _invalid(
                f"{form_field.id}: {item!r} is not one of {', '.join(form_field.choices)}"
            )


async def resolve_inputs(
    ctx: ControlContext, form: Sequence[FormField] | None, values: Mapping[str, list[str]]
) -> list[LaunchInput]:
    """The launch inputs of ``values``, checked against ``form`` (None: no form known, values
    are sent as strings)."""
    if form is None:
        return [
            LaunchInput(key, "string", tuple(vals[-1:]), multiple=False)
            for key, vals in values.items()
        ]
    by_id = {f.id: f for f in form}
    unknown = [key for key in values if key not in by_id]
    if unknown:
        raise _invalid(
            f"unknown field {', '.join(unknown)}: this application takes "
            f"{', '.join(by_id) or 'no field'} (see .form)"
        )
    missing = [
        f.id for f in form if f.required and f.default in (None, "", []) and f.id not in values
    ]
    if missing:
        raise _invalid(f"required field missing: {', '.join(missing)} (see .form)")
    inputs: list[LaunchInput] = []
    for key, vals in values.items():
        form_field = by_id[key]
        items = _split(vals) if form_field.multiple else vals[-1:]
        if form_field.entity_collection is not None:
            if not items:
                raise _invalid(f"{key}: no value given")
            items = [await _entity_href(ctx, form_field, item) for item in items]
        else:
            _check_plain(form_field, items)
        inputs.append(LaunchInput(key, form_field.sent_type, tuple(items), form_field.multiple))
    return inputs


def _raw_body(document: Mapping[str, Any], form: Sequence[FormField] | None) -> dict[str, Any]:
    """A raw JSON launch body with ``StatusSummary``/``AutoStart`` added when missing and bare
    property names prefixed with ``Input.`` (checked against the form when there is one)."""
    body = dict(document)
    body.setdefault("StatusSummary", "AutoLaunch")
    body.setdefault("AutoStart", True)
    known = {f.id for f in form} if form is not None else None
    props = []
    for prop in body.get("Properties", []):
        prop = dict(prop)
        name = str(prop.get("Name", ""))
        if "." not in name:
            name = f"Input.{name}"
        prop["Name"] = name
        if known is not None and name.startswith("Input.") and name[6:] not in known:
            raise _invalid(f"unknown field {name[6:]}: this application takes {', '.join(known)}")
        props.append(prop)
    body["Properties"] = props
    return body


@dataclass(frozen=True)
class _Launched:
    appsession: AppSession
    application: str


class LaunchFile(ControlFile):
    name: ClassVar[str] = ".launch"
    mode: ClassVar[int] = READ_WRITE
    bs_command: ClassVar[str] = "bs launch application"
    where: ClassVar[str] = "each application and application version"
    reads: ClassVar[str] = (
        "after a launch: the new AppSession's `id= name= status= path=`; before: how to write"
    )
    writes: ClassVar[str] = (
        "`field=value` lines (`-o field:value`; `name=` the session's name), at close, or a "
        "JSON launch body: starts the analysis (sent once, never retried)"
    )

    def __init__(self) -> None:
        # the last launch per mount (its Controls) and application directory
        self._launched: weakref.WeakKeyDictionary[Any, dict[Key, _Launched]] = (
            weakref.WeakKeyDictionary()
        )

    def is_complete(self, payload: bytes) -> bool:
        """A JSON body once it parses; ``field=value`` lines only at close: writers send lines
        one ``write`` each (bash's ``printf``, Python's ``writelines``), and a launch made at the
        first line would go without the fields of the next ones."""
        text = payload.decode("utf-8", "replace").strip()
        if text.startswith("{"):
            try:
                json.loads(text)
            except json.JSONDecodeError:
                return False
            return True
        return False

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        launched = self._launched.get(ctx, {}).get(binding.directory)
        if launched is None:
            app = binding.entity
            return (
                f"# {app.name}: nothing launched from this directory yet.\n"
                "# Write field=value lines (see .form) or a JSON launch body, e.g.\n"
                "#   printf 'project-id=Projects/P\\nsample-id=Projects/P/Samples/S\\n' > .launch\n"
                "# then read this file again for the new AppSession.\n"
            ).encode()
        session = launched.appsession
        path = await _session_path(ctx, session.id)
        lines = [
            f"id={session.id}",
            f"name={session.name}",
            f"status={session.status}",
            f"path={path}",
            f"application={launched.application}",
        ]
        return ("\n".join(lines) + "\n").encode("utf-8")

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        app = binding.entity
        parsed = parse_launch(payload)
        form = await _form(ctx, app.id)
        if parsed.raw is not None:
            body = _raw_body(parsed.raw, form)
            projects = _projects_of(body["Properties"])
        else:
            inputs = await resolve_inputs(ctx, form, parsed.values)
            body = applications.launch_body(parsed.name, inputs)
            if not parsed.name:
                del body["Name"]  # the server's default: app-session-name, else app + date
            projects = _projects_of(body["Properties"])
        session = await applications.launch(ctx.client, app.id, body)
        if not session.id:
            raise ControlError(errno.EIO, "the launch answer carries no AppSession Id")
        log.info(
            "launched application %s (%s) as appsession %s %r",
            app.id,
            app.name,
            session.id,
            session.name,
        )
        self._launched.setdefault(ctx, {})[binding.directory] = _Launched(session, app.id)
        invalidate: list[Key] = [(ACCOUNT_APPSESSIONS,)]
        for project in projects:
            invalidate += [
                ("Projects", project, "AppSessions"),
                ("Projects", project, "AppResults"),
            ]
        return Effect(invalidate=tuple(invalidate))


async def _form(ctx: ControlContext, application_id: str) -> list[FormField] | None:
    record = await applications.application(ctx.client, application_id)
    return applications.parse_form(record)


def _projects_of(props: Sequence[Mapping[str, Any]]) -> list[str]:
    """The ids of the projects a launch names (its outputs go there: their lists change)."""
    found = []
    for prop in props:
        if str(prop.get("Type", "")).lower() != "project":
            continue
        match = _HREF.match(str(prop.get("Content", "")).strip())
        ident = match.group(2) if match else str(prop.get("Content", "")).strip()
        if _ID.match(ident):
            found.append(ident)
    return found


async def _session_path(ctx: ControlContext, appsession_id: str) -> str:
    """Where the AppSession is in the mount: ``AppSessions/<its name there>``."""
    link = f"{ACCOUNT_APPSESSIONS}/.id.{appsession_id}"
    try:
        node = await ctx.resolve(link)
    except Exception as exc:  # not listed yet, or the listing failed: the id link still works
        log.info("appsession %s not found in %s/: %s", appsession_id, ACCOUNT_APPSESSIONS, exc)
        return link
    target = getattr(node, "target", None)
    return f"{ACCOUNT_APPSESSIONS}/{target}" if target else link
