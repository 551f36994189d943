"""``Applications/`` and the account's ``AppSessions/`` through the FUSE handlers: the catalogue,
the form, ``.launch`` (paths resolved, local and server refusals in ``.error``, sent once), and an
analysis's ``Logs/`` (growing), ``Inputs/``, ``Outputs/`` and ``.status/`` filters."""

from __future__ import annotations

import errno
import json
import stat

import pytest
import trio

from bsmount.emulator.seeds.demo_apps import ALIGNER_ID
from tests.emulator_proc import EmulatorProcess
from tests.fs.conftest import FS
from tests.fs.test_controls import covers

pytestmark = pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.tree\.oddities: odd entries from the server in .*name\(s\) changed"
)

ALIGNER = "Applications/BWA Aligner"
SAMPLES = "Projects/.id.20000001/Samples"
LAUNCH_PATH = f"{ALIGNER}/.launch"


async def _launch(fs: FS, payload: bytes) -> dict[str, str]:
    await fs.write(LAUNCH_PATH, payload)
    text = (await fs.read(LAUNCH_PATH)).decode()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


async def test_catalogue_form_and_versions(fs: FS) -> None:
    apps = await fs.listdir("Applications")
    assert {"BWA Aligner", "FASTQ Toolkit", "DRAGEN Germline", "FastQC"} <= set(apps)
    assert f".id.{ALIGNER_ID}" in apps
    assert {".list.csv", ".list.json", ".headers"} <= set(apps)
    csv = (await fs.read("Applications/.list.csv")).decode()
    assert csv.splitlines()[0] == "Name,Id,VersionNumber"
    assert f"BWA Aligner,{ALIGNER_ID},1.1.4" in csv
    aligner = await fs.listdir(ALIGNER)
    assert {".form", ".form.json", ".settings.json", ".launch", ".json", "Versions"} <= set(aligner)
    form = (await fs.read(f"{ALIGNER}/.form")).decode()
    header, *rows = form.splitlines()
    assert header.split()[:3] == ["Option", "Type", "Required"]
    assert any(r.split()[:3] == ["sample-id", "sample[]", "yes"] for r in rows)
    fields = json.loads(await fs.read(f"{ALIGNER}/.form.json"))["Fields"]
    genome = next(f for f in fields if f["Id"] == "genome-id")
    assert genome["Default"] == "hg19" and "hg38" in genome["Choices"]
    settings = json.loads(await fs.read(f"{ALIGNER}/.settings.json"))
    assert settings["Id"] == ALIGNER_ID and "ClientSecret" not in settings
    versions = await fs.listdir(f"{ALIGNER}/Versions")
    assert {"1.1.4", "1.0.0"} <= set(versions)
    old = json.loads(await fs.read(f"{ALIGNER}/Versions/1.0.0/.json"))
    assert old.get("VersionNumber", old.get("Response", {}).get("VersionNumber")) == "1.0.0"
    assert ".launch" in await fs.listdir(f"{ALIGNER}/Versions/1.0.0")


@pytest.mark.expect_log_warnings(
    r"write \.launch refused in .*: unknown field nosuch",
    r"-> EINVAL: unknown field nosuch",
    r"write \.launch refused in .*: required field missing: sample-id",
    r"-> EINVAL: required field missing",
    r"write \.launch refused in .*: sample-id: .* the field takes samples",
    r"-> EINVAL: sample-id:",
    r"write \.launch refused in .*INVALID_INPUT_TYPE",
    r"-> EINVAL: HTTP 400 BASESPACE.APPLICATIONS.INVALID_INPUT_TYPE",
)
async def test_bad_launches_are_einval_with_the_reason(
    fs: FS, fs_emulator: EmulatorProcess
) -> None:
    covers(".launch", ".error")
    before = _launch_posts(fs_emulator)
    cases = [
        (b"project-id=20000001\nsample-id=30000001\nnosuch=1\n", "unknown field nosuch"),
        (b"project-id=Projects/.id.20000001\n", "required field missing: sample-id"),
        (b"project-id=20000001\nsample-id=Projects/.id.20000001\n", "the field takes samples"),
    ]
    for payload, reason in cases:
        code = await fs.errno_of(fs.write(LAUNCH_PATH, payload))
        assert code == errno.EINVAL
        assert reason in await fs.error_text(ALIGNER)
    assert _launch_posts(fs_emulator) == before  # refused before anything was sent
    # the server's own refusal: a JSON body whose Type the form does not take
    body = {
        "Properties": [
            {"Name": "project-id", "Type": "project", "Content": "v1pre3/projects/20000001"},
            {"Name": "sample-id", "Type": "sample", "Content": "v1pre3/samples/30000001"},
        ]
    }
    code = await fs.errno_of(fs.write(LAUNCH_PATH, json.dumps(body).encode()))
    assert code == errno.EINVAL
    assert "INVALID_INPUT_TYPE" in await fs.error_text(ALIGNER)
    assert _launch_posts(fs_emulator) == before + 1


def _launch_posts(emu: EmulatorProcess) -> int:
    return sum(
        1
        for r in emu.requests()
        if r["method"] == "POST" and r["path"].endswith(f"/applications/{ALIGNER_ID}/appsessions")
    )


