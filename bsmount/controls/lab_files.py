"""Lab operations as control files: ``.import`` (a biosample manifest) in ``BioSamples/`` and
each project's ``BioSamples/``; ``.requeue`` (``bs biosample requeue``) and ``.default-project``
in each biosample.

* ``cp manifest.csv BioSamples/.import`` checks every row (:mod:`.manifest`) against the
  account first; if any row is bad nothing is created and ``.error`` lists every bad row by its
  line number. Otherwise each row becomes a biosample (``POST v2/biosamples``); should the
  server refuse one anyway, those this import created are moved to the trash, so an
  import is all or nothing. Rows are created four at a time; a file holds at most
  :data:`~.manifest.MAX_ROWS` rows, so an import fits the operation's deadline. Reading
  ``.import`` gives an empty manifest (the header row).
* ``echo NewLibrary > BioSamples/<b>/.requeue`` asks the lab for a new library of the biosample
  (through its prep request); ``ExistingLibrary [library=NAME]`` for more yield from one of its
  libraries. Options: ``yield=N`` (RequestedAdditionalYield; default the prep request's required
  Gbp, rounded up), ``lims=ID`` (LIMSId), ``prep=ID``, ``library=NAME|ID`` (needed when there
  are several). The new requeue shows in ``LabRequeues/``.
* ``echo "Other Project" > BioSamples/<b>/.default-project`` moves the biosample to another
  default project (``POST v2/biosamples/bulkupdate``); reading it gives the current one.
"""

from __future__ import annotations

import errno
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import trio

from bsmount.api import actions, lab
from bsmount.controls.base import (
    READ_WRITE,
    ControlBinding,
    ControlContext,
    ControlFile,
    Effect,
    payload_text,
)
from bsmount.controls.manifest import (
    MANIFEST_TEMPLATE,
    ManifestError,
    NewBioSample,
    check_manifest,
)
from bsmount.errors import BsmountError, ControlError

__all__ = ["REQUEUE_KINDS", "DefaultProjectFile", "ImportFile", "ImportTarget", "RequeueFile"]

log = logging.getLogger("bsmount.controls")

MAX_REQUESTED_YIELD = 1_000_000
#: Biosamples created at once by an import (requests in flight), and the time its undo may take
#: past a cancellation (the operation's deadline).
CREATE_CONCURRENCY = 4
UNDO_TIMEOUT = 30.0

#: ``.requeue`` words (any case) → the requeue made: a new library, more of an existing one.
REQUEUE_KINDS = {
    "newlibrary": "NewLibrary",
    "newbiosamplelibrary": "NewLibrary",
    "existinglibrary": "ExistingLibrary",
    "additionalyieldoflibrary": "ExistingLibrary",
}
_POOLS = ("existingpool", "additionalyieldoflibrarypool")
_OPTIONS = ("yield", "lims", "prep", "library")


@dataclass(frozen=True)
class ImportTarget:
    """Where ``.import`` is: the project of a project's ``BioSamples/`` (its rows default to
    it), or None for the top-level ``BioSamples/``."""

    project_id: str | None


