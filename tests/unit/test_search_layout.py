"""Search/ and .ResourceById/ over a fake client: hits, query checks, symlink places, errors."""

from __future__ import annotations

import errno
import json
import random
from collections import Counter
from typing import Any

import httpx
import pyfuse3
import pytest
import trio

from bsmount.api.client import BaseSpaceClient
from bsmount.api.models import (
    AppResult,
    Dataset,
    FileInfo,
    Genome,
    Project,
    Run,
    RunDirectory,
    Sample,
    parse_entity,
)
from bsmount.api.retry import RetryPolicy
from bsmount.api.search import (
    SCOPES,
    SearchError,
    check_query,
    check_scope,
    parse_hit,
    search,
)
from bsmount.controls.registry import REFRESH
from bsmount.controls.service import Controls
from bsmount.errors import BadRequest, NotFound, ServerError
from bsmount.fuse.operations import Operations
from bsmount.tree.kinds import APPRESULT, RUN
from bsmount.tree.nodes import LookupRefused, Node, NodeType
from bsmount.tree.search_layout import query_of
from bsmount.tree.tree import Tree

DATE = "2020-01-01T00:00:00.0000000Z"
PROJECTS = [
    {"Id": "1", "Name": "P", "DateCreated": "2019-01-01T00:00:00Z"},
    {"Id": "2", "Name": "P", "DateCreated": "2020-01-01T00:00:00Z"},  # shown as "P (2)"
]
SAMPLES = {"1": [{"Id": "11", "Name": "S"}], "2": [{"Id": "21", "Name": "S/x"}]}
APPRESULTS = {"1": [{"Id": "31", "Name": "A", "AppSession": {"Id": "61"}}], "2": []}
RUNS = [{"Id": "41", "Name": "180718_M_1", "ExperimentName": "Exp 1"}]


def _file(fid: str, path: str) -> dict[str, Any]:
    return {
        "Id": fid,
        "Name": path.rsplit("/", 1)[-1],
        "Path": path,
        "Size": 10,
        "DateCreated": DATE,
        "ETag": "e" * 32,
    }


FILES = {
    "31": [_file("f1", "x.vcf.gz"), _file("f2", "sub/x.vcf.gz"), _file("f3", "sub")],
    "11": [_file("f4", "r1.fastq.gz")],
}


def _hit(type_: str, key: str, entity: dict[str, Any], **parents: dict[str, Any]) -> Any:
    return {"Type": type_, key: entity, **parents, "Score": 1.0}


HITS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("projects", "name:P"): [_hit("project", "Project", p) for p in PROJECTS],
    ("runs", "name:180718"): [_hit("run", "Run", RUNS[0])],
    ("samples", "name:S"): [
        _hit("sample", "Sample", SAMPLES["1"][0], Project=PROJECTS[0]),
        _hit("sample", "Sample", SAMPLES["2"][0], Project=PROJECTS[1]),
        _hit("sample", "Sample", {"Id": "99", "Name": "S"}),  # no project: no place
    ],
    ("appresult_files", "fileextension:.vcf.gz"): [
        _hit(
            "appresultfile",
            "AppResultFile",
            _file(f, p),
            AppResult=APPRESULTS["1"][0],
            Project=PROJECTS[0],
        )
        for f, p in (("f1", "x.vcf.gz"), ("f2", "sub/x.vcf.gz"), ("f3", "sub"))
    ],
    ("sample_files", "name:r1*"): [
        _hit(
            "samplefile",
            "SampleFile",
            _file("f4", "r1.fastq.gz"),
            Sample=SAMPLES["1"][0],
            Project=PROJECTS[0],
        )
    ],
    ("genomes", "build:hg19"): [
        _hit(
            "genome",
            "Genome",
            {"Id": "4", "DisplayName": "Homo sapiens (hg19)", "Href": "v1pre3/genomes/4"},
        )
    ],
    ("samples", "name:a/b"): [],
}


