"""One file per property, BaseMount style: ``<entity>/Properties/<name>``.

:class:`PropertyValueFile` is the control file every property's file is bound to; the binding's
entity is a :class:`PropertyTarget` (which entity, which property, its type when listed). Reading
gives the property's value, fresh from the API (``GET .../properties/{name}``): a string as it
is, a list one item per line (:class:`PropertyListFile`, which acts at ``close``), references
and maps as JSON. Writing sets it (``bs
<entity> property set``): a line for a string, lines for a list, ids for references, or any JSON
``.properties`` accepts. ``rm`` deletes it (``bs <entity> property delete``: ``DELETE
.../properties/{name}``). The directory itself is :mod:`bsmount.tree.property_layout`'s.
"""

from __future__ import annotations

import errno
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote

from bsmount.api import actions
from bsmount.api.properties import complete_property, parse_property
from bsmount.api.routes import PROPERTY_ROUTES, segment, unwrap
from bsmount.controls.base import (
    READ_WRITE,
    ControlBinding,
    ControlContext,
    ControlFile,
    Effect,
    payload_text,
)
from bsmount.errors import ControlError

__all__ = [
    "PROPERTIES_DIR",
    "PropertyListFile",
    "PropertyTarget",
    "PropertyValueFile",
    "parse_value",
    "render_value",
]

log = logging.getLogger("bsmount.controls")

#: The name of the directory of property files in an entity directory.
PROPERTIES_DIR = "Properties"


@dataclass(frozen=True, slots=True)
class PropertyTarget:
    """The property a file in ``Properties/`` stands for."""

    kind: str  # the entity's plural kind ("projects"...)
    entity_id: str
    name: str
    type: str = "string"  # as listed: "string", "string[]", "run", "sample[]", "map"...

    @property
    def base_type(self) -> str:
        return self.type.removesuffix("[]")

    @property
    def is_array(self) -> bool:
        return self.type.endswith("[]")


def _reference_view(value: Any) -> Any:
    keys = ("type", "id", "name")
    if isinstance(value, dict) and "id" in value:
        return {k: value[k] for k in keys if k in value}
    if isinstance(value, list):
        return [_reference_view(v) for v in value]
    return value


def render_value(value: Any) -> bytes:
    """A property's value as its file shows it."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        text = "\n".join(value)
    else:
        text = json.dumps(_reference_view(value), ensure_ascii=False)
    return (text + "\n").encode("utf-8") if text else b""


def parse_value(target: PropertyTarget, payload: bytes) -> actions.PropertyValue:
    """The value a write to ``target``'s file sets (ControlError for what cannot be set)."""
    text = payload_text(payload)
    stripped = text.strip()
    value: Any
    if stripped.startswith(("{", "[")):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ControlError(errno.EINVAL, f"invalid JSON: {exc.msg} at char {exc.pos}") from None
    else:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        base = target.base_type
        if base == "map":
            raise ControlError(errno.EINVAL, f"{target.name} is a map: maps cannot be written")
        if base == "string" and target.is_array:
            value = lines
        elif base == "string":
            value = text[:-1] if text.endswith("\n") else text
        elif target.is_array:  # references: one id per line
            value = [{"type": base, "id": line} for line in lines]
        elif len(lines) == 1:
            value = {"type": base, "id": lines[0]}
        else:
            raise ControlError(errno.EINVAL, f"{target.name} is a {base}: write one id")
    try:
        actions.property_body(target.name, value)
    except ValueError as exc:
        raise ControlError(errno.EINVAL, str(exc)) from None
    return value  # type: ignore[no-any-return]


class PropertyValueFile(ControlFile):
    """A single-valued property's file (a string, a reference, a map)."""

    name: ClassVar[str] = "Properties/<name>"
    mode: ClassVar[int] = READ_WRITE
    bs_command: ClassVar[str] = "bs <entity> property get / set / delete"
    where: ClassVar[str] = "`Properties/` of every entity directory that has `.properties`"
    reads: ClassVar[str] = "the property's value (a string as it is; references and maps as JSON)"
    writes: ClassVar[str] = "a line (an id for a reference) or JSON sets it; `rm` deletes it"
    removable: ClassVar[bool] = True

    @staticmethod
    def _target(binding: ControlBinding) -> PropertyTarget:
        target = binding.entity
        assert isinstance(target, PropertyTarget)
        return target

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        target = self._target(binding)
        route = PROPERTY_ROUTES[target.kind]
        path = f"{route}/{segment(target.entity_id)}/properties/{quote(target.name, safe='')}"
        prop = await complete_property(
            ctx.client, parse_property(unwrap(await ctx.client.get_json(path)))
        )
        return render_value(prop.value)

    def is_complete(self, payload: bytes) -> bool:
        """JSON once it parses; a value once its newline arrives (what ``echo`` writes)."""
        text = payload.decode("utf-8", "replace")
        if text.lstrip().startswith(("{", "[")):
            try:
                json.loads(text)
            except json.JSONDecodeError:
                return False
            return True
        return self._line_complete(text)

    def _line_complete(self, text: str) -> bool:
        return text.endswith("\n")

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        target = self._target(binding)
        value = parse_value(target, payload)
        await actions.set_properties(
            ctx.client, target.kind, target.entity_id, {target.name: value}
        )
        log.info("set property %s of %s %s", target.name, target.kind, target.entity_id)
        return Effect(invalidate=(binding.directory,))

    async def remove(self, ctx: ControlContext, binding: ControlBinding) -> Effect:
        target = self._target(binding)
        await actions.delete_property(ctx.client, target.kind, target.entity_id, target.name)
        log.info("deleted property %s of %s %s", target.name, target.kind, target.entity_id)
        return Effect(
            invalidate=(binding.directory,), removed=(binding.directory + (target.name,),)
        )


class PropertyListFile(PropertyValueFile):
    """A list property's file (``string[]``, ``sample[]``...): one item per line, so a payload
    of lines is whole only at ``close``."""

    name: ClassVar[str] = "Properties/<list>"
    bs_command: ClassVar[str] = "bs <entity> property get / set / delete"
    where: ClassVar[str] = "`Properties/`, for each list property (`string[]`, `sample[]`...)"
    reads: ClassVar[str] = "one item per line (references as JSON)"
    writes: ClassVar[str] = (
        "lines (strings, or ids for references) or a JSON list replace it at close; `rm` deletes it"
    )

    def _line_complete(self, text: str) -> bool:
        return False  # more lines may follow: act at close
