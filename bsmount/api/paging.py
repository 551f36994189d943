"""Complete pagination of BaseSpace collections (v1pre3 envelope or bare v2 ``Items``/``Paging``).

The first page (``Offset=0``, ``Limit=page_size``) gives ``TotalCount`` and the server's real page
size (it may return fewer items than asked, e.g. a 1000 cap when 1024 was asked). The remaining
pages are then fetched concurrently by a few workers (bounded), each filling the gaps a short page
leaves. A page that comes back empty before ``TotalCount`` marks the real end (items removed
mid-scan). Without a ``TotalCount`` the pages are walked one by one until an empty one. Items are
deduplicated by ``Id`` (the first occurrence wins), since a collection that changes while it is
paged can shift an item across a page boundary.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import trio

from bsmount.errors import TransportError

__all__ = [
    "MAX_ITEMS",
    "Page",
    "collect_pages",
    "first_error",
    "page_keys",
    "page_size_for",
    "read_page",
]

log = logging.getLogger(__name__)

#: Upper bound on the items of one listing, whatever TotalCount a server claims.
MAX_ITEMS = 10_000_000

Fetch = Callable[[Mapping[str, str]], Awaitable[Any]]
Convert = Callable[[list[dict[str, Any]]], Awaitable[list[Any]]]


@dataclass
class Page:
    """One decoded page: its mapping items, the raw item count, TotalCount and extra entries."""

    items: list[Any]  # mappings (or what ``convert`` made of them)
    count: int  # raw number of entries, for offset arithmetic (non-mappings included)
    total: int | None
    extras: list[Any]


def read_page(body: Any, extra_key: str | None = None) -> Page:
    """Decode a collection body in either API generation; malformed shapes raise TransportError."""
    container = body.get("Response") if isinstance(body, dict) else None
    if not isinstance(container, dict):
        container = body
    if not isinstance(container, dict) or not isinstance(container.get("Items"), list):
        raise TransportError("a collection response has no Items list")
    raw_items: list[Any] = container["Items"]
    paging = container.get("Paging")
    counts = paging if isinstance(paging, dict) else container
    total = counts.get("TotalCount")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        total = None
    extras = container.get(extra_key) if extra_key else None
    items = [item for item in raw_items if isinstance(item, dict)]
    if len(items) != len(raw_items):
        log.warning("dropped %d malformed entries of a list", len(raw_items) - len(items))
    return Page(
        items=items,
        count=len(raw_items),
        total=min(total, MAX_ITEMS) if total is not None else None,
        extras=extras if isinstance(extras, list) else [],
    )


def page_keys(path: str) -> tuple[str, str]:
    """Paging parameter names: v1pre3 spells ``Offset``/``Limit``, v2 ``offset``/``limit``."""
    return ("offset", "limit") if "v2/" in path.split("?", 1)[0] else ("Offset", "Limit")


def page_size_for(path: str) -> int:
    """The largest page the API grants: 1000 for file lists, 1024 otherwise."""
    return 1000 if path.split("?", 1)[0].rstrip("/").endswith("files") else 1024


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first real error in a (nested) exception group, so callers see a plain exception."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return first_error(exc)
        if not isinstance(exc, trio.Cancelled):
            return exc
    return group.exceptions[0]


def _identity(item: Any) -> object:
    """An item's ``Id``: of a raw mapping, or of an object a page was converted into."""
    if isinstance(item, Mapping):
        return item.get("Id")
    return getattr(item, "id", None)


def _dedupe(items: list[Any]) -> list[Any]:
    seen: set[str] = set()
    out: list[Any] = []
    for item in items:
        ident = _identity(item)
        if isinstance(ident, str | int) and not isinstance(ident, bool):
            key = str(ident)
            if key in seen:
                continue
            seen.add(key)
        out.append(item)
    return out


async def collect_pages(
    fetch: Fetch,
    *,
    page_size: int,
    offset_key: str = "Offset",
    limit_key: str = "Limit",
    concurrency: int = 4,
    extra_key: str | None = None,
    convert: Convert | None = None,
) -> tuple[list[Any], list[Any]]:
    """Every item of a collection (and every ``extra_key`` entry), in server order.

    ``fetch(params)`` performs one request with the paging parameters added and returns its
    parsed JSON body. ``convert``, if given, turns each page's items into objects as the page
    arrives (while later pages are still on their way; the raw dicts are then dropped page by
    page); items are deduplicated by their ``Id`` (raw) or ``id`` (converted).
    """

    async def get(offset: int, limit: int) -> Page:
        page = read_page(await fetch({offset_key: str(offset), limit_key: str(limit)}), extra_key)
        extras.extend(page.extras)
        if convert is not None:
            page.items = await convert(page.items)
        return page

    extras: list[Any] = []
    first = await get(0, page_size)
    pages: dict[int, list[Any]] = {0: first.items}
    step = first.count
    if first.total is None:
        pos = step
        while step and pos < MAX_ITEMS:
            page = await get(pos, page_size)
            if page.count == 0:
                break
            pages[pos] = page.items
            pos += page.count
    elif step == 0:
        if first.total > 0:
            raise TransportError(f"the server claims {first.total} items but returned none")
    else:
        end = first.total
        next_offset = step

        async def worker() -> None:
            nonlocal next_offset, end
            while next_offset < end:
                start = next_offset
                stop = start + step
                next_offset = stop
                pos = start
                while pos < min(stop, end):
                    page = await get(pos, min(step, stop - pos))
                    if page.count == 0:
                        end = min(end, pos)  # the collection shrank: nothing lies beyond
                        break
                    pages[pos] = page.items
                    pos += page.count

        try:
            async with trio.open_nursery() as nursery:
                for _ in range(max(1, concurrency)):
                    nursery.start_soon(worker)
        except BaseExceptionGroup as group:
            raise first_error(group) from None
    if sum(len(page) for page in pages.values()) < _THREAD_MIN_ITEMS:
        return _assemble(pages), extras
    # 100,000 items take ~50 ms to put in order and deduplicate: not on the event loop
    return await trio.to_thread.run_sync(_assemble, pages), extras


_THREAD_MIN_ITEMS = 10_000


def _assemble(pages: dict[int, list[Any]]) -> list[Any]:
    """The pages' items in server order, deduplicated."""
    return _dedupe([item for offset in sorted(pages) for item in pages[offset]])