class FakeClient:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.searches: list[dict[str, str]] = []

    def absolute_url(self, href: str) -> str:
        return "http://api/" + href

    def curl_command(self, href: str) -> str:
        return f"curl http://api/{href}"

    async def get_json(self, path_or_href: str, params: Any = None) -> Any:
        return {"Response": {"Href": path_or_href}}

    async def list_items(self, path: str, params: Any = None) -> list[dict[str, Any]]:
        self.calls[path] += 1
        if path == "v1pre3/appsessions/61/appresults":
            return APPRESULTS["1"]
        assert path == "v1pre3/search"
        self.searches.append(dict(params))
        if params["query"] == "a:b:c":
            raise ServerError(500, "A field inside a field", error_code="QUERY_PARSE_ERROR")
        if params["query"] == "flaky":
            raise ServerError(503, "busy")
        if params["scope"] == "bogus":
            raise BadRequest(400, "Unknown search scope")
        return HITS.get((params["scope"], params["query"]), [])

    async def get_entity(self, kind: str, entity_id: str) -> Any:
        self.calls[f"get:{kind}"] += 1
        found = {
            ("samples", "11"): SAMPLES["1"][0],
            ("runs", "41"): RUNS[0],
            ("files", "f1"): _file("f1", "x.vcf.gz"),
            ("files", "f9"): {**_file("f9", "p.bin"), "UploadStatus": "pending"},
            ("genomes", "4"): {"Id": "4", "DisplayName": "hg19"},
            ("appsessions", "61"): {"Id": "61", "Name": "Run app"},
            ("projects", "1"): PROJECTS[0],
            ("appresults", "31"): APPRESULTS["1"][0],
            ("datasets", "ds.1"): {"Id": "ds.1", "Name": "D"},
        }.get((kind, entity_id))
        if found is None:
            raise NotFound(404, f"no {kind} {entity_id}")
        return parse_entity(kind, found)

    async def list_projects(self) -> list[Project]:
        self.calls["projects"] += 1
        return [Project.from_json(p) for p in PROJECTS]

    async def list_samples(self, project_id: str) -> list[Sample]:
        return [Sample.from_json(s) for s in SAMPLES[project_id]]

    async def list_appresults(self, project_id: str) -> list[AppResult]:
        self.calls["appresults"] += 1
        return [AppResult.from_json(a) for a in APPRESULTS[project_id]]

    async def list_appsessions(self, project_id: str | None = None) -> list[Any]:
        return []

    async def list_runs(self) -> list[Run]:
        return [Run.from_json(r) for r in RUNS]

    async def list_biosamples(self, project_id: str | None = None) -> list[Any]:
        return []

    async def list_datasets(self, **filters: str | None) -> list[Dataset]:
        if filters.get("appsession_id") == "61":
            return [Dataset.from_json({"Id": "ds.1", "Name": "D"})]
        return []

    async def list_sample_files(self, sample_id: str) -> list[FileInfo]:
        return [FileInfo.from_json(f) for f in FILES.get(sample_id, [])]

    async def list_appresult_files(self, appresult_id: str) -> list[FileInfo]:
        self.calls["appresult_files"] += 1
        return [FileInfo.from_json(f) for f in FILES.get(appresult_id, [])]

    async def list_dataset_files(self, dataset_id: str) -> list[FileInfo]:
        return []

    async def list_run_directory(self, run_id: str, directory: str = "/") -> RunDirectory:
        return RunDirectory(files=[], subdirectories=[])


async def _walk(tree: Tree, *names: str) -> Node:
    node = tree.root
    for name in names:
        child = await tree.lookup(node, name)
        assert child is not None, name
        node = child
    return node


async def _resolve(tree: Tree, query_dir: tuple[str, ...], target: str) -> Node:
    """Follow a relative symlink target from a query directory, as the kernel would."""
    parts = list(query_dir)
    for part in target.split("/"):
        if part == "..":
            parts.pop()
        else:
            parts.append(part)
    return await _walk(tree, *parts)


def _visible(entries: dict[str, Node]) -> dict[str, Node]:
    return {name: node for name, node in entries.items() if not name.startswith(".")}


# --- hits and query checks -----------------------------------------------------------------------


def test_parse_hit_types_and_parents() -> None:
    hit = parse_hit(HITS[("appresult_files", "fileextension:.vcf.gz")][1])
    assert hit.type == "appresultfile" and hit.kind == "files"
    assert isinstance(hit.entity, FileInfo) and hit.entity.path == "sub/x.vcf.gz"
    assert hit.appresult is not None and hit.appresult.id == "31"
    assert hit.project is not None and hit.project.id == "1" and hit.sample is None
    assert hit.score == 1.0
    sample = parse_hit(HITS[("samples", "name:S")][0])
    assert sample.kind == "samples" and isinstance(sample.entity, Sample)
    assert sample.sample is None  # the entity itself is not its own parent
    genome = parse_hit(HITS[("genomes", "build:hg19")][0])
    assert isinstance(genome.entity, Genome) and genome.entity.name == "Homo sapiens (hg19)"


