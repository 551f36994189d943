"""The emulator's Search API (``GET v1pre3/search``), in-process: every scope with term, phrase
and boolean queries, wildcards, nested fields, result shapes, ordering, paging over a bulk seed,
bad queries (500), bad scopes (400), auth and other users' entities."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bsmount.emulator.search.match import tokenize
from bsmount.emulator.search.query import QueryError, parse_query
from bsmount.emulator.search.related import extensions
from bsmount.emulator.seeds.load import BULK_TOKEN, make_bulk_seed
from bsmount.emulator.state.account import EmulatorState
from tests.emulator.seeds import ALICE, BOB, api_client, entity_id, make_state

RUN_A = "140609_M00001_0010_000000000-AAAAA"
TYPE_KEYS = {
    "project": "Project",
    "run": "Run",
    "sample": "Sample",
    "appresult": "AppResult",
    "genome": "Genome",
    "samplefile": "SampleFile",
    "appresultfile": "AppResultFile",
}


def _fastq(name: str) -> list[dict[str, Any]]:
    return [{"path": f"{name}_S1_L001_R{r}_001.fastq.gz", "size": 100, "seed": r} for r in (1, 2)]


def search_seed() -> dict[str, Any]:
    """Alice: "Alpha Project" (samples, appresults with VCF/BAM files, appsessions), "Beta
    Project", a trashed project, runs RUN_A and a 150101 run. Bob: look-alike entities."""
    dragen = {"id": "10", "name": "DRAGEN Germline", "version": "3.2.8"}
    return {
        "base_date": "2020-01-01T00:00:00Z",
        "users": [
            {"key": "alice", "name": "Alice Smith", "email": "alice@example.com",
             "tokens": [ALICE]},
            {"key": "bob", "name": "Bob", "tokens": [BOB]},
        ],
        "projects": [
            {
                "key": "alpha", "name": "Alpha Project", "description": "germline panel",
                "properties": [{"name": "Lab.Contact", "content": "Ada Lovelace"}],
                "appsessions": [
                    {"key": "as-dragen", "name": "DRAGEN Germline 2020-01-02",
                     "application": dragen, "status": "Complete"},
                    {"key": "as-bwa", "name": "BWA run", "status": "Running",
                     "application": {"id": "11", "name": "BWA Aligner"}},
                ],
                "samples": [
                    {"key": "s-tumor", "name": "Tumor 1", "sample_id": "T-1",
                     "experiment_name": "My Run", "genome": "4", "appsession": "as-dragen",
                     "num_reads_raw": 2000, "date_created": "2020-03-05T10:00:00Z",
                     "properties": [{"name": "Input.Runs", "type": "run[]", "items": ["run-a"]}],
                     "files": [*_fastq("Tumor-1"), {"path": "Tumor-1_extra.fastq.gz", "size": 5,
                                                    "upload_status": "pending"}]},
                    {"key": "s-normal", "name": "Normal 1", "sample_id": "N-1",
                     "experiment_name": "My Run", "genome": "22", "num_reads_raw": 500,
                     "files": _fastq("Normal-1")},
                    {"key": "s-mouse", "name": "mouse_liver", "genome": "7",
                     "experiment_name": "Mouse study",
                     "files": [{"path": "liver.txt", "text": "x"}]},
                    {"name": "Trashed Tumor", "deleted": True,
                     "files": [{"path": "trashed.fastq.gz", "size": 10}]},
                ],
                "appresults": [
                    {"key": "ar-vc", "name": "Variant Calls", "description": "germline variants",
                     "appsession": "as-dragen",
                     "properties": [{"name": "Input.Samples", "type": "sample[]",
                                     "items": ["s-tumor"]}],
                     "files": [
                         {"path": "tumor.vcf", "text": "##fileformat=VCFv4.2\n"},
                         {"path": "tumor.vcf.gz", "size": 2000},
                         {"path": "tumor.vcf.gz.tbi", "size": 20},
                         {"path": "bam/tumor.bam", "size": 50000},
                         {"path": "bam/tumor.bam.bai", "size": 30},
                         {"path": "late.vcf", "text": "x", "upload_status": "pending"},
                     ]},
                    {"key": "ar-bwa", "name": "Alignment (BWA)", "appsession": "as-bwa",
                     "status": "Running", "files": [{"path": "normal.bam", "size": 3000}]},
                ],
            },
            {"key": "beta", "name": "Beta Project", "description": "skip me",
             "samples": [{"name": "Beta Sample", "files": [{"path": "beta.vcf", "text": "b"}]}],
             "appresults": [{"name": "Beta Result",
                             "files": [{"path": "beta.vcf.gz", "size": 10}]}]},
            {"name": "Old Tumor Project", "deleted": True,
             "samples": [{"name": "Old Tumor", "files": [{"path": "old.vcf", "text": "o"}]}]},
            {"key": "bob-p", "name": "Bob Tumor Project", "owner": "bob",
             "samples": [{"name": "Tumor 1", "files": [{"path": "bob.vcf", "text": "b"}]}],
             "appresults": [{"name": "Variant Calls",
                             "files": [{"path": "bob.vcf.gz", "size": 10}]}]},
        ],
        "runs": [
            {"key": "run-a", "name": RUN_A, "experiment_name": "My Run",
             "cycles": [151, 151, 8, 8]},
            {"key": "run-b", "name": "150101_NB500001_0020_AHXXXXX", "status": "Failed",
             "experiment_name": "Other Experiment", "cycles": [75, 75, 8, 0]},
            {"name": "140609_M00002_0001_000000000-BOBBB", "owner": "bob",
             "experiment_name": "My Run"},
        ],
    }  # fmt: skip


