"""The emulator's OAuth device flow: device authorization, token polling (pending, slow_down,
denied, expired, invalid codes), scopes, introspection, the HTML approval page, the control-plane
switches, reset, and the ``EmulatorProcess`` helpers against a real process."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from bsmount.emulator.oauth.device_flow import FULL_SCOPES, OAuthError, exchange, parse_scopes
from bsmount.emulator.state.account import EmulatorState
from tests.emulator.seeds import BASE, api_client, entity_id, make_state
from tests.emulator_proc import SMALL_TOKEN, EmulatorProcess, write_small_seed

CLIENT = {"client_id": "bsmount-test-client", "client_secret": "s3cret"}


@pytest.fixture
def state() -> EmulatorState:
    return make_state()


async def authorize(client: httpx.AsyncClient, scope: str = "READ GLOBAL,BROWSE GLOBAL") -> Any:
    response = await client.post(
        "/v1pre3/oauthv2/deviceauthorization",
        data={"response_type": "device_code", "client_id": CLIENT["client_id"], "scope": scope},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def poll(client: httpx.AsyncClient, device_code: str, **extra: str) -> httpx.Response:
    form = {"grant_type": "device", **CLIENT, "code": device_code, **extra}
    return await client.post("/v1pre3/oauthv2/token", data=form)


def error_of(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"} and body["error_description"]
    return str(body["error"])


async def test_device_flow_approved(state: EmulatorState) -> None:
    async with api_client(state, token=None) as client:
        grant = await authorize(client, "read global, browse   global,READ GLOBAL")
        pending = await poll(client, grant["device_code"])
        approved = await client.post(
            "/_emulator/oauth/approve", json={"user_code": grant["user_code"].lower()}
        )
        issued = await poll(client, grant["device_code"])
        reused = await poll(client, grant["device_code"])
        token = issued.json()["access_token"]
        me = await client.get("/v1pre3/users/current", headers={"x-access-token": token})
        details = await client.get("/v1pre3/oauthv2/token/current", params={"access_token": token})
    assert set(grant) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_with_code_uri",
        "expires_in",
        "interval",
    }
    assert re.fullmatch(r"[A-Z0-9]{8}", grant["user_code"])
    assert grant["verification_uri"] == f"{BASE}/oauth/device"
    assert grant["verification_with_code_uri"] == f"{BASE}/oauth/device?code={grant['user_code']}"
    assert grant["expires_in"] == 1800 and grant["interval"] == 1
    assert error_of(pending) == "authorization_pending"
    assert pending.json()["error_description"] == "User has not yet approved the access request"
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert issued.status_code == 200 and re.fullmatch(r"[0-9a-f]{32}", token)
    assert issued.json()["expires_in"] > 0
    assert error_of(reused) == "invalid_grant"
    assert me.status_code == 200 and me.json()["Response"]["Name"] == "Alice"
    assert details.status_code == 200
    response = details.json()["Response"]
    assert response["Scopes"] == ["READ GLOBAL", "BROWSE GLOBAL"]
    assert response["UserResourceOwner"]["Id"] == entity_id(state, "users", "Alice")
    assert (
        response["AccessToken"] == token and CLIENT["client_id"] in response["Application"]["Name"]
    )


async def test_approve_as_another_user(state: EmulatorState) -> None:
    bob = entity_id(state, "users", "Bob")
    async with api_client(state, token=None) as client:
        grant = await authorize(client)
        await client.post(
            "/_emulator/oauth/approve", json={"user_code": grant["user_code"], "user": bob}
        )
        token = (await poll(client, grant["device_code"])).json()["access_token"]
        me = (await client.get("/v2/users/current", headers={"x-access-token": token})).json()
    assert me["Id"] == bob


async def test_denied(state: EmulatorState) -> None:
    async with api_client(state, token=None) as client:
        grant = await authorize(client)
        denied = await client.post("/_emulator/oauth/deny", json={"user_code": grant["user_code"]})
        answer = await poll(client, grant["device_code"])
        late = await client.post("/_emulator/oauth/approve", json={"user_code": grant["user_code"]})
        unknown = await client.post("/_emulator/oauth/approve", json={"user_code": "ZZZZZZZZ"})
        malformed = await client.post("/_emulator/oauth/deny", json={"code": "x"})
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    assert error_of(answer) == "access_denied"
    assert answer.json()["error_description"] == "User has denied the access request"
    assert late.status_code == 409 and unknown.status_code == 404
    assert malformed.status_code == 400


async def test_request_errors(state: EmulatorState) -> None:
    async with api_client(state, token=None) as client:
        bad_scope = await client.post(
            "/v1pre3/oauthv2/deviceauthorization",
            data={"response_type": "device_code", "client_id": "c", "scope": "READ GLOBAL,FLY"},
        )
        bad_type = await client.post(
            "/v1pre3/oauthv2/deviceauthorization", data={"response_type": "code", "client_id": "c"}
        )
        no_client = await client.post(
            "/v1pre3/oauthv2/deviceauthorization", data={"response_type": "device_code"}
        )
        grant = await authorize(client)
        wrong_grant = await poll(client, grant["device_code"], grant_type="password")
        no_code = await client.post(
            "/v1pre3/oauthv2/token", data={"grant_type": "device", **CLIENT}
        )
        unknown = await poll(client, "nope")
        other_client = await poll(client, grant["device_code"], client_id="someone-else")
    assert error_of(bad_scope) == "invalid_scope" and "FLY" in bad_scope.json()["error_description"]
    assert error_of(bad_type) == "unsupported_response_type"
    assert error_of(no_client) == "invalid_request"
    assert error_of(wrong_grant) == "unsupported_grant_type"
    assert error_of(no_code) == "invalid_request"
    assert error_of(unknown) == "invalid_grant"
    assert error_of(other_client) == "invalid_client"


def test_scopes() -> None:
    assert parse_scopes("read project 123, Write Dataset ds." + "a" * 32) == [
        "READ PROJECT 123",
        "WRITE DATASET DS." + "A" * 32,
    ]
    assert parse_scopes(None) == parse_scopes("  ") == ["BROWSE GLOBAL"]
    all_cli = "CREATE GLOBAL,BROWSE GLOBAL,CREATE PROJECTS,READ GLOBAL,START APPLICATIONS,"
    assert len(parse_scopes(all_cli + "MOVETOTRASH GLOBAL,AUDIT USER")) == 7
    for bad in ("READ", "READ PROJECT", "READ PROJECT abc", "DELETE GLOBAL", "READ GLOBAL 1"):
        with pytest.raises(ValueError):
            parse_scopes(bad)


async def test_slow_down_and_expiry(state: EmulatorState) -> None:
    async with api_client(state, token=None) as client:
        config = await client.post("/_emulator/oauth/config", json={"interval": 5})
        bad_config = await client.post("/_emulator/oauth/config", json={"expires_in": 0})
        grant = await authorize(client)
        first = await poll(client, grant["device_code"])
        second = await poll(client, grant["device_code"])
        await client.post("/_emulator/oauth/config", json={"expires_in": 1, "interval": 0})
        short = await authorize(client)
        await trio.sleep(1.05)
        expired = await poll(client, short["device_code"])
        late = await client.post("/_emulator/oauth/approve", json={"user_code": short["user_code"]})
    assert config.json() == {"expires_in": 1800, "interval": 5}
    assert bad_config.status_code == 400
    assert grant["interval"] == 5 and short["expires_in"] == 1
    assert error_of(first) == "authorization_pending" and error_of(second) == "slow_down"
    assert error_of(expired) == "expired_token" and late.status_code == 410


def test_exchange_clock(state: EmulatorState) -> None:
    """The token endpoint's rules with an explicit clock."""
    from bsmount.emulator.state.model import DeviceGrant

    grant = DeviceGrant("dc", "ABCDEFGH", "c", ["READ GLOBAL"], created=100.0, expires_in=10,
                        interval=2)  # fmt: skip
    state.model.device_grants["dc"] = grant
    outcomes = []
    for now in (100.0, 101.0, 103.0, 110.0):
        with pytest.raises(OAuthError) as caught:
            exchange(state, "c", "dc", now)
        outcomes.append(caught.value.error)
    assert outcomes == ["authorization_pending", "slow_down", "authorization_pending",
                        "expired_token"]  # fmt: skip