def test_parse_hit_unknown_and_odd_items_never_crash() -> None:
    by_key = parse_hit({"Type": "sample_file", "SampleFile": _file("f4", "a.txt")})
    assert by_key.kind == "files" and by_key.entity is not None
    guessed = parse_hit({"Type": "somethingnew", "SampleFile": _file("f5", "b.txt")})
    assert guessed.kind == "files" and guessed.entity is not None and guessed.entity.id == "f5"
    unknown = parse_hit({"Type": "widget", "Widget": {"Id": "7", "Name": "w"}, "Score": "x"})
    assert unknown.kind == "" and unknown.entity is not None and unknown.entity.id == "7"
    assert unknown.type == "widget" and unknown.raw["Widget"]["Name"] == "w"
    assert unknown.score is None
    for odd in (
        {},
        {"Type": 5},
        {"Type": "run", "Run": "oops"},
        {"Type": "project", "Project": {}},
    ):
        hit = parse_hit(odd)
        assert hit.entity is None and hit.raw is odd


def test_query_and_scope_checks() -> None:
    for good in (
        "name:140609",
        'name:"tumor 07"',
        "(project.id:2 AND (fileextension:.vcf OR fileextension:.vcf.gz))",
        'name:"a (b"',  # parentheses inside quotes do not count
        r"name:a\(b",  # nor escaped ones
        r'name:"say \"hi\""',
    ):
        assert check_query(good) is None, good
    assert "empty" in (check_query("  ") or "")
    assert "never closed" in (check_query("(name:x") or "")
    assert "closes nothing" in (check_query("name:x)") or "")
    assert "quotes" in (check_query('name:"x') or "")
    assert check_scope("samples") is None and check_scope("samples,appresults") is None
    assert "unknown scope 'bogus'" in (check_scope("bogus") or "")
    assert query_of("name:a\uff0fb") == "name:a/b"


async def test_search_errors() -> None:
    client = FakeClient()
    hits = await search(client, "samples", "name:S")
    assert [h.entity.id for h in hits if h.entity] == ["11", "21", "99"]
    with pytest.raises(SearchError) as info:
        await search(client, "samples", "a:b:c")
    assert (
        "A field inside a field" in info.value.reason and "QUERY_PARSE_ERROR" in info.value.reason
    )
    with pytest.raises(SearchError):
        await search(client, "samples", "(unbalanced")
    with pytest.raises(SearchError):
        await search(client, "nope", "x")
    assert len(client.searches) == 2  # the refused ones never reached the server
    with pytest.raises(ServerError):  # a real outage stays an outage (EIO), not a bad query
        await search(client, "samples", "flaky")


async def test_search_pages_through_the_real_client() -> None:
    items = [_hit("run", "Run", {"Id": str(i), "Name": f"r{i}"}) for i in range(2500)]
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        seen.append(params)
        offset, limit = int(params["Offset"]), min(int(params["Limit"]), 1024)
        page = {
            "Items": items[offset : offset + limit],
            "TotalCount": len(items),
            "Offset": offset,
            "Limit": limit,
            "DisplayedCount": len(items[offset:][:limit]),
        }
        return httpx.Response(200, json={"Response": page, "ResponseStatus": {}})

    policy = RetryPolicy(base=0.01, cap=0.05, rng=random.Random(0))
    async with BaseSpaceClient(
        "http://api.test", "tok", transport=httpx.MockTransport(handler), retry_policy=policy
    ) as client:
        hits = await search(client, "runs", "name:r*")
    assert [h.entity.id for h in hits if h.entity] == [str(i) for i in range(2500)]
    assert len(seen) == 3 and {p["Limit"] for p in seen} <= {"1024", str(2500 - 2048)}
    assert all(p["scope"] == "runs" and p["query"] == "name:r*" for p in seen)


# --- Search/ -------------------------------------------------------------------------------------


async def test_search_root_and_scopes() -> None:
    tree = Tree(FakeClient())
    root = (await tree.listing(tree.root)).entries
    assert root["Search"].is_dir and root[".ResourceById"].is_dir
    search_dir = await _walk(tree, "Search")
    assert set(_visible((await tree.listing(search_dir)).entries)) == set(SCOPES)
    scope = await _walk(tree, "Search", "samples")
    assert set((await tree.listing(scope)).entries) == {".refresh", ".error"}
    assert (await _walk(tree, "Search", "samples,appresults")).is_dir


