"""Creating the containers uploads go into: AppResults and Samples, and their AppSessions.

``POST v1pre3/projects/{id}/appresults`` and ``.../samples`` (upload-launch.md §1.3) create an
entity in one of the caller's projects, inside an AppSession:

- with an ``appsessionid`` the session must be the caller's and still writable
  (:func:`writable_session`: Running, NeedsAttention or TimedOut, as BaseSpacePy's
  ``canWorkOn``); a Complete or Aborted one is refused with
  ``BASESPACE.APPSESSIONS.NOT_RUNNING`` [G];
- without one a new session is made, as the real CLI's uploads make them: Running, named
  ``"BaseSpace CLI <UTC time>"``, application "BaseSpace CLI", purpose ``AppUpload``
  (recorded traffic, upload-launch.md §1.3).

New AppResults and Samples are ``Running`` and follow their session's status
(:mod:`bsmount.emulator.state.account`). Whether a container still accepts files is
:func:`writable_container`'s rule, used by :mod:`bsmount.emulator.state.uploads`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.errors import InvalidRequest
from bsmount.emulator.state.model import (
    Application,
    AppResult,
    AppSession,
    Entity,
    Project,
    Run,
    Sample,
    User,
)
from bsmount.emulator.state.run_uploads import writable_run
from bsmount.emulator.state.tables import utcnow

__all__ = [
    "CLI_APPLICATION",
    "WRITABLE_STATUSES",
    "NewAppResult",
    "NewSample",
    "create_appresult",
    "create_sample",
    "writable_container",
    "writable_session",
]

log = logging.getLogger(__name__)

# The application BaseSpace records for uploads made with its CLI (recorded traffic).
CLI_APPLICATION = Application("1375375", "BaseSpace CLI", "1.5.3", "basespace-cli")
# Sessions that still take new results and files (BaseSpacePy's ``canWorkOn``).
WRITABLE_STATUSES = ("Running", "NeedsAttention", "TimedOut")
_REFERENCE = re.compile(r"(?:.*/)?(samples|appresults|runs|projects|files)/([0-9]+)/?\s*$", re.I)
_REFERENCE_TYPES = {
    "sample": "samples",
    "appresult": "appresults",
    "run": "runs",
    "project": "projects",
    "file": "files",
}


@dataclass
class NewAppResult:
    """What a ``POST projects/{id}/appresults`` asks for."""

    name: str
    description: str = ""
    appsession_id: str | None = None
    references: list[Any] = field(default_factory=list)
    genome_id: str | None = None


@dataclass
class NewSample:
    """What a ``POST projects/{id}/samples`` asks for (BaseSpacePy's ``createSample`` body)."""

    name: str
    sample_id: str = ""
    experiment_name: str = ""
    sample_number: int = 1
    read1: int = 0
    read2: int = 0
    is_paired_end: bool = False
    num_reads_raw: int = 0
    num_reads_pf: int = 0
    genome_id: str | None = None
    appsession_id: str | None = None


def writable_session(session: AppSession) -> None:
    """Refuse a session that can no longer take results or files."""
    if session.status not in WRITABLE_STATUSES:
        raise InvalidRequest(
            "BASESPACE.APPSESSIONS.NOT_RUNNING",
            f"AppSession {session.id} is {session.status}: results and files can be added only"
            " while it is Running",
        )


def writable_container(state: EmulatorState, container: Entity) -> None:
    """Refuse files into an AppResult or Sample whose session has finished (a Sample or
    AppResult without a session takes files)."""
    if isinstance(container, Run):  # a run being uploaded (bs upload run)
        writable_run(container)
        return
    session_id = getattr(container, "appsession_id", None)
    session = state.peek("appsessions", session_id) if session_id else None
    if isinstance(session, AppSession):
        writable_session(session)


def _session_for(
    state: EmulatorState, user: User, project: Project, session_id: str | None
) -> AppSession:
    if session_id:
        session: AppSession = state.get("appsessions", session_id, user)
        writable_session(session)
        return session
    now = utcnow()
    stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    session = AppSession(
        id=state.model.new_numeric_id("appsessions"),
        name=f"{CLI_APPLICATION.name} {stamp}",
        date_created=now,
        date_modified=now,
        project_id=project.id,
        owner_id=user.id,
        application=CLI_APPLICATION,
        status="Running",
        status_summary="",
        purpose="AppUpload",
        date_started=now,
    )
    state.model.appsessions[session.id] = session
    log.info("created appsession %s (%r) for user %s", session.id, session.name, user.id)
    return session


def _references(state: EmulatorState, user: User, given: list[Any]) -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    for index, item in enumerate(given):
        lowered = {str(k).lower(): v for k, v in item.items()} if isinstance(item, dict) else {}
        href = lowered.get("hrefcontent") or lowered.get("href") or ""
        match = _REFERENCE.match(str(href))
        kind = _REFERENCE_TYPES.get(str(lowered.get("type", "")).lower())
        if match is None or (kind is not None and kind != match.group(1).lower()):
            raise InvalidRequest(
                "BASESPACE.COMMON.INVALID_PARAMETER",
                f"References[{index}]: expected {{Rel, Type, HrefContent: 'v1pre3/samples/<id>'}}",
            )
        kind, entity_id = match.group(1).lower(), match.group(2)
        state.get(kind, entity_id, user)
        found.append((str(lowered.get("rel") or "using"), kind, entity_id))
    return found


def _check_name(name: str, label: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidRequest(f"BASESPACE.{label}.NAME_REQUIRED", "A Name is required")
    if len(name) > 255 or "/" in name:
        raise InvalidRequest(
            f"BASESPACE.{label}.NAME_INVALID",
            "A Name has at most 255 characters and no '/'",
        )
    return name


def create_appresult(
    state: EmulatorState, user: User, project_id: str, spec: NewAppResult
) -> AppResult:
    """A new Running AppResult in the caller's project (and a new session unless given)."""
    name = _check_name(spec.name, "APPRESULTS")
    with state.lock:
        project: Project = state.get("projects", project_id, user)
        references = _references(state, user, spec.references)
        if spec.genome_id is not None:
            state.get("genomes", spec.genome_id, user)
        session = _session_for(state, user, project, spec.appsession_id)
        now = utcnow()
        result = AppResult(
            id=state.model.new_numeric_id("appresults"),
            name=name,
            date_created=now,
            date_modified=now,
            project_id=project.id,
            description=spec.description,
            status="Running",
            status_summary="",
            appsession_id=session.id,
            references=references,
            genome_id=spec.genome_id,
        )
        state.model.appresults[result.id] = result
        state.changed()
    log.info("created appresult %s (%r) in project %s", result.id, name, project.id)
    return result


def create_sample(state: EmulatorState, user: User, project_id: str, spec: NewSample) -> Sample:
    """A new Running Sample in the caller's project (and a new session unless given)."""
    name = _check_name(spec.name, "SAMPLES")
    with state.lock:
        project: Project = state.get("projects", project_id, user)
        genome_id = spec.genome_id
        if genome_id is not None:
            state.get("genomes", genome_id, user)
        session = _session_for(state, user, project, spec.appsession_id)
        now = utcnow()
        sample = Sample(
            id=state.model.new_numeric_id("samples"),
            name=name,
            date_created=now,
            date_modified=now,
            project_id=project.id,
            sample_id=spec.sample_id or name,
            experiment_name=spec.experiment_name,
            status="Running",
            read1=spec.read1,
            read2=spec.read2,
            num_reads_raw=spec.num_reads_raw,
            num_reads_pf=spec.num_reads_pf,
            is_paired_end=spec.is_paired_end,
            sample_number=spec.sample_number,
            genome_id=genome_id,
            appsession_id=session.id,
        )
        state.model.samples[sample.id] = sample
        state.changed()
    log.info("created sample %s (%r) in project %s", sample.id, name, project.id)
    return sample
