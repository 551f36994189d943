"""Run folders copied into ``Runs/`` through the FUSE handlers without a kernel (``bs upload
run``): files held until RunInfo.xml and RunParameters.xml are in, the run created with the
instrument type they give, later files streamed, ``.status``, ``.complete`` and ``.abort``, and
the refusals (a broken RunInfo.xml, an unknown instrument, completing too early, a file straight
in ``Runs/``) with nothing created on the server."""

from __future__ import annotations

import errno
import json
import os
from typing import Any

import pytest

from tests.emulator_proc import EmulatorProcess
from tests.fs.conftest import CTX, FS
from tests.fs.test_controls import covers

pytestmark = pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.tree\.oddities: odd entries from the server in .*name\(s\) changed"
)

RUN_INFO = b"""<?xml version="1.0"?>
<RunInfo Version="2">
  <Run Id="240102_M00002_0003_000000000-FSRUN" Number="3">
    <Flowcell>000000000-FSRUN</Flowcell>
    <Instrument>M00002</Instrument>
    <Reads>
      <Read Number="1" NumCycles="26" IsIndexedRead="N" />
      <Read Number="2" NumCycles="8" IsIndexedRead="Y" />
    </Reads>
  </Run>
</RunInfo>
"""
RUN_PARAMETERS = b"""<?xml version="1.0"?>
<RunParameters><Setup><ApplicationName>MiSeq Control Software</ApplicationName></Setup>
  <RunID>240102_M00002_0003_000000000-FSRUN</RunID></RunParameters>
"""


def _runs(emu: EmulatorProcess) -> dict[str, dict[str, Any]]:
    answer = emu.http.get("v1pre3/users/current/runs", headers={"x-access-token": emu.token})
    return {r["ExperimentName"]: r for r in answer.json()["Response"]["Items"]}


def _run_files(emu: EmulatorProcess, run_id: str) -> dict[str, dict[str, Any]]:
    answer = emu.http.get(
        f"v2/runs/{run_id}/files",
        params={"recursive": "true", "limit": 1000},
        headers={"x-access-token": emu.token},
    )
    return {f["Path"]: f for f in answer.json()["Items"]}


async def _status(fs: FS, folder: str) -> dict[str, Any]:
    status: dict[str, Any] = json.loads(await fs.read(f"{folder}/.status"))
    return status


async def test_files_wait_for_the_run_xml_files_then_go_up(
    fs: FS, fs_emulator: EmulatorProcess
) -> None:
    covers(".complete", ".status")
    await fs.ops.mkdir(await fs.ino("Runs"), b"FS run", 0o755, CTX)
    folder = "Runs/FS run"
    await fs.ops.mkdir(await fs.ino(folder), b"Data", 0o755, CTX)
    bcl = os.urandom(300_000)
    await fs.create(f"{folder}/Data/s_1_1101.bcl", bcl)  # before the XML files: held
    await fs.create(f"{folder}/RunParameters.xml", RUN_PARAMETERS)
    status = await _status(fs, folder)
    assert status["state"] == "waiting for RunInfo.xml"
    assert status["files_held"] == 2 and status["run_id"] is None
    assert "FS run" not in _runs(fs_emulator)  # nothing on the server yet
    assert (await fs.listdir(f"{folder}/Data"))["s_1_1101.bcl"].st_size == len(bcl)

    await fs.create(f"{folder}/RunInfo.xml", RUN_INFO)  # the run is made, held files sent
    status = await _status(fs, folder)
    assert status["state"] == "uploading" and status["instrument_type"] == "MiSeq"
    assert status["files_sent"] == 3 and status["files_held"] == 0
    run = _runs(fs_emulator)["FS run"]
    assert run["Status"] == "Uploading" and run["Id"] == status["run_id"]
    later = os.urandom(600_000)  # streamed in 256 KiB parts while written
    await fs.create(f"{folder}/Data/later.bin", later)
    files = _run_files(fs_emulator, run["Id"])
    assert set(files) == {
        "RunInfo.xml",
        "RunParameters.xml",
        "Data/s_1_1101.bcl",
        "Data/later.bin",
    }
    assert files["Data/later.bin"]["ETag"].endswith("-3")
    assert await fs.read(f"{folder}/Data/s_1_1101.bcl") == bcl  # read back the server's bytes

    await fs.write(f"{folder}/.complete", b"yes\n")
    run = _runs(fs_emulator)["FS run"]
    assert run["Status"] == "Complete"
    listing = await fs.listdir("Runs/FS run/Files/Data")
    assert {"s_1_1101.bcl", "later.bin"} <= set(listing)
    assert await fs.read("Runs/FS run/Files/Data/later.bin") == later
    assert (await fs.read("Runs/FS run/.id")).decode().strip() == run["Id"]


