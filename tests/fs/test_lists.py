"""``.list.csv .list.json .headers`` of list directories, the filter directories (``.type/``,
``.status/``), a biosample's ``AppSessions/`` and the mtimes ``find -newermt`` relies on,
through the FUSE handlers, checked against the emulator's API."""

from __future__ import annotations

import csv
import io
import json
import stat
from typing import Any

import pytest

from bsmount.tree.list_files import COLUMNS
from tests.emulator_proc import EmulatorProcess
from tests.fs.conftest import FS

pytestmark = pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.tree\.oddities: odd entries from the server in .*name\(s\) changed"
)

PROJECT_ID = "20000001"


def _api(emu: EmulatorProcess, path: str, **params: str) -> Any:
    answer = emu.http.get(path, params=params, headers={"x-access-token": emu.token})
    answer.raise_for_status()
    return answer.json()


async def _project(fs: FS) -> str:
    target = await fs.ops.readlink(await fs.ino(f"Projects/.id.{PROJECT_ID}"), None)  # type: ignore[arg-type]
    return "Projects/" + target.decode()


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


async def test_projects_list_csv_json_and_headers(fs: FS, fs_emulator: EmulatorProcess) -> None:
    names = set(await fs.listdir("Projects"))
    assert {".list.csv", ".list.json", ".headers"} <= names
    rows = _rows(await fs.read("Projects/.list.csv"))
    assert rows[0] == ["Name", "Id", "TotalSize"] == list(COLUMNS["projects"])
    api = _api(fs_emulator, "/v1pre3/users/current/projects", Limit="1000")["Response"]["Items"]
    assert {(r[0], r[1]) for r in rows[1:]} == {(p["Name"], p["Id"]) for p in api}
    by_id = {p["Id"]: p for p in json.loads(await fs.read("Projects/.list.json"))}
    assert set(by_id) == {p["Id"] for p in api}
    assert by_id[PROJECT_ID] == next(p for p in api if p["Id"] == PROJECT_ID)  # every field
    headers = (await fs.read("Projects/.headers")).decode().splitlines()
    assert {"Id", "Name", "TotalSize", "DateCreated"} <= set(headers)


async def test_every_entity_list_has_the_documented_columns(fs: FS) -> None:
    project = await _project(fs)
    biosample = next(n for n in await fs.listdir("BioSamples") if not n.startswith("."))
    expected = {
        "Runs": "runs",
        "BioSamples": "biosamples",
        f"{project}/AppResults": "appresults",
        f"{project}/AppSessions": "appsessions",
        f"{project}/Samples": "samples",
        f"{project}/Datasets": "datasets",
        f"BioSamples/{biosample}/Datasets": "datasets",
        f"BioSamples/{biosample}/AppSessions": "appsessions",
    }
    for path, kind in expected.items():
        rows = _rows(await fs.read(f"{path}/.list.csv"))
        assert tuple(rows[0]) == COLUMNS[kind], path
        assert len(rows) > 1, path
        shown = {n for n in await fs.listdir(path) if not n.startswith(".")}
        assert len(rows) - 1 == len(shown), path
    datasets = _rows(await fs.read(f"{project}/Datasets/.list.csv"))
    assert all(row[2] and row[3] for row in datasets[1:])  # Project.Name, DatasetType.Name


