"""Where uploaded bytes live: :class:`UploadSpool`, one directory of files on disk.

Every body an upload sends (a single-request file, or one part of a multipart upload) is
streamed into its own file by a :class:`SpoolWriter`, which hashes it as it arrives (MD5) and
counts its bytes; nothing is held in memory beyond one chunk. :meth:`SpoolWriter.commit` gives a
:class:`StoredBody` (path, size, binary MD5 digest); :meth:`SpoolWriter.discard` drops a body
that was refused or cut short. Committed bodies are served later through
:class:`~bsmount.emulator.blobs.content.LocalFileContent` and
:class:`~bsmount.emulator.blobs.content.ConcatenatedContent` (a multipart file's parts are never
copied into one file).

Paths are ``<root>/<file id>/<name>`` with names ``body`` or ``part-<n>`` (a re-sent part gets a
fresh name, so a reader of the previous one is never disturbed). This module knows nothing of
the API, the account or HTTP.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SpoolWriter", "StoredBody", "UploadSpool"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredBody:
    """One body on disk: its path, size and binary MD5 digest."""

    path: Path
    size: int
    md5: bytes

    @property
    def md5_hex(self) -> str:
        return self.md5.hex()


class SpoolWriter:
    """Streams one body to a temporary file; :meth:`commit` renames it into place."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self._temp = final.with_name(final.name + ".incoming")
        self._file = self._temp.open("wb")
        self._md5 = hashlib.md5()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._md5.update(chunk)
        self.size += len(chunk)

    def commit(self) -> StoredBody:
        self._file.close()
        os.replace(self._temp, self.final)
        return StoredBody(self.final, self.size, self._md5.digest())

    def discard(self) -> None:
        self._file.close()
        with contextlib.suppress(OSError):
            self._temp.unlink()


class UploadSpool:
    """A directory holding every uploaded body of one emulator process."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._serial = itertools.count(1)

    def writer(self, file_id: str, name: str) -> SpoolWriter:
        """A writer for a new body of file ``file_id`` (``name``: ``body``, ``part-3``...)."""
        directory = self.root / file_id
        directory.mkdir(exist_ok=True)
        return SpoolWriter(directory / f"{name}.{next(self._serial)}")

    def remove(self, file_id: str) -> None:
        """Forget every body of a file (an aborted upload)."""
        shutil.rmtree(self.root / file_id, ignore_errors=True)

    def remove_body(self, body: StoredBody) -> None:
        with contextlib.suppress(OSError):
            body.path.unlink()

    def clear(self) -> None:
        """Forget every body (the account was reset)."""
        for child in list(self.root.iterdir()) if self.root.exists() else []:
            shutil.rmtree(child, ignore_errors=True)
        log.info("upload spool %s cleared", self.root)

    def usage(self) -> int:
        """Bytes on disk under the spool."""
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())
