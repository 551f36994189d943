"""Run folders copied into ``Runs/`` (``bs upload run``): the two files a run is created from,
checked before anything is sent.

* ``RunInfo.xml`` (:func:`parse_run_info`): XML whose ``<Run>`` has an ``Id``, a ``<Flowcell>``,
  an ``<Instrument>`` and ``<Reads>`` with at least one ``<Read>`` whose ``NumCycles`` is a
  positive number.
* ``RunParameters.xml`` (or ``runParameters.xml``, the HiSeq/MiSeq spelling) must be XML; the
  instrument type comes from it (:func:`instrument_type`): an ``<InstrumentType>``, or the
  control software's name (``<ApplicationName>``/``<Application>``: "MiSeq Control Software",
  "NextSeq 1000/2000 Control Software"...), else the instrument's serial number in RunInfo.xml
  (``M…`` MiSeq, ``NB``/``NS`` NextSeq, ``VH`` NextSeq 2000, ``A…`` NovaSeq 6000, ``LH`` NovaSeq
  X, ``FS`` iSeq 100, ``MN`` MiniSeq, ``K``/``J``/``E``/``D``/``SN`` HiSeq 4000/3000/X/2500;
  it also tells the model of a plain "HiSeq Control Software").
  The types are those ``bs upload run --instrument`` takes; a folder whose type cannot be told
  is refused.

Every refusal is ``ControlError(EINVAL)`` with the reason.
"""

from __future__ import annotations

import errno
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

from bsmount.errors import ControlError

__all__ = [
    "RUN_INFO",
    "RunInfo",
    "instrument_type",
    "is_run_parameters",
    "parse_run_info",
    "parse_run_parameters",
]

RUN_INFO = "RunInfo.xml"
_RUN_PARAMETERS = ("runparameters.xml",)

