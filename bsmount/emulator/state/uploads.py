"""File uploads into AppResults and Samples: the rules of the v1pre3 upload protocol.

The HTTP layer streams each body into the account's spool (:mod:`bsmount.emulator.blobs.spool`)
and calls these functions before and after; they decide what the account accepts
(upload-launch.md §1.4–1.7; guesses marked [G] in docs/emulator.md):

- :func:`prepare_file` checks a new file's place before any byte is read: the caller's AppResult
  or Sample, still writable (:func:`~bsmount.emulator.state.results.writable_container`), a valid
  ``directory/name``, no *complete* file at that path (409 ``BASESPACE.FILES.ALREADY_EXISTS``
  [G]); it reserves the file id.
- :func:`add_single_file`: a whole body → a ``complete`` file whose ETag is the body's MD5.
- :func:`start_multipart` → a ``pending`` file (Size 0); :func:`check_part` (part number
  1..10000, file pending and multipart) before a part's body, :func:`put_part` after it (the
  ``Content-MD5`` if sent must match, at most ``max_part_size`` bytes; a number sent again
  replaces the part); :func:`finish_multipart` with ``complete`` joins the parts in ascending
  order (no gaps, every part but the last at least ``min_part_size``) and sets Size and the
  S3-style ETag ``md5(the parts' binary digests concatenated)-N``, or with ``aborted`` drops them.
  Completing a complete file, or aborting an aborted one, answers it again (a client retrying a
  call whose answer it lost succeeds) [G].

A pending or aborted file is listed with its UploadStatus but has no readable content
(:class:`~bsmount.emulator.state.errors.ContentNotReady`). Every upload is kept in
``Model.uploads`` for the control plane (:func:`describe_uploads`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from dataclasses import dataclass
from typing import Any, cast

from bsmount.emulator.blobs.content import ConcatenatedContent, ContentSource, LocalFileContent
from bsmount.emulator.blobs.spool import StoredBody
from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.errors import Conflict, ContentNotReady, InvalidRequest, UnknownEntity
from bsmount.emulator.state.model import Entity, File, Upload, User, format_date
from bsmount.emulator.state.results import writable_container
from bsmount.emulator.state.tables import utcnow

__all__ = [
    "UPLOAD_KINDS",
    "FileTarget",
    "add_single_file",
    "check_part",
    "describe_uploads",
    "finish_multipart",
    "multipart_etag",
    "parse_content_md5",
    "prepare_file",
    "put_part",
    "readable",
    "start_multipart",
]

log = logging.getLogger(__name__)

UPLOAD_KINDS = ("appresults", "samples", "runs")  # runs: while Uploading (run_uploads)
_NAME_LIMIT = 255


@dataclass
class FileTarget:
    """Where a new file will go: its container, ``path`` (``dir/sub/name``) and reserved id."""

    kind: str
    container: Entity
    path: str
    name: str
    file_id: str
    user_id: str


def _bad(code: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"BASESPACE.FILES.{code}", message)


def _clean_path(name: str, directory: str) -> tuple[str, str]:
    name = name.strip()
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise _bad("INVALID_NAME", f"Invalid file name {name!r}: a name is required, without '/'")
    if len(name) > _NAME_LIMIT:
        raise _bad("INVALID_NAME", f"File names are limited to {_NAME_LIMIT} characters")
    parts = [p for p in directory.replace("\\", "/").split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise _bad("INVALID_DIRECTORY", f"Invalid directory {directory!r}")
    return "/".join([*parts, name]), name


def _container_files(state: EmulatorState, kind: str, container: Entity) -> list[str]:
    """The file ids of an AppResult or Sample (both keep ``file_ids``)."""
    return cast("list[str]", container.file_ids)  # type: ignore[attr-defined]


def _refuse_existing(state: EmulatorState, kind: str, container: Entity, path: str) -> None:
    files = state.model.files
    for file_id in _container_files(state, kind, container):
        other = files.get(file_id)
        if other is not None and other.path == path and other.upload_status == "complete":
            raise Conflict(
                "BASESPACE.FILES.ALREADY_EXISTS",
                f"A file {path!r} already exists in this {kind[:-1]}: files cannot be replaced",
            )


def prepare_file(
    state: EmulatorState, user: User, kind: str, container_id: str, name: str, directory: str
) -> FileTarget:
    """Check a new file's place (before its body is read) and reserve its id."""
    if kind not in UPLOAD_KINDS:
        raise UnknownEntity(kind, container_id)
    path, clean = _clean_path(name, directory)
    with state.lock:
        container: Entity = state.get(kind, container_id, user)
        writable_container(state, container)
        _refuse_existing(state, kind, container, path)
        file_id = state.model.new_numeric_id("files")
    return FileTarget(kind, container, path, clean, file_id, user.id)


