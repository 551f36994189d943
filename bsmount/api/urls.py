"""Pre-signed content URLs: their model, where listings' ``HrefContent`` is one, and expiry.

``files/{id}/content?redirect=meta`` answers ``{Expires, HrefContent, SupportsRange}``; v2 file
listings with ``filehrefcontentresolution=true`` put the URL alone in each file's
``HrefContent``. When ``Expires`` is missing, the URL's own query says when it expires (S3 v2
``Expires=<epoch>``, SigV4 ``X-Amz-Date`` + ``X-Amz-Expires``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bsmount.api.models import parse_date

__all__ = ["ContentUrl", "is_signed_content_url", "parse_content_url"]


@dataclass(frozen=True)
class ContentUrl:
    """A pre-signed blob URL for one file's content, valid until ``expires`` (aware UTC)."""

    url: str
    expires: datetime
    supports_range: bool = True
    fetched: datetime = field(default_factory=lambda: datetime.now(UTC), compare=False)


def is_signed_content_url(href: str, file_id: str) -> bool:
    """Whether a listing's ``HrefContent`` is a direct (pre-signed) URL, not the API's own
    ``.../files/{id}/content`` route that a listing gives when it did not resolve URLs."""
    if not href.startswith(("https://", "http://")):
        return False
    return not urlsplit(href).path.rstrip("/").endswith(f"/files/{file_id}/content")


def _expiry_in_url(url: str) -> datetime | None:
    """When a pre-signed URL expires, from its query: S3 v2 ``Expires=<epoch>`` or SigV4
    ``X-Amz-Date=<YYYYMMDDTHHMMSSZ>`` plus ``X-Amz-Expires=<seconds>``; None if neither."""
    query = parse_qs(urlsplit(url).query)
    epoch = query.get("Expires", [""])[0]
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    signed = query.get("X-Amz-Date", [""])[0]
    lifetime = query.get("X-Amz-Expires", [""])[0]
    if not lifetime.isdigit():
        return None
    try:
        start = datetime.strptime(signed, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return start + timedelta(seconds=int(lifetime))


def parse_content_url(obj: Any, *, now: datetime | None = None) -> ContentUrl | None:
    """Parse ``{Expires, HrefContent, SupportsRange}`` (``None`` when there is no URL).

    A missing ``Expires`` falls back to the expiry the URL's query states (S3 ``Expires=<epoch>``,
    SigV4 ``X-Amz-Date`` + ``X-Amz-Expires``), else to ten minutes from now (a conservative
    guess that forces an early refresh).
    """
    o: Mapping[str, Any] = obj if isinstance(obj, Mapping) else {}
    url = o.get("HrefContent")
    if not isinstance(url, str) or not url:
        return None
    now = now or datetime.now(UTC)
    expires = parse_date(o.get("Expires")) or _expiry_in_url(url)
    if expires is None:
        expires = datetime.fromtimestamp(now.timestamp() + 600, UTC)
    supports = o.get("SupportsRange")
    return ContentUrl(
        url=url,
        expires=expires,
        supports_range=supports if isinstance(supports, bool) else True,
        fetched=now,
    )
