"""The read engine: a shared block cache and per-handle stream read-ahead over a ranged byte source.

Knows nothing of HTTP or FUSE: ``bsmount.api.content.ContentReader`` is the source, the FUSE
adapter the caller. Modules: :mod:`~bsmount.io.reader` (the engine: handles, the read path, its
counters), :mod:`~bsmount.io.stream_readahead` (per-handle sequential detection, window sizing and
the engine's tunables), :mod:`~bsmount.io.window` (laying read-ahead windows out over the cache),
:mod:`~bsmount.io.fetcher` (ranged fetches in flight), :mod:`~bsmount.io.blocks` (cache index,
LRU, accounting), :mod:`~bsmount.io.verify` (whole-file MD5 check of a sequential read).
"""

from __future__ import annotations

from bsmount.io.reader import RangeSource, ReadEngine, ReadHandle
from bsmount.io.stream_readahead import StreamReadAheadConfig

__all__ = ["RangeSource", "ReadEngine", "ReadHandle", "StreamReadAheadConfig"]