async def test_dataset_types_as_directories(fs: FS, fs_emulator: EmulatorProcess) -> None:
    project = await _project(fs)
    api = _api(fs_emulator, "/v2/datasets", projectid=PROJECT_ID, limit="1000")["Items"]
    types = {d["DatasetType"]["Id"] for d in api}
    listed = await fs.listdir(f"{project}/Datasets/.type")
    assert {n for n in listed if not n.startswith(".")} == types
    for dtype in types:
        path = f"{project}/Datasets/.type/{dtype}"
        entries = await fs.listdir(path)
        links = {n: a for n, a in entries.items() if not n.startswith(".")}
        assert len(links) == sum(1 for d in api if d["DatasetType"]["Id"] == dtype)
        for name, attrs in links.items():
            assert stat.S_ISLNK(attrs.st_mode)
            target = await fs.ops.readlink(await fs.ino(f"{path}/{name}"), None)  # type: ignore[arg-type]
            assert target.decode() == f"../../{name}"
            # the link's target, read through the list, is a dataset of that type
            dataset = json.loads(await fs.read(f"{project}/Datasets/{name}/.json"))
            assert dataset["DatasetType"]["Id"] == dtype
        rows = _rows(await fs.read(f"{path}/.list.csv"))
        assert {r[0] for r in rows[1:]} == {
            d["Name"] for d in api if d["DatasetType"]["Id"] == dtype
        }


async def test_appsession_status_directories(fs: FS, fs_emulator: EmulatorProcess) -> None:
    project = await _project(fs)
    api = _api(fs_emulator, "/v2/appsessions", **{"output.projects": PROJECT_ID})["Items"]
    statuses = set(await fs.listdir(f"{project}/AppSessions/.status"))
    assert {"Complete", "Running", "Aborted", "NeedsAttention"} <= statuses
    for status in ("Complete", "Running", "Aborted", "NeedsAttention"):
        entries = await fs.listdir(f"{project}/AppSessions/.status/{status}")
        names = {n for n in entries if not n.startswith(".")}
        assert len(names) == sum(1 for a in api if a["ExecutionStatus"] == status), status
        assert names <= set(await fs.listdir(f"{project}/AppSessions"))


async def test_a_biosample_lists_the_appsessions_that_used_it(
    fs: FS, fs_emulator: EmulatorProcess
) -> None:
    biosamples = _api(fs_emulator, "/v2/biosamples", limit="1000")["Items"]
    first = next(b for b in biosamples if b["Id"])
    used = _api(fs_emulator, "/v2/appsessions", **{"input.biosamples": first["Id"]})["Items"]
    assert used  # the demo's DRAGEN session used every FASTQ biosample
    path = f"BioSamples/.id.{first['Id']}"
    name = (await fs.ops.readlink(await fs.ino(path), None)).decode()  # type: ignore[arg-type]
    entries = await fs.listdir(f"BioSamples/{name}/AppSessions")
    links = {n for n in entries if not n.startswith(".")}
    assert len(links) == len(used)
    for link in links:
        ino = await fs.ino(f"BioSamples/{name}/AppSessions/{link}")
        target = (await fs.ops.readlink(ino, None)).decode()  # type: ignore[arg-type]
        assert target.startswith("../../../.ResourceById/appsessions/")
        session_id = target.rsplit("/", 1)[1]
        assert session_id in {a["Id"] for a in used}
        assert (await fs.read(f".ResourceById/appsessions/{session_id}/.id")).decode().strip() == (
            session_id
        )


async def test_entity_mtimes_are_their_dates(fs: FS, fs_emulator: EmulatorProcess) -> None:
    """``find -newermt`` compares st_mtime: an entity directory's is its DateModified (or
    DateCreated), and so is its ``.id.<id>`` link's."""
    project = await _project(fs)
    samples = _api(fs_emulator, f"/v1pre3/projects/{PROJECT_ID}/samples", Limit="1000")
    by_id = {s["Id"]: s for s in samples["Response"]["Items"]}
    entries = await fs.listdir(f"{project}/Samples")
    from bsmount.api.models import parse_date

    checked = 0
    for name, attrs in entries.items():
        if not name.startswith(".id."):
            continue
        sample = by_id[name.removeprefix(".id.")]
        when = parse_date(sample.get("DateModified")) or parse_date(sample["DateCreated"])
        assert when is not None
        assert attrs.st_mtime_ns == int(when.timestamp() * 1e9), name
        target = (await fs.ops.readlink(attrs.st_ino, None)).decode()  # type: ignore[arg-type]
        assert entries[target].st_mtime_ns == attrs.st_mtime_ns
        checked += 1
    assert checked == len(by_id)
