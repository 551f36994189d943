"""Checking a launch body against an app's input form: :func:`read_launch`.

The body of ``POST v1pre3/applications/{id}/appsessions`` (upload-launch.md §3.1)::

    {"Name": "...", "StatusSummary": "AutoLaunch", "AutoStart": true, "AgentId": "...",
     "Properties": [{"Name": "Input.project-id", "Type": "project",
                     "Content": "v1pre3/projects/123"},
                    {"Name": "Input.sample-id", "Type": "sample[]",
                     "items": ["v1pre3/samples/456"]}]}

Keys are case-insensitive (``items`` and ``Items`` both work). Every property is checked in
order, then the required fields; the first problem is raised (nothing is created):
``BASESPACE.PROPERTIES.NAME_INVALID`` (fewer than two segments, the live message),
``BASESPACE.APPLICATIONS.*`` [G] for unknown or duplicate inputs, wrong types, bad values and
missing required fields, and the state's own refusals (404/403/410) for entities the caller cannot
read. Fields left out take their form default. The result is a :class:`LaunchPlan`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.applications import AppVersion, FormField
from bsmount.emulator.state.errors import InvalidRequest
from bsmount.emulator.state.model import (
    REF_TYPES,
    Project,
    Property,
    User,
    href_id,
    valid_id,
)
from bsmount.emulator.state.tables import utcnow

__all__ = ["INPUT_PREFIX", "LaunchPlan", "read_launch"]

INPUT_PREFIX = "Input."
SESSION_NAME_FIELD = "app-session-name"

# "2 or more segments split by a period. Each segment may contain letters, numbers, '-', and
# '_'. First segment must start with a letter or number." (the live message, upload-launch §3.1)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_APP = "BASESPACE.APPLICATIONS."


@dataclass
class LaunchPlan:
    """A validated launch: the session's name, whether it starts, its inputs by field id (as
    the ``Input.*`` properties the session will carry) and its output project."""

    app: AppVersion
    name: str
    auto_start: bool
    inputs: dict[str, Property]
    project: Project


def _problem(code: str, message: str) -> InvalidRequest:
    return InvalidRequest(code, message)


def _invalid_request(message: str) -> InvalidRequest:
    return InvalidRequest("BASESPACE.COMMON.INVALID_REQUEST", message)


def _name_invalid(name: str) -> InvalidRequest:
    return _problem(
        "BASESPACE.PROPERTIES.NAME_INVALID",
        f"Property name: {name} must contain 2 or more segments split by a period. Each segment"
        " may contain letters, numbers, '-', and '_'. First segment must start with a letter"
        " or number.",
    )


def _lowered(value: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in value.items()}


def _reference_id(kind: str, value: Any, where: str) -> str:
    """The id in ``value``: an id or an href (``v1pre3/samples/1``, ``https://.../v2/...``)."""
    if not isinstance(value, str) or not value.strip():
        raise _problem(_APP + "INVALID_INPUT_VALUE", f"{where}: expected an id or href string")
    entity_id = href_id(kind, value)
    if entity_id is None:
        raise _problem(
            _APP + "INVALID_INPUT_VALUE", f"{where}: {value!r} is not an href of a {kind[:-1]}"
        )
    if not valid_id(kind, entity_id):
        raise _problem(
            _APP + "INVALID_INPUT_VALUE", f"{where}: {entity_id!r} is not a {kind[:-1]} id"
        )
    return entity_id


def _input(
    state: EmulatorState, user: User, spec: FormField, item: Mapping[str, Any], where: str
) -> Property:
    """One ``Input.<field>`` property, checked against its field."""
    name = INPUT_PREFIX + spec.id
    wanted = spec.property_type
    raw_type = item.get("type")
    given = raw_type.strip().lower() if isinstance(raw_type, str) else ""
    if given != wanted:
        raise _problem(
            _APP + "INVALID_INPUT_TYPE",
            f"{where}: the field {spec.id!r} ({spec.type}) takes Type {wanted!r}, not {raw_type!r}",
        )
    is_array = wanted.endswith("[]")
    content, items = item.get("content"), item.get("items")
    if is_array and (content is not None or not isinstance(items, list)):
        raise _problem(
            _APP + "INVALID_INPUT_TYPE", f"{where}: a {wanted} input takes items (a list)"
        )
    if not is_array and (items is not None or content is None):
        raise _problem(_APP + "INVALID_INPUT_TYPE", f"{where}: a {wanted} input takes Content")
    prop = Property(name=name, type=wanted, date_created=utcnow())
    ref_kind = REF_TYPES.get(wanted.removesuffix("[]"))
    if ref_kind is not None:
        values = items if is_array else [content]
        assert isinstance(values, list)
        if not values:
            raise _problem(_APP + "INVALID_INPUT_VALUE", f"{where}: no {ref_kind} given")
        for index, value in enumerate(values):
            entity_id = _reference_id(ref_kind, value, f"{where} items[{index}]")
            state.get(ref_kind, entity_id, user)  # 404 / 403 / 410 as for any read
            prop.refs.append((ref_kind, entity_id))
        return prop
    if is_array:
        assert isinstance(items, list)
        if not all(isinstance(v, str) for v in items):
            raise _problem(_APP + "INVALID_INPUT_TYPE", f"{where}: items must be strings")
        if spec.type == "checkbox" and not set(items) <= set(spec.choices):
            raise _problem(
                _APP + "INVALID_INPUT_VALUE",
                f"{where}: {items} is not a subset of the choices {list(spec.choices)}",
            )
        prop.items = list(items)
        return prop
    if not isinstance(content, str):
        raise _problem(_APP + "INVALID_INPUT_TYPE", f"{where}: Content must be a string")
    if spec.type == "integer" and not _INTEGER.fullmatch(content.strip()):
        raise _problem(_APP + "INVALID_INPUT_VALUE", f"{where}: {content!r} is not an integer")
    if spec.type == "select" and content not in spec.choices:
        raise _problem(
            _APP + "INVALID_INPUT_VALUE",
            f"{where}: {content!r} is not one of {list(spec.choices)}",
        )
    prop.content = content.strip() if spec.type == "integer" else content
    return prop


def _default(spec: FormField) -> Property | None:
    if spec.default is None or spec.is_entity:
        return None
    prop = Property(name=INPUT_PREFIX + spec.id, type=spec.property_type, date_created=utcnow())
    if isinstance(spec.default, list):
        prop.items = list(spec.default)
    else:
        prop.content = spec.default
    return prop


def read_launch(state: EmulatorState, user: User, app: AppVersion, body: Any) -> LaunchPlan:
    """The launch ``body`` checked against ``app``'s form, or the first problem."""
    if not isinstance(body, Mapping):
        raise _invalid_request("The body must be a JSON object with Name and Properties")
    fields = _lowered(body)
    raw_props = fields.get("properties", [])
    if raw_props is None:
        raw_props = []
    if not isinstance(raw_props, list) or not all(isinstance(p, Mapping) for p in raw_props):
        raise _invalid_request("Properties must be a list of objects")
    inputs: dict[str, Property] = {}
    for index, raw in enumerate(raw_props):
        item = _lowered(raw)
        name = item.get("name")
        where = f"Properties[{index}]"
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise _name_invalid(str(name))
        where = f'{where} ("{name}")'
        prefix, _, field_id = name.partition(".")
        spec = app.field(field_id) if prefix.lower() == INPUT_PREFIX[:-1].lower() else None
        if spec is None:
            known = ", ".join(INPUT_PREFIX + f.id for f in app.form)
            raise _problem(
                _APP + "UNKNOWN_INPUT",
                f"{where}: {app.name} {app.version} has no input {name!r} (its inputs: {known})",
            )
        if spec.id in inputs:
            raise _problem(_APP + "DUPLICATE_INPUT", f"{where}: {name} is given twice")
        inputs[spec.id] = _input(state, user, spec, item, where)
    for spec in app.form:
        if spec.id in inputs:
            continue
        default = _default(spec)
        if default is not None:
            inputs[spec.id] = default
        elif spec.required:
            raise _problem(
                _APP + "REQUIRED_INPUT_MISSING",
                f"{app.name} {app.version} needs the input {INPUT_PREFIX}{spec.id}"
                f" ({spec.label or spec.id}, {spec.type})",
            )
    project = _output_project(state, user, app, inputs)
    name = _session_name(app, fields.get("name"), inputs)
    auto_start = fields.get("autostart", True)
    if not isinstance(auto_start, bool):
        raise _invalid_request("AutoStart must be true or false")
    return LaunchPlan(app, name, auto_start, inputs, project)


def _output_project(
    state: EmulatorState, user: User, app: AppVersion, inputs: dict[str, Property]
) -> Project:
    """The project the outputs go to: the first project input (the caller owns it: it was read
    with the caller's rights, and only owners can read projects)."""
    for spec in app.form:
        prop = inputs.get(spec.id)
        if prop is not None and prop.type == "project" and prop.refs:
            project: Project = state.get("projects", prop.refs[0][1], user)
            return project
    raise _problem(
        _APP + "REQUIRED_INPUT_MISSING",
        f"{app.name} {app.version} needs a project input for its outputs",
    )


def _session_name(app: AppVersion, given: Any, inputs: dict[str, Property]) -> str:
    if isinstance(given, str) and given.strip():
        return given.strip()
    chosen = inputs.get(SESSION_NAME_FIELD)
    stamp = utcnow().strftime("%Y-%m-%d %H:%M:%SZ")
    if chosen is not None and chosen.content and chosen.content.strip():
        return chosen.content.replace("[LocalDateTime]", stamp).strip()
    return f"{app.name} {stamp}"
