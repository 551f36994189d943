"""The upload and session requests of Illumina's C# SDK (basespace/basespace-csharp-sdk), sent
byte for byte as it sends them, over loopback to a real emulator process (docs/emulator.md,
"Uploads", "C# SDK"), and the answers checked for what it parses.

What the SDK sends (``BaseSpace.SDK/``): every call goes through ServiceStack's
``JsonServiceClient`` with ``Authorization: Bearer``; a POST body is the request object as JSON
with PascalCase keys, null members left out, enums as their names, interface-typed members with a
``__type`` key. The single-request upload is ``PostFileWithRequest``: a multipart/form-data body
with no query string, the request's properties as text parts, then the file as the part
``upload``. Parts are raw ``PUT``s (``WebClient.UploadData``: no Content-Type, no Content-MD5).
What it parses: the ``{Response, ResponseStatus, Notifications}`` envelope into typed objects —
``Size`` a long, ``DateCreated`` an ISO 8601 DateTime, ``UploadStatus`` one of the enum names
``undefined|pending|aborted|complete``, every ``References`` and ``Notifications`` item needs a
``Type`` (its custom deserializers index it), and its own test of a new AppResult expects no
``References`` and no ``HrefGenome``.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from bsmount.emulator.http.formdata import FormFileReader
from tests.emulator_proc import EmulatorProcess

TOKEN = "0e0e" * 8
PROJECT = "20000001"
RUNNING_SESSION = "60000001"
SAMPLE = "30000001"
RESULT = "40000001"
MIN_PART = 1024
ISO_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z$")
UPLOAD_STATUSES = {"undefined", "pending", "aborted", "complete"}  # FileUploadStatus
REFERENCE_TYPE = (
    "Illumina.BaseSpace.SDK.Types.ContentReference`1[[Illumina.BaseSpace.SDK.Types.SampleCompact,"
    " Illumina.BaseSpace.SDK]], Illumina.BaseSpace.SDK"
)


def _seed(directory: Path) -> Path:
    seed = {
        "users": [{"name": "CSharp", "tokens": [TOKEN]}],
        "projects": [
            {
                "id": PROJECT,
                "name": "SDK",
                "appsessions": [
                    {"key": "run", "id": RUNNING_SESSION, "name": "Open", "status": "Running"}
                ],
                "appresults": [
                    {"id": RESULT, "name": "Open", "appsession": "run", "status": "Running"}
                ],
                "samples": [{"id": SAMPLE, "name": "Loose"}],
            }
        ],
    }
    path = directory / "csharp-seed.json"
    path.write_text(json.dumps(seed), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    seed = _seed(tmp_path_factory.mktemp("csharp"))
    proc = EmulatorProcess(seed, extra_args=["--min-part-size", str(MIN_PART)])
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(autouse=True)
def _fresh(emu: EmulatorProcess) -> Iterator[None]:
    yield
    emu.reset()


# ---------------------------------------------------------------------- the SDK's requests
def auth() -> dict[str, str]:
    """OAuth2Authentication.UpdateHttpHeader, plus JsonServiceClient's Accept."""
    return {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}


def send_json(emu: EmulatorProcess, path: str, dto: dict[str, Any]) -> httpx.Response:
    """JsonServiceClient.Send("POST", "v1pre3/...", request): the DTO as compact JSON, nulls
    left out."""
    body = json.dumps({k: v for k, v in dto.items() if v is not None}, separators=(",", ":"))
    headers = {**auth(), "Content-Type": "application/json"}
    return emu.http.post(f"/v1pre3/{path}", content=body.encode(), headers=headers)


def servicestack_form(
    fields: list[tuple[str, str]], filename: str, data: bytes, newline: bytes, boundary: str
) -> bytes:
    """The body ServiceStack's PostFileWithRequest writes (3.9: Environment.NewLine, 5.x CRLF)."""
    delimiter = b"--" + boundary.encode()
    out = b""
    for key, value in fields:
        out += delimiter + newline
        out += b'Content-Disposition: form-data;name="' + key.encode() + b'"' + newline
        out += b"Content-Type: text/plain;charset=utf-8" + newline + newline
        out += value.encode() + newline
    out += delimiter + newline
    out += b'Content-Disposition: form-data;name="upload";filename="' + filename.encode() + b'"'
    out += newline + newline + data + newline + delimiter + b"--"
    return out


