"""Value matching for the Search API's query language: how one query value (a word, a phrase, a
range, a regex, a fuzzy term or a proximity phrase) matches one field value of a given kind.

Field kinds (:data:`FieldKind`): ``text`` values are split into lowercase alphanumeric tokens
(:func:`tokenize`; punctuation and ``_`` separate tokens) and a term matches when its tokens appear
as a contiguous run, or when it equals the whole value; wildcards (``*``, ``?``; not in phrases),
regexes and fuzzy terms match one token or the whole value. ``keyword`` values match as a whole.
``number``, ``bool`` and ``date`` values compare parsed values; a date term matches as a prefix at
a component boundary (``2018-07`` matches ``2018-07-19T...``), and ``now`` is a valid date bound.
Everything is case-insensitive.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

from bsmount.emulator.state.model import format_date, parse_date

__all__ = [
    "FieldKind",
    "FuzzyMatcher",
    "Matcher",
    "ProximityMatcher",
    "RangeMatcher",
    "RegexMatcher",
    "TermMatcher",
    "tokenize",
    "unescape",
]

log = logging.getLogger(__name__)

FieldKind = Literal["text", "keyword", "number", "bool", "date"]
_TOKEN = re.compile(r"[^\W_]+")
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def tokenize(text: str) -> list[str]:
    """Lowercase alphanumeric runs: ``"180718_M04074 A.b"`` -> ``["180718", "m04074", "a", "b"]``.

    Underscores, dots and other punctuation separate tokens.
    """
    return _TOKEN.findall(text.casefold())


def unescape(raw: str) -> str:
    return _ESCAPED.sub(r"\1", raw)


def _glob(raw: str) -> re.Pattern[str] | None:
    """A regex for a word with unescaped ``*``/``?`` wildcards, or None when it has none."""
    parts: list[str] = []
    wild = False
    chars = iter(raw)
    for char in chars:
        if char == "\\":
            parts.append(re.escape(next(chars, "\\")))
        elif char == "*":
            parts.append(".*")
            wild = True
        elif char == "?":
            parts.append(".")
            wild = True
        else:
            parts.append(re.escape(char))
    if not wild:
        return None
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _date_text(value: datetime) -> str:
    return format_date(value).casefold()


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> datetime | None:
    if text.casefold() == "now":
        return datetime.now(UTC)
    try:
        return parse_date(text)
    except ValueError:
        return None


def _contains_run(tokens: Sequence[str], run: Sequence[str]) -> bool:
    width = len(run)
    return any(list(tokens[i : i + width]) == list(run) for i in range(len(tokens) - width + 1))


class Matcher(ABC):
    """Decides whether one field value matches one query value."""

    @abstractmethod
    def match(self, kind: FieldKind, value: Any) -> bool: ...


@dataclass
class TermMatcher(Matcher):
    """A word (wildcards allowed) or a phrase (literal)."""

    raw: str
    phrase: bool = False

    def __post_init__(self) -> None:
        self.literal = unescape(self.raw).casefold()
        self.tokens = tokenize(self.literal)
        self.pattern = None if self.phrase else _glob(self.raw)

    def match(self, kind: FieldKind, value: Any) -> bool:
        if self.pattern is not None:
            return self._match_glob(kind, value)
        if kind == "text":
            text = str(value).casefold()
            if text == self.literal:
                return True
            return bool(self.tokens) and _contains_run(tokenize(text), self.tokens)
        if kind == "keyword":
            return str(value).casefold() == self.literal
        if kind == "number":
            number = _number(self.literal)
            return number is not None and float(value) == number
        if kind == "bool":
            return self.literal == ("true" if value else "false")
        text = _date_text(value)
        if text.startswith(self.literal) and (
            len(text) == len(self.literal) or text[len(self.literal)] in "-t:.z"
        ):
            return True
        parsed = _date(self.literal)
        return parsed is not None and parsed == value

    def _match_glob(self, kind: FieldKind, value: Any) -> bool:
        assert self.pattern is not None
        if kind == "date":
            return self.pattern.fullmatch(_date_text(value)) is not None
        if kind == "bool":
            return self.pattern.fullmatch("true" if value else "false") is not None
        text = str(value)
        if self.pattern.fullmatch(text):
            return True
        return kind == "text" and any(self.pattern.fullmatch(t) for t in tokenize(text))


@dataclass
class RangeMatcher(Matcher):
    """``[low TO high]`` and friends; None is an open end."""

    low: str | None
    high: str | None
    include_low: bool = True
    include_high: bool = True

    @cached_property
    def numbers(self) -> tuple[float | None, float | None, bool]:
        low = None if self.low is None else _number(self.low)
        high = None if self.high is None else _number(self.high)
        valid = (self.low is None or low is not None) and (self.high is None or high is not None)
        return low, high, valid

    @cached_property
    def dates(self) -> tuple[datetime | None, datetime | None, bool]:
        low = None if self.low is None else _date(self.low)
        high = None if self.high is None else _date(self.high)
        valid = (self.low is None or low is not None) and (self.high is None or high is not None)
        return low, high, valid

    def _within(self, value: Any, low: Any, high: Any) -> bool:
        if low is not None and (value < low or (value == low and not self.include_low)):
            return False
        return high is None or not (value > high or (value == high and not self.include_high))

    def match(self, kind: FieldKind, value: Any) -> bool:
        if kind == "number":
            low, high, valid = self.numbers
            return valid and self._within(float(value), low, high)
        if kind == "date":
            low_date, high_date, valid = self.dates
            return valid and self._within(value, low_date, high_date)
        if kind == "bool":
            return False
        low_text = None if self.low is None else unescape(self.low).casefold()
        high_text = None if self.high is None else unescape(self.high).casefold()
        return self._within(str(value).casefold(), low_text, high_text)


@dataclass
class RegexMatcher(Matcher):
    """``/pattern/``: the whole value, or (text fields) one token, must match."""

    pattern: re.Pattern[str]

    def match(self, kind: FieldKind, value: Any) -> bool:
        text = _date_text(value) if kind == "date" else str(value)
        if self.pattern.fullmatch(text):
            return True
        return kind == "text" and any(self.pattern.fullmatch(t) for t in tokenize(text))


def _edit_distance(a: str, b: str, limit: int) -> int:
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


@dataclass
class FuzzyMatcher(Matcher):
    """``term~N``: a token (text) or the value (keyword) within N edits."""

    term: str
    distance: int

    def match(self, kind: FieldKind, value: Any) -> bool:
        if kind in ("number", "bool", "date"):
            return TermMatcher(self.term).match(kind, value)
        text = str(value).casefold()
        candidates = [text, *tokenize(text)] if kind == "text" else [text]
        return any(_edit_distance(c, self.term, self.distance) <= self.distance for c in candidates)


@dataclass
class ProximityMatcher(Matcher):
    """``"a b"~N``: every word of the phrase within ``len(words) + N`` consecutive tokens."""

    words: list[str]
    slop: int

    def match(self, kind: FieldKind, value: Any) -> bool:
        if kind != "text" or not self.words:
            return TermMatcher(" ".join(self.words), phrase=True).match(kind, value)
        tokens = tokenize(str(value))
        window = len(self.words) + self.slop
        for start in range(max(1, len(tokens) - window + 1)):
            span = tokens[start : start + window]
            if all(word in span for word in self.words):
                return True
        return False
