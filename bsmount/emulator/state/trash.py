"""The trash: moving entities there, listing and restoring them.

Projects, runs, samples, appresults, appsessions, biosamples and datasets can be trashed by their
owner (:func:`move_to_trash`): the entity's ``deleted`` flag is set, so it (and, for a project,
everything in it) leaves every listing and answers 410, and a
:class:`~bsmount.emulator.state.model.TrashRecord` with its own id (``80000001``...) is added. A
Running (or NeedsAttention) appsession is refused, as ``bs delete`` refuses it. :func:`restore`
clears the flag and drops the record. Entities a seed marks ``deleted`` have records from the
start. With ``preserve_metadata`` (``preserve=Metadata``) only the entity's files go to the trash
(the record's ``includes`` is ``FILEDATA``): the entity stays, its files leave its listings and
answer 410, and a restore brings them back. :func:`empty` drops every record of a user: what they
held stays gone (410) and can no longer be restored. How trash items look in the API is
:mod:`bsmount.emulator.http.views.trash`'s business.
"""

from __future__ import annotations

import logging

from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.errors import ForbiddenEntity, InvalidRequest, UnknownEntity
from bsmount.emulator.state.model import AppSession, Entity, File, TrashRecord, User
from bsmount.emulator.state.tables import utcnow

__all__ = [
    "ACTIVE_STATUSES",
    "PRESERVE_KINDS",
    "TRASH_KINDS",
    "NamedRecord",
    "empty",
    "move_to_trash",
    "named",
    "record_of",
    "restore",
    "trash_of",
]

log = logging.getLogger(__name__)

TRASH_KINDS = ("projects", "runs", "samples", "appresults", "appsessions", "biosamples", "datasets")
ACTIVE_STATUSES = ("Pending", "Running", "NeedsAttention")
# Kinds whose files can go to the trash without them (``preserve=Metadata``): the v2 reference
# documents it for appsessions; ``bs dataset delete --preserve-metadata`` and BaseMount's
# ``move-to-trash-preserve-metadata`` (runs) use it for datasets and runs [G: the others].
PRESERVE_KINDS = ("runs", "samples", "appresults", "appsessions", "datasets")


def _files_under(state: EmulatorState, kind: str, entity: Entity) -> list[File]:
    """The live files an entity holds (an appsession: those of its appresults and datasets)."""
    if isinstance(entity, AppSession):
        found: list[File] = []
        for result in state.appresults_of_session(entity):
            found.extend(state.files_of("appresults", result))
        for dataset in state.datasets_of_session(entity):
            found.extend(state.files_of("datasets", dataset))
        return found
    return state.files_of(kind, entity)


def move_to_trash(
    state: EmulatorState,
    user: User,
    kind: str,
    entity_id: str,
    *,
    preserve_metadata: bool = False,
) -> TrashRecord:
    """Trash ``kind/entity_id`` (or only its files) for ``user``: the lookup errors of a GET, or
    :class:`InvalidRequest` for an active appsession, or a kind or entity without file data to
    trash on its own."""
    with state.lock:
        entity = state.get(kind, entity_id, user)
        if isinstance(entity, AppSession) and entity.status in ACTIVE_STATUSES:
            raise InvalidRequest(
                "BASESPACE.APPSESSIONS.RUNNING",
                f"AppSession {entity.id} is {entity.status}: stop it before moving it to the trash",
            )
        files: list[File] = []
        if preserve_metadata:
            if kind not in PRESERVE_KINDS:
                raise InvalidRequest(
                    "BASESPACE.TRASH.PRESERVE_NOT_SUPPORTED",
                    f"preserve=Metadata applies to {', '.join(PRESERVE_KINDS)}, not {kind}",
                )
            files = _files_under(state, kind, entity)
            if not files:
                raise InvalidRequest(
                    "BASESPACE.TRASH.NO_FILE_DATA",
                    f"{kind} {entity.id} has no file data to move to the trash",
                )
        model = state.model
        record = TrashRecord(str(model.next_trash_id), kind, entity.id, user.id, utcnow())
        model.next_trash_id += 1
        if preserve_metadata:
            record.includes = ("FILEDATA",)
            record.file_ids = [f.id for f in files]
            for item in files:
                item.deleted = True
        else:
            entity.deleted = True
        model.trash[record.id] = record
        state.changed()
    log.info(
        "user %s moved %s/%s%s to the trash (item %s)",
        user.id,
        kind,
        entity_id,
        " (file data only)" if preserve_metadata else "",
        record.id,
    )
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
        if "METADATA" in record.includes:
            entity = state.peek(record.kind, record.entity_id)
            if entity is not None:
                entity.deleted = False
        for file_id in record.file_ids:
            item = state.model.files.get(file_id)
            if item is not None:
                item.deleted = False
        del state.model.trash[record.id]
        state.changed()
    log.info("user %s restored %s/%s from the trash", user.id, record.kind, record.entity_id)
    return record


def empty(state: EmulatorState, user: User) -> int:
    """Drop every record of ``user``'s trash (``DELETE v2/trash``); how many there were. What
    they held stays trashed (410, out of listings) for good."""
    with state.lock:
        mine = [r.id for r in trash_of(state, user)]
        for record_id in mine:
            del state.model.trash[record_id]
        state.changed()
    log.info("user %s emptied the trash (%d items)", user.id, len(mine))
    return len(mine)


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
