"""Writing every file's bytes to disk at the path of its blob URL (``--materialize DIR``).

:func:`materialize` lets a plain web server (nginx in ``make bench``) serve the same bytes at the
same paths as the emulator's blob route: a file whose content URL is
``{base}/s3/<32 hex key>/<quoted name>?...`` is written to ``DIR/s3/<32 hex key>/<name>`` (the
URL path, percent-decoded as a web server maps it; the query string is ignored). Together with
``--blob-base-url`` the API then hands out content URLs pointing at that server.

Content is streamed in the content source's ~1 MiB chunks, so a 100 GB generated file costs no
memory. A file already present with the right size is left alone (re-runs are cheap); anything
else is written to a temporary name beside it and renamed into place, so a crash never leaves a
short file with a final name. The key in the path depends on the signing key: pass the same
``--signing-key`` every time to reuse a directory. Files added after start-up are not written.

This module only reads the model; it does not know about HTTP.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from bsmount.emulator.blobs.content import ContentSource
from bsmount.emulator.blobs.signing import blob_key
from bsmount.emulator.state.account import EmulatorState

__all__ = ["MaterializeStats", "blob_path", "materialize"]

log = logging.getLogger(__name__)


@dataclass
class MaterializeStats:
    """What one :func:`materialize` call did."""

    written: int = 0
    skipped: int = 0
    failed: int = 0
    bytes_written: int = 0


def blob_path(directory: Path, file_id: str, file_name: str, signing_key: bytes) -> Path:
    """Where the blob of ``file_id`` goes: ``directory/s3/<key>/<name>`` (the decoded URL path)."""
    return directory / "s3" / blob_key(file_id, signing_key) / file_name


def _write(target: Path, content: ContentSource) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name[:200]}.{os.getpid()}.partial")
    written = 0
    try:
        with temporary.open("wb") as out:
            for chunk in content.iter_range(0, content.size):
                out.write(chunk)
                written += len(chunk)
        if written != content.size:
            raise OSError(f"content yielded {written} bytes instead of {content.size}")
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return written


def materialize(state: EmulatorState, directory: Path, signing_key: bytes) -> MaterializeStats:
    """Write every file of the account under ``directory`` (see the module docstring).

    A file that cannot be written (a name the local filesystem refuses, say) is logged and
    counted in ``failed``; the others still are.
    """
    stats = MaterializeStats()
    directory.mkdir(parents=True, exist_ok=True)
    for item in state.model.files.values():
        content = item.content
        if content is None or not item.name:
            continue
        target = blob_path(directory, item.id, item.name, signing_key)
        try:
            if target.is_file() and target.stat().st_size == content.size:
                stats.skipped += 1
                continue
            stats.bytes_written += _write(target, content)
            stats.written += 1
        except OSError as exc:
            stats.failed += 1
            log.warning("cannot materialize file %s (%r): %s", item.id, item.name, exc)
    log.info(
        "materialized %d files (%d bytes) under %s; %d already there, %d failed",
        stats.written,
        stats.bytes_written,
        directory,
        stats.skipped,
        stats.failed,
    )
    return stats
