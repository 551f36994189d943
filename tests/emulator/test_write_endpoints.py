"""The emulator's write endpoints, in process: property writes (v1pre3 and v2) with their
validation, appsession stop/abort and timed completion, the trash (move, move the file data only,
list, restore, empty) and v2 project creation. The server's state is checked through the API
after every action."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from bsmount.emulator.seeds.load import SeedError
from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.tables import utcnow
from tests.emulator.seeds import BASE, BOB, api_client, api_seed, entity_id, make_state


@pytest.fixture
def state() -> EmulatorState:
    return make_state()


def v1_props(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return {p["Name"]: p for p in response.json()["Response"]["Items"]}


async def all_props(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    return v1_props(await client.get(f"{path}/properties", params={"Limit": 100}))


def code_of(response: httpx.Response) -> str:
    body = response.json()
    return str(body.get("ErrorCode") or body["ResponseStatus"]["ErrorCode"])


# --------------------------------------------------------------------------- properties
async def test_set_properties_v1_partial_update(state: EmulatorState) -> None:
    path = f"/v1pre3/projects/{entity_id(state, 'projects', 'Proj A: (test)')}"
    async with api_client(state) as client:
        before = await all_props(client, path)
        body = {
            "Properties": [
                {"Type": "string", "Name": "myapp.note", "Description": "d", "Content": "héllo"},
                {"Type": "string[]", "Name": "myapp.colors", "Items": ["red", "green"]},
            ]
        }
        posted = v1_props(await client.post(f"{path}/properties", json=body))
        after = await all_props(client, path)
        # same name again: replaced, the rest untouched
        again = {"properties": [{"type": "STRING", "name": "myapp.note", "content": "v2"}]}
        await client.post(f"{path}/properties", json=again)
        final = await all_props(client, path)
        single = (await client.get(f"{path}/properties/myapp.colors")).json()["Response"]
    assert set(posted) == set(before) | {"myapp.note", "myapp.colors"} == set(after)
    assert after["myapp.note"]["Content"] == "héllo" and after["myapp.note"]["Description"] == "d"
    assert after["myapp.colors"]["Items"] == ["red", "green"]
    assert after["myapp.colors"]["ItemsTotalCount"] == 2
    assert {k: v for k, v in after.items() if k in before} == before
    assert final["myapp.note"]["Content"] == "v2" and final["myapp.note"]["Type"] == "string"
    assert {k: v for k, v in final.items() if k != "myapp.note"} == {
        k: v for k, v in after.items() if k != "myapp.note"
    }
    assert single["Type"] == "string[]" and single["Items"] == ["red", "green"]


async def test_reference_properties(state: EmulatorState) -> None:
    run = entity_id(state, "runs", "200101_M00001_0001_000000000-ABCDE")
    sample_ids = [entity_id(state, "samples", "Dup", i) for i in (0, 1)]
    result = entity_id(state, "appresults", "Result/1")
    path = f"/v1pre3/appresults/{result}"
    body = {
        "Properties": [
            {"Type": "run", "Name": "in.run", "Content": f"v1pre3/runs/{run}"},
            {"Type": "run[]", "Name": "in.runs", "Items": [run, f"{BASE}/v2/runs/{run}"]},
            {"Type": "sample[]", "Name": "in.samples",
             "Items": [f"samples/{sample_ids[0]}", f"/v1pre3/samples/{sample_ids[1]}"]},
        ]
    }  # fmt: skip
    async with api_client(state) as client:
        await client.post(f"{path}/properties", json=body)
        props = await all_props(client, path)
        items = (await client.get(f"{path}/properties/in.samples/items")).json()["Response"]
    assert props["in.run"]["Content"]["Id"] == run
    assert [r["Id"] for r in props["in.runs"]["Items"]] == [run, run]
    assert [s["Id"] for s in props["in.samples"]["Items"]] == sample_ids
    assert [i["Content"]["Id"] for i in items["Items"]] == sample_ids


def prop(name: str = "ok.name", ptype: str = "string", **extra: Any) -> dict[str, Any]:
    return {"Type": ptype, "Name": name, **extra}


BAD_BODIES: list[tuple[Any, str]] = [
    (b"{not json", "INVALID_REQUEST"),
    ({"Properties": []}, "INVALID_REQUEST"),
    ({"Nothing": 1}, "INVALID_REQUEST"),
    ({"Properties": ["x"]}, "INVALID_REQUEST"),
    ({"Properties": [prop("NoDots", Content="x")]}, "INVALID_NAME"),
    ({"Properties": [prop("a..b", Content="x")]}, "INVALID_NAME"),
    ({"Properties": [prop("a.b c", Content="x")]}, "INVALID_NAME"),
    ({"Properties": [prop(".a.b", Content="x")]}, "INVALID_NAME"),
    ({"Properties": [prop("a." + "b" * 254, Content="x")]}, "INVALID_NAME"),
    ({"Properties": [{"Type": "string", "Content": "x"}]}, "INVALID_NAME"),
    ({"Properties": [prop(ptype="integer", Content="1")]}, "INVALID_TYPE"),
    ({"Properties": [prop(ptype="map", ContentMap=[])]}, "INVALID_TYPE"),
    ({"Properties": [{"Name": "a.b", "Content": "x"}]}, "INVALID_TYPE"),
    ({"Properties": [prop(Content=42)]}, "INVALID_CONTENT"),
    ({"Properties": [prop()]}, "INVALID_CONTENT"),
    ({"Properties": [prop(Content="x" * 65_001)]}, "INVALID_CONTENT"),
    ({"Properties": [prop(ptype="string[]", Items="x")]}, "INVALID_CONTENT"),
    ({"Properties": [prop(ptype="string[]", Items=["ok", 3])]}, "INVALID_CONTENT"),
    ({"Properties": [prop(ptype="string[]", Items=["é" * 32_501])]}, "INVALID_CONTENT"),
    ({"Properties": [prop(ptype="string[]", Content="x", Items=[])]}, "INVALID_CONTENT"),
    ({"Properties": [prop(ptype="run", Content="999999")]}, "INVALID_REFERENCE"),
    ({"Properties": [prop(ptype="run", Content="RUN-BOB")]}, "INVALID_REFERENCE"),
    ({"Properties": [prop(ptype="project", Content="PROJ-TRASH")]}, "INVALID_REFERENCE"),
    ({"Properties": [prop(ptype="sample[]", Items=["runs/RUN1"])]}, "INVALID_REFERENCE"),
    ({"Properties": [prop(ptype="run", Content={"Id": "RUN1"})]}, "INVALID_REFERENCE"),
    ({"Properties": [prop(ptype="run", Content="not an id")]}, "INVALID_REFERENCE"),
    ({"Properties": [prop(Content="a"), prop(Content="b")]}, "DUPLICATE_NAME"),
    # a valid property first: nothing at all may change
    ({"Properties": [prop("good.one", Content="x"), prop("bad", Content="y")]}, "INVALID_NAME"),
]


def _substitute(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, real in ids.items():
            value = value.replace(key, real)
        return value
    if isinstance(value, list):
        return [_substitute(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("body", "code"), BAD_BODIES)
async def test_invalid_properties_change_nothing(
    state: EmulatorState, body: Any, code: str
) -> None:
    ids = {
        "RUN-BOB": entity_id(state, "runs", "Bob run"),
        "PROJ-TRASH": entity_id(state, "projects", "Trashed project"),
        "RUN1": entity_id(state, "runs", "200101_M00001_0001_000000000-ABCDE"),
    }
    sample = f"/v1pre3/samples/{entity_id(state, 'samples', 'Échantillon α')}"
    async with api_client(state) as client:
        before = await all_props(client, sample)
        if isinstance(body, bytes):
            response = await client.post(
                f"{sample}/properties", content=body, headers={"content-type": "application/json"}
            )
        else:
            response = await client.post(f"{sample}/properties", json=_substitute(body, ids))
        after = await all_props(client, sample)
    assert response.status_code == 400, response.text
    status = response.json()["ResponseStatus"]
    assert status["ErrorCode"] == f"BASESPACE.PROPERTIES.{code}"
    assert status["Message"] and response.json()["Notifications"][0]["Type"] == "error"
    assert after == before


async def test_property_error_names_the_item(state: EmulatorState) -> None:
    sample = entity_id(state, "samples", "Échantillon α")
    body = {"Properties": [prop("good.one", Content="x"), prop("Bad", Content="y")]}
    async with api_client(state) as client:
        response = await client.post(f"/v1pre3/samples/{sample}/properties", json=body)
    message = response.json()["ResponseStatus"]["Message"]
    assert 'Properties[1] ("Bad")' in message and "dotted" in message


async def test_property_write_access(state: EmulatorState) -> None:
    bob_project = entity_id(state, "projects", "Bob's")
    gone = entity_id(state, "samples", "Gone")
    body = {"Properties": [prop(Content="x")]}
    async with api_client(state) as client:
        other = await client.post(f"/v1pre3/projects/{bob_project}/properties", json=body)
        trashed = await client.post(f"/v1pre3/samples/{gone}/properties", json=body)
        unknown = await client.post("/v1pre3/projects/99999/properties", json=body)
    async with api_client(state, token=None) as client:
        anonymous = await client.post(f"/v1pre3/projects/{bob_project}/properties", json=body)
    assert (other.status_code, trashed.status_code) == (403, 410)
    assert (unknown.status_code, anonymous.status_code) == (404, 401)
    assert state.model.projects[bob_project].properties == []
    async with api_client(state, token=BOB) as client:
        own = await client.post(f"/v1pre3/projects/{bob_project}/properties", json=body)
    assert own.status_code == 200 and state.model.projects[bob_project].property("ok.name")


async def test_delete_property_v1(state: EmulatorState) -> None:
    path = f"/v1pre3/projects/{entity_id(state, 'projects', 'Proj A: (test)')}"
    async with api_client(state) as client:
        before = await all_props(client, path)
        deleted = await client.delete(f"{path}/properties/Input.Runs")
        again = await client.delete(f"{path}/properties/Input.Runs")
        after = await all_props(client, path)
        gone = await client.get(f"{path}/properties/Input.Runs")
    assert deleted.status_code == 200 and deleted.json()["Response"]["Name"] == "Input.Runs"
    assert again.status_code == 404 and code_of(again) == "BASESPACE.PROPERTIES.NOT_FOUND"
    assert gone.status_code == 404
    assert after == {k: v for k, v in before.items() if k != "Input.Runs"}


async def test_file_properties_v1(state: EmulatorState) -> None:
    path = f"/v1pre3/files/{entity_id(state, 'files', 'a.vcf')}"
    body = {"Properties": [prop("qc.verdict", Content="pass")]}
    async with api_client(state) as client:
        posted = await client.post(f"{path}/properties", json=body)
        file = (await client.get(path)).json()["Response"]
    assert posted.status_code == 200
    assert [p["Name"] for p in file["Properties"]["Items"]] == ["qc.verdict"]


async def test_properties_v2(state: EmulatorState) -> None:
    dataset = entity_id(state, "datasets", "DS two")
    biosample = entity_id(state, "biosamples", "Other biosample")
    path = f"/v2/datasets/{dataset}/properties"
    body = {
        "Properties": [
            {"Type": "biosample[]", "Name": "in.biosamples", "Items": [f"biosamples/{biosample}"]},
            {"Type": "string[]", "Name": "qc.flags", "Items": [f"f{i}" for i in range(12)]},
        ]
    }
    async with api_client(state) as client:
        posted = await client.post(path, json=body)
        listing = (await client.get(path)).json()
        single = (await client.get(f"{path}/qc.flags")).json()
        items = (await client.get(f"{path}/qc.flags/items", params={"offset": 10})).json()
        refs = (await client.get(f"{path}/in.biosamples/items")).json()
        bad = await client.post(path, json={"Properties": [prop("bad name", Content="x")]})
        deleted = await client.delete(f"{path}/qc.flags")
        missing = await client.delete(f"{path}/qc.flags")
        after = (await client.get(path)).json()
        on_biosample = await client.post(
            f"/v2/biosamples/{biosample}/properties", json={"Properties": [prop(Content="b")]}
        )
    assert posted.status_code == 200
    names = [p["Name"] for p in posted.json()["Items"]]
    assert names == [p["Name"] for p in listing["Items"]]
    assert {"in.biosamples", "qc.flags", "Input.BioSamples"} <= set(names)
    assert posted.json()["Paging"]["TotalCount"] == len(names)
    assert single["ContentItems"][:2] == ["f0", "f1"] and single["ItemsTotalCount"] == 12
    assert [i["Content"] for i in items["Items"]] == ["f10", "f11"]
    assert items["Paging"]["TotalCount"] == 12
    assert refs["Items"][0]["BioSample"]["Id"] == biosample
    assert bad.status_code == 400 and bad.json()["ErrorCode"] == "BASESPACE.PROPERTIES.INVALID_NAME"
    assert "ErrorMessage" in bad.json()
    assert deleted.status_code == 200 and missing.status_code == 404
    assert "qc.flags" not in [p["Name"] for p in after["Items"]]
    assert on_biosample.status_code == 200
    assert state.model.biosamples[biosample].property("ok.name") is not None


# --------------------------------------------------------------------------- appsessions
async def test_stop_running_appsession(state: EmulatorState) -> None:
    running = entity_id(state, "appsessions", "Session 2")
    async with api_client(state) as client:
        stopped = await client.post(f"/v2/appsessions/{running}/stop", json={})
        v1 = (await client.get(f"/v1pre3/appsessions/{running}")).json()["Response"]
        again = await client.post(f"/v2/appsessions/{running}/stop", json={})
        listing = (await client.get("/v2/appsessions?executionstatus=Running")).json()
    assert stopped.status_code == 200
    body = stopped.json()
    assert body["Id"] == running and body["ExecutionStatus"] == "Aborted"
    assert body["StatusSummary"] and "DateCompleted" in body
    assert v1["Status"] == "Aborted" and "DateCompleted" in v1
    assert again.status_code == 400
    assert again.json()["ErrorCode"] == "BASESPACE.APPSESSIONS.NOT_RUNNING"
    assert "Aborted" in again.json()["ErrorMessage"]
    assert listing["Items"] == []


async def test_stop_refused(state: EmulatorState) -> None:
    complete = entity_id(state, "appsessions", "Session 1")
    running = entity_id(state, "appsessions", "Session 2")
    async with api_client(state) as client:
        finished = await client.post(f"/v2/appsessions/{complete}/stop")
    async with api_client(state, token=BOB) as client:
        foreign = await client.post(f"/v2/appsessions/{running}/stop", json={})
    assert finished.status_code == 400 and "Complete" in finished.json()["ErrorMessage"]
    assert foreign.status_code == 403
    assert state.model.appsessions[complete].status == "Complete"
    assert state.model.appsessions[running].status == "Running"
    state.set_appsession_status(running, "NeedsAttention")
    async with api_client(state) as client:
        attention = await client.post(f"/v2/appsessions/{running}/stop", json={})
    assert attention.json()["ExecutionStatus"] == "Aborted"


async def test_v1_appsession_status(state: EmulatorState) -> None:
    running = entity_id(state, "appsessions", "Session 2")
    path = f"/v1pre3/appsessions/{running}"
    async with api_client(state) as client:
        missing = await client.post(path, json={"statussummary": "x"})
        bad = await client.post(path, data={"status": "exploded"})
        aborted = await client.post(path, json={"status": "aborted", "statussummary": "by me"})
        again = await client.post(path, json={"status": "aborted"})
        fetched = (await client.get(path)).json()["Response"]
    assert missing.status_code == 400 and bad.status_code == 400
    assert aborted.status_code == 200
    assert aborted.json()["Response"]["Status"] == "Aborted"
    assert fetched["Status"] == "Aborted" and fetched["StatusSummary"] == "by me"
    assert again.status_code == 400 and code_of(again) == "BASESPACE.APPSESSIONS.NOT_RUNNING"


def timed_seed() -> dict[str, Any]:
    seed = api_seed()
    sessions = seed["projects"][0]["appsessions"]
    sessions.append({"key": "t0", "name": "Timed now", "complete_after_seconds": 0})
    sessions.append({"key": "t1", "name": "Timed later", "complete_after_seconds": 3600})
    return seed


async def test_timed_completion() -> None:
    state = make_state(timed_seed())
    now_id = entity_id(state, "appsessions", "Timed now")
    later_id = entity_id(state, "appsessions", "Timed later")
    async with api_client(state) as client:
        done = (await client.get(f"/v2/appsessions/{now_id}")).json()
        waiting = (await client.get(f"/v1pre3/appsessions/{later_id}")).json()["Response"]
    assert done["ExecutionStatus"] == "Complete" and "DateCompleted" in done
    assert waiting["Status"] == "Running" and "DateCompleted" not in waiting
    state.apply_timers(utcnow() + timedelta(hours=2))
    assert state.model.appsessions[later_id].status == "Complete"
    state.reset()
    assert state.model.appsessions[later_id].status == "Running"
    async with api_client(state) as client:
        await client.post(f"/v2/appsessions/{later_id}/stop", json={})
    state.apply_timers(utcnow() + timedelta(hours=2))  # a stopped session stays stopped
    assert state.model.appsessions[later_id].status == "Aborted"


@pytest.mark.parametrize(
    "extra",
    [
        {"complete_after_seconds": -1},
        {"complete_after_seconds": "5"},
        {"complete_after_seconds": 5, "status": "Complete"},
        {"complete_after_seconds": 5, "date_completed": "2020-01-01"},
    ],
)
def test_timed_seed_errors(extra: dict[str, Any]) -> None:
    seed = api_seed()
    seed["projects"][0]["appsessions"].append({"name": "T", **extra})
    with pytest.raises(SeedError, match="complete_after_seconds"):
        make_state(seed)


# --------------------------------------------------------------------------- trash
async def test_trash_and_restore_project(state: EmulatorState) -> None:
    pid = entity_id(state, "projects", "Proj A: (test)")
    sample = entity_id(state, "samples", "Échantillon α")
    async with api_client(state) as client:
        trashed = await client.delete(f"/v2/projects/{pid}")
        projects = (await client.get("/v1pre3/users/current/projects")).json()["Response"]
        gone = await client.get(f"/v1pre3/projects/{pid}")
        inner = await client.get(f"/v1pre3/samples/{sample}")
        trash = (await client.get("/v2/trash", params={"limit": 100})).json()
        item_id = trashed.json()["Id"]
        item = (await client.get(f"/v2/trash/{item_id}")).json()
        restored = await client.post(f"/v2/trash/{item_id}/restorefromtrash", json={})
        back = await client.get(f"/v1pre3/projects/{pid}")
        inner_back = await client.get(f"/v1pre3/samples/{sample}")
        after = await client.get(f"/v2/trash/{item_id}")
    assert trashed.status_code == 200
    body = trashed.json()
    assert body["DeletedProject"]["Id"] == pid and body["Name"] == "Proj A: (test)"
    assert body["Href"] == f"{BASE}/v2/trash/{item_id}" and body["TotalSize"] > 0
    assert body["HrefPostRestoreFromTrash"].endswith("/restorefromtrash")
    assert body["ChildCount"] == len(body["IncludedSamples"]) + len(
        body["IncludedAppResults"]
    ) + len(body["IncludedAppSessions"])
    assert pid not in [p["Id"] for p in projects["Items"]]
    assert gone.status_code == 410 and inner.status_code == 410
    assert trash["Items"][0]["Id"] == item_id  # newest first
    assert trash["Paging"]["SortBy"] == "DateDeleted" and trash["Paging"]["SortDir"] == "Desc"
    assert item["UserDeletedBy"]["Id"] == entity_id(state, "users", "Alice")
    assert item["TrashStatus"] == "InTrash" and "DateDeleted" in item
    assert restored.status_code == 200 and restored.json()["TrashStatus"] == "Restored"
    assert back.status_code == 200 and inner_back.status_code == 200
    assert after.status_code == 404


TRASHABLE = [
    ("samples", "Dup", "DeletedSample", "/v1pre3/samples/{}"),
    ("appresults", "Result/1", "DeletedAppResult", "/v1pre3/appresults/{}"),
    ("runs", "200101_M00001_0001_000000000-ABCDE", "DeletedRun", "/v1pre3/runs/{}"),
    ("appsessions", "Session 1", "DeletedAppSession", "/v2/appsessions/{}"),
    ("datasets", "DS two", "DeletedDataset", "/v2/datasets/{}"),
    ("biosamples", "Other biosample", "DeletedBioSample", "/v2/biosamples/{}"),
]
LISTINGS = {
    "samples": "/v1pre3/projects/{project}/samples",
    "appresults": "/v1pre3/projects/{project}/appresults",
    "runs": "/v1pre3/users/current/runs",
    "appsessions": "/v2/appsessions",
    "datasets": "/v2/datasets",
    "biosamples": "/v2/biosamples",
}


@pytest.mark.parametrize(("kind", "name", "key", "get"), TRASHABLE)
async def test_trash_each_kind(
    state: EmulatorState, kind: str, name: str, key: str, get: str
) -> None:
    eid = entity_id(state, kind, name)
    listing = LISTINGS[kind].format(project=entity_id(state, "projects", "Proj A: (test)"))

    def ids(response: httpx.Response) -> list[str]:
        body = response.json()
        return [i["Id"] for i in body.get("Response", body)["Items"]]

    async with api_client(state) as client:
        assert eid in ids(await client.get(listing, params={"limit": 100}))
        trashed = await client.delete(f"/v2/{kind}/{eid}")
        listed = ids(await client.get(listing, params={"limit": 100}))
        fetched = await client.get(get.format(eid))
        twice = await client.delete(f"/v2/{kind}/{eid}")
        trash = (await client.get("/v2/trash", params={"limit": 100})).json()["Items"]
        await client.post(f"/v2/trash/{trashed.json()['Id']}/restorefromtrash")
        restored = ids(await client.get(listing, params={"limit": 100}))
    assert trashed.status_code == 200 and trashed.json()[key]["Id"] == eid
    assert eid not in listed and fetched.status_code == 410 and twice.status_code == 410
    assert [t[key]["Id"] for t in trash if key in t].count(eid) == 1
    assert eid in restored


async def test_trash_refusals(state: EmulatorState) -> None:
    running = entity_id(state, "appsessions", "Session 2")
    bob_project = entity_id(state, "projects", "Bob's")
    empty = entity_id(state, "projects", "Empty")
    async with api_client(state) as client:
        active = await client.delete(f"/v2/appsessions/{running}")
        foreign = await client.delete(f"/v2/projects/{bob_project}")
        unknown = await client.delete("/v2/projects/424242")
        bypass = await client.delete(f"/v2/projects/{empty}", params={"bypasstrash": "true"})
        trash_before = (await client.get("/v2/trash")).json()["Paging"]["TotalCount"]
        mine = (await client.delete(f"/v2/projects/{empty}")).json()["Id"]
    async with api_client(state, token=BOB) as client:
        bob_trash = (await client.get("/v2/trash")).json()
        bob_item = await client.get(f"/v2/trash/{mine}")
        bob_restore = await client.post(f"/v2/trash/{mine}/restorefromtrash")
    assert active.status_code == 400
    assert active.json()["ErrorCode"] == "BASESPACE.APPSESSIONS.RUNNING"
    assert state.model.appsessions[running].deleted is False
    assert (foreign.status_code, unknown.status_code) == (403, 404)
    assert bypass.status_code == 403
    assert bypass.json()["ErrorCode"] == "BASESPACE.AUTH.INSUFFICIENT_SCOPE"
    assert trash_before == 2  # the seed's trashed project and sample
    assert mine not in [i["Id"] for i in bob_trash["Items"]]
    assert bob_item.status_code == 403 and bob_restore.status_code == 403
    assert state.model.projects[empty].deleted is True
    assert not state.model.projects[bob_project].deleted


async def test_seed_trash_can_be_restored(state: EmulatorState) -> None:
    trashed = entity_id(state, "projects", "Trashed project")
    inside = entity_id(state, "samples", "In trash")
    async with api_client(state) as client:
        trash = (await client.get("/v2/trash", params={"sortby": "Name", "sortdir": "Asc"})).json()
        names = [i["Name"] for i in trash["Items"]]
        item = next(i for i in trash["Items"] if "DeletedProject" in i)
        await client.post(f"/v2/trash/{item['Id']}/restorefromtrash")
        project = await client.get(f"/v1pre3/projects/{trashed}")
        sample = await client.get(f"/v1pre3/samples/{inside}")
    assert names == ["Gone", "Trashed project"]
    assert item["DeletedProject"]["Id"] == trashed
    assert project.status_code == 200 and sample.status_code == 200
    state.reset()
    assert state.model.projects[trashed].deleted and len(state.model.trash) == 2


async def test_preserve_metadata_trashes_the_files_only(state: EmulatorState) -> None:
    sample = entity_id(state, "samples", "Échantillon α")
    empty_sample = entity_id(state, "samples", "Dup")
    project = entity_id(state, "projects", "Empty")
    async with api_client(state) as client:
        files = f"/v1pre3/samples/{sample}/files"
        before = (await client.get(files)).json()["Response"]["Items"]
        trashed = await client.delete(f"/v2/samples/{sample}", params={"preserve": "Metadata"})
        kept = await client.get(f"/v1pre3/samples/{sample}")
        after = (await client.get(files)).json()["Response"]["Items"]
        gone = await client.get(f"/v1pre3/files/{before[0]['Id']}")
        item = (await client.get(f"/v2/trash/{trashed.json()['Id']}")).json()
        no_files = await client.delete(
            f"/v2/samples/{empty_sample}", params={"preserve": "Metadata"}
        )
        no_kind = await client.delete(f"/v2/projects/{project}", params={"preserve": "Metadata"})
        bad = await client.delete(f"/v2/samples/{sample}", params={"preserve": "Everything"})
        await client.post(f"/v2/trash/{item['Id']}/restorefromtrash")
        back = (await client.get(files)).json()["Response"]["Items"]
    assert trashed.status_code == 200 and trashed.json()["Includes"] == ["FILEDATA"]
    assert kept.status_code == 200 and len(before) == 2 and after == []
    assert gone.status_code == 410
    assert item["DeletedSample"]["Id"] == sample and item["TotalSize"] == 2000
    assert (no_files.status_code, code_of(no_files)) == (400, "BASESPACE.TRASH.NO_FILE_DATA")
    assert code_of(no_kind) == "BASESPACE.TRASH.PRESERVE_NOT_SUPPORTED"
    assert bad.status_code == 400
    assert [f["Id"] for f in back] == [f["Id"] for f in before]


async def test_empty_trash_drops_the_items_for_good(state: EmulatorState) -> None:
    project = entity_id(state, "projects", "Empty")
    bobs = entity_id(state, "projects", "Bob's")
    async with api_client(state) as client:
        item = (await client.delete(f"/v2/projects/{project}")).json()["Id"]
        emptied = await client.delete("/v2/trash")
        trash = (await client.get("/v2/trash")).json()
        restore = await client.post(f"/v2/trash/{item}/restorefromtrash")
        still_gone = await client.get(f"/v1pre3/projects/{project}")
    async with api_client(state, token=BOB) as client:
        bob = await client.get(f"/v1pre3/projects/{bobs}")
    assert emptied.status_code == 200 and trash["Items"] == []
    assert trash["Paging"]["TotalCount"] == 0
    assert restore.status_code == 404 and still_gone.status_code == 410
    assert bob.status_code == 200  # another user's entities are untouched


# --------------------------------------------------------------------------- projects
async def test_create_project_v2(state: EmulatorState) -> None:
    async with api_client(state) as client:
        created = await client.post("/v2/projects", params={"name": "V2 (new)", "description": "d"})
        again = await client.post("/v2/projects", json={"Name": "V2 (new)"})
        nameless = await client.post("/v2/projects", params={"description": "x"})
        listing = (await client.get("/v1pre3/users/current/projects")).json()["Response"]
    assert created.status_code == 201
    body = created.json()
    assert body["Name"] == "V2 (new)" and body["Description"] == "d"
    assert body["Href"] == f"{BASE}/v2/projects/{body['Id']}"
    assert again.status_code == 200 and again.json()["Id"] == body["Id"]
    assert nameless.status_code == 400
    assert nameless.json()["ErrorCode"] == "BASESPACE.PROJECTS.NAME_REQUIRED"
    assert "V2 (new)" in [p["Name"] for p in listing["Items"]]


async def test_writes_need_a_valid_token(state: EmulatorState) -> None:
    pid = entity_id(state, "projects", "Empty")
    async with api_client(state, token="f" * 32) as client:
        responses = [
            await client.delete(f"/v2/projects/{pid}"),
            await client.post("/v2/projects", params={"name": "x"}),
            await client.get("/v2/trash"),
        ]
    assert [r.status_code for r in responses] == [401, 401, 401]
    assert not state.model.projects[pid].deleted