async def test_pending_listing_and_reset(state: EmulatorState) -> None:
    async with api_client(state, token=None) as client:
        grant = await authorize(client, "READ GLOBAL")
        listed = (await client.get("/_emulator/oauth/pending")).json()
        await client.post("/_emulator/oauth/approve", json={"user_code": grant["user_code"]})
        after = (await client.get("/_emulator/oauth/pending")).json()
        token = (await poll(client, grant["device_code"])).json()["access_token"]
        await client.post("/_emulator/reset")
        revoked = await client.get("/v1pre3/users/current", headers={"x-access-token": token})
        forgotten = await poll(client, grant["device_code"])
    assert [g["user_code"] for g in listed] == [grant["user_code"]]
    assert listed[0]["scopes"] == ["READ GLOBAL"] and listed[0]["client_id"] == CLIENT["client_id"]
    assert 0 < listed[0]["expires_in"] <= 1800 and "device_code" not in listed[0]
    assert after == []
    assert revoked.status_code == 401 and error_of(forgotten) == "invalid_grant"


async def test_introspection_of_seed_token(state: EmulatorState) -> None:
    async with api_client(state) as client:
        mine = (await client.get("/v1pre3/oauthv2/token/current")).json()["Response"]
    async with api_client(state, token=None) as client:
        anonymous = await client.get("/v1pre3/oauthv2/token/current")
    assert mine["Scopes"] == FULL_SCOPES and mine["Status"] == "Active"
    assert anonymous.status_code == 401


