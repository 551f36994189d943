"""Trash items in the API: ``V1pre3TrashItem`` and ``V1pre3TrashItemCompact`` (SW2 models).

:func:`render_item` gives the entity's compact form under ``Deleted<Type>`` (``DeletedProject``,
``DeletedRun``, ``DeletedSample``, ``DeletedAppResult``, ``DeletedAppSession``, ``DeletedDataset``
and, a guess, ``DeletedBioSample``): its v1pre3 form, or its v2 one for the types v1pre3 has none
for (:mod:`bsmount.emulator.http.views.compact`); then ``DateDeleted``, ``TotalSize``,
``TrashStatus`` and, for single items, ``IncludedSamples``/``IncludedAppResults``/
``IncludedAppSessions`` of a project; ``Includes`` is ``["FILEDATA", "METADATA"]``, or
``["FILEDATA"]`` for an item moved with ``preserve=Metadata`` (whose ``TotalSize`` is that of the
files it holds). The trash itself is :mod:`bsmount.emulator.state.trash`.
"""

from __future__ import annotations

from typing import Any

from bsmount.emulator.http.views.compact import compact_form
from bsmount.emulator.http.views.v1 import V1Views
from bsmount.emulator.http.views.v2 import V2Views
from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.model import Entity, Project, TrashRecord, format_date

__all__ = ["DELETED_KEYS", "render_item"]

DELETED_KEYS = {
    "projects": "DeletedProject",
    "runs": "DeletedRun",
    "samples": "DeletedSample",
    "appresults": "DeletedAppResult",
    "appsessions": "DeletedAppSession",
    "biosamples": "DeletedBioSample",
    "datasets": "DeletedDataset",
}


def _deleted_form(state: EmulatorState, base_url: str, kind: str, entity: Entity) -> dict[str, Any]:
    if compact_form(entity).v1 is not None:
        return V1Views(state).compact(kind, entity)
    return V2Views(state, base_url).compact(kind, entity)


def render_item(
    state: EmulatorState,
    base_url: str,
    record: TrashRecord,
    *,
    full: bool = False,
    status: str = "InTrash",
) -> dict[str, Any]:
    """A trash item (``V1pre3TrashItem`` with ``full``, else the compact form)."""
    base = base_url.rstrip("/")
    entity = state.peek(record.kind, record.entity_id)
    v1 = V1Views(state)
    body: dict[str, Any] = {}
    included: dict[str, list[Any]] = {}
    if isinstance(entity, Project):
        included = {
            "IncludedSamples": state.samples_in(entity),
            "IncludedAppResults": state.appresults_in(entity),
            "IncludedAppSessions": state.in_project("appsessions", entity),
        }
    if full:
        for key, kind in (("IncludedSamples", "samples"), ("IncludedAppResults", "appresults"),
                          ("IncludedAppSessions", "appsessions")):  # fmt: skip
            body[key] = [v1.compact(kind, e) for e in included.get(key, [])]
        body["UserDeletedBy"] = v1.user_compact(record.user_id)
    href = f"{base}/v2/trash/{record.id}"
    body.update(
        {
            "Id": record.id,
            "Name": entity.name if entity is not None else "",
            "Href": href,
            "DateDeleted": format_date(record.date_deleted),
            "TotalSize": _size(state, record, entity),
        }
    )
    if entity is not None:
        body[DELETED_KEYS[record.kind]] = _deleted_form(state, base, record.kind, entity)
    children = sum(len(items) for items in included.values())
    body.update(
        {
            "IsVisibleInTrash": True,
            "ChildCount": children,
            "CompletedChildEvents": children,
            "TrashStatus": status,
            "HrefPostRestoreFromTrash": f"{href}/restorefromtrash",
            "Includes": list(record.includes),
        }
    )
    return body


def _size(state: EmulatorState, record: TrashRecord, entity: Entity | None) -> int:
    if record.file_ids:  # file data only: the files it holds
        files = state.model.files
        return sum(files[i].size for i in record.file_ids if i in files)
    return state.total_size(record.kind, entity) if entity is not None else 0
