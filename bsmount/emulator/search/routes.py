"""The Search API of the emulator: ``GET v1pre3/search?query=...&scope=...``.

- ``scope``: one or more of :data:`SCOPES`, comma-separated (or repeated), any case; a missing or
  unknown scope is a 400 ``BASESPACE.COMMON.INVALID_PARAMETER`` naming the valid ones.
- ``query``: a Lucene/Elasticsearch query string (:mod:`.query`) over the scope's fields
  (:mod:`.fields`); a missing query is a 400, an unparseable one a 500
  ``BASESPACE.SEARCH.QUERY_PARSE_ERROR`` (the real service answers 500 to bad queries).
- The caller only finds their own live entities (and the public genomes); files are searched only
  once their upload is complete.
- Paging as every v1pre3 list (Offset, Limit <= 1024, default 10); ``SortBy`` is ``Score`` by
  default (rank order: ``Asc`` puts the best match first), or one of :data:`SEARCH_SORTS`; ties
  are broken by Id.
- Items are typed: ``{"Type": "sample", "Sample": {...}, "Project": {...}, "Score": 2.0}``, the
  entities in the compact v1pre3 forms the other lists use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from bsmount.emulator.http.errors import ApiProblem
from bsmount.emulator.http.paging import id_key, paginate
from bsmount.emulator.http.responses import v1_ok
from bsmount.emulator.http.routing import Ctx, api_route
from bsmount.emulator.http.views.v1 import V1Views
from bsmount.emulator.search.fields import SCOPE_FIELDS, EntityDocument
from bsmount.emulator.search.query import Clause, QueryError, parse_query
from bsmount.emulator.search.related import Related
from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.model import AppResult, File, Project, Run, Sample, User

__all__ = ["SCOPES", "SEARCH_SORTS", "Hit", "routes", "search"]

log = logging.getLogger(__name__)

SCOPES = (
    "projects",
    "runs",
    "samples",
    "appresults",
    "genomes",
    "sample_files",
    "appresult_files",
)
# scope -> (item Type, key of the entity in the item)
ITEM_KEYS = {
    "projects": ("project", "Project"),
    "runs": ("run", "Run"),
    "samples": ("sample", "Sample"),
    "appresults": ("appresult", "AppResult"),
    "genomes": ("genome", "Genome"),
    "sample_files": ("samplefile", "SampleFile"),
    "appresult_files": ("appresultfile", "AppResultFile"),
}
PARSE_ERROR = "BASESPACE.SEARCH.QUERY_PARSE_ERROR"


@dataclass
class Hit:
    """One search result: the entity, the entities it is shown with, and its score."""

    scope: str
    entity: Any
    score: float
    container: Any = None  # a file's sample or appresult
    project: Project | None = None

    @property
    def id(self) -> str:
        return str(self.entity.id)

    @property
    def name(self) -> str:
        return str(self.entity.name)


def _name_of(value: Any) -> str:
    return str(value.name).casefold() if value is not None else ""


def _named(kind: type, scopes: tuple[str, ...] = ()) -> Callable[[Hit], str]:
    """SortBy key: the name of the hit's entity of class ``kind`` ("" if it has none)."""

    def key(hit: Hit) -> str:
        if scopes and hit.scope not in scopes:
            return ""
        for candidate in (hit.entity, hit.container, hit.project):
            if isinstance(candidate, kind):
                return _name_of(candidate)
        return ""

    return key


SEARCH_SORTS: dict[str, Callable[[Any], Any]] = {
    "Score": lambda h: -h.score,
    "FileId": lambda h: id_key(h.entity) if isinstance(h.entity, File) else (0, ""),
    "Project_Name": _named(Project),
    "AppResult_Name": _named(AppResult),
    "AppResultFile_Name": _named(File, ("appresult_files",)),
    "Sample_Name": _named(Sample),
    "SampleFile_Name": _named(File, ("sample_files",)),
    "Run_Name": _named(Run),
    "DateCreated": lambda h: h.entity.date_created,
    "ModifiedOn": lambda h: h.entity.date_modified,
    "Uid": lambda h: (ITEM_KEYS[h.scope][0], id_key(h.entity)),
}


