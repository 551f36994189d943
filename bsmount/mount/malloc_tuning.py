"""glibc malloc thresholds for a mount process: freed multi-MiB part buffers stay in the heap.

Best effort and logged; it does not change what a read returns, only what it costs
(docs/performance.md, "what limits bsmount", has the measurements).
"""

from __future__ import annotations

import logging

__all__ = ["tune_malloc"]

log = logging.getLogger(__name__)

_MiB = 1 << 20


def tune_malloc() -> bool:
    """Keep freed part buffers (up to 8 MiB) in the heap for reuse instead of unmapping them.

    By default glibc serves them by mmap/munmap (and later from a heap it trims back): every
    part then costs 2,048 fresh-page faults, ~0.5 CPU-s per GiB streamed, measured. A fixed
    32 MiB mmap threshold and a 128 MiB trim threshold make freed buffers reusable; the heap
    grows only as far as the live buffers did, which the engine's byte budgets bound."""
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = bool(mallopt(m_mmap_threshold, 32 * _MiB) and mallopt(m_trim_threshold, 128 * _MiB))
    log.debug("malloc thresholds %s", "set" if ok else "refused")
    return ok
