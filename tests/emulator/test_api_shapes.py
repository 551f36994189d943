"""Shapes of every endpoint family of the emulator's API (in-process, small seed).

Field names, nesting, envelopes, id and date formats, relative v1pre3 and absolute v2 hrefs,
and the response headers, as basespace-api.md documents them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bsmount.emulator.state.account import EmulatorState
from tests.emulator.seeds import ALICE, BASE, api_client, entity_id, make_state

DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")
REQUEST_ID = re.compile(r"^\d{4}\.\d\d\.\d\d\.\d\d\.\d\d\.\d\d\.[A-Za-z0-9_-]{22}$")
PROJECT_ITEM = {"Id", "UserOwnedBy", "Href", "Name", "Description", "DateCreated",
                "DateModified", "HasCollaborators", "TotalSize"}  # fmt: skip
FILE_ITEM = {"Id", "Href", "HrefContent", "Name", "ContentType", "Size", "Path", "IsArchived",
             "DateCreated", "DateModified", "ETag", "IdAsLong"}  # fmt: skip


@pytest.fixture
def state() -> EmulatorState:
    return make_state()


def v1(body: dict[str, Any]) -> Any:
    assert list(body) == ["Response", "ResponseStatus", "Notifications"]
    assert body["ResponseStatus"] == {} and body["Notifications"] == []
    return body["Response"]


def check_formats(value: Any) -> None:
    """Every Id is a string, every Date* field has 7 fractional digits."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Id":
                assert isinstance(item, str), value
            if key.startswith("Date") or key in ("ModifiedOn", "Expires"):
                assert isinstance(item, str) and DATE.match(item), (key, item)
            check_formats(item)
    elif isinstance(value, list):
        for item in value:
            check_formats(item)


async def test_v1_user_and_headers(state: EmulatorState) -> None:
    async with api_client(state) as client:
        response = await client.get("/v1pre3/users/current")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache, no-store, must-revalidate"
    assert REQUEST_ID.match(response.headers["x-request-id"])
    user = v1(response.json())
    assert user["Id"] == entity_id(state, "users", "Alice")
    assert user["Href"] == f"v1pre3/users/{user['Id']}"
    assert user["Email"] == "alice@example.com"
    assert user["HrefProjects"] == f"v1pre3/users/{user['Id']}/projects"
    assert user["GravatarUrl"].startswith("https://secure.gravatar.com/avatar/")
    check_formats(user)


async def test_v1_projects_list_and_single(state: EmulatorState) -> None:
    pid = entity_id(state, "projects", "Proj A: (test)")
    async with api_client(state) as client:
        listing = v1((await client.get("/v1pre3/users/current/projects")).json())
        single = v1((await client.get(f"/v1pre3/projects/{pid}")).json())
    assert [p["Name"] for p in listing["Items"]] == ["Proj A: (test)", "Empty"]
    assert set(listing) == {"Items", "DisplayedCount", "TotalCount", "Offset", "Limit",
                            "SortDir", "SortBy"}  # fmt: skip
    item = listing["Items"][0]
    assert set(item) == PROJECT_ITEM
    assert item["Href"] == f"v1pre3/projects/{pid}"
    assert item["UserOwnedBy"]["DateCreated"] == "0001-01-01T00:00:00.0000000Z"
    assert item["TotalSize"] == 1000 + 1000 + 21 + 5000 + 50 + 2  # s1 files, ar1, ds2 x.txt
    assert set(single) == PROJECT_ITEM | {"HrefSamples", "HrefAppResults", "HrefBaseSpaceUI",
                                          "Properties"}  # fmt: skip
    assert single["HrefSamples"] == f"v1pre3/projects/{pid}/samples"
    assert single["HrefBaseSpaceUI"].endswith(f"/project/{pid}/Proj-A-test")
    props = single["Properties"]
    assert props["Href"] == f"v1pre3/projects/{pid}/properties"
    assert props["TotalCount"] == props["DisplayedCount"] == 4
    check_formats(listing)
    check_formats(single)


