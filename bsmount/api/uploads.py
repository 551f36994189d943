"""Upload calls of the ``bs`` CLI over the API (v1pre3, upload-launch.md §1): AppResults with
their AppSession, single-request and multipart file uploads, AppSession status changes.

=============================  ==================================================================
action                         request
=============================  ==================================================================
create an AppResult            ``POST v1pre3/projects/{id}/appresults`` ``{"Name", "Description"}``
                               (no ``appsessionid``: the server creates a Running AppSession)
upload a small file            ``POST v1pre3/appresults/{id}/files?name=&directory=`` raw body
start a multipart upload       the same with ``&multipart=true`` and no body → File ``pending``
send a part                    ``PUT v1pre3/files/{id}/parts/{n}`` with ``Content-MD5``
finish / abort                 ``POST v1pre3/files/{id}?uploadstatus=complete|aborted``
set an AppSession's status     ``POST v1pre3/appsessions/{id}`` ``{"status", "statussummary"}``
create a run (bs upload run)   ``POST v2/runs?experimentname=&instrumenttype=`` → ``Uploading``;
                               its files go up like an AppResult's (``v1pre3/runs/{id}/files``)
finish a run upload            ``POST v2/runs/{id}?uploadstatus=Completed|Failed``
=============================  ==================================================================

Parts are idempotent (re-sending a number replaces it) and retried like reads; everything that
creates or finishes something is retried only when it surely did not reach the server.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bsmount.api.models import AppResult, FileInfo, Run, Sample
from bsmount.api.retry import RetryPolicy
from bsmount.api.routes import segment
from bsmount.errors import IntegrityError

__all__ = [
    "MAX_PARTS",
    "WRITABLE_SESSION_STATES",
    "PartBody",
    "PartReceipt",
    "abort_file",
    "complete_file",
    "create_appresult",
    "create_run",
    "create_sample",
    "multipart_etag",
    "put_part",
    "set_appsession_status",
    "set_run_upload_status",
    "start_multipart",
    "upload_small_file",
]

MAX_PARTS = 10_000
#: AppSession states in which files may still be added (BaseSpacePy's ``canWorkOn``).
WRITABLE_SESSION_STATES = frozenset({"running", "needsattention", "timedout"})


class _Caller(Protocol):
    async def _call(
        self,
        method: str,
        path_or_href: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        content: bytes | Callable[[], AsyncIterator[bytes]] | None = None,
        headers: Mapping[str, str] | None = None,
        kind: str = "api",
        idempotent: bool = True,
        retry_policy: RetryPolicy | None = None,
    ) -> Any: ...


@dataclass(frozen=True, slots=True)
class PartBody:
    """A part to send: its size, MD5 digest, and a way to stream its bytes (called once per
    attempt)."""

    size: int
    md5: bytes
    chunks: Callable[[], AsyncIterator[bytes]]


@dataclass(frozen=True, slots=True)
class PartReceipt:
    """The server's answer to a part: its number, hex MD5 and size."""

    number: int
    etag: str
    size: int


def _response(document: Any) -> dict[str, Any]:
    body = document.get("Response", document) if isinstance(document, dict) else {}
    return body if isinstance(body, dict) else {}


def _file_params(name: str, directory: str) -> dict[str, str]:
    params = {"name": name}
    if directory:
        params["directory"] = directory
    return params


async def create_appresult(
    client: _Caller, project_id: str, name: str, description: str = ""
) -> AppResult:
    """A new AppResult in the project, with a new Running AppSession of its own."""
    document = await client._call(
        "POST",
        f"v1pre3/projects/{segment(project_id)}/appresults",
        json_body={"Name": name, "Description": description},
        idempotent=False,
    )
    return AppResult.from_json(_response(document))


async def create_sample(client: _Caller, project_id: str, fields: Mapping[str, Any]) -> Sample:
    """A new Sample in the project (``bs upload dataset``'s v1 form: Name, SampleId,
    SampleNumber, Read1/Read2 lengths, NumReadsRaw/PF, IsPairedEnd), with its own AppSession."""
    document = await client._call(
        "POST",
        f"v1pre3/projects/{segment(project_id)}/samples",
        json_body=dict(fields),
        idempotent=False,
    )
    return Sample.from_json(_response(document))


