"""collect_pages with ``convert``: pages are converted as they arrive, concurrently fetched pages
keep server order, and converted items are deduplicated by their ``id``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import trio

from bsmount.api.paging import collect_pages


@dataclass
class Item:
    id: str


def server(total: int, page_cap: int, duplicate_at: int | None = None) -> Any:
    ids = [str(i) for i in range(total)]
    if duplicate_at is not None:
        ids.insert(duplicate_at, ids[duplicate_at - 1])  # an item shifted across a boundary
    requests: list[tuple[int, int]] = []

    async def fetch(params: Mapping[str, str]) -> Any:
        offset, limit = int(params["Offset"]), min(int(params["Limit"]), page_cap)
        requests.append((offset, limit))
        await trio.sleep(0.001 * (offset % 3))  # pages finish out of order
        chunk = ids[offset : offset + limit]
        return {"Response": {"Items": [{"Id": i} for i in chunk], "TotalCount": len(ids)}}

    return fetch, requests


async def test_pages_are_converted_in_order_and_deduplicated() -> None:
    fetch, requests = server(2500, 100, duplicate_at=1000)
    converted: list[int] = []

    async def convert(items: list[dict[str, Any]]) -> list[Any]:
        converted.append(len(items))
        await trio.lowlevel.checkpoint()
        return [Item(str(i["Id"])) for i in items]

    items, _ = await collect_pages(fetch, page_size=1000, concurrency=4, convert=convert)
    assert all(isinstance(i, Item) for i in items)
    assert [i.id for i in items] == [str(i) for i in range(2500)]
    assert sum(converted) == 2501 and len(converted) == len(requests)


async def test_without_convert_raw_items_come_back() -> None:
    fetch, _ = server(250, 100)
    items, _ = await collect_pages(fetch, page_size=100)
    assert items == [{"Id": str(i)} for i in range(250)]
