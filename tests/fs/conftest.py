"""The FS tier: :class:`bsmount.fuse.operations.Operations` driven without the kernel.

Each test gets the whole stack of a mount — the real API client over loopback HTTP to an
emulator process, the tree, the read engine and the control files — and calls the FUSE
handlers directly, the way s3ql's ``t3_fs_api`` does. pyfuse3's calls into a live session
(``readdir_reply``, ``invalidate_*``, ``terminate``) are replaced by recorders, since no
kernel is attached.
"""

from __future__ import annotations

import errno
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyfuse3
import pytest
import trio

from bsmount.api.client import BaseSpaceClient
from bsmount.api.content import ContentReader
from bsmount.controls.service import Controls
from bsmount.fuse.operations import Operations
from bsmount.io.reader import ReadEngine
from bsmount.tree.nodes import Node
from bsmount.tree.tree import Tree
from bsmount.upload.journal import Journal
from bsmount.upload.manager import UploadManager
from bsmount.upload.spool import SpoolDir
from tests.emulator_proc import EmulatorProcess


@dataclass
class Context:
    """What pyfuse3.RequestContext carries."""

    uid: int = os.getuid()
    gid: int = os.getgid()
    pid: int = os.getpid()
    umask: int = 0o022


CTX: Any = Context()


class FS:
    """Paths in, FUSE handler calls out."""

    def __init__(self, ops: Operations, controls: Controls, terminated: list[bool]) -> None:
        self.ops = ops
        self.controls = controls
        self.terminated = terminated

    async def ino(self, path: str) -> int:
        ino = pyfuse3.ROOT_INODE
        for part in [p for p in path.split("/") if p]:
            ino = (await self.ops.lookup(ino, os.fsencode(part), CTX)).st_ino
        return ino

    def node(self, ino: int) -> Node:
        node = self.ops.inodes.get(ino)
        assert node is not None
        return node

    async def listdir(self, path: str) -> dict[str, Any]:
        """Name → entry attributes, as readdirplus gives them."""
        fh = await self.ops.opendir(await self.ino(path), CTX)
        entries: list[tuple[bytes, Any]] = []
        try:
            await self.ops.readdir(fh, 0, entries)  # type: ignore[arg-type]
        finally:
            await self.ops.releasedir(fh)
        return {os.fsdecode(name): attrs for name, attrs in entries}

    async def read(self, path: str, chunk: int = 128 * 1024) -> bytes:
        info = await self.ops.open(await self.ino(path), os.O_RDONLY, CTX)
        data = bytearray()
        try:
            while True:
                part = await self.ops.read(info.fh, len(data), chunk)
                if not part:
                    return bytes(data)
                data += part
        finally:
            await self.ops.release(info.fh)

    async def write(self, path: str, payload: bytes, ctx: Any = CTX) -> None:
        """open(O_WRONLY|O_TRUNC), write, close — errors of write and close propagate."""
        ino = await self.ino(path)
        info = await self.ops.open(ino, os.O_WRONLY | os.O_TRUNC, ctx)
        try:
            await self.ops.write(info.fh, 0, payload)
            await self.ops.flush(info.fh)
        finally:
            await self.ops.release(info.fh)

    async def create(self, path: str, payload: bytes, chunk: int = 100_000) -> None:
        """creat, write in order, close: what ``cp`` does."""
        parent, _, name = path.rpartition("/")
        info, _attrs = await self.ops.create(
            await self.ino(parent), os.fsencode(name), 0o644, os.O_WRONLY | os.O_CREAT, CTX
        )
        try:
            for start in range(0, len(payload), chunk):
                await self.ops.write(info.fh, start, payload[start : start + chunk])
            await self.ops.flush(info.fh)
        finally:
            await self.ops.release(info.fh)

    async def errno_of(self, call: Any) -> int:
        with pytest.raises(pyfuse3.FUSEError) as info:
            await call
        return info.value.errno

    async def error_text(self, directory: str) -> str:
        return (await self.read(f"{directory}/.error")).decode()


@pytest.fixture(scope="module")
def fs_emulator() -> Iterator[EmulatorProcess]:
    """An emulator of its own: the FS tests change its state (and reset it after each)."""
    with EmulatorProcess("demo", data_dir=os.environ.get("BSMOUNT_TEST_DATA_DIR") or None) as emu:
        yield emu


@pytest.fixture
async def fs(
    fs_emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[FS]:
    def readdir_reply(
        token: list[tuple[bytes, Any]], name: bytes, attrs: Any, next_id: int
    ) -> bool:
        token.append((name, attrs))
        return True

    terminated: list[bool] = []
    monkeypatch.setattr(pyfuse3, "readdir_reply", readdir_reply)
    monkeypatch.setattr(pyfuse3, "invalidate_inode", lambda *args, **kwargs: None)
    monkeypatch.setattr(pyfuse3, "invalidate_entry", lambda *args, **kwargs: None)
    monkeypatch.setattr(pyfuse3, "terminate", lambda: terminated.append(True))
    fs_emulator.reset()
    fs_emulator.http.post("/_emulator/config", json={"min_part_size": 64 * 1024})
    spool = SpoolDir(tmp_path / "spool", 16 << 20)
    spool.prepare()
    async with (
        BaseSpaceClient(fs_emulator.url, fs_emulator.token) as client,
        trio.open_nursery() as nursery,
    ):
        content = ContentReader(client)
        client.on_content_urls = content.offer_urls
        engine = ReadEngine(content, nursery, cache_bytes=64 << 20)
        tree = Tree(client, nursery=nursery)
        uploads = UploadManager(
            client, nursery, spool, Journal(tmp_path / "journal"), part_size=256 * 1024
        )
        await uploads.recover()
        controls = Controls(
            client,
            tree,
            nursery,
            statistics=lambda: {"api": "counted", "uploads": uploads.statistics()},
            settings={"metadata_ttl": 60},
            poll_interval=0.05,
            uploads_in_flight=lambda appresult_id: ops.uploads_in_flight(appresult_id),
        )
        ops = Operations(tree, engine, controls=controls, uploads=uploads, io_timeout=30.0)
        yield FS(ops, controls, terminated)
        nursery.cancel_scope.cancel()
    fs_emulator.reset()


__all__ = ["CTX", "FS", "Context", "errno"]
