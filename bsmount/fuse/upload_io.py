"""Files being written as FUSE handles: :class:`UploadIO`, a collaborator of
:class:`bsmount.fuse.operations.Operations` (docs/writing.md).

It opens a file being written (one writer; readers read the spool, then the server's bytes once
it is sent), passes writes to its :class:`~bsmount.upload.transfer.FileUpload`, commits it at
``close`` (``flush``) — or at ``release`` when nothing flushed it (a zero-byte file) — reports a
failed upload once to the writer, and answers which ``setattr`` calls a written file accepts.
Every refusal goes to the directory's ``.error``. Where files may be created, and what a commit
does to the tree, is :mod:`bsmount.fuse.writes`' job.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable

import pyfuse3

from bsmount.errors import ControlError
from bsmount.fuse.handles import OpenFile
from bsmount.fuse.writes import WritableFiles
from bsmount.io.reader import ReadEngine
from bsmount.tree.nodes import Node, NodeKey
from bsmount.upload.transfer import FileUpload

__all__ = ["UploadIO"]

log = logging.getLogger("bsmount.fuse")

Refuse = Callable[[NodeKey, str, BaseException], BaseException]


class UploadIO:
    """Handle-level operations on files written through the mount."""

    def __init__(self, writes: WritableFiles, engine: ReadEngine, refuse: Refuse) -> None:
        self.writes = writes
        self.engine = engine
        self.refuse = refuse  # records why in a directory's .error; the error to raise

    def open(self, node: Node, flags: int, pid: int) -> OpenFile:
        """Open a file being written: more writes (one writer at a time), or reads."""
        upload = node.local
        assert isinstance(upload, FileUpload)
        writing = bool(flags & (os.O_WRONLY | os.O_RDWR))
        if writing:
            if upload.handles or upload.closed:
                log.info("open of %r for writing refused: it has a writer already", node.key)
                raise pyfuse3.FUSEError(errno.EBUSY)
            if flags & os.O_TRUNC and upload.size:
                log.info("open of %r with O_TRUNC refused: bytes were written", node.key)
                raise pyfuse3.FUSEError(errno.EPERM)
            upload.handles += 1
        opened = OpenFile(node, upload=upload, writing=writing, opener_pid=pid)
        opened.directory = self.writes.directory_of(node) or node.key[:-1]
        return opened

    def created(self, node: Node, directory: NodeKey, pid: int) -> OpenFile:
        """The writer's handle of a file ``create`` just made."""
        upload = node.local
        assert isinstance(upload, FileUpload)
        upload.handles += 1
        opened = OpenFile(node, upload=upload, writing=True, opener_pid=pid)
        opened.directory = directory
        return opened

    def refuse_overwrite(self, node: Node) -> None:
        """Opening a data file for writing: EPERM for one sent through this mount, else EROFS."""
        if node.key in self.writes.written_keys:
            exc = ControlError(
                errno.EPERM, f"{node.key[-1]!r}: BaseSpace files cannot be overwritten or changed"
            )
            raise self.refuse(node.key[:-2], "open for writing", exc)  # the Files/ directory
        log.info("open of %r for writing refused: data files are read-only", node.key)
        raise pyfuse3.FUSEError(errno.EROFS)

    async def read(self, opened: OpenFile, off: int, size: int) -> bytes | None:
        """Read your writes from the spool; None once the file is sent (``opened`` then holds a
        read handle of the server's file, to read through the engine)."""
        upload = opened.upload
        assert upload is not None
        if upload.spool.open:
            return await upload.spool.read(off, max(0, min(size, upload.size - off)))
        if upload.result is None:
            raise ControlError(errno.EIO, f"{upload.destination.path}: the upload failed")
        opened.handle = self.engine.open(upload.result.version())
        opened.upload = None
        return None

    async def write(self, opened: OpenFile, off: int, buf: bytes) -> int:
        assert opened.upload is not None
        try:
            await opened.upload.write(off, bytes(buf))
        except Exception as exc:
            raise self.refuse(opened.directory, f"write {opened.node.key[-1]!r}", exc) from None
        opened.wrote = True
        return len(buf)

    async def flush(self, opened: OpenFile) -> None:
        """``close``: returns once the file is in BaseSpace (or says why it is not)."""
        upload = opened.upload
        assert upload is not None
        if opened.wrote and upload.error is not None:
            opened.wrote = False  # the writer hears of a failed upload once, at its close
            failed = ControlError(
                errno.EIO, f"{upload.destination.path}: upload failed: {upload.error}"
            )
            raise self.refuse(opened.directory, f"close {opened.node.key[-1]!r}", failed)
        if opened.wrote and not upload.deferred and not upload.closed:
            await self._commit(opened)

    def fsync(self, opened: OpenFile) -> None:
        upload = opened.upload
        if upload is not None and upload.error is not None:
            failed = ControlError(errno.EIO, f"upload failed: {upload.error}")
            raise self.refuse(opened.directory, f"fsync {opened.node.key[-1]!r}", failed)

    async def release(self, opened: OpenFile) -> None:
        """The last of a writer's handle: commit what nothing flushed (a zero-byte file); the
        kernel ignores release's answer, so a failure is only in ``.error`` and the log."""
        if opened.upload is None and isinstance(opened.node.local, FileUpload):
            opened.upload = opened.node.local  # a writer whose reads moved to the server's file
        upload = opened.upload
        if upload is None:
            return
        upload.handles -= 1
        if upload.error is not None:
            self.writes.forget(opened.node)  # failed: nothing was published, nothing shown
        if not upload.deferred and not upload.closed:
            try:
                await self._commit(opened)
            except Exception as exc:
                log.warning("upload of %r failed at release: %s", opened.node.key, exc)

    async def _commit(self, opened: OpenFile) -> None:
        opened.wrote = False
        try:
            await self.writes.commit(opened.node)
        except Exception as exc:
            self.writes.forget(opened.node)
            # a refused file (bad FASTQ: EINVAL) keeps its errno; a failed transfer is EIO
            failed = exc if isinstance(exc, ControlError) else ControlError(errno.EIO, str(exc))
            raise self.refuse(opened.directory, f"upload {opened.node.key[-1]!r}", failed) from None

    def accepts_setattr(self, node: Node, new_size: int | None) -> bool:
        """``chmod``/``utimes`` (``cp -p``, ``rsync -a``, ``tar``) on what was written here are
        accepted and not kept; a size change only to the current size of a file being written
        (EPERM otherwise). False for nodes not written through this mount."""
        written = node.local is not None or node.key in self.writes.written_keys
        if not written and not (node.spec is not None and node.spec.kind.accepts_writes):
            return False
        if new_size is not None and new_size != (node.local.size if node.local else -1):
            log.info("truncate of %r refused: uploads are append-only", node.key)
            raise pyfuse3.FUSEError(errno.EPERM)
        return True
