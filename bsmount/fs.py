"""The pyfuse3 adapter: FUSE requests in, tree and read-engine calls out, errnos at the edge.

This module is thin on purpose. It keeps the inode table and file handles, bounds every
operation in time (``io_timeout``), and turns exceptions into ``FUSEError`` through
:func:`bsmount.fs_errors.to_errno`, logging each errno with its cause. The tree
(:mod:`bsmount.tree`) and the read engine (:mod:`bsmount.io`) know nothing of pyfuse3.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyfuse3
import trio
from cachetools import TTLCache

from bsmount.control import MAX_PAYLOAD, ControlError, Controls, Effect
from bsmount.errors import IntegrityError
from bsmount.fs_errors import to_errno
from bsmount.fs_kernel import KernelInvalidator
from bsmount.fs_ops import fuse_op, signal_pending
from bsmount.fs_siblings import DirectoryReadAhead
from bsmount.io.reader import ReadEngine, ReadHandle
from bsmount.tree.inodes import ROOT_INODE, InodeTable
from bsmount.tree.nodes import Node, NodeType
from bsmount.tree.resource_layout import LookupRefused
from bsmount.tree.tree import Tree

__all__ = ["Operations"]

log = logging.getLogger(__name__)

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_TRUNC | os.O_CREAT


# After a read of a handle fails with a server-side error, further reads of that handle fail at
# once for this long, so one read() syscall that the kernel splits into several requests (and its
# read-ahead) reports EIO within one --io-timeout rather than one per request.
FAILURE_HOLD_SECONDS = 2.0


@dataclass(slots=True)
class _OpenFile:
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


class Operations(pyfuse3.Operations):
    """FUSE operations over a :class:`Tree`, a :class:`ReadEngine` and :class:`Controls`.

    Data files are read-only; control files (``.properties``, ``.trash``...) take writes from
    the mounting user only; ``mkdir Projects/NAME`` creates a project.
    """

    supports_dot_lookup = False
    enable_writeback_cache = False
    enable_acl = False

    def __init__(
        self,
        tree: Tree,
        engine: ReadEngine,
        *,
        controls: Controls | None = None,
        io_timeout: float = 60.0,
        uid: int | None = None,
        gid: int | None = None,
    ) -> None:
        super().__init__()
        self.tree = tree
        self.engine = engine
        self.controls = controls
        self.kernel = KernelInvalidator()
        self.read_ahead = DirectoryReadAhead(engine, lambda node: self.inodes.ino_of(node))
        self.io_timeout = io_timeout
        self.uid = os.getuid() if uid is None else uid
        self.gid = os.getgid() if gid is None else gid
        self.inodes: InodeTable[Node] = InodeTable(tree.root)
        self.kernel_ttl = max(tree.cache.ttl, 0.0)
        self._handles: dict[int, _OpenFile] = {}
        self._dir_handles: dict[int, list[tuple[str, Node]]] = {}
        self._next_fh = 1
        self._generated: TTLCache[tuple[str, ...], bytes] = TTLCache(
            maxsize=4096, ttl=max(self.kernel_ttl, 1.0)
        )
        self.errors: dict[str, int] = {}

    # -- helpers -------------------------------------------------------------------------------

    def count_error(self, code: int) -> None:
        name = errno.errorcode.get(code, str(code))
        self.errors[name] = self.errors.get(name, 0) + 1

    def _node(self, ino: int) -> Node:
        node = self.inodes.get(ino)
        if node is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return node

    def _attrs(self, node: Node, ino: int) -> pyfuse3.EntryAttributes:
        attrs = pyfuse3.EntryAttributes()
        attrs.st_ino = ino
        attrs.generation = 0
        attrs.entry_timeout = self.kernel_ttl
        attrs.attr_timeout = self.kernel_ttl
        size = node.size
        if node.type is NodeType.FILE and node.loader is not None:
            size = len(self._generated.get(node.key, b""))
        if node.type is NodeType.DIR:
            attrs.st_mode = 0o040000 | node.mode
            attrs.st_nlink = 2
        elif node.type is NodeType.SYMLINK:
            attrs.st_mode = 0o120000 | node.mode
            attrs.st_nlink = 1
        else:
            attrs.st_mode = 0o100000 | node.mode
            attrs.st_nlink = 1
        attrs.st_size = size
        attrs.st_blksize = 128 * 1024
        attrs.st_blocks = (size + 511) // 512
        attrs.st_uid = self.uid
        attrs.st_gid = self.gid
        attrs.st_rdev = 0
        attrs.st_atime_ns = node.mtime_ns
        attrs.st_mtime_ns = node.mtime_ns
        attrs.st_ctime_ns = node.mtime_ns
        return attrs

    def _remember(self, node: Node, count: int = 1) -> int:
        old_ino = self.inodes.refresh(node)
        old = self.inodes.get(old_ino) if old_ino is not None else None
        ino = self.inodes.remember(node, count)
        if old is not None and old is not node and old.version != node.version:
            log.info(
                "file %r changed on the server; dropping kernel cache of inode %d", node.key, ino
            )
            self.engine.invalidate(node.version.file_id if node.version else "")
            try:
                pyfuse3.invalidate_inode(ino, attr_only=False)
            except OSError as exc:
                log.debug("invalidate_inode(%d) failed: %s", ino, exc)
        return ino

    # -- metadata ------------------------------------------------------------------------------

    @fuse_op("lookup")
    async def lookup(
        self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        parent = self._node(parent_inode)
        if not parent.is_dir:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        text = os.fsdecode(name)
        if text == ".":
            return self._attrs(parent, parent_inode)
        try:
            child = await self.tree.lookup(parent, text)
        except LookupRefused as exc:  # a bad search query or id: ENOENT, the reason in .error
            refused = ControlError(errno.ENOENT, exc.reason)
            if self.controls is not None:
                self.controls.record_error(exc.directory, exc.action, refused)
            raise refused from None
        if child is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        ino = self._remember(child)
        return self._attrs(child, ino)

    @fuse_op("getattr")
    async def getattr(self, inode: int, ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        return self._attrs(self._node(inode), inode)

    @fuse_op("readlink")
    async def readlink(self, inode: int, ctx: pyfuse3.RequestContext) -> bytes:
        node = self._node(inode)
        if node.type is not NodeType.SYMLINK or node.target is None:
            raise pyfuse3.FUSEError(errno.EINVAL)
        return os.fsencode(node.target)

    async def forget(self, inode_list: Sequence[tuple[int, int]]) -> None:
        for ino, nlookup in inode_list:
            self.inodes.forget(ino, nlookup)

    @fuse_op("opendir")
    async def opendir(self, inode: int, ctx: pyfuse3.RequestContext) -> int:
        node = self._node(inode)
        if not node.is_dir:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        listing = await self.tree.listing(node)
        fh = self._next_fh
        self._next_fh += 1
        self._dir_handles[fh] = [
            (name, child)
            for name, child in listing.entries.items()
            if not child.extra.get("unlisted")
        ]
        self.read_ahead.listed(node.key, self._dir_handles[fh])
        return fh

    @fuse_op("readdir")
    async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        entries = self._dir_handles.get(fh)
        if entries is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        for index in range(start_id, len(entries)):
            name, node = entries[index]
            ino = self.inodes.ino_of(node)
            if not pyfuse3.readdir_reply(
                token, os.fsencode(name), self._attrs(node, ino), index + 1
            ):
                break
            self._remember(node)

    async def releasedir(self, fh: int) -> None:
        self._dir_handles.pop(fh, None)

    @fuse_op("statfs")
    async def statfs(self, ctx: pyfuse3.RequestContext) -> pyfuse3.StatvfsData:
        data = pyfuse3.StatvfsData()
        data.f_bsize = 128 * 1024
        data.f_frsize = 512
        data.f_blocks = 0
        data.f_bfree = 0
        data.f_bavail = 0
        data.f_files = len(self.inodes)
        data.f_ffree = 0
        data.f_favail = 0
        data.f_namemax = 255
        return data

    # -- data ----------------------------------------------------------------------------------

    @fuse_op("open")
    async def open(self, inode: int, flags: int, ctx: pyfuse3.RequestContext) -> pyfuse3.FileInfo:
        node = self._node(inode)
        if node.type is not NodeType.FILE:
            raise pyfuse3.FUSEError(errno.EISDIR if node.is_dir else errno.EINVAL)
        if node.extra.get("control"):
            return self._open_control(node, flags, ctx)
        if flags & _WRITE_FLAGS:
            log.info("open(%d) for writing refused: data files are read-only", inode)
            raise pyfuse3.FUSEError(errno.EROFS)
        fh = self._next_fh
        self._next_fh += 1
        if node.version is not None:
            self._handles[fh] = _OpenFile(node, handle=self.engine.open(node.version))
            self.read_ahead.opened(node)
            return pyfuse3.FileInfo(fh=fh, keep_cache=True)
        content = node.content
        if content is None and node.loader is not None:
            content = await node.loader()
            self._generated[node.key] = content
        self._handles[fh] = _OpenFile(node, content=content or b"")
        # Generated files (.json) may change size between opens: bypass the page cache.
        return pyfuse3.FileInfo(fh=fh, direct_io=node.loader is not None, keep_cache=False)

    def _is_await(self, fh: int) -> bool:
        opened = self._handles.get(fh)
        return opened is not None and opened.node.extra.get("control") == "await"

    @fuse_op("read", unbounded_if=_is_await)
    async def read(  # type: ignore[override]  # pyfuse3 replies from any buffer
        self, fh: int, off: int, size: int
    ) -> bytes | memoryview:
        opened = self._handles.get(fh)
        if opened is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        if opened.node.extra.get("control") and opened.content is None:
            pid = opened.opener_pid
            opened.content = await self._read_control(opened.node, lambda: signal_pending(pid))
        if opened.handle is not None:
            if (
                opened.failed_errno
                and trio.current_time() - opened.failed_at < FAILURE_HOLD_SECONDS
            ):
                raise pyfuse3.FUSEError(opened.failed_errno)
            try:
                # slightly inside the operation's bound, so a timeout is seen (and held) here;
                # a bare CancelScope costs half of fail_after's generator (10 vs 20 µs a READ)
                bound = trio.current_time() + self.io_timeout * 0.95
                with trio.CancelScope(deadline=bound):
                    # a read-only view into the cached part: no copy of the bytes
                    return await self.engine.read_buffer(opened.handle, off, size)
                raise trio.TooSlowError  # reached only when the deadline cancelled the read
            except Exception as exc:
                opened.failed_errno = to_errno(exc)
                opened.failed_at = trio.current_time()
                if isinstance(exc, IntegrityError):
                    # The kernel may hold pages this file already served (a whole-file MD5
                    # mismatch is only known at EOF): drop them, or the next open gets them back.
                    ino = self.inodes.known_ino(opened.node.key)
                    if ino is not None:
                        self.kernel.inode(ino)
                raise
        content = opened.content or b""
        return content[off : off + size]

    async def release(self, fh: int) -> None:
        opened = self._handles.pop(fh, None)
        if opened is not None and opened.handle is not None:
            self.engine.release(opened.handle)

    # -- control files -------------------------------------------------------------------------

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
        self._handles[fh] = _OpenFile(
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

    async def _act(self, opened: _OpenFile) -> None:
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

    # -- everything that would write -----------------------------------------------------------

    async def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        self.count_error(errno.EROFS)
        log.info("write operation refused: the mount is read-only")
        raise pyfuse3.FUSEError(errno.EROFS)

    mknod = _read_only  # type: ignore[assignment]
    unlink = _read_only  # type: ignore[assignment]
    symlink = _read_only  # type: ignore[assignment]
    rename = _read_only  # type: ignore[assignment]
    link = _read_only  # type: ignore[assignment]
    create = _read_only  # type: ignore[assignment]
    setxattr = _read_only  # type: ignore[assignment]
    removexattr = _read_only  # type: ignore[assignment]

    def stats(self) -> dict[str, Any]:
        return {
            "errors_by_errno": dict(self.errors),
            "inodes": len(self.inodes),
            "open_handles": len(self._handles),
            "listing_cache": {
                "entries": self.tree.cache.entries,
                "hits": self.tree.cache.hits,
                "misses": self.tree.cache.misses,
            },
        }


ROOT = ROOT_INODE
