"""Search/ and .ResourceById/ through a real mount, checked against the emulator's own answers."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.mount.apiwalk import complete, direct_md5, items
from tests.mount.mounting import DEMO_ODD_NAMES, fuse_marker

pytestmark = [fuse_marker(), DEMO_ODD_NAMES]

SCOPES = ["projects", "runs", "samples", "appresults", "genomes", "sample_files", "appresult_files"]
ENTITY_KEYS = {
    "project": "Project",
    "run": "Run",
    "sample": "Sample",
    "appresult": "AppResult",
    "genome": "Genome",
    "samplefile": "SampleFile",
    "appresultfile": "AppResultFile",
}
QUERIES = [
    ("projects", "*"),
    ("projects", 'name:"Empty Project" OR description:streaming'),
    ("runs", "name:180718"),
    ("runs", 'experimentname:"Myeloid DNA Panel"'),
    ("samples", "*"),
    ("samples", "(name:tumor OR name:NA12878*) AND genome.build:hg19"),
    ("appresults", "*"),
    ("genomes", 'speciesname:"homo sapiens"'),
    ("sample_files", "*"),
    ("sample_files", 'sample.name:"Tumor 07" OR name:*_R1_001.fastq.gz'),
    ("appresult_files", "*"),
    ("appresult_files", "project.id:20000001 AND (fileextension:.bam OR fileextension:.vcf.gz)"),
]
BAM_QUERY = "fileextension:.bam AND project.id:20000001"


def _api_hits(emulator: Any, scope: str, query: str) -> list[dict[str, Any]]:
    return items(emulator, "v1pre3/search", scope=scope, query=query)


def _entity(hit: dict[str, Any]) -> dict[str, Any]:
    entity: dict[str, Any] = hit[ENTITY_KEYS[hit["Type"]]]
    return entity


def _visible(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if not name.startswith("."))


def _owner_dir(path: Path) -> Path:
    """The sample/appresult directory above a file reached through its ``Files`` tree."""
    parts = path.parts
    return Path(*parts[: len(parts) - 1 - parts[::-1].index("Files")])


def test_search_root_lists_the_scopes(mnt: Path) -> None:
    assert "Search" in os.listdir(mnt) and ".ResourceById" in os.listdir(mnt)
    assert sorted(os.listdir(mnt / "Search")) == sorted([*SCOPES, ".refresh", ".error"])
    assert sorted(os.listdir(mnt / "Search" / "samples")) == [".error", ".refresh"]


@pytest.mark.parametrize(("scope", "query"), QUERIES)
def test_ls_of_a_query_equals_the_api(mnt: Path, emulator: Any, scope: str, query: str) -> None:
    hits = _api_hits(emulator, scope, query)
    assert hits, "every query here finds something in the demo"
    directory = mnt / "Search" / scope / query.replace("/", "\uff0f")
    listed = _visible(directory)
    assert len(listed) == len(hits)
    seen: set[str] = set()
    for hit in hits:
        entity = _entity(hit)
        name = os.readlink(directory / f".id.{entity['Id']}")
        assert name in listed
        seen.add(name)
        path = directory / name
        if scope == "genomes":  # no place in the tree: a directory of metadata files
            assert path.is_dir() and not path.is_symlink()
            assert (path / ".id").read_text() == entity["Id"] + "\n"
            assert (path / ".name").read_text() == entity["DisplayName"] + "\n"
            continue
        assert path.is_symlink()
        real = Path(os.path.realpath(path))
        assert real.is_relative_to(mnt / "Projects") or real.is_relative_to(mnt / "Runs")
        if hit["Type"] in ("samplefile", "appresultfile"):
            assert real.stat().st_size == int(entity["Size"])
            owner = hit.get("AppResult") or hit["Sample"]
            assert (_owner_dir(real) / ".id").read_text() == owner["Id"] + "\n"
            base = os.path.basename(entity["Path"])
            assert real.name == base or real.name.startswith(base + " (")  # duplicates
        else:
            assert (real / ".id").read_text() == entity["Id"] + "\n"
            assert (real / ".type").read_text() == hit["Type"] + "s\n"
    assert seen == set(listed)


def test_tools_through_a_search_symlink(mnt: Path, emulator: Any) -> None:
    hits = _api_hits(emulator, "appresult_files", BAM_QUERY)
    bam = _entity(hits[0])
    link = mnt / "Search" / "appresult_files" / BAM_QUERY / bam["Name"]
    assert link.is_symlink()
    direct = Path(os.path.realpath(link))
    digest = subprocess.run(["md5sum", str(link)], capture_output=True, text=True, check=True)
    assert digest.stdout.split()[0] == direct_md5(emulator, bam["Id"])
    samtools = shutil.which("samtools")
    if samtools is None:
        pytest.skip("samtools is not installed")
    via_link = subprocess.run(
        [samtools, "view", "-H", "--no-PG", str(link)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    via_tree = subprocess.run(
        [samtools, "view", "-H", "--no-PG", str(direct)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert via_link.startswith("@HD") and via_link == via_tree


def test_zero_results_is_an_empty_directory(mnt: Path, emulator: Any) -> None:
    query = "name:no-such-sample-anywhere"
    assert _api_hits(emulator, "samples", query) == []
    directory = mnt / "Search" / "samples" / query
    assert directory.is_dir()
    assert _visible(directory) == []
    assert (directory / ".json").read_text().strip() == "[]"


def test_slash_escape(mnt: Path, emulator: Any) -> None:
    query = 'name:"a/b (slash)"'
    hits = _api_hits(emulator, "samples", query)
    assert len(hits) == 1
    directory = mnt / "Search" / "samples" / query.replace("/", "\uff0f")
    assert _visible(directory) == ["a\uff0fb (slash)"]
    assert (directory / "a\uff0fb (slash)" / ".name").read_text() == "a/b (slash)\n"


@pytest.mark.expect_log_warnings(
    r"search '\(name:tumor' refused in 'Search/samples': unbalanced parentheses",
    r"lookup\(.*b'\(name:tumor'.*\) -> ENOENT: unbalanced parentheses",
    r"giving up on GET \S+/v1pre3/search after \d+ attempts: HTTP 500 BASESPACE\.SEARCH\.QUERY_P",
    r"search 'a:b:c' refused in 'Search/samples': A field inside a field",
    r"lookup\(.*b'a:b:c'.*\) -> ENOENT: A field inside a field",
    r"scope 'no_such_scope' refused in 'Search': unknown scope",
    r"lookup\(.*b'no_such_scope'.*\) -> ENOENT: unknown scope",
)
def test_bad_queries_give_enoent_and_a_reason(mnt: Path) -> None:
    scope = mnt / "Search" / "samples"
    with pytest.raises(FileNotFoundError):
        os.listdir(scope / "(name:tumor")
    assert "unbalanced parentheses" in (scope / ".error").read_text()
    with pytest.raises(FileNotFoundError):  # the server's HTTP 500, reported the same way
        os.listdir(scope / "a:b:c")
    error = (scope / ".error").read_text()
    assert "ENOENT" in error and "a:b:c" in error and "field inside a field" in error
    with pytest.raises(FileNotFoundError):
        os.listdir(mnt / "Search" / "no_such_scope")
    assert "unknown scope 'no_such_scope'" in (mnt / "Search" / ".error").read_text()


def test_refresh_reruns_the_query(mnt: Path, emulator: Any) -> None:
    directory = mnt / "Search" / "runs" / "name:180718 OR name:nothing"
    before = _visible(directory)
    emulator.clear_requests()
    assert _visible(directory) == before
    searches = [r for r in emulator.requests() if r["path"] == "/v1pre3/search"]
    assert searches == []  # cached
    (directory / ".refresh").write_text("1")
    assert _visible(directory) == before
    searches = [r for r in emulator.requests() if r["path"] == "/v1pre3/search"]
    assert len(searches) == 1


@pytest.mark.expect_log_warnings(
    r"samples '99999999' refused in '\.ResourceById/samples': no such id: HTTP 404",
    r"lookup\(.*b'99999999'.*\) -> ENOENT: no such id",
)
def test_resource_by_id(mnt: Path, emulator: Any) -> None:
    by_id = mnt / ".ResourceById"
    sample = items(emulator, "v1pre3/projects/20000001/samples")[0]
    sample_dir = by_id / "samples" / sample["Id"]
    assert (sample_dir / ".name").read_text() == sample["Name"] + "\n"
    api_files = items(emulator, f"v1pre3/samples/{sample['Id']}/files")
    assert sorted(os.listdir(sample_dir / "Files")) == sorted(
        [*(f["Name"] for f in api_files), ".refresh", ".error"]
    )
    run = items(emulator, "v1pre3/users/current/runs")[0]
    run_dir = by_id / "runs" / run["Id"]
    assert (run_dir / ".id").read_text() == run["Id"] + "\n"
    assert "RunInfo.xml" in os.listdir(run_dir / "Files")
    dataset = items(emulator, "v2/datasets")[0]
    dataset_dir = by_id / "datasets" / dataset["Id"]
    assert (dataset_dir / ".type").read_text() == "datasets\n"
    api_dataset_files = items(emulator, f"v2/datasets/{dataset['Id']}/files")
    tops = {f["Path"].lstrip("/").split("/")[0] for f in complete(api_dataset_files)}
    assert tops and set(_visible(dataset_dir / "Files")) == tops
    with pytest.raises(FileNotFoundError):
        os.stat(by_id / "samples" / "99999999")
    assert "99999999" in (by_id / "samples" / ".error").read_text()
