"""The persistent block cache on local disk: layout, block files, size accounting, eviction.

Owns the files under ``<cache-dir>/blocks/`` and every blocking call on them; it knows nothing
of trio (:mod:`bsmount.io.disk_source` calls it from worker threads) and nothing of HTTP.

Layout (one directory tree shared by every mount that uses the same cache directory)::

    blocks/
      .evict.lock                      flock'd by the mount that is evicting (others skip)
      <account>/<vv>/<version>/<n>     one file per cached block n of one file version

* ``<account>`` is a hash of the API server and the user id (never the token), so two accounts
  never share bytes and mounts of the same account do.
* ``<version>`` is a hash of the block size, file id, size and ETag: a new ETag (a file changed
  on the server, or replaced by an upload) is a new directory, never a stale hit. A version
  without an ETag is not cached on disk at all (its identity is not known).
* A block is ``block_size`` bytes at a fixed grid position (the read engine's 64 KiB blocks, the
  last one short). Its file is a 24-byte header (magic, block index, length, CRC-32 of the data,
  CRC-32 of the version key) followed by the data.

**Never a wrong byte.** A block file is written under a temporary name in its directory and
renamed into place, so a reader sees a whole file or none (a ``kill -9`` mid-write leaves only
a temporary file, removed by a later eviction pass). Every read checks the header against the
block it expects (index, length, key) and the data's CRC-32; a file that fails (a partial write
after a power loss, a bit flip, a hash collision) is deleted and counted, and the block is
fetched again.

**Size and eviction.** Sizes are counted as disk usage (``st_blocks``), so ``du`` agrees with
the cap. A hit sets the block file's mtime (``noatime`` mounts never update atime), and an
eviction pass (:meth:`DiskStore.evict`, under the flock so only one mount scans at a time) walks
the tree, removes stale temporary files and deletes the least recently used blocks until the
total is at most ``low_water`` bytes. A reader that opened a block before it was evicted still
reads it (POSIX unlink semantics); one that comes after misses and fetches again.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import secrets
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from bsmount._types import FileVersion

__all__ = [
    "HEADER",
    "DiskStore",
    "EvictionResult",
    "ReadResult",
    "account_key",
    "block_disk_bytes",
]

log = logging.getLogger(__name__)

_MAGIC = b"BSMB"
# magic, block index, data length, CRC-32 of the data, CRC-32 of the version key
HEADER = struct.Struct("<4sQIII")
_FORMAT = "v1"  # bump when the file format or the key changes: old trees are simply not found
_TMP_SUFFIX = ".tmp"
#: Tries to create a block file when its directory keeps vanishing under an eviction pass.
_CREATE_ATTEMPTS = 5
# A temporary file older than this is a leftover of a killed writer (a write takes milliseconds).
STALE_TMP_SECONDS = 600.0
_FS_BLOCK = 4096


def account_key(api_server: str, user_id: str) -> str:
    """The directory name of one account's blocks: a hash of the server and the user id."""
    raw = f"{api_server.rstrip('/')}\0{user_id}".encode()
    return hashlib.sha256(raw).hexdigest()[:24]


