"""The emulator's lane routes (``/v2``): a run's sequencing stats with its lanes, one lane, and
the account's lane QC thresholds (rules in :mod:`bsmount.emulator.state.lanes`).

- ``GET v2/runs/{id}/sequencingstats``: V2SequencingStats; ``Lanes`` holds each seeded lane (the
  Lane schema), the run-level figures are aggregated from them [G: the real service reads them
  from InterOp];
- ``GET v2/lanes/{id}``: a Lane (the run's owner only, like the run);
- ``GET v2/laneqcthresholds``: V2QcThresholdResponse ``{"QcThresholds": [...]}`` of the caller;
- ``PUT v2/laneqcthresholds``: [G] a JSON body, ``{"QcThresholds": [...]}`` or a bare list (the
  reference names a ``qcthresholds`` array parameter without its encoding); it replaces the
  caller's thresholds and answers the new V2QcThresholdResponse; an empty list clears them.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from bsmount.emulator.http.errors import ApiProblem
from bsmount.emulator.http.responses import json_response
from bsmount.emulator.http.routing import Ctx, api_route
from bsmount.emulator.state.errors import UnknownEntity
from bsmount.emulator.state.lanes import Lane, validate_thresholds
from bsmount.emulator.state.model import Run

__all__ = ["lane_body", "read_json_body", "routes"]

log = logging.getLogger(__name__)

V2 = "/v2"


async def read_json_body(ctx: Ctx) -> Any:
    """The request's JSON body (400 when absent or not JSON)."""
    raw = await ctx.request.body()
    if not raw.strip():
        raise ApiProblem(400, "BASESPACE.COMMON.INVALID_REQUEST", "A JSON body is required")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiProblem(
            400, "BASESPACE.COMMON.INVALID_REQUEST", "The body is not valid JSON"
        ) from None


def lane_body(ctx: Ctx, lane: Lane) -> dict[str, Any]:
    """A lane as the Lane schema renders it."""
    href = f"{ctx.base_url}/v2/lanes/{lane.id}"
    body: dict[str, Any] = {"Id": lane.id, "Href": href, "LaneNumber": lane.number}
    body.update(lane.metrics)
    body.update(
        {
            "Status": lane.status,
            "HrefComments": f"{href}/comments",
            "ContainsComments": False,
        }
    )
    return body


def _mean(lanes: list[Lane], name: str) -> float | None:
    values = [float(lane.metrics[name]) for lane in lanes if name in lane.metrics]
    return round(sum(values) / len(values), 4) if values else None


def _total(lanes: list[Lane], name: str) -> float | None:
    values = [lane.metrics[name] for lane in lanes if name in lane.metrics]
    return sum(values) if values else None


async def sequencing_stats(ctx: Ctx) -> Response:
    run: Run = ctx.get("runs")
    lanes = ctx.state.model.qc.lanes_of(run.id)
    read1, read2, index1, index2 = run.cycles
    body: dict[str, Any] = {
        "Href": f"{ctx.base_url}/v2/runs/{run.id}/sequencingstats",
        "Run": {"Id": run.id, "Name": run.name, "ExperimentName": run.experiment_name},
        "Lanes": [lane_body(ctx, lane) for lane in lanes],
        "NumLanes": len(lanes),
        "NumCyclesRead1": read1,
        "NumCyclesRead2": read2,
        "NumCyclesIndex1": index1,
        "NumCyclesIndex2": index2,
        "IsIndexed": bool(index1 or index2),
    }
    aggregates = {
        "PercentPf": _mean(lanes, "PercentPf"),
        "PercentGtQ30": _mean(lanes, "PercentGtQ30"),
        "ErrorRate": _mean(lanes, "ErrorRate"),
        "ClusterDensity": _mean(lanes, "Density"),
        "PercentAligned": _mean(lanes, "PercentAligned"),
        "YieldTotal": _total(lanes, "Yield"),
        "ReadsTotal": _total(lanes, "Reads"),
        "ReadsPfTotal": _total(lanes, "ReadsPf"),
    }
    body.update({k: v for k, v in aggregates.items() if v is not None})
    return json_response(body)


async def lane(ctx: Ctx) -> Response:
    lane_id = ctx.path("id")
    found = ctx.state.model.qc.lanes.get(lane_id)
    if found is None:
        raise UnknownEntity("lanes", lane_id)
    ctx.get("runs", found.run_id)  # the run's owner only; a trashed run's lanes are gone
    return json_response(lane_body(ctx, found))


async def get_thresholds(ctx: Ctx) -> Response:
    items = ctx.state.model.qc.lane_thresholds.get(ctx.user.id, [])
    return json_response({"QcThresholds": items})


async def put_thresholds(ctx: Ctx) -> Response:
    items = validate_thresholds(await read_json_body(ctx), lane=True)
    with ctx.state.lock:
        ctx.state.model.qc.lane_thresholds[ctx.user.id] = items
    log.info("lane QC thresholds of user %s set (%d)", ctx.user.id, len(items))
    return json_response({"QcThresholds": items})


def routes() -> list[BaseRoute]:
    return [
        api_route(f"{V2}/runs/{{id}}/sequencingstats", sequencing_stats, "v2"),
        api_route(f"{V2}/lanes/{{id}}", lane, "v2"),
        api_route(f"{V2}/laneqcthresholds", get_thresholds, "v2"),
        api_route(f"{V2}/laneqcthresholds", put_thresholds, "v2", methods=("PUT",)),
    ]
