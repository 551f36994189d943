"""Kernel read-ahead of the mount: how much the kernel reads ahead of a sequential reader.

Best effort and logged; it does not change what a read returns, only what it costs
(docs/performance.md, "what limits bsmount", has the measurements). Not to be confused with the
engine's per-handle stream read-ahead (:mod:`bsmount.io`), the directory read-ahead
(:mod:`bsmount.fuse.dir_readahead`) or the listing prefetch (:mod:`bsmount.tree.listing_prefetch`).

* :class:`KernelReadAhead` raises the mount's ``/sys/class/bdi/<major>:<minor>/read_ahead_kb``
  (root only) once the FUSE INIT exchange is over, and puts the old value back after unmounting:
  the kernel keeps a bdi's setting for the next mount that gets the same device number, whoever
  makes it (another FUSE filesystem may not want it).
"""

from __future__ import annotations

import logging
import os

import trio

__all__ = ["READ_AHEAD_KB", "KernelReadAhead", "is_fuse_mount"]

log = logging.getLogger(__name__)

# The kernel sends buffered reads to FUSE as READ requests of at most the read-ahead size (and at
# most 1 MiB, libfuse's max_pages), 128 KiB by default; at 1 MiB every byte costs ~8x less of the
# per-request overhead (performance-anchors.md §2.1). 1 MiB is enough for 1 MiB READs; 2 and
# 4 MiB were measured slower (more READs handled out of order) and made index queries (samtools)
# fetch 1.5-2x more bytes through the kernel's larger read-ahead.
READ_AHEAD_KB = 1024


class KernelReadAhead:
    """Raise a FUSE mount's read-ahead after INIT; restore it after unmount (module doc)."""

    def __init__(self, mountpoint: str, kib: int = READ_AHEAD_KB) -> None:
        """``mountpoint``: the real path (resolved before mounting: resolving it afterwards from
        the daemon, before its loop serves, would wait on itself)."""
        self.mountpoint = mountpoint
        self.kib = kib
        self.path: str | None = None  # the knob, once set
        self.previous: str | None = None
        self._done = False  # unmounted: a late thread must not touch anything

    async def apply(self) -> bool:
        """Set the read-ahead; run as a task once ``pyfuse3.main`` serves.

        The kernel lowers the bdi's read-ahead to what the INIT reply negotiated (the old value)
        when it processes that reply, so the raise must come after it. A ``stat`` of the mount
        in a worker thread waits for exactly that (the kernel holds requests until INIT is done)
        and gives the device number, checked against /proc/self/mountinfo so that a stat that
        lands after the unmount (the directory underneath) is never taken for the mount."""
        try:
            path = await trio.to_thread.run_sync(self._apply, abandon_on_cancel=True)
        except OSError as exc:
            log.info("kernel read-ahead stays at the default: %s", exc)
            return False
        if path is None:
            return False
        log.info("kernel read-ahead raised to %d KiB (%s, was %s)", self.kib, path, self.previous)
        return True

    def restore(self) -> None:
        """Put the previous value back (after unmount; best effort)."""
        self._done = True
        if self.path is None or self.previous is None:
            return
        try:
            with open(self.path, "w", encoding="ascii") as knob:
                knob.write(self.previous)
        except OSError as exc:
            log.debug("read-ahead of %s not restored: %s", self.path, exc)
        self.path = None

    def _apply(self) -> str | None:
        """Worker thread: stat, check, read the old value, write the new one."""
        st = os.stat(self.mountpoint)
        dev = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
        if self._done or not is_fuse_mount(self.mountpoint, dev):
            return None
        path = f"/sys/class/bdi/{dev}/read_ahead_kb"
        with open(path, encoding="ascii") as knob:
            previous = knob.read().strip()
        with open(path, "w", encoding="ascii") as knob:
            knob.write(str(self.kib))
        self.path, self.previous = path, previous
        return path


def is_fuse_mount(mountpoint: str, dev: str, mountinfo: str = "/proc/self/mountinfo") -> bool:
    """Whether ``mountinfo`` lists a FUSE mount of device ``dev`` (``major:minor``) at
    ``mountpoint`` as the topmost mount there."""
    found = False
    with open(mountinfo, encoding="utf-8") as mounts:
        for line in mounts:
            fields = line.split()
            if len(fields) < 10 or _unescape(fields[4]) != mountpoint:
                continue
            sep = fields.index("-", 6)  # optional fields end with "-", then the fs type
            found = fields[2] == dev and fields[sep + 1].startswith("fuse")  # the last one wins
    return found


def _unescape(field: str) -> str:
    """Undo mountinfo's octal escapes (``\\040`` for a space, ...)."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        chunk = field[i + 1 : i + 4]
        if field[i] == "\\" and len(chunk) == 3 and all(c in "01234567" for c in chunk):
            out.append(chr(int(chunk, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)
