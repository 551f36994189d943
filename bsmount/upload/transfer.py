"""One file's way into BaseSpace: :class:`FileUpload`.

Writes are appended to the file's spool; they must come in order (each at the current end of
the file), like mountpoint-s3: a write elsewhere fails with EINVAL and the upload is abandoned.
While the file is written, every full part (``part_size`` bytes) is sent at once, read back from
the spool (multipart upload, started lazily before the first part), so a big file streams
instead of waiting for ``close``. At commit the last part is sent and the file completed — or,
for a file that never filled a part, sent in one request. The server's Size and ETag (plain MD5,
or ``md5(part digests)-N``) are compared with what was written; a mismatch aborts the file.

A *deferred* upload (a name starting with ``.``: rsync's temporary files, editors' swap files)
sends nothing until :meth:`FileUpload.rename` gives it a visible name; then it is committed.
"""

from __future__ import annotations

import enum
import errno
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import trio

from bsmount.api import uploads
from bsmount.api.models import FileInfo
from bsmount.api.retry import RetryPolicy
from bsmount.errors import BsmountError, ControlError, IntegrityError
from bsmount.upload.journal import Journal
from bsmount.upload.spool import SpoolFile

__all__ = ["Destination", "FileUpload", "UploadContext", "UploadState"]

log = logging.getLogger(__name__)


class UploadContext(Protocol):
    """What an upload shares with the others (:class:`bsmount.upload.manager.UploadManager`)."""

    client: Any
    nursery: trio.Nursery
    part_slots: trio.CapacityLimiter
    part_retries: RetryPolicy
    bytes_sent: int
    journal: Journal

    def finished(self, upload: FileUpload) -> None: ...


