"""Paging of the emulator's lists: defaults, caps, Limit=0, sort echo and order, case-insensitive
parameters, and walking lists of more than one page (bulk seed, in-process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bsmount.emulator.seeds.load import BULK_TOKEN, make_bulk_seed
from bsmount.emulator.state.account import EmulatorState
from tests.emulator.seeds import api_client, entity_id, make_state

N = 1100


@pytest.fixture(scope="module")
def bulk() -> EmulatorState:
    return make_state(make_bulk_seed(N))


@pytest.fixture
async def client(bulk: EmulatorState) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(bulk, token=BULK_TOKEN) as c:
        yield c


async def v1_list(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()["Response"]  # type: ignore[no-any-return]


async def test_defaults(client: httpx.AsyncClient) -> None:
    page = await v1_list(client, "/v1pre3/users/current/projects")
    assert page["Limit"] == 10 and page["Offset"] == 0 and page["DisplayedCount"] == 10
    assert page["TotalCount"] == N + 1
    assert (page["SortBy"], page["SortDir"]) == ("Id", "Asc")
    ids = [int(p["Id"]) for p in page["Items"]]
    assert ids == sorted(ids)


async def test_limit_zero_counts_only(client: httpx.AsyncClient, bulk: EmulatorState) -> None:
    page = await v1_list(client, "/v1pre3/users/current/projects", Limit=0)
    assert page["Items"] == [] and page["DisplayedCount"] == 0 and page["TotalCount"] == N + 1
    bid = entity_id(bulk, "projects", "Bulk")
    v2 = (await client.get("/v2/biosamples", params={"projectid": bid, "limit": 0})).json()
    assert v2["Items"] == [] and v2["Paging"]["TotalCount"] == N


async def test_caps(client: httpx.AsyncClient, bulk: EmulatorState) -> None:
    projects = await v1_list(client, "/v1pre3/users/current/projects", Limit=5000)
    assert projects["Limit"] == 1024 and projects["DisplayedCount"] == 1024
    aid = entity_id(bulk, "appresults", "Many Files")
    files = await v1_list(client, f"/v1pre3/appresults/{aid}/files", Limit=1024)
    assert files["Limit"] == 1000 and files["DisplayedCount"] == 1000 and files["TotalCount"] == N
    bid = entity_id(bulk, "projects", "Bulk")
    datasets = (await client.get("/v2/datasets", params={"projectid": bid, "limit": 2000})).json()
    assert datasets["Paging"]["Limit"] == 1024 and len(datasets["Items"]) == 1024


async def test_walk_all_pages(client: httpx.AsyncClient, bulk: EmulatorState) -> None:
    pid = entity_id(bulk, "projects", "Bulk")
    seen: list[str] = []
    offset = 0
    while True:
        page = await v1_list(client, f"/v1pre3/projects/{pid}/samples", Offset=offset, Limit=300)
        assert page["TotalCount"] == N
        seen.extend(s["Id"] for s in page["Items"])
        offset += page["DisplayedCount"]
        if page["DisplayedCount"] == 0:
            break
    assert len(seen) == N and len(set(seen)) == N
    past = await v1_list(client, f"/v1pre3/projects/{pid}/samples", Offset=N + 5, Limit=10)
    assert past["Items"] == [] and past["DisplayedCount"] == 0 and past["TotalCount"] == N


async def test_v2_walk_and_lowercase_params(client: httpx.AsyncClient, bulk: EmulatorState) -> None:
    pid = entity_id(bulk, "projects", "Bulk")
    names: list[str] = []
    for offset in range(0, N, 512):
        body = (await client.get("/v2/biosamples", params={
            "projectid": pid, "offset": offset, "limit": 512, "sortby": "biosamplename",
            "sortdir": "desc"})).json()  # fmt: skip
        assert body["Paging"]["SortBy"] == "BioSampleName" and body["Paging"]["SortDir"] == "Desc"
        names.extend(b["BioSampleName"] for b in body["Items"])
    assert names == sorted(names, reverse=True) and len(set(names)) == N


async def test_sort_echo_and_case_insensitive(client: httpx.AsyncClient) -> None:
    page = await v1_list(client, "/v1pre3/users/current/projects",
                         **{"sortby": "name", "SORTDIR": "DESC", "limit": 3})  # fmt: skip
    assert (page["SortBy"], page["SortDir"], page["Limit"]) == ("Name", "Desc", 3)
    assert [p["Name"] for p in page["Items"]] == ["Project 01100", "Project 01099", "Project 01098"]


async def test_invalid_sortby_replaced_by_default(
    client: httpx.AsyncClient, bulk: EmulatorState
) -> None:
    page = await v1_list(
        client, "/v1pre3/users/current/projects", SortBy="Bogus", SortDir="sideways"
    )
    assert (page["SortBy"], page["SortDir"]) == ("Id", "Asc")
    pid = entity_id(bulk, "projects", "Bulk")
    body = (await client.get("/v2/datasets", params={"projectid": pid, "sortby": "Nope"})).json()
    assert (body["Paging"]["SortBy"], body["Paging"]["SortDir"]) == ("DateCreated", "Desc")
    body = (await client.get("/v2/biosamples", params={"sortby": "Name"})).json()
    assert body["Paging"]["SortBy"] == "Id"  # biosamples sort by BioSampleName, not Name


async def test_v2_datasets_default_order(client: httpx.AsyncClient, bulk: EmulatorState) -> None:
    pid = entity_id(bulk, "projects", "Bulk")
    body = (await client.get("/v2/datasets", params={"projectid": pid, "limit": 50})).json()
    dates = [d["DateCreated"] for d in body["Items"]]
    assert dates == sorted(dates, reverse=True)
    assert body["Paging"]["TotalCount"] == N


async def test_ties_broken_by_id() -> None:
    seed = {"projects": [{"name": "P", "samples": [
        {"name": "same", "date_created": "2020-01-01T00:00:00Z"} for _ in range(30)]}]}  # fmt: skip
    seed["users"] = [{"name": "U", "tokens": ["t" * 32]}]
    state = make_state(seed)
    pid = entity_id(state, "projects", "P")
    async with api_client(state, token="t" * 32) as client:
        for sort in ("Name", "DateCreated"):
            ids: list[str] = []
            for offset in (0, 10, 20):
                page = await v1_list(client, f"/v1pre3/projects/{pid}/samples",
                                     SortBy=sort, Offset=offset, Limit=10)  # fmt: skip
                ids.extend(s["Id"] for s in page["Items"])
            assert ids == sorted(ids, key=int) and len(set(ids)) == 30


async def test_bad_paging_values(client: httpx.AsyncClient) -> None:
    for params in ({"Limit": "ten"}, {"Offset": "-1"}, {"Limit": "-5"}):
        response = await client.get("/v1pre3/users/current/projects", params=params)
        assert response.status_code == 400
        assert (
            response.json()["ResponseStatus"]["ErrorCode"] == "BASESPACE.COMMON.INVALID_PARAMETER"
        )


async def test_run_files_pages(client: httpx.AsyncClient, bulk: EmulatorState) -> None:
    rid = entity_id(bulk, "runs", "Bulk Run")
    url = f"/v2/runs/{rid}/files"
    body = (await client.get(url, params={"directory": "/", "recursive": "true", "limit": 1000,
                                          "include": "TotalCount"})).json()  # fmt: skip
    assert body["Paging"]["TotalCount"] == N and len(body["Items"]) == 1000
    top = (await client.get(url, params={"directory": "/Data", "include": "Subdirectories"})).json()
    assert len(top["SubDirectories"]) == N // 100 + 1
