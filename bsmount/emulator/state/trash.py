"""The trash: moving entities there, listing, restoring, and the V1pre3TrashItem shapes.

Projects, runs, samples, appresults, appsessions, biosamples and datasets can be trashed by their
owner (:func:`move_to_trash`): the entity's ``deleted`` flag is set, so it (and, for a project,
everything in it) leaves every listing and answers 410, and a :class:`~.model.TrashRecord` with
its own id (``80000001``...) is added. A Running (or NeedsAttention) appsession is refused, as
``bs delete`` refuses it. :func:`restore` clears the flag and drops the record. Entities a seed
marks ``deleted`` have records from the start. Nothing is ever deleted for good.

:func:`render_item` gives ``V1pre3TrashItem``/``V1pre3TrashItemCompact`` (SW2 models): the
entity's compact form under ``Deleted<Type>`` (``DeletedProject``, ``DeletedRun``,
``DeletedSample``, ``DeletedAppResult``, ``DeletedAppSession``, ``DeletedDataset`` and, a guess,
``DeletedBioSample``), ``DateDeleted``, ``TotalSize``, ``TrashStatus`` and, for single items,
``IncludedSamples``/``IncludedAppResults``/``IncludedAppSessions`` of a project.
"""

from __future__ import annotations

import logging
from typing import Any

from bsmount.emulator.http.routing import ApiProblem
from bsmount.emulator.http.views.v1 import V1Views
from bsmount.emulator.http.views.v2 import V2Views
from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.model import AppSession, Project, TrashRecord, User, format_date
from bsmount.emulator.state.tables import utcnow

__all__ = [
    "ACTIVE_STATUSES",
    "DELETED_KEYS",
    "TRASH_KINDS",
    "TRASH_SORTS",
    "move_to_trash",
    "named",
    "record_of",
    "render_item",
    "restore",
    "trash_of",
]

log = logging.getLogger(__name__)

TRASH_KINDS = ("projects", "runs", "samples", "appresults", "appsessions", "biosamples", "datasets")
DELETED_KEYS = {
    "projects": "DeletedProject",
    "runs": "DeletedRun",
    "samples": "DeletedSample",
    "appresults": "DeletedAppResult",
    "appsessions": "DeletedAppSession",
    "biosamples": "DeletedBioSample",
    "datasets": "DeletedDataset",
}
ACTIVE_STATUSES = ("Running", "NeedsAttention")
TRASH_SORTS: dict[str, Any] = {
    "Name": lambda r: r.name.casefold(),
    "DateDeleted": lambda r: r.record.date_deleted,
}


def move_to_trash(state: EmulatorState, user: User, kind: str, entity_id: str) -> TrashRecord:
    """Trash ``kind/entity_id`` for ``user``: 404/403/410 as for a GET; 400 for an active
    appsession."""
    with state.lock:
        entity = state.get(kind, entity_id, user)
        if isinstance(entity, AppSession) and entity.status in ACTIVE_STATUSES:
            raise ApiProblem(
                400,
                "BASESPACE.APPSESSIONS.RUNNING",
                f"AppSession {entity.id} is {entity.status}: stop it before moving it to the trash",
            )
        model = state.model
        record = TrashRecord(str(model.next_trash_id), kind, entity.id, user.id, utcnow())
        model.next_trash_id += 1
        entity.deleted = True
        model.trash[record.id] = record
        state.changed()
    log.info("user %s moved %s/%s to the trash (item %s)", user.id, kind, entity_id, record.id)
    return record


def trash_of(state: EmulatorState, user: User) -> list[TrashRecord]:
    """The records of ``user``'s trash, oldest first."""
    return [r for r in state.model.trash.values() if r.user_id == user.id]


def record_of(state: EmulatorState, user: User, record_id: str) -> TrashRecord:
    """One of ``user``'s trash records: 404 unknown, 403 another user's."""
    record = state.model.trash.get(record_id)
    if record is None:
        raise ApiProblem(
            404,
            "BASESPACE.COMMON.NOT_FOUND",
            f"The requested TrashItem ({record_id}) was not found.",
        )
    if record.user_id != user.id:
        raise ApiProblem(
            403,
            "BASESPACE.COMMON.INSUFFICIENT_RESOURCE_PERMISSIONS",
            "Sorry but this requires WRITE access to this TrashItem resource.",
        )
    return record


def restore(state: EmulatorState, user: User, record_id: str) -> TrashRecord:
    """Bring the entity of ``record_id`` back and drop the record."""
    with state.lock:
        record = record_of(state, user, record_id)
        entity = state.peek(record.kind, record.entity_id)
        if entity is not None:
            entity.deleted = False
        del state.model.trash[record.id]
        state.changed()
    log.info("user %s restored %s/%s from the trash", user.id, record.kind, record.entity_id)
    return record


class _Named:
    """A record with its entity's name, for sorting."""

    def __init__(self, record: TrashRecord, name: str) -> None:
        self.record = record
        self.id = record.id
        self.name = name


def named(state: EmulatorState, records: list[TrashRecord]) -> list[_Named]:
    out = []
    for record in records:
        entity = state.peek(record.kind, record.entity_id)
        out.append(_Named(record, entity.name if entity is not None else ""))
    return out


def _compact(state: EmulatorState, base_url: str, kind: str, entity: Any) -> dict[str, Any]:
    if kind == "datasets":
        return V2Views(state, base_url).dataset(entity)
    if kind == "biosamples":
        return V2Views(state, base_url).biosample(entity)
    return V1Views(state).compact(kind, entity)


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
            "TotalSize": state.total_size(record.kind, entity) if entity is not None else 0,
        }
    )
    if entity is not None:
        body[DELETED_KEYS[record.kind]] = _compact(state, base, record.kind, entity)
    children = sum(len(items) for items in included.values())
    body.update(
        {
            "IsVisibleInTrash": True,
            "ChildCount": children,
            "CompletedChildEvents": children,
            "TrashStatus": status,
            "HrefPostRestoreFromTrash": f"{href}/restorefromtrash",
        }
    )
    return body