async def test_v1_properties_typed(state: EmulatorState) -> None:
    pid = entity_id(state, "projects", "Proj A: (test)")
    async with api_client(state) as client:
        listing = v1((await client.get(f"/v1pre3/projects/{pid}/properties")).json())
        tags = v1((await client.get(f"/v1pre3/projects/{pid}/properties/Tags")).json())
        items = v1((await client.get(
            f"/v1pre3/projects/{pid}/properties/Tags/items", params={"Offset": 6}
        )).json())  # fmt: skip
    by_name = {p["Name"]: p for p in listing["Items"]}
    assert listing["SortBy"] == "Name"
    assert [p["Name"] for p in listing["Items"]] == sorted(by_name)
    assert by_name["Note"] == {"Type": "string", "Href": f"v1pre3/projects/{pid}/properties/Note",
                               "Name": "Note", "Description": "", "Content": "hello"}  # fmt: skip
    runs = by_name["Input.Runs"]
    assert runs["Type"] == "run[]" and runs["ItemsTotalCount"] == 1
    assert runs["Items"][0]["Name"] == "200101_M00001_0001_000000000-ABCDE"
    assert runs["Items"][0]["Href"].startswith("v1pre3/runs/")
    assert by_name["Input.Project"]["Content"]["Id"] == pid
    assert tags["Items"] == ["t0", "t1", "t2", "t3", "t4"]
    assert tags["ItemsDisplayedCount"] == 5 and tags["ItemsTotalCount"] == 8
    assert tags["HrefItems"] == f"v1pre3/projects/{pid}/properties/Tags/items"
    assert [i["Content"] for i in items["Items"]] == ["t6", "t7"]
    assert items["TotalCount"] == 8


async def test_v1_samples_appresults(state: EmulatorState) -> None:
    pid = entity_id(state, "projects", "Proj A: (test)")
    sid = entity_id(state, "samples", "Échantillon α")
    aid = entity_id(state, "appresults", "Result/1")
    async with api_client(state) as client:
        samples = v1((await client.get(f"/v1pre3/projects/{pid}/samples")).json())
        sample = v1((await client.get(f"/v1pre3/samples/{sid}")).json())
        results = v1((await client.get(f"/v1pre3/projects/{pid}/appresults")).json())
        result = v1((await client.get(f"/v1pre3/appresults/{aid}")).json())
    assert [s["Name"] for s in samples["Items"]] == ["Échantillon α", "Dup", "Dup"]
    item = samples["Items"][0]
    for key in ("Id", "Href", "UserOwnedBy", "Name", "SampleId", "Status", "DateCreated",
                "TotalSize", "Genome", "Read1", "Read2", "NumReadsPF", "IsPairedEnd"):  # fmt: skip
        assert key in item, key
    assert item["Genome"]["Href"] == "v1pre3/genomes/4"
    assert sample["HrefFiles"] == f"v1pre3/samples/{sid}/files"
    assert sample["AppSession"]["Name"] == "Session 1"
    assert sample["Projects"][0]["Id"] == pid
    assert sample["Properties"]["TotalCount"] == 4
    assert results["Items"][0]["AppSession"]["Href"].startswith("v1pre3/appsessions/")
    assert result["HrefFiles"] == f"v1pre3/appresults/{aid}/files"
    assert result["Properties"]["Items"][0]["Type"] == "sample[]"
    assert [s["Name"] for s in result["Properties"]["Items"][0]["Items"]] == [
        "Échantillon α",
        "Dup",
    ]
    check_formats([samples, sample, results, result])


async def test_v1_files(state: EmulatorState) -> None:
    aid = entity_id(state, "appresults", "Result/1")
    fid = entity_id(state, "files", "bam/b.bam")
    async with api_client(state) as client:
        files = v1((await client.get(f"/v1pre3/appresults/{aid}/files")).json())
        single = v1((await client.get(f"/v1pre3/files/{fid}")).json())
        bams = v1((await client.get(f"/v1pre3/appresults/{aid}/files?Extensions=.bam")).json())
        in_dir = v1((await client.get(f"/v1pre3/appresults/{aid}/files?Directory=bam")).json())
    assert [f["Path"] for f in files["Items"]] == ["a.vcf", "bam/b.bam", "bam/b.bam.bai",
                                                   "pending.bin"]  # fmt: skip
    item = files["Items"][1]
    assert set(item) == FILE_ITEM
    assert (
        item["Href"] == f"v1pre3/files/{fid}"
        and item["HrefContent"] == f"v1pre3/files/{fid}/content"
    )
    assert item["IdAsLong"] == int(fid) and int(fid) > 2**32
    assert item["Name"] == "b.bam" and item["Size"] == 5000
    assert re.fullmatch(r"[0-9a-f]{32}-1", item["ETag"])
    assert files["Items"][3]["UploadStatus"] == "pending"
    assert files["Items"][0]["ContentType"] == "text/plain"
    assert [f["Path"] for f in bams["Items"]] == ["bam/b.bam"]
    assert [f["Path"] for f in in_dir["Items"]] == ["bam/b.bam", "bam/b.bam.bai"]
    assert single["UploadStatus"] == "complete"
    assert single["ParentAppResult"]["Id"] == aid
    assert single["Properties"]["Href"] == f"v1pre3/files/{fid}/properties"
    assert "IdAsLong" not in single
    check_formats([files, single])