class ImportFile(ControlFile):
    name: ClassVar[str] = ".import"
    mode: ClassVar[int] = READ_WRITE
    bs_command: ClassVar[str] = "bs manifest accession"
    where: ClassVar[str] = "`BioSamples/` and each project's `BioSamples/`"
    reads: ClassVar[str] = "an empty manifest: the columns it takes"
    writes: ClassVar[str] = (
        "a biosample manifest (CSV), at close: every row checked first; any bad row and nothing "
        "is created (`.error` lists each by line); else one biosample per row"
    )

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        return MANIFEST_TEMPLATE.encode("utf-8")

    def is_complete(self, payload: bytes) -> bool:
        return False  # a file of many lines: act at close

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        target = binding.entity
        default_project = target.project_id if isinstance(target, ImportTarget) else None
        text = payload_text(payload).lstrip("\ufeff")  # spreadsheets write a BOM
        client = ctx.client
        projects = _project_ids(await client.list_projects())
        existing: dict[str, set[str]] = {}
        for biosample in await client.list_biosamples():
            default = biosample.raw.get("DefaultProject")
            project_id = str(default.get("Id", "")) if isinstance(default, Mapping) else ""
            existing.setdefault(project_id, set()).add(biosample.name.casefold())
        try:
            rows = check_manifest(text, projects, existing, default_project=default_project)
        except ManifestError as exc:
            raise ControlError(errno.EINVAL, str(exc)) from None
        created = await _create_all(client, rows)
        log.info("manifest imported: %d biosamples created", len(created))
        touched = sorted({row.project_id for row in rows})
        keys = [("BioSamples",), *(("Projects", p, "BioSamples") for p in touched)]
        return Effect(invalidate=tuple(keys))


async def _create_all(client: Any, rows: Sequence[NewBioSample]) -> list[tuple[str, str]]:
    """Create every row, :data:`CREATE_CONCURRENCY` at a time; (id, name) of each. On the first
    refusal no further row is started, those in flight finish, and all created are undone
    (ControlError EIO). Cancelled (the operation's deadline): those created are undone too."""
    limiter = trio.CapacityLimiter(CREATE_CONCURRENCY)
    created: list[tuple[str, str]] = []
    refused: list[tuple[NewBioSample, BsmountError]] = []

    async def create(row: NewBioSample) -> None:
        async with limiter:
            if refused:
                return
            try:
                made = await lab.create_biosample(
                    client,
                    row.name,
                    row.project_id,
                    container_name=row.container_name,
                    container_position=row.container_position,
                )
            except BsmountError as exc:
                refused.append((row, exc))
                return
            created.append((made.id, made.name))

    try:
        async with trio.open_nursery() as nursery:
            for row in rows:
                nursery.start_soon(create, row)
    except BaseException:  # cancelled (the deadline; a group of Cancelled) or a bug: undo
        with trio.CancelScope(shield=True), trio.move_on_after(UNDO_TIMEOUT):
            log.warning("manifest import cut short: %s", await _undo(client, created))
        raise
    if refused:
        row, exc = min(refused, key=lambda r: r[0].line)
        undone = await _undo(client, created)
        raise ControlError(
            errno.EIO, f"line {row.line}: the server refused {row.name!r} ({exc}); {undone}"
        )
    return created


def _project_ids(projects: Sequence[Any]) -> dict[str, str]:
    """Project name or id → id; a name several projects share maps to ``""`` (ambiguous)."""
    ids: dict[str, str] = {}
    for project in projects:
        known = ids.get(project.name)
        ids[project.name] = project.id if known in (None, project.id) else ""
    ids.update({project.id: project.id for project in projects})
    return ids


async def _undo(client: Any, created: Sequence[tuple[str, str]]) -> str:
    """Move the biosamples of a failed import to the trash; what happened, for the error."""
    if not created:
        return "nothing was created"
    failed: list[str] = []
    limiter = trio.CapacityLimiter(CREATE_CONCURRENCY)

    async def trash(biosample_id: str, name: str) -> None:
        async with limiter:
            try:
                await actions.move_to_trash(client, "biosamples", biosample_id)
            except BsmountError as exc:
                log.warning("could not move biosample %s to the trash: %s", biosample_id, exc)
                failed.append(name)

    async with trio.open_nursery() as nursery:
        for biosample_id, name in created:
            nursery.start_soon(trash, biosample_id, name)
    done = len(created) - len(failed)
    text = f"the {done} biosample(s) this import had created were moved to the trash"
    if failed:
        text += f"; these could not be and remain: {', '.join(sorted(failed))}"
    return text


