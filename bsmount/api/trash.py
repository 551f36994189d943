"""The trash as the API shows it: :class:`TrashItem` (``V1pre3TrashItemCompact``) and
:func:`list_trash` (``GET v2/trash``, every page).

A trash item names what it holds under one ``Deleted<Type>`` key (``DeletedProject``,
``DeletedSample``...) and says with ``Includes`` whether the entity went with its files
(``FILEDATA`` + ``METADATA``) or only its files (``FILEDATA``: ``preserve=Metadata``). The actions
on the trash (restore, empty) are in :mod:`bsmount.api.actions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self

from bsmount.api.models import Entity, _obj, _text, parse_date, parse_list, parse_size

__all__ = ["DELETED_KINDS", "TrashItem", "list_trash"]

#: ``Deleted<Type>`` key of a trash item -> the plural kind of what it holds.
DELETED_KINDS: dict[str, str] = {
    "DeletedProject": "projects",
    "DeletedRun": "runs",
    "DeletedSample": "samples",
    "DeletedAppResult": "appresults",
    "DeletedAppSession": "appsessions",
    "DeletedDataset": "datasets",
    "DeletedBioSample": "biosamples",
}


@dataclass(frozen=True, kw_only=True)
class TrashItem(Entity):
    """One item of the trash. ``date_created`` and ``date_modified`` are its ``DateDeleted``."""

    kind: ClassVar[str] = "trash"
    deleted_type: str = ""  # "DeletedSample"...
    deleted_kind: str = ""  # "samples"...
    deleted_id: str = ""
    includes: tuple[str, ...] = ()
    total_size: int | None = None
    trash_status: str = ""

    @classmethod
    def from_json(cls, obj: Any) -> Self:
        o = _obj(obj)
        common = cls._common(o)
        deleted = parse_date(o.get("DateDeleted"))
        common["date_created"] = common["date_modified"] = deleted
        key = next((k for k in DELETED_KINDS if isinstance(o.get(k), Mapping)), "")
        includes = o.get("Includes")
        return cls(
            **common,
            deleted_type=key,
            deleted_kind=DELETED_KINDS.get(key, ""),
            deleted_id=_text(_obj(o.get(key)), "Id") if key else "",
            includes=tuple(str(i) for i in includes) if isinstance(includes, list) else (),
            total_size=parse_size(o.get("TotalSize")),
            trash_status=_text(o, "TrashStatus"),
        )

    @property
    def file_data_only(self) -> bool:
        """Only the entity's files are in the trash (it was moved with ``preserve=Metadata``)."""
        return bool(self.includes) and "METADATA" not in self.includes

    def describe(self) -> str:
        """BaseMount's ``TrashItemType`` line: ``DeletedProject (FILEDATA+METADATA)``."""
        includes = "+".join(self.includes) or "FILEDATA+METADATA"
        return f"{self.deleted_type or 'Deleted'} ({includes})"


class _Lister(Protocol):
    async def list_items(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]: ...


async def list_trash(client: _Lister) -> list[TrashItem]:
    """Every item of the caller's trash, newest first (the API's default order)."""
    return parse_list(TrashItem, await client.list_items("v2/trash"))
