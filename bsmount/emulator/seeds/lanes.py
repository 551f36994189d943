"""The seed format's lanes, lane QC thresholds and workflow settings (used by :mod:`.entities`).

- a run's ``lanes``: ``[{"number": 1, "status": "QcPassed", "metrics": {"PercentPf": 91.2,
  ...}}]``, metrics named as the Lane schema's numeric fields
  (:data:`~bsmount.emulator.state.lanes.LANE_METRICS`);
- the seed's ``lane_qc_thresholds``: the account's lane thresholds (V2QcThreshold objects);
- the seed's ``workflow_settings``: ``[{"application": "<id>", "qc_thresholds": [...],
  "dependencies": {"Version": "1", "Dependencies": [...]}}]``.

Everything is checked by the rules the API applies (:mod:`bsmount.emulator.state.lanes`), so a
seed cannot hold settings the API would refuse.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from bsmount.emulator.seeds.schema import SeedError, SeedReader
from bsmount.emulator.state.errors import InvalidRequest
from bsmount.emulator.state.lanes import (
    LANE_METRICS,
    QcTables,
    validate_dependencies,
    validate_thresholds,
)

__all__ = ["LANE_STATUSES", "seed_lanes", "seed_qc_settings"]

LANE_STATUSES = ("Initial", "QcPassed", "QcFailed")  # [G]


def seed_lanes(
    reader: SeedReader, qc: QcTables, run_id: str, spec: Mapping[str, Any], where: str
) -> None:
    """The lanes of one run (its ``lanes`` key)."""
    numbers: set[int] = set()
    for i, raw in enumerate(reader.list_of(spec.get("lanes"), f"{where}.lanes")):
        at = f"{where}.lanes[{i}]"
        lane = reader.obj(raw, "lane", at)
        number = reader.integer(lane, "number", at, i + 1)
        if number < 1 or number in numbers:
            raise SeedError(f"{at}.number: lane numbers are distinct and start at 1")
        numbers.add(number)
        status = reader.text(lane, "status", at, "Initial")
        if status not in LANE_STATUSES:
            raise SeedError(f"{at}.status: one of {', '.join(LANE_STATUSES)}")
        metrics = lane.get("metrics", {})
        if not isinstance(metrics, Mapping):
            raise SeedError(f"{at}.metrics: expected an object")
        for name, value in metrics.items():
            if name not in LANE_METRICS:
                raise SeedError(f"{at}.metrics.{name}: not a Lane metric")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SeedError(f"{at}.metrics.{name}: expected a number")
        qc.add_lane(run_id, number, metrics, status)


def seed_qc_settings(
    reader: SeedReader,
    qc: QcTables,
    doc: Mapping[str, Any],
    first_user: str,
    applications: Collection[str],
) -> None:
    """The lane thresholds of the seed's first user and the workflows' settings."""
    try:
        thresholds = validate_thresholds(
            reader.list_of(doc.get("lane_qc_thresholds"), "lane_qc_thresholds"), lane=True
        )
    except InvalidRequest as exc:
        raise SeedError(f"lane_qc_thresholds: {exc.message}") from None
    if thresholds:
        qc.lane_thresholds[first_user] = thresholds
    settings = reader.list_of(doc.get("workflow_settings"), "workflow_settings")
    for i, raw in enumerate(settings):
        where = f"workflow_settings[{i}]"
        spec = reader.obj(raw, "workflow_settings", where)
        app_id = reader.text(spec, "application", where)
        if app_id not in applications:
            raise SeedError(f"{where}.application: no application with id {app_id!r}")
        try:
            if "qc_thresholds" in spec:
                qc.app_thresholds[app_id] = validate_thresholds(spec["qc_thresholds"], lane=False)
            if "dependencies" in spec:
                qc.dependencies[app_id] = validate_dependencies(spec["dependencies"], "1")
        except InvalidRequest as exc:
            raise SeedError(f"{where}: {exc.message}") from None
