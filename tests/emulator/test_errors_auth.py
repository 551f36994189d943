"""Errors and auth of the emulator's API: the three token forms, 401/403/404/410 bodies and
statuses, unknown paths, other users' entities, trashed entities, token revocation."""

from __future__ import annotations

import pytest

from bsmount.emulator.state.account import EmulatorState
from tests.emulator.seeds import ALICE, BOB, api_client, entity_id, make_state

UNKNOWN_PATH = (
    "This isn't a recognized path. Please refer to the API documentation at "
    "https://developer.basespace.illumina.com/docs for the available resources."
)


@pytest.fixture
def state() -> EmulatorState:
    return make_state()


@pytest.mark.parametrize("path", ["/v1pre3/users/current", "/v2/users/current"])
async def test_three_token_forms(state: EmulatorState, path: str) -> None:
    async with api_client(state, token=None) as client:
        by_header = await client.get(path, headers={"x-access-token": ALICE})
        by_bearer = await client.get(path, headers={"Authorization": f"Bearer {ALICE}"})
        by_query = await client.get(path, params={"access_token": ALICE})
        by_bob = await client.get(path, headers={"Authorization": f"bearer {BOB}"})
    for response in (by_header, by_bearer, by_query):
        assert response.status_code == 200
    body = by_bob.json()
    assert (body.get("Response") or body)["Name"] == "Bob"


async def test_401_v1(state: EmulatorState) -> None:
    async with api_client(state, token=None) as client:
        missing = await client.get("/v1pre3/users/current/projects")
        unknown = await client.get("/v1pre3/projects/1", headers={"x-access-token": "nope"})
        not_bearer = await client.get(
            "/v1pre3/users/current", headers={"Authorization": f"Basic {ALICE}"}
        )
    for response in (missing, unknown, not_bearer):
        assert response.status_code == 401
        body = response.json()
        assert "Response" not in body
        assert body["ResponseStatus"]["ErrorCode"] == "BASESPACE.AUTH.INVALID_TOKEN"
        assert body["Notifications"] == [
            {"Type": "error", "Item": body["ResponseStatus"]["Message"]}
        ]
        assert "nope" not in response.text and ALICE not in response.text


async def test_401_v2(state: EmulatorState) -> None:
    async with api_client(state, token="wrong") as client:
        response = await client.get("/v2/datasets")
    assert response.status_code == 401
    body = response.json()
    assert body["ErrorCode"] == "BASESPACE.AUTH.INVALID_TOKEN"
    assert body["ErrorMessage"] and body["RequestId"] == response.headers["x-request-id"]


async def test_unknown_files_are_403(state: EmulatorState) -> None:
    async with api_client(state) as client:
        responses = [
            await client.get("/v1pre3/files/1111111"),
            await client.get("/v1pre3/files/11111111111/content?redirect=meta"),
            await client.get("/v2/files/1111111"),
            await client.get("/v2/files/1111111/content"),
            await client.get("/v1pre3/files/not-a-number"),
        ]
    for response in responses[:2] + responses[4:]:
        assert response.status_code == 403
        status = response.json()["ResponseStatus"]
        assert status["ErrorCode"] == "BASESPACE.COMMON.INSUFFICIENT_RESOURCE_PERMISSIONS"
        assert "READ access" in status["Message"]
    for response in responses[2:4]:
        assert response.status_code == 403
        assert response.json()["ErrorCode"] == "BASESPACE.COMMON.INSUFFICIENT_RESOURCE_PERMISSIONS"


async def test_unknown_entities_are_404(state: EmulatorState) -> None:
    async with api_client(state) as client:
        for path in ("/v1pre3/projects/999", "/v1pre3/samples/999/files", "/v1pre3/appresults/9",
                     "/v1pre3/runs/9", "/v1pre3/appsessions/9", "/v1pre3/genomes/999"):  # fmt: skip
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.json()["ResponseStatus"]["ErrorCode"] == "BASESPACE.COMMON.NOT_FOUND"
        for path in ("/v2/datasets/ds.00000000000000000000000000000000", "/v2/biosamples/9",
                     "/v2/appsessions/9", "/v2/projects/9", "/v2/runs/9/files"):  # fmt: skip
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.json()["ErrorCode"] == "BASESPACE.COMMON.NOT_FOUND"


