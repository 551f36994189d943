"""Lanes, QC thresholds and analysis workflows over the API (``bs lane ...``, ``bs workflow
...``, ``bs create workflow``).

=============================  ==================================================================
action                         request
=============================  ==================================================================
a run's lanes                  ``GET v2/runs/{id}/sequencingstats`` (its ``Lanes``)
one lane                       ``GET v2/lanes/{id}`` (what a lane's ``.json`` shows)
lane QC thresholds             ``GET`` / ``PUT v2/laneqcthresholds``
a workflow's QC thresholds     ``GET`` / ``PUT v2/applications/{id}/qcthresholds``
a workflow's dependencies      ``GET`` / ``PUT v2/applications/{id}/workflowdependencies``
create a workflow              ``POST v2/applications/{id}/workflows``
                               ``{"Name", "ShortDescription", "AppSessionId"}``
=============================  ==================================================================

The reference names the PUTs' ``qcthresholds`` / ``dependencies`` arrays without their encoding;
they are sent as the JSON body ``{"QcThresholds": [...]}`` and ``{"Version", "Dependencies"}``
(the shapes the GETs answer) [G]. A PUT replaces the whole list, so it is idempotent (retried);
creating a workflow is sent once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, Self

from bsmount.api.models import Entity, _obj
from bsmount.api.routes import segment

__all__ = [
    "LANE_METRICS",
    "Lane",
    "create_workflow",
    "get_lane_thresholds",
    "get_workflow_dependencies",
    "get_workflow_thresholds",
    "list_lanes",
    "put_lane_thresholds",
    "put_workflow_dependencies",
    "put_workflow_thresholds",
]

#: The Lane schema's QC figures, in the order a lane's ``.qc`` shows them.
LANE_METRICS = (
    "PercentPf",
    "PercentGtQ30",
    "PercentGtQ30Last10Cycles",
    "Yield",
    "ProjectedYieldInGbp",
    "Density",
    "Reads",
    "ReadsPf",
    "ErrorRate",
    "ErrorRate35",
    "ErrorRate50",
    "ErrorRate75",
    "ErrorRate100",
    "PercentAligned",
    "Phasing",
    "PrePhasing",
    "IntensityCycle1",
    "MaxCycleCalled",
    "MaxProjectedYieldInGbp",
)


class _Getter(Protocol):
    async def get_json(self, path_or_href: str, params: Mapping[str, str] | None = None) -> Any: ...


class _Caller(Protocol):
    async def _call(
        self,
        method: str,
        path_or_href: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        kind: str = "api",
        idempotent: bool = True,
    ) -> Any: ...


@dataclass(frozen=True, kw_only=True)
class Lane(Entity):
    """One lane of a run: its number, the server's QC ``Status`` and its metrics."""

    kind: ClassVar[str] = "lanes"

    number: int = 0
    status: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: Any) -> Self:
        raw = _obj(obj)
        common = cls._common(raw)
        number = raw.get("LaneNumber")
        number = number if isinstance(number, int) and not isinstance(number, bool) else 0
        common["name"] = str(number)
        metrics = {
            name: float(value)
            for name in LANE_METRICS
            if isinstance(value := raw.get(name), int | float) and not isinstance(value, bool)
        }
        return cls(**common, number=number, status=str(raw.get("Status") or ""), metrics=metrics)


def _list_of(body: Any, key: str) -> list[Any]:
    found = body.get(key) if isinstance(body, Mapping) else None
    return list(found) if isinstance(found, list) else []


async def list_lanes(client: _Getter, run_id: str) -> list[Lane]:
    """The run's lanes, by lane number (those without an Id or number left out)."""
    stats = await client.get_json(f"v2/runs/{segment(run_id)}/sequencingstats")
    lanes = [Lane.from_json(item) for item in _list_of(stats, "Lanes")]
    return sorted((x for x in lanes if x.id and x.number > 0), key=lambda x: x.number)


def _thresholds_path(app_id: str | None) -> str:
    if app_id is None:
        return "v2/laneqcthresholds"
    return f"v2/applications/{segment(app_id)}/qcthresholds"


async def get_lane_thresholds(client: _Getter) -> list[dict[str, Any]]:
    """The account's lane QC thresholds (V2QcThreshold objects)."""
    return _list_of(await client.get_json(_thresholds_path(None)), "QcThresholds")


async def put_lane_thresholds(
    client: _Caller, thresholds: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Replace the account's lane QC thresholds; what the server now holds."""
    body = {"QcThresholds": list(thresholds)}
    return _list_of(
        await client._call("PUT", _thresholds_path(None), json_body=body), "QcThresholds"
    )


async def get_workflow_thresholds(client: _Getter, app_id: str) -> list[dict[str, Any]]:
    return _list_of(await client.get_json(_thresholds_path(app_id)), "QcThresholds")


async def put_workflow_thresholds(
    client: _Caller, app_id: str, thresholds: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    body = {"QcThresholds": list(thresholds)}
    answer = await client._call("PUT", _thresholds_path(app_id), json_body=body)
    return _list_of(answer, "QcThresholds")


def _dependencies_path(app_id: str) -> str:
    return f"v2/applications/{segment(app_id)}/workflowdependencies"


def _dependencies(body: Any) -> dict[str, Any]:
    version = body.get("Version") if isinstance(body, Mapping) else None
    return {"Version": str(version or ""), "Dependencies": _list_of(body, "Dependencies")}


async def get_workflow_dependencies(client: _Getter, app_id: str) -> dict[str, Any]:
    """``{"Version", "Dependencies"}`` of a workflow."""
    return _dependencies(await client.get_json(_dependencies_path(app_id)))


async def put_workflow_dependencies(
    client: _Caller, app_id: str, version: str, dependencies: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    body = {"Version": version, "Dependencies": list(dependencies)}
    return _dependencies(await client._call("PUT", _dependencies_path(app_id), json_body=body))


async def create_workflow(
    client: _Caller, app_id: str, name: str, description: str, appsession_id: str
) -> dict[str, Any]:
    """Create (or update, same name) a workflow from an appsession of ``app_id``; the new
    application (IApplicationCompact)."""
    body = {"Name": name, "ShortDescription": description, "AppSessionId": appsession_id}
    answer = await client._call(
        "POST", f"v2/applications/{segment(app_id)}/workflows", json_body=body, idempotent=False
    )
    return dict(answer) if isinstance(answer, Mapping) else {}
