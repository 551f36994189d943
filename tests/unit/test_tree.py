"""The tree over a fake client: layout, file trees, lazy run folders, links, caching."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bsmount.api.models import (
    AppResult,
    AppSession,
    Dataset,
    FileInfo,
    Project,
    Run,
    RunDirectory,
    Sample,
)
from bsmount.controls.registry import PROPERTIES, REFRESH
from bsmount.tree.nodes import Node, NodeType
from bsmount.tree.tree import Tree


def _file(fid: str, path: str, size: int = 10, status: str = "complete") -> FileInfo:
    return FileInfo.from_json(
        {
            "Id": fid,
            "Name": path.rsplit("/", 1)[-1],
            "Path": path,
            "Size": size,
            "UploadStatus": status,
            "DateCreated": "2020-01-01T00:00:00.0000000Z",
            "ETag": "e" * 32,
        }
    )


class FakeClient:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.projects = [
            Project.from_json({"Id": "1", "Name": "P/1", "Href": "v1pre3/projects/1"}),
            Project.from_json({"Id": "2", "Name": "..", "Href": "v1pre3/projects/2"}),
        ]

    def absolute_url(self, href: str) -> str:
        return "http://api/" + href

    def curl_command(self, href: str) -> str:
        return f"curl -H 'x-access-token: $BASESPACE_ACCESS_TOKEN' http://api/{href}"

    async def get_json(self, path_or_href: str, params: Any = None) -> Any:
        self.calls["get_json"] += 1
        return {"Response": {"Id": path_or_href}}

    async def list_projects(self) -> list[Project]:
        self.calls["projects"] += 1
        return self.projects

    async def list_samples(self, project_id: str) -> list[Sample]:
        self.calls["samples"] += 1
        return [
            Sample.from_json({"Id": "11", "Name": "S", "DateCreated": "2021-01-01T00:00:00Z"}),
            Sample.from_json({"Id": "10", "Name": "S", "DateCreated": "2020-01-01T00:00:00Z"}),
        ]

    async def list_appresults(self, project_id: str) -> list[AppResult]:
        return [AppResult.from_json({"Id": "21", "Name": "A", "AppSession": {"Id": "31"}})]

    async def list_appsessions(self, project_id: str | None = None) -> list[AppSession]:
        return [AppSession.from_json({"Id": "31", "Name": "Run app"})]

    async def list_runs(self) -> list[Run]:
        return [Run.from_json({"Id": "41", "Name": "180718_M_1", "ExperimentName": "Exp 1"})]

    async def list_biosamples(self, project_id: str | None = None) -> list[Any]:
        return []

    async def list_datasets(self, **filters: str | None) -> list[Dataset]:
        return [Dataset.from_json({"Id": "ds." + "a" * 32, "Name": "D"})]

    async def list_sample_files(self, sample_id: str) -> list[FileInfo]:
        self.calls["sample_files"] += 1
        return [
            _file("f1", "a.fastq.gz"),
            _file("f2", "sub/b.txt"),
            _file("f3", "sub/deep/c.txt"),
            _file("f4", "sub", 3),
            _file("f5", "pending.bin", status="pending"),
        ]

    async def list_appresult_files(self, appresult_id: str) -> list[FileInfo]:
        return []

    async def list_dataset_files(self, dataset_id: str) -> list[FileInfo]:
        return []

    async def list_run_directory(self, run_id: str, directory: str = "/") -> RunDirectory:
        self.calls[f"run:{directory}"] += 1
        if directory == "/":
            return RunDirectory(
                files=[_file("r1", "RunInfo.xml")], subdirectories=["InterOp", "Data"]
            )
        if directory == "/Data":
            return RunDirectory(files=[], subdirectories=["Intensities"])
        return RunDirectory(files=[_file("r2", directory.strip("/") + "/x.bin")], subdirectories=[])


def _visible(listing: Any) -> set[str]:
    return {name for name in listing.entries if not name.startswith(".")}


async def _walk(tree: Tree, node: Node, *names: str) -> Node:
    for name in names:
        child = await tree.lookup(node, name)
        assert child is not None, name
        node = child
    return node


@pytest.mark.expect_log_warnings(
    r"bsmount\.tree\.oddities: .* in Projects: 2 name.* changed .*\('P/1' -> 'P／1'"
)
async def test_root_and_project_names() -> None:
    tree = Tree(FakeClient())
    projects = await _walk(tree, tree.root, "Projects")
    names = set((await tree.listing(projects)).entries)
    assert names == {"P\uff0f1", "\uff0e\uff0e", ".id.1", ".id.2", ".refresh", ".error"} | {
        ".list.csv",  # bs list projects -f csv, -f json, bs project headers (tree.list_files)
        ".list.json",
        ".headers",
    }
    link = (await tree.listing(projects)).entries[".id.1"]
    assert link.type is NodeType.SYMLINK and link.target == "P\uff0f1"


@pytest.mark.expect_log_warnings(
    r"bsmount\.tree\.oddities: .* in Projects/1/Samples: 1 name.* changed .* \('S' -> 'S \(2\)'\)",
)
async def test_duplicates_and_meta_files() -> None:
    tree = Tree(FakeClient())
    samples = await _walk(tree, tree.root, "Projects", "P\uff0f1", "Samples")
    entries = (await tree.listing(samples)).entries
    assert entries[".id.10"].target == "S" and entries[".id.11"].target == "S (2)"
    sample = entries["S"]
    meta = (await tree.listing(sample)).entries
    assert meta[".id"].content == b"10\n"
    assert meta[".type"].content == b"samples\n"
    assert b"$BASESPACE_ACCESS_TOKEN" in (meta[".curl"].content or b"")
    assert meta[".json"].loader is not None
    assert meta[".properties"].control is not None
    assert meta[".properties"].control.file is PROPERTIES and meta[".properties"].mode == 0o644
    assert meta[".trash"].mode == 0o200 and meta[".status"].mode == 0o444
    assert ".kill" not in meta


@pytest.mark.expect_log_warnings(
    r"bsmount\.tree\.oddities: .* in Projects/1/Samples/10/Files: 1 name.* changed .*'sub \(2\)'",
)
async def test_file_tree_from_paths() -> None:
    client = FakeClient()
    tree = Tree(client)
    files = await _walk(tree, tree.root, "Projects", "P\uff0f1", "Samples", "S", "Files")
    top = (await tree.listing(files)).entries
    assert _visible(await tree.listing(files)) == {"a.fastq.gz", "sub", "sub (2)"}
    assert top[".refresh"].control is not None and top[".refresh"].control.file is REFRESH
    assert top["sub"].is_dir and top["sub (2)"].size == 3
    deep = await _walk(tree, files, "sub", "deep")
    assert _visible(await tree.listing(deep)) == {"c.txt"}
    assert client.calls["sample_files"] == 1  # one request serves the whole tree


async def test_run_folder_is_listed_one_directory_at_a_time() -> None:
    client = FakeClient()
    tree = Tree(client)
    files = await _walk(tree, tree.root, "Runs", "Exp 1", "Files")
    assert _visible(await tree.listing(files)) == {"RunInfo.xml", "InterOp", "Data"}
    assert client.calls["run:/"] == 1 and client.calls["run:/Data"] == 0
    intensities = await _walk(tree, files, "Data", "Intensities")
    assert _visible(await tree.listing(intensities)) == {"x.bin"}
    assert client.calls["run:/Data/Intensities"] == 1


async def test_appsession_links_point_at_appresults() -> None:
    tree = Tree(FakeClient())
    links = await _walk(
        tree, tree.root, "Projects", "P\uff0f1", "AppSessions", "Run app", "AppResults"
    )
    entries = (await tree.listing(links)).entries
    assert entries["A"].target == "../../../AppResults/A"


async def test_cache_and_invalidate() -> None:
    client = FakeClient()
    tree = Tree(client, ttl=60)
    projects = await _walk(tree, tree.root, "Projects")
    await tree.listing(projects)
    await tree.listing(projects)
    assert client.calls["projects"] == 1
    assert await tree.lookup(projects, "nope") is None
    tree.invalidate(projects.key)
    await tree.listing(projects)
    assert client.calls["projects"] == 2


async def test_zero_ttl_always_lists() -> None:
    client = FakeClient()
    tree = Tree(client, ttl=0)
    projects = await _walk(tree, tree.root, "Projects")
    for _ in range(3):
        await tree.listing(projects)
    assert client.calls["projects"] == 3