@pytest.mark.expect_log_warnings(
    r"bsmount\.tree\.oddities: .* in Projects: 1 name.* changed .* \('P' -> 'P \(2\)'\)",
    r"bsmount\.tree\.oddities: .* in Projects/1/AppResults/31/Files: 1 name.*'sub \(2\)'",
)
async def test_symlinks_point_at_the_tree_names() -> None:
    client = FakeClient()
    tree = Tree(client)
    query = await _walk(tree, "Search", "appresult_files", "fileextension:.vcf.gz")
    entries = (await tree.listing(query)).entries
    links = _visible(entries)
    assert list(links) == ["x.vcf.gz", "x.vcf.gz (2)", "sub"]
    base = "../../../Projects/P/AppResults/A/Files/"
    assert links["x.vcf.gz"].target == base + "x.vcf.gz"
    assert links["x.vcf.gz (2)"].target == base + "sub/x.vcf.gz"
    assert links["sub"].target == base + "sub (2)"  # the file that collides with a directory
    for link in links.values():
        assert link.type is NodeType.SYMLINK
        target = await _resolve(tree, query.key, link.target or "")
        assert target.type is NodeType.FILE
    assert entries[".id.f2"].target == "x.vcf.gz (2)"
    loader = entries[".json"].loader
    assert loader is not None
    assert json.loads(await loader()) == HITS[("appresult_files", "fileextension:.vcf.gz")]
    assert entries[".refresh"].control is not None
    assert entries[".refresh"].control.file is REFRESH


@pytest.mark.expect_log_warnings(
    r"bsmount\.tree\.oddities: .* in Projects/2/Samples: 1 name.* changed .* \('S/x' -> 'S／x'\)",
)
async def test_duplicates_unplaced_and_genomes() -> None:
    tree = Tree(FakeClient())
    projects = _visible(
        (await tree.listing(await _walk(tree, "Search", "projects", "name:P"))).entries
    )
    assert {n: link.target for n, link in projects.items()} == {
        "P": "../../../Projects/P",
        "P (2)": "../../../Projects/P (2)",
    }
    query = await _walk(tree, "Search", "samples", "name:S")
    samples = _visible((await tree.listing(query)).entries)
    assert samples["S"].target == "../../../Projects/P/Samples/S"
    assert samples["S\uff0fx"].target == "../../../Projects/P (2)/Samples/S\uff0fx"
    assert samples["S (2)"].target == "../../../.ResourceById/samples/99"
    node = await _resolve(tree, query.key, samples["S"].target or "")
    assert (await tree.listing(node)).entries[".id"].content == b"11\n"
    runs = _visible(
        (await tree.listing(await _walk(tree, "Search", "runs", "name:180718"))).entries
    )
    assert runs["Exp 1"].target == "../../../Runs/Exp 1"
    files = await _walk(tree, "Search", "sample_files", "name:r1*")
    link = (await tree.listing(files)).entries["r1.fastq.gz"]
    assert link.target == "../../../Projects/P/Samples/S/Files/r1.fastq.gz"
    genome = await _walk(tree, "Search", "genomes", "build:hg19", "Homo sapiens (hg19)")
    meta = (await tree.listing(genome)).entries
    assert genome.is_dir and meta[".id"].content == b"4\n" and meta[".type"].content == b"genomes\n"
    assert meta[".name"].content == b"Homo sapiens (hg19)\n" and ".json" in meta


async def test_slash_escape_empty_results_and_caching() -> None:
    client = FakeClient()
    tree = Tree(client)
    query = await _walk(tree, "Search", "samples", "name:a\uff0fb")
    assert client.searches[-1] == {"scope": "samples", "query": "name:a/b"}
    assert set((await tree.listing(query)).entries) == {".json", ".total", ".refresh", ".error"}
    before = len(client.searches)
    await _walk(tree, "Search", "samples", "name:a\uff0fb")
    await tree.listing(query)
    assert len(client.searches) == before  # cached for the TTL
    tree.invalidate(query.key)  # what .refresh in the query directory does
    await tree.listing(query)
    assert len(client.searches) == before + 1
    assert await tree.lookup(await _walk(tree, "Search", "samples"), ".git") is None
    assert len(client.searches) == before + 1  # dot-names are never queries


async def test_bad_queries_and_scopes_are_refused_with_a_reason() -> None:
    client = FakeClient()
    tree = Tree(client)
    scope = await _walk(tree, "Search", "samples")
    with pytest.raises(LookupRefused) as info:
        await tree.lookup(scope, "a:b:c")
    assert info.value.directory == ("Search", "samples")
    assert "A field inside a field" in info.value.reason
    calls = len(client.searches)
    assert await tree.lookup(scope, "a:b:c") is None  # remembered: not re-run at once
    assert len(client.searches) == calls
    with pytest.raises(LookupRefused) as info:
        await tree.lookup(scope, "(name:x")
    assert "parentheses" in info.value.reason and len(client.searches) == calls
    with pytest.raises(LookupRefused) as info:
        await tree.lookup(await _walk(tree, "Search"), "bogus")
    assert info.value.directory == ("Search",) and "unknown scope" in info.value.reason
    with pytest.raises(ServerError):
        await tree.lookup(scope, "flaky")


