"""QC thresholds as text: JSON and CSV both ways, the commands a write of a settings file
carries (import, ``add``, ``clear``), and a lane's metrics checked against thresholds.

A threshold is BaseSpace's V2QcThreshold: ``Name``, ``Operator``, ``ThresholdValues``,
``Group``, ``DatasetTypeId``, ``Optional``. The CSV form has one row per threshold under the
header :data:`CSV_COLUMNS`; ``Values`` holds the numbers separated by ``;`` (``Between`` takes
two). A CSV without a header line is read in that column order, and only ``Name``,
``Operator`` and ``Values`` are required.

A written payload is one of (:func:`parse_command`):

- ``clear`` — remove every threshold (``bs ... threshold clear``);
- ``add`` followed by thresholds (JSON or CSV, on the same line or the next) — add them, or
  replace those with the same Group, Name and DatasetTypeId (``bs ... threshold add``);
- anything else — a whole document (JSON ``{"QcThresholds": [...]}``, a JSON list, or CSV) that
  replaces the thresholds (``bs ... threshold import``).

Every threshold is checked before anything is sent (:func:`check_threshold`).
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bsmount.errors import ControlError

__all__ = [
    "CSV_COLUMNS",
    "OPERATORS",
    "Command",
    "Verdict",
    "check_threshold",
    "evaluate",
    "merge",
    "parse_command",
    "parse_thresholds",
    "thresholds_csv",
    "thresholds_json",
]

CSV_COLUMNS = ("Name", "Operator", "Values", "Group", "DatasetTypeId", "Optional")
OPERATORS: dict[str, str] = {  # operator -> how the text forms show it
    "GreaterThan": ">",
    "GreaterThanOrEqual": ">=",
    "LessThan": "<",
    "LessThanOrEqual": "<=",
    "Equal": "==",
    "Between": "between",
}
_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0", "")


def _invalid(message: str) -> ControlError:
    return ControlError(errno.EINVAL, message)


@dataclass(frozen=True)
class Command:
    """What a write asks: ``import`` (replace all), ``add`` (merge) or ``clear``; the text of
    its thresholds (or dependencies)."""

    action: str
    body: str


def parse_command(text: str) -> Command:
    stripped = text.strip()
    if stripped.casefold() == "clear":
        return Command("clear", "")
    head, _, rest = stripped.partition("\n") if "\n" in stripped else (stripped, "", "")
    word, _, tail = head.strip().partition(" ")
    if word.casefold() == "add":
        body = (tail + "\n" + rest).strip()
        if not body:
            raise _invalid("'add' needs the thresholds to add after it (JSON or CSV)")
        return Command("add", body)
    if not stripped:
        raise _invalid("empty payload: write thresholds (JSON or CSV), 'add ...' or 'clear'")
    return Command("import", stripped)


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError
    if not math.isfinite(float(value)):
        raise ValueError
    return value


def check_threshold(raw: Any, where: str) -> dict[str, Any]:
    """One threshold, checked and normalised (the API's field names and order)."""
    if not isinstance(raw, Mapping):
        raise _invalid(f"{where}: a threshold is an object with Name, Operator, ThresholdValues")
    unknown = sorted(set(raw) - {"Name", "Operator", "ThresholdValues", "Group",
                                 "DatasetTypeId", "Optional"})  # fmt: skip
    if unknown:
        raise _invalid(f"{where}: unknown field(s) {', '.join(unknown)}")
    name = raw.get("Name")
    if not isinstance(name, str) or not name.strip():
        raise _invalid(f"{where}: Name is required")
    operator = raw.get("Operator")
    if operator not in OPERATORS:
        raise _invalid(f"{where}: Operator {operator!r} is not one of {', '.join(OPERATORS)}")
    values = raw.get("ThresholdValues")
    try:
        numbers = [_number(v) for v in values] if isinstance(values, list) else None
    except ValueError:
        numbers = None
    if numbers is None:
        raise _invalid(f"{where}: ThresholdValues must be a list of numbers")
    wanted = 2 if operator == "Between" else 1
    if len(numbers) != wanted:
        raise _invalid(f"{where}: {operator} takes {wanted} value(s), got {len(numbers)}")
    optional = raw.get("Optional", False)
    if not isinstance(optional, bool):
        raise _invalid(f"{where}: Optional must be true or false")
    texts = {key: raw.get(key) or "" for key in ("Group", "DatasetTypeId")}
    for key, value in texts.items():
        if not isinstance(value, str):
            raise _invalid(f"{where}: {key} must be a string")
    return {
        "Name": name.strip(),
        "Optional": optional,
        "Operator": operator,
        "DatasetTypeId": texts["DatasetTypeId"],
        "ThresholdValues": numbers,
        "Group": texts["Group"],
    }


def _from_json(text: str) -> list[Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _invalid(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if isinstance(document, Mapping) and "QcThresholds" in document:
        document = document["QcThresholds"]
    elif isinstance(document, Mapping):
        document = [document]  # one threshold
    if not isinstance(document, list):
        raise _invalid('expected {"QcThresholds": [...]}, a list of thresholds or one threshold')
    return document


def _csv_number(text: str, where: str) -> float | int:
    try:
        value = float(text)
    except ValueError:
        raise _invalid(f"{where}: {text!r} is not a number") from None
    return int(value) if value.is_integer() and "." not in text else value


def _from_csv(text: str) -> list[dict[str, Any]]:
    rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    columns: Sequence[str] = CSV_COLUMNS
    if rows and rows[0] and rows[0][0].strip().casefold() == "name":
        columns = [c.strip() for c in rows.pop(0)]
        unknown = [c for c in columns if c not in CSV_COLUMNS]
        if unknown:
            raise _invalid(f"CSV header: unknown column(s) {', '.join(unknown)}")
    result: list[dict[str, Any]] = []
    for number, row in enumerate(rows, start=1):
        where = f"CSV row {number}"
        if len(row) > len(columns):
            raise _invalid(f"{where}: {len(row)} cells, at most {len(columns)} expected")
        cells = {col: cell.strip() for col, cell in zip(columns, row, strict=False)}
        values = [v for v in cells.get("Values", "").replace(" ", ";").split(";") if v]
        optional = cells.get("Optional", "").casefold()
        if optional not in _TRUE + _FALSE:
            raise _invalid(f"{where}: Optional must be true or false")
        result.append(
            {
                "Name": cells.get("Name", ""),
                "Operator": cells.get("Operator", ""),
                "ThresholdValues": [_csv_number(v, where) for v in values],
                "Group": cells.get("Group", ""),
                "DatasetTypeId": cells.get("DatasetTypeId", ""),
                "Optional": optional in _TRUE,
            }
        )
    return result


def parse_thresholds(text: str) -> list[dict[str, Any]]:
    """Thresholds from JSON or CSV text, each checked; a threshold given twice is refused."""
    stripped = text.strip()
    raw = _from_json(stripped) if stripped[:1] in ("{", "[") else _from_csv(stripped)
    checked = [check_threshold(item, f"threshold {i + 1}") for i, item in enumerate(raw)]
    seen: set[tuple[str, str, str]] = set()
    for item in checked:
        key = _key(item)
        if key in seen:
            raise _invalid(f"threshold {item['Name']!r} is given twice")
        seen.add(key)
    return checked


def _key(item: Mapping[str, Any]) -> tuple[str, str, str]:
    return (
        str(item.get("Group", "")),
        str(item.get("Name", "")),
        str(item.get("DatasetTypeId", "")),
    )


def merge(
    current: Sequence[Mapping[str, Any]], added: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``current`` with ``added`` in place of the same Group/Name/DatasetTypeId, new ones last."""
    by_key = {_key(item): item for item in added}
    result = [by_key.pop(_key(item), dict(item)) for item in current]
    return result + [item for item in added if _key(item) in by_key]


def thresholds_json(items: Sequence[Mapping[str, Any]]) -> bytes:
    """What ``bs ... threshold export`` writes as JSON (the API's V2QcThresholdResponse)."""
    return (json.dumps({"QcThresholds": list(items)}, indent=2) + "\n").encode("utf-8")


def _cell(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def thresholds_csv(items: Sequence[Mapping[str, Any]]) -> bytes:
    """The CSV form: a header line, one row per threshold."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        values = item.get("ThresholdValues") or []
        writer.writerow(
            [
                item.get("Name", ""),
                item.get("Operator", ""),
                ";".join(_cell(v) for v in values) if isinstance(values, list) else "",
                item.get("Group", ""),
                item.get("DatasetTypeId", ""),
                "true" if item.get("Optional") else "false",
            ]
        )
    return out.getvalue().encode("utf-8")


@dataclass(frozen=True)
class Verdict:
    """One threshold checked against a lane: its value (None when the lane lacks it)."""

    name: str
    rule: str
    value: float | None
    passed: bool | None  # None: not evaluated (no value)
    optional: bool


def _rule(item: Mapping[str, Any]) -> str:
    values = [_cell(v) for v in item.get("ThresholdValues") or []]
    operator = str(item.get("Operator", ""))
    if operator == "Between" and len(values) == 2:
        return f"between {values[0]} and {values[1]}"
    return f"{OPERATORS.get(operator, operator)} {' '.join(values)}"


def _passes(operator: str, value: float, limits: Sequence[float]) -> bool:
    if operator == "Between":
        return limits[0] <= value <= limits[1]
    limit = limits[0]
    return {
        "GreaterThan": value > limit,
        "GreaterThanOrEqual": value >= limit,
        "LessThan": value < limit,
        "LessThanOrEqual": value <= limit,
        "Equal": value == limit,
    }.get(operator, False)


def evaluate(
    metrics: Mapping[str, float], thresholds: Sequence[Mapping[str, Any]]
) -> list[Verdict]:
    """Each threshold checked against ``metrics`` (a lane's figures by Lane field name)."""
    verdicts = []
    for item in thresholds:
        name = str(item.get("Name", ""))
        value = metrics.get(name)
        limits = [float(v) for v in item.get("ThresholdValues") or []]
        operator = str(item.get("Operator", ""))
        wanted = 2 if operator == "Between" else 1
        passed = (
            None if value is None or len(limits) != wanted else _passes(operator, value, limits)
        )
        verdicts.append(Verdict(name, _rule(item), value, passed, bool(item.get("Optional"))))
    return verdicts
