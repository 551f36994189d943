"""Ranged fetches of the read engine: starting them, running them, cancelling the orphaned ones.

Owns the parts in flight and the fetch counters (:class:`FetchCounters`), and defines where bytes
come from (:class:`RangeSource`, implemented by the API client's ``ContentReader``). A fetch is a
:class:`~bsmount.io.blocks.Part` registered in the shared :class:`~bsmount.io.blocks.BlockCache`
(so concurrent readers of its blocks find it and wait on it: single flight) and a task in the
engine's nursery that asks the source for its bytes. A failed or cancelled fetch leaves the index
at once (the next read fetches again); a source answer of the wrong length is an
:class:`~bsmount.errors.IntegrityError`. The engine asks for demand fetches
(:meth:`Fetcher.parts_for`), the windows for read-ahead ones (:meth:`Fetcher.start`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import trio

from bsmount._types import FileVersion
from bsmount.errors import IntegrityError, TransportError
from bsmount.io.blocks import BlockCache, Part
from bsmount.io.verify import VerifiedVersions

__all__ = ["FetchCounters", "Fetcher", "RangeSource", "chunks"]

log = logging.getLogger(__name__)


class RangeSource(Protocol):
    """Where bytes come from (``bsmount.api.content.ContentReader`` implements this)."""

    #: Whole-file reads of files up to this size are checked by the source itself against a
    #: plain-MD5 ETag (0: never); the engine does not hash those again.
    whole_read_md5_limit: int

    async def read_range(self, version: FileVersion, start: int, end: int) -> bytes | bytearray:
        """Exactly ``end - start`` bytes of ``version`` from ``start`` (end exclusive).

        A ``bytearray`` is kept as it is (no copy): the source must not touch it afterwards."""
        ...


@dataclass(slots=True)
class FetchCounters:
    requests: int = 0  # source calls made
    bytes_fetched: int = 0  # bytes the source answered (cancelled fetches give none)
    fetch_errors: int = 0
    demand_parts: int = 0  # parts fetched because a read needed them now
    prefetch_parts: int = 0  # parts fetched ahead of a stream, or of an open (directory read-ahead)


def chunks(first: int, last: int, max_blocks: int) -> list[tuple[int, int]]:
    """Split blocks ``[first, last)`` into near-equal runs of at most ``max_blocks``."""
    count = -(-(last - first) // max_blocks)
    step = -(-(last - first) // count)
    return [(b, min(b + step, last)) for b in range(first, last, step)]


class Fetcher:
    """Starts and runs the ranged fetches of one engine (tasks in its nursery)."""

    def __init__(
        self,
        source: RangeSource,
        nursery: trio.Nursery,
        cache: BlockCache,
        part_blocks: int,
        verified: VerifiedVersions,
    ) -> None:
        """``part_blocks``: the largest demand fetch, in blocks; ``verified``: where a version
        the source itself checked against its MD5 (a whole-file read) is remembered."""
        self.counters = FetchCounters()
        self.inflight: set[Part] = set()
        self.closed = False
        self._source = source
        self._nursery = nursery
        self._cache = cache
        self._bs = cache.block_size
        self._part_blocks = part_blocks
        self._verified = verified

    def parts_for(self, version: FileVersion, b0: int, b1: int) -> list[Part]:
        """The parts holding blocks ``[b0, b1)`` (a read's demand), fetching the blocks nobody
        holds, in parts of at most ``part_blocks``."""
        parts: list[Part] = []
        cache = self._cache
        idx = cache.blocks(version)
        b = b0
        while b < b1:
            part = idx.get(b) if idx is not None else None
            if part is not None:
                parts.append(part)
                b = part.last
                continue
            gap_end = b + 1
            while gap_end < b1 and (idx is None or gap_end not in idx):
                gap_end += 1
            for first, last in chunks(b, gap_end, self._part_blocks):
                parts.append(self.start(version, first, last, False))
            idx = cache.blocks(version)
            b = gap_end
        return parts

    def start(self, version: FileVersion, first: int, last: int, prefetch: bool) -> Part:
        """Register a pending part for blocks ``[first, last)`` and start fetching it."""
        part = Part(version, first, last, self._bs, prefetch=prefetch)
        self._cache.add(part)
        self.inflight.add(part)
        if prefetch:
            self.counters.prefetch_parts += 1
        else:
            self.counters.demand_parts += 1
        self._nursery.start_soon(self._run, part)
        return part

    def cancel_if_orphaned(self, part: Part) -> None:
        """Cancel a pending fetch that no window, verifier or read wants any more."""
        if not part.done.is_set() and part.pins == 0 and part.interest == 0:
            self._cache.drop(part)
            part.scope.cancel()

    def close(self) -> None:
        """Cancel every fetch (waiters get TransportError)."""
        self.closed = True
        for part in list(self.inflight):
            part.scope.cancel()

    async def _run(self, part: Part) -> None:
        counters = self.counters
        counters.requests += 1
        try:
            with part.scope:
                data = await self._source.read_range(part.version, part.start, part.end)
                if len(data) != part.size:
                    raise IntegrityError(
                        f"file {part.version.file_id}: asked bytes {part.start}-{part.end - 1},"
                        f" got {len(data)} bytes instead of {part.size}"
                    )
            if part.scope.cancelled_caught:
                why = "read engine closed" if self.closed else "prefetch cancelled"
                self._cache.fail(part, TransportError(why))
            else:
                counters.bytes_fetched += len(data)
                version = part.version
                if (
                    part.start == 0
                    and part.end == version.size <= self._source.whole_read_md5_limit
                    and version.md5 is not None
                ):
                    self._verified.add(version)  # the source checked the whole file
                self._cache.complete(part, data)
        except Exception as exc:
            counters.fetch_errors += 1
            log.debug(
                "fetch of %s [%d, %d) failed: %s: %s",
                part.version.file_id,
                part.start,
                part.end,
                type(exc).__name__,
                exc,
            )
            self._cache.fail(part, exc)
        except BaseException:
            self._cache.fail(part, TransportError("read engine shut down"))
            raise
        finally:
            self.inflight.discard(part)