async def test_approval_page(state: EmulatorState) -> None:
    bob = entity_id(state, "users", "Bob")
    async with api_client(state, token=None) as client:
        grant = await authorize(client, "READ GLOBAL,CREATE PROJECTS")
        ask = await client.get("/oauth/device")
        page = await client.get(grant["verification_with_code_uri"])
        unknown = await client.get("/oauth/device", params={"code": "<script>"})
        malformed = await client.post("/oauth/device", data={"user_code": grant["user_code"]})
        approved = await client.post(
            "/oauth/device",
            data={"user_code": grant["user_code"], "user": bob, "action": "approve"},
        )
        again = await client.post(
            "/oauth/device", data={"user_code": grant["user_code"], "action": "deny"}
        )
        decided = await client.get(grant["verification_with_code_uri"])
        token = (await poll(client, grant["device_code"])).json()["access_token"]
        other = await authorize(client)
        denied = await client.post(
            "/oauth/device", data={"user_code": other["user_code"], "action": "deny"}
        )
        refused = await poll(client, other["device_code"])
    assert ask.status_code == 200 and 'name="code"' in ask.text
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for text in ('value="approve"', 'value="deny"', "CREATE PROJECTS", "Alice", "Bob",
                 CLIENT["client_id"], grant["user_code"]):  # fmt: skip
        assert text in page.text
    assert unknown.status_code == 404 and "<script>" not in unknown.text
    assert "&lt;script&gt;" in unknown.text
    assert malformed.status_code == 400
    assert approved.status_code == 200 and "approved" in approved.text
    assert again.status_code == 409 and decided.status_code == 409
    assert denied.status_code == 200 and error_of(refused) == "access_denied"
    async with api_client(state, token=token) as client:
        assert (await client.get("/v2/users/current")).json()["Id"] == bob


def test_process_helpers(tmp_path: Path) -> None:
    """The EmulatorProcess helpers drive the flow of a real emulator process."""
    with EmulatorProcess(write_small_seed(tmp_path)) as emu:
        assert emu.set_oauth_config(interval=0) == {"expires_in": 1800, "interval": 0}
        form = {"response_type": "device_code", "client_id": "proc", "scope": "BROWSE GLOBAL"}
        grant = emu.http.post("/v1pre3/oauthv2/deviceauthorization", data=form).json()
        assert grant["verification_uri"] == f"{emu.url}/oauth/device"
        assert [g["user_code"] for g in emu.pending_devices()] == [grant["user_code"]]
        assert emu.approve_device(grant["user_code"])["status"] == "approved"
        poll_form = {"grant_type": "device", "client_id": "proc", "client_secret": "x",
                     "code": grant["device_code"]}  # fmt: skip
        token = emu.http.post("/v1pre3/oauthv2/token", data=poll_form).json()["access_token"]
        me = emu.api_call("GET", "v2/users/current", token=token)
        assert me.status_code == 200 and token != SMALL_TOKEN
        other = emu.http.post("/v1pre3/oauthv2/deviceauthorization", data=form).json()
        assert emu.deny_device(other["user_code"])["status"] == "denied"
        poll_form["code"] = other["device_code"]
        denied = emu.http.post("/v1pre3/oauthv2/token", data=poll_form)
        assert denied.status_code == 400 and denied.json()["error"] == "access_denied"
        created = emu.api_call("POST", "v2/projects", params={"name": "From helper"})
        assert created.status_code == 201
        trashed = emu.api_call("DELETE", f"v2/projects/{created.json()['Id']}")
        assert trashed.status_code == 200 and "DeletedProject" in trashed.json()
        emu.reset()
        assert emu.api_call("GET", "v2/users/current", token=token).status_code == 401
        assert emu.pending_devices() == []