def _new_file(target: FileTarget, content_type: str, status: str) -> File:
    now = utcnow()
    return File(
        id=target.file_id,
        name=target.name,
        date_created=now,
        date_modified=now,
        parent_kind=target.kind,
        parent_id=target.container.id,
        path=target.path,
        content=None,
        content_type=content_type,
        upload_status=status,
    )


def _register(state: EmulatorState, target: FileTarget, item: File, upload: Upload) -> None:
    state.model.files[item.id] = item
    _container_files(state, target.kind, target.container).append(item.id)
    state.model.uploads[item.id] = upload
    state.changed()


def add_single_file(
    state: EmulatorState, target: FileTarget, content_type: str, body: StoredBody
) -> File:
    """A single-request upload: the whole body, received → a complete file."""
    with state.lock:
        writable_container(state, target.container)
        _refuse_existing(state, target.kind, target.container, target.path)
        item = _new_file(target, content_type, "complete")
        item.content = cast("ContentSource", LocalFileContent(body.path, etag=body.md5_hex))
        upload = Upload(item.id, target.user_id, False, item.date_created, "complete", body=body)
        upload.date_finished = item.date_created
        _register(state, target, item, upload)
    log.info("file %s (%s, %d bytes) uploaded in one request", item.id, item.path, body.size)
    return item


def start_multipart(state: EmulatorState, target: FileTarget, content_type: str) -> File:
    """Initiate a multipart upload: a pending file of size 0."""
    with state.lock:
        item = _new_file(target, content_type, "pending")
        _register(state, target, item, Upload(item.id, target.user_id, True, item.date_created))
    log.info("multipart upload of file %s (%s) started", item.id, item.path)
    return item


def _upload_of(state: EmulatorState, user: User, file_id: str) -> tuple[File, Upload]:
    item: File = state.get("files", file_id, user)
    upload = state.model.uploads.get(file_id)
    if upload is None or not upload.multipart:
        raise _bad(
            "NOT_MULTIPART",
            f"File {file_id} was not created as a multipart upload (multipart=true)",
        )
    return item, upload


def check_part(state: EmulatorState, user: User, file_id: str, number: str) -> tuple[File, int]:
    """Before a part's body: the file is a pending multipart upload the caller may write, and
    ``number`` is within 1..max_parts. Returns the file and the number."""
    limit = state.upload_limits.max_parts
    try:
        value = int(number)
    except ValueError:
        value = 0
    if not 1 <= value <= limit or not number.isdigit():
        raise _bad("INVALID_PART_NUMBER", f"Part numbers run from 1 to {limit} (got {number!r})")
    with state.lock:
        item, upload = _upload_of(state, user, file_id)
        if upload.status != "pending":
            raise _bad(
                "UPLOAD_NOT_PENDING",
                f"File {file_id} is {upload.status}: parts can be sent only while it is pending",
            )
        container = state.peek(item.parent_kind, item.parent_id)
        if container is not None:
            writable_container(state, container)
    return item, value


def parse_content_md5(header: str | None) -> bytes | None:
    """The 16-byte digest of a ``Content-MD5`` header (base64, RFC 1864), None if absent."""
    if header is None or not header.strip():
        return None
    try:
        digest = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 16:
        raise _bad("INVALID_DIGEST", "The Content-MD5 you specified was invalid")
    return digest


def put_part(
    state: EmulatorState, item: File, number: int, body: StoredBody, content_md5: bytes | None
) -> StoredBody:
    """Keep a received part (replacing one of the same number). The caller discards ``body``
    when this raises."""
    limits = state.upload_limits
    if content_md5 is not None and content_md5 != body.md5:
        raise _bad(
            "BAD_DIGEST",
            f"The Content-MD5 you specified did not match what was received (part {number})",
        )
    if body.size > limits.max_part_size:
        raise _bad(
            "PART_TOO_LARGE",
            f"Part {number} is {body.size} bytes: parts are limited to {limits.max_part_size}",
        )
    with state.lock:
        upload = state.model.uploads.get(item.id)
        if upload is None or upload.status != "pending":
            status = upload.status if upload is not None else "unknown"
            raise _bad("UPLOAD_NOT_PENDING", f"File {item.id} is {status}")
        old = upload.parts.get(number)
        upload.parts[number] = body
        upload.part_puts += 1
    if old is not None:
        state.spool.remove_body(old)
    log.debug("file %s part %d: %d bytes", item.id, number, body.size)
    return body


