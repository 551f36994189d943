"""Every control file of bsmount.controls.registry through the FUSE handlers, checked against
the emulator's state; and docs/control-files.md against the registry."""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from bsmount.controls.registry import CONTROL_FILES, markdown_table
from bsmount.emulator.seeds.demo import WORKFLOW_ID, WORKFLOW_NAME
from tests.emulator_proc import EmulatorProcess
from tests.fs.conftest import CTX, FS, Context

# the demo account has odd names on purpose (duplicates, "/"): renamed and reported once
pytestmark = pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.tree\.oddities: odd entries from the server in .*name\(s\) changed"
)

PROJECT = "Projects/.id.20000001"
RUNNING = "60000003"
COMPLETE = "60000001"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "control-files.md"
COVERED: set[str] = set()  # control files exercised by this module's tests


def covers(*names: str) -> None:
    COVERED.update(names)


async def _project(fs: FS) -> str:
    target = await fs.ops.readlink(await fs.ino(PROJECT), None)  # type: ignore[arg-type]
    return "Projects/" + target.decode()


async def _appsession(fs: FS, appsession_id: str) -> str:
    base = f"{await _project(fs)}/AppSessions"
    name = await fs.ops.readlink(await fs.ino(f"{base}/.id.{appsession_id}"), None)  # type: ignore[arg-type]
    return f"{base}/{name.decode()}"


def _api(emu: EmulatorProcess, path: str) -> Any:
    answer = emu.http.get(path, headers={"x-access-token": emu.token})
    return answer.json()


@pytest.mark.expect_log_warnings(
    r"write \.properties refused in .*: line 1: expected name=value",
    r"(write|flush)\(.*\) -> EINVAL: line 1: expected name=value",
)
async def test_properties_read_write_and_refusal(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".properties", ".error")
    project = await _project(fs)
    await fs.write(f"{project}/.properties", b"FsTier.Owner=lab-9\n")
    shown = json.loads(await fs.read(f"{project}/.properties"))
    assert shown["FsTier.Owner"] == "lab-9"
    props = _api(fs_emulator, "v1pre3/projects/20000001/properties")["Response"]["Items"]
    assert any(p["Name"] == "FsTier.Owner" and p["Content"] == "lab-9" for p in props)
    assert await fs.errno_of(fs.write(f"{project}/.properties", b"no equals sign\n")) == (
        errno.EINVAL
    )
    assert "expected name=value" in await fs.error_text(project)


@pytest.mark.expect_log_warnings(
    r"write \.kill refused in .*: appsession 60000001 is Complete",
    r"write\(.*\) -> EINVAL: appsession 60000001 is Complete",
)
async def test_status_kill_and_await(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".status", ".kill", ".await")
    running = await _appsession(fs, RUNNING)
    assert (await fs.read(f"{running}/.status")).strip() == b"Running"
    assert (await fs.read(f"{running}/.kill")).strip() == b"Running"
    assert ".await" not in await fs.listdir(running)  # unlisted: walkers never block on it
    await fs.write(f"{running}/.kill", b"stop\n")
    status = _api(fs_emulator, f"v2/appsessions/{RUNNING}")["ExecutionStatus"]
    assert status.lower() in ("stopped", "aborted", "canceled")
    final = json.loads(await fs.read(f"{running}/.await"))
    assert final["Response" if "Response" in final else "Id"]
    complete = await _appsession(fs, COMPLETE)
    assert await fs.errno_of(fs.write(f"{complete}/.kill", b"stop\n")) == errno.EINVAL
    assert "only running ones" in await fs.error_text(complete)


async def test_refresh_drops_cached_listings(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".refresh")
    before = set(await fs.listdir("Projects"))
    answer = fs_emulator.http.post(
        "v1pre3/projects",
        json={"Name": "Made elsewhere"},
        headers={"x-access-token": fs_emulator.token},
    )
    assert answer.status_code in (200, 201)
    assert "Made elsewhere" not in await fs.listdir("Projects")  # cached for the TTL
    await fs.write("Projects/.refresh", b"\n")
    assert set(await fs.listdir("Projects")) - before >= {"Made elsewhere"}


