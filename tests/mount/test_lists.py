"""``bs list`` through a real mount: ``.list.csv``/``.list.json``/``.headers`` read with ``cat``
and ``head``, the filter directories with ``ls``, and ``find -newermt`` for ``--newer-than``
(docs/lists.md), each checked against the API."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator

import pytest

from bsmount.api.models import parse_date
from tests.emulator_proc import EmulatorProcess
from tests.mount.apiwalk import items
from tests.mount.mounting import DEMO_ODD_NAMES, Mount, demo_with_mount, sh

pytestmark = [DEMO_ODD_NAMES]

DEMO_PROJECT = "20000001"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, Mount]]:
    base = tmp_path_factory.mktemp("lists")
    with demo_with_mount(base, "--metadata-ttl", "300") as both:
        yield both


def _project(m: Mount) -> str:
    return "Projects/" + os.readlink(m.path / "Projects" / f".id.{DEMO_PROJECT}")


def test_cat_projects_list_csv(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    assert sh(m, "head -1 Projects/.list.csv") == "Name,Id,TotalSize\n"
    rows = list(csv.reader(io.StringIO(sh(m, "cat Projects/.list.csv"))))[1:]
    api = items(emu, "v1pre3/users/current/projects")
    assert sorted((r[0], r[1], r[2]) for r in rows) == sorted(
        (p["Name"], p["Id"], str(p.get("TotalSize", ""))) for p in api
    )
    listed = json.loads(sh(m, "cat Projects/.list.json"))
    assert sorted(listed, key=lambda p: p["Id"]) == sorted(api, key=lambda p: p["Id"])
    headers = sh(m, "cat Projects/.headers").split()
    assert {"Id", "Name", "TotalSize"} <= set(headers)


def test_list_csv_of_a_projects_datasets(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    project = _project(m)
    out = sh(m, f"head -1 '{project}/Datasets/.list.csv'; cat '{project}/Datasets/.list.csv'")
    assert out.splitlines()[0] == "Name,Id,Project.Name,DatasetType.Name"
    rows = list(csv.reader(io.StringIO(out)))[2:]
    api = items(emu, "v2/datasets", projectid=DEMO_PROJECT)
    assert sorted(r[1] for r in rows) == sorted(d["Id"] for d in api)


def test_ls_dataset_types_and_appsession_statuses(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    project = _project(m)
    datasets = items(emu, "v2/datasets", projectid=DEMO_PROJECT)
    types = sh(m, f"ls '{project}/Datasets/.type/'").split()
    assert set(types) == {d["DatasetType"]["Id"] for d in datasets}
    for dtype in types:
        shown = sh(m, f"ls '{project}/Datasets/.type/{dtype}/'").splitlines()
        assert len(shown) == sum(1 for d in datasets if d["DatasetType"]["Id"] == dtype)
        sh(m, f"cd '{project}/Datasets/.type/{dtype}' && ls -L . > /dev/null")  # links resolve
    sessions = items(emu, "v2/appsessions", **{"output.projects": DEMO_PROJECT})
    complete = sh(m, f"ls '{project}/AppSessions/.status/Complete/'").splitlines()
    assert len(complete) == sum(1 for s in sessions if s["ExecutionStatus"] == "Complete") >= 1
    ids = sh(m, f"cat '{project}/AppSessions/.status/Complete/'*/.id").split()
    assert set(ids) == {s["Id"] for s in sessions if s["ExecutionStatus"] == "Complete"}


def test_a_biosamples_appsessions(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    biosample = items(emu, "v2/biosamples")[0]
    used = items(emu, "v2/appsessions", **{"input.biosamples": biosample["Id"]})
    path = f"BioSamples/.id.{biosample['Id']}/AppSessions"
    ids = sh(m, f"cat {path}/*/.id").split()
    assert sorted(ids) == sorted(s["Id"] for s in used)


def test_find_newermt_is_newer_than(setup: tuple[EmulatorProcess, Mount]) -> None:
    """``bs list samples --newer-than`` as docs/lists.md writes it with ``find``."""
    emu, m = setup
    project = _project(m)
    samples = items(emu, f"v1pre3/projects/{DEMO_PROJECT}/samples")
    dates = sorted(
        {parse_date(s.get("DateModified")) or parse_date(s["DateCreated"]) for s in samples}
    )
    assert len(dates) >= 2
    cut = dates[-1].strftime("%Y-%m-%d %H:%M:%S")  # strictly newer than this: none
    middle = dates[0].strftime("%Y-%m-%d %H:%M:%S")  # all but the oldest
    find = f"find '{project}/Samples' -mindepth 1 -maxdepth 1 -type d ! -name '.*'"
    assert sh(m, f"TZ=UTC {find} -newermt '{cut}'") == ""
    newer = sh(m, f"TZ=UTC {find} -newermt '{middle}' -exec cat {{}}/.id \\;").split()
    expected = {
        s["Id"]
        for s in samples
        if (parse_date(s.get("DateModified")) or parse_date(s["DateCreated"])) > dates[0]
    }
    assert set(newer) == expected and expected
    older = sh(m, f"TZ=UTC {find} ! -newermt '{middle}' -exec cat {{}}/.id \\;").split()
    assert set(older) | set(newer) == {s["Id"] for s in samples}
