"""Logging what the server sent that the tree had to fix — once per directory, not per lookup.

The layout (:mod:`bsmount.tree.layout`) calls :func:`report` after building a listing with what it
had to change: names made safe or unique (``/``, NUL, control characters, ``.``/``..``, over 255
bytes, duplicates, collisions with the directory's own entries), entries without an id, file
sizes that were negative, absurd or not numbers. One WARNING line per directory for the life of
the mount (a few examples, counts), so a listing fetched again every TTL, or a directory looked up
10,000 times, does not flood the log; a later listing with other oddities is not reported again
either (the log says the directory is odd; ``.json`` shows the server's answer).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable, Sequence

from bsmount.api.models import MAX_SIZE, parse_size

__all__ = ["report", "size_is_odd"]

log = logging.getLogger(__name__)

_EXAMPLES = 3
# Directories reported so far; cleared when full (a mount with more odd directories than this
# logs some of them again, which is harmless).
_MAX_REMEMBERED = 100_000
_reported: set[Hashable] = set()
_lock = threading.Lock()  # file trees are built in a worker thread


def size_is_odd(raw: object) -> bool:
    """Whether a ``Size`` from the API had to be replaced: missing, not a number, or outside
    ``[0, MAX_SIZE]`` (see :func:`bsmount.api.models.parse_size`)."""
    if type(raw) is int and 0 <= raw <= MAX_SIZE:  # nearly every entry: no parsing
        return False
    parsed = parse_size(raw)
    if parsed is None:
        return True
    try:
        value = int(raw.strip()) if isinstance(raw, str) else int(raw)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return True
    return value != parsed


def report(
    where: Sequence[str],
    *,
    renamed: Sequence[tuple[str, str]] = (),
    without_id: int = 0,
    odd_sizes: Sequence[tuple[str, object]] = (),
) -> bool:
    """Log the oddities of one directory's listing, unless that directory was reported before.

    ``where`` is the directory's key; ``renamed`` holds (name from the API, name shown) pairs;
    ``odd_sizes`` (name shown, ``Size`` from the API) pairs. Returns whether a line was logged.
    """
    if not (renamed or without_id or odd_sizes):
        return False
    key = tuple(where)
    with _lock:
        if key in _reported:
            return False
        if len(_reported) >= _MAX_REMEMBERED:
            _reported.clear()
        _reported.add(key)
    parts = []
    if renamed:
        examples = ", ".join(f"{old!r} -> {new!r}" for old, new in renamed[:_EXAMPLES])
        parts.append(f"{len(renamed)} name(s) changed to be safe and unique ({examples})")
    if without_id:
        parts.append(f"{without_id} entr{'y' if without_id == 1 else 'ies'} without an id")
    if odd_sizes:
        examples = ", ".join(f"{name!r}: {raw!r}" for name, raw in odd_sizes[:_EXAMPLES])
        parts.append(f"{len(odd_sizes)} size(s) not in [0, 2**60] shown as clamped ({examples})")
    log.warning("odd entries from the server in %s: %s", "/".join(key) or "/", "; ".join(parts))
    return True