async def upload_small_file(
    client: _Caller,
    owner_id: str,
    name: str,
    directory: str,
    body: bytes,
    resource: str = "appresults",
) -> FileInfo:
    """One request with the whole file (small files, zero-byte files included), into an
    AppResult or (``resource="samples"``) a Sample."""
    document = await client._call(
        "POST",
        f"v1pre3/{resource}/{segment(owner_id)}/files",
        params=_file_params(name, directory),
        content=body,
        headers={"Content-Type": "application/octet-stream"},
        kind="upload",
        idempotent=False,
    )
    return FileInfo.from_json(_response(document))


async def start_multipart(
    client: _Caller, owner_id: str, name: str, directory: str, resource: str = "appresults"
) -> FileInfo:
    """A pending file whose parts come next."""
    params = {**_file_params(name, directory), "multipart": "true"}
    document = await client._call(
        "POST",
        f"v1pre3/{resource}/{segment(owner_id)}/files",
        params=params,
        headers={"Content-Type": "application/octet-stream"},
        idempotent=False,
    )
    return FileInfo.from_json(_response(document))


async def put_part(
    client: _Caller,
    file_id: str,
    number: int,
    body: PartBody,
    retry_policy: RetryPolicy | None = None,
) -> PartReceipt:
    """Send part ``number`` (1..10000) with its ``Content-MD5``; check the ETag it answers.
    The body is streamed (``body.chunks()`` again for each attempt), never whole in memory.
    Parts are idempotent: ``retry_policy`` may keep trying through a long outage."""
    digest = body.md5
    document = await client._call(
        "PUT",
        f"v1pre3/files/{segment(file_id)}/parts/{number}",
        content=body.chunks,
        headers={
            "Content-MD5": base64.b64encode(digest).decode("ascii"),
            "Content-Type": "application/octet-stream",
            "Content-Length": str(body.size),
        },
        kind="upload",
        retry_policy=retry_policy,
    )
    answer = _response(document)
    etag = str(answer.get("ETag") or "").strip('"').lower()
    if etag != digest.hex():
        raise IntegrityError(
            f"part {number} of file {file_id}: the server acknowledged ETag {etag!r}, "
            f"the part's MD5 is {digest.hex()}"
        )
    return PartReceipt(number, etag, int(answer.get("Size") or body.size))


async def complete_file(client: _Caller, file_id: str) -> FileInfo:
    """Assemble the parts: the file becomes ``complete``."""
    document = await client._call(
        "POST",
        f"v1pre3/files/{segment(file_id)}",
        params={"uploadstatus": "complete"},
        idempotent=False,
    )
    return FileInfo.from_json(_response(document))


async def abort_file(client: _Caller, file_id: str) -> None:
    """Abandon a pending upload (it stays hidden from listings)."""
    await client._call(
        "POST",
        f"v1pre3/files/{segment(file_id)}",
        params={"uploadstatus": "aborted"},
        idempotent=False,
    )


async def set_appsession_status(
    client: _Caller, appsession_id: str, status: str, summary: str
) -> Any:
    """``Complete`` and ``Aborted`` are final: no file can be added afterwards."""
    return await client._call(
        "POST",
        f"v1pre3/appsessions/{segment(appsession_id)}",
        json_body={"status": status, "statussummary": summary},
        idempotent=False,
    )


async def create_run(client: _Caller, experiment_name: str, instrument_type: str) -> Run:
    """A new empty run, ``Uploading``: its files may be added until it is Completed."""
    document = await client._call(
        "POST",
        "v2/runs",
        params={"experimentname": experiment_name, "instrumenttype": instrument_type},
        idempotent=False,
    )
    return Run.from_json(_response(document))


async def set_run_upload_status(client: _Caller, run_id: str, status: str) -> Run:
    """``Completed`` (the run needs its RunInfo.xml and RunParameters.xml) or ``Failed``."""
    document = await client._call(
        "POST",
        f"v2/runs/{segment(run_id)}",
        params={"uploadstatus": status},
        idempotent=False,
    )
    return Run.from_json(_response(document))


def multipart_etag(part_digests: list[bytes]) -> str:
    """The S3-style ETag of a multipart file: ``md5(concatenated part digests)-N``."""
    return f"{hashlib.md5(b''.join(part_digests)).hexdigest()}-{len(part_digests)}"