def block_disk_bytes(length: int) -> int:
    """Disk usage of a block file holding ``length`` bytes (header included, 4 KiB blocks)."""
    return -(-(HEADER.size + length) // _FS_BLOCK) * _FS_BLOCK


@dataclass(slots=True)
class EvictionResult:
    """One eviction pass: what it found and what it removed."""

    scanned_bytes: int = 0  # disk usage of all block files before the pass
    remaining_bytes: int = 0  # after it
    files: int = 0
    evicted_blocks: int = 0
    evicted_bytes: int = 0
    stale_tmp: int = 0
    skipped: bool = False  # another mount held the lock


@dataclass(slots=True)
class ReadResult:
    """Blocks of one read: which were found valid on disk and which were not."""

    missing: list[int]
    hit_bytes: int = 0
    corrupt: int = 0


class DiskStore:
    """Block files of one account under ``root`` (``<cache-dir>/blocks``); thread-safe."""

    def __init__(self, root: Path, account: str, block_size: int) -> None:
        if block_size <= 0:
            raise ValueError("block_size must be positive")
        self.root = root
        self.account_dir = root / _FORMAT / account
        self.block_size = block_size

    def prepare(self) -> None:
        """Create the directories (0700)."""
        self.account_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for path in (self.root, self.root / _FORMAT, self.account_dir):
            os.chmod(path, 0o700)

    @staticmethod
    def cacheable(version: FileVersion) -> bool:
        """Only versions with an ETag: without one, new content could not be told apart."""
        return bool(version.etag) and version.size > 0

    def _key(self, version: FileVersion) -> str:
        return f"{self.block_size}\0{version.file_id}\0{version.size}\0{version.etag}"

    def version_dir(self, version: FileVersion) -> Path:
        digest = hashlib.sha256(self._key(version).encode()).hexdigest()[:32]
        return self.account_dir / digest[:2] / digest

    def block_length(self, version: FileVersion, block: int) -> int:
        start = block * self.block_size
        return max(0, min(self.block_size, version.size - start))

    # -- reading --------------------------------------------------------------------------------

    def read_into(
        self, version: FileVersion, first: int, last: int, buf: bytearray | memoryview
    ) -> ReadResult:
        """Fill ``buf`` (bytes from block ``first``'s start) with the valid blocks of
        ``[first, last)`` found on disk; the others are listed in ``missing``."""
        result = ReadResult(missing=[])
        directory = self.version_dir(version)
        key_crc = zlib.crc32(self._key(version).encode())
        view = memoryview(buf)
        header = bytearray(HEADER.size)
        base = first * self.block_size
        for block in range(first, last):
            length = self.block_length(version, block)
            offset = block * self.block_size - base
            dest = view[offset : offset + length]
            path = directory / str(block)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                result.missing.append(block)
                continue
            except OSError as exc:
                log.debug("disk cache: cannot open %s: %s", path, exc)
                result.missing.append(block)
                continue
            try:
                got = os.readv(fd, [header, dest])
                magic, index, size, data_crc, file_key_crc = HEADER.unpack(header)
                valid = (
                    got == HEADER.size + length
                    and magic == _MAGIC
                    and index == block
                    and size == length
                    and file_key_crc == key_crc
                    and zlib.crc32(dest) == data_crc
                )
                if valid:
                    with contextlib.suppress(OSError):
                        os.utime(fd)  # recently used: evicted last
            except OSError as exc:
                log.debug("disk cache: cannot read %s: %s", path, exc)
                valid = False
            finally:
                os.close(fd)
            if valid:
                result.hit_bytes += length
            else:
                result.corrupt += 1
                result.missing.append(block)
                log.info("disk cache: %s is damaged (a partial or corrupted write): dropped", path)
                with contextlib.suppress(OSError):
                    path.unlink()
        return result

    # -- writing --------------------------------------------------------------------------------

    def write_blocks(self, version: FileVersion, first: int, data: bytes | memoryview) -> int:
        """Store the blocks of ``data`` (whole blocks from block ``first``'s start, the last one
        possibly the file's short last block); returns the disk bytes added. Blocks already
        on disk are rewritten (identical bytes; the rename is atomic)."""
        directory = self.version_dir(version)
        key_crc = zlib.crc32(self._key(version).encode())
        view = memoryview(data)
        added = 0
        offset = 0
        block = first
        while offset < len(view):
            length = self.block_length(version, block)
            if length <= 0 or offset + length > len(view):
                raise ValueError(f"block {block} of {version.file_id}: not a whole block")
            chunk = view[offset : offset + length]
            header = HEADER.pack(_MAGIC, block, length, zlib.crc32(chunk), key_crc)
            self._write_file(directory, block, header, chunk)
            added += block_disk_bytes(length)
            offset += length
            block += 1
        return added

    def _write_file(self, directory: Path, block: int, header: bytes, chunk: memoryview) -> None:
        final = directory / str(block)
        tmp = directory / f".{block}.{os.getpid()}.{secrets.token_hex(4)}{_TMP_SUFFIX}"
        for attempt in range(1, _CREATE_ATTEMPTS + 1):
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            except FileNotFoundError:
                if attempt == _CREATE_ATTEMPTS:
                    raise
                # new version, or an eviction pass removed the empty directory just now (it may
                # again between our mkdir and open, while it sweeps: seen in CI)
                directory.mkdir(parents=True, exist_ok=True, mode=0o700)
                continue
            try:
                _write_all(fd, header, chunk)
            except BaseException:
                os.close(fd)
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise
            os.close(fd)
            try:
                os.rename(tmp, final)
            except BaseException:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise
            return

    # -- size and eviction ----------------------------------------------------------------------

    def evict(
        self, low_water: int, *, high_water: int | None = None, wait: bool = False
    ) -> EvictionResult:
        """Scan every account's blocks under ``root``; delete stale temporary files and, when
        more than ``high_water`` bytes (default ``low_water``) are in use, the least recently
        used blocks until at most ``low_water`` remain. Only one mount scans at a time: without
        ``wait``, a pass finding the lock held is skipped."""
        result = EvictionResult()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_fd = os.open(self.root / ".evict.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                result.skipped = True
                return result
            entries = self._scan(result)
            total = result.scanned_bytes
            if total > (low_water if high_water is None else high_water):
                entries.sort()
                for _mtime, usage, path in entries:
                    if total <= low_water:
                        break
                    try:
                        os.unlink(path)
                    except FileNotFoundError:
                        pass  # evicted or replaced by someone else: no longer ours to count
                    except OSError as exc:
                        log.debug("disk cache: cannot evict %s: %s", path, exc)
                        continue
                    total -= usage
                    result.evicted_blocks += 1
                    result.evicted_bytes += usage
            result.remaining_bytes = total
            self._remove_empty_dirs()
            return result
        finally:
            os.close(lock_fd)  # releases the flock

    def _scan(self, result: EvictionResult) -> list[tuple[float, int, str]]:
        """(mtime, disk usage, path) of every block file; stale temporary files removed."""
        entries: list[tuple[float, int, str]] = []
        now = time.time()
        for version_dir in self._version_dirs():
            try:
                with os.scandir(version_dir) as it:
                    for entry in it:
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except FileNotFoundError:
                            continue
                        if entry.name.endswith(_TMP_SUFFIX):
                            if now - st.st_mtime > STALE_TMP_SECONDS:
                                with contextlib.suppress(OSError):
                                    os.unlink(entry.path)
                                    result.stale_tmp += 1
                            continue
                        usage = st.st_blocks * 512
                        entries.append((st.st_mtime, usage, entry.path))
                        result.scanned_bytes += usage
                        result.files += 1
            except FileNotFoundError:
                continue
        return entries

    def _version_dirs(self) -> list[str]:
        """Every ``<account>/<vv>/<version>`` directory under ``root`` (all accounts)."""
        found: list[str] = []
        for level in range(3):
            parents = [str(self.root / _FORMAT)] if level == 0 else found
            children: list[str] = []
            for parent in parents:
                with (
                    contextlib.suppress(FileNotFoundError, NotADirectoryError),
                    os.scandir(parent) as it,
                ):
                    children += [e.path for e in it if e.is_dir(follow_symlinks=False)]
            found = children
        return found

    def _remove_empty_dirs(self) -> None:
        for version_dir in self._version_dirs():
            for path in (version_dir, os.path.dirname(version_dir)):
                try:
                    os.rmdir(path)
                except OSError as exc:  # not empty (the usual case), or gone
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                        log.debug("disk cache: cannot remove %s: %s", path, exc)
                    break


def _write_all(fd: int, header: bytes, chunk: memoryview) -> None:
    """Write header + chunk (short writes of a full disk raise; partial ones are resumed)."""
    pending = [memoryview(header), chunk]
    while pending:
        done = os.writev(fd, pending)
        while pending and done >= len(pending[0]):
            done -= len(pending[0])
            pending.pop(0)
        if pending and done:
            pending[0] = pending[0][done:]
