"""The pyfuse3 adapter: FUSE requests in, tree and read-engine calls out, errnos at the edge.

This module is thin on purpose. It keeps the inode table and file handles, bounds every
operation in time (``io_timeout``), and turns exceptions into ``FUSEError`` through
:func:`bsmount.fs_errors.to_errno`, logging each errno with its cause. The tree
(:mod:`bsmount.tree`) and the read engine (:mod:`bsmount.io`) know nothing of pyfuse3.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import pyfuse3
import trio
from cachetools import TTLCache

from bsmount.fs_errors import to_errno
from bsmount.io.reader import ReadEngine, ReadHandle
from bsmount.tree.inodes import ROOT_INODE, InodeTable
from bsmount.tree.nodes import Node, NodeType
from bsmount.tree.tree import Tree

__all__ = ["Operations"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_TRUNC | os.O_CREAT


def _fuse_op(name: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Bound an operation in time and turn any failure into a logged FUSEError."""

    def decorate(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            self = args[0]
            assert isinstance(self, Operations)
            try:
                with trio.fail_after(self.io_timeout):
                    return await func(*args, **kwargs)
            except pyfuse3.FUSEError as exc:
                level = logging.DEBUG if exc.errno == errno.ENOENT else logging.INFO
                log.log(level, "%s%r -> %s", name, args[1:], errno.errorcode.get(exc.errno, exc.errno))
                self.count_error(exc.errno)
                raise
            except trio.TooSlowError:
                self.count_error(errno.EIO)
                log.warning("%s%r -> EIO: no answer within %.0f s", name, args[1:], self.io_timeout)
                raise pyfuse3.FUSEError(errno.EIO) from None
            except Exception as exc:
                code = to_errno(exc)
                self.count_error(code)
                log.warning(
                    "%s%r -> %s: %s: %s",
                    name,
                    args[1:],
                    errno.errorcode.get(code, code),
                    type(exc).__name__,
                    exc,
                    exc_info=code == errno.EIO and not _expected(exc),
                )
                raise pyfuse3.FUSEError(code) from None

        return wrapper

    return decorate


def _expected(exc: BaseException) -> bool:
    from bsmount.errors import BsmountError

    return isinstance(exc, BsmountError)


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


class Operations(pyfuse3.Operations):
    """FUSE operations over a :class:`Tree` and a :class:`ReadEngine` (read-only)."""

    supports_dot_lookup = False
    enable_writeback_cache = False
    enable_acl = False

    def __init__(
        self,
        tree: Tree,
        engine: ReadEngine,
        *,
        io_timeout: float = 60.0,
        uid: int | None = None,
        gid: int | None = None,
    ) -> None:
        super().__init__()
        self.tree = tree
        self.engine = engine
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
            log.info("file %r changed on the server; dropping kernel cache of inode %d", node.key, ino)
            self.engine.invalidate(node.version.file_id if node.version else "")
            try:
                pyfuse3.invalidate_inode(ino, attr_only=False)
            except OSError as exc:
                log.debug("invalidate_inode(%d) failed: %s", ino, exc)
        return ino

    # -- metadata ------------------------------------------------------------------------------

    @_fuse_op("lookup")
    async def lookup(
        self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        parent = self._node(parent_inode)
        if not parent.is_dir:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        text = os.fsdecode(name)
        if text == ".":
            return self._attrs(parent, parent_inode)
        child = await self.tree.lookup(parent, text)
        if child is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        ino = self._remember(child)
        return self._attrs(child, ino)

    @_fuse_op("getattr")
    async def getattr(self, inode: int, ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        return self._attrs(self._node(inode), inode)

    @_fuse_op("readlink")
    async def readlink(self, inode: int, ctx: pyfuse3.RequestContext) -> bytes:
        node = self._node(inode)
        if node.type is not NodeType.SYMLINK or node.target is None:
            raise pyfuse3.FUSEError(errno.EINVAL)
        return os.fsencode(node.target)

    async def forget(self, inode_list: Sequence[tuple[int, int]]) -> None:
        for ino, nlookup in inode_list:
            self.inodes.forget(ino, nlookup)

    @_fuse_op("opendir")
    async def opendir(self, inode: int, ctx: pyfuse3.RequestContext) -> int:
        node = self._node(inode)
        if not node.is_dir:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        listing = await self.tree.listing(node)
        fh = self._next_fh
        self._next_fh += 1
        self._dir_handles[fh] = list(listing.entries.items())
        return fh

    @_fuse_op("readdir")
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

    @_fuse_op("statfs")
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

    @_fuse_op("open")
    async def open(self, inode: int, flags: int, ctx: pyfuse3.RequestContext) -> pyfuse3.FileInfo:
        node = self._node(inode)
        if node.type is not NodeType.FILE:
            raise pyfuse3.FUSEError(errno.EISDIR if node.is_dir else errno.EINVAL)
        if flags & _WRITE_FLAGS:
            log.info("open(%d) for writing refused: data files are read-only", inode)
            raise pyfuse3.FUSEError(errno.EROFS)
        fh = self._next_fh
        self._next_fh += 1
        if node.version is not None:
            self._handles[fh] = _OpenFile(node, handle=self.engine.open(node.version))
            return pyfuse3.FileInfo(fh=fh, keep_cache=True)
        content = node.content
        if content is None and node.loader is not None:
            content = await node.loader()
            self._generated[node.key] = content
        self._handles[fh] = _OpenFile(node, content=content or b"")
        # Generated files (.json) may change size between opens: bypass the page cache.
        return pyfuse3.FileInfo(fh=fh, direct_io=node.loader is not None, keep_cache=False)

    @_fuse_op("read")
    async def read(self, fh: int, off: int, size: int) -> bytes:
        opened = self._handles.get(fh)
        if opened is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        if opened.handle is not None:
            if opened.failed_errno and trio.current_time() - opened.failed_at < FAILURE_HOLD_SECONDS:
                raise pyfuse3.FUSEError(opened.failed_errno)
            try:
                # slightly inside the operation's bound, so a timeout is seen (and held) here
                with trio.fail_after(self.io_timeout * 0.95):
                    return await self.engine.read(opened.handle, off, size)
            except Exception as exc:
                opened.failed_errno = to_errno(exc)
                opened.failed_at = trio.current_time()
                raise
        content = opened.content or b""
        return content[off : off + size]

    async def release(self, fh: int) -> None:
        opened = self._handles.pop(fh, None)
        if opened is not None and opened.handle is not None:
            self.engine.release(opened.handle)

    # -- everything that would write -----------------------------------------------------------

    async def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        self.count_error(errno.EROFS)
        log.info("write operation refused: the mount is read-only")
        raise pyfuse3.FUSEError(errno.EROFS)

    setattr = _read_only  # type: ignore[assignment]
    mknod = _read_only  # type: ignore[assignment]
    mkdir = _read_only  # type: ignore[assignment]
    unlink = _read_only  # type: ignore[assignment]
    rmdir = _read_only  # type: ignore[assignment]
    symlink = _read_only  # type: ignore[assignment]
    rename = _read_only  # type: ignore[assignment]
    link = _read_only  # type: ignore[assignment]
    write = _read_only  # type: ignore[assignment]
    create = _read_only  # type: ignore[assignment]
    setxattr = _read_only  # type: ignore[assignment]
    removexattr = _read_only  # type: ignore[assignment]

    def stats(self) -> dict[str, Any]:
        return {
            "inodes": len(self.inodes),
            "open_handles": len(self._handles),
            "errors": dict(self.errors),
            "listing_cache": {
                "entries": self.tree.cache.entries,
                "hits": self.tree.cache.hits,
                "misses": self.tree.cache.misses,
            },
        }


ROOT = ROOT_INODE
