"""Uploading run folders through a real mount (``bs upload run``; docs/lab.md "Uploading run
folders"): ``cp -r``, ``rsync -a`` and mkdir-then-copy of a small MiSeq run folder (the demo's
RunInfo.xml, RunParameters.xml, SampleSheet.csv, InterOp/, Logs/, Config/, BaseCalls of a few
cycles, and a 3 MiB file sent in parts) into ``Runs/``; ``.complete``; every file read back
through a fresh listing of the mount and straight from the emulator, md5 for md5. A folder whose
RunInfo.xml is broken, or whose instrument cannot be told, fails with EINVAL, the reason in
``.error``, and no run is created.

The module's emulator takes 64 KiB parts and the mount sends 1 MiB parts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bsmount.emulator.genomics.runfolder import write_run_folder
from tests.emulator_proc import EmulatorProcess
from tests.mount.apiwalk import complete, direct_md5, items
from tests.mount.mounting import SMALL_PARTS, Mount, demo_with_mount, sh

pytestmark = pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.tree\.oddities: odd entries from the server in .*name\(s\) changed",
)
KEPT_CYCLES = 4  # BaseCalls cycles kept of the demo's 310: a folder of 37 files, 6 MB


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, Mount]]:
    base = tmp_path_factory.mktemp("runupload")
    with demo_with_mount(
        base, *SMALL_PARTS, "--cache-dir", str(base / "cache"), min_part_size=64 * 1024
    ) as both:
        yield both


def _run_folder(root: Path) -> dict[str, str]:
    """A small run folder at ``root``; relative path -> md5."""
    write_run_folder(root, [("S1", "Sample1", "ACGTACGT"), ("S2", "Sample2", "TGCATGCA")])
    base_calls = root / "Data" / "Intensities" / "BaseCalls" / "L001"
    for cycle in base_calls.glob("C*.1"):
        if int(cycle.name[1:].split(".")[0]) > KEPT_CYCLES:
            shutil.rmtree(cycle)
    (root / "Thumbnail_Images").mkdir()
    (root / "Thumbnail_Images" / "big.bin").write_bytes(os.urandom(3 * (1 << 20) + 12345))
    return {
        str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _mount_md5s(folder: Path) -> dict[str, str]:
    out = subprocess.run(
        ["find", ".", "-type", "f", "!", "-name", ".*", "-exec", "md5sum", "{}", "+"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    sums = {}
    for line in out.splitlines():
        digest, path = line.split(None, 1)
        sums[path.removeprefix("./")] = digest
    return sums


def _run(emu: EmulatorProcess, name: str) -> dict[str, Any] | None:
    for run in items(emu, "v1pre3/users/current/runs"):
        if run["ExperimentName"] == name:
            return run
    return None


def _check_run(emu: EmulatorProcess, m: Mount, name: str, expected: dict[str, str]) -> None:
    """The run is Complete; a fresh listing of the mount and the API both give every file."""
    run = _run(emu, name)
    assert run is not None and run["Status"] == "Complete", run
    v2 = emu.api(f"v2/runs/{run['Id']}")
    assert v2["UploadStatus"] == "Completed" and v2["Instrument"]["Type"] == "MiSeq"
    assert v2["Name"] == "180718_M04074_0242_000000000-BRGPG"
    files = complete(items(emu, f"v2/runs/{run['Id']}/files", recursive="true"))
    assert {f["Path"]: direct_md5(emu, f["Id"]) for f in files} == expected
    assert name in os.listdir(m.path / "Runs")
    assert (m.path / "Runs" / name / ".id").read_text().strip() == run["Id"]
    assert _mount_md5s(m.path / "Runs" / name / "Files") == expected


def test_cp_r_a_run_folder_into_runs(setup: tuple[EmulatorProcess, Mount], tmp_path: Path) -> None:
    emu, m = setup
    source = tmp_path / "Run_cp"
    expected = _run_folder(source)
    size = sum((source / p).stat().st_size for p in expected)
    since = emu.requests()[-1]["index"] + 1
    started = time.monotonic()
    subprocess.run(["cp", "-r", str(source), str(m.path / "Runs")], check=True, timeout=300)
    took = time.monotonic() - started
    requests = [(r["method"], r["path"]) for r in emu.requests(since)]
    assert requests.count(("POST", "/v2/runs")) == 1
    file_posts = [p for method, p in requests if method == "POST" and p.endswith("/files")]
    assert len(file_posts) == len(expected)  # one per file (a multipart one: its initiate)
    sizes = [(source / p).stat().st_size for p in expected]
    parts = sum(-(-size // (1 << 20)) for size in sizes if size > 1 << 20)  # 1 MiB parts
    assert sum(1 for method, _ in requests if method == "PUT") == parts
    assert not [p for method, p in requests if method == "GET" and p.endswith("/files")]
    rate = size / took / 1e6
    print(f"cp -r of {len(expected)} files, {size} bytes: {took:.2f} s, {rate:.1f} MB/s")
    folder = m.path / "Runs" / "Run_cp"
    status = json.loads((folder / ".status").read_text())
    assert status["state"] == "uploading" and status["files_failed"] == {}
    assert status["files_sent"] == len(expected) and status["instrument_type"] == "MiSeq"
    assert _mount_md5s(folder) == expected  # read back before completion (the server's bytes)
    run = _run(emu, "Run_cp")
    assert run is not None and run["Status"] == "Uploading"
    (folder / ".complete").write_text("yes\n")
    _check_run(emu, m, "Run_cp", expected)


def test_rsync_a_run_folder(setup: tuple[EmulatorProcess, Mount], tmp_path: Path) -> None:
    emu, m = setup
    source = tmp_path / "Run_rsync"
    expected = _run_folder(source)
    subprocess.run(
        ["rsync", "-a", f"{source}/", str(m.path / "Runs" / "Run_rsync")], check=True, timeout=300
    )
    (m.path / "Runs" / "Run_rsync" / ".complete").write_text("yes\n")
    _check_run(emu, m, "Run_rsync", expected)


def test_mkdir_then_copy(setup: tuple[EmulatorProcess, Mount], tmp_path: Path) -> None:
    """The way for big runs: the two XML files first (the run exists, nothing is held), then
    the rest (``cp -n`` skips the two already there)."""
    emu, m = setup
    source = tmp_path / "Run_mkdir"
    expected = _run_folder(source)
    sh(
        m,
        f"mkdir Runs/Run_mkdir && cp {source}/RunInfo.xml {source}/RunParameters.xml "
        "Runs/Run_mkdir/",
    )
    status = json.loads((m.path / "Runs" / "Run_mkdir" / ".status").read_text())
    assert status["state"] == "uploading" and status["files_sent"] == 2
    sh(m, f"cp -rn {source}/. Runs/Run_mkdir/ && echo yes > Runs/Run_mkdir/.complete")
    _check_run(emu, m, "Run_mkdir", expected)


@pytest.mark.expect_log_warnings(
    r"upload 'RunInfo\.xml' refused in 'Runs/upload/Run_broken': RunInfo\.xml is not valid XML",
    r"upload 'RunParameters\.xml' refused in 'Runs/upload/Run_unknown': cannot tell the "
    r"instrument type",
    r"(flush|release)\(\d+\) -> EINVAL: (RunInfo\.xml is not valid XML|cannot tell the instrument)",
)
def test_broken_run_folders_are_refused_and_nothing_is_created(
    setup: tuple[EmulatorProcess, Mount], tmp_path: Path
) -> None:
    emu, m = setup
    log_start = emu.requests()[-1]["index"] + 1
    broken = tmp_path / "Run_broken"
    _run_folder(broken)
    (broken / "RunInfo.xml").write_text('<?xml version="1.0"?>\n<RunInfo><Run Id="x">\n')
    done = subprocess.run(
        ["cp", "-r", str(broken), str(m.path / "Runs")], capture_output=True, text=True, timeout=300
    )
    assert done.returncode != 0 and "RunInfo.xml" in done.stderr
    assert "Invalid argument" in done.stderr
    folder = m.path / "Runs" / "Run_broken"
    assert "RunInfo.xml is not valid XML" in (folder / ".error").read_text()
    assert json.loads((folder / ".status").read_text())["run_id"] is None
    assert _run(emu, "Run_broken") is None

    unknown = tmp_path / "Run_unknown"
    _run_folder(unknown)
    parameters = unknown / "RunParameters.xml"
    parameters.write_text(
        parameters.read_text().replace("MiSeq Control Software", "Sanger Control Software")
    )
    info = unknown / "RunInfo.xml"
    info.write_text(info.read_text().replace("<Instrument>M04074", "<Instrument>Q04074"))
    done = subprocess.run(
        ["cp", "-r", str(unknown), str(m.path / "Runs")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0 and "Invalid argument" in done.stderr
    text = (m.path / "Runs" / "Run_unknown" / ".error").read_text()
    assert "cannot tell the instrument type" in text and "Sanger Control Software" in text
    assert _run(emu, "Run_unknown") is None
    posts = [r for r in emu.requests(log_start) if r["path"] == "/v2/runs"]
    assert posts == []  # nothing was created on the server

    # .abort drops a folder (rm -r cannot: its control files are not files to remove)
    sh(m, "echo yes > Runs/Run_unknown/.abort && echo yes > Runs/Run_broken/.abort")
    assert not {"Run_unknown", "Run_broken"} & set(os.listdir(m.path / "Runs"))
    uploads = json.loads((m.path / ".bsmount" / "uploads").read_text())
    assert uploads["in_flight"] == []
