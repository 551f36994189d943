"""``Runs/<run>/Lanes/`` without the kernel or a server (bsmount.tree.lane_layout): lanes named
by number from the run's sequencing statistics, a run with none (404) listed empty, ``.qc`` and
``.qc.csv`` computed from fresh requests, and the verdict rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio

from bsmount.api.lanes import Lane
from bsmount.errors import NotFound
from bsmount.tree.kinds import LANE, RUN_LANES
from bsmount.tree.lane_layout import LANE_QC, LANES_QC_CSV, lane_report
from bsmount.tree.metacache import Listing
from bsmount.tree.nodes import DirSpec, LayoutContext, Node, dir_node

LANE_1 = {"Id": "901", "Href": "https://api/v2/lanes/901", "LaneNumber": 1, "Status": "QcPassed",
          "PercentPf": 91.0, "PercentGtQ30": 80.0, "Yield": 30.5}  # fmt: skip
LANE_2 = {**LANE_1, "Id": "902", "LaneNumber": 2, "Status": "QcFailed", "PercentPf": 60.0}
THRESHOLDS = [{"Name": "PercentPf", "Operator": "GreaterThanOrEqual", "ThresholdValues": [80],
               "Group": "Lane", "DatasetTypeId": "", "Optional": False}]  # fmt: skip


class FakeClient:
    def __init__(self, answers: Mapping[str, Any]) -> None:
        self.answers = dict(answers)
        self.asked: list[str] = []

    async def get_json(self, path: str, params: Any = None) -> Any:
        self.asked.append(path)
        answer = self.answers.get(path)
        if answer is None:
            raise NotFound(404, "no such thing", url=path)
        return answer

    def absolute_url(self, href: str) -> str:
        return href

    def curl_command(self, href: str) -> str:
        return f"curl {href}"


class Cache:
    async def get(self, key: Any, load: Any) -> Listing:
        result: Listing = await load()
        return result

    def put(self, key: Any, listing: Listing) -> None:
        pass


def _ctx(client: FakeClient) -> LayoutContext:
    root = dir_node((), DirSpec(RUN_LANES))

    async def listing(node: Node) -> Listing:
        raise AssertionError("not used")

    return LayoutContext(client, Cache(), None, root, listing)  # type: ignore[arg-type]


def _lanes_node() -> Node:
    return dir_node(("Runs", "501", "Lanes"), DirSpec(RUN_LANES, ("501",)))


async def _load(node: Node) -> bytes:
    assert node.loader is not None
    return await node.loader()


def test_lanes_by_number_and_their_files() -> None:
    client = FakeClient(
        {
            "v2/runs/501/sequencingstats": {"Lanes": [LANE_2, LANE_1, {"Id": "", "LaneNumber": 3}]},
            "v2/laneqcthresholds": {"QcThresholds": THRESHOLDS},
            "v2/lanes/902": LANE_2,
        }
    )

    async def main() -> None:
        listing = await RUN_LANES.listing(_ctx(client), _lanes_node())
        names = [n for n in listing.entries if not n.startswith(".")]
        assert names == ["1", "2"]  # a lane without an Id is left out
        assert listing.entries["2"].key == ("Runs", "501", "Lanes", "902")
        summary = (await _load(listing.entries[LANES_QC_CSV])).decode().splitlines()
        assert summary[0].split(",") == ["Lane", "Id", "Status", "PercentPf", "PercentGtQ30",
                                         "Yield", "Density", "ErrorRate", "Reads", "ReadsPf",
                                         "Thresholds"]  # fmt: skip
        assert summary[1].startswith("1,901,QcPassed,91,80,30.5,") and summary[1].endswith(",pass")
        assert summary[2].endswith(",fail")
        lane_dir = await LANE.listing(_ctx(client), listing.entries["2"])
        assert {".json", ".id", ".qc"} <= set(lane_dir.entries)
        report = (await _load(lane_dir.entries[LANE_QC])).decode()
        assert "status\tQcFailed\n" in report and "thresholds\tfail\t0 of 1 met\n" in report
        assert "PercentPf\t60\t>= 80\tfail\n" in report

    trio.run(main)


def test_a_run_without_statistics_has_no_lanes() -> None:
    client = FakeClient({})

    async def main() -> None:
        listing = await RUN_LANES.listing(_ctx(client), _lanes_node())
        assert [n for n in listing.entries if not n.startswith(".")] == []
        assert client.asked == ["v2/runs/501/sequencingstats"]

    trio.run(main)


def test_report_with_optional_and_missing_metrics() -> None:
    lane = Lane.from_json({**LANE_1, "ErrorRate": 3.0})
    optional = {**THRESHOLDS[0], "Name": "ErrorRate", "Operator": "LessThan",
                "ThresholdValues": [2], "Optional": True}  # fmt: skip
    missing = {**THRESHOLDS[0], "Name": "Density"}
    report = lane_report(lane, [THRESHOLDS[0], optional])
    assert "thresholds\tpass\t1 of 2 met" in report
    assert "ErrorRate\t3\t< 2\tfail (optional)" in report
    assert "thresholds\tunknown" in lane_report(lane, [missing])
    assert "Density\t-\t>= 80\tno value" in lane_report(lane, [missing])
