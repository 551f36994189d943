"""The Search API's query language: Lucene/Elasticsearch query strings, parsed with luqum and
compiled once into a tree of :class:`Clause` objects that score :class:`Document` objects.

Semantics (the subset of Elasticsearch ``query_string`` the emulator implements):

- ``field:value``, ``field:"a phrase"``, bare terms (searched in :data:`DEFAULT_FIELD`), field
  groups ``name:(a OR b)``, parentheses, ``AND``/``OR``/``NOT``/``+``/``-``. Between terms with
  no operator the default operator is **OR**, as in Elasticsearch; clauses combine like a Lucene
  boolean query: ``+x`` and ``AND`` operands are required, ``-x``/``NOT x`` excluded, the rest
  optional (at least one must match when nothing is required), so ``a OR NOT b`` is ``a -b``.
- Wildcards ``*`` and ``?`` in words (not in phrases), ``field:*`` (has a value), ``*`` alone
  (everything), ``_exists_:field``, ranges ``[a TO b]``, ``{a TO b}``, ``>x``, ``>=x``, ``<x``,
  ``<=x`` with ``*`` for an open end, ``/regex/``, ``term~N`` (fuzzy, edit distance; ``term~``
  picks 0-2 by length as Elasticsearch's AUTO), ``"a b"~N`` (the words within a window of N
  extra positions) and ``^boost``. How values match is :mod:`.match`'s business.
- A query luqum cannot parse, or one it parses but the emulator cannot evaluate (a field inside a
  field, a bad regex), raises :class:`QueryError`; the API answers 500, as BaseSpace does.

Score: each matching field clause adds 1 (times its boost), summed through the boolean tree.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from luqum import tree
from luqum.exceptions import ParseError
from luqum.thread import parse as luqum_parse

from bsmount.emulator.search.match import (
    FieldKind,
    FuzzyMatcher,
    Matcher,
    ProximityMatcher,
    RangeMatcher,
    RegexMatcher,
    TermMatcher,
    tokenize,
    unescape,
)

__all__ = [
    "DEFAULT_FIELD",
    "DEFAULT_OPERATOR",
    "Clause",
    "Document",
    "QueryError",
    "parse_query",
]

log = logging.getLogger(__name__)

DEFAULT_FIELD = "name"
DEFAULT_OPERATOR = "OR"
_MAX_FUZZY = 2


class QueryError(ValueError):
    """The query cannot be parsed or evaluated; the message says why."""


class Document(Protocol):
    """What a clause is evaluated against: the values a (query) field name stands for."""

    def lookup(self, name: str) -> Iterable[tuple[FieldKind, Sequence[Any]]]:
        """(kind, values) for every concrete field ``name`` resolves to (none if unknown)."""
        ...


# ---------------------------------------------------------------------- clauses
class Clause(ABC):
    """A compiled query node: :meth:`score` is None when ``doc`` does not match."""

    @abstractmethod
    def score(self, doc: Document) -> float | None: ...


@dataclass
class MatchAll(Clause):
    def score(self, doc: Document) -> float | None:
        return 1.0


@dataclass
class FieldClause(Clause):
    name: str
    matcher: Matcher

    def score(self, doc: Document) -> float | None:
        for kind, values in doc.lookup(self.name):
            if any(self.matcher.match(kind, value) for value in values):
                return 1.0
        return None


@dataclass
class ExistsClause(Clause):
    name: str

    def score(self, doc: Document) -> float | None:
        for _kind, values in doc.lookup(self.name):
            if any(value != "" for value in values):
                return 1.0
        return None


@dataclass
class BoostClause(Clause):
    inner: Clause
    factor: float

    def score(self, doc: Document) -> float | None:
        found = self.inner.score(doc)
        return None if found is None else found * self.factor


@dataclass
class BoolClause(Clause):
    """A Lucene boolean query: all ``must``, no ``must_not``, and one ``should`` when there is
    no ``must`` (a purely negative query matches everything else)."""

    must: list[Clause] = field(default_factory=list)
    should: list[Clause] = field(default_factory=list)
    must_not: list[Clause] = field(default_factory=list)

    def score(self, doc: Document) -> float | None:
        total = 0.0
        for clause in self.must:
            found = clause.score(doc)
            if found is None:
                return None
            total += found
        for clause in self.must_not:
            if clause.score(doc) is not None:
                return None
        matched_should = False
        for clause in self.should:
            found = clause.score(doc)
            if found is not None:
                total += found
                matched_should = True
        if self.should and not self.must and not matched_should:
            return None
        return total


# ---------------------------------------------------------------------- compilation
def parse_query(text: str) -> Clause:
    """Parse and compile ``text``; :class:`QueryError` if it is malformed or unsupported."""
    if not text.strip():
        raise QueryError("The query is empty")
    try:
        parsed = luqum_parse(text)
    except ParseError as error:
        raise QueryError(f"Failed to parse query: {error}") from None
    try:
        return _compile(parsed, None)
    except RecursionError:
        raise QueryError("The query is nested too deeply") from None


def _bound(item: tree.Item) -> str | None:
    if isinstance(item, tree.Phrase):
        return str(item.value)[1:-1]
    if isinstance(item, tree.Term):
        return None if item.value == "*" else str(item.value)
    raise QueryError(f"Unsupported range bound: {item}")


def _degree(value: Any, default: int) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return default if number < 1 else int(number)


def _auto_fuzziness(term: str) -> int:
    return 0 if len(term) <= 2 else 1 if len(term) <= 5 else 2


def _regex(raw: str) -> re.Pattern[str]:
    try:
        return re.compile(raw[1:-1], re.IGNORECASE | re.DOTALL)
    except re.error as error:
        raise QueryError(f"Invalid regular expression {raw}: {error}") from None


def _matcher(node: tree.Item) -> Matcher:
    if isinstance(node, tree.Phrase):
        return TermMatcher(node.value[1:-1], phrase=True)
    if isinstance(node, tree.Regex):
        return RegexMatcher(_regex(node.value))
    if isinstance(node, tree.Word):
        return TermMatcher(node.value)
    if isinstance(node, tree.Range):
        return RangeMatcher(
            _bound(node.low), _bound(node.high), node.include_low, node.include_high
        )
    if isinstance(node, tree.From):
        return RangeMatcher(_bound(node.a), None, include_low=node.include)
    if isinstance(node, tree.To):
        return RangeMatcher(None, _bound(node.a), include_high=node.include)
    if isinstance(node, tree.Fuzzy):
        term = unescape(str(node.term.value)).casefold()
        return FuzzyMatcher(term, min(_degree(node.degree, _auto_fuzziness(term)), _MAX_FUZZY))
    if isinstance(node, tree.Proximity):
        words = tokenize(unescape(str(node.term.value)[1:-1]))
        return ProximityMatcher(words, _degree(node.degree, 0))
    raise QueryError(f"Unsupported query element: {node}")


def _compile(node: tree.Item, name: str | None) -> Clause:
    """Compile ``node``; ``name`` is the field set by an enclosing ``field:(...)``."""
    if isinstance(node, tree.SearchField):
        if name is not None:
            raise QueryError(f"A field inside a field is not allowed: {node}")
        field_name = str(node.name).casefold()
        if field_name == "_exists_":
            if not isinstance(node.expr, tree.Term):
                raise QueryError("_exists_ takes a field name")
            return ExistsClause(unescape(str(node.expr.value).strip('"')).casefold())
        return _compile(node.expr, field_name)
    if isinstance(node, tree.BaseGroup):
        return _compile(node.expr, name)
    if isinstance(node, tree.BaseOperation):
        return _operation(node, name)
    if isinstance(node, tree.Plus):
        return BoolClause(must=[_compile(node.a, name)])
    if isinstance(node, tree.Not | tree.Prohibit):
        return BoolClause(must_not=[_compile(node.a, name)])
    if isinstance(node, tree.Boost):
        return BoostClause(_compile(node.expr, name), _boost(node.force))
    if isinstance(node, tree.Word) and node.value == "*":
        return MatchAll() if name in (None, "*") else ExistsClause(name)
    return FieldClause(name if name is not None else DEFAULT_FIELD, _matcher(node))


def _boost(force: Any) -> float:
    try:
        return float(force) if force is not None else 1.0
    except (TypeError, ValueError):
        raise QueryError(f"Invalid boost: {force}") from None


def _operation(node: tree.BaseOperation, name: str | None) -> BoolClause:
    required = isinstance(node, tree.AndOperation) or (
        isinstance(node, tree.UnknownOperation) and DEFAULT_OPERATOR == "AND"
    )
    result = BoolClause()
    for operand in node.operands:
        if isinstance(operand, tree.Plus):
            result.must.append(_compile(operand.a, name))
        elif isinstance(operand, tree.Not | tree.Prohibit):
            result.must_not.append(_compile(operand.a, name))
        elif required:
            result.must.append(_compile(operand, name))
        else:
            result.should.append(_compile(operand, name))
    return result
