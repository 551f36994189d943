"""Control files and ``mkdir`` as FUSE operations: :class:`ControlFileIO`, a collaborator of
:class:`bsmount.fuse.operations.Operations`.

Opening a control file (writing only for the mounting user), collecting a written payload,
acting on it when it is complete (:meth:`ControlFile.is_complete
<bsmount.controls.base.ControlFile.is_complete>`) or at ``close`` (``flush``), recording every
refusal in ``.error`` with the errno of :func:`bsmount.fuse.errors.to_errno`, ``rm`` of the
control files that can be removed (:attr:`~bsmount.controls.base.ControlFile.removable`), and
dropping the metadata an action changed, ours and the kernel's (:meth:`ControlFileIO.apply`).
What each file does lives in :mod:`bsmount.controls`; this module only adapts it to FUSE.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable

import pyfuse3

from bsmount.controls.base import MAX_PAYLOAD, Effect
from bsmount.controls.service import Controls
from bsmount.errors import ControlError
from bsmount.fuse.errors import to_errno
from bsmount.fuse.handles import OpenFile
from bsmount.fuse.kernel import KernelInvalidator
from bsmount.tree.inodes import InodeTable
from bsmount.tree.nodes import Node, NodeKey
from bsmount.tree.tree import Tree

__all__ = ["ControlFileIO"]

log = logging.getLogger("bsmount.fuse")


class ControlFileIO:
    """Opens, reads and writes control files; refusals go to ``.error``."""

    def __init__(
        self,
        controls: Controls,
        tree: Tree,
        inodes: InodeTable[Node],
        kernel: KernelInvalidator,
        uid: int,
        on_session_change: Callable[[str], None] = lambda appresult_id: None,
    ) -> None:
        self.controls = controls
        self.on_session_change = on_session_change
        self.tree = tree
        self.inodes = inodes
        self.kernel = kernel
        self.uid = uid

    def refuse(self, directory: NodeKey, action: str, exc: BaseException) -> ControlError:
        """Record why ``action`` failed in ``directory``'s ``.error``; the error to raise."""
        code = to_errno(exc)
        self.controls.record_error(directory, action, exc, code)
        return exc if isinstance(exc, ControlError) else ControlError(code, str(exc))

    def open(self, node: Node, flags: int, ctx: pyfuse3.RequestContext) -> OpenFile:
        """Check that ``ctx`` may open ``node`` so; the new handle's state."""
        assert node.control is not None
        writing = bool(flags & (os.O_WRONLY | os.O_RDWR))
        if writing:
            if not node.control.file.writable:
                log.info("open of %r for writing refused: it is read-only", node.key)
                raise pyfuse3.FUSEError(errno.EACCES)
            if ctx.uid != self.uid:
                log.warning(
                    "uid %d may not write %r: only the mounting user may", ctx.uid, node.key
                )
                raise pyfuse3.FUSEError(errno.EACCES)
        return OpenFile(
            node, writing=writing, payload=bytearray() if writing else None, opener_pid=ctx.pid
        )

    async def read(self, node: Node, interrupted: Callable[[], bool]) -> bytes:
        binding = node.control
        assert binding is not None
        try:
            return await self.controls.read(binding, interrupted)
        except Exception as exc:
            raise self.refuse(binding.directory, f"read {binding.file.name}", exc) from None

    async def write(self, opened: OpenFile, buf: bytes) -> int:
        """Collect ``buf``; act as soon as the payload is a whole command."""
        if opened.failed_errno:
            raise pyfuse3.FUSEError(opened.failed_errno)  # the rest of a refused payload
        if opened.acted:
            # one payload per open: a second command needs a new write of the file
            raise ControlError(errno.EINVAL, "this control file already acted; reopen it")
        assert opened.payload is not None and opened.node.control is not None
        binding = opened.node.control
        opened.payload += buf
        try:
            if len(opened.payload) > MAX_PAYLOAD:
                opened.acted = True
                exc = ControlError(errno.EFBIG, f"payload over {MAX_PAYLOAD} bytes refused")
                raise self.refuse(binding.directory, f"write {binding.file.name}", exc)
            if binding.file.is_complete(bytes(opened.payload)):
                await self.act(opened)
        except ControlError as exc:
            opened.failed_errno = exc.errno
            raise
        return len(buf)

    async def act(self, opened: OpenFile) -> None:
        """Perform the written payload's action (once per open)."""
        binding = opened.node.control
        assert binding is not None and opened.payload is not None
        opened.acted = True
        try:
            effect = await self.controls.write(binding, bytes(opened.payload))
        except Exception as exc:
            raise self.refuse(binding.directory, f"write {binding.file.name}", exc) from None
        self.apply(effect)

    async def make_directory(self, parent: Node, name: str) -> Node:
        """``mkdir`` in a kind that creates entities; refusals go to the parent's ``.error``."""
        try:
            child = await self.tree.make_directory(parent, name)
        except Exception as exc:
            raise self.refuse(parent.key, "mkdir", exc) from None
        return child

    async def unlink(self, parent: Node, name: str, uid: int) -> bool:
        """``rm`` of a removable control file (a property's file): its action; False when
        ``name`` is not one, for the caller's own rules."""
        child = await self.tree.lookup(parent, name)
        if child is None or child.control is None or not child.control.file.removable:
            return False
        binding = child.control
        if uid != self.uid:
            log.warning("uid %d may not remove %r: only the mounting user may", uid, child.key)
            raise pyfuse3.FUSEError(errno.EACCES)
        try:
            effect = await self.controls.remove(binding)
        except Exception as exc:
            raise self.refuse(binding.directory, f"rm {name}", exc) from None
        self.apply(effect)
        return True

    def apply(self, effect: Effect) -> None:
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
        for appresult_id in effect.sessions:
            self.on_session_change(appresult_id)
        if effect.unmount:
            log.info("unmount requested through .commands")
            pyfuse3.terminate()
