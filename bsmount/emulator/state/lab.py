"""The lab rules of the emulator's account: creating biosamples, their libraries and lab
requeues, and who may see them (:mod:`.lab_model` holds the tables).

- A biosample is created in a default project the caller owns; its name is letters, digits,
  ``-`` and ``_``, fewer than 100 characters ([G] the web UI's rule for renames), unique in its
  project ignoring case (the manifest rule "not case-sensitive") — a clash is
  :class:`~.errors.Conflict` (409).
- Libraries, prep requests and lab requeues belong to a biosample and are seen by whoever may
  see it (:meth:`EmulatorState.get`: 403 for another user's, 410 once its project is trashed).
- A lab requeue is made from a prep request (``NewBioSampleLibrary``) or an existing library
  (``AdditionalYieldOfLibrary``); ``RequestedAdditionalYield`` must be a positive integer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.errors import Conflict, InvalidRequest, UnknownEntity
from bsmount.emulator.state.lab_model import LabRequeue, Library, PrepRequest
from bsmount.emulator.state.model import BioSample, Project, User
from bsmount.emulator.state.tables import utcnow

__all__ = [
    "BIOSAMPLE_NAME",
    "all_libraries",
    "all_requeues",
    "bulk_update",
    "create_biosample",
    "create_library",
    "get_library",
    "get_requeue",
    "libraries_of",
    "prep_requests_of",
    "requeue_library",
    "requeue_new_library",
    "requeues_of",
]

log = logging.getLogger(__name__)

BIOSAMPLE_NAME = re.compile(r"[A-Za-z0-9_-]{1,99}")


def _field(body: Mapping[str, Any], key: str) -> Any:
    """A request field by its API name, whatever its case (the routes lower-case names)."""
    return body.get(key, body.get(key.lower()))


def _text(body: Mapping[str, Any], key: str, *, required: bool) -> str:
    value = _field(body, key)
    if value is None or value == "":
        if required:
            raise InvalidRequest("BASESPACE.COMMON.MISSING_FIELD", f"{key} is required")
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise InvalidRequest("BASESPACE.COMMON.INVALID_FIELD", f"{key} must be a string")
    return str(value)


def _live_biosamples(state: EmulatorState, project: Project) -> list[BioSample]:
    return [b for b in state.in_project("biosamples", project) if not b.deleted]


def create_biosample(state: EmulatorState, user: User, body: Mapping[str, Any]) -> BioSample:
    """``POST v2/biosamples`` (V2CreateBiologicalSampleRequest): BioSampleName and
    DefaultProjectId required; SubjectId, ContainerName, ContainerPosition optional [G]."""
    name = _text(body, "BioSampleName", required=True).strip()
    project_id = _text(body, "DefaultProjectId", required=True)
    container = _text(body, "ContainerName", required=False)
    position = _text(body, "ContainerPosition", required=False)
    if BIOSAMPLE_NAME.fullmatch(name) is None:
        raise InvalidRequest(
            "BASESPACE.BIOSAMPLES.INVALID_NAME",
            "BioSampleName must be 1-99 letters, digits, '-' or '_'",
        )
    if position and not container:
        raise InvalidRequest(
            "BASESPACE.BIOSAMPLES.INVALID_CONTAINER", "ContainerPosition needs a ContainerName"
        )
    with state.lock:
        project: Project = state.get("projects", project_id, user)
        for existing in _live_biosamples(state, project):
            if existing.name.casefold() == name.casefold():
                raise Conflict(
                    "BASESPACE.BIOSAMPLES.NAME_EXISTS",
                    f"a biosample named {existing.name!r} exists in project {project.id}",
                )
        model = state.model
        now = utcnow()
        biosample = BioSample(
            id=model.new_numeric_id("biosamples"),
            name=name,
            date_created=now,
            date_modified=now,
            project_id=project.id,
            container_name=container,
            container_position=position,
        )
        model.biosamples[biosample.id] = biosample
        state.changed()
    log.info("created biosample %s (%r) in project %s", biosample.id, name, project.id)
    return biosample


# ---------------------------------------------------------------------- reading
def _biosample_of(state: EmulatorState, user: User, biosample_id: str) -> BioSample:
    found: BioSample = state.get("biosamples", biosample_id, user)
    return found


def prep_requests_of(state: EmulatorState, biosample: BioSample) -> list[PrepRequest]:
    return [p for p in state.model.lab.prep_requests.values() if p.biosample_id == biosample.id]


def libraries_of(state: EmulatorState, biosample: BioSample) -> list[Library]:
    return [x for x in state.model.lab.libraries.values() if x.biosample_id == biosample.id]


def requeues_of(state: EmulatorState, biosample: BioSample) -> list[LabRequeue]:
    return [r for r in state.model.lab.requeues.values() if r.biosample_id == biosample.id]


def _visible_ids(state: EmulatorState, user: User) -> set[str]:
    return {b.id for b in state.visible("biosamples", user)}


def all_libraries(state: EmulatorState, user: User) -> list[Library]:
    """``GET v2/libraries``: the libraries of every biosample the caller sees."""
    ids = _visible_ids(state, user)
    return [x for x in state.model.lab.libraries.values() if x.biosample_id in ids]


def all_requeues(state: EmulatorState, user: User) -> list[LabRequeue]:
    """``GET v2/labrequeues``: the lab requeues of every biosample the caller sees."""
    ids = _visible_ids(state, user)
    return [r for r in state.model.lab.requeues.values() if r.biosample_id in ids]


def get_library(state: EmulatorState, user: User, library_id: str) -> Library:
    """[G] ``GET v2/libraries/{id}`` (the reference lists only the library's properties, but
    every library's ``Href`` points there)."""
    found = state.model.lab.libraries.get(library_id)
    if found is None:
        raise UnknownEntity("libraries", library_id)
    _biosample_of(state, user, found.biosample_id)
    return found


def get_requeue(state: EmulatorState, user: User, requeue_id: str) -> LabRequeue:
    found = state.model.lab.requeues.get(requeue_id)
    if found is None:
        raise UnknownEntity("labrequeues", requeue_id)
    _biosample_of(state, user, found.biosample_id)  # 403 / 410 as for its biosample
    return found


# ---------------------------------------------------------------------- writing
def create_library(
    state: EmulatorState, user: User, biosample_id: str, body: Mapping[str, Any]
) -> Library:
    """``POST v2/biosamples/{id}/libraries`` (V2PostBiosampleLibraryRequest: LibraryName,
    LibraryPrepId, ProjectId, Index1, Index2, Status; Index2 and Status optional [G])."""
    name = _text(body, "LibraryName", required=True)
    prep = _text(body, "LibraryPrepId", required=True)
    project_id = _text(body, "ProjectId", required=True)
    index1 = _text(body, "Index1", required=True)
    index2 = _text(body, "Index2", required=False)
    status = _text(body, "Status", required=False) or "Active"
    with state.lock:
        biosample = _biosample_of(state, user, biosample_id)
        state.get("projects", project_id, user)
        if any(x.name.casefold() == name.casefold() for x in libraries_of(state, biosample)):
            raise Conflict(
                "BASESPACE.LIBRARIES.NAME_EXISTS", f"the biosample has a library named {name!r}"
            )
        lab = state.model.lab
        now = utcnow()
        library = Library(
            id=lab.new_id("libraries"),
            biosample_id=biosample.id,
            name=name,
            library_prep=prep,
            date_created=now,
            date_modified=now,
            status=status,
            index1=index1,
            index2=index2,
        )
        lab.libraries[library.id] = library
    log.info("created library %s (%r) of biosample %s", library.id, name, biosample.id)
    return library


def _yield_and_lims(body: Mapping[str, Any]) -> tuple[int, str]:
    value = _field(body, "RequestedAdditionalYield")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidRequest(
            "BASESPACE.LABREQUEUES.INVALID_YIELD",
            "RequestedAdditionalYield must be a positive integer",
        )
    return value, _text(body, "LIMSId", required=False)


def _new_requeue(
    state: EmulatorState, biosample: BioSample, kind: str, body: Mapping[str, Any], **links: Any
) -> LabRequeue:
    requested, lims = _yield_and_lims(body)
    lab = state.model.lab
    now = utcnow()
    requeue = LabRequeue(
        id=lab.new_id("labrequeues"),
        biosample_id=biosample.id,
        type=kind,
        requested_additional_yield=requested,
        date_created=now,
        date_modified=now,
        lims_id=lims,
        **links,
    )
    lab.requeues[requeue.id] = requeue
    biosample.lab_status = "Requeued"  # [G]
    biosample.date_modified = now
    state.changed()
    log.info("lab requeue %s (%s) of biosample %s", requeue.id, kind, biosample.id)
    return requeue


def requeue_new_library(
    state: EmulatorState, user: User, prep_request_id: str, body: Mapping[str, Any]
) -> LabRequeue:
    """``POST v2/preprequests/{id}/labrequeues``: a new library of the prep request's biosample."""
    with state.lock:
        prep = state.model.lab.prep_requests.get(prep_request_id)
        if prep is None:
            raise UnknownEntity("preprequests", prep_request_id)
        biosample = _biosample_of(state, user, prep.biosample_id)
        return _new_requeue(state, biosample, "NewBioSampleLibrary", body, prep_request_id=prep.id)


def requeue_library(
    state: EmulatorState, user: User, library_id: str, body: Mapping[str, Any]
) -> LabRequeue:
    """``POST v2/libraries/{id}/labrequeues``: more yield from an existing library."""
    with state.lock:
        library = state.model.lab.libraries.get(library_id)
        if library is None:
            raise UnknownEntity("libraries", library_id)
        biosample = _biosample_of(state, user, library.biosample_id)
        return _new_requeue(
            state, biosample, "AdditionalYieldOfLibrary", body, library_id=library.id
        )


def bulk_update(state: EmulatorState, user: User, body: Mapping[str, Any]) -> list[BioSample]:
    """``POST v2/biosamples/bulkupdate`` (V2PostBioSamplesBulkUpdateRequest): every biosample of
    ``Ids`` gets the default project ``DefaultProjectId`` and, when given, ``ContainerName`` and
    ``ContainerPosition`` [G] (the reference marks them required; absent means unchanged). All
    or nothing: an unknown or unseen id, or a name the project already has (ignoring case, 409),
    changes none."""
    ids = _field(body, "Ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise InvalidRequest("BASESPACE.COMMON.MISSING_FIELD", "Ids must be a list of ids")
    project_id = _text(body, "DefaultProjectId", required=True)
    container = _field(body, "ContainerName")
    position = _field(body, "ContainerPosition")
    with state.lock:
        project: Project = state.get("projects", project_id, user)
        found = [_biosample_of(state, user, i) for i in dict.fromkeys(ids)]
        moving = {b.id for b in found}
        taken = {b.name.casefold() for b in _live_biosamples(state, project) if b.id not in moving}
        names: set[str] = set()
        for biosample in found:
            key = biosample.name.casefold()
            if key in taken or key in names:
                raise Conflict(
                    "BASESPACE.BIOSAMPLES.NAME_EXISTS",
                    f"project {project.id} would hold two biosamples named {biosample.name!r}",
                )
            names.add(key)
        now = utcnow()
        for biosample in found:
            biosample.project_id = project.id
            if isinstance(container, str):
                biosample.container_name = container
            if isinstance(position, str):
                biosample.container_position = position
            biosample.date_modified = now
        state.changed()
    log.info("bulk update: %d biosamples now in project %s", len(found), project.id)
    return found