async def test_v1_runs_appsessions_genomes(state: EmulatorState) -> None:
    rid = entity_id(state, "runs", "200101_M00001_0001_000000000-ABCDE")
    asid = entity_id(state, "appsessions", "Session 2")
    async with api_client(state) as client:
        runs = v1((await client.get("/v1pre3/users/current/runs")).json())
        run = v1((await client.get(f"/v1pre3/runs/{rid}")).json())
        run_files = v1((await client.get(f"/v1pre3/runs/{rid}/files?Limit=100")).json())
        interop = v1((await client.get(f"/v1pre3/runs/{rid}/files?Directory=/InterOp/")).json())
        sessions = v1((await client.get("/v1pre3/users/current/appsessions")).json())
        running = v1(
            (await client.get("/v1pre3/users/current/appsessions?Statuses=running")).json()
        )
        session = v1((await client.get(f"/v1pre3/appsessions/{asid}")).json())
        genomes = v1((await client.get("/v1pre3/genomes")).json())
        genome = v1((await client.get("/v1pre3/genomes/4")).json())
    assert [r["Name"] for r in runs["Items"]] == ["200101_M00001_0001_000000000-ABCDE"]
    assert run["InstrumentName"] == "M00001" and run["FlowcellBarcode"] == "ABCDE"
    assert run["HrefFiles"] == f"v1pre3/runs/{rid}/files"
    assert run["NumCyclesRead1"] == 151 and "Properties" in run
    assert run_files["TotalCount"] == 8
    assert [f["Path"] for f in interop["Items"]] == ["InterOp/QMetricsOut.bin",
                                                     "InterOp/TileMetricsOut.bin"]  # fmt: skip
    assert {s["Status"] for s in sessions["Items"]} == {"Complete", "Running", "Aborted"}
    assert [s["Name"] for s in running["Items"]] == ["Session 2"]
    assert session["Type"] == "AppSession" and session["Status"] == "Running"
    assert "DateCompleted" not in session
    assert session["Application"]["Href"].startswith("v1pre3/applications/")
    assert genomes["TotalCount"] >= 1 and genome["Build"] == "hg19"
    check_formats([runs, run, run_files, sessions, session, genomes])


async def test_v1_content_meta_and_redirect(state: EmulatorState) -> None:
    fid = entity_id(state, "files", "a.vcf")
    async with api_client(state) as client:
        meta_response = await client.get(f"/v1pre3/files/{fid}/content?redirect=meta")
        redirect = await client.get(f"/v1pre3/files/{fid}/content")
        blob = await client.get(
            v1(meta_response.json())["HrefContent"], headers={"x-access-token": ""}
        )
    meta = v1(meta_response.json())
    assert set(meta) == {"Expires", "HrefContent", "SupportsRange"}
    assert meta["SupportsRange"] is True and DATE.match(meta["Expires"])
    assert meta_response.headers["accept-ranges"] == "bytes"
    assert meta["HrefContent"].startswith(BASE + "/")
    assert "Signature" in parse_qs(urlsplit(meta["HrefContent"]).query)
    assert redirect.status_code == 302
    assert urlsplit(redirect.headers["location"]).path == urlsplit(meta["HrefContent"]).path
    assert blob.status_code == 200 and blob.content == b"##fileformat=VCFv4.2\n"


async def test_v1_content_uses_blob_base_url(state: EmulatorState) -> None:
    fid = entity_id(state, "files", "a.vcf")
    async with api_client(state, blob_base_url="http://blobs.example:9000") as client:
        meta = v1((await client.get(f"/v1pre3/files/{fid}/content?redirect=meta")).json())
    assert meta["HrefContent"].startswith("http://blobs.example:9000/")


