"""Telling the kernel to forget cached entries and inodes, without deadlocking it.

libfuse's notify calls must not run in the path of a request that holds the same inode's lock
(e.g. invalidating ``Projects/`` while serving ``mkdir Projects/x``). So every invalidation is
queued here and performed by one background task in a worker thread, after the request that
caused it has returned.
"""

from __future__ import annotations

import logging

import pyfuse3
import trio

__all__ = ["KernelInvalidator"]

log = logging.getLogger(__name__)


class KernelInvalidator:
    """Queue of (parent inode, name) entries and inodes for the kernel to forget."""

    def __init__(self) -> None:
        self._send, self._receive = trio.open_memory_channel[tuple[str, int, str]](10_000)

    def entry(self, parent_ino: int, name: str) -> None:
        self._queue(("entry", parent_ino, name))

    def inode(self, ino: int) -> None:
        self._queue(("inode", ino, ""))

    def _queue(self, item: tuple[str, int, str]) -> None:
        try:
            self._send.send_nowait(item)
        except trio.WouldBlock:
            log.warning("kernel invalidation queue full; dropping %r", item)

    async def run(self) -> None:
        async for what, ino, name in self._receive:
            try:
                if what == "entry":
                    await trio.to_thread.run_sync(
                        pyfuse3.invalidate_entry, ino, name.encode("utf-8", "surrogateescape")
                    )
                else:
                    await trio.to_thread.run_sync(pyfuse3.invalidate_inode, ino, False)
            except OSError as exc:  # ENOENT: the kernel did not know it; fine
                log.debug("invalidate %s %d %r: %s", what, ino, name, exc)
