"""Whole-file MD5 verification of a sequential read (product-spec §6: "a full read is checked").

Owns one :class:`Md5Verifier` per handle that reads a file from offset 0 in order, when the
file's ETag is a plain MD5 and the engine was built with ``verify_md5=True``. The reader offers it
the handle's window parts in file order; the verifier pins each one, hashes it when it arrives
(in a worker thread for large parts: hashlib releases the GIL, so the trio loop keeps serving) and
unpins it. The read that returns the file's last byte waits for the digest and raises
:class:`~bsmount.errors.IntegrityError` on a mismatch, so a corrupted download ends in EIO, never in
silent success.

:class:`VerifiedVersions` remembers the versions whose whole content matched (a re-read is not
hashed again), settles a verifier's verdict at EOF and counts the verdicts
(:class:`VerifyCounters`).

Verification is abandoned, never failed, when the run cannot cover the whole file in order (a
seek, a gap, a fetch error the reader already reported, a release).

Cost: MD5 runs at ~650 MB/s per core on the project's VMs, so a verified stream cannot go faster
than that; the reader throttles a stream whose verification lags by more than ``max_lag`` bytes.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import OrderedDict, deque
from dataclasses import dataclass

import trio

from bsmount._types import FileVersion
from bsmount.errors import IntegrityError
from bsmount.io.blocks import BlockCache, Part

__all__ = ["Md5Verifier", "VerifiedVersions", "VerifyCounters"]

log = logging.getLogger(__name__)

# Parts at least this big are hashed in a worker thread (8 MiB takes ~13 ms); smaller ones inline.
_THREAD_MIN = 1024 * 1024


class Md5Verifier:
    """Hashes one version's parts in order; ``state`` ends as ok / failed / abandoned."""

    def __init__(self, cache: BlockCache, version: FileVersion, expected: str) -> None:
        self._cache = cache
        self.version = version
        self.expected = expected
        self.state = "running"
        self.counted = False  # the engine has counted the outcome in its stats
        self.reason = ""
        self.hashed = 0  # bytes [0, hashed) are in the digest
        self.queued_end = 0  # parts cover [hashed, queued_end) contiguously
        self.finished = trio.Event()
        self.scope = trio.CancelScope()
        self._progress = trio.Event()
        self._send, self._recv = trio.open_memory_channel[Part](math.inf)
        self._queued: deque[Part] = deque()
        self._md5 = hashlib.md5(usedforsecurity=False)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def offer(self, part: Part) -> None:
        """The next part of the handle's window, in file order."""
        if not self.running or part.end <= self.queued_end:
            return
        if part.start > self.queued_end:
            self.abandon("gap in the sequential run")
            return
        self._cache.pin(part)
        self._queued.append(part)
        self.queued_end = part.end
        self._send.send_nowait(part)

    def covers_to_eof(self) -> bool:
        return self.queued_end >= self.version.size

    def check(self) -> None:
        """Raise :class:`IntegrityError` if the content did not match its MD5."""
        if self.state == "failed":
            raise IntegrityError(f"file {self.version.file_id}: {self.reason}")

    def abandon(self, reason: str) -> None:
        if not self.running:
            return
        self.state = "abandoned"
        self.reason = reason
        log.debug("md5 check of %s abandoned: %s", self.version.file_id, reason)
        self._close()

    async def wait_progress(self) -> None:
        """Return once more bytes were hashed or the verifier stopped."""
        if self.running:
            await self._progress.wait()

    async def run(self) -> None:
        """The verifier task (one per verified handle, in the engine's nursery)."""
        try:
            with self.scope:
                async for part in self._recv:
                    await part.done.wait()
                    if not self.running:
                        break
                    if part.error is not None:
                        self.abandon("a fetch failed")
                        break
                    chunk = part.view[max(0, self.hashed - part.start) :]
                    if len(chunk) >= _THREAD_MIN:
                        await trio.to_thread.run_sync(self._md5.update, chunk)
                        if not self.running:  # abandoned while the thread ran
                            break
                    else:
                        self._md5.update(chunk)
                    self.hashed = part.end
                    self._queued.popleft()
                    self._cache.unpin(part)
                    self._wake()
                    if self.hashed >= self.version.size:
                        self._finish()
                        break
        finally:
            self.abandon("stopped")

    def _finish(self) -> None:
        digest = self._md5.hexdigest()
        if digest == self.expected:
            self.state = "ok"
            log.debug("md5 of %s verified", self.version.file_id)
        else:
            self.state = "failed"
            self.reason = f"MD5 {digest} != ETag {self.expected}"
            log.warning(
                "file %s: full read does not match its ETag (%s)", self.version.file_id, self.reason
            )
        self._close()

    def _close(self) -> None:
        self._send.close()
        self.scope.cancel()
        for part in self._queued:
            self._cache.unpin(part)
        self._queued.clear()
        self._wake()
        self.finished.set()

    def _wake(self) -> None:
        self._progress.set()
        self._progress = trio.Event()


@dataclass(slots=True)
class VerifyCounters:
    """Verdicts of the verifiers that reached EOF (each counted once)."""

    md5_ok: int = 0
    md5_failed: int = 0
    md5_abandoned: int = 0


class VerifiedVersions:
    """The last ``memory`` versions whose whole content matched their MD5 (a re-read of one is
    not hashed again), and the verdict of a verifier at EOF."""

    def __init__(self, memory: int = 4096) -> None:
        self.memory = memory
        self.counters = VerifyCounters()
        self._versions: OrderedDict[FileVersion, None] = OrderedDict()

    def __contains__(self, version: FileVersion) -> bool:
        return version in self._versions

    def add(self, version: FileVersion) -> None:
        self._versions[version] = None
        if len(self._versions) > self.memory:
            self._versions.popitem(last=False)

    def forget_file(self, file_id: str) -> None:
        for version in [v for v in self._versions if v.file_id == file_id]:
            del self._versions[version]

    async def verdict(self, verifier: Md5Verifier) -> bool:
        """At EOF: wait for the digest; count it and remember a match, once per verifier.

        True the first time a mismatch is seen: the caller then forgets the file's cached bytes
        (a mismatch raises :class:`IntegrityError` in the caller every time, see
        :meth:`Md5Verifier.check`)."""
        if verifier.running and not verifier.covers_to_eof():
            verifier.abandon("the run does not cover the whole file")
        await verifier.finished.wait()
        if verifier.counted:
            return False
        verifier.counted = True
        state = verifier.state
        if state == "ok":
            self.counters.md5_ok += 1
            self.add(verifier.version)
        elif state == "failed":
            self.counters.md5_failed += 1
            return True
        else:
            self.counters.md5_abandoned += 1
        return False