def multipart_etag(digests: list[bytes]) -> str:
    """S3's ETag of a multipart object: md5 of the parts' binary digests, ``-`` part count."""
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def _assemble(state: EmulatorState, item: File, upload: Upload) -> None:
    numbers = sorted(upload.parts)
    if not numbers:
        raise _bad("MISSING_PARTS", f"File {item.id} has no parts: nothing to complete")
    missing = [n for n in range(1, numbers[-1] + 1) if n not in upload.parts]
    if missing:
        shown = ", ".join(str(n) for n in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise _bad("MISSING_PARTS", f"File {item.id} cannot be completed: missing part(s) {shown}")
    minimum = state.upload_limits.min_part_size
    for number in numbers[:-1]:
        size = upload.parts[number].size
        if size < minimum:
            raise _bad(
                "PART_TOO_SMALL",
                f"Part {number} is {size} bytes: every part but the last must be at least"
                f" {minimum} bytes",
            )
    parts = [upload.parts[n] for n in numbers]
    etag = multipart_etag([p.md5 for p in parts])
    item.content = ConcatenatedContent([p.path for p in parts], etag)


def finish_multipart(state: EmulatorState, user: User, file_id: str, status: str) -> File:
    """``uploadstatus=complete`` or ``aborted`` on a multipart upload."""
    wanted = status.strip().lower()
    if wanted not in ("complete", "aborted"):
        raise InvalidRequest(
            "BASESPACE.COMMON.INVALID_PARAMETER", "uploadstatus must be complete or aborted"
        )
    with state.lock:
        item, upload = _upload_of(state, user, file_id)
        if upload.status == wanted:
            return item  # a retried call whose answer was lost
        if upload.status != "pending":
            raise _bad(
                "UPLOAD_NOT_PENDING",
                f"File {file_id} is {upload.status}: it cannot become {wanted}",
            )
        if wanted == "complete":
            container = state.peek(item.parent_kind, item.parent_id)
            if container is not None:
                writable_container(state, container)
                _refuse_existing(state, item.parent_kind, container, item.path)
            _assemble(state, item, upload)
        upload.status = item.upload_status = wanted
        item.date_modified = upload.date_finished = utcnow()
        parts = dict(upload.parts) if wanted == "aborted" else {}
        state.changed()
    for part in parts.values():
        state.spool.remove_body(part)
    log.info("multipart upload of file %s %s (%d parts)", file_id, wanted, len(upload.parts))
    return item


def readable(item: File) -> None:
    """Refuse the content of a file whose upload is not complete."""
    if item.upload_status != "complete":
        raise ContentNotReady(
            "BASESPACE.FILES.UPLOAD_NOT_COMPLETE",
            f"File {item.id} has no content: its upload is {item.upload_status}",
        )


def describe_uploads(state: EmulatorState) -> list[dict[str, Any]]:
    """Every upload since the last reset, oldest first, for the control plane."""
    described = []
    for upload in list(state.model.uploads.values()):
        item = state.model.files.get(upload.file_id)
        parts = [
            {"number": n, "size": p.size, "etag": p.md5_hex}
            for n, p in sorted(upload.parts.items())
        ]
        described.append(
            {
                "file_id": upload.file_id,
                "path": item.path if item else None,
                "container": f"{item.parent_kind}/{item.parent_id}" if item else None,
                "user_id": upload.user_id,
                "multipart": upload.multipart,
                "status": upload.status,
                "size": item.size if item else 0,
                "etag": item.etag if item else "",
                "parts": parts,
                "part_count": len(parts),
                "part_bytes": sum(p["size"] for p in parts),  # type: ignore[misc]
                "part_puts": upload.part_puts,
                "date_started": format_date(upload.date_started),
                "date_finished": (
                    format_date(upload.date_finished) if upload.date_finished else None
                ),
            }
        )
    return described
