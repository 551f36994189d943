"""Write actions of the ``bs`` CLI over the API: set and delete properties, stop, trash,
restore, empty the trash.

These are the calls behind bsmount's control files (docs/control-files.md):

=====================  ==============================================================
action                 request
=====================  ==============================================================
set properties         ``POST v1pre3/{kind}/{id}/properties`` ``{"Properties": [...]}``
delete a property      ``DELETE v1pre3/{kind}/{id}/properties/{name}`` (``v2/`` for datasets
                       and biosamples, whose properties v1pre3 does not serve)
stop an appsession     ``POST v2/appsessions/{id}/stop`` ``{}`` (what ``bs kill`` calls)
move to trash          ``DELETE v2/{kind}/{id}`` (``bs delete``; the route is a guess for
                       kinds other than appsessions, see basespace-api.md §4.1);
                       ``?preserve=Metadata`` moves only the file data (``bs dataset delete
                       --preserve-metadata``; the v2 reference documents it for appsessions)
restore from trash     ``POST v2/trash/{id}/restorefromtrash`` ``{}``
empty the trash        ``DELETE v2/trash``
=====================  ==============================================================

None of them is retried once the request may have reached the server (they are not
idempotent); all raise the domain errors of :mod:`bsmount.errors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote

from bsmount.api.routes import segment

__all__ = [
    "PRESERVE_KINDS",
    "PROPERTY_KINDS",
    "TRASH_KINDS",
    "PropertyValue",
    "delete_property",
    "empty_trash",
    "move_to_trash",
    "property_body",
    "restore_from_trash",
    "set_properties",
    "stop_appsession",
    "update_project_description",
]

# plural kind -> API collection for properties (v1pre3 for the v1 kinds, v2 otherwise)
PROPERTY_KINDS: dict[str, str] = {
    "projects": "v1pre3/projects",
    "samples": "v1pre3/samples",
    "appresults": "v1pre3/appresults",
    "runs": "v1pre3/runs",
    "appsessions": "v1pre3/appsessions",
    "files": "v1pre3/files",
    "datasets": "v2/datasets",
    "biosamples": "v2/biosamples",
}
TRASH_KINDS = ("projects", "runs", "appresults", "appsessions", "samples", "datasets", "biosamples")
# kinds whose file data can go to the trash without their metadata (``preserve=Metadata``)
PRESERVE_KINDS = ("runs", "appresults", "appsessions", "samples", "datasets")

# A property value as the control files show it: a string, a list of strings, a reference
# {"type": "run", "id": "123"} or a list of references.
PropertyValue = str | list[str] | dict[str, str] | list[dict[str, str]]


class _Caller(Protocol):
    async def _call(
        self,
        method: str,
        path_or_href: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        kind: str = "api",
        idempotent: bool = True,
    ) -> Any: ...


def _ref_href(ref: Mapping[str, str]) -> str:
    ref_type = str(ref.get("type", "")).rstrip("[]")
    return f"v1pre3/{ref_type}s/{ref['id']}"


def property_body(name: str, value: PropertyValue) -> dict[str, Any]:
    """The API's property object for one name/value (raises ValueError for bad shapes)."""
    if isinstance(value, str):
        return {"Type": "string", "Name": name, "Description": "", "Content": value}
    if isinstance(value, dict):
        if not value.get("type") or not value.get("id"):
            raise ValueError(f"{name}: a reference needs 'type' and 'id'")
        ref_type = str(value["type"]).rstrip("[]")
        return {"Type": ref_type, "Name": name, "Description": "", "Content": _ref_href(value)}
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            return {"Type": "string[]", "Name": name, "Description": "", "Items": list(value)}
        if all(isinstance(v, dict) for v in value) and value:
            types = {str(v.get("type", "")).rstrip("[]") for v in value}  # type: ignore[union-attr]
            if len(types) != 1 or "" in types:
                raise ValueError(f"{name}: references in one list must share one type")
            return {
                "Type": f"{types.pop()}[]",
                "Name": name,
                "Description": "",
                "Items": [_ref_href(v) for v in value],  # type: ignore[arg-type]
            }
    raise ValueError(
        f"{name}: values must be a string, a list of strings, or references "
        '{"type": ..., "id": ...}'
    )


async def set_properties(
    client: _Caller, kind: str, entity_id: str, values: Mapping[str, PropertyValue]
) -> Any:
    """Set (create or replace) the given properties; others are untouched."""
    route = PROPERTY_KINDS.get(kind)
    if route is None:
        raise ValueError(f"{kind} have no properties")
    body = {"Properties": [property_body(name, value) for name, value in values.items()]}
    return await client._call(
        "POST", f"{route}/{segment(entity_id)}/properties", json_body=body, idempotent=False
    )


async def stop_appsession(client: _Caller, appsession_id: str) -> Any:
    return await client._call(
        "POST", f"v2/appsessions/{segment(appsession_id)}/stop", json_body={}, idempotent=False
    )


async def move_to_trash(
    client: _Caller, kind: str, entity_id: str, *, preserve_metadata: bool = False
) -> Any:
    """Move an entity (or, ``preserve_metadata``, only its files) to the trash; the trash item."""
    if kind not in (PRESERVE_KINDS if preserve_metadata else TRASH_KINDS):
        what = "file data" if preserve_metadata else "entities"
        raise ValueError(f"{kind} {what} cannot be moved to the trash")
    params = {"preserve": "Metadata"} if preserve_metadata else None
    return await client._call(
        "DELETE", f"v2/{kind}/{segment(entity_id)}", params=params, idempotent=False
    )


async def restore_from_trash(client: _Caller, trash_id: str) -> Any:
    return await client._call(
        "POST",
        f"v2/trash/{segment(trash_id)}/restorefromtrash",
        json_body={},
        idempotent=False,
    )


async def empty_trash(client: _Caller) -> Any:
    """Delete everything in the caller's trash for good (``bs`` has no command for it)."""
    return await client._call("DELETE", "v2/trash", idempotent=False)


async def delete_property(client: _Caller, kind: str, entity_id: str, name: str) -> Any:
    """Delete one property (``bs <entity> property delete``); a missing one is NotFound."""
    route = PROPERTY_KINDS.get(kind)
    if route is None:
        raise ValueError(f"{kind} have no properties")
    return await client._call(
        "DELETE",
        f"{route}/{segment(entity_id)}/properties/{quote(name, safe='')}",
        idempotent=False,
    )


async def update_project_description(client: _Caller, project_id: str, description: str) -> Any:
    """Set a project's description ([G] ``POST v2/projects/{id}`` ``{"Description"}``: the v2
    reference documents no project update, this follows its ``POST v2/<kind>/{id}`` updates)."""
    return await client._call(
        "POST",
        f"v2/projects/{segment(project_id)}",
        json_body={"Description": description},
        idempotent=True,
    )
