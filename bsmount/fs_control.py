"""Control files and `mkdir` as FUSE operations: a mixin of :class:`bsmount.fs.Operations`.

Opening a control file for writing (only the mounting user may), collecting the payload, acting
on it when it is complete or at ``close`` (``flush``), recording failures in ``.error``, and
dropping the metadata an action changed, ours and the kernel's (:meth:`ControlFileOps._apply`);
``mkdir Projects/NAME`` creates a project; ``rmdir`` is refused with a pointer to ``.trash``. The
semantics of each file live in :mod:`bsmount.control`; this module only adapts them to FUSE.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import pyfuse3

from bsmount.control import MAX_PAYLOAD, ControlError, Controls, Effect
from bsmount.fs_kernel import KernelInvalidator
from bsmount.fs_ops import fuse_op
from bsmount.io.reader import ReadHandle
from bsmount.tree.inodes import InodeTable
from bsmount.tree.nodes import Node
from bsmount.tree.tree import Tree

__all__ = ["ControlFileOps", "OpenFile"]

log = logging.getLogger("bsmount.fs")


@dataclass(slots=True)
class OpenFile:
    """An open file handle: a data file's read handle, or a generated or control file's state."""

    node: Node
    handle: ReadHandle | None = None
    content: bytes | None = None
    failed_errno: int = 0
    failed_at: float = 0.0
    # control files opened for writing: the payload so far, and whether it was acted on
    writing: bool = False
    payload: bytearray | None = None
    acted: bool = False
    opener_pid: int = 0


class ControlFileOps:
    """The control-file and ``mkdir`` operations; :class:`bsmount.fs.Operations` provides the
    state and helpers declared here."""

    tree: Tree
    controls: Controls | None
    inodes: InodeTable[Node]
    kernel: KernelInvalidator
    uid: int
    io_timeout: float
    in_flight: int
    last_done: float
    _handles: dict[int, OpenFile]
    _next_fh: int

    def count_error(self, code: int) -> None:
        raise NotImplementedError

    def _node(self, ino: int) -> Node:
        raise NotImplementedError

    def _attrs(self, node: Node, ino: int) -> pyfuse3.EntryAttributes:
        raise NotImplementedError

    def _remember(self, node: Node, count: int = 1) -> int:
        raise NotImplementedError

    def _open_control(
        self, node: Node, flags: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.FileInfo:
        writing = bool(flags & (os.O_WRONLY | os.O_RDWR))
        if writing:
            if not node.mode & 0o200:
                log.info("open of %r for writing refused: it is read-only", node.key)
                raise pyfuse3.FUSEError(errno.EACCES)
            if ctx.uid != self.uid:
                log.warning(
                    "uid %d may not write %r: only the mounting user may", ctx.uid, node.key
                )
                raise pyfuse3.FUSEError(errno.EACCES)
        fh = self._next_fh
        self._next_fh += 1
        self._handles[fh] = OpenFile(
            node, writing=writing, payload=bytearray() if writing else None, opener_pid=ctx.pid
        )
        # control files change between opens and their size is unknown: no page cache
        return pyfuse3.FileInfo(fh=fh, direct_io=True, keep_cache=False, nonseekable=False)

    async def _read_control(self, node: Node, interrupted: Callable[[], bool]) -> bytes:
        assert self.controls is not None
        try:
            return await self.controls.read(node, interrupted)
        except Exception as exc:
            code = self.controls.record_error(node.extra["dir"], f"read {node.key[-1]}", exc)
            raise ControlError(code, str(exc)) from None

    async def _act(self, opened: OpenFile) -> None:
        assert self.controls is not None and opened.payload is not None
        opened.acted = True
        node = opened.node
        try:
            effect = await self.controls.write(node, bytes(opened.payload))
        except Exception as exc:
            code = self.controls.record_error(node.extra["dir"], f"write {node.key[-1]}", exc)
            raise ControlError(code, str(exc)) from None
        self._apply(effect)

    def _apply(self, effect: Effect) -> None:
        """Drop cached metadata (ours and the kernel's) after an action."""
        for removed in effect.removed:
            parent = self.tree.cache.peek(removed[:-1])
            parent_ino = self.inodes.known_ino(removed[:-1])
            if parent is not None and parent_ino is not None:
                for name, child in parent.entries.items():
                    if child.key == removed:
                        self.kernel.entry(parent_ino, name)
        for prefix in effect.invalidate:
            listing = self.tree.cache.peek(prefix)
            dir_ino = self.inodes.known_ino(prefix)
            if listing is not None and dir_ino is not None:
                for name in listing.entries:
                    self.kernel.entry(dir_ino, name)
            for ino in self.inodes.known_under(prefix):
                self.kernel.inode(ino)
            dropped = self.tree.invalidate(prefix)
            log.info("refreshed %r: %d cached listings dropped", "/".join(prefix) or "/", dropped)
        if effect.unmount:
            log.info("unmount requested through .commands")
            pyfuse3.terminate()

    @fuse_op("write")
    async def write(self, fh: int, off: int, buf: bytes) -> int:
        opened = self._handles.get(fh)
        if opened is None or not opened.writing or opened.payload is None:
            raise pyfuse3.FUSEError(errno.EBADF if opened is None else errno.EROFS)
        if opened.failed_errno:
            raise pyfuse3.FUSEError(opened.failed_errno)  # the rest of a refused payload
        if opened.acted:
            # one payload per open: a second command needs a new write of the file
            raise ControlError(errno.EINVAL, "this control file already acted; reopen it")
        opened.payload += buf
        assert self.controls is not None
        try:
            if len(opened.payload) > MAX_PAYLOAD:
                opened.acted = True
                exc = ControlError(errno.EFBIG, f"payload over {MAX_PAYLOAD} bytes refused")
                self.controls.record_error(
                    opened.node.extra["dir"], f"write {opened.node.key[-1]}", exc
                )
                raise exc
            if self.controls.is_complete(opened.node, bytes(opened.payload)):
                await self._act(opened)
        except ControlError as exc:
            opened.failed_errno = exc.errno
            raise
        return len(buf)

    @fuse_op("flush")
    async def flush(self, fh: int) -> None:
        opened = self._handles.get(fh)
        if opened is None or not opened.writing or opened.acted or not opened.payload:
            return
        await self._act(opened)

    @fuse_op("setattr")
    async def setattr(
        self,
        inode: int,
        attr: pyfuse3.EntryAttributes,
        fields: pyfuse3.SetattrFields,
        fh: int | None,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        node = self._node(inode)
        only_size = fields.update_size and not (
            fields.update_mode or fields.update_uid or fields.update_gid
        )
        if node.extra.get("control") and node.mode & 0o200 and only_size and attr.st_size == 0:
            return self._attrs(node, inode)  # O_TRUNC of a control file: nothing to truncate
        raise pyfuse3.FUSEError(errno.EROFS if not node.extra.get("control") else errno.EACCES)

    @fuse_op("mkdir")
    async def mkdir(
        self, parent_inode: int, name: bytes, mode: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        parent = self._node(parent_inode)
        text = os.fsdecode(name)
        if parent.spec is None or parent.spec.kind != "projects" or self.controls is None:
            log.info("mkdir %r refused: only Projects/ accepts new directories", text)
            raise pyfuse3.FUSEError(errno.EROFS)
        if ctx.uid != self.uid:
            raise pyfuse3.FUSEError(errno.EACCES)
        listing = await self.tree.listing(parent)
        existing = [
            child.spec.entity.name
            for child in listing.entries.values()
            if child.spec is not None and child.spec.entity is not None
        ] + list(listing.entries)
        try:
            effect = await self.controls.create_project(text, existing)
        except Exception as exc:
            code = self.controls.record_error(parent.key, "mkdir", exc)
            raise ControlError(code, str(exc)) from None
        self.tree.invalidate(parent.key)
        for prefix in effect.invalidate:
            self.tree.invalidate(prefix)
        child = await self.tree.lookup(parent, text)
        if child is None:
            raise ControlError(errno.EIO, f"project {text!r} was created but is not listed yet")
        return self._attrs(child, self._remember(child))

    @fuse_op("rmdir")
    async def rmdir(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        parent = self._node(parent_inode)
        exc = ControlError(
            errno.EPERM, f"rmdir does not delete {os.fsdecode(name)!r}: write 'yes' to its .trash"
        )
        if self.controls is not None:
            self.controls.record_error(parent.key, "rmdir", exc)
        raise exc
