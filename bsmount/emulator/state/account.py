"""The emulator's in-memory account and its rules: :class:`EmulatorState`.

``EmulatorState`` wraps a model built by a seed (:mod:`bsmount.emulator.seeds.load`) and owns the
rules the API applies to it (refusals are the exceptions of :mod:`.errors`):

- who sees what: every entity has an owner (projects, runs and appsessions directly; samples,
  appresults, biosamples and datasets through their project; files through their container);
  another user's entity is :class:`~.errors.ForbiddenEntity` (HTTP 403);
- trash: an entity whose ``deleted`` flag is set, or whose container's is, is
  :class:`~.errors.RemovedEntity` (HTTP 410) and is left out of every listing;
- unknown ids are :class:`~.errors.UnknownEntity` (the API turns that into 404, or 403 for files);
- tokens (several per user, revocable), project creation, appsession status changes (and the
  seed's timed completions, applied lazily by :meth:`apply_timers`), and ``reset()`` back to the
  seed's initial state (tokens added with :meth:`add_token` survive it);
- what a finished appsession records: its ``Output.AppResults`` property (``appresult[]``, its
  appresults), set when it finishes (and for the seed's finished sessions when the account is
  built), and the status of its Running appresults and samples, which follows the session's;
- where uploaded bytes live (:attr:`spool`, emptied by a reset) and the multipart limits in force
  (:attr:`upload_limits`, back to :attr:`default_upload_limits` on reset). The upload rules
  themselves are :mod:`bsmount.emulator.state.uploads`'s.

The trash records, OAuth device grants and issued-token scopes live in the
:class:`~bsmount.emulator.state.tables.Model` too, so a reset clears them; :mod:`.trash` and
:mod:`bsmount.emulator.oauth.device_flow` change them under :attr:`lock`.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from bsmount.emulator.blobs.content import ContentSource
from bsmount.emulator.blobs.spool import UploadSpool
from bsmount.emulator.state.errors import ForbiddenEntity, RemovedEntity, UnknownEntity
from bsmount.emulator.state.model import (
    AppResult,
    AppSession,
    BioSample,
    Dataset,
    DirIndex,
    Entity,
    File,
    Project,
    Property,
    Run,
    Sample,
    UploadLimits,
    User,
)
from bsmount.emulator.state.tables import Model, utcnow

__all__ = ["APPSESSION_STATUSES", "EmulatorState"]

log = logging.getLogger(__name__)

APPSESSION_STATUSES = ("Running", "Complete", "NeedsAttention", "TimedOut", "Aborted")
_TERMINAL = {"Complete", "TimedOut", "Aborted"}
OUTPUT_APPRESULTS = "Output.AppResults"


class EmulatorState:
    """The account the API serves. ``build`` makes a fresh :class:`Model` (the seed)."""

    def __init__(self, build: Callable[[], Model], *, description: str = "") -> None:
        self._build = build
        self.description = description
        self._lock = threading.RLock()
        self._extra_tokens: dict[str, tuple[str | None, bool]] = {}
        self._model = build()
        self._dir_cache: dict[tuple[str, str], DirIndex] = {}
        self._size_cache: dict[tuple[str, str], int] = {}
        self._groups: dict[tuple[str, str], dict[str, list[Any]]] = {}
        self._spool: UploadSpool | None = None
        # Called with the time before each API request (launched sessions advance this way).
        self._tick_hooks: list[Callable[[datetime], None]] = []
        self.default_upload_limits = UploadLimits()
        self.upload_limits = UploadLimits()
        self._record_all_outputs()

    # ------------------------------------------------------------------ lifecycle and tokens
    @property
    def model(self) -> Model:
        return self._model

    def reset(self) -> None:
        """Back to the seed's initial state (tokens from :meth:`add_token` are kept)."""
        with self._lock:
            self._model = self._build()
            self._invalidate()
            for token, (user_id, replace) in self._extra_tokens.items():
                self._apply_token(token, user_id, replace)
            self._record_all_outputs()
            self.upload_limits = dataclasses.replace(self.default_upload_limits)
            if self._spool is not None:
                self._spool.clear()
        log.info("emulator state reset")

    # ------------------------------------------------------------------ uploads
    @property
    def spool(self) -> UploadSpool:
        """Where uploaded bytes go (a private temporary directory unless :meth:`use_spool`)."""
        if self._spool is None:
            self._spool = UploadSpool(Path(tempfile.mkdtemp(prefix="bsmount-emulator-uploads-")))
        return self._spool

    def use_spool(self, spool: UploadSpool) -> None:
        self._spool = spool

    def set_default_upload_limits(self, limits: UploadLimits) -> None:
        """The limits in force now and after every reset (``--min-part-size``...)."""
        self.default_upload_limits = dataclasses.replace(limits)
        self.upload_limits = dataclasses.replace(limits)

    def add_token(self, token: str, user_id: str | None = None, *, replace: bool = False) -> None:
        """Accept ``token`` for ``user_id`` (default: the seed's first user), also after resets.

        With ``replace`` the user's seed tokens stop working (``--token T``).
        """
        with self._lock:
            self._apply_token(token, user_id, replace)
            self._extra_tokens[token] = (user_id, replace)

    def _apply_token(self, token: str, user_id: str | None, replace: bool) -> None:
        model = self._model
        if user_id is None:
            user_id = next(iter(model.users))
        if user_id not in model.users:
            raise KeyError(f"unknown user id {user_id!r}")
        if replace:
            for old in [t for t, owner in model.tokens.items() if owner == user_id]:
                del model.tokens[old]
        model.tokens[token] = user_id

    def user_for_token(self, token: str) -> User | None:
        user_id = self._model.tokens.get(token)
        return None if user_id is None else self._model.users.get(user_id)

    def revoke_token(self, token: str) -> bool:
        """Forget ``token``; later calls with it get 401 (until :meth:`reset`)."""
        with self._lock:
            return self._model.tokens.pop(token, None) is not None

    @property
    def first_user(self) -> User:
        return next(iter(self._model.users.values()))

    @property
    def lock(self) -> threading.RLock:
        """Held by every write (re-entrant)."""
        return self._lock

    def changed(self) -> None:
        """Forget derived data (sizes, groupings) after a write changed the tables."""
        with self._lock:
            self._invalidate()

    def _invalidate(self) -> None:
        self._dir_cache = {}
        self._size_cache = {}
        self._groups = {}

    def _group(self, kind: str, attribute: str, key: str) -> list[Any]:
        """Entities of ``kind`` whose ``attribute`` equals (or, for lists, contains) ``key``;
        the grouping is computed once per table version, in creation order."""
        groups = self._groups.get((kind, attribute))
        if groups is None:
            groups = {}
            for entity in self._model.table(kind).values():
                value = getattr(entity, attribute)
                for one in value if isinstance(value, list) else [value]:
                    if one is not None:
                        groups.setdefault(one, []).append(entity)
            self._groups[(kind, attribute)] = groups
        return groups.get(key, [])

    # ------------------------------------------------------------------ ownership and trash
    def owner_of(self, kind: str, entity: Entity) -> str:
        """The id of the user owning ``entity`` ("" for public entities such as genomes)."""
        model = self._model
        if kind == "users":
            return entity.id
        if isinstance(entity, Project):
            return entity.owner_id
        if isinstance(entity, Run | AppSession):
            return entity.owner_id
        if isinstance(entity, Sample | AppResult | BioSample | Dataset):
            project = model.projects.get(entity.project_id)
            return project.owner_id if project is not None else ""
        if isinstance(entity, File):
            parent = model.table(entity.parent_kind).get(entity.parent_id)
            return self.owner_of(entity.parent_kind, parent) if parent is not None else ""
        return ""

    def is_removed(self, kind: str, entity: Entity) -> bool:
        """True when ``entity`` or the container it lives in is in the trash."""
        if entity.deleted:
            return True
        model = self._model
        if isinstance(entity, Sample | AppResult | BioSample | Dataset | AppSession):
            project = model.projects.get(entity.project_id)
            return project is not None and project.deleted
        if isinstance(entity, File):
            parent = model.table(entity.parent_kind).get(entity.parent_id)
            return parent is not None and self.is_removed(entity.parent_kind, parent)
        return False

    def get(self, kind: str, entity_id: str, user: User) -> Any:
        """The entity ``kind/entity_id`` as ``user`` may see it, or an
        :class:`~bsmount.emulator.state.errors.EntityError`."""
        try:
            table = self._model.table(kind)
        except KeyError:
            raise UnknownEntity(kind, entity_id) from None
        entity = table.get(entity_id)
        if entity is None:
            raise UnknownEntity(kind, entity_id)
        owner = self.owner_of(kind, entity)
        if kind != "genomes" and owner != user.id:
            raise ForbiddenEntity(kind, entity_id)
        if self.is_removed(kind, entity):
            raise RemovedEntity(kind, entity_id)
        return entity

    def peek(self, kind: str, entity_id: str) -> Any:
        """The entity whatever its owner or trash flag (for rendering references), or None."""
        try:
            return self._model.table(kind).get(entity_id)
        except KeyError:
            return None

    # ------------------------------------------------------------------ listings
    def _live(self, kind: str, entities: Iterable[Entity]) -> list[Any]:
        return [e for e in entities if not self.is_removed(kind, e)]

    def projects_of(self, user: User) -> list[Project]:
        return [p for p in self._group("projects", "owner_id", user.id) if not p.deleted]

    def runs_of(self, user: User) -> list[Run]:
        return [r for r in self._group("runs", "owner_id", user.id) if not r.deleted]

    def appsessions_of(self, user: User) -> list[AppSession]:
        return self._live("appsessions", self._group("appsessions", "owner_id", user.id))

    def in_project(self, kind: str, project: Project) -> list[Any]:
        """Live samples, appresults, appsessions, biosamples or datasets of a project."""
        return [e for e in self._group(kind, "project_id", project.id) if not e.deleted]

    def samples_in(self, project: Project) -> list[Sample]:
        return self.in_project("samples", project)

    def appresults_in(self, project: Project) -> list[AppResult]:
        return self.in_project("appresults", project)

    def appresults_of_session(self, session: AppSession) -> list[AppResult]:
        return self._live("appresults", self._group("appresults", "appsession_id", session.id))

    def datasets_of_session(self, session: AppSession) -> list[Dataset]:
        return self._live("datasets", self._group("datasets", "appsession_id", session.id))

    def datasets_of_biosample(self, biosample: BioSample) -> list[Dataset]:
        return self._live("datasets", self._group("datasets", "biosample_ids", biosample.id))

    def visible(self, kind: str, user: User) -> list[Any]:
        """Every live entity of ``kind`` owned by ``user`` (via its project), creation order."""
        projects = self.projects_of(user)
        found: list[Any] = []
        for project in projects:
            found.extend(self.in_project(kind, project))
        return found

    def files_of(self, kind: str, container: Entity) -> list[File]:
        """Every file of a container, any upload status (a dataset linked to a sample shares its
        files)."""
        if isinstance(container, Dataset) and container.sample_id is not None:
            sample = self._model.samples.get(container.sample_id)
            ids = sample.file_ids if sample is not None else []
        else:
            ids = cast("list[str]", getattr(container, "file_ids", []))
        files = self._model.files
        return [files[i] for i in ids if i in files and not files[i].deleted]

    def dir_index(self, kind: str, container: Entity) -> DirIndex:
        key = (kind, container.id)
        index = self._dir_cache.get(key)
        if index is None:
            index = DirIndex.build(self.files_of(kind, container))
            self._dir_cache[key] = index
        return index

    def total_size(self, kind: str, entity: Entity) -> int:
        """Bytes of complete files under an entity (projects: samples + appresults + datasets
        with files of their own; appsessions: their appresults and datasets)."""
        key = (kind, entity.id)
        cached = self._size_cache.get(key)
        if cached is not None:
            return cached
        total = 0
        if isinstance(entity, Project):
            for sample in self.samples_in(entity):
                total += self.total_size("samples", sample)
            for result in self.appresults_in(entity):
                total += self.total_size("appresults", result)
            for dataset in self.in_project("datasets", entity):
                if dataset.sample_id is None:
                    total += self.total_size("datasets", dataset)
        elif isinstance(entity, AppSession):
            for result in self.appresults_of_session(entity):
                total += self.total_size("appresults", result)
            for dataset in self.datasets_of_session(entity):
                total += self.total_size("datasets", dataset)
        elif isinstance(entity, BioSample):
            for dataset in self.datasets_of_biosample(entity):
                total += self.total_size("datasets", dataset)
        elif isinstance(entity, File):
            total = entity.size
        else:
            files = self.files_of(kind, entity)
            total = sum(f.size for f in files if f.upload_status == "complete")
        self._size_cache[key] = total
        return total

    # ------------------------------------------------------------------ content
    def file_content(self, file_id: str) -> tuple[str, ContentSource] | None:
        """(file name, content) for the blob route, or None for unknown or removed files."""
        item = self._model.files.get(file_id)
        if item is None or item.content is None or self.is_removed("files", item):
            return None
        if item.upload_status != "complete":
            return None  # no object in the store until the upload completes
        return item.name, item.content

    # ------------------------------------------------------------------ writes
    def add_tick_hook(self, hook: Callable[[datetime], None]) -> None:
        """Call ``hook(now)`` from :meth:`apply_timers` (once per hook)."""
        if hook not in self._tick_hooks:
            self._tick_hooks.append(hook)

    def apply_timers(self, now: datetime | None = None) -> None:
        """Complete every Running appsession whose ``complete_at`` has passed, and let the tick
        hooks advance launched sessions (cheap: called before each API request)."""
        moment = now or utcnow()
        for hook in self._tick_hooks:
            hook(moment)
        due = [
            s
            for s in self._model.appsessions.values()
            if s.complete_at is not None and s.complete_at <= moment
        ]
        for session in due:
            with self._lock:
                when, session.complete_at = session.complete_at, None
                if session.status == "Running" and when is not None:
                    session.status = "Complete"
                    session.status_summary = _SUMMARIES["Complete"]
                    session.date_completed = session.date_modified = when
                    self._session_moved(session)
                    log.info("appsession %s completed on its timer", session.id)

    def create_project(self, user: User, name: str, description: str = "") -> tuple[Project, bool]:
        """Create a project owned by ``user``; an existing live project of that name is returned
        instead (``created`` False), as BaseSpace does."""
        with self._lock:
            for project in self.projects_of(user):
                if project.name == name:
                    return project, False
            now = utcnow()
            project = Project(
                id=self._model.new_numeric_id("projects"),
                name=name,
                date_created=now,
                date_modified=now,
                owner_id=user.id,
                description=description,
            )
            self._model.projects[project.id] = project
            self._invalidate()
            log.info("created project %s (%r) for user %s", project.id, name, user.id)
            return project, True

    def update_project(
        self, user: User, project_id: str, *, name: str | None, description: str | None
    ) -> Project:
        """Change a project's name and/or description ([G] ``POST v2/projects/{id}``); an
        :class:`~bsmount.emulator.state.errors.EntityError` when ``user`` cannot see it."""
        with self._lock:
            project: Project = self.get("projects", project_id, user)
            if name is not None:
                project.name = name
            if description is not None:
                project.description = description
            project.date_modified = utcnow()
            self._invalidate()
            log.info("updated project %s for user %s", project.id, user.id)
            return project

    def set_appsession_status(
        self, appsession_id: str, status: str, status_summary: str | None = None
    ) -> None:
        """Move an appsession to ``status`` (one of :data:`APPSESSION_STATUSES`, any case).

        Raises KeyError for an unknown id and ValueError for an unknown status.
        """
        canonical = {s.lower(): s for s in APPSESSION_STATUSES}.get(status.strip().lower())
        if canonical is None:
            raise ValueError(f"unknown appsession status {status!r}")
        with self._lock:
            session = self._model.appsessions.get(appsession_id)
            if session is None:
                raise KeyError(appsession_id)
            now = utcnow()
            session.status = canonical
            session.complete_at = None
            session.date_modified = now
            if canonical in _TERMINAL:
                session.date_completed = now
            elif canonical == "Running":
                session.date_completed = None
            session.status_summary = (
                status_summary if status_summary is not None else _SUMMARIES[canonical]
            )
            self._session_moved(session)
            log.info("appsession %s is now %s", appsession_id, canonical)

    def _session_moved(self, session: AppSession) -> None:
        """After a status change: Running outputs follow the session; a finished session
        records its appresults."""
        for kind in ("appresults", "samples"):
            for entity in self._group(kind, "appsession_id", session.id):
                if entity.status in _FOLLOWERS:
                    entity.status = session.status
                    entity.status_summary = session.status_summary
        self._record_outputs(session)
        self._invalidate()

    def _record_all_outputs(self) -> None:
        for session in self._model.appsessions.values():
            self._record_outputs(session)

    def _record_outputs(self, session: AppSession) -> None:
        """Give a finished session its ``Output.AppResults`` (unless the seed gave one)."""
        if session.status not in _TERMINAL:
            return
        results = list(self._group("appresults", "appsession_id", session.id))
        existing = session.property(OUTPUT_APPRESULTS)
        if not results or (existing is not None and existing.type != "appresult[]"):
            return
        refs = [("appresults", r.id) for r in results]
        if existing is None:
            moment = session.date_completed or session.date_modified
            prop = Property(OUTPUT_APPRESULTS, "appresult[]", refs=refs, date_created=moment)
            session.properties.append(prop)
        else:
            existing.refs = refs


# An appresult or sample in one of these statuses (created while its session ran) takes its
# session's status when the session moves; Complete and Aborted ones keep theirs.
_FOLLOWERS = {"Running", "NeedsAttention", "TimedOut"}

_SUMMARIES = {
    "Running": "Running",
    "Complete": "Application completed successfully",
    "NeedsAttention": "The analysis needs attention",
    "TimedOut": "The analysis timed out",
    "Aborted": "Aborted by user",
}