async def test_v2_user_project_biosamples(state: EmulatorState) -> None:
    pid = entity_id(state, "projects", "Proj A: (test)")
    bid = entity_id(state, "biosamples", "Échantillon α")
    async with api_client(state) as client:
        user = (await client.get("/v2/users/current")).json()
        project = (await client.get(f"/v2/projects/{pid}")).json()
        listing = (await client.get(f"/v2/biosamples?projectid={pid}")).json()
        single = (await client.get(f"/v2/biosamples/{bid}")).json()
    assert "Response" not in user and user["Href"] == f"{BASE}/v2/users/{user['Id']}"
    assert project["Href"] == f"{BASE}/v2/projects/{pid}" and project["Name"] == "Proj A: (test)"
    assert project["Properties"]["Href"] == f"{BASE}/v2/projects/{pid}/properties"
    assert set(listing) == {"Items", "Paging"}
    assert listing["Paging"] == {"DisplayedCount": 2, "TotalCount": 2, "Offset": 0, "Limit": 10,
                                 "SortDir": "Asc", "SortBy": "Id"}  # fmt: skip
    item = listing["Items"][0]
    assert item["BioSampleName"] == "Échantillon α" and item["Status"] == "New"
    assert item["DefaultProject"]["Href"] == f"{BASE}/v2/projects/{pid}"
    assert item["UserOwnedBy"]["Href"].startswith(f"{BASE}/v2/users/")
    assert single["Id"] == bid and "Properties" in single
    check_formats([user, project, listing, single])


async def test_v2_datasets(state: EmulatorState) -> None:
    pid = entity_id(state, "projects", "Proj A: (test)")
    ds1 = entity_id(state, "datasets", "DS one")
    ds2 = entity_id(state, "datasets", "DS two")
    bs1 = entity_id(state, "biosamples", "Échantillon α")
    as2 = entity_id(state, "appsessions", "Session 2")
    sid = entity_id(state, "samples", "Échantillon α")
    async with api_client(state) as client:
        listing = (await client.get(f"/v2/datasets?projectid={pid}&include=Properties")).json()
        by_bs = (await client.get(f"/v2/datasets?inputbiosamples={bs1}")).json()
        by_as = (await client.get(f"/v2/datasets?appsessionids={as2}")).json()
        fastq = (await client.get("/v2/datasets?datasettypes=~common.fastq")).json()
        single = (await client.get(f"/v2/datasets/{ds1}")).json()
        files1 = (await client.get(f"/v2/datasets/{ds1}/files")).json()
        files2 = (await client.get(f"/v2/datasets/{ds2}/files")).json()
        files2_all = (
            await client.get(f"/v2/datasets/{ds2}/files?statuses=complete,pending")
        ).json()
    assert re.fullmatch(r"ds\.[0-9a-f]{32}", ds1)
    assert [d["Name"] for d in listing["Items"]] == ["DS two", "DS one"]  # DateCreated Desc
    assert listing["Paging"]["SortBy"] == "DateCreated" and listing["Paging"]["SortDir"] == "Desc"
    two = listing["Items"][0]
    assert two["Href"] == f"{BASE}/v2/datasets/{ds2}" and two["HrefFiles"].endswith("/files")
    assert two["Project"]["Href"] == f"{BASE}/v2/projects/{pid}"
    assert two["AppSession"]["ExecutionStatus"] == "Running"
    assert two["DatasetType"]["Id"] == "common.files"
    prop = two["Properties"]["Items"][0]
    assert (
        prop["Type"] == "biosample[]"
        and prop["BioSampleItems"][0]["BioSampleName"] == "Other biosample"
    )
    assert [d["Id"] for d in by_bs["Items"]] == [ds1]
    assert [d["Id"] for d in by_as["Items"]] == [ds2]
    assert [d["Id"] for d in fastq["Items"]] == [ds1]
    assert single["V1pre3Id"] == f"sample.{sid}" and single["DatasetType"]["ConformsToIds"] == [
        "common.files", "common.fastq"]  # fmt: skip
    assert [f["Name"] for f in files1["Items"]] == ["s1_R1.fastq.gz", "s1_R2.fastq.gz"]
    assert set(files1["Items"][0]) == FILE_ITEM
    assert files1["Items"][0]["Href"].startswith(f"{BASE}/v2/files/")
    assert files1["Items"][0]["HrefContent"].endswith("/content")
    assert files1["Items"][0]["ContentType"] == "application/x-gzip"
    assert [f["Name"] for f in files2["Items"]] == ["x.txt"]
    assert [f.get("UploadStatus") for f in files2_all["Items"]] == [None, "pending"]
    check_formats([listing, single, files1])


