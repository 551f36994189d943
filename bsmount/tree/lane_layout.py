"""A run's lanes: the kinds behind ``Runs/<run>/Lanes/`` and ``Runs/<run>/Lanes/<n>/``
(``Runs/`` itself carries the account's lane QC settings files, see
:mod:`bsmount.controls.threshold_files`).

::

    Runs/.qcthresholds .qcthresholds.csv    the account's lane QC thresholds (bs lane threshold)
    Runs/<run>/Lanes/                       one directory per lane, by lane number (+ .qc.csv)
    Runs/<run>/Lanes/<n>/                   .json (GET v2/lanes/{id}) .qc (+ metadata files)

A lane's ``.qc`` checks its metrics against the account's lane thresholds as they are now, next
to the server's own QC ``Status``; ``Lanes/.qc.csv`` is the same for every lane of the run,
one row each. Both are computed at open from fresh requests.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from typing import Any

from bsmount.api import lanes
from bsmount.api.lanes import LANE_METRICS, Lane
from bsmount.api.routes import segment
from bsmount.controls.threshold_formats import Verdict, evaluate
from bsmount.errors import NotFound
from bsmount.tree.layout import EntityDirKind, dir_controls
from bsmount.tree.metacache import Listing
from bsmount.tree.nodes import (
    CachedKind,
    DirKind,
    DirSpec,
    LayoutContext,
    Node,
    dir_node,
    static_file_node,
)

__all__ = [
    "LANES_QC_CSV",
    "LANE_QC",
    "LaneDirKind",
    "LaneListKind",
    "lane_report",
    "overall",
]

log = logging.getLogger(__name__)

LANE_QC = ".qc"
LANES_QC_CSV = ".qc.csv"
_SUMMARY = ("PercentPf", "PercentGtQ30", "Yield", "Density", "ErrorRate", "Reads", "ReadsPf")


def overall(verdicts: Sequence[Verdict]) -> str:
    """``pass``, ``fail`` (a required threshold failed), ``unknown`` (a required one has no
    value) or ``no thresholds``."""
    required = [v for v in verdicts if not v.optional]
    if not verdicts:
        return "no thresholds"
    if any(v.passed is False for v in required):
        return "fail"
    if any(v.passed is None for v in required):
        return "unknown"
    return "pass"


def _value(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if value.is_integer() else f"{value:g}"


def lane_report(lane: Lane, thresholds: Sequence[dict[str, Any]]) -> str:
    """A lane's ``.qc``: the server's status, the verdict against ``thresholds`` and one line
    per threshold (tab-separated), then every metric."""
    verdicts = evaluate(lane.metrics, thresholds)
    met = sum(1 for v in verdicts if v.passed)
    lines = [
        f"lane\t{lane.number}",
        f"status\t{lane.status or '-'}",
        f"thresholds\t{overall(verdicts)}\t{met} of {len(verdicts)} met",
        "",
        "metric\tvalue\tthreshold\tresult",
    ]
    for v in verdicts:
        result = {True: "pass", False: "fail", None: "no value"}[v.passed]
        lines.append(
            f"{v.name}\t{_value(v.value)}\t{v.rule}\t{result}{' (optional)' if v.optional else ''}"
        )
    lines += ["", "metric\tvalue"]
    lines += [
        f"{name}\t{_value(lane.metrics[name])}" for name in LANE_METRICS if name in lane.metrics
    ]
    return "\n".join(lines) + "\n"


def _lanes_csv(run_lanes: Sequence[Lane], thresholds: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Lane", "Id", "Status", *_SUMMARY, "Thresholds"])
    for lane in run_lanes:
        verdict = overall(evaluate(lane.metrics, thresholds))
        values = [_value(lane.metrics.get(name)) for name in _SUMMARY]
        writer.writerow([lane.number, lane.id, lane.status, *values, verdict])
    return out.getvalue()


class LaneListKind(CachedKind):
    """``Runs/<run>/Lanes/``: one directory per lane of the run (``GET
    v2/runs/{id}/sequencingstats``), named by lane number, and ``.qc.csv``."""

    def __init__(self, name: str, shows: str, *, child: DirKind) -> None:
        super().__init__(name, shows)
        self.child = child

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        assert node.spec is not None
        run_id = node.spec.args[0]
        client = ctx.client
        listing = Listing()
        try:
            run_lanes = await lanes.list_lanes(client, run_id)
        except NotFound:  # a run with no sequencing statistics (yet): no lanes
            log.info("run %s has no sequencing statistics: Lanes/ is empty", run_id)
            run_lanes = []
        for lane in run_lanes:
            listing.entries[str(lane.number)] = dir_node(
                node.key + (lane.id,), DirSpec(self.child, (lane.id,), lane), node.mtime_ns
            )

        async def summary() -> bytes:
            fresh = await lanes.list_lanes(client, run_id)
            thresholds = await lanes.get_lane_thresholds(client)
            return _lanes_csv(fresh, thresholds).encode("utf-8")

        listing.entries[LANES_QC_CSV] = static_file_node(
            node.key + (LANES_QC_CSV,), loader=summary, mtime_ns=node.mtime_ns
        )
        listing.entries.update(dir_controls(node.key))
        return listing


class LaneDirKind(EntityDirKind):
    """``Runs/<run>/Lanes/<n>/``: the metadata files (``.json`` is ``GET v2/lanes/{id}``) and
    ``.qc``."""

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        listing = await super().build(ctx, node)
        assert node.spec is not None
        lane: Lane = node.spec.entity
        client = ctx.client

        async def report() -> bytes:
            fresh = Lane.from_json(await client.get_json(f"v2/lanes/{segment(lane.id)}"))
            thresholds = await lanes.get_lane_thresholds(client)
            return lane_report(fresh, thresholds).encode("utf-8")

        listing.entries[LANE_QC] = static_file_node(
            node.key + (LANE_QC,), loader=report, mtime_ns=node.mtime_ns
        )
        return listing
