"""The Search API client: ``GET v1pre3/search?scope=&query=`` as typed hits (basespace-api.md §5).

:func:`search` fetches every page (Limit 1024) and parses each item into a :class:`SearchHit`:
the item's ``Type``, its entity (a :mod:`bsmount.api.models` class chosen by type), and the
entities it comes with (``Project``, ``Sample``, ``AppResult``). Item types this module does not
know are kept raw (``kind == ""``), never fatal.

A query the service cannot take is a :class:`SearchError` with the reason: an unknown scope or an
obviously malformed query (empty, unbalanced quotes or parentheses) is refused before any request;
a 400 from the service, or the HTTP 500 the real service answers to queries it cannot parse,
becomes a :class:`SearchError` carrying the server's message. Other failures (503, timeouts...)
stay the client's usual errors.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bsmount.api.models import AppResult, Entity, Project, Sample, parse_entity
from bsmount.errors import BadRequest, BsmountError, ServerError

__all__ = [
    "SCOPES",
    "SearchClient",
    "SearchError",
    "SearchHit",
    "check_query",
    "check_scope",
    "hits_of",
    "parse_hit",
    "search",
    "search_items",
]

log = logging.getLogger(__name__)

#: The scopes of the Search API reference, in its order of the tree.
SCOPES = (
    "projects",
    "runs",
    "samples",
    "appresults",
    "genomes",
    "sample_files",
    "appresult_files",
)

# Item Type (lower case, "_" removed) -> (plural kind of the entity, key of the entity).
_TYPES: dict[str, tuple[str, str]] = {
    "project": ("projects", "Project"),
    "run": ("runs", "Run"),
    "sample": ("samples", "Sample"),
    "appresult": ("appresults", "AppResult"),
    "genome": ("genomes", "Genome"),
    "samplefile": ("files", "SampleFile"),
    "appresultfile": ("files", "AppResultFile"),
}
# When the Type is unfamiliar, the most specific entity key present decides.
_KEY_ORDER = ("AppResultFile", "SampleFile", "AppResult", "Sample", "Run", "Genome", "Project")
_KEY_TYPES = {key: type_ for type_, (_kind, key) in _TYPES.items()}


class SearchClient(Protocol):
    """The part of :class:`bsmount.api.client.BaseSpaceClient` a search needs."""

    async def list_items(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]: ...


class SearchError(BsmountError):
    """The service cannot run this query (or scope); ``reason`` says why, for ``.error``."""

    def __init__(self, scope: str, query: str, reason: str) -> None:
        super().__init__(f"search {scope} {query!r}: {reason}")
        self.scope = scope
        self.query = query
        self.reason = reason


@dataclass(frozen=True)
class SearchHit:
    """One search result.

    ``kind`` is the plural kind of ``entity`` (``"files"`` for both file types), ``""`` for an
    item type this module does not know (then ``entity`` is a plain :class:`Entity` parsed from
    the item's first object with an ``Id``, or ``None``). ``project``, ``sample`` and
    ``appresult`` are the entities the item comes with (a file's sample or appresult and its
    project), when the service gave them.
    """

    type: str
    kind: str
    entity: Entity | None
    project: Project | None = None
    sample: Sample | None = None
    appresult: AppResult | None = None
    score: float | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def parse_hit(item: Mapping[str, Any]) -> SearchHit:
    """A :class:`SearchHit` from one result item; never raises on odd input."""
    type_ = item.get("Type")
    type_text = type_ if isinstance(type_, str) else ""
    known = _TYPES.get(type_text.lower().replace("_", ""))
    if known is None:  # an unfamiliar Type: trust the entity keys present
        for key in _KEY_ORDER:
            if _mapping(item.get(key)) is not None:
                known = _TYPES[_KEY_TYPES[key]]
                break
    kind, entity_key = known if known is not None else ("", "")
    entity: Entity | None = None
    if known is not None:
        entity = parse_entity(kind, item.get(entity_key))
    else:
        for value in item.values():
            obj = _mapping(value)
            if obj is not None and obj.get("Id") is not None:
                entity = Entity.from_json(obj)
                break
    if entity is not None and not entity.id:
        entity = None

    def parent(key: str, cls: type[Any]) -> Any:
        obj = _mapping(item.get(key))
        if key == entity_key or obj is None or obj.get("Id") is None:
            return None
        parsed = cls.from_json(obj)
        return parsed if parsed.id else None

    score = item.get("Score")
    return SearchHit(
        type=type_text,
        kind=kind,
        entity=entity,
        project=parent("Project", Project),
        sample=parent("Sample", Sample),
        appresult=parent("AppResult", AppResult),
        score=float(score)
        if isinstance(score, int | float) and not isinstance(score, bool)
        else None,
        raw=item,
    )


def check_scope(scope: str) -> str | None:
    """Why ``scope`` (one scope, or several comma-separated) is not valid; ``None`` if it is."""
    parts = [part.strip() for part in scope.split(",")]
    unknown = [part for part in parts if part.lower() not in SCOPES]
    if not unknown:
        return None
    return f"unknown scope {', '.join(repr(u) for u in unknown)}; scopes are {' '.join(SCOPES)}"


def check_query(query: str) -> str | None:
    """Why ``query`` is surely malformed (empty, unbalanced quotes or parentheses); else None.

    Only what every Lucene/Elasticsearch query-string parser rejects is checked here; anything
    subtler is left to the service. ``\\`` escapes the next character.
    """
    if not query.strip():
        return "the query is empty"
    depth = 0
    quoted = False
    quote_at = -1
    escaped = False
    for position, char in enumerate(query):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
            quote_at = position
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return f"unbalanced parentheses: ')' at position {position} closes nothing"
    if quoted:
        return f"unbalanced quotes: the '\"' at position {quote_at} is never closed"
    if depth > 0:
        return f"unbalanced parentheses: {depth} '(' never closed"
    return None


async def search(client: SearchClient, scope: str, query: str) -> list[SearchHit]:
    """Every result of ``query`` in ``scope`` (all pages), as typed hits, in the service's order.

    Raises :class:`SearchError` for an unknown scope, a malformed query, a 400, and the HTTP 500
    the service answers to queries it cannot parse.
    """
    return [parse_hit(item) for item in await search_items(client, scope, query)]


async def search_items(client: SearchClient, scope: str, query: str) -> list[dict[str, Any]]:
    """The raw result items of ``query`` in ``scope`` (all pages); errors as :func:`search`."""
    reason = check_scope(scope) or check_query(query)
    if reason is not None:
        raise SearchError(scope, query, reason)
    params = {"scope": scope.lower(), "query": query}
    try:
        items = await client.list_items("v1pre3/search", params)
    except BadRequest as exc:
        raise SearchError(scope, query, _server_reason(exc.message, exc.error_code)) from exc
    except ServerError as exc:
        if exc.status != 500:
            raise
        raise SearchError(scope, query, _server_reason(exc.message, exc.error_code)) from exc
    log.debug("search %s %r: %d results", scope, query, len(items))
    return items


def _server_reason(message: str, code: str) -> str:
    text = message.strip() or "the service refused the query"
    return f"{text} [{code}]" if code else text


def hits_of(items: Sequence[Mapping[str, Any]]) -> list[SearchHit]:
    """Parse raw items (those of :func:`search_items`) into hits."""
    return [parse_hit(item) for item in items]
