"""Applications and launches over HTTP (in-process app, demo seed): the catalogue routes, the
launch body's validation (each kind of refusal), the launch answer's shape, the lifecycle
Pending -> Running -> Complete with real outputs (the aligner's BAM read count, the caller's
VCF + TBI, the toolkit's FASTQ, the QC report), growing log files, account-wide listings, and the
control plane (finish, fail, speed, start, stop)."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pysam
import pytest
import trio

from bsmount.emulator.config import default_data_dir
from bsmount.emulator.seeds import demo
from bsmount.emulator.seeds.demo_apps import ALIGNER_ID, CALLER_ID, FASTQ_TOOLKIT_ID, QC_ID
from bsmount.emulator.seeds.load import SeedError, load_seed, load_seed_data
from bsmount.emulator.state.account import EmulatorState
from tests.emulator.seeds import api_client

TOKEN = demo.DEMO_TOKEN


@pytest.fixture
def state() -> EmulatorState:
    return load_seed("demo", default_data_dir())


@pytest.fixture
async def client(state: EmulatorState) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(state, token=TOKEN) as http:
        # Short runs for the tests (the demo's apps take a few seconds).
        answer = await http.post(
            "/_emulator/launches/config", json={"pending_seconds": 0.2, "run_seconds": 0.6}
        )
        assert answer.status_code == 200
        yield http


def _named(state: EmulatorState, kind: str, name: str) -> str:
    return next(e.id for e in state.model.table(kind).values() if e.name == name)


def _project(state: EmulatorState) -> str:
    return _named(state, "projects", demo.GENOMICS_PROJECT)


def _sample(state: EmulatorState, name: str = "NA12878:rerun") -> str:
    return _named(state, "samples", name)


def _body(props: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"Name": "test launch", "StatusSummary": "AutoLaunch", "AutoStart": True,
            "Properties": props, **extra}  # fmt: skip


def _aligner_props(state: EmulatorState, *samples: str) -> list[dict[str, Any]]:
    ids = samples or (_sample(state),)
    return [
        {"Name": "Input.project-id", "Type": "project",
         "Content": f"v1pre3/projects/{_project(state)}"},
        {"Name": "Input.sample-id", "Type": "sample[]",
         "items": [f"v1pre3/samples/{i}" for i in ids]},
    ]  # fmt: skip


async def _launch(client: httpx.AsyncClient, app_id: str, body: Any) -> httpx.Response:
    return await client.post(f"/v1pre3/applications/{app_id}/appsessions", json=body)


async def _wait(client: httpx.AsyncClient, session_id: str, timeout: float = 30) -> dict[str, Any]:
    with trio.fail_after(timeout):
        while True:
            session: dict[str, Any] = (await client.get(f"/v2/appsessions/{session_id}")).json()
            if session["ExecutionStatus"] not in ("Pending", "Running"):
                return session
            await trio.sleep(0.1)


async def _content(client: httpx.AsyncClient, file_id: str) -> bytes:
    meta = (await client.get(f"/v2/files/{file_id}/content?redirect=meta")).json()
    answer = await client.get(meta["HrefContent"])
    assert answer.status_code == 200
    return answer.content


async def _result_files(client: httpx.AsyncClient, session_id: str) -> dict[str, dict[str, Any]]:
    results = (await client.get(f"/v1pre3/appsessions/{session_id}/appresults")).json()
    files: dict[str, dict[str, Any]] = {}
    for result in results["Response"]["Items"]:
        listing = (await client.get(f"/v1pre3/appresults/{result['Id']}/files")).json()
        files.update({f["Path"]: f for f in listing["Response"]["Items"]})
    return files


# ---------------------------------------------------------------------- catalogue
async def test_catalogue_routes(client: httpx.AsyncClient) -> None:
    v1 = (await client.get("/v1pre3/applications")).json()["Response"]
    names = {a["Name"]: a for a in v1["Items"]}
    demo_apps = {"FASTQ Toolkit", "BWA Aligner", "DRAGEN Germline", "FastQC"}
    assert set(names) >= demo_apps  # (the demo may hold more, e.g. analysis workflows)
    assert names["BWA Aligner"]["Id"] == ALIGNER_ID and names["BWA Aligner"]["VersionNumber"] == (
        "1.1.4"
    )
    assert names["DRAGEN Germline"]["VersionNumber"] == "3.10.4"  # 3.10 > 3.9
    assert names["BWA Aligner"]["Href"] == f"v1pre3/applications/{ALIGNER_ID}"
    assert names["BWA Aligner"]["AppFamilySlug"] == "illumina-inc.bwa-aligner"
    every = (await client.get("/v2/applications?allversions=true")).json()["Items"]
    assert len([a for a in every if a["Name"] in demo_apps]) == 8
    mine = (await client.get("/v1pre3/users/current/applications")).json()["Response"]
    assert len([a for a in mine["Items"] if a["Name"] in demo_apps]) == 4
    one = (await client.get(f"/v1pre3/applications/{ALIGNER_ID}")).json()["Response"]
    fields = {f["Id"]: f for f in one["InputForm"]["Fields"]}
    assert fields["project-id"] == {
        "Id": "project-id", "Type": "project", "PropertyType": "project",
        "Label": "Save Results To", "Required": True, "Default": None, "Choices": [],
        "Description": "",
    }  # fmt: skip
    assert fields["sample-id"]["Type"] == "sample[]" and fields["sample-id"]["Required"]
    assert fields["genome-id"]["Choices"] == ["hg19", "hg38", "mm10"]
    v2 = (await client.get(f"/v2/applications/{CALLER_ID}")).json()
    assert v2["Name"] == "DRAGEN Germline" and "InputForm" in v2
    settings = (await client.get(f"/v2/applications/{QC_ID}/settings")).json()
    assert settings["Id"] == QC_ID and settings["CompanyName"] == "BaseSpace Labs"
    assert "ClientSecret" not in settings
    versions = (await client.get(f"/v2/applications/{FASTQ_TOOLKIT_ID}/versions")).json()
    assert versions["ResponseStatus"] == {}
    assert [v["VersionNumber"] for v in versions["Response"]["Items"]] == ["2.2.5", "2.2.0"]
    missing = await client.get("/v2/applications/999999")
    assert missing.status_code == 404


# ---------------------------------------------------------------------- validation
async def _refused(
    client: httpx.AsyncClient, body: Any, status: int, code: str, app_id: str = ALIGNER_ID
) -> str:
    before = len((await client.get("/v2/appsessions?limit=1000")).json()["Items"])
    answer = await _launch(client, app_id, body)
    assert answer.status_code == status, answer.text
    error = answer.json()["ResponseStatus"]
    assert error["ErrorCode"] == code
    after = len((await client.get("/v2/appsessions?limit=1000")).json()["Items"])
    assert after == before  # nothing created
    return str(error["Message"])


async def test_launch_refusals(client: httpx.AsyncClient, state: EmulatorState) -> None:
    good = _aligner_props(state)
    message = await _refused(
        client,
        _body([*good, {"Name": "basespace-labs", "Type": "string", "Content": "x"}]),
        400,
        "BASESPACE.PROPERTIES.NAME_INVALID",
    )
    assert message.startswith("Property name: basespace-labs must contain 2 or more segments")
    await _refused(
        client,
        _body([*good, {"Name": "Input.nosuch", "Type": "string", "Content": "x"}]),
        400,
        "BASESPACE.APPLICATIONS.UNKNOWN_INPUT",
    )
    await _refused(client, _body(good[:1]), 400, "BASESPACE.APPLICATIONS.REQUIRED_INPUT_MISSING")
    wrong_type = [good[0], {**good[1], "Type": "sample"}]
    await _refused(client, _body(wrong_type), 400, "BASESPACE.APPLICATIONS.INVALID_INPUT_TYPE")
    content_for_list = [good[0], {"Name": "Input.sample-id", "Type": "sample[]", "Content": "1"}]
    await _refused(
        client, _body(content_for_list), 400, "BASESPACE.APPLICATIONS.INVALID_INPUT_TYPE"
    )
    bad_choice = [*good, {"Name": "Input.genome-id", "Type": "string", "Content": "hg42"}]
    await _refused(client, _body(bad_choice), 400, "BASESPACE.APPLICATIONS.INVALID_INPUT_VALUE")
    bad_integer = [
        *good[:1],
        {"Name": "Input.sample-id", "Type": "sample[]", "items": [f"samples/{_sample(state)}"]},
        {"Name": "Input.min-read-length", "Type": "string", "Content": "long"},
    ]
    await _refused(
        client,
        _body(bad_integer),
        400,
        "BASESPACE.APPLICATIONS.INVALID_INPUT_VALUE",
        FASTQ_TOOLKIT_ID,
    )
    await _refused(client, _body([*good, good[1]]), 400, "BASESPACE.APPLICATIONS.DUPLICATE_INPUT")
    other = _named(state, "samples", "Private Sample")  # Other User's
    forbidden = [good[0], {**good[1], "items": [f"v1pre3/samples/{other}"]}]
    await _refused(
        client, _body(forbidden), 403, "BASESPACE.COMMON.INSUFFICIENT_RESOURCE_PERMISSIONS"
    )
    unknown = [good[0], {**good[1], "items": ["v1pre3/samples/39999999"]}]
    await _refused(client, _body(unknown), 404, "BASESPACE.COMMON.NOT_FOUND")
    await _refused(client, ["not", "an", "object"], 400, "BASESPACE.COMMON.INVALID_REQUEST")
    await _refused(client, _body(good), 404, "BASESPACE.COMMON.NOT_FOUND", "999999")


# ---------------------------------------------------------------------- lifecycle
async def test_aligner_lifecycle_bam_and_logs(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    await client.post("/_emulator/launches/config", json={"run_seconds": 1.5})
    answer = await _launch(client, ALIGNER_ID, _body(_aligner_props(state)))
    assert answer.status_code == 201
    launched = answer.json()
    # BaseSpacePy's AppLaunchResponse / LaunchSpace read Id at the top level.
    assert "Response" not in launched
    assert set(launched) >= {"Id", "Href", "Name", "Application", "UserCreatedBy", "Status",
                             "StatusSummary", "DateCreated", "ModifiedOn", "Properties",
                             "OriginatingUri"}  # fmt: skip
    session_id = launched["Id"]
    assert launched["Status"] == "Pending" and launched["Name"] == "test launch"
    assert launched["Href"] == f"v1pre3/appsessions/{session_id}"
    assert launched["Application"]["Id"] == ALIGNER_ID
    inputs = {p["Name"]: p for p in launched["Properties"]["Items"]}
    assert inputs["Input.genome-id"]["Content"] == "hg19"  # the default, recorded
    assert inputs["Input.sample-id"]["Type"] == "sample[]"

    running = await client.get("/v2/appsessions", params={"executionstatus": "Pending,Running"})
    assert session_id in [s["Id"] for s in running.json()["Items"]]
    session = (await client.get(f"/v2/appsessions/{session_id}")).json()
    log_href = session["HrefLogs"]
    assert log_href.endswith(f"/v2/appsessions/{session_id}/logfiles")

    sizes: list[int] = []
    summaries: set[str] = set()
    with trio.fail_after(30):
        while True:
            session = (await client.get(f"/v2/appsessions/{session_id}")).json()
            summaries.add(session["StatusSummary"])
            logs = (await client.get(f"/v2/appsessions/{session_id}/logfiles")).json()["Items"]
            main = next(f for f in logs if f["Path"] == "logs/aligner.log")
            sizes.append(main["Size"])
            if session["ExecutionStatus"] == "Complete":
                break
            await trio.sleep(0.1)
    assert len(set(sizes)) >= 3 and sizes == sorted(sizes)  # the log grew while it ran
    assert any(s.startswith("Aligning reads (") for s in summaries)
    assert session["StatusSummary"] == "Application completed successfully"
    assert "DateStarted" in session and "DateCompleted" in session
    v1_log = (await client.get(f"/v1pre3/files/{main['Id']}")).json()["Response"]
    assert v1_log["ParentAppSession"]["Id"] == session_id and v1_log["Size"] == sizes[-1]
    text = (await _content(client, main["Id"])).decode()
    assert "Application completed successfully" in text and "Sorting by coordinate" in text

    files = await _result_files(client, session_id)
    assert set(files) == {"NA12878_rerun.bam", "NA12878_rerun.bam.bai",
                          "NA12878_rerun.alignment_metrics.csv"}  # fmt: skip
    results = (await client.get(f"/v1pre3/appsessions/{session_id}/appresults")).json()
    result = results["Response"]["Items"][0]
    assert result["Name"] == "NA12878:rerun"
    detail = (await client.get(f"/v1pre3/appresults/{result['Id']}")).json()["Response"]
    assert detail["Status"] == "Complete"
    project_results = (await client.get(f"/v1pre3/projects/{_project(state)}/appresults")).json()
    assert result["Id"] in [r["Id"] for r in project_results["Response"]["Items"]]
    props = (await client.get(f"/v2/appsessions/{session_id}/properties")).json()["Items"]
    assert "Output.AppResults" in [p["Name"] for p in props]

    workdir = Path(state.spool.root) / "check"
    workdir.mkdir(parents=True, exist_ok=True)
    bam = workdir / "out.bam"
    bam.write_bytes(await _content(client, files["NA12878_rerun.bam"]["Id"]))
    (workdir / "out.bam.bai").write_bytes(
        await _content(client, files["NA12878_rerun.bam.bai"]["Id"])
    )
    sample = state.model.samples[_sample(state)]
    r1 = next(f for f in state.files_of("samples", sample) if "_R1_" in f.name)
    assert r1.content is not None
    fastq = gzip.decompress(b"".join(r1.content.iter_range(0, r1.content.size)))
    pairs = fastq.count(b"\n") // 4
    with pysam.AlignmentFile(str(bam), "rb") as reader:
        assert reader.header.to_dict()["HD"]["SO"] == "coordinate"
        records = list(reader.fetch(until_eof=True))
        assert len(records) == 2 * pairs  # every input read, once
        mapped = [r for r in records if not r.is_unmapped]
        assert len(mapped) >= 0.9 * len(records)
        starts = [(r.reference_id, r.reference_start) for r in mapped]
        assert starts == sorted(starts)
        assert reader.count(contig="chr1") > 0  # the index works


async def test_caller_toolkit_and_qc_outputs(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    project = f"v1pre3/projects/{_project(state)}"
    biosample = _named(state, "biosamples", "NA12878:rerun")
    caller = await _launch(client, CALLER_ID, _body([
        {"Name": "Input.project-id", "Type": "project", "Content": project},
        {"Name": "Input.sample-id", "Type": "biosample[]", "Items": [f"biosamples/{biosample}"]},
    ]))  # fmt: skip
    toolkit = await _launch(client, FASTQ_TOOLKIT_ID, _body([
        {"Name": "Input.project-id", "Type": "project", "Content": project},
        {"Name": "Input.sample-id", "Type": "sample[]", "items": [_sample(state)]},
        {"Name": "Input.quality-cutoff", "Type": "string", "Content": "30"},
    ]))  # fmt: skip
    qc = await _launch(client, QC_ID, _body([
        {"Name": "Input.project-id", "Type": "project", "Content": project},
        {"Name": "Input.sample-id", "Type": "sample[]", "items": [_sample(state)]},
        {"Name": "Input.report-format", "Type": "string", "Content": "txt"},
    ], Name=None))  # fmt: skip
    assert {caller.status_code, toolkit.status_code, qc.status_code} == {201}
    assert qc.json()["Name"].startswith("FastQC ")  # app-session-name's default
    for answer in (caller, toolkit, qc):
        assert (await _wait(client, answer.json()["Id"]))["ExecutionStatus"] == "Complete"

    vcf_files = await _result_files(client, caller.json()["Id"])
    workdir = Path(state.spool.root) / "check-vcf"
    workdir.mkdir(parents=True, exist_ok=True)
    for name in ("NA12878_rerun.hard-filtered.vcf.gz", "NA12878_rerun.hard-filtered.vcf.gz.tbi"):
        (workdir / name).write_bytes(await _content(client, vcf_files[name]["Id"]))
    with pysam.VariantFile(str(workdir / "NA12878_rerun.hard-filtered.vcf.gz")) as vcf:
        records = list(vcf.fetch("chr1"))  # through the TBI
        assert list(vcf.header.samples) == ["NA12878:rerun"]
    assert records and all(r.filter.keys() == ["PASS"] for r in records)

    trimmed = await _result_files(client, toolkit.json()["Id"])
    r1_name = next(n for n in trimmed if "_R1_" in n)
    reads = gzip.decompress(await _content(client, trimmed[r1_name]["Id"])).split(b"\n")
    lengths = [len(line) for line in reads[1::4] if line]
    assert lengths and max(lengths) <= 151 and min(lengths) >= 32
    assert min(lengths) < 151  # quality-cutoff 30 trimmed some 3' ends
    report = next(n for n in trimmed if n.endswith(".trimming_report.txt"))
    assert b"reads in" in await _content(client, trimmed[report]["Id"])

    qc_files = await _result_files(client, qc.json()["Id"])
    assert set(qc_files) == {"qc_report.txt", "qc_metrics.csv"}
    metrics = (await _content(client, qc_files["qc_metrics.csv"]["Id"])).decode()
    assert metrics.startswith("input,file,reads,") and ",2000," in metrics


# ---------------------------------------------------------------------- control plane
async def test_control_plane_finish_fail_speed_start_stop(
    client: httpx.AsyncClient, state: EmulatorState
) -> None:
    await client.post(
        "/_emulator/launches/config", json={"pending_seconds": 60, "run_seconds": 600}
    )
    body = _body(_aligner_props(state))
    first = (await _launch(client, ALIGNER_ID, body)).json()["Id"]
    finished = await client.post(f"/_emulator/appsessions/{first}/finish")
    assert finished.status_code == 200 and finished.json()["status"] == "Complete"
    assert len(finished.json()["appresults"]) == 1
    again = await client.post(f"/_emulator/appsessions/{first}/finish")
    assert again.status_code == 409

    second = (await _launch(client, ALIGNER_ID, body)).json()["Id"]
    failed = await client.post(
        f"/_emulator/appsessions/{second}/fail", json={"status": "NeedsAttention"}
    )
    assert failed.json()["status"] == "NeedsAttention"
    session = (await client.get(f"/v2/appsessions/{second}")).json()
    assert session["ExecutionStatus"] == "NeedsAttention"
    assert (await client.get(f"/v1pre3/appsessions/{second}/appresults")).json()["Response"][
        "Items"
    ] == []
    logs = (await client.get(f"/v2/appsessions/{second}/logfiles?extensions=.txt")).json()
    stderr = logs["Items"][0]
    assert stderr["Path"] == "logs/aligner.stderr.txt"
    assert b"needs attention" in await _content(client, stderr["Id"])
    aborted = await client.post(f"/_emulator/appsessions/{first}/fail", json={"status": "x"})
    assert aborted.status_code == 400

    third = (await _launch(client, ALIGNER_ID, body)).json()["Id"]
    sped = await client.post(f"/_emulator/appsessions/{third}/speed", json={"factor": 600})
    assert sped.status_code == 200
    assert (await _wait(client, third, 20))["ExecutionStatus"] == "Complete"

    paused = (await _launch(client, ALIGNER_ID, {**body, "AutoStart": False})).json()["Id"]
    await trio.sleep(0.2)
    assert (await client.get(f"/v2/appsessions/{paused}")).json()["ExecutionStatus"] == "Pending"
    await client.post("/_emulator/launches/config", json={"run_seconds": 0.3})
    started = await client.post(f"/_emulator/appsessions/{paused}/start")
    assert started.status_code == 200
    await client.post(f"/_emulator/appsessions/{paused}/speed", json={"remaining_seconds": 0.1})
    assert (await _wait(client, paused, 20))["ExecutionStatus"] == "Complete"

    # bsmount's .kill: POST v2/appsessions/{id}/stop, also for a Pending session.
    stopped = (await _launch(client, ALIGNER_ID, body)).json()["Id"]
    answer = await client.post(f"/v2/appsessions/{stopped}/stop", json={})
    assert answer.status_code == 200 and answer.json()["ExecutionStatus"] == "Aborted"
    launches = (await client.get("/_emulator/launches")).json()
    by_id = {item["appsession_id"]: item for item in launches}
    assert by_id[stopped]["outcome"] == "Stopped" and by_id[first]["outcome"] == "Complete"
    assert by_id[second]["outcome"] == "Failed"
    aborted_list = await client.get("/v1pre3/users/current/appsessions?Statuses=Aborted")
    assert stopped in [s["Id"] for s in aborted_list.json()["Response"]["Items"]]
    by_app = await client.get("/v2/appsessions", params={"appid": ALIGNER_ID, "limit": 100})
    assert {first, second, third, paused, stopped} <= {s["Id"] for s in by_app.json()["Items"]}
    missing = await client.post("/_emulator/appsessions/60000001/finish")
    assert missing.status_code == 404  # a seed session was not launched


# ---------------------------------------------------------------------- a real server process
def test_launch_in_emulator_process(emulator_factory: Any, tmp_path: Path) -> None:
    """The hypercorn/trio process: launch, finish through the control plane (the output work
    runs on a worker thread), the BAM counts every input read; a reset forgets launches."""
    emu = emulator_factory("demo")
    project = next(
        p for p in emu.api("v1pre3/users/current/projects")["Response"]["Items"]
        if p["Name"] == demo.GENOMICS_PROJECT
    )  # fmt: skip
    samples = emu.api(f"v1pre3/projects/{project['Id']}/samples", Limit=50)["Response"]["Items"]
    sample = next(s for s in samples if s["Name"] == "Myeloid-DNA-Rep2")
    body = _body([
        {"Name": "Input.project-id", "Type": "project", "Content": project["Href"]},
        {"Name": "Input.sample-id", "Type": "sample[]", "items": [sample["Href"]]},
    ])  # fmt: skip
    answer = emu.api_call("POST", f"v1pre3/applications/{ALIGNER_ID}/appsessions", json=body)
    assert answer.status_code == 201
    session_id = answer.json()["Id"]
    finished = httpx.post(f"{emu.url}/_emulator/appsessions/{session_id}/finish", timeout=60)
    assert finished.status_code == 200 and finished.json()["status"] == "Complete"
    result = finished.json()["appresults"][0]
    files = emu.api(f"v1pre3/appresults/{result}/files")["Response"]["Items"]
    bam = next(f for f in files if f["Name"].endswith(".bam"))
    content = emu.api_call("GET", f"v1pre3/files/{bam['Id']}/content", follow_redirects=True)
    target = tmp_path / "out.bam"
    target.write_bytes(content.content)
    with pysam.AlignmentFile(str(target), "rb") as reader:
        assert sum(1 for _ in reader.fetch(until_eof=True)) == 2 * 4000  # Rep2: 4000 pairs
    emu.reset()
    assert httpx.get(f"{emu.url}/_emulator/launches").json() == []


# ---------------------------------------------------------------------- seed format
_APP: dict[str, Any] = {
    "name": "Mini", "runner": "qc-report", "versions": [{"id": "77", "version": "1.0.0"}],
    "form": [{"id": "project-id", "type": "project", "required": True}],
}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"runner": "nope"}, "applications[0].runner: one of"),
        ({"versions": []}, "applications[0].versions: at least one version"),
        ({"versions": [{"id": "x1", "version": "1"}]}, "versions[0].id: application ids"),
        ({"form": [{"id": "s", "type": "select"}]}, "form[0].choices: a select needs choices"),
        ({"form": [{"id": "n", "type": "integer", "default": "many"}]}, "not an integer"),
        ({"form": [{"id": "f", "type": "blob"}]}, "form[0].type: one of"),
        ({"colour": "red"}, "unknown key(s) colour for a app"),
    ],
)
def test_seed_catalogue_errors(change: dict[str, Any], message: str) -> None:
    with pytest.raises(SeedError, match=re.escape(message)):
        load_seed_data({"applications": [{**_APP, **change}]}, Path("."))


def test_seed_catalogue_versions_share_the_form() -> None:
    twice = {**_APP, "versions": [{"id": "77", "version": "1.0.0"}, {"id": "78", "version": "1.1"}]}
    state = load_seed_data({"applications": [twice]}, Path("."))
    apps = state.model.applications
    assert [a.version for a in apps.values()] == ["1.0.0", "1.1"]
    assert apps["77"].form == apps["78"].form and apps["78"].slug == "illumina-inc.mini"
