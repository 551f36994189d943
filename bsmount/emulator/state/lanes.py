"""Lanes, QC thresholds and workflows of the emulated account: run lanes and their QC metrics, the
account's lane QC thresholds, and each analysis workflow's QC thresholds, dependencies and creation.

:class:`QcTables` lives in the :class:`~bsmount.emulator.state.tables.Model` (field ``qc``), so
a reset brings back the seed's settings. The rules, each refusal an
:class:`~bsmount.emulator.state.errors.InvalidRequest` (HTTP 400):

- a QC threshold (V2QcThreshold) is an object with a non-empty ``Name``, an ``Operator`` of
  :data:`OPERATORS`, ``ThresholdValues`` a list of numbers (two for ``Between``, one otherwise),
  a ``Group`` and a ``DatasetTypeId`` (strings, may be empty) and an optional boolean
  ``Optional`` [G: the reference gives the fields, not their values];
- a lane threshold's ``Name`` is a numeric field of the Lane schema (:data:`LANE_METRICS`) [G];
- ``PUT`` replaces the whole list [G: "Add or update"; an empty list is how ``bs ... clear``
  can work];
- a workflow dependency (V2AnalysisWorkflowDependency) has a non-empty ``Type``, an object of
  ``Attributes`` and a list of ``Dependencies`` of the same shape;
- creating a workflow (``POST applications/{id}/workflows``) needs a Name and an AppSessionId
  of the caller's whose application is ``{id}``; the same Name from the same application again
  updates that workflow ("Create or update").

Lane ids and workflow ids are numeric and distinct from every other kind's [G].
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bsmount.emulator.state.errors import InvalidRequest

__all__ = [
    "LANE_METRICS",
    "OPERATORS",
    "Lane",
    "QcTables",
    "Workflow",
    "validate_dependencies",
    "validate_thresholds",
]

OPERATORS = (
    "GreaterThan",
    "GreaterThanOrEqual",
    "LessThan",
    "LessThanOrEqual",
    "Equal",
    "Between",
)
#: The numeric fields of the Lane schema (v2 reference), the names a lane threshold may use.
LANE_METRICS = (
    "Density",
    "ErrorRate",
    "ErrorRate35",
    "ErrorRate50",
    "ErrorRate75",
    "ErrorRate100",
    "IntensityCycle1",
    "MaxCycleCalled",
    "MaxProjectedYieldInGbp",
    "PercentAligned",
    "PercentGtQ30",
    "PercentGtQ30Last10Cycles",
    "PercentPf",
    "Phasing",
    "PrePhasing",
    "ProjectedYieldInGbp",
    "Reads",
    "ReadsPf",
    "Yield",
)
THRESHOLD_CODE = "BASESPACE.QCTHRESHOLDS.INVALID"  # [G]
DEPENDENCY_CODE = "BASESPACE.WORKFLOWDEPENDENCIES.INVALID"  # [G]
FIRST_LANE_ID = 90_000_001
FIRST_WORKFLOW_ID = 95_000_001


@dataclass(eq=False)
class Lane:
    """One lane of a run: its number, its metrics (Lane schema fields) and its QC status."""

    id: str
    run_id: str
    number: int
    metrics: dict[str, float | int] = field(default_factory=dict)
    status: str = "Initial"  # [G] Initial | QcPassed | QcFailed


@dataclass(eq=False)
class Workflow:
    """An analysis workflow made from an appsession of an application."""

    id: str
    name: str
    short_description: str
    source_app_id: str
    source_app_name: str
    appsession_id: str
    owner_id: str
    date_created: datetime


@dataclass
class QcTables:
    """Lanes by id, each user's lane thresholds, and per application id its thresholds and
    dependencies; the workflows created through the API."""

    lanes: dict[str, Lane] = field(default_factory=dict)
    lane_thresholds: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by user
    app_thresholds: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    dependencies: dict[str, dict[str, Any]] = field(default_factory=dict)
    workflows: dict[str, Workflow] = field(default_factory=dict)
    next_lane_id: int = FIRST_LANE_ID
    next_workflow_id: int = FIRST_WORKFLOW_ID

    def add_lane(
        self, run_id: str, number: int, metrics: Mapping[str, float | int], status: str
    ) -> Lane:
        lane = Lane(str(self.next_lane_id), run_id, number, dict(metrics), status)
        self.next_lane_id += 1
        self.lanes[lane.id] = lane
        return lane

    def lanes_of(self, run_id: str) -> list[Lane]:
        found = [lane for lane in self.lanes.values() if lane.run_id == run_id]
        return sorted(found, key=lambda lane: lane.number)

    def new_workflow_id(self) -> str:
        workflow_id = str(self.next_workflow_id)
        self.next_workflow_id += 1
        return workflow_id


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _threshold(raw: Any, where: str, *, lane: bool) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidRequest(THRESHOLD_CODE, f"{where}: a QC threshold is an object")
    name = raw.get("Name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest(THRESHOLD_CODE, f"{where}: Name is required")
    if lane and name not in LANE_METRICS:
        raise InvalidRequest(
            THRESHOLD_CODE, f"{where}: {name!r} is not a lane metric ({', '.join(LANE_METRICS)})"
        )
    operator = raw.get("Operator")
    if operator not in OPERATORS:
        raise InvalidRequest(
            THRESHOLD_CODE, f"{where}: Operator must be one of {', '.join(OPERATORS)}"
        )
    values = raw.get("ThresholdValues")
    if not isinstance(values, list) or not all(_number(v) for v in values):
        raise InvalidRequest(THRESHOLD_CODE, f"{where}: ThresholdValues must be a list of numbers")
    wanted = 2 if operator == "Between" else 1
    if len(values) != wanted:
        raise InvalidRequest(
            THRESHOLD_CODE, f"{where}: {operator} takes {wanted} value(s), got {len(values)}"
        )
    if operator == "Between" and values[0] > values[1]:
        raise InvalidRequest(THRESHOLD_CODE, f"{where}: Between needs low <= high")
    texts = {}
    for key in ("Group", "DatasetTypeId"):
        value = raw.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise InvalidRequest(THRESHOLD_CODE, f"{where}: {key} must be a string")
        texts[key] = value
    optional = raw.get("Optional", False)
    if not isinstance(optional, bool):
        raise InvalidRequest(THRESHOLD_CODE, f"{where}: Optional must be true or false")
    unknown = sorted(set(raw) - {"Name", "Operator", "ThresholdValues", "Group",
                                 "DatasetTypeId", "Optional"})  # fmt: skip
    if unknown:
        raise InvalidRequest(THRESHOLD_CODE, f"{where}: unknown field(s) {', '.join(unknown)}")
    return {
        "Name": name,
        "Optional": optional,
        "Operator": operator,
        "DatasetTypeId": texts["DatasetTypeId"],
        "ThresholdValues": list(values),
        "Group": texts["Group"] or ("Lane" if lane else ""),
    }


def validate_thresholds(raw: Any, *, lane: bool) -> list[dict[str, Any]]:
    """The thresholds of a PUT body: a list, or ``{"QcThresholds": [...]}``."""
    if isinstance(raw, Mapping) and "QcThresholds" in raw:
        raw = raw["QcThresholds"]
    if not isinstance(raw, list):
        raise InvalidRequest(THRESHOLD_CODE, "expected a list of QC thresholds")
    result = [_threshold(item, f"QcThresholds[{i}]", lane=lane) for i, item in enumerate(raw)]
    seen: set[tuple[str, str, str]] = set()
    for item in result:
        key = (item["Group"], item["Name"], item["DatasetTypeId"])
        if key in seen:
            raise InvalidRequest(THRESHOLD_CODE, f"threshold {item['Name']!r} given twice")
        seen.add(key)
    return result


def _dependency(raw: Any, where: str, depth: int) -> dict[str, Any]:
    if depth > 8:
        raise InvalidRequest(DEPENDENCY_CODE, f"{where}: dependencies nest too deep")
    if not isinstance(raw, Mapping):
        raise InvalidRequest(DEPENDENCY_CODE, f"{where}: a dependency is an object")
    kind = raw.get("Type")
    if not isinstance(kind, str) or not kind.strip():
        raise InvalidRequest(DEPENDENCY_CODE, f"{where}: Type is required")
    attributes = raw.get("Attributes", {})
    if not isinstance(attributes, Mapping):
        raise InvalidRequest(DEPENDENCY_CODE, f"{where}: Attributes must be an object")
    children = raw.get("Dependencies", [])
    if not isinstance(children, list):
        raise InvalidRequest(DEPENDENCY_CODE, f"{where}: Dependencies must be a list")
    return {
        "Type": kind,
        "Attributes": dict(attributes),
        "Dependencies": [
            _dependency(c, f"{where}.Dependencies[{i}]", depth + 1) for i, c in enumerate(children)
        ],
    }


def validate_dependencies(raw: Any, current_version: str) -> dict[str, Any]:
    """A V2AnalysisWorkflowDependenciesResponse from a PUT body ``{"Version", "Dependencies"}``
    (a bare list is the dependencies, at the current version)."""
    version: Any = current_version
    if isinstance(raw, Mapping):
        version = raw.get("Version", current_version)
        raw = raw.get("Dependencies")
    if not isinstance(version, str) or not version.strip():
        raise InvalidRequest(DEPENDENCY_CODE, "Version must be a non-empty string")
    if not isinstance(raw, list):
        raise InvalidRequest(DEPENDENCY_CODE, "expected a list of Dependencies")
    items = [_dependency(item, f"Dependencies[{i}]", 0) for i, item in enumerate(raw)]
    return {"Version": version, "Dependencies": items}
