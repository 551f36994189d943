"""Paging of the emulator's lists: ``Offset``/``Limit``/``SortBy``/``SortDir``.

Default Limit 10, capped at 1024 (1000 for file lists); ``Limit=0`` returns counts only; an
unknown SortBy is replaced by the list's default; ties are broken by Id, so the order is total.
:class:`Page` renders the v1pre3 envelope's paging fields and v2's ``Paging`` object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bsmount.emulator.http.request import Params

__all__ = ["DEFAULT_LIMIT", "FILES_CAP", "LIST_CAP", "Page", "id_key", "paginate"]

T = TypeVar("T")

DEFAULT_LIMIT = 10
LIST_CAP = 1024
FILES_CAP = 1000


@dataclass
class Page:
    """One page of a sorted list and the effective paging values to echo."""

    items: list[Any]
    total: int
    offset: int
    limit: int
    sort_by: str
    sort_dir: str

    def v1(self, render: Callable[[Any], Any]) -> dict[str, Any]:
        items = [render(item) for item in self.items]
        return {
            "Items": items,
            "DisplayedCount": len(items),
            "TotalCount": self.total,
            "Offset": self.offset,
            "Limit": self.limit,
            "SortDir": self.sort_dir,
            "SortBy": self.sort_by,
        }

    def v2_paging(self, *, total: bool = True) -> dict[str, Any]:
        paging: dict[str, Any] = {"DisplayedCount": len(self.items)}
        if total:
            paging["TotalCount"] = self.total
        paging.update(
            {
                "Offset": self.offset,
                "Limit": self.limit,
                "SortDir": self.sort_dir,
                "SortBy": self.sort_by,
            }
        )
        return paging


def id_key(entity: Any) -> tuple[int, str]:
    """Numeric ids sort as numbers (shorter first), dataset ids as strings (properties, which
    have no id, by name)."""
    value = str(getattr(entity, "id", None) or entity.name)
    return (len(value), value)


def paginate(
    params: Params,
    items: Sequence[T],
    sorts: Mapping[str, Callable[[Any], Any]],
    *,
    default_sort: str = "Id",
    default_dir: str = "Asc",
    cap: int = LIST_CAP,
) -> Page:
    """Sort ``items`` by the requested (or default) field and cut the requested page.

    ``sorts`` maps canonical SortBy names to key functions (``Id`` is implied); ties are broken
    by Id. Limit above ``cap`` is clamped to it.
    """
    keys: dict[str, Callable[[Any], Any]] = {"Id": id_key, **sorts}
    by_lower = {name.lower(): name for name in keys}
    requested = (params.get("sortby") or "").strip().lower()
    sort_by = by_lower.get(requested, default_sort)
    direction = (params.get("sortdir") or "").strip().lower()
    sort_dir = {"asc": "Asc", "desc": "Desc"}.get(direction, default_dir)
    offset = params.get_int("offset", 0)
    limit = min(params.get_int("limit", DEFAULT_LIMIT), cap)
    key = keys[sort_by]
    ordered = sorted(items, key=lambda e: (key(e), id_key(e)), reverse=sort_dir == "Desc")
    return Page(ordered[offset : offset + limit], len(ordered), offset, limit, sort_by, sort_dir)
