"""The emulator's lab routes over HTTP (a real emulator process, demo seed): creating biosamples
(``POST v2/biosamples`` and its refusals), the seeded prep requests, libraries and lab requeue,
libraries created through ``POST v2/biosamples/{id}/libraries``, lab requeues from a prep request
and from a library with their validation, the lists' filters, another user's 403, and the seed's
``lab`` key (what it builds, what it refuses)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bsmount.emulator.seeds.demo import DEMO_TOKEN, GENOMICS_PROJECT, OTHER_TOKEN
from bsmount.emulator.seeds.load import SeedError, load_seed_data
from tests.emulator_proc import EmulatorProcess


@pytest.fixture
def api(emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    """A client of the demo emulator as the demo user; the emulator is reset afterwards."""
    with httpx.Client(
        base_url=emulator.url, headers={"x-access-token": DEMO_TOKEN}, timeout=30.0
    ) as client:
        try:
            yield client
        finally:
            emulator.reset()


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def project_id(api: httpx.Client, name: str = GENOMICS_PROJECT) -> str:
    projects = ok(api.get("/v1pre3/users/current/projects", params={"Limit": 100}))
    return next(p["Id"] for p in projects["Response"]["Items"] if p["Name"] == name)


def biosamples(api: httpx.Client, **params: str) -> list[dict[str, Any]]:
    return list(ok(api.get("/v2/biosamples", params={"limit": 1000, **params}))["Items"])


def test_seeded_biosample_has_container_prep_request_library_and_requeue(
    api: httpx.Client,
) -> None:
    first = biosamples(api, projectid=project_id(api))[0]
    assert (first["ContainerName"], first["ContainerPosition"]) == ("Plate1", "A01")
    full = ok(api.get(f"/v2/biosamples/{first['Id']}"))
    [prep] = full["PrepRequests"]
    assert prep["LibraryPrep"]["Name"] == "Illumina DNA Prep" and prep["RequiredYieldGb"] == 5
    assert prep["BioSample"]["Id"] == first["Id"]
    libraries = ok(api.get(f"/v2/biosamples/{first['Id']}/libraries"))
    [library] = libraries["Items"]
    assert libraries["Paging"]["TotalCount"] == 1
    assert library["Name"] == f"{first['BioSampleName']}_LIB1"
    assert library["BioSample"]["Id"] == first["Id"]
    assert (library["Index1Sequence"], library["Index2Sequence"]) == ("ATTACTCG", "TATAGCCT")
    requeues = ok(api.get(f"/v2/biosamples/{first['Id']}/labrequeues"))["Items"]
    assert [(r["Type"], r["Status"], r["LIMSId"]) for r in requeues] == [
        ("AdditionalYieldOfLibrary", "Requested", "LIMS-0001")
    ]
    single = ok(api.get(f"/v2/labrequeues/{requeues[0]['Id']}"))
    assert single["HrefSampleLibrary"].endswith(f"/v2/libraries/{library['Id']}")
    assert single["RequestedAdditionalYield"] == 2 and "Properties" in single


def test_create_biosample_and_its_refusals(api: httpx.Client) -> None:
    pid = project_id(api)
    body = {
        "BioSampleName": "NA12878-new",
        "DefaultProjectId": pid,
        "ContainerName": "PlateX",
        "ContainerPosition": "B07",
    }
    created = ok(api.post("/v2/biosamples", json=body), 201)
    assert created["BioSampleName"] == "NA12878-new" and created["DefaultProject"]["Id"] == pid
    assert (created["ContainerName"], created["ContainerPosition"]) == ("PlateX", "B07")
    assert created["PrepRequests"] == []
    listed = biosamples(api, biosamplename="NA12878-new")
    assert [b["Id"] for b in listed] == [created["Id"]]
    # the same name in another case: 409, nothing created
    clash = api.post("/v2/biosamples", json={**body, "BioSampleName": "na12878-NEW"})
    assert (
        clash.status_code == 409 and clash.json()["ErrorCode"] == "BASESPACE.BIOSAMPLES.NAME_EXISTS"
    )
    invalid = "BASESPACE.BIOSAMPLES.INVALID_NAME"
    missing = "BASESPACE.COMMON.MISSING_FIELD"
    refusals = [
        ({"DefaultProjectId": pid}, 400, missing),
        ({"BioSampleName": "x"}, 400, missing),
        ({"BioSampleName": "bad name!", "DefaultProjectId": pid}, 400, invalid),
        ({"BioSampleName": "a" * 100, "DefaultProjectId": pid}, 400, invalid),
        (
            {"BioSampleName": "ok", "DefaultProjectId": pid, "ContainerPosition": "A01"},
            400,
            "BASESPACE.BIOSAMPLES.INVALID_CONTAINER",
        ),
        (
            {"BioSampleName": "ok", "DefaultProjectId": "99999999"},
            404,
            "BASESPACE.COMMON.NOT_FOUND",
        ),
    ]
    for request, status, code in refusals:
        answer = api.post("/v2/biosamples", json=request)
        assert (answer.status_code, answer.json().get("ErrorCode")) == (status, code), request
    assert biosamples(api, biosamplename="ok") == []


def test_another_users_project_and_biosamples_are_forbidden(
    api: httpx.Client, emulator: EmulatorProcess
) -> None:
    mine = biosamples(api)[0]["Id"]
    with httpx.Client(
        base_url=emulator.url, headers={"x-access-token": OTHER_TOKEN}, timeout=30.0
    ) as other:
        assert other.get(f"/v2/biosamples/{mine}/libraries").status_code == 403
        assert other.get(f"/v2/biosamples/{mine}/labrequeues").status_code == 403
        assert ok(other.get("/v2/libraries"))["Items"] == []
        assert ok(other.get("/v2/labrequeues"))["Items"] == []
        answer = other.post(
            "/v2/biosamples", json={"BioSampleName": "x", "DefaultProjectId": project_id(api)}
        )
        assert answer.status_code == 403


def test_libraries_create_and_list(api: httpx.Client) -> None:
    pid = project_id(api)
    bid = biosamples(api, projectid=pid)[1]["Id"]
    body = {
        "LibraryName": "LIB-extra",
        "LibraryPrepId": "Illumina DNA Prep",
        "ProjectId": pid,
        "Index1": "AAAAAAAA",
        "Index2": "CCCCCCCC",
        "Status": "Active",
    }
    made = ok(api.post(f"/v2/biosamples/{bid}/libraries", json=body))
    assert made["Name"] == "LIB-extra" and made["Index1Sequence"] == "AAAAAAAA"
    names = [x["Name"] for x in ok(api.get(f"/v2/biosamples/{bid}/libraries"))["Items"]]
    assert "LIB-extra" in names and len(names) == 2
    again = api.post(f"/v2/biosamples/{bid}/libraries", json=body)
    assert again.status_code == 409
    missing = api.post(f"/v2/biosamples/{bid}/libraries", json={"LibraryName": "y"})
    assert missing.status_code == 400
    everything = ok(api.get("/v2/libraries", params={"limit": 1000}))
    assert made["Id"] in {x["Id"] for x in everything["Items"]}
    assert everything["Paging"]["TotalCount"] == len(biosamples(api, projectid=pid)) + 1
    assert ok(api.get("/v2/libraries", params={"status": "Failed"}))["Items"] == []
    single = ok(api.get(f"/v2/libraries/{made['Id']}"))
    assert single["Name"] == "LIB-extra" and single["Href"].endswith(f"/v2/libraries/{made['Id']}")
    assert api.get("/v2/libraries/1").status_code == 404


def test_lab_requeues_from_prep_request_and_library(api: httpx.Client) -> None:
    second = biosamples(api, projectid=project_id(api))[1]
    prep_id = ok(api.get(f"/v2/biosamples/{second['Id']}"))["PrepRequests"][0]["Id"]
    new = ok(
        api.post(
            f"/v2/preprequests/{prep_id}/labrequeues",
            json={"RequestedAdditionalYield": 5, "LIMSId": "L-9"},
        )
    )
    assert (new["Type"], new["Status"], new["PrepType"]) == (
        "NewBioSampleLibrary",
        "Requested",
        "BioSample",
    )
    assert new["BioSample"]["Id"] == second["Id"] and new["HrefPrepRequest"].endswith(prep_id)
    library_id = ok(api.get(f"/v2/biosamples/{second['Id']}/libraries"))["Items"][0]["Id"]
    more = ok(
        api.post(f"/v2/libraries/{library_id}/labrequeues", json={"RequestedAdditionalYield": 3})
    )
    assert more["Type"] == "AdditionalYieldOfLibrary" and more["MissingYield"] == 3
    listed = ok(api.get(f"/v2/biosamples/{second['Id']}/labrequeues"))["Items"]
    assert [r["Id"] for r in listed] == [new["Id"], more["Id"]]
    typed = ok(
        api.get(
            f"/v2/biosamples/{second['Id']}/labrequeues", params={"type": "NewBioSampleLibrary"}
        )
    )
    assert [r["Id"] for r in typed["Items"]] == [new["Id"]]
    assert ok(api.get(f"/v2/biosamples/{second['Id']}"))["LabStatus"] == "Requeued"
    every = ok(api.get("/v2/labrequeues", params={"type": "AdditionalYieldOfLibrary"}))["Items"]
    assert {more["Id"]} < {r["Id"] for r in every}  # the seeded one too
    for bad in ({}, {"RequestedAdditionalYield": 0}, {"RequestedAdditionalYield": "5"}):
        answer = api.post(f"/v2/libraries/{library_id}/labrequeues", json=bad)
        assert answer.status_code == 400, bad
        assert answer.json()["ErrorCode"] == "BASESPACE.LABREQUEUES.INVALID_YIELD"
    assert (
        api.post("/v2/preprequests/1/labrequeues", json={"RequestedAdditionalYield": 1}).status_code
        == 404
    )
    assert api.get("/v2/labrequeues/1").status_code == 404
    assert len(ok(api.get(f"/v2/biosamples/{second['Id']}/labrequeues"))["Items"]) == 2


def test_reset_restores_the_seeded_lab(api: httpx.Client, emulator: EmulatorProcess) -> None:
    first = biosamples(api)[0]["Id"]
    library_id = ok(api.get(f"/v2/biosamples/{first}/libraries"))["Items"][0]["Id"]
    ok(api.post(f"/v2/libraries/{library_id}/labrequeues", json={"RequestedAdditionalYield": 1}))
    assert len(ok(api.get(f"/v2/biosamples/{first}/labrequeues"))["Items"]) == 2
    emulator.reset()
    again = ok(api.get(f"/v2/biosamples/{first}/labrequeues"))["Items"]
    assert len(again) == 1 and again[0]["LIMSId"] == "LIMS-0001"


def _lab_seed(lab: Any) -> dict[str, Any]:
    return {
        "users": [{"name": "U", "tokens": ["t0k3n"]}],
        "projects": [{"name": "P", "biosamples": [{"name": "B1", "lab": lab}]}],
    }


def test_seed_lab_key_builds_the_tables_and_refuses_bad_ones(tmp_path: Path) -> None:
    lab = {
        "prep_requests": [{"key": "p", "library_prep": "Kit", "required_yield_gb": 1.5}],
        "libraries": [{"key": "l", "name": "L1", "index1": "AC"}, {"name": "L2"}],
        "lab_requeues": [
            {"type": "NewBioSampleLibrary", "prep_request": "p", "requested_additional_yield": 3},
            {"type": "AdditionalYieldOfLibrary", "library": "l", "status": "Fulfilled"},
        ],
    }
    tables = load_seed_data(_lab_seed(lab), tmp_path).model.lab
    assert [p.required_yield_gb for p in tables.prep_requests.values()] == [1.5]
    assert [x.name for x in tables.libraries.values()] == ["L1", "L2"]
    first, second = tables.requeues.values()
    assert first.prep_request_id == next(iter(tables.prep_requests))
    assert second.library_id == next(iter(tables.libraries)) and second.status == "Fulfilled"
    for bad, message in (
        ({"pools": []}, "unknown key(s) pools for a lab"),
        ({"libraries": [{"name": "x", "kit": "y"}]}, "unknown key(s) kit for a library"),
        ({"libraries": [{}]}, "'name' is required"),
        ({"lab_requeues": [{"type": "More"}]}, "type: expected one of"),
        ({"lab_requeues": [{"library": "nope"}]}, "no library with key 'nope'"),
        ({"prep_requests": [{"required_yield_gb": -1}]}, "expected a non-negative number"),
    ):
        with pytest.raises(SeedError, match=re.escape(message)):
            load_seed_data(_lab_seed(bad), tmp_path)


def test_bulkupdate_moves_biosamples_to_another_project(api: httpx.Client) -> None:
    genomics, empty = project_id(api), project_id(api, "Empty Project")
    first, second = biosamples(api, projectid=genomics)[:2]
    body = {"Ids": [first["Id"], second["Id"]], "DefaultProjectId": empty}
    moved = ok(api.post("/v2/biosamples/bulkupdate", json={**body, "ContainerName": "PlateQ"}))
    assert [b["Id"] for b in moved["Items"]] == [first["Id"], second["Id"]]
    assert {b["DefaultProject"]["Id"] for b in moved["Items"]} == {empty}
    assert {b["ContainerName"] for b in moved["Items"]} == {"PlateQ"}
    assert moved["Items"][0]["ContainerPosition"] == first["ContainerPosition"]  # unchanged
    assert {b["Id"] for b in biosamples(api, projectid=empty)} == {first["Id"], second["Id"]}
    # a name the project has (any case): 409 and nothing moves
    clash = ok(
        api.post("/v2/biosamples", json={"BioSampleName": "Clash-1", "DefaultProjectId": genomics}),
        201,
    )
    ok(
        api.post("/v2/biosamples", json={"BioSampleName": "clash-1", "DefaultProjectId": empty}),
        201,
    )
    third = biosamples(api, projectid=genomics)[0]
    answer = api.post(
        "/v2/biosamples/bulkupdate",
        json={"Ids": [third["Id"], clash["Id"]], "DefaultProjectId": empty},
    )
    assert answer.status_code == 409
    assert {b["Id"] for b in biosamples(api, projectid=genomics)} >= {third["Id"], clash["Id"]}
    for bad, status in (
        ({"Ids": [], "DefaultProjectId": empty}, 400),
        ({"Ids": ["1"], "DefaultProjectId": empty}, 404),
    ):
        assert api.post("/v2/biosamples/bulkupdate", json=bad).status_code == status
