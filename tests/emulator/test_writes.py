"""Writes through the emulator's API and state: project creation (JSON, form, query), token
revocation and extra tokens, appsession status changes, and reset back to the seed."""

from __future__ import annotations

import pytest

from bsmount.emulator.state.account import EmulatorState
from tests.emulator.seeds import ALICE, BOB, api_client, entity_id, make_state


@pytest.fixture
def state() -> EmulatorState:
    return make_state()


async def project_names(state: EmulatorState, token: str = ALICE) -> list[str]:
    async with api_client(state, token=token) as client:
        body = (await client.get("/v1pre3/users/current/projects", params={"Limit": 100})).json()
    return [p["Name"] for p in body["Response"]["Items"]]


async def test_create_project_json(state: EmulatorState) -> None:
    async with api_client(state) as client:
        response = await client.post(
            "/v1pre3/projects", json={"Name": "New: project (α)", "Description": "made by a test"}
        )
        again = await client.post("/v1pre3/projects", json={"name": "New: project (α)"})
        fetched = await client.get(f"/v1pre3/projects/{response.json()['Response']['Id']}")
    assert response.status_code == 201
    created = response.json()["Response"]
    assert created["Name"] == "New: project (α)" and created["Description"] == "made by a test"
    assert created["UserOwnedBy"]["Id"] == entity_id(state, "users", "Alice")
    assert created["Href"] == f"v1pre3/projects/{created['Id']}" and created["TotalSize"] == 0
    assert created["Properties"]["TotalCount"] == 0
    assert again.status_code == 200 and again.json()["Response"]["Id"] == created["Id"]
    assert fetched.status_code == 200
    assert "New: project (α)" in await project_names(state)
    assert "New: project (α)" not in await project_names(state, BOB)


async def test_create_project_form_and_query(state: EmulatorState) -> None:
    async with api_client(state) as client:
        form = await client.post("/v1pre3/projects", data={"Name": "Form project"})
        query = await client.post("/v1pre3/projects", params={"name": "Query project"})
    assert form.status_code == 201 and query.status_code == 201
    ids = {form.json()["Response"]["Id"], query.json()["Response"]["Id"]}
    assert len(ids) == 2 and all(i.isdigit() for i in ids)
    names = await project_names(state)
    assert "Form project" in names and "Query project" in names


async def test_create_project_needs_a_name(state: EmulatorState) -> None:
    async with api_client(state) as client:
        missing = await client.post("/v1pre3/projects", json={"Description": "no name"})
        blank = await client.post("/v1pre3/projects", data={"Name": "   "})
        broken = await client.post(
            "/v1pre3/projects", content=b"{not json", headers={"content-type": "application/json"}
        )
    for response in (missing, blank, broken):
        assert response.status_code == 400
        assert response.json()["ResponseStatus"]["ErrorCode"].startswith("BASESPACE.")


async def test_create_project_needs_a_token(state: EmulatorState) -> None:
    async with api_client(state, token=None) as client:
        response = await client.post("/v1pre3/projects", json={"Name": "x"})
    assert response.status_code == 401


async def test_reset_undoes_writes(state: EmulatorState) -> None:
    before = dict(state.model.projects)
    created, is_new = state.create_project(state.first_user, "Temporary")
    assert is_new and created.id not in before
    state.revoke_token(ALICE)
    assert state.user_for_token(ALICE) is None
    state.reset()
    assert list(state.model.projects) == list(before)
    assert state.user_for_token(ALICE) is not None
    again, _ = state.create_project(state.first_user, "Temporary")
    assert again.id == created.id  # same seed, same ids


async def test_add_token(state: EmulatorState) -> None:
    state.add_token("extra-token")
    bob = entity_id(state, "users", "Bob")
    state.add_token("bob-extra", bob)
    assert state.user_for_token("extra-token") is state.first_user
    state.reset()
    assert state.user_for_token("extra-token") is state.first_user
    user = state.user_for_token("bob-extra")
    assert user is not None and user.id == bob
    state.add_token("replacement", replace=True)
    assert state.user_for_token(ALICE) is None and state.user_for_token("replacement") is not None
    state.reset()
    assert state.user_for_token(ALICE) is None
    with pytest.raises(KeyError):
        state.add_token("t", "no-such-user")


async def test_set_appsession_status(state: EmulatorState) -> None:
    asid = entity_id(state, "appsessions", "Session 2")
    state.set_appsession_status(asid, "complete")
    async with api_client(state) as client:
        v1 = (await client.get(f"/v1pre3/appsessions/{asid}")).json()["Response"]
        v2 = (await client.get(f"/v2/appsessions/{asid}")).json()
    assert v1["Status"] == "Complete" and "DateCompleted" in v1
    assert v2["ExecutionStatus"] == "Complete" and v1["StatusSummary"]
    state.set_appsession_status(asid, "Running", "again")
    assert state.model.appsessions[asid].date_completed is None
    assert state.model.appsessions[asid].status_summary == "again"
    with pytest.raises(ValueError):
        state.set_appsession_status(asid, "Exploded")
    with pytest.raises(KeyError):
        state.set_appsession_status("1", "Aborted")
    state.reset()
    assert state.model.appsessions[asid].status == "Running"