@pytest.mark.expect_log_warnings(
    r"write \.trash refused in .*: write exactly 'yes'",
    r"write\(.*\) -> EINVAL: write exactly 'yes'",
)
async def test_trash_and_commands(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".trash", ".commands")
    project = await _project(fs)
    samples = [n for n in await fs.listdir(f"{project}/Samples") if not n.startswith(".")]
    first, second = f"{project}/Samples/{samples[0]}", f"{project}/Samples/{samples[1]}"
    first_id = (await fs.read(f"{first}/.id")).decode().strip()
    second_id = (await fs.read(f"{second}/.id")).decode().strip()
    assert await fs.errno_of(fs.write(f"{first}/.trash", b"no\n")) == errno.EINVAL
    await fs.write(f"{first}/.trash", b"yes\n")
    assert f".id.{first_id}" not in await fs.listdir(f"{project}/Samples")
    assert fs_emulator.http.get(
        f"v1pre3/samples/{first_id}", headers={"x-access-token": fs_emulator.token}
    ).status_code in (404, 410)
    assert b"move-to-trash PATH" in await fs.read(".commands")
    await fs.write(".commands", f"move-to-trash {second}\n".encode())
    assert f".id.{second_id}" not in await fs.listdir(f"{project}/Samples")
    assert fs_emulator.http.get(
        f"v1pre3/samples/{second_id}", headers={"x-access-token": fs_emulator.token}
    ).status_code in (404, 410)
    await fs.write(".commands", b"unmount\n")
    assert fs.terminated == [True]


@pytest.mark.expect_log_warnings(r"uid \d+ may not write .*: only the mounting user may")
async def test_only_the_mounting_user_writes(fs: FS) -> None:
    covers(".error")
    other = Context(uid=os.getuid() + 1000)
    code = await fs.errno_of(fs.write(f"{await _project(fs)}/.properties", b"A.B=c\n", other))
    assert code == errno.EACCES
    ino = await fs.ino(f"{await _project(fs)}/.error")
    assert await fs.errno_of(fs.ops.open(ino, os.O_WRONLY, Context())) == errno.EACCES


async def test_bsmount_files(fs: FS) -> None:
    covers("stats", "version", "config")
    stats = json.loads(await fs.read(".bsmount/stats"))
    assert stats["api"] == "counted" and stats["uptime_seconds"] >= 0
    assert (await fs.read(".bsmount/version")).startswith(b"bsmount ")
    assert json.loads(await fs.read(".bsmount/config")) == {"metadata_ttl": 60}


async def _entries(fs: FS, path: str) -> list[str]:
    return [n for n in await fs.listdir(path) if not n.startswith(".")]


async def _trash_item(fs: FS, name: str) -> str:
    items = await _entries(fs, "Trash")
    assert name in items, (name, items)
    return f"Trash/{name}"


