"""``bsmount.api``: the only code that speaks HTTP to BaseSpace.

- :mod:`~bsmount.api.client` — :class:`BaseSpaceClient`, typed metadata calls with complete paging;
- :mod:`~bsmount.api.content` — :class:`ContentReader`, cached signed URLs, verified ranged reads;
- :mod:`~bsmount.api.models` — frozen dataclasses parsed defensively from the real JSON shapes;
- :mod:`~bsmount.api.retry` — :class:`RetryPolicy`, backoff with jitter, what is retried;
- :mod:`~bsmount.api.http` — httpx client construction (User-Agent, pools, timeouts, read size),
  response decoding and the status → :mod:`bsmount.errors` mapping, :class:`ClientCounters`;
- :mod:`~bsmount.api.paging` and :mod:`~bsmount.api.properties` — helpers of the client.
"""

from __future__ import annotations

from bsmount.api.client import BaseSpaceClient
from bsmount.api.content import ContentReader
from bsmount.api.http import USER_AGENT, ClientCounters
from bsmount.api.models import (
    AppResult,
    AppSession,
    BioSample,
    Dataset,
    Entity,
    FileInfo,
    Genome,
    Project,
    Property,
    Run,
    RunDirectory,
    Sample,
    User,
    parse_entity,
)
from bsmount.api.properties import parse_property
from bsmount.api.retry import RetryPolicy
from bsmount.api.urls import ContentUrl

__all__ = [
    "USER_AGENT",
    "AppResult",
    "AppSession",
    "BaseSpaceClient",
    "BioSample",
    "ClientCounters",
    "ContentReader",
    "ContentUrl",
    "Dataset",
    "Entity",
    "FileInfo",
    "Genome",
    "Project",
    "Property",
    "RetryPolicy",
    "Run",
    "RunDirectory",
    "Sample",
    "User",
    "parse_entity",
    "parse_property",
]
