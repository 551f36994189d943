"""Every upload of a mount: :class:`UploadManager` opens them, bounds the parts in flight
across all files, and reports on them (``.bsmount/uploads``, ``bsmount status``)."""

from __future__ import annotations

import logging
from typing import Any

import trio

from bsmount.api import uploads
from bsmount.api.retry import RetryPolicy
from bsmount.upload.journal import Journal
from bsmount.upload.spool import SpoolDir
from bsmount.upload.transfer import Destination, FileUpload, UploadState

__all__ = ["UploadManager"]

log = logging.getLogger(__name__)


class UploadManager:
    """Opens uploads; parts of all files share ``parts_in_flight`` slots."""

    def __init__(
        self,
        client: Any,
        nursery: trio.Nursery,
        spool: SpoolDir,
        journal: Journal,
        *,
        part_size: int,
        parts_in_flight: int = 8,
        part_retries: RetryPolicy | None = None,
    ) -> None:
        self.client = client
        self.nursery = nursery
        self.spool = spool
        self.journal = journal
        self.part_size = part_size
        self.part_slots = trio.CapacityLimiter(parts_in_flight)
        # a part is idempotent: it is retried through outages as long as the client's deadline
        # without progress allows (a writer's close waits, bounded), not just a few times
        self.part_retries = part_retries or RetryPolicy(
            max_retries=60, deadline=getattr(client, "io_deadline", 60.0)
        )
        self.active: set[FileUpload] = set()
        self.bytes_sent = 0
        self.committed = 0
        self.failed = 0
        self.recent_errors: list[str] = []

    async def open(self, destination: Destination, *, streams: bool = True) -> FileUpload:
        """A new upload; ``streams=False`` keeps every byte local until commit (files that are
        checked before anything is sent: FASTQ samples)."""
        spool = self.spool.create()
        upload = FileUpload(
            self,
            destination,
            spool,
            part_size=self.part_size,
            deferred=destination.name.startswith("."),
            streams=streams,
        )
        self.active.add(upload)
        return upload

    async def recover(self) -> int:
        """Abort the uploads a previous mount of this cache directory left open."""
        left = await trio.to_thread.run_sync(self.journal.prepare)
        return await self.journal.recover(
            left, lambda file_id: uploads.abort_file(self.client, file_id)
        )

    def finished(self, upload: FileUpload) -> None:
        if upload not in self.active:
            return
        self.active.discard(upload)
        if upload.state is UploadState.COMMITTED:
            self.committed += 1
        elif upload.state is UploadState.FAILED:
            self.failed += 1
            self.recent_errors = [
                *self.recent_errors[-9:],
                f"{upload.destination.path}: {upload.error}",
            ]

    def statistics(self) -> dict[str, Any]:
        return {
            "in_flight": [u.statistics() for u in sorted(self.active, key=lambda u: u.started)],
            "bytes_sent": self.bytes_sent,
            "files_committed": self.committed,
            "files_failed": self.failed,
            "spool_bytes_unacknowledged": self.spool.used,
            "recent_errors": list(self.recent_errors),
        }
