"""Spool files: the bytes of files being written, on local disk, private to the mounting user.

The spool directory is created 0700 (and made so if it exists), each spool file 0600. A spool
file is appended to (``write`` at its end only) and read back by part; its first MiB stays in
memory (small files never touch the disk), and every disk access runs in a worker thread, never
on the event loop. :class:`SpoolDir` also bounds the bytes written but
not yet acknowledged by the server (``capacity``): an append beyond it waits for uploads to
catch up, up to a deadline, then fails with ENOSPC. A spool file is removed once its upload is
committed or abandoned; until then it holds the whole file on local disk. A closed file that has
to wait (a run folder's file held until its run exists) is *parked*: on disk, no descriptor
open, out of the budget, so a copy can hold more than the budget while it waits.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import trio

from bsmount.errors import ControlError

__all__ = ["SpoolDir", "SpoolFile"]

log = logging.getLogger(__name__)

CHUNK = 1 << 20  # bytes read from a spool file at once (hashing, sending a part)
MEMORY_LIMIT = 1 << 20  # a spool file's first bytes stay in memory up to this size


class SpoolDir:
    """The directory of spool files and the byte budget they share."""

    def __init__(self, path: Path, capacity: int, *, space_wait: float = 30.0) -> None:
        self.path = path
        self.capacity = capacity
        self.space_wait = space_wait
        self.used = 0
        self._space = trio.lowlevel.ParkingLot()
        self._names = itertools.count(1)

    def prepare(self) -> None:
        """Create the directory (0700) and drop spool files a previous mount left (blocking)."""
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path, 0o700)
        for stale in self.path.glob("*.spool"):
            stale.unlink(missing_ok=True)

    def create(self) -> SpoolFile:
        """A new spool file (in memory until it outgrows :data:`MEMORY_LIMIT`)."""
        return SpoolFile(self, self.path / f"{os.getpid()}-{next(self._names)}.spool")

    async def reserve(self, size: int) -> None:
        """Wait until ``size`` more bytes fit in the budget (ENOSPC after ``space_wait``)."""
        with trio.move_on_after(self.space_wait):
            while self.used + size > self.capacity and self.used > 0:
                await self._space.park()
            self.used += size
            return
        raise ControlError(
            errno.ENOSPC,
            f"the upload spool is full ({self.capacity} bytes waiting to be sent); "
            "uploads are slower than writes",
        )

    def release(self, size: int) -> None:
        """``size`` reserved bytes are acknowledged (or abandoned): room for more."""
        self.used = max(0, self.used - size)
        self._space.unpark_all()


class SpoolFile:
    """One file's bytes; appended in order, read back by range.

    The first ``MEMORY_LIMIT`` bytes stay in memory: a small file (most files of a ``cp -r``)
    never touches the disk and costs no worker-thread hop. Past that, everything moves to a
    file on disk (0600) and later bytes are appended there."""

    def __init__(self, owner: SpoolDir, path: Path) -> None:
        self.owner = owner
        self.path = path  # where the bytes go once they outgrow memory
        self.size = 0
        self._memory: bytearray | None = bytearray()
        self._spilled: trio.Event | None = None  # set once the bytes are on disk
        self._fd = -1
        self._reserved = 0
        self._parked = False  # on disk with no descriptor open (:meth:`park`)

    @property
    def open(self) -> bool:
        """Whether the bytes are still here (not yet dropped)."""
        return self._memory is not None or self._fd >= 0 or self._parked

    async def append(self, data: bytes) -> None:
        if self._parked:
            raise ControlError(errno.EPERM, f"{self.path.name}: the file is closed and waiting")
        await self.owner.reserve(len(data))
        self._reserved += len(data)
        offset = self.size
        self.size += len(data)
        if self._memory is not None and self.size <= MEMORY_LIMIT:
            self._memory += data
            return
        await self.spill()
        await trio.to_thread.run_sync(_pwrite_all, self._fd, data, offset)

    async def spill(self) -> Path:
        """Move the bytes to the file on disk (if not there yet); its path. Readers keep using
        the memory copy until the file holds everything."""
        if self._memory is not None:
            if self._spilled is None:
                self._spilled = trio.Event()
                held = bytes(self._memory)
                self._fd = await trio.to_thread.run_sync(_create_with, self.path, held)
                self._memory = None
                self._spilled.set()
            else:
                await self._spilled.wait()
        return self.path

    async def park(self) -> None:
        """The file is closed but its upload must wait: its bytes go to disk, its descriptor is
        closed (reopened to be read) and it leaves the budget (it no longer grows)."""
        await self.spill()
        fd, self._fd = self._fd, -1
        if fd >= 0:
            self._parked = True
            await trio.to_thread.run_sync(os.close, fd)
        self.owner.release(self._reserved)
        self._reserved = 0

    async def _unpark(self) -> None:
        if self._parked and self._fd < 0:
            fd = await trio.to_thread.run_sync(os.open, self.path, os.O_RDONLY | os.O_CLOEXEC)
            if self._fd >= 0 or not self._parked:  # another reader reopened it, or dropped
                os.close(fd)
            else:
                self._fd = fd

    def acknowledged(self, size: int) -> None:
        """``size`` bytes reached the server: they no longer count against the budget."""
        size = min(size, self._reserved)
        self._reserved -= size
        self.owner.release(size)

    async def read(self, offset: int, length: int) -> bytes:
        await self._unpark()
        if self._memory is not None:
            return bytes(self._memory[offset : offset + length])
        return await trio.to_thread.run_sync(_pread_all, self._fd, length, offset)

    async def md5(self, offset: int, length: int) -> bytes:
        """The MD5 digest of a range, computed in a worker thread (hashlib drops the GIL)."""
        if self._memory is not None:
            view = bytes(self._memory[offset : offset + length])
            return await trio.to_thread.run_sync(_md5_bytes, view)
        await self._unpark()
        return await trio.to_thread.run_sync(_md5_range, self._fd, offset, length)

    async def chunks(self, offset: int, length: int) -> AsyncIterator[bytes]:
        """A range as chunks of at most ``CHUNK`` bytes, read in a worker thread each: a part is
        sent without ever being whole in memory."""
        end = offset + length
        while offset < end:
            size = min(CHUNK, end - offset)
            chunk = await self.read(offset, size)
            if len(chunk) != size:
                raise OSError(f"spool file {self.path} is shorter than expected")
            yield chunk
            offset += size

    async def drop(self) -> None:
        """Forget the bytes: the file is closed and removed (in a worker thread: unlinking a
        multi-GiB file takes a second), its budget freed."""
        self._memory = None
        fd, self._fd = self._fd, -1
        self.owner.release(self._reserved)
        self._reserved = 0
        if fd >= 0:
            await trio.to_thread.run_sync(_close_and_remove, fd, self.path)
        elif self._parked:
            await trio.to_thread.run_sync(_remove, self.path)
        self._parked = False


def _create_with(path: Path, data: bytes) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    _pwrite_all(fd, data, 0)
    return fd


def _md5_bytes(data: bytes) -> bytes:
    return hashlib.md5(data).digest()


def _close_and_remove(fd: int, path: Path) -> None:
    os.close(fd)
    _remove(path)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError as exc:
        log.info("spool file %s could not be removed: %s", path, exc)


def _md5_range(fd: int, offset: int, length: int) -> bytes:
    digest = hashlib.md5()
    end = offset + length
    while offset < end:
        chunk = _pread_all(fd, min(CHUNK, end - offset), offset)
        if not chunk:
            break
        digest.update(chunk)
        offset += len(chunk)
    return digest.digest()


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _pread_all(fd: int, length: int, offset: int) -> bytes:
    chunks = []
    while length > 0:
        chunk = os.pread(fd, length, offset)
        if not chunk:
            break
        chunks.append(chunk)
        length -= len(chunk)
        offset += len(chunk)
    return b"".join(chunks)
