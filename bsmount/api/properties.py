"""Completing array properties: BaseSpace inlines only the first items of ``string[]``/``run[]``...

When a property says ``ItemsTotalCount`` is larger than what it inlined, the rest is read from its
``HrefItems`` collection (items ``{Id, Content}``, paged like any list). A server without that
route (404/400) leaves the property as inlined, with a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

from bsmount.api.models import Property, _obj, _text
from bsmount.errors import BadRequest, NotFound

__all__ = ["complete_property", "parse_property", "property_from_items"]

log = logging.getLogger(__name__)


# v2 keeps array items under typed keys and single references under typed keys (basespace-api §4.2).
_V2_ITEM_KEYS = (
    "ContentItems",
    "RunItems",
    "SampleLibraryItems",
    "BioSampleItems",
    "DatasetItems",
    "AppSessionItems",
    "ProjectItems",
    "FileItems",
    "UserItems",
    "SampleItems",
    "AppResultItems",
)
_V2_SINGLE_KEYS = (
    "Run",
    "Project",
    "Dataset",
    "File",
    "BioSample",
    "Sample",
    "AppResult",
    "AppSession",
    "User",
    "SampleLibrary",
)


def _reference(ref_type: str, value: Any) -> dict[str, str] | None:
    if isinstance(value, str):  # an href such as "v1pre3/runs/123" or "runs/123"
        ident = value.rstrip("/").rsplit("/", 1)[-1]
        return {"type": ref_type, "id": ident, "name": "", "href": value} if ident else None
    o = _obj(value)
    if not o:
        return None
    return {
        "type": ref_type,
        "id": _text(o, "Id"),
        "name": _text(o, "Name", "BioSampleName", "DisplayName", "LibraryName"),
        "href": _text(o, "Href"),
    }


def _map_value(value: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(value, list):
        for entry in value:
            e = _obj(entry)
            key = _text(e, "Key")
            values = e.get("Values")
            out[key] = [str(v) for v in values] if isinstance(values, list) else []
    return out


def parse_property(obj: Any) -> Property:
    """Parse one property in its v1pre3 or v2 shape (never raises)."""
    o = _obj(obj)
    ptype = _text(o, "Type")
    base = ptype[:-2] if ptype.endswith("[]") else ptype
    is_array = ptype.endswith("[]")
    value: Any
    if base == "string" and not is_array:
        value = _text(o, "Content")
    elif base == "string":
        items = o.get("Items", o.get("ContentItems"))
        value = [str(v) for v in items] if isinstance(items, list) else []
    elif base == "map" and not is_array:
        value = _map_value(o.get("ContentMap", o.get("Content")))
    elif base == "map":
        items = o.get("ItemsMap", o.get("ContentMapItems", o.get("Items")))
        value = [_map_value(v) for v in items] if isinstance(items, list) else []
    elif is_array:
        items = o.get("Items")
        if not isinstance(items, list):
            items = next((o[k] for k in _V2_ITEM_KEYS if isinstance(o.get(k), list)), [])
        value = [r for r in (_reference(base, item) for item in items) if r is not None]
    elif base:
        content = o.get("Content")
        if content is None:
            content = next((o[k] for k in _V2_SINGLE_KEYS if k in o), None)
        value = _reference(base, content) if content is not None else None
    else:
        value = o.get("Content", o.get("Items"))
    return Property(
        name=_text(o, "Name"),
        type=ptype,
        description=_text(o, "Description"),
        value=value,
        raw=o,
    )


class _Lister(Protocol):
    async def list_items(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]: ...


def property_from_items(prop: Property, items: list[dict[str, Any]]) -> Property:
    """``prop`` with its value rebuilt from a complete ``/items`` listing."""
    base = prop.type[:-2] if prop.type.endswith("[]") else prop.type
    contents = [item.get("Content") for item in items]
    value: Any
    if base == "string":
        value = [str(c) for c in contents if c is not None]
    elif base == "map":
        value = [_map_value(c) for c in contents]
    else:
        value = [r for r in (_reference(base, c) for c in contents) if r is not None]
    return replace(prop, value=value)


async def complete_property(client: _Lister, prop: Property) -> Property:
    """Fetch the items an array property did not inline (no-op for complete ones)."""
    if not prop.type.endswith("[]") or not isinstance(prop.value, list):
        return prop
    total = prop.items_total
    href = prop.raw.get("HrefItems")
    if total is None or total <= len(prop.value) or not isinstance(href, str) or not href:
        return prop
    try:
        items = await client.list_items(href)
    except (NotFound, BadRequest) as exc:
        log.info("property %s: cannot read its items (%s); using the inlined ones", prop.name, exc)
        return prop
    return property_from_items(prop, items)