async def test_launch_runs_with_growing_logs_inputs_and_outputs(
    fs: FS, fs_emulator: EmulatorProcess
) -> None:
    covers(".launch", ".status", ".await")
    fs_emulator.http.post(
        "/_emulator/launches/config", json={"pending_seconds": 0.2, "run_seconds": 3}
    )
    launched = await _launch(
        fs,
        b"project-id=Projects/.id.20000001\n"
        b"sample-id=" + SAMPLES.encode() + b"/.id.30000001\n"
        b"name=fs tier alignment\n",
    )
    assert launched["name"] == "fs tier alignment"
    session = launched["path"]
    assert session.startswith("AppSessions/")
    assert (await fs.read(f"{session}/.id")).decode().strip() == launched["id"]
    inputs = await fs.listdir(f"{session}/Inputs")
    assert stat.S_ISLNK(inputs["sample-id.1"].st_mode)  # type: ignore[attr-defined]
    target = await fs.ops.readlink(await fs.ino(f"{session}/Inputs/sample-id.1"), None)  # type: ignore[arg-type]
    assert target.decode() == "../../../.ResourceById/samples/30000001"
    assert target.decode().endswith("/samples/30000001")
    assert (await fs.read(".ResourceById/samples/30000001/.id")) == b"30000001\n"
    # the log grows while the analysis runs: stat sees it, reads past the old end see more
    sizes = []
    for _ in range(40):
        logs = [n for n in await fs.listdir(f"{session}/Logs") if n.endswith(".log")]
        if logs:
            ino = await fs.ino(f"{session}/Logs/{logs[0]}")
            sizes.append((await fs.ops.getattr(ino, None)).st_size)  # type: ignore[arg-type]
            if len(set(sizes)) >= 2:
                break
        await trio.sleep(0.3)
    assert len(set(sizes)) >= 2, sizes
    final = json.loads(await fs.read(f"{session}/.await"))
    assert (final.get("ExecutionStatus") or final.get("Status")) == "Complete"
    log_text = await fs.read(f"{session}/Logs/{logs[0]}")
    assert len(log_text) >= max(sizes)
    assert (await fs.ops.getattr(ino, None)).st_size == len(log_text)  # type: ignore[arg-type]
    # the same analysis in its project's AppSessions/ and by id: Logs/ and Inputs/ there too
    project = (await fs.ops.readlink(await fs.ino("Projects/.id.20000001"), None)).decode()  # type: ignore[arg-type]
    in_project = f"Projects/{project}/AppSessions"
    link = await fs.ops.readlink(await fs.ino(f"{in_project}/.id.{launched['id']}"), None)  # type: ignore[arg-type]
    for where in (f"{in_project}/{link.decode()}", f".ResourceById/appsessions/{launched['id']}"):
        assert logs[0] in await fs.listdir(f"{where}/Logs")
        assert await fs.read(f"{where}/Logs/{logs[0]}") == log_text
        assert "sample-id.1" in await fs.listdir(f"{where}/Inputs")
    await fs.write(f"{session}/.refresh", b"1\n")
    outputs = await fs.listdir(f"{session}/Outputs")
    bams = []
    for name in [n for n in outputs if not n.startswith(".")]:
        link = await fs.ops.readlink(await fs.ino(f"{session}/Outputs/{name}"), None)  # type: ignore[arg-type]
        assert link.decode().startswith("../../../.ResourceById/appresults/")
        files = await fs.listdir(link.decode().removeprefix("../../../") + "/Files")
        bams += [f for f in files if f.endswith(".bam")]
    assert bams, outputs


@pytest.mark.expect_log_warnings(
    r"write \.launch refused in .*",
    r"-> EIO: .*",
    r"giving up on POST .*",
)
async def test_a_launch_whose_answer_is_lost_is_not_sent_again(
    fs: FS, fs_emulator: EmulatorProcess
) -> None:
    covers(".launch")
    fs_emulator.add_fault(
        method="POST", path=r"^/v1pre3/applications/\d+/appsessions$", action="reset", count=1
    )
    before = _launch_posts(fs_emulator)
    code = await fs.errno_of(fs.write(LAUNCH_PATH, b"project-id=20000001\nsample-id=30000001\n"))
    assert code in (errno.EIO, errno.ECONNRESET)
    assert _launch_posts(fs_emulator) == before + 1


async def test_account_appsessions_and_status_filters(fs: FS) -> None:
    sessions = await fs.listdir("AppSessions")
    assert ".status" in sessions and ".id.60000003" in sessions
    running = await fs.listdir("AppSessions/.status/Running")
    targets = [
        (await fs.ops.readlink(await fs.ino(f"AppSessions/.status/Running/{n}"), None)).decode()  # type: ignore[arg-type]
        for n in running
        if not n.startswith(".")
    ]
    assert targets and all(t.startswith("../../") for t in targets)
    complete = await fs.listdir("AppSessions/.status/Complete")
    assert len([n for n in complete if not n.startswith(".")]) >= 4
    link = await fs.ops.readlink(await fs.ino("AppSessions/.id.60000003"), None)  # type: ignore[arg-type]
    one = f"AppSessions/{link.decode()}"
    assert (await fs.read(f"{one}/.status")).strip() == b"Running"
    assert {"Inputs", "Logs", "Outputs", ".kill", ".status", ".properties"} <= set(
        await fs.listdir(one)
    )