def parse_scopes(values: list[str]) -> list[str]:
    """The requested scopes in the order given, each once; ApiProblem 400 if any is unknown."""
    valid = ", ".join(SCOPES)
    if not values:
        raise ApiProblem(
            400, "BASESPACE.COMMON.INVALID_PARAMETER", f"A scope is required: one of {valid}"
        )
    scopes: list[str] = []
    for value in values:
        scope = value.strip().lower()
        if scope not in SCOPES:
            raise ApiProblem(
                400,
                "BASESPACE.COMMON.INVALID_PARAMETER",
                f"Unknown search scope {value!r}; valid scopes are {valid}",
            )
        if scope not in scopes:
            scopes.append(scope)
    return scopes


def candidates(state: EmulatorState, user: User, scope: str) -> Iterator[Any]:
    """Every entity of ``scope`` that ``user`` may find, in creation order."""
    if scope == "projects":
        yield from state.projects_of(user)
    elif scope == "runs":
        yield from state.runs_of(user)
    elif scope == "genomes":
        yield from (g for g in state.model.genomes.values() if not g.deleted)
    elif scope in ("samples", "appresults"):
        yield from state.visible(scope, user)
    else:
        kind = "samples" if scope == "sample_files" else "appresults"
        for container in state.visible(kind, user):
            for item in state.files_of(kind, container):
                if item.upload_status == "complete":
                    yield item


def search(state: EmulatorState, user: User, scopes: list[str], query: Clause) -> list[Hit]:
    """Every entity of ``scopes`` that ``user`` may see and ``query`` matches."""
    related = Related(state, user)
    hits: list[Hit] = []
    for scope in scopes:
        fields = SCOPE_FIELDS[scope]
        for entity in candidates(state, user, scope):
            score = query.score(EntityDocument(fields, related, entity))
            if score is None:
                continue
            hit = Hit(scope, entity, score)
            if isinstance(entity, File):
                hit.container = state.peek(entity.parent_kind, entity.parent_id)
                hit.project = state.peek("projects", getattr(hit.container, "project_id", ""))
            elif isinstance(entity, Sample | AppResult):
                hit.project = state.peek("projects", entity.project_id)
            hits.append(hit)
    return hits


def render(views: V1Views, hit: Hit) -> dict[str, Any]:
    """A hit as the API shows it (``Type``, the entity, its container and project, ``Score``)."""
    item_type, key = ITEM_KEYS[hit.scope]
    entity = hit.entity
    shown = views.genome(entity) if hit.scope == "genomes" else views.compact(hit.scope, entity)
    body: dict[str, Any] = {"Type": item_type, key: shown}
    if hit.scope == "sample_files" and hit.container is not None:
        body["Sample"] = views.sample(hit.container)
    if hit.scope == "appresult_files" and hit.container is not None:
        body["AppResult"] = views.appresult(hit.container)
    if hit.project is not None:
        body["Project"] = views.project(hit.project)
    body["Score"] = round(hit.score, 4)
    return body


async def search_route(ctx: Ctx) -> Response:
    scopes = parse_scopes(ctx.params.get_list("scope"))
    text = ctx.params.get("query")
    if text is None:
        raise ApiProblem(400, "BASESPACE.COMMON.INVALID_PARAMETER", "A query is required")
    try:
        query = parse_query(text)
    except QueryError as error:
        log.info("search: bad query %r: %s", text, error)
        raise ApiProblem(500, PARSE_ERROR, f"{error} (query: {text})") from None
    hits = search(ctx.state, ctx.user, scopes, query)
    log.debug("search %s %r: %d hits", ",".join(scopes), text, len(hits))
    page = paginate(ctx.params, hits, SEARCH_SORTS, default_sort="Score")
    views = V1Views(ctx.state)
    return v1_ok(page.v1(lambda hit: render(views, hit)))


def routes() -> list[BaseRoute]:
    """The Search API's routes (register them before the v1pre3 catch-all)."""
    return [api_route("/v1pre3/search", search_route, "v1")]
