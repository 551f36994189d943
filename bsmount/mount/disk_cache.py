"""Setting up the persistent block cache of a mount (``--disk-cache-size``) and its statistics.

Owns the mount-side wiring of :mod:`bsmount.io.disk_source`: where the blocks live
(``<cache-dir>/blocks``), the account they belong to (a hash of the API server and the user id,
never the token), the first eviction pass at start-up, and the ``disk_cache`` section of
``.bsmount/stats``.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from bsmount.config import MountSettings
from bsmount.config.settings import default_cache_dir
from bsmount.io.disk_source import DiskCachedSource
from bsmount.io.disk_store import DiskStore, account_key
from bsmount.io.fetcher import RangeSource
from bsmount.io.stream_readahead import StreamReadAheadConfig

__all__ = ["open_disk_cache", "with_disk_cache"]

log = logging.getLogger(__name__)


async def open_disk_cache(
    settings: MountSettings, user_id: str, source: RangeSource, nursery: trio.Nursery
) -> DiskCachedSource | None:
    """The disk cache in front of ``source``, or None when it is off (size 0) or its
    directory cannot be used (logged: the mount then reads as without it)."""
    if settings.disk_cache_bytes <= 0:
        return None
    root = (settings.cache_dir or default_cache_dir()) / "blocks"
    account = account_key(settings.credentials.api_server, user_id)
    store = DiskStore(root, account, StreamReadAheadConfig().block_size)
    cached = DiskCachedSource(source, store, nursery, settings.disk_cache_bytes)
    try:
        await cached.start()
    except OSError as exc:  # a read-only or foreign directory: mount without the cache
        log.warning("disk cache off: cannot use %s: %s", root, exc)
        return None
    log.info(
        "disk cache: %s, %d MiB of %d MiB in use",
        root,
        cached.bytes_on_disk >> 20,
        settings.disk_cache_bytes >> 20,
    )
    return cached


def with_disk_cache(stats: dict[str, Any], cached: DiskCachedSource | None) -> dict[str, Any]:
    """``stats`` with a ``disk_cache`` section; ``bytes_fetched`` then counts only the bytes
    that came from the server (the read engine's own counter also counts blocks read from
    disk, which are parts to it like any other)."""
    if cached is None:
        return stats
    disk = cached.statistics()
    return {
        **stats,
        "bytes_fetched": max(0, int(stats.get("bytes_fetched", 0)) - disk["bytes_read"]),
        "disk_cache": disk,
    }
