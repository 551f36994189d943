"""Routes and small helpers of the API client: where each entity kind lives, id checks, envelopes.

v1pre3 serves users, projects, samples, appresults, runs, files and genomes; v2 serves appsessions,
biosamples and datasets (fs_basespace does the same). Ids come from servers and are checked
before they become path segments, so a hostile id can never walk to another route.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx

from bsmount.errors import NotFound, RateLimited, ServerError, TransportError

__all__ = [
    "ENTITY_ROUTES",
    "PROPERTY_ROUTES",
    "expect_object",
    "repeatable_post",
    "segment",
    "unwrap",
]

#: Where a single entity of each kind is read (kind -> collection path).
ENTITY_ROUTES: dict[str, str] = {
    "users": "v1pre3/users",
    "projects": "v1pre3/projects",
    "samples": "v1pre3/samples",
    "appresults": "v1pre3/appresults",
    "runs": "v1pre3/runs",
    "files": "v1pre3/files",
    "genomes": "v1pre3/genomes",
    "appsessions": "v2/appsessions",
    "biosamples": "v2/biosamples",
    "datasets": "v2/datasets",
}
#: Where properties of each kind are read (v1pre3 except v2-only entities).
PROPERTY_ROUTES: dict[str, str] = {
    "users": "v1pre3/users",
    "projects": "v1pre3/projects",
    "samples": "v1pre3/samples",
    "appresults": "v1pre3/appresults",
    "runs": "v1pre3/runs",
    "appsessions": "v1pre3/appsessions",
    "files": "v1pre3/files",
    "biosamples": "v2/biosamples",
    "datasets": "v2/datasets",
}

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def segment(entity_id: str) -> str:
    """One safe path segment from an id (ids come from servers: never let them walk paths)."""
    if not isinstance(entity_id, str) or not _ID.match(entity_id) or entity_id.strip(".") == "":
        raise NotFound(404, f"invalid id {entity_id!r:.60}")
    return quote(entity_id, safe="")


def unwrap(body: Any) -> Any:
    """The payload of a v1pre3 envelope (``Response``), or a bare v2 body as is."""
    if isinstance(body, dict) and "Response" in body and "ResponseStatus" in body:
        return body["Response"]
    if isinstance(body, dict) and isinstance(body.get("Response"), dict):
        return body["Response"]
    return body


def expect_object(body: Any, what: str) -> dict[str, Any]:
    payload = unwrap(body)
    if not isinstance(payload, dict):
        raise TransportError(f"{what}: expected a JSON object, got {type(payload).__name__}")
    return payload


def repeatable_post(exc: BaseException) -> bool:
    """Retry filter for non-idempotent calls: only when the server surely did nothing."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return True
    if isinstance(exc, RateLimited):
        return True
    return isinstance(exc, ServerError) and exc.status == 503
