"""Walk the emulator's API directly (plain httpx, never bsmount's client) to check a mount."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx


def items(emulator: Any, path: str, limit: int = 1024, **params: Any) -> list[dict[str, Any]]:
    """Every item of a v1 or v2 list, all pages."""
    out: list[dict[str, Any]] = []
    offset = 0
    while True:
        doc = emulator.api(path, Offset=offset, Limit=limit, **params)
        page = doc.get("Response", doc)
        batch = page["Items"]
        out.extend(batch)
        paging = page.get("Paging", page)
        offset += len(batch)
        total = paging.get("TotalCount")  # run file lists omit it unless include=TotalCount
        if not batch or (total is not None and offset >= total) or len(batch) < limit:
            return out


def complete(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        f
        for f in files
        if str(f.get("UploadStatus", "complete")).lower() in ("complete", "completed")
    ]


def content_url(emulator: Any, file_id: str) -> str:
    doc = emulator.api(f"v1pre3/files/{file_id}/content", redirect="meta")
    return str(doc["Response"]["HrefContent"])


def direct_bytes(
    emulator: Any, file_id: str, start: int | None = None, end: int | None = None
) -> bytes:
    """Bytes of a file fetched straight from its content URL (end inclusive, like HTTP)."""
    headers = {} if start is None else {"Range": f"bytes={start}-{'' if end is None else end}"}
    response = httpx.get(content_url(emulator, file_id), headers=headers, timeout=120)
    response.raise_for_status()
    return response.content


def direct_md5(emulator: Any, file_id: str) -> str:
    digest = hashlib.md5()
    with httpx.stream("GET", content_url(emulator, file_id), timeout=120) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def blob_requests(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in log if r["path"].startswith("/s3/")]