@pytest.fixture(scope="module")
def state() -> EmulatorState:
    return make_state(search_seed())


@pytest.fixture
async def client(state: EmulatorState) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(state) as c:
        yield c


async def find(client: httpx.AsyncClient, scope: str, query: str, **params: Any) -> Any:
    response = await client.get("/v1pre3/search", params={"scope": scope, "query": query, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ResponseStatus"] == {} and body["Notifications"] == []
    return body["Response"]


def entity(item: dict[str, Any]) -> dict[str, Any]:
    return item[TYPE_KEYS[item["Type"]]]  # type: ignore[no-any-return]


async def names(client: httpx.AsyncClient, scope: str, query: str, **params: Any) -> list[str]:
    """The names of every hit (genomes: DisplayName), sorted."""
    page = await find(client, scope, query, limit=1024, **params)
    assert page["TotalCount"] == page["DisplayedCount"] == len(page["Items"])
    return sorted(str(entity(i).get("Name") or entity(i)["DisplayName"]) for i in page["Items"])


# fmt: off
CASES: list[tuple[str, str, list[str]]] = [
    # projects
    ("projects", "name:alpha", ["Alpha Project"]),
    ("projects", 'name:"beta project"', ["Beta Project"]),
    ("projects", "(name:alpha OR name:beta) AND NOT description:skip", ["Alpha Project"]),
    ("projects", "name:*ha", ["Alpha Project"]),
    ("projects", "project.name:tumor", []),  # trashed and Bob's projects are not found
    ("projects", 'userownedby.name:"alice smith" AND description:germline', ["Alpha Project"]),
    ("projects", "property.content:lovelace", ["Alpha Project"]),
    # runs
    ("runs", "name:140609", [RUN_A]),
    ("runs", 'experimentname:"My Run"', [RUN_A]),
    ("runs", "(experimentname:other OR name:1406*) AND NOT status:failed", [RUN_A]),
    ("runs", "numcyclesread1:[100 TO *]", [RUN_A]),
    ("runs", "numcyclesindex2:0 AND run.flowcellbarcode:AHXXXXX",
     ["150101_NB500001_0020_AHXXXXX"]),
    ("runs", 'ExperimentName:"other experiment" OR Name:"does not exist"',
     ["150101_NB500001_0020_AHXXXXX"]),
    # samples
    ("samples", "name:tumor", ["Tumor 1"]),
    ("samples", 'name:"Tumor 1"', ["Tumor 1"]),
    ("samples", "(name:tumor OR name:normal) AND project.name:alpha", ["Normal 1", "Tumor 1"]),
    ("samples", "genome:hg19", ["Tumor 1"]),
    ("samples", 'genome.speciesname:"homo sapiens"', ["Normal 1", "Tumor 1"]),
    ("samples", f"run.name:{RUN_A}", ["Tumor 1"]),
    ("samples", "name:?ouse_*", ["mouse_liver"]),
    ("samples", "sampleid:T-1 OR experimentname:mouse", ["Tumor 1", "mouse_liver"]),
    ("samples", "numreadsraw:>=1000", ["Tumor 1"]),
    ("samples", "appsession.application.name:dragen", []),  # unknown nested field
    ("samples", "app.name:dragen", ["Tumor 1"]),
    # appresults
    ("appresults", "name:variant", ["Variant Calls"]),
    ("appresults", 'description:"germline variants"', ["Variant Calls"]),
    ("appresults", "(name:alignment OR name:beta) AND NOT appsession.status:running",
     ["Beta Result"]),
    ("appresults", 'sample.name:"tumor 1"', ["Variant Calls"]),
    ("appresults", "app.name:bwa OR status:running", ["Alignment (BWA)"]),
    # genomes (public)
    ("genomes", "build:hg19", ["Homo sapiens - UCSC (hg19)"]),
    ("genomes", 'speciesname:"homo sapiens"',
     ["Homo sapiens - UCSC (hg19)", "Homo sapiens - UCSC (hg38)"]),
    ("genomes", "(species:mus* OR build:hg38) AND NOT source:NCBI",
     ["Homo sapiens - UCSC (hg38)", "Mus musculus - UCSC (mm10)"]),
    # sample files (complete uploads of visible samples only)
    ("sample_files", "fileextension:.fastq.gz AND sample.name:normal",
     ["Normal-1_S1_L001_R1_001.fastq.gz", "Normal-1_S1_L001_R2_001.fastq.gz"]),
    ("sample_files", 'sample.name:"tumor 1"',
     ["Tumor-1_S1_L001_R1_001.fastq.gz", "Tumor-1_S1_L001_R2_001.fastq.gz"]),
    ("sample_files", "(name:*R1* OR fileextension:.txt) AND NOT project.name:beta",
     ["Normal-1_S1_L001_R1_001.fastq.gz", "Tumor-1_S1_L001_R1_001.fastq.gz", "liver.txt"]),
    ("sample_files", "fileextension:.vcf", ["beta.vcf"]),
    # appresult files
    ("appresult_files", "name:tumor", ["tumor.bam", "tumor.bam.bai", "tumor.vcf", "tumor.vcf.gz",
                                       "tumor.vcf.gz.tbi"]),
    ("appresult_files", 'appresult.name:"variant calls" AND path:"bam"',
     ["tumor.bam", "tumor.bam.bai"]),
    ("appresult_files", "fileextension:.bam OR fileextension:bai",
     ["normal.bam", "tumor.bam", "tumor.bam.bai"]),
    ("appresult_files", "size:[1000 TO 10000] OR size:{* TO 20}",
     ["beta.vcf.gz", "normal.bam", "tumor.vcf.gz"]),
    ("appresult_files", "size:<=21 AND size:>=20", ["tumor.vcf", "tumor.vcf.gz.tbi"]),
    ("appresult_files", "sample.name:tumor AND fileextension:.tbi", ["tumor.vcf.gz.tbi"]),
    # implicit OR, +/-, NOT alone, unknown fields, case-insensitive names
    ("samples", "tumor normal", ["Normal 1", "Tumor 1"]),
    ("samples", "+project.name:alpha -tumor", ["Normal 1", "mouse_liver"]),
    ("samples", "NOT project.name:alpha", ["Beta Sample"]),
    ("samples", "nosuchfield:tumor", []),
    ("samples", "NOT nosuchfield:tumor", ["Beta Sample", "Normal 1", "Tumor 1", "mouse_liver"]),
    ("samples", "PROJECT.NAME:ALPHA AND Name:TUMOR", ["Tumor 1"]),
    ("samples", "projects.id:* AND _exists_:genome AND NOT genome.build:mm10",
     ["Normal 1", "Tumor 1"]),
]
# fmt: on


@pytest.mark.parametrize(("scope", "query", "expected"), CASES)
async def test_queries(
    client: httpx.AsyncClient, scope: str, query: str, expected: list[str]
) -> None:
    assert await names(client, scope, query) == sorted(expected)


async def test_ids_and_project_nesting(client: httpx.AsyncClient, state: EmulatorState) -> None:
    alpha = entity_id(state, "projects", "Alpha Project")
    tumor = entity_id(state, "samples", "Tumor 1")
    assert await names(client, "projects", f"id:{alpha}") == ["Alpha Project"]
    assert await names(client, "projects", f"project.id:{alpha}") == ["Alpha Project"]
    ng = f"(project.id:{alpha} AND (fileextension:.vcf OR fileextension:.vcf.gz))"
    assert await names(client, "appresult_files", ng) == ["tumor.vcf", "tumor.vcf.gz"]
    assert await names(client, "appresult_files", f'sample.id:"{tumor}"') == [
        "tumor.bam", "tumor.bam.bai", "tumor.vcf", "tumor.vcf.gz", "tumor.vcf.gz.tbi"]  # fmt: skip
    assert len(await names(client, "sample_files", f"Project.Id:{alpha}")) == 5


async def test_result_shapes(client: httpx.AsyncClient, state: EmulatorState) -> None:
    scopes = ",".join(["projects", "runs", "samples", "appresults", "genomes", "sample_files",
                       "appresult_files"])  # fmt: skip
    query = "tumor OR alpha OR build:hg19 OR experimentname:my"
    page = await find(client, scopes, query, limit=100)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for item in page["Items"]:
        by_type.setdefault(item["Type"], []).append(item)
        assert isinstance(item["Score"], float) and item["Score"] > 0
    assert set(by_type) == set(TYPE_KEYS)
    expected_keys = {
        "project": {"Project"}, "run": {"Run"}, "genome": {"Genome"},
        "sample": {"Sample", "Project"}, "appresult": {"AppResult", "Project"},
        "samplefile": {"SampleFile", "Sample", "Project"},
        "appresultfile": {"AppResultFile", "AppResult", "Project"},
    }  # fmt: skip
    for kind, items in by_type.items():
        for item in items:
            assert set(item) == {"Type", "Score"} | expected_keys[kind], item
    vcf = next(i for i in by_type["appresultfile"] if i["AppResultFile"]["Name"] == "tumor.vcf")
    file_id = entity_id(state, "files", "tumor.vcf")
    assert vcf["AppResultFile"]["Href"] == f"v1pre3/files/{file_id}"
    assert vcf["AppResultFile"]["HrefContent"] == f"v1pre3/files/{file_id}/content"
    assert vcf["AppResultFile"]["Path"] == "tumor.vcf" and vcf["AppResultFile"]["Size"] == 21
    assert vcf["AppResult"]["Name"] == "Variant Calls"
    assert vcf["Project"]["Name"] == "Alpha Project"
    sample = by_type["sample"][0]
    assert sample["Sample"]["Href"] == f"v1pre3/samples/{sample['Sample']['Id']}"
    fastq = by_type["samplefile"][0]
    assert fastq["Sample"]["Name"] == "Tumor 1" and fastq["SampleFile"]["Name"].endswith(".gz")
    assert by_type["genome"][0]["Genome"]["Build"] == "hg19"
    assert by_type["run"][0]["Run"]["Name"] == RUN_A


async def test_order_and_sorts(client: httpx.AsyncClient) -> None:
    page = await find(client, "samples", "name:mouse OR genome.speciesname:homo OR name:tumor")
    assert (page["SortBy"], page["SortDir"], page["Limit"]) == ("Score", "Asc", 10)
    scored = [(entity(i)["Name"], i["Score"]) for i in page["Items"]]
    assert scored == [("Tumor 1", 2.0), ("Normal 1", 1.0), ("mouse_liver", 1.0)]
    worst = await find(client, "samples", "name:mouse OR genome.speciesname:homo OR name:tumor",
                       sortdir="desc")  # fmt: skip
    assert [entity(i)["Name"] for i in worst["Items"]] == ["mouse_liver", "Normal 1", "Tumor 1"]
    boosted = await find(client, "samples", "name:tumor OR name:normal^3")
    assert [entity(i)["Name"] for i in boosted["Items"]] == ["Normal 1", "Tumor 1"]
    by_name = await find(client, "sample_files", "*", sortby="Sample_Name", sortdir="Desc")
    assert by_name["SortBy"] == "Sample_Name"
    samples = [i["Sample"]["Name"] for i in by_name["Items"]]
    assert samples == sorted(samples, key=str.casefold, reverse=True)
    odd = await find(client, "projects", "*", sortby="Bogus")
    assert odd["SortBy"] == "Score"
    dated = await find(client, "samples", "*", sortby="DateCreated", sortdir="Desc")
    assert entity(dated["Items"][0])["Name"] == "Tumor 1"


async def test_bad_queries_are_500(client: httpx.AsyncClient) -> None:
    for query in ["(name:tumor", "name:tumor)", 'name:"tumor', "name:tumor AND", "AND", "OR b",
                  "a:b:c", "name:/[/", "name:", "  "]:  # fmt: skip
        response = await client.get("/v1pre3/search", params={"scope": "samples", "query": query})
        assert response.status_code == 500, query
        status = response.json()["ResponseStatus"]
        assert status["ErrorCode"] == "BASESPACE.SEARCH.QUERY_PARSE_ERROR" and status["Message"]
        assert "Response" not in response.json()


async def test_bad_scopes_are_400(client: httpx.AsyncClient) -> None:
    for params in ({"scope": "bogus", "query": "x"}, {"scope": "samples,files", "query": "x"},
                   {"query": "x"}, {"scope": "samples"}):  # fmt: skip
        response = await client.get("/v1pre3/search", params=params)
        assert response.status_code == 400, params
        message = response.json()["ResponseStatus"]["Message"]
        assert ("scope" in message and "appresult_files" in message) or "query" in message
    page = await find(client, "Samples, samples ,PROJECTS", "name:alpha OR name:tumor")
    assert page["TotalCount"] == 2


async def test_auth_and_other_users(state: EmulatorState) -> None:
    async with api_client(state, token=None) as anonymous:
        response = await anonymous.get("/v1pre3/search", params={"scope": "runs", "query": "*"})
        assert response.status_code == 401
    async with api_client(state, token="f" * 32) as unknown:
        response = await unknown.get("/v1pre3/search", params={"scope": "runs", "query": "*"})
        assert response.status_code == 401
    async with api_client(state, token=BOB) as bob:
        assert await names(bob, "samples", "tumor") == ["Tumor 1"]
        assert await names(bob, "projects", "*") == ["Bob Tumor Project"]
        assert await names(bob, "appresult_files", "*") == ["bob.vcf.gz"]
        assert await names(bob, "runs", "experimentname:my") == [
            "140609_M00002_0001_000000000-BOBBB"]  # fmt: skip
    async with api_client(state) as alice:
        assert "bob.vcf" not in await names(alice, "sample_files", "*")
        assert await names(alice, "runs", "name:140609") == [RUN_A]
        hidden = await names(alice, "sample_files", "name:trashed* OR name:old* OR name:*extra*")
        assert hidden == []  # trashed containers and pending uploads are not searchable
        assert "late.vcf" not in await names(alice, "appresult_files", "*")


async def test_paging_over_bulk_seed() -> None:
    n = 1100
    async with api_client(make_state(make_bulk_seed(n)), token=BULK_TOKEN) as client:
        first = await find(client, "samples", "name:sample*", limit=5000)
        assert (first["Limit"], first["TotalCount"], first["DisplayedCount"]) == (1024, n, 1024)
        second = await find(client, "samples", "name:sample*", limit=1024, offset=1024)
        assert second["DisplayedCount"] == n - 1024 and second["Offset"] == 1024
        ids = [entity(i)["Id"] for i in first["Items"] + second["Items"]]
        assert len(set(ids)) == n
        counted = await find(client, "appresult_files", "fileextension:.txt", limit=0)
        assert counted["TotalCount"] == n and counted["Items"] == []
        default = await find(client, "projects", "name:project")
        assert default["DisplayedCount"] == 10 and default["TotalCount"] == n
        seen: list[str] = []
        offset = 0
        while True:
            page = await find(client, "projects,appresult_files", "name:*0001*", offset=offset,
                              limit=7, sortby="DateCreated")  # fmt: skip
            seen.extend(f"{i['Type']}/{entity(i)['Id']}" for i in page["Items"])
            offset += page["DisplayedCount"]
            if offset >= page["TotalCount"]:
                break
        assert len(seen) == len(set(seen)) == page["TotalCount"] > 7


# ---------------------------------------------------------------------- the query language
class Doc:
    def __init__(self, **fields: tuple[str, list[Any]]) -> None:
        self.fields = fields

    def lookup(self, name: str) -> list[tuple[Any, list[Any]]]:
        return [self.fields[name]] if name in self.fields else []


def matches(query: str, **fields: tuple[str, list[Any]]) -> bool:
    return parse_query(query).score(Doc(**fields)) is not None


def test_query_language_units() -> None:
    from bsmount.emulator.state.model import parse_date

    assert tokenize("180718_M04074 A.b-Ü") == ["180718", "m04074", "a", "b", "ü"]
    assert extensions("x.vcf.gz") == [".gz", ".vcf.gz"] and extensions("README") == []
    name = ("text", ["Tumor-1_S1_L001_R1_001.fastq.gz"])
    assert matches("tumor", name=name) and matches("s1_l001", name=name)
    assert matches("name:tumo?-1*", name=name) and not matches("name:umor*", name=name)
    assert matches("name:tumor\\-1_S1_L001_R1_001.fastq.gz", name=name)
    assert not matches('name:"tumo*"', name=name)  # no wildcards inside phrases
    assert matches("name:tumr~1", name=name) and not matches("name:tmr~1", name=name)
    assert matches('name:"tumor r1"~3', name=name) and not matches('name:"tumor r1"', name=name)
    assert matches("name:/tum.r/", name=name) and not matches("name:/tum/", name=name)
    star = ("text", ["a*b"])
    assert matches("name:a\\*b", name=star) and not matches("name:a\\*b", name=("text", ["axb"]))
    when = ("date", [parse_date("2018-07-19T23:50:10Z")])
    assert matches("datecreated:2018-07", datecreated=when)
    assert not matches("datecreated:2018-0", datecreated=when)
    assert matches("datecreated:[2018-07-01 TO 2018-08-01}", datecreated=when)
    assert matches("datecreated:<now", datecreated=when)
    assert not matches("datecreated:>2019-01-01", datecreated=when)
    size = ("number", [1000])
    assert matches("size:1000 AND size:>=1000 AND size:[1 TO *]", size=size)
    assert not matches("size:>1000", size=size) and not matches("size:[abc TO *]", size=size)
    flag = ("bool", [True])
    assert matches("ispairedend:true", ispairedend=flag)
    assert not matches("ispairedend:false", ispairedend=flag)
    assert matches("*") and matches("-name:x") and not matches("name:*")
    # Lucene semantics: "a OR NOT b" is "a -b"
    assert matches("a OR NOT b", name=("text", ["a"]))
    assert not matches("a OR NOT b", name=("text", ["a b"]))
    for bad in ["(a", "a)", '"a', "a AND", "x:y:z", "name:/(/", ""]:
        with pytest.raises(QueryError):
            parse_query(bad)
