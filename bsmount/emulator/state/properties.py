"""Property writes: validating the items of a ``{"Properties": [...]}`` body, applying them.

The items (basespace-api.md §3.9; the same for v1pre3 and v2; read from the body by
:func:`bsmount.emulator.http.request.read_properties`) are ``{"Type", "Name", "Description",
"Content" | "Items"}`` mappings with lower-cased keys. Every item is validated before anything
changes (:func:`validate_properties`), then :func:`apply_properties` replaces the named properties
and leaves the others alone (partial update). The rules:

- Name: at least two dot-separated segments of ``[A-Za-z0-9_-]`` (``myapp.metrics.count``,
  ``Input.sample-ids.main``), at most :data:`MAX_NAME` characters, unique within the request.
- Type: ``string``, ``string[]``, or a reference type (``project``, ``sample``, ``appresult``,
  ``run``, ``appsession``, ``biosample``, ``dataset``, ``file``, each also with ``[]``); any case,
  stored in lower case. ``map``/``map[]`` are refused (the emulator does not model them).
- ``string``: ``Content`` is a JSON string of at most :data:`MAX_CONTENT_BYTES` UTF-8 bytes.
- ``string[]``: ``Items`` is a list of at most :data:`MAX_ITEMS` strings, each at most
  :data:`MAX_CONTENT_BYTES` bytes.
- references: ``Content`` (single) or ``Items`` (arrays) hold ids or hrefs (``123``,
  ``projects/123``, ``v1pre3/projects/123``, ``https://host/v2/projects/123``) of entities of the
  type's kind that exist, belong to the caller and are not in the trash.
- Description: optional string of at most :data:`MAX_DESCRIPTION` characters.

Errors are :class:`~bsmount.emulator.state.errors.InvalidRequest` (400) with
``BASESPACE.PROPERTIES.*`` codes whose message names the item (``Properties[1] ("x.y")``) and the
problem; :func:`find_property` and :func:`delete_property` raise
:class:`~bsmount.emulator.state.errors.PropertyNotFound` for an unknown name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.errors import (
    ForbiddenEntity,
    InvalidRequest,
    PropertyNotFound,
    RemovedEntity,
    UnknownEntity,
)
from bsmount.emulator.state.model import REF_TYPES, Entity, Property, User, href_id, valid_id
from bsmount.emulator.state.tables import utcnow

__all__ = [
    "MAX_CONTENT_BYTES",
    "MAX_DESCRIPTION",
    "MAX_ITEMS",
    "MAX_NAME",
    "NAME_PATTERN",
    "apply_properties",
    "delete_property",
    "find_property",
    "validate_properties",
]

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+")
MAX_NAME = 255
MAX_DESCRIPTION = 1024
MAX_CONTENT_BYTES = 65_000
MAX_ITEMS = 10_000
_CODE = "BASESPACE.PROPERTIES."


def _problem(code: str, message: str) -> InvalidRequest:
    return InvalidRequest(_CODE + code, message)


def _parse_reference(kind: str, value: Any, where: str) -> str:
    """The id in ``value`` (an id or an href of a ``kind`` entity)."""
    if not isinstance(value, str) or not value.strip():
        raise _problem("INVALID_REFERENCE", f"{where}: a reference must be an id or href string")
    entity_id = href_id(kind, value)
    if entity_id is None:
        raise _problem(
            "INVALID_REFERENCE", f"{where}: {value!r} is not an id or href of a {kind[:-1]}"
        )
    if not valid_id(kind, entity_id):
        raise _problem("INVALID_REFERENCE", f"{where}: {entity_id!r} is not a {kind[:-1]} id")
    return entity_id


def _resolve(state: EmulatorState, user: User, kind: str, value: Any, where: str) -> str:
    entity_id = _parse_reference(kind, value, where)
    try:
        state.get(kind, entity_id, user)
    except RemovedEntity:
        reason = "is in the trash"
    except ForbiddenEntity:
        reason = "is not accessible to you"
    except UnknownEntity:
        reason = "does not exist"
    else:
        return entity_id
    raise _problem("INVALID_REFERENCE", f"{where}: {kind[:-1]} {entity_id} {reason}")


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _problem("INVALID_CONTENT", f"{where}: expected a string")
    if len(value.encode("utf-8")) > MAX_CONTENT_BYTES:
        raise _problem("INVALID_CONTENT", f"{where}: longer than {MAX_CONTENT_BYTES} bytes")
    return value


def _items(item: Mapping[str, Any], where: str) -> list[Any]:
    if item.get("content") is not None:
        raise _problem("INVALID_CONTENT", f"{where}: an array type takes Items, not Content")
    values = item.get("items")
    if not isinstance(values, list):
        raise _problem("INVALID_CONTENT", f"{where}: Items must be a list")
    if len(values) > MAX_ITEMS:
        raise _problem("INVALID_CONTENT", f"{where}: more than {MAX_ITEMS} items")
    return values


def _one(
    state: EmulatorState, user: User, item: Mapping[str, Any], where: str, now: Any
) -> Property:
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise _problem("INVALID_NAME", f"{where}: a Name is required")
    where = f'{where} ("{name}")'
    if len(name) > MAX_NAME:
        raise _problem("INVALID_NAME", f"{where}: names are limited to {MAX_NAME} characters")
    if NAME_PATTERN.fullmatch(name) is None:
        raise _problem(
            "INVALID_NAME",
            f"{where}: a name must be a dotted namespace such as 'myapp.metrics.count'"
            " (two or more segments of letters, digits, '_' or '-')",
        )
    raw_type = item.get("type")
    if not isinstance(raw_type, str) or not raw_type.strip():
        raise _problem("INVALID_TYPE", f"{where}: a Type is required")
    ptype = raw_type.strip().lower()
    description = item.get("description")
    if description is None:
        description = ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise _problem(
            "INVALID_CONTENT", f"{where}: Description must be a string of <= {MAX_DESCRIPTION}"
        )
    prop = Property(name=name, type=ptype, description=description, date_created=now)
    ref_kind = REF_TYPES.get(ptype.removesuffix("[]"))
    if ptype == "string":
        if item.get("items"):
            raise _problem("INVALID_CONTENT", f"{where}: a string property takes Content")
        prop.content = _string(item.get("content"), f"{where} Content")
    elif ptype == "string[]":
        values = _items(item, where)
        prop.items = [_string(v, f"{where} Items[{i}]") for i, v in enumerate(values)]
    elif ref_kind is not None and ptype.endswith("[]"):
        values = _items(item, where)
        prop.refs = [
            (ref_kind, _resolve(state, user, ref_kind, v, f"{where} Items[{i}]"))
            for i, v in enumerate(values)
        ]
    elif ref_kind is not None:
        if item.get("items"):
            raise _problem("INVALID_CONTENT", f"{where}: a single reference takes Content")
        prop.refs = [(ref_kind, _resolve(state, user, ref_kind, item.get("content"), where))]
    elif ptype in ("map", "map[]"):
        raise _problem("INVALID_TYPE", f"{where}: map properties are not supported here")
    else:
        known = ", ".join(["string", "string[]", *(f"{t}, {t}[]" for t in REF_TYPES)])
        raise _problem("INVALID_TYPE", f"{where}: unknown type {raw_type!r} (known: {known})")
    return prop


def validate_properties(
    state: EmulatorState, user: User, items: list[Mapping[str, Any]]
) -> list[Property]:
    """Every item as a :class:`Property`, or the first problem found (nothing is changed)."""
    now = utcnow()
    props = [_one(state, user, item, f"Properties[{i}]", now) for i, item in enumerate(items)]
    seen: set[str] = set()
    for index, prop in enumerate(props):
        if prop.name in seen:
            raise _problem(
                "DUPLICATE_NAME", f'Properties[{index}] ("{prop.name}"): named twice in one request'
            )
        seen.add(prop.name)
    return props


def apply_properties(state: EmulatorState, owner: Entity, props: list[Property]) -> None:
    """Set ``props`` on ``owner``: same-named properties are replaced, others are kept."""
    with state.lock:
        for prop in props:
            for index, existing in enumerate(owner.properties):
                if existing.name == prop.name:
                    owner.properties[index] = prop
                    break
            else:
                owner.properties.append(prop)
    log.info("set %d properties on %s", len(props), owner.id)


def find_property(owner: Entity, name: str) -> Property:
    """The property ``name`` of ``owner``, or :class:`PropertyNotFound`."""
    prop = owner.property(name)
    if prop is None:
        raise PropertyNotFound(name)
    return prop


def delete_property(state: EmulatorState, owner: Entity, name: str) -> Property:
    """Remove the property ``name`` from ``owner`` (:class:`PropertyNotFound` if it has none)."""
    with state.lock:
        prop = find_property(owner, name)
        owner.properties.remove(prop)
    log.info("deleted property %s of %s", name, owner.id)
    return prop
