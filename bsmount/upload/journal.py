"""The upload journal: which multipart uploads the server holds open for this mount.

One small JSON file per started multipart upload (``<cache dir>/journal/<n>.json``, 0600:
``{"file_id", "appresult_id", "path"}``; no token, no URL), written when the server gives the
file an id and removed once it is complete or aborted. A mount that died (kill -9, power loss)
leaves its records behind; the next mount aborts those files on the server
(:meth:`Journal.recover`) so no pending upload outlives its writer, and drops the spool files,
whose writers are gone. Nothing is resumed: a file is published only by the ``close`` of the
writer that wrote it all.

Each mount point has its own directory under the cache directory (:func:`claim_upload_dir`),
locked for the mount's lifetime, so two mounts sharing a cache directory (the default one is
shared by every mount of a user) never take each other's records for a dead mount's.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio

from bsmount.errors import ConfigError

__all__ = ["Journal", "claim_upload_dir"]

log = logging.getLogger(__name__)


def claim_upload_dir(cache_dir: Path, mountpoint: str) -> tuple[Path, int]:
    """The upload directory of ``mountpoint`` in ``cache_dir`` (0700), locked by this process
    (the lock's file descriptor is returned; it is held until the process ends). Blocking."""
    digest = hashlib.sha256(os.path.realpath(mountpoint).encode()).hexdigest()[:16]
    path = cache_dir / "uploads" / digest
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    for directory in (cache_dir, cache_dir / "uploads", path):
        os.chmod(directory, 0o700)
    fd = os.open(path / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ConfigError(
            f"the upload directory {path} is in use by another running mount of {mountpoint}"
        ) from None
    (path / "mountpoint").write_text(os.path.realpath(mountpoint) + "\n", encoding="utf-8")
    return path, fd


class Journal:
    """Records of started uploads, in a private directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._names = itertools.count(1)

    def prepare(self) -> list[dict[str, str]]:
        """Create the directory (0700); the records a previous mount left (blocking)."""
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path, 0o700)
        left: list[dict[str, str]] = []
        for record in sorted(self.path.glob("*.json")):
            try:
                entry = json.loads(record.read_text(encoding="utf-8"))
                if isinstance(entry, dict) and entry.get("file_id"):
                    left.append({k: str(v) for k, v in entry.items()})
            except (OSError, ValueError) as exc:
                log.info("unreadable upload journal record %s dropped: %s", record, exc)
            record.unlink(missing_ok=True)
        return left

    async def record(self, file_id: str, appresult_id: str, path: str) -> Path:
        record = self.path / f"{os.getpid()}-{next(self._names)}.json"
        text = json.dumps({"file_id": file_id, "appresult_id": appresult_id, "path": path})
        await trio.to_thread.run_sync(_write_private, record, text)
        return record

    @staticmethod
    def forget(record: Path | None) -> None:
        if record is not None:
            record.unlink(missing_ok=True)

    async def recover(
        self, left: list[dict[str, str]], abort: Callable[[str], Awaitable[None]]
    ) -> int:
        """Abort on the server the uploads a dead mount left open; how many were."""
        aborted = 0
        for entry in left:
            try:
                await abort(entry["file_id"])
                aborted += 1
                log.info(
                    "aborted the upload of %s (file %s, appresult %s) that a previous mount "
                    "left unfinished",
                    entry.get("path"),
                    entry["file_id"],
                    entry.get("appresult_id"),
                )
            except Exception as exc:  # the server may have expired it already
                log.info("could not abort upload %s: %s", entry["file_id"], exc)
        return aborted


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