@pytest.mark.expect_log_warnings(
    r"write \.restore refused in .*: write exactly 'yes' to restore it",
    r"write\(.*\) -> EINVAL: write exactly 'yes' to restore it",
    r"write \.commands refused in .*: Projects is not an item of Trash/",
    r"write\(.*\) -> EINVAL: Projects is not an item of Trash/",
)
async def test_trash_lists_and_restores(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".trash", ".restore", ".commands")
    project = await _project(fs)
    samples = f"{project}/Samples"
    first, second = (await _entries(fs, samples))[:2]
    first_id = (await fs.read(f"{samples}/{first}/.id")).decode().strip()
    first_name = (await fs.read(f"{samples}/{first}/.name")).decode().strip()
    second_id = (await fs.read(f"{samples}/{second}/.id")).decode().strip()
    second_name = (await fs.read(f"{samples}/{second}/.name")).decode().strip()
    assert first_name not in await _entries(fs, "Trash")  # listed, then cached: a move refreshes
    await fs.write(f"{samples}/{first}/.trash", b"yes\n")
    item = await _trash_item(fs, first_name)
    assert f".id.{first_id}" not in await fs.listdir(samples)
    assert await fs.read(f"{item}/TrashItemType") == b"DeletedSample (FILEDATA+METADATA)\n"
    shown = json.loads(await fs.read(f"{item}/.json"))
    assert shown["DeletedSample"]["Id"] == first_id and shown["TrashStatus"] == "InTrash"
    assert await fs.errno_of(fs.write(f"{item}/.restore", b"no\n")) == errno.EINVAL
    assert "write exactly 'yes'" in await fs.error_text(item)
    await fs.write(f"{item}/.restore", b"yes\n")
    assert f".id.{first_id}" in await fs.listdir(samples)  # back at its place
    assert first_name not in await _entries(fs, "Trash")
    assert _api(fs_emulator, f"v1pre3/samples/{first_id}")["Response"]["Id"] == first_id
    # restore-from-trash PATH, BaseMount's word
    await fs.write(".commands", f"move-to-trash {samples}/{second}\n".encode())
    await _trash_item(fs, second_name)
    assert b"restore-from-trash PATH" in await fs.read(".commands")
    await fs.write(".commands", f"restore-from-trash Trash/{second_name}\n".encode())
    assert f".id.{second_id}" in await fs.listdir(samples)
    assert second_name not in await _entries(fs, "Trash")
    code = await fs.errno_of(fs.write(".commands", b"restore-from-trash Projects\n"))
    assert code == errno.EINVAL


@pytest.mark.expect_log_warnings(
    r"write \.trash refused in .*: projects have no file data of their own",
    r"write\(.*\) -> EINVAL: projects have no file data of their own",
    r"write \.empty refused in 'Trash': write exactly 'yes' to empty the trash",
    r"write\(.*\) -> EINVAL: write exactly 'yes' to empty the trash",
)
async def test_preserve_metadata_and_empty_trash(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".trash", ".empty")
    project = await _project(fs)
    sample = ""
    for shown in await _entries(fs, f"{project}/Samples"):
        if await _entries(fs, f"{project}/Samples/{shown}/Files"):
            sample = f"{project}/Samples/{shown}"
            break
    name = (await fs.read(f"{sample}/.name")).decode().strip()
    sample_id = (await fs.read(f"{sample}/.id")).decode().strip()
    await fs.write(f"{sample}/.trash", b"preserve-metadata\n")
    assert f".id.{sample_id}" in await fs.listdir(f"{project}/Samples")  # the sample stays...
    assert await _entries(fs, f"{sample}/Files") == []  # ...its files are in the trash
    item = await _trash_item(fs, name)
    assert await fs.read(f"{item}/TrashItemType") == b"DeletedSample (FILEDATA)\n"
    refused = fs.write(f"{project}/.trash", b"preserve-metadata\n")
    assert await fs.errno_of(refused) == errno.EINVAL
    assert await fs.errno_of(fs.write("Trash/.empty", b"please\n")) == errno.EINVAL
    assert _api(fs_emulator, "v2/trash")["Paging"]["TotalCount"] >= 2  # nothing emptied
    await fs.write("Trash/.empty", b"yes\n")
    assert await _entries(fs, "Trash") == []
    assert _api(fs_emulator, "v2/trash")["Items"] == []
    assert await _entries(fs, f"{sample}/Files") == []  # gone for good