def upload_single(
    emu: EmulatorProcess,
    result_id: str,
    name: str,
    data: bytes,
    directory: str | None = None,
    newline: bytes = b"\r\n",
    boundary: str | None = None,
) -> httpx.Response:
    """UploadFileToAppResultRequest under the multipart threshold: its public properties
    (QueryStringSerializer: PascalCase, nulls left out, bools as True/False) as text parts."""
    fields = [("Name", name)]
    if directory is not None:
        fields.append(("Directory", directory))
    fields += [
        ("ThreadCount", "16"),
        ("MultiPart", "False"),
        ("ResourceIdentifierInUri", "appresults"),
        ("Id", result_id),
    ]
    boundary = boundary or "----------------------------" + uuid.uuid4().hex
    body = servicestack_form(fields, name, data, newline, boundary)
    headers = {**auth(), "Content-Type": f"multipart/form-data; boundary={boundary}"}
    return emu.http.post(f"/v1pre3/appresults/{result_id}/files", content=body, headers=headers)


# ---------------------------------------------------------------------- what it parses
def parsed(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    envelope = response.json()
    assert isinstance(envelope["ResponseStatus"], dict)
    assert all("Type" in n for n in envelope["Notifications"])  # NotificationDeserializer
    return envelope["Response"]


def check_references(entity: dict[str, Any]) -> None:
    for reference in entity.get("References") or []:
        assert reference["Type"]  # ReferenceDeserializer: asValues["Type"]


def check_file(item: dict[str, Any]) -> None:
    """Types.File: string Id, long Size, DateTime DateCreated, FileUploadStatus UploadStatus."""
    assert isinstance(item["Id"], str) and item["Id"].isdigit()
    assert isinstance(item["Href"], str) and isinstance(item["HrefContent"], str)
    assert isinstance(item["Size"], int) and not isinstance(item["Size"], bool)
    assert ISO_DATE.match(item["DateCreated"]), item["DateCreated"]
    assert item["UploadStatus"] in UPLOAD_STATUSES
    assert isinstance(item["Name"], str) and isinstance(item["Path"], str)
    assert isinstance(item["ContentType"], str)


def content(emu: EmulatorProcess, file_id: str) -> bytes:
    meta = emu.http.get(
        f"/v1pre3/files/{file_id}/content", params={"redirect": "meta"}, headers=auth()
    )
    response = httpx.get(parsed(meta)["HrefContent"])
    assert response.status_code == 200
    return response.content


# ---------------------------------------------------------------------- tests
def test_create_appresult_as_the_sdk_and_its_test_expects(emu: EmulatorProcess) -> None:
    """CreateAppResultRequest(projectId, name) alone: AppResultTests.CanCreateAppResult."""
    dto = {"ProjectId": PROJECT, "Name": "SDK_Test_AppResult-a1B2c"}
    result = parsed(send_json(emu, f"projects/{PROJECT}/appresults", dto), 201)
    assert result["Name"] == dto["Name"] and not result["Description"]
    assert result["Status"] == "Running" and not result["StatusSummary"]
    assert re.search(rf"[A-Za-z0-9]*/appresults/{result['Id']}/files", result["HrefFiles"])
    assert result.get("HrefGenome") is None and result.get("References") is None
    assert ISO_DATE.match(result["DateCreated"])
    session = result["AppSession"]
    assert session["Status"] == "Running" and ISO_DATE.match(session["DateCreated"])
    # TestHelpers.CreateTestAppSession then GetAppSession: References must be a list.
    full = parsed(emu.http.get(f"/v1pre3/appsessions/{session['Id']}", headers=auth()))
    assert isinstance(full["References"], list)
    check_references(full)


def test_create_appresult_with_every_member(emu: EmulatorProcess) -> None:
    """HrefAppSession, HrefGenome and References as ContentReference<SampleCompact> objects
    (with ServiceStack's ``__type`` and the whole compact sample as Content)."""
    sample = parsed(emu.http.get(f"/v1pre3/samples/{SAMPLE}", headers=auth()))
    compact = {k: sample[k] for k in ("Id", "Href", "Name", "DateCreated", "Status")}
    reference = {
        "__type": REFERENCE_TYPE,
        "Rel": "using",
        "Type": "Sample",
        "Href": sample["Href"],
        "HrefContent": sample["Href"],
        "Content": compact,
    }
    dto = {
        "ProjectId": PROJECT,
        "Name": "With members",
        "Description": "from C#",
        "HrefAppSession": f"v1pre3/appsessions/{RUNNING_SESSION}",
        "HrefAppSessionChild": None,
        "HrefGenome": "v1pre3/genomes/4",
        "References": [reference],
    }
    result = parsed(send_json(emu, f"projects/{PROJECT}/appresults", dto), 201)
    assert result["AppSession"]["Id"] == RUNNING_SESSION
    assert result["HrefGenome"] == "v1pre3/genomes/4"
    (got,) = result["References"]
    assert got["Type"] == "Sample" and got["HrefContent"] == f"v1pre3/samples/{SAMPLE}"
    check_references(result)
    again = parsed(emu.http.get(f"/v1pre3/appresults/{result['Id']}", headers=auth()))
    assert again["HrefGenome"] == "v1pre3/genomes/4"
    unknown = send_json(
        emu, f"projects/{PROJECT}/appresults", {**dto, "HrefGenome": "v1pre3/genomes/999"}
    )
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["ResponseStatus"]["ErrorCode"]


@pytest.mark.parametrize(
    ("newline", "boundary"),
    [
        (b"\r\n", "----------------------------" + "0" * 32),  # ServiceStack 5 (netstandard)
        (b"\r\n", "638412345678901234"),  # ServiceStack 3.9 on Windows: DateTime ticks
        (b"\n", "638412345678901234"),  # ServiceStack 3.9 on Mono: Environment.NewLine
    ],
    ids=["ss5", "ss3-windows", "ss3-mono"],
)
def test_single_request_upload_as_post_file_with_request(
    emu: EmulatorProcess, newline: bytes, boundary: str
) -> None:
    data = b"".join(b"line %d\r\n--\n--63841234567890123\r\n" % i for i in range(3000))
    item = parsed(
        upload_single(emu, RESULT, "UnitTestFile_1.txt", data, "logs/run", newline, boundary)
    )
    check_file(item)
    assert item["UploadStatus"] == "complete" and item["Size"] == len(data)
    assert item["Name"] == "UnitTestFile_1.txt" and item["Path"] == "logs/run/UnitTestFile_1.txt"
    assert item["ContentType"] == "application/octet-stream"  # the file part has none
    assert item["ETag"] == hashlib.md5(data).hexdigest()
    assert content(emu, item["Id"]) == data
    # UploadFileToAppResultTest: ten zero bytes, no directory (null: no Directory part).
    small = parsed(upload_single(emu, RESULT, "UnitTestFile_2", bytes(10), None, newline, boundary))
    assert small["UploadStatus"] == "complete" and small["Path"] == "UnitTestFile_2"
    assert content(emu, small["Id"]) == bytes(10)
    # The same path again: 409, which the SDK's UploadFile retries as a whole.
    conflict = upload_single(emu, RESULT, "UnitTestFile_2", bytes(10), None, newline, boundary)
    assert conflict.status_code == 409
    assert conflict.json()["ResponseStatus"]["ErrorCode"] == "BASESPACE.FILES.ALREADY_EXISTS"


def test_single_request_upload_without_name_is_refused(emu: EmulatorProcess) -> None:
    boundary = "b" * 20
    body = servicestack_form([("ThreadCount", "16")], "x.bin", b"abc", b"\r\n", boundary)
    headers = {**auth(), "Content-Type": f"multipart/form-data; boundary={boundary}"}
    answer = emu.http.post(f"/v1pre3/appresults/{RESULT}/files", content=body, headers=headers)
    assert answer.status_code == 400
    assert answer.json()["ResponseStatus"]["ErrorCode"] == "BASESPACE.COMMON.INVALID_PARAMETER"


def test_multipart_upload_as_the_sdk(emu: EmulatorProcess) -> None:
    """FileUpload.UploadFile_MultiPart: initiate (JSON DTO, MultiPart true), parts in parallel
    out of order (raw PUTs), FileRequestPost{UploadStatus: complete} as JSON."""
    dto = {
        "Name": "big.bin",
        "Directory": "out",
        "ThreadCount": 16,
        "MultiPart": True,
        "ResourceIdentifierInUri": "appresults",
        "Id": RESULT,
    }
    pending = parsed(send_json(emu, f"appresults/{RESULT}/files", dto))
    check_file(pending)
    assert pending["UploadStatus"] == "pending" and pending["Size"] == 0
    assert pending["Path"] == "out/big.bin" and pending["ContentType"] == "application/octet-stream"
    file_id = pending["Id"]
    parts = [bytes([n]) * 2048 for n in range(1, 6)] + [b"tail"]

    def put(number: int) -> int:
        url = f"{emu.url}/v1pre3/files/{file_id}/parts/{number}"
        headers = {"Authorization": f"Bearer {TOKEN}"}  # WebClient.UploadData: nothing else
        with httpx.Client(timeout=30) as client:
            return client.put(url, content=parts[number - 1], headers=headers).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = list(pool.map(put, [6, 3, 1, 5, 2, 4]))
    assert codes == [200] * 6
    done = parsed(send_json(emu, f"files/{file_id}", {"UploadStatus": "complete", "Id": file_id}))
    check_file(done)
    assert done["UploadStatus"] == "complete" and done["Size"] == sum(map(len, parts))
    assert done["ETag"].endswith("-6")
    assert content(emu, file_id) == b"".join(parts)


def test_multipart_abort_as_the_sdk(emu: EmulatorProcess) -> None:
    """A part that failed for good: the SDK sends UploadStatus aborted and returns that File."""
    dto = {"Name": "gone.bin", "ThreadCount": 16, "MultiPart": True, "Id": RESULT}
    file_id = parsed(send_json(emu, f"appresults/{RESULT}/files", dto))["Id"]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    put = emu.http.put(f"/v1pre3/files/{file_id}/parts/1", content=b"x" * 2048, headers=headers)
    assert put.status_code == 200
    aborted = parsed(send_json(emu, f"files/{file_id}", {"UploadStatus": "aborted", "Id": file_id}))
    check_file(aborted)
    assert aborted["UploadStatus"] == "aborted"


def test_part_put_with_expect_continue(emu: EmulatorProcess) -> None:
    """.NET's HttpWebRequest sends ``Expect: 100-continue`` (it waits 350 ms for the 100, then
    sends the body anyway): the 100 comes."""
    dto = {"Name": "expect.bin", "MultiPart": True, "Id": RESULT}
    file_id = parsed(send_json(emu, f"appresults/{RESULT}/files", dto))["Id"]
    host, port = emu.url.removeprefix("http://").rstrip("/").split(":")
    data = b"e" * 4096
    head = (
        f"PUT /v1pre3/files/{file_id}/parts/1 HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(data)}\r\n"
        "Expect: 100-continue\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        interim = sock.recv(4096)  # the emulator answers 100 once it reads the body
        assert interim.startswith(b"HTTP/1.1 100"), interim
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    done = parsed(send_json(emu, f"files/{file_id}", {"UploadStatus": "complete", "Id": file_id}))
    assert done["Size"] == len(data)


def test_update_appsession_as_the_sdk(emu: EmulatorProcess) -> None:
    """UpdateAppSessionRequest(id, AppSessionStatus.Complete.ToString()) with a StatusSummary
    and Include; AppSessionTests.CanUpdateAppSessionStatus."""
    dto = {
        "Status": "Complete",
        "StatusSummary": "uploaded by the C# SDK",
        "Include": ["Properties", "References"],
        "Id": RUNNING_SESSION,
    }
    session = parsed(send_json(emu, f"appsessions/{RUNNING_SESSION}", dto))
    assert "Complete" in session["Status"] and session["StatusSummary"] == dto["StatusSummary"]
    assert session["Id"] == RUNNING_SESSION and ISO_DATE.match(session["DateCreated"])
    assert isinstance(session["References"], list)
    check_references(session)
    assert session["Application"]["Id"] and session["UserCreatedBy"]["Id"]
    for prop in session["Properties"]["Items"]:
        assert prop["Type"] and prop["Name"]
    again = send_json(emu, f"appsessions/{RUNNING_SESSION}", {**dto, "Status": "Running"})
    assert again.status_code == 400  # a WebServiceException with the ResponseStatus read
    assert again.json()["ResponseStatus"]["ErrorCode"] == "BASESPACE.APPSESSIONS.NOT_RUNNING"


def _read_form(body: bytes, boundary: bytes, rng: random.Random) -> tuple[bytes, dict[str, str]]:
    got = bytearray()
    seen: dict[str, str] = {}

    def open_file(reader: FormFileReader) -> Any:
        seen.update(reader.fields)
        return got.extend

    reader = FormFileReader(boundary, open_file)
    offset = 0
    while offset < len(body):
        step = rng.randint(1, 40)
        reader.feed(body[offset : offset + step])
        offset += step
    reader.close()
    assert reader.found and reader.filename == "a b.txt" and reader.content_type is None
    return bytes(got), seen


@pytest.mark.parametrize("newline", [b"\r\n", b"\n"], ids=["crlf", "lf"])
def test_form_reader_in_any_chunking(newline: bytes) -> None:
    """The form reader alone, fed in chunks of 1 to 40 bytes: fields before the file are known
    when the file opens, the file's bytes are exact (CR before the delimiter dropped only there)."""
    data = b"\r\n\r--x\r\n-\n--" * 50 + b"\r"
    fields = [("Name", "a b.txt"), ("Directory", "d/\u00e9"), ("MultiPart", "False")]
    body = servicestack_form(fields, "a b.txt", data, newline, "x" * 18)
    rng = random.Random(7)
    for _ in range(20):
        assert _read_form(body, b"x" * 18, rng) == (data, dict(fields))
