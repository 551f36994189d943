"""Stream read-ahead of one open file: is the handle read sequentially, and how far ahead?

This is the read engine's per-handle *stream read-ahead* (not the tree's listing prefetch, the FUSE
layer's directory read-ahead of small files, nor the kernel read-ahead the mount tunes). It owns
the *decision* only (pure state machine, no I/O, no trio) and its tunables:
:class:`StreamReadAheadConfig` holds the engine's geometry and detector settings, and
:class:`AccessPattern` is fed every read of one file handle and says whether the handle is
streaming and how large its read-ahead window should be. :mod:`bsmount.io.window` turns that into
cache pins and :mod:`bsmount.io.fetcher` into ranged fetches.

Model (mountpoint-s3 ``prefetch.rs`` + the kernel's own read-ahead ramp):

* A *run* is a stretch of reads that each start near the furthest byte read so far (the high-water
  mark ``hw``): no more than ``seek_back`` behind it (the kernel's asynchronous read-ahead delivers
  128 KiB READs out of order, at most ~256 KiB back and ~512 KiB forward) and no more than a forward
  tolerance ahead (``seek_forward``, but never beyond what the window already covers).
* A run that starts at the head of the file (offset ≤ ``head``, 1 MiB: the kernel's first READs
  may arrive out of order) is sequential at once (``cat``, ``cp``, ``md5sum``, every small-file
  copy); a run that starts elsewhere turns sequential only after ``promote_after``
  contiguous bytes, so an index reader (samtools + BAI: a jump, one or two 64 KiB BGZF blocks, a
  jump) never triggers read-ahead.
* The window is ``2 × (bytes read in the run)``, clamped to ``[initial_window, max_window]``, like
  the kernel's read-ahead ramp: a reader that stops early has made us fetch at most ~2× what it
  read plus ``initial_window``; a long stream reaches the cap after ``max_window / 2`` bytes.
* Any other jump ends the run: the window is dropped (``reset``) and the next run starts random.
"""

from __future__ import annotations

from dataclasses import dataclass

from bsmount.config.settings import KiB, MiB

__all__ = ["AccessPattern", "KiB", "MiB", "Observation", "StreamReadAheadConfig"]


@dataclass(frozen=True, slots=True)
class StreamReadAheadConfig:
    """Geometry and stream read-ahead tunables of the read engine; the defaults carry their
    reasons (the mount's memory bounds are :class:`bsmount.config.Defaults`)."""

    # Unit of addressing, caching and random reads. 64 KiB = the largest BGZF block (BAM, VCF.gz,
    # FASTQ.gz from bgzip), so one compressed block costs at most two units (≤ 128 KiB) and a 4 KiB
    # random read fetches 64 KiB; on loopback a 64 KiB ranged GET costs about what a 4 KiB one does
    # (~0.7 ms in httpx), over a WAN both are one round trip. Sequential efficiency does not depend
    # on it: streams fetch whole multi-block parts in one request and one buffer.
    block_size: int = 64 * KiB
    # Largest single ranged GET. 8 MiB is mountpoint-s3's measured sweet spot; httpx reaches
    # ~1.6 GB/s on loopback with 8 MiB GETs once httpcore reads 1 MiB at a time, and the ~0.7 ms
    # fixed cost per request is < 5% of an 8 MiB transfer.
    part_size: int = 8 * MiB
    # First read-ahead window of a sequential run (mountpoint-s3 uses 1 MiB + 128 KiB, measured from
    # the start of the first read; ours is measured from its end, so it is the same).
    initial_window: int = 1 * MiB
    # Per-handle cap: with 8 MiB parts this keeps up to 8 GETs in flight per stream, which is what a
    # WAN link at ~85 MB/s per connection needs for ~1 GB/s (performance-anchors §2.4).
    max_window: int = 64 * MiB
    # Out-of-order tolerance (mountpoint-s3's max_backward_seek_distance / forward wait distance).
    # The mount raises it to twice the kernel read-ahead it sets (READs of a read-ahead window
    # are handled concurrently: up to 6 MiB out of order were seen with a 4 MiB window).
    seek_back: int = 1 * MiB
    seek_forward: int = 16 * MiB
    # A run starting this close to the head of the file is sequential at once (cat, cp, md5sum);
    # not tied to seek_back, so that a larger tolerance does not make random reads that happen
    # to land near the head start a read-ahead.
    head: int = 1 * MiB
    # A run that did not start at offset 0 becomes sequential after this many contiguous bytes
    # (four kernel READs of 128 KiB): short index-driven runs never prefetch.
    promote_after: int = 512 * KiB

    def __post_init__(self) -> None:
        if self.block_size <= 0:
            raise ValueError("block_size must be positive")
        if self.part_size < self.block_size or self.part_size % self.block_size:
            raise ValueError("part_size must be a positive multiple of block_size")
        if not 0 < self.initial_window <= self.max_window:
            raise ValueError("need 0 < initial_window <= max_window")
        if min(self.seek_back, self.seek_forward, self.promote_after, self.head) < 0:
            raise ValueError("seek distances, head and promote_after must be >= 0")


@dataclass(frozen=True, slots=True)
class Observation:
    """What one read tells the engine: stream or not, and whether to drop the old window."""

    sequential: bool
    reset: bool


class AccessPattern:
    """Sequential-read detector and window sizer for one open file handle."""

    __slots__ = ("_cfg", "hw", "run_start", "sequential", "size")

    def __init__(self, config: StreamReadAheadConfig, size: int) -> None:
        self._cfg = config
        self.size = size
        self.hw = -1  # high-water mark of the current run; -1 before the first read
        self.run_start = 0
        self.sequential = False

    def window(self) -> int:
        """Read-ahead wanted beyond the high-water mark (0 while not sequential)."""
        if not self.sequential:
            return 0
        cfg = self._cfg
        return min(cfg.max_window, max(cfg.initial_window, 2 * (self.hw - self.run_start)))

    def target_end(self) -> int:
        """The byte offset the window should reach (clamped to the file size)."""
        return min(self.size, self.hw + self.window())

    def observe(self, offset: int, end: int) -> Observation:
        """Account for a read of ``[offset, end)`` and classify it."""
        cfg = self._cfg
        if self.hw < 0:
            self._start_run(offset, end)
            return Observation(self.sequential, reset=False)
        if self.sequential:
            ahead = min(cfg.seek_forward, max(self.window(), cfg.block_size))
        else:
            ahead = cfg.block_size
        if self.hw - cfg.seek_back <= offset <= self.hw + ahead:
            if end > self.hw:
                self.hw = end
            if not self.sequential and self.hw - self.run_start >= cfg.promote_after:
                self.sequential = True
            return Observation(self.sequential, reset=False)
        had_window = self.sequential
        self._start_run(offset, end)
        return Observation(self.sequential, reset=had_window)

    def restart(self) -> None:
        """Forget the run (after an error): the next read starts a new one."""
        self.hw = -1
        self.sequential = False

    def _start_run(self, offset: int, end: int) -> None:
        self.run_start = offset
        self.hw = end
        self.sequential = offset <= self._cfg.head