# (pattern of the software/instrument name, instrument type), first match wins
_BY_SOFTWARE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), kind)
    for pattern, kind in (
        (r"novaseq\s*x", "NovaSeqXPlus"),
        (r"novaseq", "NovaSeq6000"),
        (r"nextseq\s*(1000/2000|2000|2k)", "NextSeq2000"),
        (r"nextseq\s*(1000|1k)", "NextSeq1000"),
        (r"nextseq", "NextSeq"),
        (r"miniseq", "MiniSeq"),
        (r"miseq\s*i100", "MiSeqi100"),
        (r"miseq\s*dx", "MiSeqDx"),
        (r"miseq", "MiSeq"),
        (r"\biseq", "iSeq100"),  # not the "iSeq" of "HiSeq" or "MiniSeq"
        (r"hiseq\s*x", "HiSeqX"),
        (r"hiseq\s*4000", "HiSeq4000"),
        (r"hiseq\s*3000", "HiSeq3000"),
        (r"hiseq\s*2500", "HiSeq2500"),
        (r"hiseq\s*2000", "HiSeq2000"),
        (r"hiseq\s*1500", "HiSeq1500"),
        (r"hiseq\s*1000", "HiSeq1000"),
        (r"hiseq", "HiSeq2500"),
    )
)
# (serial number prefix, instrument type), longest prefixes first
_BY_SERIAL: tuple[tuple[str, str], ...] = (
    ("LH", "NovaSeqXPlus"),
    ("VH", "NextSeq2000"),
    ("VL", "NextSeq1000"),
    ("NB", "NextSeq"),
    ("NS", "NextSeq"),
    ("MN", "MiniSeq"),
    ("FS", "iSeq100"),
    ("SN", "HiSeq2500"),
    ("A", "NovaSeq6000"),
    ("M", "MiSeq"),
    ("K", "HiSeq4000"),
    ("J", "HiSeq3000"),
    ("E", "HiSeqX"),
    ("D", "HiSeq2500"),
)


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What RunInfo.xml says about the run."""

    run_id: str
    flowcell: str
    instrument: str
    reads: tuple[tuple[int, int, bool], ...]  # (number, cycles, is index read)


def is_run_parameters(name: str) -> bool:
    return name.lower() in _RUN_PARAMETERS


def _refuse(reason: str) -> ControlError:
    return ControlError(errno.EINVAL, reason)


def _parse(data: bytes, what: str) -> ElementTree.Element:
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise _refuse(f"{what} is not valid XML ({exc})") from None
    for element in root.iter():  # namespaces (NovaSeq X) do not matter here
        if isinstance(element.tag, str) and "}" in element.tag:
            element.tag = element.tag.split("}", 1)[1]
    return root


def parse_run_info(data: bytes) -> RunInfo:
    """The run described by RunInfo.xml, or ControlError(EINVAL) saying what is wrong."""
    root = _parse(data, RUN_INFO)
    if root.tag != "RunInfo":
        raise _refuse(f"{RUN_INFO}: the document is <{root.tag}>, not <RunInfo>")
    run = root.find("Run")
    if run is None:
        raise _refuse(f"{RUN_INFO} has no <Run> element")
    run_id = (run.get("Id") or "").strip()
    if not run_id:
        raise _refuse(f"{RUN_INFO}: <Run> has no Id")
    flowcell = (run.findtext("Flowcell") or "").strip()
    instrument = (run.findtext("Instrument") or "").strip()
    for field, value in (("Flowcell", flowcell), ("Instrument", instrument)):
        if not value:
            raise _refuse(f"{RUN_INFO}: run {run_id} has no <{field}>")
    reads: list[tuple[int, int, bool]] = []
    for read in run.iterfind("Reads/Read"):
        number, cycles = read.get("Number", ""), read.get("NumCycles", "")
        if not number.isdigit() or not cycles.isdigit() or int(cycles) == 0:
            raise _refuse(
                f"{RUN_INFO}: a <Read> needs a Number and a positive NumCycles "
                f"(Number={number!r} NumCycles={cycles!r})"
            )
        reads.append((int(number), int(cycles), read.get("IsIndexedRead", "N").upper() == "Y"))
    if not reads:
        raise _refuse(f"{RUN_INFO}: run {run_id} has no <Reads><Read .../></Reads>")
    return RunInfo(run_id, flowcell, instrument, tuple(reads))


def parse_run_parameters(data: bytes) -> ElementTree.Element:
    """RunParameters.xml as XML (ControlError(EINVAL) when it is not)."""
    return _parse(data, "RunParameters.xml")


def _by_serial(instrument: str) -> str:
    """The instrument type an instrument's serial number tells ("" when none)."""
    serial = instrument.upper()
    for prefix, kind in _BY_SERIAL:
        if serial.startswith(prefix) and serial[len(prefix) : len(prefix) + 1].isalnum():
            return kind
    return ""


def instrument_type(parameters: ElementTree.Element, info: RunInfo) -> str:
    """The instrument type ``bs upload run`` would be given for this run folder."""
    declared = (parameters.findtext(".//InstrumentType") or "").strip()
    names = [declared] if declared else []
    for tag in ("ApplicationName", "Application", "InstrumentName"):
        names.extend((e.text or "").strip() for e in parameters.iter(tag))
    by_serial = _by_serial(info.instrument)
    for name in names:
        for pattern, kind in _BY_SOFTWARE:
            if pattern.search(name):
                if pattern.pattern == "hiseq" and by_serial.startswith("HiSeq"):
                    return by_serial  # "HiSeq Control Software" runs several models
                return kind
    if by_serial:
        return by_serial
    seen = ", ".join(repr(n) for n in names if n) or "no InstrumentType or ApplicationName"
    raise _refuse(
        f"cannot tell the instrument type of run {info.run_id}: RunParameters.xml has {seen} "
        f"and the instrument {info.instrument!r} is of no known series (bs upload run knows "
        "HiSeq, MiniSeq, MiSeq, NextSeq, NovaSeq and iSeq runs)"
    )
