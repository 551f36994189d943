"""Files that grow while they are read (a running analysis's logs): the FUSE side.

A node with :attr:`~bsmount.tree.nodes.Node.live` reports its last known size with no kernel
attribute caching, looks its size up again (rate-limited by the node's
:class:`~bsmount.tree.nodes.LiveContent`) on every ``stat`` and ``open``, and when a read reaches
its known end, and moves its read handle to the newer version, so ``tail -f`` and a second
``cat`` see what was appended. Reads bypass the page cache (``direct_io``).
"""

from __future__ import annotations

import logging

from bsmount.fuse.handles import OpenFile
from bsmount.io.reader import ReadEngine

__all__ = ["follow_growth", "open_live"]

log = logging.getLogger(__name__)


async def open_live(engine: ReadEngine, opened: OpenFile) -> None:
    """Give ``opened`` (a live file) a read handle on its current version."""
    live = opened.node.live
    assert live is not None
    opened.handle = engine.open(await live.refresh())


async def follow_growth(engine: ReadEngine, opened: OpenFile, off: int, size: int) -> None:
    """Before a read of a live file: look again when it reaches the known end, and read the
    newest version known."""
    live = opened.node.live
    handle = opened.handle
    assert live is not None and handle is not None
    if off + size > handle.version.size:
        await live.refresh()
    current = live.version
    if current != handle.version:
        log.debug("%r grew: %d -> %d bytes", opened.node.key, handle.version.size, current.size)
        engine.release(handle)
        engine.invalidate(current.file_id)
        opened.handle = engine.open(current)
