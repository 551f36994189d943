"""The read engine: a shared block cache and per-handle prefetchers over a ranged byte source.

Knows nothing of HTTP or FUSE: ``bsmount.api.content.ContentReader`` is the source, ``bsmount.fs``
the caller. Modules: :mod:`~bsmount.io.prefetch` (access-pattern detection and tunables),
:mod:`~bsmount.io.blocks` (cache index, LRU, accounting), :mod:`~bsmount.io.reader` (the engine),
:mod:`~bsmount.io.verify` (whole-file MD5 check of a sequential read).
"""

from __future__ import annotations

from bsmount.io.prefetch import PrefetchConfig
from bsmount.io.reader import RangeSource, ReadEngine, ReadHandle

__all__ = ["PrefetchConfig", "RangeSource", "ReadEngine", "ReadHandle"]
