"""Run uploads (``bs upload run``) through a real emulator process over loopback HTTP: ``POST
v2/runs``, the run folder's files through the v1pre3 upload routes (single and multipart), ``POST
v2/runs/{id}?uploadstatus=Completed``, and every refusal (unknown instrument, missing RunInfo.xml
or RunParameters.xml, a RunInfo.xml that is not XML, files after completion, another user's
run); the run and its files read back through the run reads (v1pre3 and v2)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.emulator_proc import EmulatorProcess

TOKEN = "0e0e" * 8
OTHER_TOKEN = "0f0f" * 8
MIN_PART = 1024
RUN_INFO = b"""<?xml version="1.0"?>
<RunInfo Version="2">
  <Run Id="240101_M00001_0007_000000000-ABCDE" Number="7">
    <Flowcell>000000000-ABCDE</Flowcell>
    <Instrument>M00001</Instrument>
    <Date>240101</Date>
    <Reads>
      <Read Number="1" NumCycles="76" IsIndexedRead="N" />
      <Read Number="2" NumCycles="8" IsIndexedRead="Y" />
      <Read Number="3" NumCycles="76" IsIndexedRead="N" />
    </Reads>
  </Run>
</RunInfo>
"""
RUN_PARAMETERS = b"""<?xml version="1.0"?>
<RunParameters><Setup><ApplicationName>MiSeq Control Software</ApplicationName></Setup>
</RunParameters>
"""


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    seed = {
        "users": [
            {"name": "Sequencer", "tokens": [TOKEN]},
            {"key": "other", "name": "Other", "tokens": [OTHER_TOKEN]},
        ],
        "projects": [{"name": "P"}],
    }
    path = Path(tmp_path_factory.mktemp("runupload")) / "seed.json"
    path.write_text(json.dumps(seed), encoding="utf-8")
    proc = EmulatorProcess(path, extra_args=["--min-part-size", str(MIN_PART)])
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(autouse=True)
def _fresh(emu: EmulatorProcess) -> Iterator[None]:
    yield
    emu.reset()


def call(
    emu: EmulatorProcess, method: str, path: str, token: str = TOKEN, **kw: Any
) -> httpx.Response:
    return emu.http.request(method, path, headers={"x-access-token": token}, **kw)


def v2_ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def v2_refused(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ErrorCode"] == code, body
    message: str = body["ErrorMessage"]
    return message


def new_run(emu: EmulatorProcess, name: str = "My run", instrument: str = "MiSeq") -> str:
    params = {"experimentname": name, "instrumenttype": instrument}
    run = v2_ok(call(emu, "POST", "/v2/runs", params=params))
    assert run["UploadStatus"] == "Uploading" and run["Status"] == "Uploading"
    assert run["ExperimentName"] == name and run["Instrument"]["Type"] == instrument
    run_id: str = run["Id"]
    return run_id


def upload(emu: EmulatorProcess, run_id: str, path: str, data: bytes) -> httpx.Response:
    directory, _, name = path.rpartition("/")
    params = {"name": name, "directory": directory}
    return call(emu, "POST", f"/v1pre3/runs/{run_id}/files", params=params, content=data)


def upload_multipart(emu: EmulatorProcess, run_id: str, path: str, data: bytes) -> str:
    directory, _, name = path.rpartition("/")
    params = {"name": name, "directory": directory, "multipart": "true"}
    started = call(emu, "POST", f"/v1pre3/runs/{run_id}/files", params=params)
    file_id: str = started.json()["Response"]["Id"]
    for number, offset in enumerate(range(0, len(data), MIN_PART), start=1):
        part = data[offset : offset + MIN_PART]
        md5 = base64.b64encode(hashlib.md5(part).digest()).decode()
        answer = emu.http.put(
            f"/v1pre3/files/{file_id}/parts/{number}",
            content=part,
            headers={"x-access-token": TOKEN, "Content-MD5": md5},
        )
        assert answer.status_code == 200, answer.text
    done = call(emu, "POST", f"/v1pre3/files/{file_id}", params={"uploadstatus": "complete"})
    assert done.json()["Response"]["UploadStatus"] == "complete"
    return file_id


def complete(emu: EmulatorProcess, run_id: str, token: str = TOKEN) -> httpx.Response:
    return call(emu, "POST", f"/v2/runs/{run_id}", token, params={"uploadstatus": "Completed"})


def test_a_run_folder_uploaded_then_completed_reads_back(emu: EmulatorProcess) -> None:
    run_id = new_run(emu)
    bcl = bytes(range(256)) * 13  # 3,328 bytes: four parts of 1 KiB at most
    assert upload(emu, run_id, "RunInfo.xml", RUN_INFO).status_code == 200
    assert upload(emu, run_id, "RunParameters.xml", RUN_PARAMETERS).status_code == 200
    upload_multipart(emu, run_id, "Data/Intensities/BaseCalls/L001/C1.1/s_1_1101.bcl", bcl)
    listed = call(emu, "GET", "/v1pre3/users/current/runs").json()["Response"]["Items"]
    assert [(r["Id"], r["Status"]) for r in listed] == [(run_id, "Uploading")]

    run = v2_ok(complete(emu, run_id))
    assert run["UploadStatus"] == "Completed" and run["Status"] == "Complete"
    assert run["Name"] == "240101_M00001_0007_000000000-ABCDE"
    assert run["FlowcellBarcode"] == "000000000-ABCDE"
    assert run["Instrument"]["Name"] == "M00001"
    assert run["SequencingStats"]["NumCyclesRead1"] == 76
    assert run["SequencingStats"]["NumCyclesIndex1"] == 8
    assert run["DateUploadCompleted"]
    assert v2_ok(call(emu, "GET", f"/v2/runs/{run_id}"))["UploadStatus"] == "Completed"
    again = v2_ok(complete(emu, run_id))  # a retried call answers the run again
    assert again["Status"] == "Complete"

    top = v2_ok(call(emu, "GET", f"/v2/runs/{run_id}/files", params={"include": "Subdirectories"}))
    assert sorted(f["Name"] for f in top["Items"]) == ["RunInfo.xml", "RunParameters.xml"]
    assert [d["Name"] for d in top["SubDirectories"]] == ["Data"]
    deep = v2_ok(
        call(emu, "GET", f"/v2/runs/{run_id}/files", params={"recursive": "true", "limit": 100})
    )
    bcl_file = next(f for f in deep["Items"] if f["Name"] == "s_1_1101.bcl")
    assert bcl_file["Size"] == len(bcl) and bcl_file["ETag"].endswith("-4")
    content = call(emu, "GET", f"/v1pre3/files/{bcl_file['Id']}/content", follow_redirects=True)
    assert content.content == bcl
    assert v2_ok(call(emu, "GET", f"/v2/runs/{run_id}"))["TotalSize"] == (
        len(RUN_INFO) + len(RUN_PARAMETERS) + len(bcl)
    )


def test_completed_runs_take_no_more_files(emu: EmulatorProcess) -> None:
    run_id = new_run(emu)
    upload(emu, run_id, "RunInfo.xml", RUN_INFO)
    upload(emu, run_id, "runParameters.xml", RUN_PARAMETERS)  # HiSeq/MiSeq's older spelling
    v2_ok(complete(emu, run_id))
    message = v2_refused(
        call(emu, "POST", f"/v2/runs/{run_id}", params={"uploadstatus": "Failed"}),
        400,
        "BASESPACE.RUNS.NOT_UPLOADING",
    )
    assert "Completed" in message
    late = upload(emu, run_id, "late.txt", b"late\n")
    assert late.status_code == 400
    assert late.json()["ResponseStatus"]["ErrorCode"] == "BASESPACE.RUNS.NOT_UPLOADING"


def test_creation_refusals(emu: EmulatorProcess) -> None:
    message = v2_refused(
        call(emu, "POST", "/v2/runs", params={"experimentname": "x", "instrumenttype": "Sanger"}),
        400,
        "BASESPACE.RUNS.INVALID_INSTRUMENT_TYPE",
    )
    assert "Sanger" in message and "NovaSeq6000" in message
    v2_refused(
        call(emu, "POST", "/v2/runs", params={"instrumenttype": "MiSeq"}),
        400,
        "BASESPACE.RUNS.EXPERIMENT_NAME_REQUIRED",
    )
    # the parameters may come as a JSON body; the instrument type in any case
    run = v2_ok(
        call(
            emu,
            "POST",
            "/v2/runs",
            json={"ExperimentName": "From JSON", "InstrumentType": "novaseq6000"},
        )
    )
    assert run["Instrument"]["Type"] == "NovaSeq6000"


def test_completion_needs_the_run_xml_files(emu: EmulatorProcess) -> None:
    run_id = new_run(emu, "Incomplete")
    v2_refused(complete(emu, run_id), 400, "BASESPACE.RUNS.RUNINFO_MISSING")
    upload(emu, run_id, "RunInfo.xml", b"<RunInfo><Run>not closed")
    v2_refused(complete(emu, run_id), 400, "BASESPACE.RUNS.RUNPARAMETERS_MISSING")
    upload(emu, run_id, "RunParameters.xml", RUN_PARAMETERS)
    message = v2_refused(complete(emu, run_id), 400, "BASESPACE.RUNS.INVALID_RUNINFO")
    assert "not XML" in message
    # still Uploading: it can be marked Failed, and then stays so
    failed = v2_ok(call(emu, "POST", f"/v2/runs/{run_id}", params={"uploadstatus": "Failed"}))
    assert failed["UploadStatus"] == "Failed" and failed["Status"] == "Failed"
    v2_refused(
        call(emu, "POST", f"/v2/runs/{run_id}", params={"uploadstatus": "Bogus"}),
        400,
        "BASESPACE.COMMON.INVALID_PARAMETER",
    )


def test_another_users_run_is_not_theirs(emu: EmulatorProcess) -> None:
    run_id = new_run(emu, "Mine")
    answer = complete(emu, run_id, OTHER_TOKEN)
    assert answer.status_code == 403, answer.text
    theirs = call(
        emu,
        "POST",
        f"/v1pre3/runs/{run_id}/files",
        OTHER_TOKEN,
        params={"name": "x.txt"},
        content=b"x",
    )
    assert theirs.status_code == 403


def test_files_as_forms_with_their_run_folder_path(emu: EmulatorProcess) -> None:
    """``POST v2/runs/{id}/files``: the reference's form upload; the path is the file name's."""
    run_id = new_run(emu, "Forms")
    data = b"\x01\x02" * 500
    answer = call(
        emu,
        "POST",
        f"/v2/runs/{run_id}/files",
        files={"file": ("InterOp/TileMetricsOut.bin", data, "application/octet-stream")},
    )
    item = v2_ok(answer)
    assert item["Path"] == "InterOp/TileMetricsOut.bin" and item["Name"] == "TileMetricsOut.bin"
    assert item["UploadStatus"] == "complete" and item["Size"] == len(data)
    assert item["ETag"] == hashlib.md5(data).hexdigest()
    nested = v2_ok(
        call(
            emu,
            "POST",
            f"/v2/runs/{run_id}/files",
            params={"directory": "Data/Intensities"},
            files={"file": ("BaseCalls/L001/s_1_1101.filter", b"f", "text/plain")},
        )
    )
    assert nested["Path"] == "Data/Intensities/BaseCalls/L001/s_1_1101.filter"
    listed = v2_ok(call(emu, "GET", f"/v2/runs/{run_id}/files", params={"recursive": "true"}))
    assert {f["Path"] for f in listed["Items"]} == {
        "InterOp/TileMetricsOut.bin",
        "Data/Intensities/BaseCalls/L001/s_1_1101.filter",
    }
    again = call(
        emu, "POST", f"/v2/runs/{run_id}/files", files={"file": ("InterOp/TileMetricsOut.bin", b"")}
    )
    v2_refused(again, 409, "BASESPACE.FILES.ALREADY_EXISTS")
    not_a_form = call(emu, "POST", f"/v2/runs/{run_id}/files", content=b"raw")
    v2_refused(not_a_form, 400, "BASESPACE.COMMON.INVALID_REQUEST")
