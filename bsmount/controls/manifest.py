"""Biosample manifests (BaseSpace's "biosample workflow file"): reading the CSV and checking
every row before anything is created (``BioSamples/.import``, docs/lab.md).

The file is a CSV, optionally in sections: a ``[Header]`` section (``FileVersion,1``...) and a
``[Data]`` section whose first line is the header row. Without a ``[Data]`` line, the first
non-empty line is the header row. Column names are matched ignoring case and spaces:

========================  ==============================================================
column                    rule
========================  ==============================================================
``BioSample Name``        required; 1-99 letters, digits, ``-``, ``_``; once per project in
                          the file (ignoring case) and not already in the project
``Default Project``       required (unless the manifest is imported into a project's
                          ``BioSamples/``): a project's name or id the account has
``Container Name``        optional (``Sample Plate`` is the sample sheet's word for it)
``Container Position``    optional; needs a Container Name; a well ``A1``-``P24`` (``A01``),
                          once per container in the file
others of the BaseSpace   ``Prep Request``, ``Required Yield Gbp``, ``Analysis Workflow``,
manifest                  ``Analysis Group``, ``Sample Label``, ``Delivery Mode``: must be empty
                          (the v2 API's ``POST biosamples`` has no field for them)
========================  ==============================================================

Any other column is refused, and so is a file of more than :data:`MAX_ROWS` rows.
:func:`check_manifest` returns the biosamples to create, or raises :class:`ManifestError` listing
every bad row by its line number in the file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "COLUMNS",
    "MANIFEST_TEMPLATE",
    "MAX_ROWS",
    "UNSUPPORTED_COLUMNS",
    "ManifestError",
    "NewBioSample",
    "check_manifest",
    "name_problem",
]

NAME = "BioSample Name"
PROJECT = "Default Project"
CONTAINER = "Container Name"
POSITION = "Container Position"
COLUMNS = (NAME, PROJECT, CONTAINER, POSITION)
UNSUPPORTED_COLUMNS = (
    "Prep Request",
    "Required Yield Gbp",
    "Analysis Workflow",
    "Analysis Group",
    "Sample Label",
    "Delivery Mode",
)
_ALIASES = {"sample plate": CONTAINER, "sample well": POSITION, "well": POSITION}
#: Rows one import may hold: 500 creations, four at a time, fit the operation's 60 s deadline
#: at up to ~0.4 s a request.
MAX_ROWS = 500
MANIFEST_TEMPLATE = "[Header]\nFileVersion,1\n[Data]\n" + ",".join(COLUMNS) + "\n"

_NAME_RULE = re.compile(r"[A-Za-z0-9_-]{1,99}")
_WELL = re.compile(r"([A-Pa-p])0?([1-9]|1[0-9]|2[0-4])")


class ManifestError(ValueError):
    """A manifest refused: ``problems`` are ``(line, message)``, line 0 for the whole file."""

    def __init__(self, problems: Sequence[tuple[int, str]], rows: int) -> None:
        self.problems = list(problems)
        self.rows = rows
        lines = [f"line {n}: {m}" if n else m for n, m in self.problems]
        bad = len({n for n, _ in self.problems if n})
        head = (
            f"manifest refused, nothing created: {bad} of {rows} rows invalid"
            if bad
            else "manifest refused, nothing created"
        )
        super().__init__(head + "\n" + "\n".join(lines))


@dataclass(frozen=True)
class NewBioSample:
    """One row that passed: what ``POST v2/biosamples`` gets."""

    line: int
    name: str
    project_id: str
    container_name: str
    container_position: str


def _key(column: str) -> str:
    return re.sub(r"\s+", " ", column.strip()).casefold()


_KNOWN = {_key(c): c for c in COLUMNS} | {_key(c): c for c in UNSUPPORTED_COLUMNS} | _ALIASES


def _table(text: str) -> tuple[int, list[list[str]]]:
    """(line number of the header row, the header row and the rows after it)."""
    rows = list(csv.reader(io.StringIO(text)))
    start = 0
    for index, row in enumerate(rows):
        if row and row[0].strip().casefold() == "[data]":
            start = index + 1
            break
    while start < len(rows) and not any(cell.strip() for cell in rows[start]):
        start += 1
    return start + 1, rows[start:]


def check_manifest(
    text: str,
    projects: Mapping[str, str],
    existing: Mapping[str, set[str]],
    *,
    default_project: str | None = None,
) -> list[NewBioSample]:
    """Check a manifest against the account.

    ``projects`` maps project names and ids to project ids (``""`` for a name several projects
    share); ``existing`` maps a project id to the casefolded names of its biosamples;
    ``default_project`` (a project id) fills an absent or empty Default Project."""
    header_line, table = _table(text)
    if not table:
        raise ManifestError([(0, "the manifest has no header row")], 0)
    header = [_KNOWN.get(_key(cell), "") for cell in table[0]]
    problems: list[tuple[int, str]] = []
    for cell, known in zip(table[0], header, strict=True):
        if not known and cell.strip():
            problems.append(
                (header_line, f"unknown column {cell.strip()!r} (known: {', '.join(COLUMNS)})")
            )
    if NAME not in header:
        problems.append((header_line, f"no {NAME!r} column"))
    if PROJECT not in header and default_project is None:
        problems.append((header_line, f"no {PROJECT!r} column"))
    if problems:
        raise ManifestError(problems, 0)
    found: list[NewBioSample] = []
    seen: dict[tuple[str, str], int] = {}
    wells: dict[tuple[str, str], int] = {}
    data = [(header_line + 1 + i, row) for i, row in enumerate(table[1:])]
    data = [(n, row) for n, row in data if any(cell.strip() for cell in row)]
    if len(data) > MAX_ROWS:
        raise ManifestError([(0, f"{len(data)} rows: at most {MAX_ROWS} per import")], len(data))
    for number, row in data:
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header) :]):
            problems.append(
                (number, f"{len(row)} cells for {len(header)} columns (quote cells with commas)")
            )
            continue
        cells: dict[str, str] = {}
        for column, cell in zip(header, row, strict=False):
            if column and cell.strip():
                cells[column] = cell.strip()
        row_problems = _check_row(number, cells, projects, existing, default_project)
        for column in UNSUPPORTED_COLUMNS:
            if column in cells:
                row_problems.append(
                    f"{column!r} is not supported (the v2 API has no field for it): leave it empty"
                )
        if row_problems:
            problems.extend((number, p) for p in row_problems)
            continue
        new = _new(number, cells, projects, default_project)
        earlier = seen.get((new.project_id, new.name.casefold()))
        if earlier is not None:
            problems.append((number, f"{new.name!r} is also on line {earlier} (same project)"))
            continue
        seen[(new.project_id, new.name.casefold())] = number
        if new.container_position:
            well = (new.container_name, new.container_position)
            taken = wells.get(well)
            if taken is not None:
                problems.append(
                    (
                        number,
                        f"{new.container_name} {new.container_position} is also on line {taken}",
                    )
                )
                continue
            wells[well] = number
        found.append(new)
    if not data:
        problems.append((0, "the manifest has no rows"))
    if problems:
        raise ManifestError(problems, len(data))
    return found


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a biosample's name, or None (BaseSpace's rule)."""
    if not name:
        return f"{NAME} is empty"
    if _NAME_RULE.fullmatch(name) is None:
        return f"{NAME} {name!r}: use 1-99 letters, digits, '-' or '_'"
    return None