@pytest.mark.expect_log_warnings(
    r"upload 'RunInfo\.xml' refused in .*: RunInfo\.xml is not valid XML",
    r"(flush|release)\(.*\) -> EINVAL: RunInfo\.xml is not valid XML",
    r"upload 'RunParameters\.xml' refused in .*: cannot tell the instrument type",
    r"(flush|release)\(.*\) -> EINVAL: cannot tell the instrument type",
    r"write \.complete refused in .*: run folder 'FS bad run' has no run yet",
    r"write\(.*\) -> EINVAL: run folder 'FS bad run' has no run yet",
)
async def test_bad_run_xml_files_are_refused_and_nothing_is_created(
    fs: FS, fs_emulator: EmulatorProcess
) -> None:
    covers(".abort")
    await fs.ops.mkdir(await fs.ino("Runs"), b"FS bad run", 0o755, CTX)
    folder = "Runs/FS bad run"
    await fs.create(f"{folder}/InterOp.bin", b"metrics")
    code = await fs.errno_of(fs.create(f"{folder}/RunInfo.xml", b"<RunInfo><Run Id='x'>"))
    assert code == errno.EINVAL
    assert "RunInfo.xml is not valid XML" in await fs.error_text(folder)
    assert "RunInfo.xml" not in await fs.listdir(folder)  # dropped: a good one may follow
    await fs.create(f"{folder}/RunInfo.xml", RUN_INFO.replace(b"M00002", b"Q00002"))
    unknown = b"<RunParameters><Setup><ApplicationName>Sanger 3730</ApplicationName></Setup>"
    unknown += b"</RunParameters>"
    code = await fs.errno_of(fs.create(f"{folder}/RunParameters.xml", unknown))
    assert code == errno.EINVAL
    assert "cannot tell the instrument type" in await fs.error_text(folder)
    code = await fs.errno_of(fs.write(f"{folder}/.complete", b"yes\n"))
    assert code == errno.EINVAL  # no run yet
    assert "FS bad run" not in _runs(fs_emulator)
    log = fs_emulator.http.get("/_emulator/requests").json()
    assert not [r for r in log if r["method"] == "POST" and r["path"] == "/v2/runs"]

    await fs.write(f"{folder}/.abort", b"yes\n")  # drops the folder: nothing was sent
    assert "FS bad run" not in await fs.listdir("Runs")
    assert (await fs.read(".bsmount/uploads")).count(b'"path"') == 0


@pytest.mark.expect_log_warnings(
    r"create 'loose\.txt' refused in 'Runs': cannot create 'loose\.txt' in Runs/",
    r"create\(.*\) -> EROFS: cannot create 'loose\.txt' in Runs/",
)
async def test_runs_takes_folders_not_files(fs: FS) -> None:
    code = await fs.errno_of(fs.create("Runs/loose.txt", b"x"))
    assert code == errno.EROFS
    runs = await fs.ino("Runs")
    await fs.ops.mkdir(runs, b"FS empty", 0o755, CTX)
    await fs.ops.rmdir(runs, b"FS empty", CTX)  # nothing was sent: it just goes
    assert "FS empty" not in await fs.listdir("Runs")


async def test_held_files_may_outgrow_the_spool_budget(
    fs: FS, fs_emulator: EmulatorProcess
) -> None:
    """Files held for RunInfo.xml wait on disk out of the spool's budget (16 MiB here): a copy
    that writes 21 MiB first neither blocks nor fails with ENOSPC."""
    await fs.ops.mkdir(await fs.ino("Runs"), b"FS big run", 0o755, CTX)
    folder = "Runs/FS big run"
    blobs = {f"L00{i}.bin": os.urandom(7 << 20) for i in range(1, 4)}
    for name, data in blobs.items():
        await fs.create(f"{folder}/{name}", data, chunk=1 << 20)
    assert fs.ops.writes is not None and fs.ops.writes.uploads.spool.used == 0  # all parked
    status = await _status(fs, folder)
    assert status["files_held"] == 3 and status["files_sent"] == 0
    await fs.create(f"{folder}/RunParameters.xml", RUN_PARAMETERS)
    await fs.create(f"{folder}/RunInfo.xml", RUN_INFO)
    status = await _status(fs, folder)
    assert status["files_sent"] == 5 and status["bytes_sent"] == sum(map(len, blobs.values())) + (
        len(RUN_PARAMETERS) + len(RUN_INFO)
    )
    files = _run_files(fs_emulator, status["run_id"])
    assert {name: files[name]["Size"] for name in blobs} == {n: 7 << 20 for n in blobs}
    assert await fs.read(f"{folder}/L002.bin") == blobs["L002.bin"]
    spool_dir = fs.ops.writes.uploads.spool.path
    assert list(spool_dir.iterdir()) == []  # every spool file removed once sent


@pytest.mark.expect_log_warnings(
    r"write \.complete refused in .*: 1 file\(s\) of run folder 'FS open run' are still",
    r"write\(.*\) -> EBUSY: 1 file\(s\) of run folder 'FS open run'",
)
async def test_a_file_flushed_but_still_open_goes_up_at_its_release(
    fs: FS, fs_emulator: EmulatorProcess
) -> None:
    """A file closed once (flush) but still held open (a dup'd descriptor) when the run is made
    is sent at its release, not before."""
    await fs.ops.mkdir(await fs.ino("Runs"), b"FS open run", 0o755, CTX)
    folder = "Runs/FS open run"
    info, _ = await fs.ops.create(
        await fs.ino(folder), b"SampleSheet.csv", 0o644, os.O_WRONLY | os.O_CREAT, CTX
    )
    await fs.ops.write(info.fh, 0, b"[Header]\n")
    await fs.ops.flush(info.fh)  # held: the run does not exist yet
    await fs.create(f"{folder}/RunParameters.xml", RUN_PARAMETERS)
    await fs.create(f"{folder}/RunInfo.xml", RUN_INFO)
    status = await _status(fs, folder)
    assert status["files_sent"] == 2 and status["files_held"] == 1
    code = await fs.errno_of(fs.write(f"{folder}/.complete", b"yes\n"))
    assert code == errno.EBUSY  # the sheet is still open
    await fs.ops.release(info.fh)
    status = await _status(fs, folder)
    assert status["files_sent"] == 3 and status["files_held"] == 0
    assert "SampleSheet.csv" in _run_files(fs_emulator, status["run_id"])
    await fs.write(f"{folder}/.complete", b"yes\n")
    assert _runs(fs_emulator)["FS open run"]["Status"] == "Complete"