@pytest.mark.expect_log_warnings(
    r"write \.properties refused in .*: no property named FsTier\.Nope to delete",
    r"write\(.*\) -> ENOENT: no property named FsTier\.Nope to delete",
    r"write Properties/<name> refused in .*: FsTier\.Ref is a run: write one id",
    r"write\(.*\) -> EINVAL: FsTier\.Ref is a run: write one id",
)
async def test_property_files_and_property_delete(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".properties", "Properties/<name>", "Properties/<list>")
    project = await _project(fs)
    props = f"{project}/Properties"
    listed = await fs.listdir(props)
    assert {"Lab.Contact", ".refresh", ".error"} <= set(listed)
    assert await fs.read(f"{props}/Lab.Contact") == b"Dr. Ada Lovelace\n"
    payload = {
        "FsTier.Note": "hello",
        "FsTier.Tags": ["a", "b"],
        "FsTier.Ref": {"type": "run", "id": "50000001"},
    }
    await fs.write(f"{project}/.properties", json.dumps(payload).encode())
    assert {"FsTier.Note", "FsTier.Tags", "FsTier.Ref"} <= set(await fs.listdir(props))
    assert await fs.read(f"{props}/FsTier.Tags") == b"a\nb\n"
    assert json.loads(await fs.read(f"{props}/FsTier.Ref"))["id"] == "50000001"
    # write one file: a line sets a string, lines replace a list (at close)
    await fs.write(f"{props}/FsTier.Note", b"bye\n")
    await fs.write(f"{props}/FsTier.Tags", b"x\ny\nz\n")
    api = {
        p["Name"]: p
        for p in _api(fs_emulator, "v1pre3/projects/20000001/properties")["Response"]["Items"]
    }
    assert api["FsTier.Note"]["Content"] == "bye" and api["FsTier.Tags"]["Items"] == ["x", "y", "z"]
    code = await fs.errno_of(fs.write(f"{props}/FsTier.Ref", b"1\n2\n"))
    assert code == errno.EINVAL
    # rm deletes one; `name=` and null in .properties delete others
    await fs.ops.unlink(await fs.ino(props), b"FsTier.Note", CTX)
    assert "FsTier.Note" not in await fs.listdir(props)
    await fs.write(f"{project}/.properties", b"FsTier.Tags=\n")
    await fs.write(f"{project}/.properties", b'{"FsTier.Ref": null}\n')
    refused = fs.write(f"{project}/.properties", b'{"FsTier.Nope": null}\n')
    assert await fs.errno_of(refused) == errno.ENOENT
    names = {
        p["Name"]
        for p in _api(fs_emulator, "v1pre3/projects/20000001/properties")["Response"]["Items"]
    }
    assert not names & {"FsTier.Note", "FsTier.Tags", "FsTier.Ref"} and "Lab.Contact" in names
    assert not {"FsTier.Tags", "FsTier.Ref"} & set(await fs.listdir(props))


@pytest.mark.parametrize(
    ("top", "kind", "route"),
    [("BioSamples", "biosamples", "v2/biosamples"), ("Runs", "runs", "v1pre3/runs")],
)
async def test_biosample_and_run_properties(
    fs: FS, fs_emulator: EmulatorProcess, top: str, kind: str, route: str
) -> None:
    covers("Properties/<name>")
    entity = f"{top}/{(await _entries(fs, top))[0]}"
    entity_id = (await fs.read(f"{entity}/.id")).decode().strip()
    await fs.write(f"{entity}/.properties", b"FsTier.Lane=3\n")
    assert await fs.read(f"{entity}/Properties/FsTier.Lane") == b"3\n"
    await fs.write(f"{entity}/Properties/FsTier.Lane", b"4\n")
    assert json.loads(await fs.read(f"{entity}/.properties"))["FsTier.Lane"] == "4"
    await fs.ops.unlink(await fs.ino(f"{entity}/Properties"), b"FsTier.Lane", CTX)
    answer = fs_emulator.http.get(
        f"{route}/{entity_id}/properties/FsTier.Lane", headers={"x-access-token": fs_emulator.token}
    )
    assert answer.status_code == 404
    assert "FsTier.Lane" not in await fs.listdir(f"{entity}/Properties")


def test_every_control_file_is_exercised() -> None:
    """Each control file is named by a ``covers(...)`` call of a test in tests/fs/."""
    declared = {
        name
        for path in Path(__file__).parent.glob("test_*.py")
        for call in re.findall(r"covers\(([^)]*)\)", path.read_text(encoding="utf-8"))
        for name in re.findall(r'"([^"]+)"', call)
    }
    assert {f.name for f in CONTROL_FILES} <= declared