def _check_row(
    number: int,
    cells: Mapping[str, str],
    projects: Mapping[str, str],
    existing: Mapping[str, set[str]],
    default_project: str | None,
) -> list[str]:
    problems: list[str] = []
    name = cells.get(NAME, "")
    problem = name_problem(name)
    if problem is not None:
        problems.append(problem)
    project = cells.get(PROJECT, "")
    project_id = projects.get(project) if project else default_project
    if not project and default_project is None:
        problems.append(f"{PROJECT} is empty")
    elif project_id == "":
        problems.append(f"several projects are named {project!r}: give its id")
    elif project_id is None:
        problems.append(f"no project {project!r} in the account")
    elif name and name.casefold() in existing.get(project_id, set()):
        problems.append(f"project {project or project_id!r} already has a biosample {name!r}")
    position = cells.get(POSITION, "")
    if position:
        if not cells.get(CONTAINER):
            problems.append(f"{POSITION} {position!r} needs a {CONTAINER}")
        if _WELL.fullmatch(position) is None:
            problems.append(f"{POSITION} {position!r} is not a well A1-P24 (such as A01)")
    return problems


def _new(
    number: int, cells: Mapping[str, str], projects: Mapping[str, str], default: str | None
) -> NewBioSample:
    project = cells.get(PROJECT, "")
    project_id = projects[project] if project else default
    assert project_id is not None
    position = cells.get(POSITION, "")
    match = _WELL.fullmatch(position)
    if match is not None:
        position = f"{match.group(1).upper()}{int(match.group(2)):02d}"
    return NewBioSample(number, cells[NAME], project_id, cells.get(CONTAINER, ""), position)