class RequeueFile(ControlFile):
    name: ClassVar[str] = ".requeue"
    mode: ClassVar[int] = READ_WRITE
    bs_command: ClassVar[str] = "bs biosample requeue --requeue-type"
    where: ClassVar[str] = "each biosample"
    reads: ClassVar[str] = "what can be written: its prep requests and libraries, as lines"
    writes: ClassVar[str] = (
        "`NewLibrary` or `ExistingLibrary` [`library=` `yield=` `lims=` `prep=`]: a lab "
        "requeue (shown in `LabRequeues/`), once a line ends"
    )

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        biosample = binding.entity
        preps = await lab.prep_requests(ctx.client, biosample.id)
        libraries = await lab.list_libraries(ctx.client, biosample.id)
        active = [p for p in preps if p.status.casefold() == "active"] or preps
        lines = ["# echo WORD [yield=N] [lims=ID] [prep=ID] [library=NAME] > .requeue"]
        for prep in preps:
            lines.append(
                f"NewLibrary prep={prep.id} yield={_yield({}, prep)}  # "
                f"{prep.library_prep or 'no kit'}, {prep.required_yield_gb:g} Gbp, {prep.status}"
            )
        if not preps:
            lines.append("# NewLibrary: no prep request (a new library needs one)")
        default = _yield({}, active[0] if active else None)
        for library in libraries:
            lines.append(
                f"ExistingLibrary library={library.name} yield={default}"
                f"  # {library.id}, {library.status}"
            )
        if not libraries:
            lines.append("# ExistingLibrary: no library")
        return ("\n".join(lines) + "\n").encode("utf-8")

    def is_complete(self, payload: bytes) -> bool:
        # a whole line (or lines) written at once: act at write, so ``echo`` sees a refusal
        # (shells ignore errors of close); a payload written without a newline acts at close
        return payload.endswith(b"\n")

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        kind, options = parse_requeue(payload_text(payload))
        biosample = binding.entity
        client = ctx.client
        preps = await lab.prep_requests(client, biosample.id)
        active = [p for p in preps if p.status.casefold() == "active"] or preps
        if kind == "NewLibrary":
            prep = _pick_prep(preps, active, options.get("prep"))
            requested = _yield(options, prep)
            made = await lab.requeue_new_library(
                client, prep.id, requested, options.get("lims", "")
            )
        else:
            libraries = await lab.list_libraries(client, biosample.id)
            library = _pick_library(libraries, options.get("library"))
            requested = _yield(options, active[0] if active else None)
            made = await lab.requeue_library(client, library.id, requested, options.get("lims", ""))
        log.info("lab requeue %s (%s, %d) of biosample %s", made.id, kind, requested, biosample.id)
        return Effect(invalidate=(binding.directory,))


class DefaultProjectFile(ControlFile):
    name: ClassVar[str] = ".default-project"
    mode: ClassVar[int] = READ_WRITE
    where: ClassVar[str] = "each biosample"
    reads: ClassVar[str] = "the name of its default project (fresh)"
    writes: ClassVar[str] = (
        "a project's name or id: it becomes the biosample's default project (the web UI's "
        "Change Default Project), once a line ends"
    )

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        project = _default_project(await _biosample_json(ctx, binding))
        return (str(project.get("Name", "")) + "\n").encode("utf-8")

    def is_complete(self, payload: bytes) -> bool:
        return payload.endswith(b"\n")

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        wanted = payload_text(payload).strip()
        if not wanted or "\n" in wanted:
            raise ControlError(errno.EINVAL, "write one project name or id (one line)")
        project_id = _project_ids(await ctx.client.list_projects()).get(wanted)
        if project_id == "":
            raise ControlError(errno.EINVAL, f"several projects are named {wanted!r}: give its id")
        if project_id is None:
            raise ControlError(errno.EINVAL, f"no project {wanted!r} in the account")
        document = await _biosample_json(ctx, binding)
        old = str(_default_project(document).get("Id", ""))
        if old == project_id:
            return Effect()
        biosample = binding.entity
        await lab.move_biosamples(
            ctx.client,
            [biosample.id],
            project_id,
            container_name=str(document.get("ContainerName") or ""),
            container_position=str(document.get("ContainerPosition") or ""),
        )
        log.info("biosample %s moved from project %s to %s", biosample.id, old, project_id)
        keys = [("BioSamples",), *(("Projects", p, "BioSamples") for p in (old, project_id) if p)]
        return Effect(invalidate=tuple(keys))