class UploadState(enum.Enum):
    WRITING = "writing"
    COMMITTING = "committing"
    COMMITTED = "committed"
    FAILED = "failed"
    ABORTED = "aborted"


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a file goes: an AppResult (or a Sample: ``resource="samples"``), a directory
    inside it ("" for the top) and a name."""

    appresult_id: str
    directory: str
    name: str
    resource: str = "appresults"

    @property
    def path(self) -> str:
        return f"{self.directory}/{self.name}" if self.directory else self.name


class FileUpload:
    """The bytes written to one file, and their transfer to BaseSpace."""

    def __init__(
        self,
        manager: UploadContext,
        destination: Destination,
        spool: SpoolFile,
        *,
        part_size: int,
        deferred: bool = False,
        streams: bool = True,
    ) -> None:
        self.manager = manager
        self.destination = destination
        self.spool = spool
        self.part_size = part_size
        self.deferred = deferred  # a temporary name: nothing is sent until a rename
        self.streams = streams  # full parts go up while the file is written
        self.state = UploadState.WRITING
        self.error: BaseException | None = None
        self.file_id: str | None = None
        self.result: FileInfo | None = None
        self.started = time.monotonic()
        self.bytes_sent = 0
        self.handles = 0  # open file handles writing it (kept by the FUSE adapter)
        self._digests: dict[int, bytes] = {}
        self._next_part = 1  # the next part number to start
        self._in_flight = 0
        self._idle = trio.Event()
        self._idle.set()
        self._initiate = trio.Lock()
        self._record: Path | None = None  # the journal's record while the server holds it open

    @property
    def size(self) -> int:
        return self.spool.size

    @property
    def parts_sent(self) -> int:
        return len(self._digests)

    @property
    def closed(self) -> bool:
        return self.state is not UploadState.WRITING

    # -- writing -------------------------------------------------------------------------------

    async def write(self, offset: int, data: bytes) -> None:
        self._check_usable()
        if offset != self.size:
            reason = (
                f"{self.destination.path}: write at byte {offset} of a file of {self.size} "
                "bytes; uploads are sequential (write files in order: cp, rsync, dd without "
                "seek); the upload is abandoned"
            )
            await self.fail(ControlError(errno.EINVAL, reason))
            raise ControlError(errno.EINVAL, reason)
        if self.size + len(data) > uploads.MAX_PARTS * self.part_size:
            limit = uploads.MAX_PARTS * self.part_size
            raise ControlError(
                errno.EFBIG, f"{self.destination.path}: BaseSpace files hold at most {limit} bytes"
            )
        await self.spool.append(data)
        if self.streams and not self.deferred:
            self._start_full_parts()

    def _check_usable(self) -> None:
        if self.state is UploadState.FAILED:
            raise ControlError(errno.EIO, f"{self.destination.path}: upload failed: {self.error}")
        if self.state is not UploadState.WRITING:
            raise ControlError(
                errno.EPERM, f"{self.destination.path}: the file is {self.state.value}"
            )

    def _start_full_parts(self) -> None:
        while self.size - (self._next_part - 1) * self.part_size >= self.part_size:
            self._start_part(self._next_part, self.part_size)

    def _start_part(self, number: int, length: int) -> None:
        self._next_part = number + 1
        self._in_flight += 1
        self._idle = trio.Event()
        self.manager.nursery.start_soon(self._send_part, number, length)

    async def _send_part(self, number: int, length: int) -> None:
        offset = (number - 1) * self.part_size
        try:
            async with self.manager.part_slots:
                if self.error is not None:
                    return
                file_id = await self._file_id()
                spool = self.spool
                body = uploads.PartBody(
                    length,
                    await spool.md5(offset, length),
                    lambda: spool.chunks(offset, length),
                )
                receipt = await uploads.put_part(
                    self.manager.client, file_id, number, body, self.manager.part_retries
                )
                self._digests[number] = bytes.fromhex(receipt.etag)
                self.bytes_sent += length
                self.manager.bytes_sent += length
                self.spool.acknowledged(length)
        except Exception as exc:  # recorded: the writer sees it at its next write or close
            if self.error is None:
                log.warning("%s: part %d failed: %s", self.destination.path, number, exc)
                self.error = exc
                self.state = UploadState.FAILED
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _file_id(self) -> str:
        async with self._initiate:
            if self.file_id is None:
                started = await uploads.start_multipart(
                    self.manager.client,
                    self.destination.appresult_id,
                    self.destination.name,
                    self.destination.directory,
                    self.destination.resource,
                )
                self.file_id = started.id
                self._record = await self.manager.journal.record(
                    started.id, self.destination.appresult_id, self.destination.path
                )
            return self.file_id

    # -- finishing -----------------------------------------------------------------------------

    async def rename(self, destination: Destination) -> None:
        """Give a not yet started upload its final name (rsync's temp file renamed)."""
        if self.file_id is not None or self._next_part > 1:
            raise ControlError(
                errno.EPERM,
                f"{self.destination.path}: a file already sent to BaseSpace cannot be renamed",
            )
        self.destination = destination
        self.deferred = destination.name.startswith(".")

    async def commit(self) -> FileInfo:
        """Send what is left and complete the file; the server's file, checked."""
        self._check_usable()
        self.state = UploadState.COMMITTING
        try:
            if self._next_part == 1 and self.size <= self.part_size:
                result = await self._send_whole()
            else:
                result = await self._finish_parts()
        except BaseException as exc:
            await self.fail(exc)
            raise
        self.result = result
        self.state = UploadState.COMMITTED
        self.manager.journal.forget(self._record)
        await self.spool.drop()
        self.manager.finished(self)
        log.info(
            "uploaded %s (%d bytes) to appresult %s as file %s",
            self.destination.path,
            self.size,
            self.destination.appresult_id,
            result.id,
        )
        return result

    async def _send_whole(self) -> FileInfo:
        body = await self.spool.read(0, self.size)
        result = await uploads.upload_small_file(
            self.manager.client,
            self.destination.appresult_id,
            self.destination.name,
            self.destination.directory,
            body,
            self.destination.resource,
        )
        self.bytes_sent = self.size
        self.manager.bytes_sent += self.size
        self._verify(result, (await self.spool.md5(0, self.size)).hex())
        return result

    async def _finish_parts(self) -> FileInfo:
        self._start_full_parts()
        rest = self.size - (self._next_part - 1) * self.part_size
        if rest > 0:
            self._start_part(self._next_part, rest)
        await self._idle.wait()
        if self.error is not None:
            raise self.error
        file_id = await self._file_id()
        result = await uploads.complete_file(self.manager.client, file_id)
        digests = [self._digests[n] for n in sorted(self._digests)]
        self._verify(result, uploads.multipart_etag(digests))
        return result

    def _verify(self, result: FileInfo, etag: str) -> None:
        problems = []
        if result.size is not None and result.size != self.size:
            problems.append(f"size {result.size}, {self.size} bytes were written")
        if result.etag and result.etag.strip('"').lower() != etag:
            problems.append(f"ETag {result.etag}, expected {etag}")
        if problems:
            raise IntegrityError(
                f"{self.destination.path}: the server's file has " + "; ".join(problems)
            )

    async def fail(self, exc: BaseException) -> None:
        """Abandon the upload: the server's pending file is aborted, the spool dropped."""
        if self.state in (UploadState.COMMITTED, UploadState.ABORTED):
            return
        self.error = self.error or exc
        self.state = UploadState.FAILED
        await self._abort_server_file()
        with trio.CancelScope(shield=True):
            await self.spool.drop()
        self.manager.finished(self)

    async def discard(self) -> None:
        """The file was removed before it was committed: nothing is published."""
        if self.state in (UploadState.COMMITTED, UploadState.ABORTED):
            return
        self.state = UploadState.ABORTED
        await self._abort_server_file()
        with trio.CancelScope(shield=True):
            await self.spool.drop()
        self.manager.finished(self)

    async def _abort_server_file(self) -> None:
        if self.file_id is None:
            return
        with trio.CancelScope(shield=True), trio.move_on_after(30):
            try:
                await uploads.abort_file(self.manager.client, self.file_id)
                self.manager.journal.forget(self._record)
            except BsmountError as exc:  # the record stays: the next mount tries again
                log.info("aborting upload %s failed: %s", self.file_id, exc)

    def statistics(self) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return {
            "path": self.destination.path,
            "appresult": self.destination.appresult_id,
            "state": self.state.value,
            "bytes_written": self.size,
            "bytes_sent": self.bytes_sent,
            "parts_sent": self.parts_sent,
            "parts_in_flight": self._in_flight,
            "rate_mb_s": round(self.bytes_sent / elapsed / 1e6, 2),
            "error": str(self.error) if self.error else None,
        }
