"""Writing through the mount: files and directories created in an AppResult's ``Files`` tree,
as a collaborator of :class:`bsmount.fuse.operations.Operations` (docs/writing.md).

* Where: a directory whose kind accepts uploads (an AppResult's ``Files`` and its
  sub-directories) while the AppResult's AppSession is Running, NeedsAttention or TimedOut
  (checked against the server, remembered for a few seconds). Elsewhere: EROFS.
* A created file is a local node (key ``<Files key> + ("u", path)``) carrying its
  :class:`~bsmount.upload.transfer.FileUpload`, shown in its directory over the server's
  listing with its local size until it is committed (at ``close``: see :meth:`commit`); then the
  server's file takes its place, the old inode keeps answering with the server's bytes, and the
  kernel is told to look the name up again.
* ``mkdir`` makes a local directory: it becomes a path on the server with its first file.
* Names starting with ``.`` (rsync's temporary files) are kept local until renamed to a visible
  name, which commits them; nothing sent to the server can be renamed, overwritten or deleted.
* Run folders copied into ``Runs/`` go through the same overlay and uploads; what is particular
  to them (held files, creating the run) is :mod:`bsmount.fuse.run_writes`'.
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Mapping

import trio

from bsmount.api.models import FileInfo
from bsmount.api.uploads import WRITABLE_SESSION_STATES, create_sample
from bsmount.errors import ControlError
from bsmount.fuse.kernel import KernelInvalidator
from bsmount.fuse.run_writes import RunFolders
from bsmount.tree.inodes import InodeTable
from bsmount.tree.layout import dir_controls
from bsmount.tree.metacache import Listing
from bsmount.tree.nodes import DirSpec, Node, NodeKey, NodeType, dir_node, remote_file_node
from bsmount.tree.tree import Tree
from bsmount.upload.fastq import FastqName, FastqStats, inspect_fastq, parse_fastq_name
from bsmount.upload.manager import UploadManager
from bsmount.upload.transfer import Destination, FileUpload

__all__ = ["WritableFiles"]

log = logging.getLogger("bsmount.fuse")

SESSION_CHECK_SECONDS = 5.0  # an AppSession's status is asked again after this long
_MAX_NAME_BYTES = 255


class WritableFiles:
    """Local files and directories of AppResults being written, and their commits."""

    def __init__(
        self,
        tree: Tree,
        uploads: UploadManager,
        inodes: InodeTable[Node],
        kernel: KernelInvalidator,
    ) -> None:
        self.tree = tree
        self.uploads = uploads
        self.inodes = inodes
        self.kernel = kernel
        self._local: dict[NodeKey, dict[str, Node]] = {}  # directory key -> name -> local node
        self._place: dict[NodeKey, tuple[NodeKey, str]] = {}  # local node key -> where shown
        self._sessions: dict[str, tuple[float, str]] = {}  # appresult id -> (checked at, status)
        self.written_keys: set[NodeKey] = set()  # server files committed through this mount
        self._former_keys: dict[NodeKey, list[NodeKey]] = {}  # a renamed file's earlier keys
        self._fastq_dirs: dict[NodeKey, NodeKey] = {}  # FASTQ file key -> its Samples/ key
        self._samples: dict[tuple[str, str], str] = {}  # (project, sample name) -> sample id
        self._read_counts: dict[tuple[str, str, str, int], int] = {}  # (project, sample, lane, R)
        self.runs = RunFolders(self, uploads, inodes, kernel)  # run folders copied into Runs/

    # -- what the overlay shows ----------------------------------------------------------------

    def entries(self, directory: NodeKey) -> Mapping[str, Node]:
        """Local entries of a directory (shown over the server's listing)."""
        return self._local.get(directory, {})

    def merged(self, directory: NodeKey, listing: Listing) -> Listing:
        """``listing`` with this directory's local entries over it; entries the server's
        listing has by now (files sent, directories that got a file) are forgotten."""
        local = self._local.get(directory)
        if not local:
            return listing
        for name, node in list(local.items()):
            if node.local is None and name in listing.entries and not self.runs.keeps(node):
                self._hide(directory, name)
        if not local:
            return listing
        return Listing({**listing.entries, **local}, listing.fetched_at)

    def in_flight(self, appresult_id: str) -> int:
        """Files of the AppResult open or uploading (``.complete`` waits for none)."""
        return sum(
            1
            for upload in self.uploads.active
            if upload.destination.appresult_id == appresult_id and not upload.deferred
        )

    # -- creating ------------------------------------------------------------------------------

    async def create(self, parent: Node, name: str) -> Node:
        """A new file ``name`` in ``parent``, to be written and uploaded."""
        if parent.spec is not None and parent.spec.kind.accepts_fastq:
            return await self._create_fastq(parent, name)
        if parent.spec is not None and parent.spec.kind.accepts_run_folder:
            _check_name(name)
            await self._check_free(parent, name)
            node = await self.runs.create(parent, name)
            self._show(parent.key, name, node)
            return node
        appresult_id, directory = await self.check_writable(parent, name)
        await self._check_free(parent, name)
        upload = await self.uploads.open(Destination(appresult_id, directory, name))
        node = Node(
            key=_files_key(parent) + ("u", _join(directory, name)),
            type=NodeType.FILE,
            mtime_ns=time.time_ns(),
            local=upload,
        )
        self._show(parent.key, name, node)
        return node

    async def _create_fastq(self, parent: Node, name: str) -> Node:
        """A FASTQ file copied into a project's ``Samples/``: kept local until its close, then
        checked, grouped into its Sample and uploaded there (:mod:`bsmount.upload.fastq`)."""
        assert parent.spec is not None
        _check_name(name)
        if not name.startswith("."):  # rsync's temporary name: checked when renamed
            parse_fastq_name(name)
        await self._check_free(parent, name)
        project_id = parent.spec.args[0]
        upload = await self.uploads.open(
            Destination(project_id, "", name, resource="samples"), streams=False
        )
        node = Node(
            key=parent.key + ("u", name), type=NodeType.FILE, mtime_ns=time.time_ns(), local=upload
        )
        self._show(parent.key, name, node)
        self._fastq_dirs[node.key] = parent.key
        return node

    async def mkdir(self, parent: Node, name: str) -> Node:
        """A local directory: it reaches the server with its first file."""
        assert parent.spec is not None
        if parent.spec.kind.accepts_run_folder:  # a run folder in Runs/, or a directory in one
            _check_name(name)
            await self._check_free(parent, name)
            child = self.runs.mkdir(parent, name)
            self._show(parent.key, name, child)
            return child
        appresult_id, directory = await self.check_writable(parent, name)
        await self._check_free(parent, name)
        path = _join(directory, name)
        node = dir_node(
            _files_key(parent) + ("d", path),
            DirSpec(parent.spec.kind, (appresult_id, path)),
            time.time_ns(),
        )
        self._show(parent.key, name, node)
        # the server has no such directory: its listing is known (empty), so the lookups of a
        # cp -r in it do not fetch the whole AppResult's file list once per new directory
        self.tree.cache.put(node.key, Listing(dict(dir_controls(node.key))))
        return node

    async def check_writable(self, parent: Node, name: str) -> tuple[str, str]:
        """The AppResult id and directory path a new entry of ``parent`` goes to."""
        spec = parent.spec
        if spec is None or not spec.kind.accepts_uploads:
            raise ControlError(
                errno.EROFS,
                f"cannot create {name!r} here: only an appresult's Files/ accepts new files "
                "(mkdir Projects/<p>/AppResults/<name> makes one)",
            )
        _check_name(name)
        appresult_id = spec.args[0]
        status = await self._session_status(appresult_id)
        if status.lower() not in WRITABLE_SESSION_STATES:
            raise ControlError(
                errno.EROFS,
                f"appresult {appresult_id}: its appsession is {status or 'unknown'}; files "
                "can only be added while it is Running",
            )
        return appresult_id, spec.args[1] if len(spec.args) > 1 else ""

    async def _check_free(self, parent: Node, name: str) -> None:
        taken = name in self.entries(parent.key)
        # a directory made here had no server entry when it was made (and the server refuses a
        # path it has at upload): its listing is not asked, which for a Files/ tree would fetch
        # the whole AppResult's file list for every new directory of a cp -r
        if not taken and parent.key not in self._place:
            taken = name in (await self.tree.listing(parent)).entries
        if taken:
            raise ControlError(
                errno.EEXIST,
                f"{name!r} already exists; BaseSpace files cannot be overwritten",
            )

    async def _session_status(self, appresult_id: str) -> str:
        now = time.monotonic()
        known = self._sessions.get(appresult_id)
        if known is not None and now - known[0] < SESSION_CHECK_SECONDS:
            return known[1]
        document = await self.tree.client.get_json(f"v1pre3/appresults/{appresult_id}")
        body = document.get("Response", document) if isinstance(document, dict) else {}
        session = body.get("AppSession") if isinstance(body, dict) else None
        status = ""
        if isinstance(session, dict):
            status = str(session.get("Status") or "")
        if not status and isinstance(body, dict):
            status = str(body.get("Status") or "")
        self._sessions[appresult_id] = (now, status)
        return status

    def forget_session(self, appresult_id: str) -> None:
        """The AppSession's status changed (``.complete``): ask again at the next write."""
        self._sessions.pop(appresult_id, None)

    # -- finishing -----------------------------------------------------------------------------

    async def commit(self, node: Node) -> None:
        """Send the rest of ``node``'s file and complete it; the server's file replaces it."""
        if node.key in self._fastq_dirs:
            await self._commit_fastq(node)
            return
        if self.runs.owns(node):
            await self.runs.commit(node)
            return
        self.publish(node, await _upload_of(node).commit())

    def publish(self, node: Node, result: FileInfo) -> None:
        """``node``'s file is in BaseSpace as ``result``: the server's file replaces it."""
        place = self._place.get(node.key)
        if place is not None:
            directory, name = place
            files_key = node.key[:-2]  # a local file's key: <Files key> + ("u", path)
            self.written_keys.update((files_key + ("f", result.id), node.key))
            # The same key (and inode) now reads the server's bytes. It stays shown here until a
            # listing of the directory from the server has it (:meth:`merged`): invalidating the
            # listing instead would make the next file's lookup list the whole AppResult again.
            sent = remote_file_node(node.key, result.version(), node.mtime_ns)
            self._show(directory, name, sent)
            for key in (node.key, *self._former_keys.pop(node.key, ())):  # renamed from: same
                self.inodes.refresh(remote_file_node(key, result.version(), node.mtime_ns))

    async def _commit_fastq(self, node: Node) -> None:
        upload = _upload_of(node)
        samples_key = self._fastq_dirs[node.key]
        project_id, name = upload.destination.appresult_id, upload.destination.name
        try:
            fastq = parse_fastq_name(name)
            path = await upload.spool.spill()  # the check reads it from disk
            stats = await trio.to_thread.run_sync(inspect_fastq, path, name, fastq.gzipped)
            mate = self._read_counts.get((project_id, fastq.sample, fastq.lane, 3 - fastq.read))
            if mate is not None and mate != stats.reads:
                raise ControlError(
                    errno.EINVAL,
                    f"{name!r} holds {stats.reads} reads, its R{3 - fastq.read} mate {mate}: "
                    "paired files must hold the same reads",
                )
            sample_id = await self._sample_for(project_id, fastq, stats)
            await upload.rename(Destination(sample_id, "", name, resource="samples"))
            await upload.commit()
        except BaseException as exc:
            await upload.fail(exc)
            raise
        self._read_counts[(project_id, fastq.sample, fastq.lane, fastq.read)] = stats.reads
        log.info(
            "FASTQ %s: %d reads of up to %d bases, in sample %s (%s)",
            name,
            stats.reads,
            stats.longest,
            fastq.sample,
            sample_id,
        )
        self._remove(node)
        del self._fastq_dirs[node.key]
        self.tree.invalidate(samples_key)
        parent_ino = self.inodes.known_ino(samples_key)
        if parent_ino is not None:
            self.kernel.entry(parent_ino, name)

    async def _sample_for(self, project_id: str, fastq: FastqName, stats: FastqStats) -> str:
        """The Sample this mount made for the name, or a new one with the file's figures."""
        known = self._samples.get((project_id, fastq.sample))
        if known is not None:
            return known
        sample = await create_sample(
            self.uploads.client,
            project_id,
            {
                "Name": fastq.sample,
                "SampleId": fastq.sample,
                "SampleNumber": fastq.number,
                "Read1": stats.longest if fastq.read == 1 else 0,
                "Read2": stats.longest if fastq.read == 2 else 0,
                "IsPairedEnd": fastq.read == 2,
                "NumReadsRaw": stats.reads,
                "NumReadsPF": stats.reads,
            },
        )
        self._samples[(project_id, fastq.sample)] = sample.id
        return sample.id

    async def discard(self, node: Node) -> None:
        """Drop a local file that was not committed (``rm``, or a failed upload)."""
        await _upload_of(node).discard()
        self.runs.forget(node)
        self._remove(node)

    def forget(self, node: Node) -> None:
        """Stop showing a local file whose upload failed (nothing was published)."""
        self.runs.forget(node)
        self._remove(node)

    def hide_local(self, directory: NodeKey, name: str) -> None:
        """Stop showing the local entry ``name`` of ``directory``."""
        self._hide(directory, name)

    def drop_local_under(self, prefix: NodeKey) -> None:
        """Forget every local entry of the directories at and below ``prefix`` (a run folder
        whose upload ended)."""
        for directory in [d for d in self._local if d[: len(prefix)] == prefix]:
            for name in list(self._local.get(directory, {})):
                self._hide(directory, name)
            self._local.pop(directory, None)

    def _show(self, directory: NodeKey, name: str, node: Node) -> None:
        self._local.setdefault(directory, {})[name] = node
        self._place[node.key] = (directory, name)

    def _hide(self, directory: NodeKey, name: str) -> None:
        node = self._local.get(directory, {}).pop(name, None)
        if node is not None and self._place.get(node.key) == (directory, name):
            del self._place[node.key]

    def _remove(self, node: Node) -> None:
        place = self._place.get(node.key)
        if place is not None and self._local.get(place[0], {}).get(place[1]) is node:
            self._hide(*place)

    def directory_of(self, node: Node) -> NodeKey | None:
        """The key of the directory a local node is shown in."""
        place = self._place.get(node.key)
        return place[0] if place is not None else None

    # -- removing and renaming -----------------------------------------------------------------

    async def unlink(self, parent: Node, name: str) -> None:
        local = self.entries(parent.key).get(name)
        if local is not None and local.local is not None:
            await self.discard(local)
            return
        if local is not None and local.is_dir:
            raise ControlError(errno.EISDIR, f"{name!r} is a directory: use rmdir")
        raise ControlError(
            errno.EPERM,
            f"{name!r} is a BaseSpace file: files cannot be deleted (move the appresult to the "
            "trash with its .trash)",
        )

    def rmdir(self, parent: Node, name: str) -> bool:
        """Remove a local directory; False when ``name`` is not one."""
        local = self.entries(parent.key).get(name)
        if local is None or not local.is_dir:
            return False
        if self.entries(local.key):
            raise ControlError(errno.ENOTEMPTY, f"{name!r} is not empty")
        refused = self.runs.rmdir_refused(local)
        if refused:
            raise ControlError(errno.EBUSY, refused)
        self._hide(parent.key, name)
        return True

    async def rename(self, parent: Node, name: str, new_parent: Node, new_name: str) -> Node:
        """Rename a file not yet sent (rsync's temporary file): the new name is committed."""
        local = self.entries(parent.key).get(name)
        if local is None or local.local is None:
            raise ControlError(
                errno.EPERM,
                f"{name!r} cannot be renamed: BaseSpace has no rename (only files still being "
                "written, not yet sent, can be)",
            )
        upload = _upload_of(local)
        if local.key in self._fastq_dirs:  # rsync into Samples/: the final name is checked
            if new_parent.key != parent.key:
                raise ControlError(errno.EPERM, f"{name!r} can only be renamed within Samples/")
            parse_fastq_name(new_name)
            await self._check_free(new_parent, new_name)
            destination = Destination(upload.destination.appresult_id, "", new_name, "samples")
            key = new_parent.key + ("u", new_name)
            self._fastq_dirs[key] = self._fastq_dirs.pop(local.key)
        elif self.runs.owns(local):  # rsync into a run folder
            _check_name(new_name)
            await self._check_free(new_parent, new_name)
            destination, key = self.runs.renamed(local, new_parent, new_name)
        else:
            appresult_id, directory = await self.check_writable(new_parent, new_name)
            await self._check_free(new_parent, new_name)
            destination = Destination(appresult_id, directory, new_name)
            key = _files_key(new_parent) + ("u", _join(directory, new_name))
        await upload.rename(destination)
        self._hide(parent.key, name)
        moved = Node(key=key, type=NodeType.FILE, mtime_ns=local.mtime_ns, local=upload)
        # the kernel keeps the inode of the old name for the new one: it must follow the file
        self._former_keys[key] = [local.key, *self._former_keys.pop(local.key, ())]
        self._show(new_parent.key, new_name, moved)
        self.inodes.refresh(moved)
        if not upload.deferred and not upload.closed and upload.handles == 0:
            await self.commit(moved)  # written and closed already: it goes to BaseSpace now
        return moved


def _upload_of(node: Node) -> FileUpload:
    upload = node.local
    assert isinstance(upload, FileUpload)
    return upload


def _files_key(directory: Node) -> NodeKey:
    """The key of the ``Files`` directory ``directory`` is in (or is)."""
    assert directory.spec is not None
    return directory.key[:-2] if len(directory.spec.args) > 1 else directory.key


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def _check_name(name: str) -> None:
    if name in (".", "..") or "/" in name or "\x00" in name:
        raise ControlError(errno.EINVAL, f"{name!r} is not a valid file name")
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        raise ControlError(errno.EINVAL, f"{name!r} is not valid UTF-8") from None
    if len(encoded) > _MAX_NAME_BYTES:
        raise ControlError(errno.ENAMETOOLONG, f"name of {len(encoded)} bytes (at most 255)")