async def test_other_users_entities_are_403(state: EmulatorState) -> None:
    bob_project = entity_id(state, "projects", "Bob's")
    bob_sample = entity_id(state, "samples", "B")
    bob_file = entity_id(state, "files", "b.txt")
    bob_run = entity_id(state, "runs", "Bob run")
    async with api_client(state) as client:
        for path in (f"/v1pre3/projects/{bob_project}", f"/v1pre3/samples/{bob_sample}/files",
                     f"/v1pre3/files/{bob_file}", f"/v1pre3/runs/{bob_run}",
                     f"/v1pre3/files/{bob_file}/content"):  # fmt: skip
            response = await client.get(path)
            assert response.status_code == 403, path
        listing = (await client.get("/v1pre3/users/current/projects")).json()["Response"]
        assert "Bob's" not in [p["Name"] for p in listing["Items"]]
        v2 = (await client.get(f"/v2/datasets?projectid={bob_project}")).json()
        assert v2["Items"] == []
        other_user = await client.get(f"/v1pre3/users/{entity_id(state, 'users', 'Bob')}")
        assert other_user.status_code == 403
    async with api_client(state, token=BOB) as client:
        assert (await client.get(f"/v1pre3/projects/{bob_project}")).status_code == 200


async def test_trashed_entities_are_410(state: EmulatorState) -> None:
    gone_sample = entity_id(state, "samples", "Gone")
    gone_file = entity_id(state, "files", "gone.txt")
    trashed_project = entity_id(state, "projects", "Trashed project")
    in_trash = entity_id(state, "samples", "In trash")
    async with api_client(state) as client:
        for path in (f"/v1pre3/samples/{gone_sample}", f"/v1pre3/files/{gone_file}",
                     f"/v1pre3/projects/{trashed_project}", f"/v1pre3/samples/{in_trash}",
                     f"/v2/projects/{trashed_project}"):  # fmt: skip
            response = await client.get(path)
            assert response.status_code == 410, path
            body = response.json()
            code = body.get("ErrorCode") or body["ResponseStatus"]["ErrorCode"]
            assert code == "BASESPACE.COMMON.RESOURCE_REMOVED"
        pid = entity_id(state, "projects", "Proj A: (test)")
        samples = (await client.get(f"/v1pre3/projects/{pid}/samples")).json()["Response"]
        assert "Gone" not in [s["Name"] for s in samples["Items"]]
        projects = (await client.get("/v1pre3/users/current/projects")).json()["Response"]
        assert "Trashed project" not in [p["Name"] for p in projects["Items"]]
    assert state.file_content(gone_file) is None


async def test_unknown_paths_are_404_message_only(state: EmulatorState) -> None:
    async with api_client(state) as client:
        responses = [
            await client.get("/v2/v2/datasets"),
            await client.get("/v1pre3/nothing/here"),
            await client.get("/v1pre3"),
            await client.post("/v1pre3/users/current"),
            await client.delete("/v2/datasets"),
        ]
    async with api_client(state, token=None) as client:
        responses.append(await client.get("/v2/unknown"))
    for response in responses:
        assert response.status_code == 404
        assert response.json() == {"ResponseStatus": {"Message": UNKNOWN_PATH}, "Notifications": []}


async def test_missing_property_is_404(state: EmulatorState) -> None:
    pid = entity_id(state, "projects", "Proj A: (test)")
    async with api_client(state) as client:
        response = await client.get(f"/v1pre3/projects/{pid}/properties/No.Such")
        items = await client.get(f"/v1pre3/projects/{pid}/properties/No.Such/items")
    for r in (response, items):
        assert r.status_code == 404
        assert r.json()["ResponseStatus"]["ErrorCode"] == "BASESPACE.PROPERTIES.NOT_FOUND"


async def test_revocation(state: EmulatorState) -> None:
    async with api_client(state) as client:
        revoked = await client.delete("/v2/oauthv2tokens/current")
        after_v1 = await client.get("/v1pre3/users/current")
        after_v2 = await client.get("/v2/users/current")
    assert revoked.status_code == 200
    assert after_v1.status_code == 401 and after_v2.status_code == 401
    async with api_client(state, token=BOB) as client:
        assert (await client.get("/v1pre3/users/current")).status_code == 200
    state.reset()
    async with api_client(state) as client:
        assert (await client.get("/v1pre3/users/current")).status_code == 200


async def test_extra_query_parameters_ignored(state: EmulatorState) -> None:
    fid = entity_id(state, "files", "a.vcf")
    async with api_client(state) as client:
        response = await client.get(f"/v1pre3/files/{fid}", params={"Offset": 0, "Limit": 512})
    assert response.status_code == 200


async def test_trailing_slash_is_routed(state: EmulatorState) -> None:
    async with api_client(state) as client:
        projects = await client.get("/v1pre3/users/current/projects/")
        created = await client.post("/v1pre3/projects/", json={"Name": "Slash"})
        unknown = await client.get("/v1pre3/nothing/")
    assert projects.status_code == 200 and projects.json()["Response"]["TotalCount"] == 2
    assert created.status_code == 201
    assert unknown.status_code == 404 and "ErrorCode" not in unknown.json()["ResponseStatus"]
