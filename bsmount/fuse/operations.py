"""The pyfuse3 adapter: FUSE requests in, tree, read-engine and control-file calls out.

:class:`Operations` is thin on purpose and holds collaborators rather than inheriting them: the
:class:`~bsmount.tree.tree.Tree` (listings, lookups, ``mkdir``), the
:class:`~bsmount.io.reader.ReadEngine` (data file reads), :class:`~bsmount.fuse.control_io.
ControlFileIO` (control files), the inode table, file and directory handles
(:mod:`bsmount.fuse.handles`), the directory read-ahead (:mod:`bsmount.fuse.dir_readahead`) and
the kernel invalidation queue (:mod:`bsmount.fuse.kernel`). Every request passes through
:func:`bsmount.fuse.requests.fuse_op`: a time bound, and exceptions turned into errnos at that one
edge (:func:`bsmount.fuse.errors.to_errno`), each logged with its cause.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Sequence
from typing import Any

import pyfuse3
import trio
from cachetools import TTLCache

from bsmount.config.settings import Defaults
from bsmount.controls.service import Controls
from bsmount.errors import ControlError, IntegrityError
from bsmount.fuse.control_io import ControlFileIO
from bsmount.fuse.dir_readahead import DirectoryReadAhead
from bsmount.fuse.errors import to_errno
from bsmount.fuse.handles import DirectoryHandles, FileHandles, OpenFile
from bsmount.fuse.kernel import KernelInvalidator
from bsmount.fuse.live_files import follow_growth, open_live
from bsmount.fuse.requests import fuse_op, signal_pending
from bsmount.fuse.upload_io import UploadIO
from bsmount.fuse.writes import WritableFiles
from bsmount.io.reader import ReadEngine
from bsmount.tree.inodes import ROOT_INODE, InodeTable
from bsmount.tree.nodes import LookupRefused, Node, NodeKey, NodeType
from bsmount.tree.tree import Tree
from bsmount.upload.manager import UploadManager

__all__ = ["ROOT", "Operations"]

log = logging.getLogger("bsmount.fuse")

ROOT = ROOT_INODE
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_TRUNC | os.O_CREAT

# After a read of a handle fails with a server-side error, further reads of that handle fail at
# once for this long, so one read() syscall that the kernel splits into several requests (and its
# read-ahead) reports EIO within one --io-timeout rather than one per request.
FAILURE_HOLD_SECONDS = 2.0


class Operations(pyfuse3.Operations):
    """FUSE operations over a :class:`Tree`, a :class:`ReadEngine` and :class:`Controls`.

    Data files are read-only; control files (``.properties``, ``.trash``...) take writes from
    the mounting user only; ``mkdir`` creates an entity where the directory's kind allows it
    (``Projects/NAME``).
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
        uploads: UploadManager | None = None,
        io_timeout: float = Defaults.io_timeout,
        uid: int | None = None,
        gid: int | None = None,
    ) -> None:
        super().__init__()
        self.tree = tree
        self.engine = engine
        self.io_timeout = io_timeout
        self.uid = os.getuid() if uid is None else uid
        self.gid = os.getgid() if gid is None else gid
        self.kernel = KernelInvalidator()
        self.inodes: InodeTable[Node] = InodeTable(tree.root)
        self.kernel_ttl = max(tree.cache.ttl, 0.0)
        self.files = FileHandles()
        self.dirs = DirectoryHandles(self.kernel_ttl)
        self.read_ahead = DirectoryReadAhead(engine, lambda node: self.inodes.ino_of(node))
        self.writes = (
            WritableFiles(tree, uploads, self.inodes, self.kernel) if uploads is not None else None
        )
        self.upload_io = (
            UploadIO(self.writes, engine, self._refuse) if self.writes is not None else None
        )
        self.control_io = (
            ControlFileIO(
                controls,
                tree,
                self.inodes,
                self.kernel,
                self.uid,
                on_session_change=self.writes.forget_session if self.writes else lambda _: None,
            )
            if controls is not None
            else None
        )
        if controls is not None and self.writes is not None:
            controls.run_uploads = self.writes.runs  # .complete/.abort/.status of run folders
        self._generated: TTLCache[tuple[str, ...], bytes] = TTLCache(
            maxsize=4096, ttl=max(self.kernel_ttl, 1.0)
        )
        self.errors: dict[str, int] = {}
        self.in_flight = 0  # kept by fuse_op
        self.last_done = 0.0

    # -- helpers -------------------------------------------------------------------------------

    def idle_for(self) -> float:
        """Seconds without a request in flight (0 while one is being answered)."""
        return 0.0 if self.in_flight else trio.current_time() - self.last_done

    def count_error(self, code: int) -> None:
        name = errno.errorcode.get(code, str(code))
        self.errors[name] = self.errors.get(name, 0) + 1

    def _node(self, ino: int) -> Node:
        node = self.inodes.get(ino)
        if node is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return node

    def _control_io(self) -> ControlFileIO:
        if self.control_io is None:
            raise pyfuse3.FUSEError(errno.EROFS)
        return self.control_io

    def _attrs(self, node: Node, ino: int) -> pyfuse3.EntryAttributes:
        attrs = pyfuse3.EntryAttributes()
        attrs.st_ino = ino
        attrs.generation = 0
        attrs.entry_timeout = self.kernel_ttl
        attrs.attr_timeout = self.kernel_ttl
        size = node.size
        if node.type is NodeType.FILE and node.loader is not None:
            size = len(self._generated.get(node.key, b""))
        elif node.local is not None:
            size = node.local.size
        elif node.live is not None:  # a growing log: the kernel must ask again at each stat
            size = node.live.version.size
            attrs.attr_timeout = 0
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
        local = self.writes.entries(parent.key).get(text) if self.writes is not None else None
        if local is not None:
            return self._attrs(local, self._remember(local))
        try:
            child = await self.tree.lookup(parent, text)
        except LookupRefused as exc:  # a bad search query or id: ENOENT, the reason in .error
            refused = ControlError(errno.ENOENT, exc.reason)
            if self.control_io is not None:
                self.control_io.refuse(exc.directory, exc.action, refused)
            raise refused from None
        if child is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        ino = self._remember(child)
        if child.live is not None:
            await child.live.refresh()
        return self._attrs(child, ino)

    @fuse_op("getattr")
    async def getattr(self, inode: int, ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        node = self._node(inode)
        if node.live is not None:  # a growing log (tail -f polls fstat)
            await node.live.refresh()
        return self._attrs(node, inode)

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
        listing = await self.tree.listing(node, walk=True)  # a walker: prefetch run sub-dirs
        if self.writes is not None:  # files and directories written here, over the listing
            listing = self.writes.merged(node.key, listing)
        fh = self.files.new_number()
        prepared = self.dirs.open(fh, node.key, listing)
        self.read_ahead.listed(node.key, prepared.entries)
        return fh

    @fuse_op("readdir")
    async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        prepared = self.dirs.get(fh)
        if prepared is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        entries, names, cached = prepared.entries, prepared.names, prepared.attrs
        for index in range(start_id, len(entries)):
            node = entries[index][1]
            ino = self._listed(node)
            attrs = cached[index]
            if attrs is None or attrs.st_ino != ino:
                attrs = self._attrs(node, ino)
                if node.loader is None:  # a generated file's size changes once it is read
                    cached[index] = attrs
            if not pyfuse3.readdir_reply(token, names[index], attrs, index + 1):
                self.inodes.forget(ino, 1)  # the buffer is full: the kernel did not get it
                break

    def _listed(self, node: Node) -> int:
        """Count the kernel's reference to a readdirplus entry; its inode number.

        The common cases (the same node object again, or a node never handed out) cost one
        key hash, not the two of ``ino_of`` + :meth:`_remember`; a newer object for a known key
        goes through :meth:`_remember`, which notices a changed file."""
        known = self.inodes.known_ino(node.key)
        if known is not None and self.inodes.get(known) is not node:
            return self._remember(node)
        return self.inodes.remember(node)

    async def releasedir(self, fh: int) -> None:
        self.dirs.release(fh)

    @fuse_op("statfs")
    async def statfs(self, ctx: pyfuse3.RequestContext) -> pyfuse3.StatvfsData:
        data = pyfuse3.StatvfsData()
        data.f_bsize = 128 * 1024
        data.f_frsize = 512
        data.f_blocks = 0
        data.f_bfree = 0
        data.f_bavail = 0
        if self.writes is not None:  # what the spool's disk can take: `df` and tools see room
            local = await trio.to_thread.run_sync(os.statvfs, self.writes.uploads.spool.path)
            data.f_frsize = local.f_frsize
            data.f_blocks = local.f_blocks
            data.f_bfree = local.f_bfree
            data.f_bavail = local.f_bavail
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
        if node.control is not None:
            fh = self.files.add(self._control_io().open(node, flags, ctx))
            # control files change between opens and their size is unknown: no page cache
            return pyfuse3.FileInfo(fh=fh, direct_io=True, keep_cache=False, nonseekable=False)
        if node.local is not None:
            opened = self._uploads().open(node, flags, ctx.pid)
            # written bytes go around the page cache, so sizes and reads stay exact
            return pyfuse3.FileInfo(fh=self.files.add(opened), direct_io=True, keep_cache=False)
        if flags & _WRITE_FLAGS:
            if self.upload_io is not None:
                self.upload_io.refuse_overwrite(node)
            log.info("open of %r for writing refused: data files are read-only", node.key)
            raise pyfuse3.FUSEError(errno.EROFS)
        if node.live is not None:  # a growing log: its current size, no page cache
            opened = OpenFile(node)
            await open_live(self.engine, opened)
            return pyfuse3.FileInfo(fh=self.files.add(opened), direct_io=True, keep_cache=False)
        if node.version is not None:
            fh = self.files.add(OpenFile(node, handle=self.engine.open(node.version)))
            self.read_ahead.opened(node)
            return pyfuse3.FileInfo(fh=fh, keep_cache=True)
        content = node.content
        if content is None and node.loader is not None:
            content = await node.loader()
            self._generated[node.key] = content
        fh = self.files.add(OpenFile(node, content=content or b""))
        # Generated files (.json) may change size between opens: bypass the page cache.
        return pyfuse3.FileInfo(fh=fh, direct_io=node.loader is not None, keep_cache=False)

    def _read_unbounded(self, fh: int) -> bool:
        """Reads with a time bound of their own (``.await`` blocks until an analysis ends)."""
        opened = self.files.get(fh)
        control = opened.node.control if opened is not None else None
        return control is not None and control.file.unbounded_read

    @fuse_op("read", unbounded_if=_read_unbounded)
    async def read(  # type: ignore[override]  # pyfuse3 replies from any buffer
        self, fh: int, off: int, size: int
    ) -> bytes | memoryview:
        opened = self.files.get(fh)
        if opened is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        if opened.node.control is not None and opened.content is None:
            pid = opened.opener_pid
            opened.content = await self._control_io().read(opened.node, lambda: signal_pending(pid))
        if opened.handle is not None:
            return await self._read_data(opened, off, size)
        if opened.upload is not None:  # read your writes
            local = await self._uploads().read(opened, off, size)
            return local if local is not None else await self._read_data(opened, off, size)
        content = opened.content or b""
        return content[off : off + size]

    async def _read_data(self, opened: OpenFile, off: int, size: int) -> bytes | memoryview:
        assert opened.handle is not None
        if opened.failed_errno and trio.current_time() - opened.failed_at < FAILURE_HOLD_SECONDS:
            raise pyfuse3.FUSEError(opened.failed_errno)
        if opened.node.live is not None:
            await follow_growth(self.engine, opened, off, size)
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

    def _commits(self, fh: int) -> bool:
        """Requests that may send a file's last parts: bounded by each request, not overall."""
        opened = self.files.get(fh)
        return opened is not None and opened.upload is not None

    @fuse_op("release", unbounded_if=_commits)
    async def release(self, fh: int) -> None:
        opened = self.files.pop(fh)
        if opened is None:
            return
        if opened.handle is not None:
            self.engine.release(opened.handle)
        if opened.writing and opened.node.local is not None:
            await self._uploads().release(opened)

    # -- writes --------------------------------------------------------------------------------

    def _writes(self) -> WritableFiles:
        if self.writes is None:
            raise pyfuse3.FUSEError(errno.EROFS)
        return self.writes

    def _uploads(self) -> UploadIO:
        if self.upload_io is None:
            raise pyfuse3.FUSEError(errno.EROFS)
        return self.upload_io

    def _refuse(self, directory: NodeKey, action: str, exc: BaseException) -> BaseException:
        """Record why a write-path request failed in ``directory``'s ``.error``."""
        if self.control_io is not None:
            return self.control_io.refuse(directory, action, exc)
        return exc

    @fuse_op("create")
    async def create(
        self, parent_inode: int, name: bytes, mode: int, flags: int, ctx: pyfuse3.RequestContext
    ) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:
        parent = self._node(parent_inode)
        text = os.fsdecode(name)
        writes = self._writes()
        self._check_writer(ctx)
        try:
            node = await writes.create(parent, text)
        except Exception as exc:
            raise self._refuse(parent.key, f"create {text!r}", exc) from None
        fh = self.files.add(self._uploads().created(node, parent.key, ctx.pid))
        attrs = self._attrs(node, self._remember(node))
        return pyfuse3.FileInfo(fh=fh, direct_io=True, keep_cache=False), attrs

    def _check_writer(self, ctx: pyfuse3.RequestContext) -> None:
        if ctx.uid != self.uid:
            log.warning("uid %d may not write here: only the mounting user may", ctx.uid)
            raise pyfuse3.FUSEError(errno.EACCES)

    @fuse_op("write")
    async def write(self, fh: int, off: int, buf: bytes) -> int:
        opened = self.files.get(fh)
        if opened is None or not opened.writing:
            raise pyfuse3.FUSEError(errno.EBADF if opened is None else errno.EROFS)
        if opened.upload is None:
            return await self._control_io().write(opened, buf)
        return await self._uploads().write(opened, off, buf)

    @fuse_op("flush", unbounded_if=_commits)
    async def flush(self, fh: int) -> None:
        opened = self.files.get(fh)
        if opened is None or not opened.writing:
            return
        if opened.upload is None:
            if not opened.acted and opened.payload:
                await self._control_io().act(opened)
            return
        await self._uploads().flush(opened)

    @fuse_op("fsync", unbounded_if=_commits)
    async def fsync(self, fh: int, datasync: bool) -> None:
        opened = self.files.get(fh)
        if opened is not None and opened.upload is not None:
            self._uploads().fsync(opened)

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
        control = node.control
        if control is not None:
            if control.file.writable and only_size and attr.st_size == 0:
                return self._attrs(node, inode)  # O_TRUNC of a control file: nothing to truncate
            raise pyfuse3.FUSEError(errno.EACCES)
        new_size = attr.st_size if fields.update_size else None
        if self.upload_io is not None and self.upload_io.accepts_setattr(node, new_size):
            return self._attrs(node, inode)
        raise pyfuse3.FUSEError(errno.EROFS)

    @fuse_op("mkdir")
    async def mkdir(
        self, parent_inode: int, name: bytes, mode: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        parent = self._node(parent_inode)
        text = os.fsdecode(name)
        kind = parent.spec.kind if parent.spec is not None else None
        if (
            kind is not None
            and self.writes is not None
            and (kind.accepts_uploads or kind.accepts_run_folder)
        ):
            self._check_writer(ctx)
            try:
                child = await self.writes.mkdir(parent, text)
            except Exception as exc:
                raise self._refuse(parent.key, f"mkdir {text!r}", exc) from None
            return self._attrs(child, self._remember(child))
        if kind is None or not kind.creates or self.control_io is None:
            log.info("mkdir %r refused: %r accepts no new directories", text, parent.key)
            raise pyfuse3.FUSEError(errno.EROFS)
        self._check_writer(ctx)
        child = await self.control_io.make_directory(parent, text)
        return self._attrs(child, self._remember(child))

    @fuse_op("rmdir")
    async def rmdir(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        parent = self._node(parent_inode)
        text = os.fsdecode(name)
        if self.writes is not None and self.writes.rmdir(parent, text):
            return
        exc = ControlError(
            errno.EPERM, f"rmdir does not delete {text!r}: write 'yes' to its .trash"
        )
        raise self._refuse(parent.key, "rmdir", exc)

    @fuse_op("unlink")
    async def unlink(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        parent = self._node(parent_inode)
        text = os.fsdecode(name)
        if self.control_io is not None and await self.control_io.unlink(parent, text, ctx.uid):
            return  # a removable control file (a property's file): its action
        if self.writes is None:
            raise pyfuse3.FUSEError(errno.EROFS)
        try:
            await self.writes.unlink(parent, text)
        except Exception as exc:
            raise self._refuse(parent.key, f"rm {text!r}", exc) from None

    def _renames_upload(self, parent_inode: int) -> bool:
        node = self.inodes.get(parent_inode)
        return node is not None and node.spec is not None and node.spec.kind.accepts_writes

    @fuse_op("rename", unbounded_if=_renames_upload)
    async def rename(
        self,
        parent_inode_old: int,
        name_old: bytes,
        parent_inode_new: int,
        name_new: bytes,
        flags: int,
        ctx: pyfuse3.RequestContext,
    ) -> None:
        parent = self._node(parent_inode_old)
        new_parent = self._node(parent_inode_new)
        old, new = os.fsdecode(name_old), os.fsdecode(name_new)
        if self.writes is None:
            raise pyfuse3.FUSEError(errno.EROFS)
        self._check_writer(ctx)
        try:
            moved = await self.writes.rename(parent, old, new_parent, new)
        except Exception as exc:
            raise self._refuse(parent.key, f"rename {old!r}", exc) from None
        parent_ino = self.inodes.known_ino(parent.key)
        if parent_ino is not None:
            self.kernel.entry(parent_ino, old)
        del moved

    async def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        self.count_error(errno.EROFS)
        log.info("write operation refused: the mount is read-only")
        raise pyfuse3.FUSEError(errno.EROFS)

    mknod = _read_only  # type: ignore[assignment]
    symlink = _read_only  # type: ignore[assignment]
    link = _read_only  # type: ignore[assignment]
    setxattr = _read_only  # type: ignore[assignment]
    removexattr = _read_only  # type: ignore[assignment]

    def uploads_in_flight(self, appresult_id: str) -> int:
        """Files of the AppResult being written or uploaded through this mount."""
        return self.writes.in_flight(appresult_id) if self.writes is not None else 0

    def statistics(self) -> dict[str, Any]:
        return {
            "errors_by_errno": dict(self.errors),
            "inodes": len(self.inodes),
            "open_handles": len(self.files),
            "listing_cache": {
                "entries": self.tree.cache.entries,
                "hits": self.tree.cache.hits,
                "misses": self.tree.cache.misses,
            },
            "listing_prefetch": self.tree.prefetcher.statistics(),
            "directory_read_ahead_files": self.read_ahead.prefetched,
        }
