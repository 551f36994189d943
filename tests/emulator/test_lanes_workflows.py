"""The emulator's lane and analysis-workflow routes over HTTP (in process): a run's sequencing
stats and lanes, the account's lane QC thresholds (GET, PUT replaces, PUT [] clears, bad input
400 and nothing changed), a workflow's QC thresholds and dependencies, refusals for apps that are
not workflows, creating (and updating) a workflow from an appsession; and the seed's checks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bsmount.emulator.seeds.load import SeedError
from bsmount.emulator.state.account import EmulatorState
from tests.emulator.seeds import BOB, api_client, api_seed, entity_id, make_state

NATIVE_ID = "1110001"
WORKFLOW_ID = "1110009"
LANES = [
    {"number": n, "status": "QcFailed" if n == 3 else "QcPassed",
     "metrics": {"PercentPf": pf, "PercentGtQ30": q30, "Yield": 30.1 + n, "Density": 210.0 + n,
                 "ErrorRate": 0.4 + n / 10, "Reads": 130_000_000 + n, "ReadsPf": 110_000_000}}
    for n, pf, q30 in [(1, 85.1, 91.2), (2, 84.0, 90.7), (3, 61.5, 72.4), (4, 86.3, 92.0)]
]  # fmt: skip
PF_80 = {"Name": "PercentPf", "Operator": "GreaterThanOrEqual", "ThresholdValues": [80]}


def _app(app_id: str, name: str, category: str) -> dict[str, Any]:
    return {
        "name": name,
        "runner": "qc-report",
        "category": category,
        "versions": [{"id": app_id, "version": "1.0.0"}],
    }


def lab_seed() -> dict[str, Any]:
    seed = api_seed()
    seed["runs"][0]["lanes"] = LANES
    seed["applications"] = [_app(NATIVE_ID, "Native QC", "Native"),
                            _app(WORKFLOW_ID, "QC Workflow", "Workflow")]  # fmt: skip
    seed["projects"][0]["appsessions"].append(
        {"key": "as-native", "name": "Native run", "status": "Complete",
         "application": {"id": NATIVE_ID, "name": "Native QC"}}
    )  # fmt: skip
    seed["lane_qc_thresholds"] = [PF_80]
    seed["workflow_settings"] = [
        {"application": WORKFLOW_ID, "qc_thresholds": [
            {"Name": "TotalReadsPF", "Operator": "GreaterThan", "ThresholdValues": [1000],
             "Group": "Fastq", "DatasetTypeId": "illumina.fastq.v1.8"}]}
    ]  # fmt: skip
    return seed


@pytest.fixture
def state() -> EmulatorState:
    return make_state(lab_seed())


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def error_code(response: httpx.Response) -> str:
    return str(response.json().get("ErrorCode"))


async def test_sequencing_stats_and_lanes(state: EmulatorState) -> None:
    run = entity_id(state, "runs", "200101_M00001_0001_000000000-ABCDE")
    async with api_client(state) as client:
        stats = ok(await client.get(f"/v2/runs/{run}/sequencingstats"))
        lanes = stats["Lanes"]
        one = ok(await client.get(f"/v2/lanes/{lanes[2]['Id']}"))
        missing = await client.get("/v2/lanes/1")
    async with api_client(state, token=BOB) as bob:
        forbidden = await bob.get(f"/v2/lanes/{lanes[0]['Id']}")
    assert [lane["LaneNumber"] for lane in lanes] == [1, 2, 3, 4]
    assert stats["NumLanes"] == 4 and stats["Run"]["Id"] == run
    assert stats["YieldTotal"] == pytest.approx(sum(30.1 + n for n in range(1, 5)))
    assert stats["PercentPf"] == pytest.approx((85.1 + 84.0 + 61.5 + 86.3) / 4, abs=1e-3)
    assert one == lanes[2]
    assert one["Status"] == "QcFailed" and one["PercentPf"] == 61.5 and one["LaneNumber"] == 3
    assert one["Href"].endswith(f"/v2/lanes/{one['Id']}")
    assert missing.status_code == 404 and forbidden.status_code == 403


async def test_lane_thresholds_replace_clear_and_refuse(state: EmulatorState) -> None:
    q30 = {"Name": "PercentGtQ30", "Operator": "Between", "ThresholdValues": [75, 100],
           "Group": "Lane", "DatasetTypeId": "", "Optional": True}  # fmt: skip
    async with api_client(state) as client:
        seeded = ok(await client.get("/v2/laneqcthresholds"))["QcThresholds"]
        put = ok(await client.put("/v2/laneqcthresholds", json={"QcThresholds": [q30]}))
        after_put = ok(await client.get("/v2/laneqcthresholds"))
        bad = [
            await client.put("/v2/laneqcthresholds", json=[{**q30, "Operator": "Around"}]),
            await client.put("/v2/laneqcthresholds", json=[{**q30, "ThresholdValues": [1]}]),
            await client.put("/v2/laneqcthresholds", json=[{**q30, "Name": "Colour"}]),
            await client.put("/v2/laneqcthresholds", json=[q30, q30]),
            await client.put("/v2/laneqcthresholds", content=b"not json"),
        ]
        unchanged = ok(await client.get("/v2/laneqcthresholds"))
        cleared = ok(await client.put("/v2/laneqcthresholds", json=[]))
        after_clear = ok(await client.get("/v2/laneqcthresholds"))
    async with api_client(state, token=BOB) as bob:
        bobs = ok(await bob.get("/v2/laneqcthresholds"))
    assert seeded == [{"Name": "PercentPf", "Optional": False, "Operator": "GreaterThanOrEqual",
                       "DatasetTypeId": "", "ThresholdValues": [80], "Group": "Lane"}]  # fmt: skip
    assert put == after_put == unchanged == {"QcThresholds": [q30]}
    assert [r.status_code for r in bad] == [400] * 5
    assert error_code(bad[0]) == "BASESPACE.QCTHRESHOLDS.INVALID"
    assert "Between takes 2 value(s)" in bad[1].json()["ErrorMessage"]
    assert "not a lane metric" in bad[2].json()["ErrorMessage"]
    assert cleared == after_clear == {"QcThresholds": []}
    assert bobs == {"QcThresholds": []}  # per account


async def test_workflow_thresholds_and_dependencies(state: EmulatorState) -> None:
    deps = {"Version": "2", "Dependencies": [
        {"Type": "BioSample", "Attributes": {"Yield": 5}, "Dependencies": [
            {"Type": "Dataset", "Attributes": {}, "Dependencies": []}]}]}  # fmt: skip
    base = f"/v2/applications/{WORKFLOW_ID}"
    async with api_client(state) as client:
        seeded = ok(await client.get(f"{base}/qcthresholds"))["QcThresholds"]
        new = [{**PF_80, "Name": "PercentQ30", "DatasetTypeId": "illumina.fastq.v1.8"}]
        put = ok(await client.put(f"{base}/qcthresholds", json=new))["QcThresholds"]
        none = ok(await client.get(f"{base}/workflowdependencies"))
        set_deps = ok(await client.put(f"{base}/workflowdependencies", json=deps))
        got_deps = ok(await client.get(f"{base}/workflowdependencies"))
        bad_deps = await client.put(
            f"{base}/workflowdependencies", json={"Dependencies": [{"Attributes": {}}]}
        )
        native = [
            await client.get(f"/v2/applications/{NATIVE_ID}/qcthresholds"),
            await client.get(f"/v2/applications/{NATIVE_ID}/workflowdependencies"),
        ]
        unknown = await client.get("/v2/applications/424242/qcthresholds")
    assert seeded[0]["Name"] == "TotalReadsPF" and seeded[0]["Group"] == "Fastq"
    assert put[0]["Name"] == "PercentQ30" and put[0]["Group"] == ""
    assert none == {"Version": "1", "Dependencies": []}
    assert set_deps == got_deps == deps
    assert bad_deps.status_code == 400
    assert error_code(bad_deps) == "BASESPACE.WORKFLOWDEPENDENCIES.INVALID"
    assert {r.status_code for r in native} == {400}
    assert {error_code(r) for r in native} == {"BASESPACE.APPLICATIONS.NOT_A_WORKFLOW"}
    assert unknown.status_code == 404


async def test_create_and_update_workflow(state: EmulatorState) -> None:
    session = entity_id(state, "appsessions", "Native run")
    other = entity_id(state, "appsessions", "Session 1")
    url = f"/v2/applications/{NATIVE_ID}/workflows"
    body = {"Name": "Nightly QC", "ShortDescription": "QC every run", "AppSessionId": session}
    async with api_client(state) as client:
        created = ok(await client.post(url, json=body))
        again = ok(await client.post(url, json={**body, "ShortDescription": "v2"}))
        thresholds = ok(await client.get(f"/v2/applications/{created['Id']}/qcthresholds"))
        wrong_session = await client.post(url, json={**body, "AppSessionId": other})
        no_name = await client.post(url, json={**body, "Name": " "})
    async with api_client(state, token=BOB) as bob:
        not_bobs = await bob.post(url, json={**body, "Name": "Bob's"})
    assert created["Category"] == "Workflow" and created["Name"] == "Nightly QC"
    assert created["WorkflowSourceApplication"]["Id"] == NATIVE_ID
    assert again["Id"] == created["Id"] and again["ShortDescription"] == "v2"
    workflow = state.model.applications[created["Id"]]
    assert workflow.category == "Workflow" and workflow.short_description == "v2"
    assert workflow.slug != state.model.applications[NATIVE_ID].slug
    assert thresholds == {"QcThresholds": []}
    assert wrong_session.status_code == 400 and no_name.status_code == 400
    assert not_bobs.status_code == 403  # another user's appsession


def test_seed_checks_lanes_and_settings() -> None:
    bad_lane = lab_seed()
    bad_lane["runs"][0]["lanes"] = [{"number": 1, "metrics": {"Colour": 1}}]
    with pytest.raises(SeedError, match=r"runs\[0\]\.lanes\[0\]\.metrics\.Colour"):
        make_state(bad_lane)
    bad_threshold = lab_seed()
    bad_threshold["lane_qc_thresholds"] = [{**PF_80, "Operator": "Around"}]
    with pytest.raises(SeedError, match=r"lane_qc_thresholds: .*Operator"):
        make_state(bad_threshold)
    no_app = lab_seed()
    no_app["workflow_settings"][0]["application"] = "999"
    with pytest.raises(SeedError, match=r"workflow_settings\[0\]\.application"):
        make_state(no_app)
    state = make_state(lab_seed())
    state.model.qc.lane_thresholds.clear()
    state.reset()  # a reset brings the seed's settings back
    assert state.model.qc.lane_thresholds[next(iter(state.model.users))][0]["Name"] == "PercentPf"
