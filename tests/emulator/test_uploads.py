"""Uploads through a real emulator process over loopback HTTP (docs/emulator.md, "Uploads"):
creating AppResults and Samples (and their AppSessions), single-request and multipart file
uploads with every refusal, reading the bytes back, appsession status changes, the control plane
(uploads, limits) and faults on part PUTs. The process runs with ``--min-part-size 1024`` so the
tests need not send 5 MiB parts."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.emulator_proc import EmulatorProcess

TOKEN = "0c0c" * 8
OTHER_TOKEN = "0d0d" * 8
PROJECT = "20000001"
OTHER_PROJECT = "20000002"
RUNNING_SESSION = "60000001"
DONE_SESSION = "60000002"
OPEN_RESULT = "40000001"
CLOSED_RESULT = "40000002"
LOOSE_SAMPLE = "30000001"
MIN_PART = 1024


def _seed(directory: Path) -> Path:
    seed = {
        "users": [
            {"name": "Uploader", "tokens": [TOKEN]},
            {"key": "other", "name": "Other", "tokens": [OTHER_TOKEN]},
        ],
        "projects": [
            {
                "id": PROJECT,
                "name": "Uploads",
                "appsessions": [
                    {"key": "run", "id": RUNNING_SESSION, "name": "Open", "status": "Running"},
                    {"key": "done", "id": DONE_SESSION, "name": "Done", "status": "Complete"},
                ],
                "appresults": [
                    {
                        "id": OPEN_RESULT,
                        "name": "Open result",
                        "appsession": "run",
                        "status": "Running",
                    },
                    {
                        "id": CLOSED_RESULT,
                        "name": "Closed result",
                        "appsession": "done",
                        "files": [{"path": "old.txt", "text": "old\n"}],
                    },
                ],
                "samples": [{"id": LOOSE_SAMPLE, "name": "Loose"}],
            },
            {"id": OTHER_PROJECT, "name": "Theirs", "owner": "other"},
        ],
    }
    path = directory / "uploads-seed.json"
    path.write_text(json.dumps(seed), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    seed = _seed(tmp_path_factory.mktemp("uploads"))
    proc = EmulatorProcess(seed, extra_args=["--min-part-size", str(MIN_PART)])
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(autouse=True)
def _fresh(emu: EmulatorProcess) -> Iterator[None]:
    yield
    emu.reset()


def call(
    emu: EmulatorProcess, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any
) -> httpx.Response:
    all_headers = {"x-access-token": emu.token, **(headers or {})}
    return emu.http.request(method, f"/v1pre3/{path}", headers=all_headers, **kw)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["Response"]


def refused(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ResponseStatus"]["ErrorCode"] == code, body
    assert body["Notifications"][0]["Type"] == "error"
    message: str = body["ResponseStatus"]["Message"]
    return message


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def new_result(emu: EmulatorProcess, name: str = "Result", **params: Any) -> dict[str, Any]:
    body = {"Name": name, "Description": "made by a test"}
    result: dict[str, Any] = ok(
        call(emu, "POST", f"projects/{PROJECT}/appresults", json=body, params=params), 201
    )
    return result


def initiate(emu: EmulatorProcess, container: str, name: str, **params: Any) -> dict[str, Any]:
    query = {"name": name, "multipart": "true", **params}
    file: dict[str, Any] = ok(call(emu, "POST", f"{container}/files", params=query))
    return file


def put_part(
    emu: EmulatorProcess, file_id: str, number: int | str, data: bytes, md5: bool = True
) -> httpx.Response:
    headers = {"Content-MD5": md5_b64(data)} if md5 else {}
    return emu.http.put(
        f"/v1pre3/files/{file_id}/parts/{number}",
        content=data,
        headers={"x-access-token": emu.token, **headers},
    )


def finish(emu: EmulatorProcess, file_id: str, status: str = "complete") -> httpx.Response:
    return call(emu, "POST", f"files/{file_id}", params={"uploadstatus": status})


def content(emu: EmulatorProcess, file_id: str, byte_range: str | None = None) -> bytes:
    meta = ok(call(emu, "GET", f"files/{file_id}/content", params={"redirect": "meta"}))
    headers = {"Range": byte_range} if byte_range else {}
    response = httpx.get(meta["HrefContent"], headers=headers)
    assert response.status_code == (206 if byte_range else 200)
    return response.content


def parts_of(sizes: list[int], seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(size) for size in sizes]


def s3_etag(parts: list[bytes]) -> str:
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    return f"{hashlib.md5(joined).hexdigest()}-{len(parts)}"


# ---------------------------------------------------------------------- appresults and samples
def test_appresult_without_a_session_gets_a_running_cli_session(emu: EmulatorProcess) -> None:
    body = {
        "Name": "My result",
        "Description": "d",
        "References": [
            {"Rel": "using", "Type": "Sample", "HrefContent": f"v1pre3/samples/{LOOSE_SAMPLE}"}
        ],
    }
    result = ok(call(emu, "POST", f"projects/{PROJECT}/appresults", json=body), 201)
    assert result["Name"] == "My result" and result["Description"] == "d"
    assert result["Status"] == "Running" and result["Href"] == f"v1pre3/appresults/{result['Id']}"
    assert result["HrefFiles"] == f"v1pre3/appresults/{result['Id']}/files"
    assert result["Projects"][0]["Id"] == PROJECT
    session = result["AppSession"]
    assert session["Status"] == "Running"
    assert session["Name"].startswith("BaseSpace CLI 2") and session["Name"].endswith("Z")
    assert session["Application"]["Name"] == "BaseSpace CLI"
    v2 = emu.api(f"v2/appsessions/{session['Id']}")
    assert v2["Purpose"] == "AppUpload" and v2["ExecutionStatus"] == "Running"
    (reference,) = result["References"]
    assert reference["Rel"] == "using" and reference["Type"] == "Sample"
    assert reference["HrefContent"] == f"v1pre3/samples/{LOOSE_SAMPLE}"
    assert reference["Content"]["Name"] == "Loose"
    listed = ok(call(emu, "GET", f"appsessions/{session['Id']}/appresults"))
    assert [r["Id"] for r in listed["Items"]] == [result["Id"]]


def test_appresult_in_a_given_session(emu: EmulatorProcess) -> None:
    result = new_result(emu, appsessionid=RUNNING_SESSION)
    assert result["AppSession"]["Id"] == RUNNING_SESSION
    href = {"Name": "By href", "HrefAppSession": f"v1pre3/appsessions/{RUNNING_SESSION}"}
    by_href = ok(call(emu, "POST", f"projects/{PROJECT}/appresults", json=href), 201)
    assert by_href["AppSession"]["Id"] == RUNNING_SESSION


def test_appresult_refusals(emu: EmulatorProcess) -> None:
    base = f"projects/{PROJECT}/appresults"
    message = refused(
        call(emu, "POST", base, json={"Name": "x"}, params={"appsessionid": DONE_SESSION}),
        400,
        "BASESPACE.APPSESSIONS.NOT_RUNNING",
    )
    assert "Complete" in message
    refused(
        call(emu, "POST", base, json={"Description": "no name"}),
        400,
        "BASESPACE.APPRESULTS.NAME_REQUIRED",
    )
    refused(
        call(emu, "POST", base, json={"Name": "x", "References": [{"HrefContent": "nope"}]}),
        400,
        "BASESPACE.COMMON.INVALID_PARAMETER",
    )
    refused(
        call(emu, "POST", "projects/29999999/appresults", json={"Name": "x"}),
        404,
        "BASESPACE.COMMON.NOT_FOUND",
    )
    refused(
        call(emu, "POST", f"projects/{OTHER_PROJECT}/appresults", json={"Name": "x"}),
        403,
        "BASESPACE.COMMON.INSUFFICIENT_RESOURCE_PERMISSIONS",
    )


def test_sample_creation_and_its_files(emu: EmulatorProcess) -> None:
    body = {
        "Name": "NA12878",
        "SampleId": "NA12878-1",
        "ExperimentName": "exp",
        "SampleNumber": 3,
        "NumReadsRaw": 200,
        "NumReadsPF": 180,
        "Read1": 151,
        "Read2": 151,
        "IsPairedEnd": True,
        "HrefGenome": "v1pre3/genomes/4",
    }
    sample = ok(
        call(emu, "POST", f"projects/{PROJECT}/samples", json=body, params={"appsessionid": ""}),
        201,
    )
    assert sample["Name"] == "NA12878" and sample["SampleId"] == "NA12878-1"
    assert sample["SampleNumber"] == 3 and sample["Read2"] == 151 and sample["IsPairedEnd"]
    assert sample["NumReadsRaw"] == 200 and sample["Genome"]["Id"] == "4"
    assert sample["Status"] == "Running" and sample["AppSession"]["Status"] == "Running"
    data = b"@r1\nACGT\n+\nIIII\n"
    file = ok(
        call(
            emu,
            "POST",
            f"samples/{sample['Id']}/files",
            params={"name": "NA12878_S1_L001_R1_001.fastq.gz", "directory": ""},
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
    )
    assert file["ParentSample"]["Id"] == sample["Id"] and file["Size"] == len(data)
    listed = ok(call(emu, "GET", f"samples/{sample['Id']}/files"))
    assert [f["Name"] for f in listed["Items"]] == ["NA12878_S1_L001_R1_001.fastq.gz"]
    assert content(emu, file["Id"]) == data
    samples = ok(call(emu, "GET", f"projects/{PROJECT}/samples"))
    assert sample["Id"] in [s["Id"] for s in samples["Items"]]


# ---------------------------------------------------------------------- single requests
def test_single_request_upload_reads_back(emu: EmulatorProcess) -> None:
    data = random.Random(3).randbytes(300_000)
    file = ok(
        call(
            emu,
            "POST",
            f"appresults/{OPEN_RESULT}/files",
            params={"name": "data.bin", "directory": "sub/dir/"},
            content=data,
            headers={"Content-Type": "application/x-gzip"},
        )
    )
    assert file["UploadStatus"] == "complete" and file["Size"] == len(data)
    assert file["ETag"] == hashlib.md5(data).hexdigest()
    assert file["Path"] == "sub/dir/data.bin" and file["Name"] == "data.bin"
    assert file["ContentType"] == "application/x-gzip"
    assert file["ParentAppResult"]["Id"] == OPEN_RESULT
    assert content(emu, file["Id"]) == data
    assert content(emu, file["Id"], "bytes=1000-1999") == data[1000:2000]
    assert content(emu, file["Id"], "bytes=-10") == data[-10:]
    listed = ok(call(emu, "GET", f"appresults/{OPEN_RESULT}/files", params={"Directory": "sub"}))
    assert [f["Path"] for f in listed["Items"]] == ["sub/dir/data.bin"]
    assert ok(call(emu, "GET", f"appresults/{OPEN_RESULT}"))["TotalSize"] == len(data)


def test_zero_byte_and_form_data_uploads(emu: EmulatorProcess) -> None:
    empty = ok(call(emu, "POST", f"appresults/{OPEN_RESULT}/files", params={"name": "empty.txt"}))
    assert empty["Size"] == 0 and empty["UploadStatus"] == "complete"
    assert empty["ETag"] == hashlib.md5(b"").hexdigest()
    data = b"line\r\n--not a boundary\r\n" * 5000
    form = ok(
        call(
            emu,
            "POST",
            f"appresults/{OPEN_RESULT}/files",
            params={"name": "form.txt", "directory": "logs"},
            data={"note": "ignored"},
            files={"file": ("form.txt", data, "text/plain")},
        )
    )
    assert form["Size"] == len(data) and form["ContentType"] == "text/plain"
    assert form["ETag"] == hashlib.md5(data).hexdigest()
    assert content(emu, form["Id"]) == data
    broken = call(
        emu,
        "POST",
        f"appresults/{OPEN_RESULT}/files",
        params={"name": "b.txt"},
        content=b"--xyz\r\nno end",
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    refused(broken, 400, "BASESPACE.COMMON.INVALID_REQUEST")


def test_upload_name_and_path_refusals(emu: EmulatorProcess) -> None:
    base = f"appresults/{OPEN_RESULT}/files"
    refused(call(emu, "POST", base, content=b"x"), 400, "BASESPACE.COMMON.INVALID_PARAMETER")
    refused(
        call(emu, "POST", base, params={"name": "a/b"}, content=b"x"),
        400,
        "BASESPACE.FILES.INVALID_NAME",
    )
    refused(
        call(emu, "POST", base, params={"name": "a", "directory": "../up"}, content=b"x"),
        400,
        "BASESPACE.FILES.INVALID_DIRECTORY",
    )
    ok(call(emu, "POST", base, params={"name": "same.txt"}, content=b"one"))
    message = refused(
        call(emu, "POST", base, params={"name": "same.txt"}, content=b"two"),
        409,
        "BASESPACE.FILES.ALREADY_EXISTS",
    )
    assert "same.txt" in message
    refused(
        call(emu, "POST", base, params={"name": "same.txt", "multipart": "true"}),
        409,
        "BASESPACE.FILES.ALREADY_EXISTS",
    )
    unknown = call(emu, "POST", "genomes/1/files", params={"name": "x"}, content=b"x")
    assert (
        unknown.status_code == 404 and "recognized" in unknown.json()["ResponseStatus"]["Message"]
    )
    # runs take files while they are being uploaded (tests/emulator/test_run_upload.py)
    refused(
        call(emu, "POST", "runs/1/files", params={"name": "x"}, content=b"x"),
        404,
        "BASESPACE.COMMON.NOT_FOUND",
    )


# ---------------------------------------------------------------------- multipart
def test_multipart_upload_etag_and_bytes(emu: EmulatorProcess) -> None:
    parts = parts_of([5000, 4096, 3000, 777])
    file = initiate(emu, f"appresults/{OPEN_RESULT}", "multi.bin", directory="m")
    assert file["UploadStatus"] == "pending" and file["Size"] == 0 and file["Path"] == "m/multi.bin"
    pending = ok(call(emu, "GET", f"appresults/{OPEN_RESULT}/files"))["Items"]
    assert [(f["Name"], f.get("UploadStatus")) for f in pending] == [("multi.bin", "pending")]
    v2 = emu.api(f"v2/appsessions/{RUNNING_SESSION}")  # v2 file lists hide pending files
    assert v2["Id"] == RUNNING_SESSION
    for number in (3, 1, 4, 2):  # any order
        data = parts[number - 1]
        response = put_part(emu, file["Id"], number, data)
        assert response.status_code == 200
        assert response.text == (
            f'{{"Response":{{"Number":{number},"ETag":"{hashlib.md5(data).hexdigest()}",'
            f'"Size":{len(data)}}},"ResponseStatus":{{}},"Notifications":[]}}'
        )
        assert response.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    done = ok(finish(emu, file["Id"]))
    assert done["UploadStatus"] == "complete" and done["Size"] == sum(map(len, parts))
    assert done["ETag"] == s3_etag(parts)
    whole = b"".join(parts)
    assert content(emu, file["Id"]) == whole
    assert content(emu, file["Id"], "bytes=4990-9100") == whole[4990:9101]  # across parts
    info = emu.upload_info(file["Id"])
    assert info["status"] == "complete" and info["part_count"] == 4 and info["size"] == len(whole)


def test_resent_part_replaces_and_single_part_multipart(emu: EmulatorProcess) -> None:
    file = initiate(emu, f"appresults/{OPEN_RESULT}", "again.bin")
    assert put_part(emu, file["Id"], 1, b"a" * 2000).status_code == 200
    assert put_part(emu, file["Id"], 1, b"b" * 1500).status_code == 200
    done = ok(finish(emu, file["Id"]))
    assert done["Size"] == 1500 and done["ETag"] == s3_etag([b"b" * 1500])
    assert done["ETag"].endswith("-1")
    assert content(emu, file["Id"]) == b"b" * 1500
    assert emu.upload_info(file["Id"])["part_puts"] == 2
    again = ok(finish(emu, file["Id"]))  # a retried complete whose answer was lost
    assert again["ETag"] == done["ETag"]


def test_part_refusals(emu: EmulatorProcess) -> None:
    file = initiate(emu, f"appresults/{OPEN_RESULT}", "refused.bin")
    fid = file["Id"]
    for number in (0, 10001, "x", -1):
        refused(put_part(emu, fid, number, b"d" * 10), 400, "BASESPACE.FILES.INVALID_PART_NUMBER")
    bad = emu.http.put(
        f"/v1pre3/files/{fid}/parts/1",
        content=b"data",
        headers={"x-access-token": emu.token, "Content-MD5": md5_b64(b"other")},
    )
    assert "did not match" in refused(bad, 400, "BASESPACE.FILES.BAD_DIGEST")
    garbage = emu.http.put(
        f"/v1pre3/files/{fid}/parts/1",
        content=b"data",
        headers={"x-access-token": emu.token, "Content-MD5": "!!"},
    )
    refused(garbage, 400, "BASESPACE.FILES.INVALID_DIGEST")
    assert emu.upload_info(fid)["parts"] == []  # nothing stored
    emu.upload_config(max_part_size=4096)
    refused(put_part(emu, fid, 1, b"z" * 4097), 400, "BASESPACE.FILES.PART_TOO_LARGE")
    assert put_part(emu, fid, 1, b"z" * 4096).status_code == 200
    refused(
        call(emu, "PUT", "files/11999999999/parts/1", content=b"x"),
        403,
        "BASESPACE.COMMON.INSUFFICIENT_RESOURCE_PERMISSIONS",
    )
    single = ok(
        call(emu, "POST", f"appresults/{OPEN_RESULT}/files", params={"name": "s.txt"}, content=b"s")
    )
    refused(put_part(emu, single["Id"], 1, b"x"), 400, "BASESPACE.FILES.NOT_MULTIPART")
    refused(finish(emu, single["Id"]), 400, "BASESPACE.FILES.NOT_MULTIPART")


def test_complete_refusals(emu: EmulatorProcess) -> None:
    file = initiate(emu, f"appresults/{OPEN_RESULT}", "gaps.bin")
    fid = file["Id"]
    refused(finish(emu, fid), 400, "BASESPACE.FILES.MISSING_PARTS")  # no parts at all
    put_part(emu, fid, 1, b"1" * MIN_PART)
    put_part(emu, fid, 3, b"3" * 10)
    assert "missing part(s) 2" in refused(finish(emu, fid), 400, "BASESPACE.FILES.MISSING_PARTS")
    put_part(emu, fid, 2, b"2" * (MIN_PART - 1))
    message = refused(finish(emu, fid), 400, "BASESPACE.FILES.PART_TOO_SMALL")
    assert f"at least {MIN_PART}" in message
    refused(finish(emu, fid, "bogus"), 400, "BASESPACE.COMMON.INVALID_PARAMETER")
    refused(call(emu, "POST", f"files/{fid}"), 400, "BASESPACE.COMMON.INVALID_PARAMETER")
    refused(
        call(emu, "GET", f"files/{fid}/content", params={"redirect": "meta"}),
        404,
        "BASESPACE.FILES.UPLOAD_NOT_COMPLETE",
    )
    put_part(emu, fid, 2, b"2" * MIN_PART)  # replaced: now every part but the last is big enough
    done = ok(finish(emu, fid))
    assert done["Size"] == 2 * MIN_PART + 10
    refused(put_part(emu, fid, 4, b"late"), 400, "BASESPACE.FILES.UPLOAD_NOT_PENDING")
    refused(finish(emu, fid, "aborted"), 400, "BASESPACE.FILES.UPLOAD_NOT_PENDING")


def test_abort_drops_the_parts(emu: EmulatorProcess) -> None:
    file = initiate(emu, f"appresults/{OPEN_RESULT}", "dropped.bin")
    put_part(emu, file["Id"], 1, b"q" * 3000)
    spool = emu.upload_config()["spool_bytes"]
    assert spool >= 3000
    aborted = ok(finish(emu, file["Id"], "aborted"))
    assert aborted["UploadStatus"] == "aborted"
    assert ok(finish(emu, file["Id"], "aborted"))["UploadStatus"] == "aborted"
    refused(finish(emu, file["Id"]), 400, "BASESPACE.FILES.UPLOAD_NOT_PENDING")
    assert emu.upload_config()["spool_bytes"] == spool - 3000
    listed = ok(call(emu, "GET", f"appresults/{OPEN_RESULT}/files"))["Items"]
    assert [(f["Name"], f["UploadStatus"]) for f in listed] == [("dropped.bin", "aborted")]
    refused(
        call(emu, "GET", f"files/{file['Id']}/content"), 404, "BASESPACE.FILES.UPLOAD_NOT_COMPLETE"
    )
    # a new upload may take the name of an aborted one
    ok(
        call(
            emu,
            "POST",
            f"appresults/{OPEN_RESULT}/files",
            params={"name": "dropped.bin"},
            content=b"new",
        )
    )


# ---------------------------------------------------------------------- sessions
def test_finished_sessions_refuse_writes(emu: EmulatorProcess) -> None:
    result = new_result(emu)
    session = result["AppSession"]["Id"]
    pending = initiate(emu, f"appresults/{result['Id']}", "late.bin")
    put_part(emu, pending["Id"], 1, b"p" * 2000)
    finished = ok(
        call(
            emu,
            "POST",
            f"appsessions/{session}",
            json={"status": "complete", "statussummary": "Uploaded by a test"},
        )
    )
    assert finished["Status"] == "Complete" and finished["StatusSummary"] == "Uploaded by a test"
    outputs = {p["Name"]: p for p in finished["Properties"]["Items"]}
    assert outputs["Output.AppResults"]["Type"] == "appresult[]"
    assert [i["Id"] for i in outputs["Output.AppResults"]["Items"]] == [result["Id"]]
    items = ok(call(emu, "GET", f"appsessions/{session}/properties/Output.AppResults/items"))
    assert items["Type"] == "appresult[]" and items["Items"][0]["Content"]["Id"] == result["Id"]
    assert ok(call(emu, "GET", f"appresults/{result['Id']}"))["Status"] == "Complete"
    code = "BASESPACE.APPSESSIONS.NOT_RUNNING"
    for kind, rid in (("appresults", result["Id"]), ("appresults", CLOSED_RESULT)):
        refused(
            call(emu, "POST", f"{kind}/{rid}/files", params={"name": "n.txt"}, content=b"n"),
            400,
            code,
        )
        refused(
            call(emu, "POST", f"{kind}/{rid}/files", params={"name": "m", "multipart": "true"}),
            400,
            code,
        )
    refused(put_part(emu, pending["Id"], 2, b"x"), 400, code)
    refused(finish(emu, pending["Id"]), 400, code)
    refused(call(emu, "POST", f"appsessions/{session}", json={"status": "running"}), 400, code)
    refused(call(emu, "POST", f"appsessions/{session}", json={"status": "aborted"}), 400, code)


def test_timed_out_session_can_still_move(emu: EmulatorProcess) -> None:
    result = new_result(emu)
    session = result["AppSession"]["Id"]
    timed = ok(call(emu, "POST", f"appsessions/{session}", data={"status": "TimedOut"}))
    assert timed["Status"] == "TimedOut"
    ok(call(emu, "POST", f"appresults/{result['Id']}/files", params={"name": "t"}, content=b"t"))
    aborted = ok(call(emu, "POST", f"appsessions/{session}", params={"status": "aborted"}))
    assert aborted["Status"] == "Aborted"
    assert ok(call(emu, "GET", f"appresults/{result['Id']}"))["Status"] == "Aborted"


# ---------------------------------------------------------------------- clients' quirks
def test_basespacepy_request_shapes(emu: EmulatorProcess) -> None:
    """Initiate and complete with the parameters in the query and repeated as a JSON body
    (initiate with the file's Content-Type, complete with none); single bodies as text/plain."""
    headers = {"Authorization": f"Bearer {emu.token}"}
    params = {"name": "py.txt", "directory": "d", "multipart": "true"}
    initiated = emu.http.post(
        f"/v1pre3/appresults/{OPEN_RESULT}/files",
        params=params,
        content=json.dumps(params).encode(),
        headers={**headers, "Content-Type": "text/plain"},
    )
    file = ok(initiated)
    assert file["ContentType"] == "text/plain" and file["UploadStatus"] == "pending"
    part = b"p" * 100
    answer = put_part(emu, file["Id"], 1, part)
    assert answer.text.split()[-1] == answer.text  # no whitespace: BaseSpacePy keeps the last word
    assert json.loads(answer.text.split()[-1])["Response"]["ETag"] == hashlib.md5(part).hexdigest()
    body = json.dumps({"uploadstatus": "complete"}).encode()
    completed = emu.http.post(
        f"/v1pre3/files/{file['Id']}",
        params={"uploadstatus": "complete"},
        content=body,
        headers=headers,
    )
    assert ok(completed)["UploadStatus"] == "complete"
    single = emu.http.post(
        f"/v1pre3/appresults/{OPEN_RESULT}/files",
        params={"name": "single.txt", "directory": ""},
        content=b"text body\n",
        headers={**headers, "Content-Type": "text/plain"},
    )
    assert ok(single)["Size"] == len(b"text body\n")
    form = emu.http.post(
        f"/v1pre3/appresults/{OPEN_RESULT}/files",
        data={"name": "java.bin", "multipart": "true", "directory": ""},
        headers=headers,
    )
    assert ok(form)["UploadStatus"] == "pending" and ok(form)["Name"] == "java.bin"


def test_projects_name_filter(emu: EmulatorProcess) -> None:
    found = ok(call(emu, "GET", "users/current/projects", params={"Name": "Uploads"}))
    assert [p["Id"] for p in found["Items"]] == [PROJECT] and found["TotalCount"] == 1
    assert ok(call(emu, "GET", "users/current/projects", params={"Name": "Upl"}))["Items"] == []


# ---------------------------------------------------------------------- control plane
def test_control_plane_lists_uploads_and_sets_limits(emu: EmulatorProcess) -> None:
    single = ok(
        call(emu, "POST", f"appresults/{OPEN_RESULT}/files", params={"name": "c.txt"}, content=b"c")
    )
    file = initiate(emu, f"appresults/{OPEN_RESULT}", "c.bin")
    put_part(emu, file["Id"], 2, b"2" * 20)
    put_part(emu, file["Id"], 1, b"1" * 2000)
    uploads = {u["file_id"]: u for u in emu.uploads()}
    assert uploads[single["Id"]]["multipart"] is False
    assert uploads[single["Id"]]["status"] == "complete" and uploads[single["Id"]]["size"] == 1
    pending = uploads[file["Id"]]
    assert pending["status"] == "pending" and pending["container"] == f"appresults/{OPEN_RESULT}"
    assert pending["parts"] == [
        {"number": 1, "size": 2000, "etag": hashlib.md5(b"1" * 2000).hexdigest()},
        {"number": 2, "size": 20, "etag": hashlib.md5(b"2" * 20).hexdigest()},
    ]
    assert pending["part_bytes"] == 2020 and pending["path"] == "c.bin"
    assert [u["file_id"] for u in emu.uploads("pending")] == [file["Id"]]
    assert emu.http.get("/_emulator/uploads/123").status_code == 404
    config = emu.upload_config()
    assert config["min_part_size"] == MIN_PART and config["max_part_size"] == 25 * 2**20
    assert config["max_parts"] == 10000 and config["spool_bytes"] >= 2021
    assert emu.upload_config(min_part_size=10, max_parts=5)["min_part_size"] == 10
    refused(put_part(emu, file["Id"], 6, b"x"), 400, "BASESPACE.FILES.INVALID_PART_NUMBER")
    for bad in ({"min_part_size": 0}, {"nope": 1}, {"min_part_size": 10**9}, [1]):
        assert emu.http.post("/_emulator/config", json=bad).status_code == 400
    emu.reset()
    assert emu.uploads() == [] and emu.upload_config()["spool_bytes"] == 0
    assert emu.upload_config()["max_parts"] == 10000


# ---------------------------------------------------------------------- faults on part PUTs
PART_PATH = r"^/v1pre3/files/\d+/parts/"


def test_part_put_faults_503_and_slowness(emu: EmulatorProcess) -> None:
    file = initiate(emu, f"appresults/{OPEN_RESULT}", "faulty.bin")
    emu.add_fault(
        method="PUT",
        path=PART_PATH,
        count=1,
        action={"status": 503, "headers": {"Retry-After": "1"}},
    )
    data = b"f" * 200_000
    first = put_part(emu, file["Id"], 1, data)
    assert first.status_code == 503 and first.headers["Retry-After"] == "1"
    assert emu.upload_info(file["Id"])["parts"] == []
    assert put_part(emu, file["Id"], 1, data).status_code == 200  # the retry lands
    emu.add_fault(method="PUT", path=PART_PATH, count=1, action={"throttle": 400_000})
    started = time.monotonic()
    assert put_part(emu, file["Id"], 2, data).status_code == 200
    assert time.monotonic() - started >= 0.4
    emu.add_fault(method="PUT", path=PART_PATH, count=1, action={"delay": 0.3})
    started = time.monotonic()
    assert put_part(emu, file["Id"], 3, b"x").status_code == 200
    assert time.monotonic() - started >= 0.3
    assert ok(finish(emu, file["Id"]))["Size"] == 2 * len(data) + 1
    assert [r["fired"] for r in emu.faults()] == [1, 1, 1]


def test_part_put_faults_reset_and_wrong_etag(emu: EmulatorProcess) -> None:
    file = initiate(emu, f"appresults/{OPEN_RESULT}", "reset.bin")
    data = b"r" * 500_000
    emu.add_fault(method="PUT", path=PART_PATH, count=1, action="reset_body")
    with pytest.raises(httpx.TransportError):
        put_part(emu, file["Id"], 1, data)
    assert emu.upload_info(file["Id"])["parts"] == []  # a cut body is not stored
    emu.add_fault(method="PUT", path=PART_PATH, count=1, action="reset")
    with pytest.raises(httpx.TransportError):
        put_part(emu, file["Id"], 1, data)
    assert emu.upload_info(file["Id"])["part_count"] == 1  # stored; only the answer was lost
    emu.add_fault(method="PUT", path=PART_PATH, count=1, action="etag_change")
    wrong = put_part(emu, file["Id"], 2, b"e" * 10)
    assert wrong.status_code == 200
    real = hashlib.md5(b"e" * 10).hexdigest()
    claimed = wrong.json()["Response"]["ETag"]
    assert claimed != real and len(claimed) == 32
    assert wrong.headers["ETag"] != f'"{real}"'
    assert ok(finish(emu, file["Id"]))["ETag"] == s3_etag([data, b"e" * 10])
    kinds = [entry["fault"] for entry in emu.requests() if "/parts/" in entry["path"]]
    assert ["reset_body"] in kinds and ["etag_change"] in kinds


# ---------------------------------------------------------------------- a big upload
def _rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def test_large_multipart_upload_keeps_the_emulator_small(emu: EmulatorProcess) -> None:
    """300 MiB in 25 MiB parts (the default maximum), then read back whole: the emulator's
    peak RSS grows by far less than the file (bytes go to disk as they arrive)."""
    assert emu.pid is not None
    emu.upload_config(min_part_size=5 * 2**20)
    part_size, total = 25 * 2**20, 300 * 2**20
    block = random.Random(9).randbytes(2**20)
    before = _rss_kib(emu.pid, "VmHWM")
    file = initiate(emu, f"appresults/{OPEN_RESULT}", "big.bin")
    digests = []
    for number in range(1, total // part_size + 1):
        part = bytes(block[number:] + block[:number]) * (part_size // len(block))
        digests.append(hashlib.md5(part).digest())
        assert put_part(emu, file["Id"], number, part).status_code == 200
    done = ok(finish(emu, file["Id"]))
    assert done["Size"] == total
    assert done["ETag"] == f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"
    meta = ok(call(emu, "GET", f"files/{file['Id']}/content", params={"redirect": "meta"}))
    whole = hashlib.md5()
    with httpx.stream("GET", meta["HrefContent"], timeout=60) as response:
        for chunk in response.iter_bytes(2**20):
            whole.update(chunk)
    expected = hashlib.md5()
    for number in range(1, len(digests) + 1):
        expected.update(bytes(block[number:] + block[:number]) * (part_size // len(block)))
    assert whole.hexdigest() == expected.hexdigest()
    peak = _rss_kib(emu.pid, "VmHWM")
    print(f"emulator peak RSS {before // 1024} MiB before, {peak // 1024} MiB after 300 MiB")
    assert peak - before < 64 * 1024, (before, peak)


def test_part_size_flags_and_the_temporary_spool(tmp_path: Path, emulator_factory: Any) -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "bsmount", "emulator", "--min-part-size", "100",
         "--max-part-size", "10"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "--min-part-size" in bad.stderr
    proc = emulator_factory(
        _seed(tmp_path), extra_args=["--min-part-size", "1024", "--max-part-size", "4096"]
    )
    config = proc.upload_config()
    assert config["max_part_size"] == 4096 and config["min_part_size"] == 1024
    spool = Path(config["spool_dir"])
    assert spool.is_dir()
    proc.stop()
    assert not spool.exists()  # the default spool goes with the process
