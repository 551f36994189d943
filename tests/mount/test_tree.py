"""The tree through a real mount equals what the API returns: names, ids, sizes, mtimes."""

from __future__ import annotations

import os
import stat
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.mount.apiwalk import complete, items
from tests.mount.mounting import DEMO_ODD_NAMES, fuse_marker

pytestmark = [fuse_marker(), DEMO_ODD_NAMES]


def _mtime(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")[:26] + "+00:00").timestamp()


def _by_id(list_dir: Path, entity_id: str) -> Path:
    link = list_dir / f".id.{entity_id}"
    target = os.readlink(link)
    assert "/" not in target
    return list_dir / target


def _entity_names(list_dir: Path, entities: list[dict[str, Any]]) -> None:
    """Every entity is reachable by its .id link, .id/.name match, and nothing else is listed
    (but the list files and the filter directories of docs/lists.md, and the manifest file
    ``.import`` of biosample lists, docs/lab.md)."""
    listed = set(os.listdir(list_dir)) - {".type", ".status", ".import"}
    expected: set[str] = {".refresh", ".error", ".list.csv", ".list.json", ".headers"}
    for entity in entities:
        path = _by_id(list_dir, entity["Id"])
        expected |= {path.name, f".id.{entity['Id']}"}
        assert (path / ".id").read_text() == entity["Id"] + "\n"
        name = entity.get("Name") or entity.get("BioSampleName") or ""
        assert (path / ".name").read_text() == name + "\n"
    assert listed == expected


def _files_in_mount(files_dir: Path) -> dict[str, os.stat_result]:
    found: dict[str, os.stat_result] = {}
    for root, _dirs, names in os.walk(files_dir):
        for name in names:
            if name in (".refresh", ".error"):
                continue
            path = Path(root) / name
            found[str(path.relative_to(files_dir))] = path.stat()
    return found


def _compare_files(files_dir: Path, api_files: list[dict[str, Any]]) -> None:
    mounted = _files_in_mount(files_dir)
    api_files = complete(api_files)
    assert len(mounted) == len(api_files)
    assert sum(s.st_size for s in mounted.values()) == sum(int(f["Size"]) for f in api_files)
    for f in api_files:
        path = f["Path"].lstrip("/")
        if path in mounted:  # awkward components are covered by the naming tests
            st = mounted[path]
            assert st.st_size == int(f["Size"])
            assert st.st_mtime == pytest.approx(
                _mtime(f.get("DateModified") or f["DateCreated"]), abs=1
            )
            assert stat.S_IMODE(st.st_mode) == 0o444
            assert st.st_blocks * 512 >= st.st_size


def test_root_listing(mnt: Path) -> None:
    assert {"Projects", "Runs", "BioSamples", "README"} <= set(os.listdir(mnt))
    assert "BaseSpace" in (mnt / "README").read_text()
    assert stat.S_IMODE((mnt / "Projects").stat().st_mode) == 0o755  # mkdir makes a project
    assert stat.S_IMODE((mnt / "Runs").stat().st_mode) == 0o755  # cp -r uploads a run folder
    assert stat.S_IMODE((mnt / "Search").stat().st_mode) == 0o555
    assert (mnt / "Projects").stat().st_uid == os.getuid()


def test_projects_samples_appresults_and_files(mnt: Path, emulator: Any) -> None:
    projects = items(emulator, "v1pre3/users/current/projects")
    assert len(projects) >= 3
    _entity_names(mnt / "Projects", projects)
    for project in projects:
        pdir = _by_id(mnt / "Projects", project["Id"])
        assert (pdir / ".type").read_text() == "projects\n"
        assert set(os.listdir(pdir)) >= {
            "Samples",
            "AppResults",
            "AppSessions",
            "Datasets",
            "BioSamples",
        }
        samples = items(emulator, f"v1pre3/projects/{project['Id']}/samples")
        _entity_names(pdir / "Samples", samples)
        for sample in samples:
            files = items(emulator, f"v1pre3/samples/{sample['Id']}/files", limit=1000)
            _compare_files(_by_id(pdir / "Samples", sample["Id"]) / "Files", files)
        appresults = items(emulator, f"v1pre3/projects/{project['Id']}/appresults")
        _entity_names(pdir / "AppResults", appresults)
        for appresult in appresults:
            files = items(emulator, f"v1pre3/appresults/{appresult['Id']}/files", limit=1000)
            _compare_files(_by_id(pdir / "AppResults", appresult["Id"]) / "Files", files)


def test_runs_tree_equals_recursive_listing(mnt: Path, emulator: Any) -> None:
    runs = items(emulator, "v1pre3/users/current/runs")
    assert runs
    for run in runs:
        rdir = _by_id(mnt / "Runs", run["Id"])
        assert (rdir / ".type").read_text() == "runs\n"
        files = items(emulator, f"v2/runs/{run['Id']}/files", limit=1000, recursive="true")
        _compare_files(rdir / "Files", files)
        assert (rdir / "Files" / "RunInfo.xml").exists()


def test_biosamples_and_datasets(mnt: Path, emulator: Any) -> None:
    biosamples = items(emulator, "v2/biosamples")
    assert biosamples
    _entity_names(mnt / "BioSamples", biosamples)
    for biosample in biosamples:
        bdir = _by_id(mnt / "BioSamples", biosample["Id"])
        datasets = items(emulator, "v2/datasets", inputbiosamples=biosample["Id"])
        _entity_names(bdir / "Datasets", datasets)
        for dataset in datasets:
            assert dataset["Id"].startswith("ds.")
            files = items(emulator, f"v2/datasets/{dataset['Id']}/files", limit=1000)
            _compare_files(_by_id(bdir / "Datasets", dataset["Id"]) / "Files", files)


def test_metadata_files(mnt: Path, emulator: Any) -> None:
    project = items(emulator, "v1pre3/users/current/projects")[0]
    pdir = _by_id(mnt / "Projects", project["Id"])
    import json

    doc = json.loads((pdir / ".json").read_text())
    assert doc["Response"]["Id"] == project["Id"]
    assert (pdir / ".href").read_text().strip() == f"{emulator.url}/v1pre3/projects/{project['Id']}"
    curl = (pdir / ".curl").read_text()
    assert "$BASESPACE_ACCESS_TOKEN" in curl and emulator.token not in curl
    assert os.path.islink(mnt / "Projects" / f".id.{project['Id']}")


def test_awkward_and_duplicate_names(mnt: Path, emulator: Any) -> None:
    names: list[tuple[Path, str]] = []
    for project in items(emulator, "v1pre3/users/current/projects"):
        pdir = _by_id(mnt / "Projects", project["Id"])
        for sample in items(emulator, f"v1pre3/projects/{project['Id']}/samples"):
            names.append((_by_id(pdir / "Samples", sample["Id"]), sample["Name"]))
    shown = [p.name for p, _ in names]
    assert any(" (2)" in name for name in shown), "the demo has duplicate sample names"
    for path, api_name in names:
        if "/" in api_name:
            assert path.name.startswith(api_name.replace("/", "\uff0f"))
        assert path.is_dir()
        assert os.listdir(path / "Files") is not None


def test_find_du_stat_and_ls(mnt: Path, emulator: Any) -> None:
    found = subprocess.run(
        ["find", str(mnt / "Projects"), "-type", "f", "-not", "-name", ".*"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split("\n")
    assert len([f for f in found if f]) > 10
    project = items(emulator, "v1pre3/users/current/projects")[0]
    pdir = _by_id(mnt / "Projects", project["Id"])
    for appresult in items(emulator, f"v1pre3/projects/{project['Id']}/appresults"):
        files = complete(items(emulator, f"v1pre3/appresults/{appresult['Id']}/files", limit=1000))
        du = subprocess.run(
            ["du", "-sb", str(_by_id(pdir / "AppResults", appresult["Id"]) / "Files")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[0]
        assert int(du) == sum(int(f["Size"]) for f in files)
    ls = subprocess.run(["ls", "-la", str(pdir)], capture_output=True, text=True, check=True)
    assert ".json" in ls.stdout and "Samples" in ls.stdout


def test_writes_are_refused(mnt: Path) -> None:
    with pytest.raises(OSError) as info:
        (mnt / "README").write_text("x")
    assert info.value.errno in (30, 13)  # EROFS (or EACCES from the 0444 mode check)
    with pytest.raises(OSError):
        (mnt / "Projects" / "new-file").write_text("x")


def test_missing_path_is_enoent(mnt: Path) -> None:
    with pytest.raises(FileNotFoundError):
        (mnt / "Projects" / "no such project").stat()
    with pytest.raises(FileNotFoundError):
        (mnt / "nothing-here").stat()
