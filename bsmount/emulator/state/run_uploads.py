"""Run uploads (``bs upload run``): a run created empty, its run folder's files uploaded into it,
then marked Completed or Failed (basespace-v2-reference.md ``POST /runs``, ``POST /runs/{id}``;
guesses marked [G] in docs/emulator.md).

- :func:`create_run` (``POST v2/runs?experimentname=&instrumenttype=``): the experiment name is
  required (at most 255 characters) and the instrument type must be one the service knows
  (:data:`INSTRUMENT_TYPES`, case-insensitive, answered in its canonical spelling [G]); the run
  starts with ``Status`` and ``UploadStatus`` ``Uploading``. Two runs may share a name (runs are
  told apart by id, like BaseSpace's).
- While a run is Uploading, files go in through the v1pre3 file upload routes
  (:mod:`bsmount.emulator.state.uploads`, ``runs`` being one of its upload kinds [G]); once it is
  Completed or Failed they are refused (:func:`writable_run`).
- :func:`set_upload_status` (``POST v2/runs/{id}?uploadstatus=Completed|Failed``; ``Uploading``
  again is accepted while it still is): ``Completed`` needs complete ``RunInfo.xml`` and
  ``RunParameters.xml`` (or ``runParameters.xml``) files at the top of the run folder, and a
  RunInfo.xml that parses with a ``Run`` element carrying an ``Id``; the run then takes its
  name, flowcell, instrument, number and read cycles from it, and ``Status`` becomes
  ``Complete``. ``Failed`` marks it failed (its files stay). A finished run cannot change again,
  except that the same status again answers the run (a retried call).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.errors import InvalidRequest
from bsmount.emulator.state.model import File, Run, User
from bsmount.emulator.state.tables import utcnow

__all__ = [
    "INSTRUMENT_TYPES",
    "NewRun",
    "create_run",
    "set_upload_status",
    "writable_run",
]

log = logging.getLogger(__name__)

#: Instrument types a manually uploaded run may declare [G: the instrument families of
#: ``bs upload run --instrument``'s help and the v2 ``InstrumentType`` values seen in runs].
INSTRUMENT_TYPES = (
    "HiSeq1000",
    "HiSeq1500",
    "HiSeq2000",
    "HiSeq2500",
    "HiSeq3000",
    "HiSeq4000",
    "HiSeqX",
    "MiniSeq",
    "MiSeq",
    "MiSeqDx",
    "MiSeqi100",
    "NextSeq",
    "NextSeqDx",
    "NextSeq1000",
    "NextSeq2000",
    "NovaSeq5000",
    "NovaSeq6000",
    "NovaSeq6000Dx",
    "NovaSeqXPlus",
    "iSeq100",
)
_BY_LOWER = {name.lower(): name for name in INSTRUMENT_TYPES}
UPLOADING = "Uploading"
FINAL_STATUSES = {"completed": "Completed", "failed": "Failed"}
_RUN_PARAMETERS = ("runparameters.xml",)
_NAME_LIMIT = 255


def _bad(code: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"BASESPACE.RUNS.{code}", message)


@dataclass(frozen=True)
class NewRun:
    experiment_name: str
    instrument_type: str
    sample_sheet_name: str = ""


def create_run(state: EmulatorState, user: User, spec: NewRun) -> Run:
    """A new empty run in ``Uploading``, owned by ``user``."""
    name = spec.experiment_name.strip()
    if not name:
        raise _bad("EXPERIMENT_NAME_REQUIRED", "experimentname is required")
    if len(name) > _NAME_LIMIT:
        raise _bad("EXPERIMENT_NAME_TOO_LONG", f"Experiment names are limited to {_NAME_LIMIT}")
    instrument = _BY_LOWER.get(spec.instrument_type.strip().lower())
    if instrument is None:
        raise _bad(
            "INVALID_INSTRUMENT_TYPE",
            f"Unknown instrumenttype {spec.instrument_type!r}: one of "
            + ", ".join(INSTRUMENT_TYPES)
            + " is required for a manually uploaded run",
        )
    now = utcnow()
    with state.lock:
        run = Run(
            id=state.model.new_numeric_id("runs"),
            name=name,
            date_created=now,
            date_modified=now,
            owner_id=user.id,
            experiment_name=name,
            status=UPLOADING,
            platform_name=_platform(instrument),
            instrument_type=instrument,
            workflow="",
            upload_status=UPLOADING,
        )
        state.model.runs[run.id] = run
        state.changed()
    log.info("run %s (%r, %s) created for upload", run.id, name, instrument)
    return run


def _platform(instrument: str) -> str:
    for family in ("HiSeq", "MiniSeq", "MiSeq", "NextSeq", "NovaSeq", "iSeq"):
        if instrument.startswith(family):
            return family
    return instrument


def writable_run(run: Run) -> None:
    """Refuse files into a run that is no longer Uploading."""
    if run.upload_status != UPLOADING:
        raise _bad(
            "NOT_UPLOADING",
            f"Run {run.id} is {run.upload_status}: files can be added only while it is Uploading",
        )


def set_upload_status(state: EmulatorState, user: User, run_id: str, status: str) -> Run:
    """``uploadstatus=Completed|Failed`` (or ``Uploading`` while it still is)."""
    wanted_key = status.strip().lower()
    with state.lock:
        run: Run = state.get("runs", run_id, user)
        if wanted_key == "uploading" and run.upload_status == UPLOADING:
            return run
        wanted = FINAL_STATUSES.get(wanted_key)
        if wanted is None:
            raise InvalidRequest(
                "BASESPACE.COMMON.INVALID_PARAMETER",
                "uploadstatus must be one of Uploading, Completed, Failed",
            )
        if run.upload_status == wanted:
            return run  # a retried call whose answer was lost
        writable_run(run)
        if wanted == "Completed":
            _complete(state, run)
        else:
            run.status = "Failed"
        run.upload_status = wanted
        run.date_modified = run.date_upload_completed = utcnow()
        state.changed()
    log.info("run %s upload %s", run.id, wanted.lower())
    return run


def _top_file(state: EmulatorState, run: Run, names: tuple[str, ...]) -> File | None:
    for item in state.files_of("runs", run):
        if item.upload_status == "complete" and item.path.lower() in names:
            return item
    return None


def _complete(state: EmulatorState, run: Run) -> None:
    info = _top_file(state, run, ("runinfo.xml",))
    if info is None:
        raise _bad("RUNINFO_MISSING", f"Run {run.id} has no RunInfo.xml: it cannot be completed")
    if _top_file(state, run, _RUN_PARAMETERS) is None:
        raise _bad(
            "RUNPARAMETERS_MISSING",
            f"Run {run.id} has no RunParameters.xml: it cannot be completed",
        )
    assert info.content is not None
    text = b"".join(info.content.iter_range(0, info.size))
    try:
        element = ElementTree.fromstring(text).find("Run")
    except ElementTree.ParseError as exc:
        raise _bad("INVALID_RUNINFO", f"RunInfo.xml of run {run.id} is not XML: {exc}") from None
    if element is None or not element.get("Id"):
        raise _bad("INVALID_RUNINFO", f"RunInfo.xml of run {run.id} has no <Run Id=...>")
    run.name = element.get("Id") or run.name
    run.flowcell_barcode = (element.findtext("Flowcell") or "").strip()
    run.instrument_name = (element.findtext("Instrument") or "").strip()
    number = element.get("Number") or ""
    run.number = int(number) if number.isdigit() else run.number
    run.cycles = _cycles(element)
    run.status = "Complete"


def _cycles(run: ElementTree.Element) -> tuple[int, int, int, int]:
    """(Read1, Read2, Index1, Index2) cycles of RunInfo.xml's ``<Reads>``."""
    reads: list[int] = []
    indexes: list[int] = []
    for read in run.iter("Read"):
        cycles = read.get("NumCycles") or "0"
        value = int(cycles) if cycles.isdigit() else 0
        (indexes if read.get("IsIndexedRead") == "Y" else reads).append(value)
    reads += [0, 0]
    indexes += [0, 0]
    return reads[0], reads[1], indexes[0], indexes[1]