def test_docs_table_matches_the_registry() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert markdown_table() in text, (
        "regenerate the table: bsmount.controls.registry.markdown_table"
    )


DRAGEN_SESSION = "60000002"  # DRAGEN Germline 3.9.5, an application of the demo catalogue
LANE_CSV = b"Name,Operator,Values,Optional\nPercentPf,GreaterThanOrEqual,90,false\n"


@pytest.mark.expect_log_warnings(
    r"write \.qcthresholds(\.csv)? refused in .*: threshold 1: Operator 'Around'",
    r"flush\(.*\) -> EINVAL: threshold 1: Operator 'Around'",
)
async def test_lane_thresholds_and_lanes(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".qcthresholds", ".qcthresholds.csv")
    seeded = json.loads(await fs.read("Runs/.qcthresholds"))["QcThresholds"]
    assert [t["Name"] for t in seeded] == ["PercentPf", "PercentGtQ30", "ErrorRate"]
    run = f"Runs/{(await _entries(fs, 'Runs'))[0]}"
    assert "Lanes" in await fs.listdir(run)
    lane = f"{run}/Lanes/1"
    lane_json = json.loads(await fs.read(f"{lane}/.json"))
    assert lane_json["LaneNumber"] == 1 and lane_json["PercentPf"] == 88.61
    assert b"thresholds\tpass\t3 of 3 met" in await fs.read(f"{lane}/.qc")
    # import (CSV): replaces; the lane now fails PercentPf >= 90
    await fs.write("Runs/.qcthresholds.csv", LANE_CSV)
    assert _api(fs_emulator, "v2/laneqcthresholds")["QcThresholds"] == [
        {"Name": "PercentPf", "Optional": False, "Operator": "GreaterThanOrEqual",
         "DatasetTypeId": "", "ThresholdValues": [90], "Group": "Lane"}
    ]  # fmt: skip
    assert await fs.read("Runs/.qcthresholds.csv") == (
        b"Name,Operator,Values,Group,DatasetTypeId,Optional\n"
        b"PercentPf,GreaterThanOrEqual,90,Lane,,false\n"
    )
    assert b"thresholds\tfail\t0 of 1 met" in await fs.read(f"{lane}/.qc")
    assert b"\nPercentPf\t88.61\t>= 90\tfail\n" in await fs.read(f"{lane}/.qc")
    # add: one more, the existing one kept
    await fs.write("Runs/.qcthresholds", b'add {"Name": "Yield", "Operator": "Between", '
                   b'"ThresholdValues": [10, 20], "Group": "Lane"}\n')  # fmt: skip
    names = [t["Name"] for t in _api(fs_emulator, "v2/laneqcthresholds")["QcThresholds"]]
    assert names == ["PercentPf", "Yield"]
    summary = (await fs.read(f"{run}/Lanes/.qc.csv")).decode().splitlines()
    assert summary[0].startswith("Lane,Id,Status,PercentPf") and summary[1].endswith(",fail")
    # bad input: EINVAL, the reason in .error, nothing changed
    bad = b"PercentPf,Around,90\n"
    assert await fs.errno_of(fs.write("Runs/.qcthresholds.csv", bad)) == errno.EINVAL
    assert "Operator 'Around'" in await fs.error_text("Runs")
    assert len(_api(fs_emulator, "v2/laneqcthresholds")["QcThresholds"]) == 2
    # clear, then the seed's thresholds back (import of the JSON first read)
    await fs.write("Runs/.qcthresholds", b"clear\n")
    assert _api(fs_emulator, "v2/laneqcthresholds") == {"QcThresholds": []}
    assert b"thresholds\tno thresholds" in await fs.read(f"{lane}/.qc")
    await fs.write("Runs/.qcthresholds", json.dumps({"QcThresholds": seeded}).encode())
    assert _api(fs_emulator, "v2/laneqcthresholds")["QcThresholds"] == seeded


