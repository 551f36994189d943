"""Run folders copied into ``Runs/`` (``bs upload run``; docs/lab.md "Uploading run folders"), a
collaborator of :class:`bsmount.fuse.writes.WritableFiles`.

* ``mkdir Runs/NAME`` (``cp -r``'s first step) makes a local run folder (kind ``run_upload``);
  nothing is sent. NAME becomes the run's experiment name.
* Files are written into it and its sub-directories like into an AppResult (same spool, parts,
  checks and errnos: :mod:`bsmount.upload.transfer`). The run can only be created once its
  ``RunInfo.xml`` and ``RunParameters.xml`` (or ``runParameters.xml``) have been written and
  checked (:mod:`bsmount.upload.runfolder`: the instrument type comes from them), and a copy
  writes files in whatever order it lists them: until then a closed file is *held* in the spool.
* When the second of those two files is closed, the run is created (``POST v2/runs``, Uploading)
  and the held files are sent (several at once); that ``close`` returns when they are in
  BaseSpace. Files written later stream while they are written and are sent at their ``close``,
  exactly as AppResult files.
* A RunInfo.xml or RunParameters.xml that does not pass, or a folder whose instrument type cannot
  be told, fails that file's ``close`` with EINVAL (the reason in the folder's ``.error``); it is
  dropped, nothing is created, and a good one can be copied in its place.
* ``echo yes > Runs/NAME/.complete`` marks the upload Completed once no file is open or sending
  and none failed; the local folder is then replaced by the run. ``.abort`` marks it Failed (or,
  before the run exists, just drops the folder). ``.status`` tells what it waits for.
"""

from __future__ import annotations

import errno
import logging
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

from bsmount.api import uploads as upload_api
from bsmount.api.models import FileInfo
from bsmount.controls.base import Effect
from bsmount.errors import BsmountError, ControlError
from bsmount.fuse.kernel import KernelInvalidator
from bsmount.tree.inodes import InodeTable
from bsmount.tree.kinds import RUN_UPLOAD
from bsmount.tree.nodes import DirSpec, Node, NodeKey, NodeType, dir_node
from bsmount.upload.manager import UploadManager
from bsmount.upload.runfolder import (
    RUN_INFO,
    RunInfo,
    instrument_type,
    is_run_parameters,
    parse_run_info,
    parse_run_parameters,
)
from bsmount.upload.transfer import Destination, FileUpload, UploadState

__all__ = ["RunFolders", "StagedRun"]

log = logging.getLogger("bsmount.fuse")

_XML_LIMIT = 16 << 20  # a RunInfo.xml or RunParameters.xml bigger than this is refused
_SENDING_AT_ONCE = 8  # held files sent together when the run is created


class Overlay(Protocol):
    """What run folders need of :class:`~bsmount.fuse.writes.WritableFiles`."""

    def entries(self, directory: NodeKey) -> Mapping[str, Node]: ...
    def hide_local(self, directory: NodeKey, name: str) -> None: ...
    def forget(self, node: Node) -> None: ...
    def drop_local_under(self, prefix: NodeKey) -> None: ...
    def publish(self, node: Node, result: FileInfo) -> None: ...


@dataclass(eq=False)
class StagedRun:
    """One run folder being copied into ``Runs/``."""

    name: str
    key: NodeKey  # its directory: the Runs/ key + ("upload", name)
    runs_key: NodeKey
    run_id: str | None = None
    instrument: str = ""
    run_info: RunInfo | None = None
    parameters: ElementTree.Element | None = None
    held: dict[NodeKey, Node] = field(default_factory=dict)  # closed before the run existed
    sent: int = 0
    bytes_sent: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # path -> why its upload failed
    lock: trio.Lock = field(default_factory=trio.Lock)

    def waiting_for(self) -> list[str]:
        missing = [] if self.run_info is not None else [RUN_INFO]
        return missing + ([] if self.parameters is not None else ["RunParameters.xml"])


