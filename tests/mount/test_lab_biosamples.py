"""Lab operations through a real mount, with the tools a user types: ``mkdir`` of a biosample and
``.properties`` for its metadata, ``cp manifest.csv BioSamples/.import`` (and a bad manifest:
nothing created, ``cat .error`` shows each bad row), ``echo NewLibrary > .requeue``, ``ls`` and
``cat .json`` of ``Libraries/`` and ``LabRequeues/``, ``echo PROJECT > .default-project``. The
emulator's state is read over HTTP after each action; a long metadata TTL makes what the mount
shows come from its invalidations."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bsmount.emulator.seeds.demo import GENOMICS_PROJECT
from tests.emulator_proc import EmulatorProcess
from tests.mount.mounting import DEMO_ODD_NAMES, Mount, demo_with_mount, sh

pytestmark = [DEMO_ODD_NAMES]

PROJECT = f"Projects/{GENOMICS_PROJECT}"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, Mount]]:
    base = tmp_path_factory.mktemp("lab-biosamples")
    with demo_with_mount(base, "--metadata-ttl", "300") as both:
        yield both


def _api(emu: EmulatorProcess, path: str, **params: Any) -> Any:
    answer = emu.http.get(path, params=params, headers={"x-access-token": emu.token})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _biosamples(emu: EmulatorProcess) -> list[dict[str, Any]]:
    return list(_api(emu, "/v2/biosamples", limit=1000)["Items"])


def _run(m: Mount, script: str) -> subprocess.CompletedProcess[str]:
    """``script`` in the mount, whatever its exit status."""
    return subprocess.run(
        ["sh", "-c", script], cwd=m.path, capture_output=True, text=True, timeout=120
    )


def test_libraries_and_lab_requeues_with_ls_and_cat(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    first = _biosamples(emu)[0]
    path = f"BioSamples/{first['BioSampleName']}"
    assert {"Libraries", "LabRequeues"} <= set(sh(m, f"ls '{path}'").split())
    libraries = _api(emu, f"/v2/biosamples/{first['Id']}/libraries")["Items"]
    assert sh(m, f"ls '{path}/Libraries'").split("\n")[:-1] == [x["Name"] for x in libraries]
    shown = json.loads(sh(m, f"cat '{path}/Libraries/{libraries[0]['Name']}/.json'"))
    assert shown == _api(emu, f"/v2/libraries/{libraries[0]['Id']}")
    requeues = _api(emu, f"/v2/biosamples/{first['Id']}/labrequeues")["Items"]
    assert sh(m, f"ls '{path}/LabRequeues'").split() == [r["Id"] for r in requeues]
    shown = json.loads(sh(m, f"cat '{path}/LabRequeues/{requeues[0]['Id']}/.json'"))
    assert shown == _api(emu, f"/v2/labrequeues/{requeues[0]['Id']}")
    columns = sh(m, f"cat '{path}/Libraries/.list.csv'").splitlines()
    assert columns[0] == "Name,Id,Status" and columns[1].startswith(libraries[0]["Name"] + ",")


def test_mkdir_a_biosample_and_set_its_metadata(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    sh(m, f"mkdir '{PROJECT}/BioSamples/Mount-New-1'")
    [made] = [b for b in _biosamples(emu) if b["BioSampleName"] == "Mount-New-1"]
    assert made["DefaultProject"]["Name"] == GENOMICS_PROJECT
    assert "Mount-New-1" in sh(m, "ls BioSamples/").split("\n")
    assert sh(m, "cat BioSamples/Mount-New-1/.id").strip() == made["Id"]
    sh(m, "printf 'Lab.Tissue=blood\\nLab.Donor=D-17\\n' > BioSamples/Mount-New-1/.properties")
    props = _api(emu, f"/v2/biosamples/{made['Id']}/properties")["Items"]
    assert {(p["Name"], p["Content"]) for p in props} == {
        ("Lab.Tissue", "blood"),
        ("Lab.Donor", "D-17"),
    }


@pytest.mark.expect_log_warnings(
    r"mkdir refused in 'BioSamples': a biosample needs a default project",
    r"mkdir\(.*\) -> EINVAL: a biosample needs a default project",
    r"mkdir refused in .*: project \d+ already has a biosample named 'mount-new-2'",
    r"mkdir\(.*\) -> EEXIST: project \d+ already has",
)
def test_mkdir_refusals_say_why(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    before = len(_biosamples(emu))
    done = _run(m, "mkdir BioSamples/Loose")
    assert done.returncode != 0 and "Invalid argument" in done.stderr
    assert "mkdir Projects/<project>/BioSamples/Loose" in sh(m, "cat BioSamples/.error")
    sh(m, f"mkdir '{PROJECT}/BioSamples/Mount-New-2'")
    done = _run(m, f"mkdir '{PROJECT}/BioSamples/mount-new-2'")
    assert done.returncode != 0 and "File exists" in done.stderr
    assert "already has a biosample" in sh(m, f"cat '{PROJECT}/BioSamples/.error'")
    assert len(_biosamples(emu)) == before + 1


def test_cp_a_manifest_into_import(setup: tuple[EmulatorProcess, Mount], tmp_path: Path) -> None:
    emu, m = setup
    template = sh(m, "cat BioSamples/.import")
    manifest = tmp_path / "manifest.csv"
    rows = [f'Mount-M{i},"{GENOMICS_PROJECT}",PlateM,C{i}' for i in range(1, 13)]
    manifest.write_text(template + "\n".join(rows) + "\n", encoding="utf-8")
    before = len(_biosamples(emu))
    sh(m, f"cp '{manifest}' BioSamples/.import")
    made = {
        b["BioSampleName"]: b for b in _biosamples(emu) if b["BioSampleName"].startswith("Mount-M")
    }
    assert len(_biosamples(emu)) == before + 12 and len(made) == 12
    assert made["Mount-M3"]["ContainerPosition"] == "C03"
    listed = set(sh(m, "ls BioSamples/").split("\n"))
    assert {f"Mount-M{i}" for i in range(1, 13)} <= listed
    assert "Mount-M12" in sh(m, f"ls '{PROJECT}/BioSamples/'").split("\n")


@pytest.mark.expect_log_warnings(
    r"write \.import refused in 'BioSamples': manifest refused, nothing created",
    r"-> EINVAL: manifest refused, nothing created",
)
def test_a_bad_manifest_creates_nothing(
    setup: tuple[EmulatorProcess, Mount], tmp_path: Path
) -> None:
    emu, m = setup
    manifest = tmp_path / "bad.csv"
    manifest.write_text(
        "BioSample Name,Default Project,Container Name,Container Position\n"
        f'Mount-B1,"{GENOMICS_PROJECT}",PlateB,A01\n'
        "Mount-B2,Nowhere,,\n"
        f'Mount-B3,"{GENOMICS_PROJECT}",PlateB,A01\n'
        f'Mount B4,"{GENOMICS_PROJECT}",,\n',
        encoding="utf-8",
    )
    before = _biosamples(emu)
    done = _run(m, f"cp '{manifest}' BioSamples/.import")
    assert done.returncode != 0 and "Invalid argument" in done.stderr
    assert _biosamples(emu) == before
    error = sh(m, "cat BioSamples/.error")
    assert "3 of 4 rows invalid" in error
    assert "line 3: no project 'Nowhere' in the account" in error
    assert "line 4: PlateB A01 is also on line 2" in error
    assert "line 5: BioSample Name 'Mount B4'" in error
    assert "Mount-B1" not in sh(m, "ls BioSamples/").split("\n")


@pytest.mark.expect_log_warnings(
    r"write \.requeue refused in .*: unknown requeue type 'Faster'",
    r"-> EINVAL: unknown requeue type 'Faster'",
)
def test_echo_a_requeue_type(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    third = _biosamples(emu)[2]
    path = f"BioSamples/{third['BioSampleName']}"
    assert sh(m, f"ls '{path}/LabRequeues'") == ""  # listed (and cached) before
    sh(m, f"echo NewLibrary > '{path}/.requeue'")
    requeues = _api(emu, f"/v2/biosamples/{third['Id']}/labrequeues")["Items"]
    assert [(r["Type"], r["Status"]) for r in requeues] == [("NewBioSampleLibrary", "Requested")]
    assert sh(m, f"ls '{path}/LabRequeues'").split() == [requeues[0]["Id"]]
    assert sh(m, f"grep -c '^ExistingLibrary library=' '{path}/.requeue'") == "1\n"
    sh(m, f"line=$(grep '^ExistingLibrary' '{path}/.requeue'); echo \"$line\" > '{path}/.requeue'")
    sh(m, f"printf 'ExistingLibrary\\nyield=4\\nlims=LIMS-42\\n' > '{path}/.requeue'")
    requeues = _api(emu, f"/v2/biosamples/{third['Id']}/labrequeues")["Items"][1:]
    assert requeues[0]["Type"] == "AdditionalYieldOfLibrary"  # the line read from .requeue
    assert (requeues[1]["Type"], requeues[1]["RequestedAdditionalYield"]) == (
        "AdditionalYieldOfLibrary",
        4,
    )
    shown = json.loads(sh(m, f"cat '{path}/LabRequeues/{requeues[1]['Id']}/.json'"))
    assert shown["LIMSId"] == "LIMS-42"
    done = _run(m, f"echo Faster > '{path}/.requeue'")
    assert done.returncode != 0
    assert "unknown requeue type 'Faster'" in sh(m, f"cat '{path}/.error'")
    assert len(_api(emu, f"/v2/biosamples/{third['Id']}/labrequeues")["Items"]) == 3
    assert os.path.isdir(m.path / path / "LabRequeues" / requeues[1]["Id"])


def test_echo_a_project_into_default_project(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    sh(m, f"mkdir '{PROJECT}/BioSamples/Mount-Move-1'")
    path = "BioSamples/Mount-Move-1"
    assert sh(m, f"cat {path}/.default-project") == GENOMICS_PROJECT + "\n"
    assert "Mount-Move-1" in sh(m, f"ls '{PROJECT}/BioSamples/'").split("\n")  # cached
    sh(m, f"echo 'Empty Project' > {path}/.default-project")
    made = next(b for b in _biosamples(emu) if b["BioSampleName"] == "Mount-Move-1")
    assert made["DefaultProject"]["Name"] == "Empty Project"
    assert "Mount-Move-1" not in sh(m, f"ls '{PROJECT}/BioSamples/'").split("\n")
    assert sh(m, "ls 'Projects/Empty Project/BioSamples/'").split("\n")[0] == "Mount-Move-1"
    assert sh(m, f"cat {path}/.default-project") == "Empty Project\n"


@pytest.mark.expect_log_warnings(
    r"mkdir refused in 'BioSamples': --biosample-project 'No Such Project'",
    r"mkdir\(.*\) -> EINVAL: --biosample-project 'No Such Project'",
)
def test_mkdir_in_biosamples_with_a_biosample_project(
    setup: tuple[EmulatorProcess, Mount], tmp_path: Path
) -> None:
    """``--biosample-project`` (``bs create biosample -p``) lets ``mkdir BioSamples/NAME`` work;
    a project the account lacks is refused with the reason."""
    emu, _ = setup
    projects = _api(emu, "/v1pre3/users/current/projects", Limit=1000)["Response"]["Items"]
    [genomics] = [p["Id"] for p in projects if p["Name"] == GENOMICS_PROJECT]
    args = ("--biosample-project", GENOMICS_PROJECT, "--metadata-ttl", "300")
    m = Mount(emu.url, emu.token, tmp_path / "mnt", tmp_path / "mount.log", args).start()
    try:
        sh(m, "mkdir BioSamples/Top-Level-1")
        [made] = [b for b in _biosamples(emu) if b["BioSampleName"] == "Top-Level-1"]
        assert made["DefaultProject"]["Id"] == genomics
        assert "Top-Level-1" in sh(m, "ls BioSamples/").split("\n")
        assert "Top-Level-1" in sh(m, f"ls '{PROJECT}/BioSamples/'").split("\n")
    finally:
        m.stop()
    wrong = ("--biosample-project", "No Such Project")
    m = Mount(emu.url, emu.token, tmp_path / "mnt2", tmp_path / "mount2.log", wrong).start()
    try:
        done = _run(m, "mkdir BioSamples/Top-Level-2")
        assert done.returncode != 0 and "Invalid argument" in done.stderr
        assert "no project of that name or id" in sh(m, "cat BioSamples/.error")
        assert not [b for b in _biosamples(emu) if b["BioSampleName"] == "Top-Level-2"]
    finally:
        m.stop()