@pytest.mark.expect_log_warnings(
    r"search '\(name:x' refused in 'Search/samples': unbalanced parentheses",
    r"lookup\(\d+, b'\(name:x', None\) -> ENOENT: unbalanced parentheses",
)
async def test_adapter_answers_enoent_and_fills_error() -> None:
    tree = Tree(FakeClient())
    async with trio.open_nursery() as nursery:
        controls = Controls(tree.client, tree, nursery)
        ops = Operations(tree, engine=None, controls=controls)  # type: ignore[arg-type]
        ctx: Any = None
        search_attrs = await ops.lookup(pyfuse3.ROOT_INODE, b"Search", ctx)
        scope_attrs = await ops.lookup(search_attrs.st_ino, b"samples", ctx)
        with pytest.raises(pyfuse3.FUSEError) as info:
            await ops.lookup(scope_attrs.st_ino, b"(name:x", ctx)
        assert info.value.errno == errno.ENOENT
        text = controls.error_text(("Search", "samples")).decode()
        assert "ENOENT" in text and "unbalanced parentheses" in text and "(name:x" in text
        good = await ops.lookup(scope_attrs.st_ino, b"name:S", ctx)
        assert good.st_mode & 0o040000
        nursery.cancel_scope.cancel()


# --- .ResourceById/ ------------------------------------------------------------------------------


@pytest.mark.expect_log_warnings(
    r"bsmount\.tree\.oddities: .* in \.ResourceById/projects/1/AppResults/31/Files: .*'sub \(2\)'",
)
async def test_resource_by_id() -> None:
    client = FakeClient()
    tree = Tree(client)
    types = _visible((await tree.listing(await _walk(tree, ".ResourceById"))).entries)
    assert {"projects", "runs", "samples", "appresults", "appsessions", "datasets", "files"} <= set(
        types
    )
    sample = await _walk(tree, ".ResourceById", "samples", "11")
    entries = (await tree.listing(sample)).entries
    assert entries["Files"].is_dir and entries[".id"].content == b"11\n" and ".trash" in entries
    files = await _walk(tree, ".ResourceById", "samples", "11", "Files")
    assert set(_visible((await tree.listing(files)).entries)) == {"r1.fastq.gz"}
    await _walk(tree, ".ResourceById", "samples", "11")
    assert client.calls["get:samples"] == 1  # one GET, then cached
    run = await _walk(tree, ".ResourceById", "runs", "41")
    assert run.spec is not None and run.spec.kind is RUN
    project = await _walk(tree, ".ResourceById", "projects", "1", "AppResults", "A", "Files")
    assert set(_visible((await tree.listing(project)).entries)) == {"x.vcf.gz", "sub", "sub (2)"}
    file_node = await _walk(tree, ".ResourceById", "files", "f1")
    assert file_node.type is NodeType.FILE and file_node.version is not None
    assert file_node.version.file_id == "f1" and file_node.size == 10
    genome = await _walk(tree, ".ResourceById", "genomes", "4")
    assert (await tree.listing(genome)).entries[".name"].content == b"hg19\n"
    dataset = await _walk(tree, ".ResourceById", "datasets", "ds.1")
    assert "Files" in (await tree.listing(dataset)).entries


async def test_resource_by_id_appsession_links_and_refusals() -> None:
    tree = Tree(FakeClient())
    appsession = await _walk(tree, ".ResourceById", "appsessions", "61")
    entries = (await tree.listing(appsession)).entries
    assert {"AppResults", "Datasets", ".kill", ".status"} <= set(entries)
    outputs = (
        await tree.listing(await _walk(tree, ".ResourceById", "appsessions", "61", "AppResults"))
    ).entries
    assert outputs["A"].target == "../../../appresults/31"
    datasets = (await tree.listing(entries["Datasets"])).entries
    assert datasets["D"].target == "../../../datasets/ds.1"
    node = await _resolve(tree, (*appsession.key, "AppResults"), outputs["A"].target or "")
    assert node.spec is not None and node.spec.kind is APPRESULT
    samples = await _walk(tree, ".ResourceById", "samples")
    with pytest.raises(LookupRefused) as info:
        await tree.lookup(samples, "12345")
    assert info.value.directory == (".ResourceById", "samples") and "12345" in info.value.reason
    with pytest.raises(LookupRefused) as info:
        await tree.lookup(await _walk(tree, ".ResourceById", "files"), "f9")
    assert "pending" in info.value.reason
    assert await tree.lookup(await _walk(tree, ".ResourceById"), "widgets") is None
