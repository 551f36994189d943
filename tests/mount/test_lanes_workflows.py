"""Lanes, lane QC thresholds and analysis workflows through a real mount, with real tools:
``ls``/``cat``/``jq`` of ``Runs/<run>/Lanes/``, ``cp`` of a CSV onto ``Runs/.qcthresholds.csv``
(``bs lane threshold import``), ``echo add ...`` and ``echo clear``, a bad file refused with
EINVAL and its reason in ``.error``, a workflow's ``.qcthresholds`` and ``.workflowdependencies``,
and ``.create-workflow`` in an appsession (``bs create workflow``); every change checked with the
emulator's API and the requests it cost with its request log (docs/lab.md)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bsmount.emulator.seeds.demo import WORKFLOW_ID, WORKFLOW_NAME
from tests.emulator_proc import EmulatorProcess
from tests.mount.mounting import DEMO_ODD_NAMES, Mount, demo_with_mount, sh

pytestmark = [DEMO_ODD_NAMES]

RUN_ID = "50000001"  # the demo run (a MiSeq flow cell: one lane)
DRAGEN_SESSION = "60000002"  # an appsession of DRAGEN Germline 3.9.5 (the demo catalogue's)
THRESHOLDS_CSV = (
    "Name,Operator,Values,Group,DatasetTypeId,Optional\n"
    "PercentPf,GreaterThanOrEqual,90,Lane,,false\n"
    "ErrorRate,LessThan,1.5,Lane,,true\n"
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, Mount]]:
    base = tmp_path_factory.mktemp("lanes")
    with demo_with_mount(base, "--metadata-ttl", "300") as both:
        yield both


def _lanes(m: Mount) -> str:
    return f"Runs/{os.readlink(m.path / 'Runs' / f'.id.{RUN_ID}')}/Lanes"


def _requests(emu: EmulatorProcess, since: int) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in emu.requests(since) if r["path"].startswith("/v")]


def _mark(emu: EmulatorProcess) -> int:
    log = emu.requests()
    return int(log[-1]["index"]) + 1 if log else 0


def _fails(m: Mount, script: str) -> str:
    """Run ``script``, which must fail; its stderr."""
    done = subprocess.run(["sh", "-c", script], cwd=m.path, capture_output=True, text=True)
    assert done.returncode != 0, (script, done.stdout)
    return done.stderr


def test_ls_and_cat_lanes(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    lanes = _lanes(m)
    assert sh(m, f"ls '{lanes}'").split() == ["1"]
    lane = json.loads(sh(m, f"cat '{lanes}/1/.json'"))
    assert lane == emu.api(f"v2/lanes/{lane['Id']}")
    assert sh(m, f"jq -r '.PercentPf, .PercentGtQ30, .Status' '{lanes}/1/.json'").split() == [
        "88.61",
        "79.57",
        "QcPassed",
    ]
    report = sh(m, f"cat '{lanes}/1/.qc'")
    assert "status\tQcPassed\n" in report and "thresholds\tpass\t3 of 3 met\n" in report
    assert "PercentGtQ30\t79.57\t>= 75\tpass\n" in report
    rows = list(csv.DictReader(io.StringIO(sh(m, f"cat '{lanes}/.qc.csv'"))))
    assert [(r["Lane"], r["Id"], r["Thresholds"]) for r in rows] == [("1", lane["Id"], "pass")]
    assert sh(m, f"cat '{lanes}/1/.id'").strip() == lane["Id"]


@pytest.mark.expect_log_warnings(
    r"write \.qcthresholds\.csv refused in 'Runs': threshold 2: Operator 'Above'",
    r"(write|flush)\(\d+.*\) -> EINVAL: threshold 2: Operator 'Above'",
)
def test_lane_thresholds_import_add_clear(
    setup: tuple[EmulatorProcess, Mount], tmp_path: Path
) -> None:
    emu, m = setup
    lanes = _lanes(m)
    seeded = emu.api("v2/laneqcthresholds")
    assert json.loads(sh(m, "cat Runs/.qcthresholds")) == seeded
    exported = sh(m, "cat Runs/.qcthresholds.csv")
    assert exported.splitlines()[1] == "PercentPf,GreaterThanOrEqual,80,Lane,,false"

    # import: cp of a CSV replaces them, one PUT and nothing else
    local = tmp_path / "thresholds.csv"
    local.write_text(THRESHOLDS_CSV)
    mark = _mark(emu)
    sh(m, f"cp '{local}' Runs/.qcthresholds.csv")
    assert _requests(emu, mark) == [("PUT", "/v2/laneqcthresholds")]
    stored = emu.api("v2/laneqcthresholds")["QcThresholds"]
    assert [(t["Name"], t["Operator"], t["ThresholdValues"], t["Optional"]) for t in stored] == [
        ("PercentPf", "GreaterThanOrEqual", [90], False),
        ("ErrorRate", "LessThan", [1.5], True),
    ]
    assert sh(m, "cat Runs/.qcthresholds.csv") == THRESHOLDS_CSV
    assert "thresholds\tfail\t1 of 2 met" in sh(m, f"cat '{lanes}/1/.qc'")

    # add: one line appended to what is there (one GET, one PUT)
    mark = _mark(emu)
    sh(m, "echo 'add PercentGtQ30,GreaterThanOrEqual,70' > Runs/.qcthresholds")
    assert _requests(emu, mark) == [
        ("GET", "/v2/laneqcthresholds"),
        ("PUT", "/v2/laneqcthresholds"),
    ]
    names = [t["Name"] for t in emu.api("v2/laneqcthresholds")["QcThresholds"]]
    assert names == ["PercentPf", "ErrorRate", "PercentGtQ30"]

    # a bad file: EINVAL, the reason in Runs/.error, the server's thresholds untouched
    bad = tmp_path / "bad.csv"
    bad.write_text("Name,Operator,Values\nPercentPf,GreaterThan,80\nYield,Above,10\n")
    before = emu.api("v2/laneqcthresholds")
    mark = _mark(emu)
    assert "Invalid argument" in _fails(m, f"cp '{bad}' Runs/.qcthresholds.csv")
    assert _requests(emu, mark) == []  # checked before anything is sent
    assert "threshold 2: Operator 'Above'" in sh(m, "cat Runs/.error")
    assert emu.api("v2/laneqcthresholds") == before

    # clear, then the seed's thresholds back by cp of the first JSON export
    sh(m, "echo clear > Runs/.qcthresholds")
    assert emu.api("v2/laneqcthresholds") == {"QcThresholds": []}
    assert "thresholds\tno thresholds" in sh(m, f"cat '{lanes}/1/.qc'")
    saved = tmp_path / "seeded.json"
    saved.write_text(json.dumps(seeded))
    sh(m, f"cp '{saved}' Runs/.qcthresholds")
    assert emu.api("v2/laneqcthresholds") == seeded


@pytest.mark.expect_log_warnings(
    r"write \.workflowdependencies refused in 'Applications/.*': not valid JSON",
    r"(write|flush)\(\d+.*\) -> EINVAL: not valid JSON",
)
def test_workflow_thresholds_and_dependencies(
    setup: tuple[EmulatorProcess, Mount], tmp_path: Path
) -> None:
    emu, m = setup
    workflow = f"Applications/{WORKFLOW_NAME}"
    route = f"v2/applications/{WORKFLOW_ID}"
    listed = sh(m, f"ls -A '{workflow}'").split()
    assert {".qcthresholds", ".qcthresholds.csv", ".workflowdependencies"} <= set(listed)
    assert json.loads(sh(m, f"cat '{workflow}/.qcthresholds'")) == emu.api(f"{route}/qcthresholds")
    deps = json.loads(sh(m, f"cat '{workflow}/.workflowdependencies'"))
    assert deps == emu.api(f"{route}/workflowdependencies")

    new = {
        "Version": "2",
        "Dependencies": [
            {"Type": "BioSample", "Attributes": {"LabStatus": "Sequencing"}, "Dependencies": []}
        ],
    }
    local = tmp_path / "deps.json"
    local.write_text(json.dumps(new))
    sh(m, f"cp '{local}' '{workflow}/.workflowdependencies'")
    assert emu.api(f"{route}/workflowdependencies") == new
    bad = tmp_path / "bad.json"
    bad.write_text('{"Version": "3", "Dependencies": [oops')
    assert "Invalid argument" in _fails(m, f"cp '{bad}' '{workflow}/.workflowdependencies'")
    assert "not valid JSON" in sh(m, f"cat '{workflow}/.error'")
    assert emu.api(f"{route}/workflowdependencies") == new

    sh(
        m,
        "printf 'Name,Operator,Values\\nPercentQ30,GreaterThan,75\\n'"
        f" > '{workflow}/.qcthresholds.csv'",
    )
    stored = emu.api(f"{route}/qcthresholds")["QcThresholds"]
    assert [(t["Name"], t["ThresholdValues"]) for t in stored] == [("PercentQ30", [75])]
    sh(
        m,
        f"echo clear > '{workflow}/.qcthresholds'; echo clear > '{workflow}/.workflowdependencies'",
    )
    assert emu.api(f"{route}/qcthresholds") == {"QcThresholds": []}
    assert emu.api(f"{route}/workflowdependencies") == {"Version": "2", "Dependencies": []}


def test_create_workflow_from_an_appsession(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    sessions = m.path / "Projects" / os.readlink(m.path / "Projects" / ".id.20000001")
    dragen = (
        sessions / "AppSessions" / os.readlink(sessions / "AppSessions" / f".id.{DRAGEN_SESSION}")
    )
    assert "Nightly Germline" not in sh(m, "ls Applications")
    sh(
        m,
        "printf 'Nightly Germline\\nDRAGEN on every new biosample\\n'"
        f" > '{dragen}/.create-workflow'",
    )
    assert "Nightly Germline" in sh(m, "ls Applications").splitlines()
    shown = json.loads(sh(m, "cat 'Applications/Nightly Germline/.json'"))
    created = shown.get("Response", shown)  # its href may be the v1pre3 one (an envelope)
    assert created["Category"] == "Workflow"
    assert created["ShortDescription"] == "DRAGEN on every new biosample"
    assert emu.api(f"v2/applications/{created['Id']}/qcthresholds") == {"QcThresholds": []}
    assert sh(m, "cat 'Applications/Nightly Germline/.qcthresholds'") == (
        '{\n  "QcThresholds": []\n}\n'
    )
