"""How BaseSpace names become file names: sanitising and duplicate disambiguation.

Rules (documented for users in docs/semantics.md):

* the entity's Name is used verbatim where the filesystem allows it;
* ``/`` becomes ``／`` (U+FF0F FULLWIDTH SOLIDUS); NUL is dropped; other control characters
  (newline, tab, ...) become ``�`` (U+FFFD) so that no name breaks a line-oriented script;
* the names ``.`` and ``..`` become ``．`` and ``．．`` (U+FF0E); an empty name becomes the id;
* names longer than 255 bytes (UTF-8) are shortened on a character boundary and end in
  ``…~<id>`` so they stay unique and recognisable;
* duplicates in one directory, and names that collide with the directory's own reserved entries
  (``.id``, ``.json``, ...), get `` (2)``, `` (3)``, ... in a stable order: oldest first
  (DateCreated), then by id. The first of a group keeps the bare name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

__all__ = ["NAME_MAX", "Named", "assign_names", "sanitize_component", "shorten"]

NAME_MAX = 255  # bytes, Linux NAME_MAX

T = TypeVar("T")

_CONTROL = {c: "\ufffd" for c in range(1, 32)}
_CONTROL[0x7F] = "\ufffd"
_CONTROL[0] = None  # type: ignore[assignment]  # dropped
_CONTROL[ord("/")] = "\uff0f"
_TRANSLATION = str.maketrans(_CONTROL)


def sanitize_component(name: str, fallback: str) -> str:
    """Make one path component out of an arbitrary API name (without shortening)."""
    clean = name.translate(_TRANSLATION)
    if clean == ".":
        return "\uff0e"
    if clean == "..":
        return "\uff0e\uff0e"
    if not clean:
        return fallback
    return clean


def shorten(name: str, entity_id: str, limit: int = NAME_MAX) -> str:
    """Cut ``name`` to ``limit`` UTF-8 bytes, keeping ``…~<id>`` at the end when it was cut."""
    if len(name.encode("utf-8")) <= limit:
        return name
    tail = f"…~{entity_id}"
    budget = limit - len(tail.encode("utf-8"))
    if budget <= 0:  # absurd ids: keep what fits of the id itself
        return entity_id.encode("utf-8")[:limit].decode("utf-8", "ignore") or "x"
    head = name.encode("utf-8")[:budget].decode("utf-8", "ignore")
    return head + tail


@dataclass(frozen=True, slots=True)
class Named(Generic[T]):
    """An item with the unique file name it got in its directory."""

    name: str
    item: T


def _suffixed(base: str, number: int, entity_id: str) -> str:
    suffix = f" ({number})"
    if len((base + suffix).encode("utf-8")) <= NAME_MAX:
        return base + suffix
    return shorten(base, entity_id, NAME_MAX - len(suffix.encode("utf-8"))) + suffix


def assign_names(
    items: Iterable[T],
    *,
    name_of: Callable[[T], str],
    id_of: Callable[[T], str],
    created_of: Callable[[T], datetime | None] = lambda _item: None,
    reserved: Sequence[str] = (),
) -> list[Named[T]]:
    """Give every item a unique, safe name; the result keeps the input's order."""
    materialised = list(items)
    wanted: dict[str, list[int]] = {}
    bases: list[str] = []
    for index, item in enumerate(materialised):
        entity_id = id_of(item)
        base = shorten(sanitize_component(name_of(item), entity_id or f"item-{index}"), entity_id)
        bases.append(base)
        wanted.setdefault(base, []).append(index)

    taken: set[str] = set(reserved)
    final: list[str | None] = [None] * len(materialised)
    # Unique names first, so a suffixed duplicate never steals a name that exists verbatim.
    for base, indexes in wanted.items():
        if len(indexes) == 1 and base not in taken:
            final[indexes[0]] = base
            taken.add(base)

    def order_key(index: int) -> tuple[int, datetime | str, str]:
        created = created_of(materialised[index])
        entity_id = id_of(materialised[index])
        numeric = entity_id.rjust(40, "0") if entity_id.isdigit() else entity_id
        return (0, created, numeric) if created is not None else (1, "", numeric)

    for base, indexes in wanted.items():
        if final[indexes[0]] is not None:
            continue
        number = 1
        for index in sorted(indexes, key=order_key):
            candidate = base if number == 1 else _suffixed(base, number, id_of(materialised[index]))
            while candidate in taken:
                number += 1
                candidate = _suffixed(base, number, id_of(materialised[index]))
            final[index] = candidate
            taken.add(candidate)
            number += 1
    return [Named(name or "", item) for name, item in zip(final, materialised, strict=True)]
