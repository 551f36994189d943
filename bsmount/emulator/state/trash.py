"""The trash: moving entities there, listing and restoring them.

Projects, runs, samples, appresults, appsessions, biosamples and datasets can be trashed by their
owner (:func:`move_to_trash`): the entity's ``deleted`` flag is set, so it (and, for a project,
everything in it) leaves every listing and answers 410, and a
:class:`~bsmount.emulator.state.model.TrashRecord` with its own id (``80000001``...) is added. A
Running (or NeedsAttention) appsession is refused, as ``bs delete`` refuses it. :func:`restore`
clears the flag and drops the record. Entities a seed marks ``deleted`` have records from the
start. Nothing is ever deleted for good. How trash items look in the API is
:mod:`bsmount.emulator.http.views.trash`'s business.
"""

from __future__ import annotations

import logging

from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.errors import ForbiddenEntity, InvalidRequest, UnknownEntity
from bsmount.emulator.state.model import AppSession, TrashRecord, User
from bsmount.emulator.state.tables import utcnow

__all__ = [
    "ACTIVE_STATUSES",
    "TRASH_KINDS",
    "NamedRecord",
    "move_to_trash",
    "named",
    "record_of",
    "restore",
    "trash_of",
]

log = logging.getLogger(__name__)

TRASH_KINDS = ("projects", "runs", "samples", "appresults", "appsessions", "biosamples", "datasets")
ACTIVE_STATUSES = ("Running", "NeedsAttention")


def move_to_trash(state: EmulatorState, user: User, kind: str, entity_id: str) -> TrashRecord:
    """Trash ``kind/entity_id`` for ``user``: the lookup errors of a GET, or
    :class:`InvalidRequest` for an active appsession."""
    with state.lock:
        entity = state.get(kind, entity_id, user)
        if isinstance(entity, AppSession) and entity.status in ACTIVE_STATUSES:
            raise InvalidRequest(
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
    """One of ``user``'s trash records (kind ``trash``): unknown, or another user's."""
    record = state.model.trash.get(record_id)
    if record is None:
        raise UnknownEntity("trash", record_id)
    if record.user_id != user.id:
        raise ForbiddenEntity("trash", record_id)
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


class NamedRecord:
    """A record with its entity's name, for sorting."""

    def __init__(self, record: TrashRecord, name: str) -> None:
        self.record = record
        self.id = record.id
        self.name = name


def named(state: EmulatorState, records: list[TrashRecord]) -> list[NamedRecord]:
    """``records`` with their entities' names (trash listings sort by name)."""
    out = []
    for record in records:
        entity = state.peek(record.kind, record.entity_id)
        out.append(NamedRecord(record, entity.name if entity is not None else ""))
    return out