async def test_v2_appsessions(state: EmulatorState) -> None:
    pid = entity_id(state, "projects", "Proj A: (test)")
    empty = entity_id(state, "projects", "Empty")
    as1 = entity_id(state, "appsessions", "Session 1")
    async with api_client(state) as client:
        listing = (await client.get(f"/v2/appsessions?output.projects={pid}")).json()
        none = (await client.get(f"/v2/appsessions?output.projects={empty}")).json()
        single = (await client.get(f"/v2/appsessions/{as1}")).json()
    assert [a["Name"] for a in listing["Items"]] == ["Session 1", "Session 2", "Session 3"]
    item = listing["Items"][0]
    for key in ("Id", "Name", "Href", "Application", "UserCreatedBy", "ExecutionStatus", "QcStatus",
                "StatusSummary", "Purpose", "DateCreated", "DateModified", "DateCompleted",
                "TotalSize", "DeliveryStatus", "HrefComments"):  # fmt: skip
        assert key in item, key
    assert item["Href"] == f"{BASE}/v2/appsessions/{as1}"
    assert item["Application"]["Href"].startswith("v1pre3/applications/")
    assert item["TotalSize"] == 21 + 5000 + 50 + 2000  # ar1 (complete files) + ds1 (shared files)
    assert none["Items"] == [] and none["Paging"]["TotalCount"] == 0
    # A finished session records its appresults (as BaseSpacePy's getAppResultFromAppSessionId
    # expects); Session 1 made ar1.
    outputs = single["Properties"]["Items"]
    assert [p["Name"] for p in outputs] == ["Output.AppResults"]
    assert outputs[0]["Type"] == "appresult[]"
    assert single["HrefLogs"].endswith("/logfiles")
    check_formats([listing, single])


async def test_v2_run_files(state: EmulatorState) -> None:
    rid = entity_id(state, "runs", "200101_M00001_0001_000000000-ABCDE")
    url = f"/v2/runs/{rid}/files"
    async with api_client(state) as client:
        top = (await client.get(url, params={"include": "Subdirectories"})).json()
        data = (
            await client.get(
                url,
                params={"directory": "/Data/Intensities/", "include": "Subdirectories,TotalCount"},
            )
        ).json()
        recursive = (
            await client.get(
                url,
                params={
                    "directory": "Data",
                    "recursive": "true",
                    "include": "TotalCount",
                    "limit": 100,
                },
            )
        ).json()
        lane = (
            await client.get(
                url,
                params={"directory": "Data/Intensities/BaseCalls/L001", "include": "TotalCount"},
            )
        ).json()
        missing = (
            await client.get(url, params={"directory": "/Nope", "include": "TotalCount"})
        ).json()
    assert [f["Path"] for f in top["Items"]] == ["RunInfo.xml", "SampleSheet.csv"]
    assert "TotalCount" not in top["Paging"]
    assert [d["Name"] for d in top["SubDirectories"]] == ["Data", "InterOp"]
    assert top["SubDirectories"][0]["Href"] == f"{BASE}/v2/runs/{rid}/files?directory=/Data/"
    assert data["Items"] == [] and data["Paging"]["TotalCount"] == 0
    assert [d["Name"] for d in data["SubDirectories"]] == ["BaseCalls", "L001"]
    assert recursive["Paging"]["TotalCount"] == 4
    assert [f["Name"] for f in lane["Items"]] == ["s_1_1101.bcl", "s_1_1102.bcl"]
    assert missing["Items"] == [] and missing["Paging"]["TotalCount"] == 0


async def test_v2_files_and_content(state: EmulatorState) -> None:
    fid = entity_id(state, "files", "a.vcf")
    ds1 = entity_id(state, "datasets", "DS one")
    async with api_client(state) as client:
        single = (await client.get(f"/v2/files/{fid}")).json()
        meta_response = await client.get(f"/v2/files/{fid}/content", params={"redirect": "meta"})
        redirect = await client.get(f"/v2/files/{fid}/content", params={"redirect": "true"})
        resolved = (
            await client.get(
                f"/v2/datasets/{ds1}/files", params={"filehrefcontentresolution": "true"}
            )
        ).json()
        blob = await client.get(resolved["Items"][0]["HrefContent"], headers={"x-access-token": ""})
    assert single["Href"] == f"{BASE}/v2/files/{fid}" and single["UploadStatus"] == "complete"
    meta = meta_response.json()
    assert set(meta) == {"Expires", "HrefContent", "SupportsRange"}
    assert redirect.status_code == 302
    assert urlsplit(redirect.headers["location"]).path == urlsplit(meta["HrefContent"]).path
    href = resolved["Items"][0]["HrefContent"]
    assert "/s3/" in href and "Signature=" in href
    assert blob.status_code == 200 and len(blob.content) == 1000


async def test_token_in_query_on_content_route(state: EmulatorState) -> None:
    fid = entity_id(state, "files", "a.vcf")
    async with api_client(state, token=None) as client:
        response = await client.get(f"/v2/files/{fid}/content?redirect=meta&access_token={ALICE}")
    assert response.status_code == 200