class RunFolders:
    """The run folders this mount is copying into ``Runs/``."""

    def __init__(
        self,
        overlay: Overlay,
        uploads: UploadManager,
        inodes: InodeTable[Node],
        kernel: KernelInvalidator,
    ) -> None:
        self.overlay = overlay
        self.uploads = uploads
        self.inodes = inodes
        self.kernel = kernel
        self._staged: dict[NodeKey, StagedRun] = {}  # folder key -> its run
        self._files: dict[NodeKey, tuple[StagedRun, FileUpload]] = {}  # local files not sent

    # -- where ---------------------------------------------------------------------------------

    def owns(self, node: Node) -> bool:
        """A file written into a run folder (not yet sent)."""
        return node.key in self._files

    def keeps(self, node: Node) -> bool:
        """A run folder's directory: shown over the server's run of the same name until its
        upload ends."""
        return node.key in self._staged

    def _folder(self, directory: Node) -> tuple[StagedRun, str]:
        """The run folder ``directory`` is (or is in), and its path inside it."""
        spec = directory.spec
        assert spec is not None and spec.kind is RUN_UPLOAD
        path = spec.args[1] if len(spec.args) > 1 else ""
        staged = self._staged.get(directory.key[:-2] if path else directory.key)
        if staged is None:
            raise ControlError(errno.ENOENT, f"{spec.args[0]!r}: its upload has ended")
        return staged, path

    # -- making --------------------------------------------------------------------------------

    def mkdir(self, parent: Node, name: str) -> Node:
        """A run folder in ``Runs/``, or a sub-directory of one."""
        assert parent.spec is not None
        now = time.time_ns()
        if parent.spec.kind is not RUN_UPLOAD:  # Runs/ itself: a new run folder
            staged = StagedRun(name, parent.key + ("upload", name), parent.key)
            self._staged[staged.key] = staged
            log.info("run folder %r started in Runs/ (waiting for RunInfo.xml)", name)
            return dir_node(staged.key, DirSpec(RUN_UPLOAD, (name,)), now)
        staged, directory = self._folder(parent)
        path = _join(directory, name)
        return dir_node(staged.key + ("d", path), DirSpec(RUN_UPLOAD, (staged.name, path)), now)

    async def create(self, parent: Node, name: str) -> Node:
        """A new file of a run folder, to be written (held until the run exists)."""
        assert parent.spec is not None
        if parent.spec.kind is not RUN_UPLOAD:
            raise ControlError(
                errno.EROFS,
                f"cannot create {name!r} in Runs/: copy a run folder (cp -r <run folder> Runs/, "
                "or mkdir Runs/<name> and copy its files into it)",
            )
        staged, directory = self._folder(parent)
        run_id = staged.run_id
        destination = Destination(run_id or "", directory, name, resource="runs")
        upload = await self.uploads.open(destination, streams=run_id is not None)
        node = Node(
            key=staged.key + ("u", destination.path),
            type=NodeType.FILE,
            mtime_ns=time.time_ns(),
            local=upload,
        )
        self._files[node.key] = (staged, upload)
        return node

    def renamed(self, node: Node, new_parent: Node, new_name: str) -> tuple[Destination, NodeKey]:
        """rsync's temporary file renamed within its run folder: its new destination and key."""
        staged, upload = self._files[node.key]
        if new_parent.spec is None or new_parent.spec.kind is not RUN_UPLOAD:
            raise ControlError(errno.EPERM, f"{node.key[-1]!r} can only be renamed in its folder")
        target, directory = self._folder(new_parent)
        if target is not staged:
            raise ControlError(errno.EPERM, "files cannot move between run folders")
        destination = Destination(upload.destination.appresult_id, directory, new_name, "runs")
        key = staged.key + ("u", destination.path)
        del self._files[node.key]
        self._files[key] = (staged, upload)
        staged.held.pop(node.key, None)
        return destination, key

    # -- sending -------------------------------------------------------------------------------

    async def commit(self, node: Node) -> None:
        """A closed file: checked, held until the run exists, or sent."""
        staged = self._files[node.key][0]
        if staged.run_id is None:
            async with staged.lock:
                if staged.run_id is None:
                    await self._inspect(staged, node)
                    staged.held[node.key] = node
                    if staged.waiting_for():  # on disk, out of the spool's budget meanwhile
                        await _upload_of(node).spool.park()
                        log.debug("%r held until the run exists", node.key[-1])
                        return
                    await self._create_run(staged, node)
            await self._send_held(staged, node)
            return
        await self._send(staged, node)

    async def _inspect(self, staged: StagedRun, node: Node) -> None:
        """Check RunInfo.xml or RunParameters.xml at the folder's top as they close."""
        upload = _upload_of(node)
        path = upload.destination.path
        if path != RUN_INFO and not is_run_parameters(path):
            return
        try:
            if upload.size > _XML_LIMIT:
                raise ControlError(errno.EINVAL, f"{path} has {upload.size} bytes: not a {path}")
            data = await upload.spool.read(0, upload.size)
            if path == RUN_INFO:
                staged.run_info = parse_run_info(data)
            else:
                staged.parameters = parse_run_parameters(data)
        except BaseException as exc:
            await self._drop_failed(staged, node, exc)
            raise

    async def _create_run(self, staged: StagedRun, node: Node) -> None:
        """Both files passed: the run is created (Uploading)."""
        assert staged.run_info is not None and staged.parameters is not None
        try:
            instrument = instrument_type(staged.parameters, staged.run_info)
            run = await upload_api.create_run(self.uploads.client, staged.name, instrument)
        except BsmountError as exc:
            refused = (
                exc
                if isinstance(exc, ControlError)
                else ControlError(errno.EINVAL, f"BaseSpace did not create the run: {exc}")
            )
            await self._drop_failed(staged, node, refused)
            raise refused from None
        staged.run_id, staged.instrument = run.id, instrument
        log.info(
            "run %s created for run folder %r (%s, %s): sending %d held file(s)",
            run.id,
            staged.name,
            staged.run_info.run_id,
            instrument,
            len(staged.held),
        )

    async def _drop_failed(self, staged: StagedRun, node: Node, exc: BaseException) -> None:
        """A refused RunInfo.xml/RunParameters.xml: dropped, so a good one can take its place."""
        path = _upload_of(node).destination.path
        if path == RUN_INFO:
            staged.run_info = None
        elif is_run_parameters(path):
            staged.parameters = None
        staged.held.pop(node.key, None)
        self._files.pop(node.key, None)
        await _upload_of(node).fail(exc)

    async def _send_held(self, staged: StagedRun, current: Node) -> None:
        """The run exists: send the files held for it (``current``'s failure is raised; the
        others' are logged and kept for ``.status`` and ``.complete``)."""
        held = [n for n in staged.held.values() if n is current or _upload_of(n).handles == 0]
        for node in held:
            staged.held.pop(node.key, None)
        limit = trio.CapacityLimiter(_SENDING_AT_ONCE)
        current_error: list[BaseException] = []

        async def send(node: Node) -> None:
            async with limit:
                try:
                    await self._send(staged, node)
                except Exception as exc:
                    if node is current:
                        current_error.append(exc)
                    else:
                        log.warning(
                            "held file %r of run folder %r failed: %s",
                            node.key[-1],
                            staged.name,
                            exc,
                        )
                        self.overlay.forget(node)

        async with trio.open_nursery() as nursery:
            for node in held:
                nursery.start_soon(send, node)
        if current_error:
            raise current_error[0]

    async def _send(self, staged: StagedRun, node: Node) -> None:
        staged.held.pop(node.key, None)  # one still open when the run was made: sent at its close
        upload = _upload_of(node)
        path = upload.destination.path
        assert staged.run_id is not None
        if upload.destination.appresult_id != staged.run_id:  # held before the run existed
            directory, name = upload.destination.directory, upload.destination.name
            await upload.rename(Destination(staged.run_id, directory, name, "runs"))
        try:
            result = await upload.commit()
        except BaseException as exc:
            staged.failed[path] = str(exc)
            self._files.pop(node.key, None)
            raise
        staged.failed.pop(path, None)
        staged.sent += 1
        staged.bytes_sent += upload.size
        self._files.pop(node.key, None)
        self.overlay.publish(node, result)

    def forget(self, node: Node) -> None:
        """A file removed (``rm``) or failed before it was sent."""
        owned = self._files.pop(node.key, None)
        if owned is not None:
            owned[0].held.pop(node.key, None)

    # -- ending --------------------------------------------------------------------------------

    def rmdir_refused(self, node: Node) -> str:
        """Why ``rmdir`` of a run folder is refused ("" when it may go: nothing was sent)."""
        staged = self._staged.get(node.key)
        if staged is None or staged.run_id is None:
            if staged is not None:
                del self._staged[node.key]
            return ""
        return (
            f"run {staged.run_id} exists on BaseSpace for {staged.name!r}: write yes to its "
            ".complete, or to .abort"
        )

    async def finish(self, directory: NodeKey, status: str) -> Effect:
        """``.complete`` (Completed) or ``.abort`` (Failed)."""
        staged = self._staged.get(directory)
        if staged is None:
            raise ControlError(errno.ENOENT, "this run folder's upload has already ended")
        mine = [(k, u) for k, (owner, u) in self._files.items() if owner is staged]
        busy = [k for k, u in mine if u.handles > 0 or u.state is UploadState.COMMITTING]
        if busy:
            raise ControlError(
                errno.EBUSY,
                f"{len(busy)} file(s) of run folder {staged.name!r} are still being written or "
                "uploaded",
            )
        if status == "Completed":
            if staged.run_id is None:
                raise ControlError(
                    errno.EINVAL,
                    f"run folder {staged.name!r} has no run yet: "
                    + " and ".join(staged.waiting_for())
                    + " must be copied in first (bs upload run needs them)",
                )
            if staged.failed:
                shown = ", ".join(sorted(staged.failed)[:5])
                raise ControlError(
                    errno.EIO,
                    f"{len(staged.failed)} file(s) failed to upload ({shown}): copy them again, "
                    "or write yes to .abort",
                )
        if staged.run_id is not None:
            await upload_api.set_run_upload_status(self.uploads.client, staged.run_id, status)
        for key, upload in mine:  # held (an abort) or leftover temporary files: not sent
            del self._files[key]
            await upload.discard()
        staged.held.clear()
        del self._staged[staged.key]
        self.overlay.drop_local_under(staged.key)
        self.overlay.hide_local(staged.runs_key, staged.name)
        runs_ino = self.inodes.known_ino(staged.runs_key)
        if runs_ino is not None:
            self.kernel.entry(runs_ino, staged.name)
        log.info(
            "run folder %r: upload %s (run %s, %d files sent)",
            staged.name,
            status,
            staged.run_id or "never created",
            staged.sent,
        )
        return Effect(invalidate=(staged.runs_key,))

    def describe(self, directory: NodeKey) -> dict[str, Any]:
        staged = self._staged.get(directory)
        if staged is None:
            return {"state": "ended"}
        waiting = staged.waiting_for()
        info = staged.run_info
        return {
            "name": staged.name,
            "state": "waiting for " + " and ".join(waiting) if waiting else "uploading",
            "run_id": staged.run_id,
            "run_folder": info.run_id if info else None,
            "flowcell": info.flowcell if info else None,
            "instrument": info.instrument if info else None,
            "instrument_type": staged.instrument or None,
            "files_held": len(staged.held),
            "files_sent": staged.sent,
            "bytes_sent": staged.bytes_sent,
            "files_failed": dict(staged.failed),
        }


def _upload_of(node: Node) -> FileUpload:
    upload = node.local
    assert isinstance(upload, FileUpload)
    return upload


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name