async def _biosample_json(ctx: ControlContext, binding: ControlBinding) -> Mapping[str, Any]:
    return await lab.biosample_document(ctx.client, binding.entity.id)


def _default_project(document: Mapping[str, Any]) -> Mapping[str, Any]:
    project = document.get("DefaultProject")
    return project if isinstance(project, Mapping) else {}


def parse_requeue(text: str) -> tuple[str, dict[str, str]]:
    """The requeue kind and its ``key=value`` options (``#`` starts a comment, as in what
    reading ``.requeue`` gives); ControlError (EINVAL) when malformed."""
    words = [w for line in text.splitlines() for w in line.partition("#")[0].split()]
    if not words:
        raise ControlError(errno.EINVAL, "write NewLibrary or ExistingLibrary (empty payload)")
    first = words[0].casefold().removeprefix("--requeue-type=")
    if first in _POOLS:
        raise ControlError(errno.EINVAL, "pool requeues are not supported (no pools here)")
    kind = REQUEUE_KINDS.get(first)
    if kind is None:
        raise ControlError(
            errno.EINVAL, f"unknown requeue type {words[0]!r}: write NewLibrary or ExistingLibrary"
        )
    options: dict[str, str] = {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        key = key.casefold()
        if not sep or key not in _OPTIONS or not value:
            raise ControlError(
                errno.EINVAL, f"bad option {word!r}: use {', '.join(o + '=...' for o in _OPTIONS)}"
            )
        options[key] = value
    return kind, options


def _yield(options: Mapping[str, str], prep: lab.PrepRequest | None) -> int:
    text = options.get("yield")
    if text is None:
        required = prep.required_yield_gb if prep is not None else 0.0
        return max(1, math.ceil(required))
    if not text.isdigit() or not 0 < int(text) <= MAX_REQUESTED_YIELD:
        raise ControlError(
            errno.EINVAL, f"yield={text}: a whole number from 1 to {MAX_REQUESTED_YIELD}"
        )
    return int(text)


def _pick_prep(
    preps: Sequence[lab.PrepRequest], active: Sequence[lab.PrepRequest], wanted: str | None
) -> lab.PrepRequest:
    if wanted is not None:
        for prep in preps:
            if prep.id == wanted:
                return prep
        known = ", ".join(p.id for p in preps) or "none"
        raise ControlError(errno.EINVAL, f"prep={wanted}: not a prep request of it ({known})")
    if not active:
        raise ControlError(
            errno.EINVAL, "the biosample has no prep request, which a new library needs"
        )
    if len(active) > 1:
        ids = ", ".join(p.id for p in active)
        raise ControlError(errno.EINVAL, f"several prep requests ({ids}): add prep=ID")
    return active[0]


def _pick_library(libraries: Sequence[lab.Library], wanted: str | None) -> lab.Library:
    if wanted is not None:
        for library in libraries:
            if wanted in (library.id, library.name):
                return library
        names = ", ".join(x.name for x in libraries) or "none"
        raise ControlError(errno.EINVAL, f"library={wanted}: not a library of it ({names})")
    if not libraries:
        raise ControlError(errno.EINVAL, "the biosample has no library to requeue")
    if len(libraries) > 1:
        names = ", ".join(x.name for x in libraries)
        raise ControlError(errno.EINVAL, f"several libraries ({names}): add library=NAME")
    return libraries[0]