@pytest.mark.expect_log_warnings(
    r"write \.create-workflow refused in .*: write the new workflow's name",
    r"flush\(.*\) -> EINVAL: write the new workflow's name",
)
async def test_create_workflow_from_an_appsession(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".create-workflow")
    dragen = await _appsession(fs, DRAGEN_SESSION)
    assert await fs.errno_of(fs.write(f"{dragen}/.create-workflow", b"\n")) == errno.EINVAL
    assert "workflow's name" in await fs.error_text(dragen)
    await fs.write(f"{dragen}/.create-workflow", b"FsTier Workflow\nmade by the fs tests\n")
    # the demo's first created workflow gets the emulator's first workflow id; writing the same
    # name again updates it (no second one)
    await fs.write(f"{dragen}/.create-workflow", b"FsTier Workflow\nupdated\n")
    made = _api(fs_emulator, "v2/applications/95000001/qcthresholds")
    assert made == {"QcThresholds": []}
    second = fs_emulator.http.get(
        "v2/applications/95000002/qcthresholds", headers={"x-access-token": fs_emulator.token}
    )
    assert second.status_code == 404


@pytest.mark.expect_log_warnings(
    r"write \.workflowdependencies refused in .*: dependency 1: Type is required",
    r"flush\(.*\) -> EINVAL: dependency 1: Type is required",
)
async def test_workflow_thresholds_and_dependencies(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".qcthresholds", ".qcthresholds.csv", ".workflowdependencies")
    workflow = f"Applications/{WORKFLOW_NAME}"
    listed = await fs.listdir(workflow)
    assert {".qcthresholds", ".qcthresholds.csv", ".workflowdependencies"} <= set(listed)
    native = f"Applications/{(await _entries(fs, 'Applications'))[0]}"
    assert native != workflow and ".qcthresholds" not in await fs.listdir(native)
    route = f"v2/applications/{WORKFLOW_ID}"
    csv_text = (await fs.read(f"{workflow}/.qcthresholds.csv")).decode()
    assert "TotalReadsPF,GreaterThanOrEqual,10000,Fastq,illumina.fastq.v1.8,false" in csv_text
    await fs.write(f"{workflow}/.qcthresholds", b"add PercentQ30,Between,80;100,Fastq\n")
    stored = _api(fs_emulator, f"{route}/qcthresholds")["QcThresholds"]
    assert [(t["Name"], t["ThresholdValues"]) for t in stored] == [
        ("TotalReadsPF", [10000]),
        ("PercentQ30", [70, 100]),  # DatasetTypeId differs: a threshold of its own
        ("PercentQ30", [80, 100]),
    ]
    deps = json.loads(await fs.read(f"{workflow}/.workflowdependencies"))
    assert deps["Version"] == "1" and deps["Dependencies"][0]["Type"] == "Dataset"
    extra = {"Type": "BioSample", "Attributes": {"LabStatus": "Sequencing"}, "Dependencies": []}
    await fs.write(f"{workflow}/.workflowdependencies", b"add " + json.dumps(extra).encode())
    after = _api(fs_emulator, f"{route}/workflowdependencies")
    assert after["Dependencies"] == [*deps["Dependencies"], extra]
    bad = b'{"Version": "2", "Dependencies": [{"Attributes": {}}]}'
    assert await fs.errno_of(fs.write(f"{workflow}/.workflowdependencies", bad)) == errno.EINVAL
    assert "Type is required" in await fs.error_text(workflow)
    assert _api(fs_emulator, f"{route}/workflowdependencies") == after
    await fs.write(f"{workflow}/.workflowdependencies", b"clear\n")
    await fs.write(f"{workflow}/.qcthresholds.csv", b"clear\n")
    assert _api(fs_emulator, f"{route}/workflowdependencies")["Dependencies"] == []
    assert _api(fs_emulator, f"{route}/qcthresholds") == {"QcThresholds": []}
