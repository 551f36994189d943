"""Naming rules of the tree (docs/semantics.md): sanitising, shortening, duplicates."""

from __future__ import annotations

from datetime import UTC, datetime

from bsmount.tree.naming import NAME_MAX, assign_names, sanitize_component, shorten


def _names(items, reserved=()):
    return [
        n.name
        for n in assign_names(
            items,
            name_of=lambda i: i[0],
            id_of=lambda i: i[1],
            created_of=lambda i: i[2],
            reserved=reserved,
        )
    ]


def test_sanitize_replaces_slash_and_dots_and_controls() -> None:
    assert sanitize_component("a/b", "1") == "a\uff0fb"
    assert sanitize_component(".", "1") == "\uff0e"
    assert sanitize_component("..", "1") == "\uff0e\uff0e"
    assert sanitize_component("a\x00b", "1") == "ab"
    assert sanitize_component("line\nbreak\t", "1") == "line\ufffdbreak\ufffd"
    assert sanitize_component("", "42") == "42"
    assert sanitize_component("\x00", "42") == "42"
    assert sanitize_component("Échantillon α: (1)", "1") == "Échantillon α: (1)"


def test_shorten_keeps_id_and_fits() -> None:
    long = "é" * 300
    short = shorten(long, "12345")
    assert len(short.encode()) <= NAME_MAX
    assert short.endswith("…~12345")
    assert shorten("ok", "1") == "ok"


def test_duplicates_ordered_by_date_then_id() -> None:
    old = datetime(2020, 1, 1, tzinfo=UTC)
    new = datetime(2021, 1, 1, tzinfo=UTC)
    items = [("S", "30", new), ("S", "20", old), ("S", "10", new), ("T", "5", old)]
    assert _names(items) == ["S (3)", "S", "S (2)", "T"]


def test_suffix_never_steals_an_existing_name() -> None:
    d = datetime(2020, 1, 1, tzinfo=UTC)
    items = [("a", "1", d), ("a", "2", d), ("a (2)", "3", d)]
    names = _names(items)
    assert names[2] == "a (2)"
    assert len(set(names)) == 3


def test_reserved_names_are_avoided() -> None:
    d = datetime(2020, 1, 1, tzinfo=UTC)
    assert _names([(".id.7", "9", d)], reserved=[".id.7"]) == [".id.7 (2)"]


def test_ten_thousand_duplicates_are_unique_and_fast() -> None:
    items = [("same", str(i), None) for i in range(10_000)]
    names = _names(items)
    assert len(set(names)) == 10_000
    assert names[0] == "same"


def test_long_duplicates_stay_within_name_max() -> None:
    items = [("x" * 400, str(i), None) for i in range(3)]
    names = _names(items)
    assert len(set(names)) == 3
    assert all(len(n.encode()) <= NAME_MAX for n in names)
