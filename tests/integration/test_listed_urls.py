"""Signed URLs carried by v2 file listings (``filehrefcontentresolution=true``) save the
``files/{id}/content`` request of a first read, against the demo emulator over loopback.

Ground truth for bytes is a plain httpx GET of a freshly resolved URL; request counts come from
the emulator's request log.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bsmount.api import BaseSpaceClient, ContentReader, RetryPolicy
from bsmount.api.models import FileInfo
from bsmount.api.urls import is_signed_content_url
from tests.emulator_proc import EmulatorProcess

FAST_RETRIES = RetryPolicy(base=0.05, cap=0.2, deadline=30.0, rng=random.Random(0))
RUN_ID = "50000001"


def direct(proc: EmulatorProcess, file_id: str) -> bytes:
    meta = proc.api(f"v1pre3/files/{file_id}/content", redirect="meta")["Response"]
    reply = httpx.get(meta["HrefContent"], timeout=60)
    assert reply.status_code == 200
    return reply.content


def content_requests(proc: EmulatorProcess) -> list[str]:
    return [r["path"] for r in proc.requests() if r["path"].endswith("/content")]


async def listed_files(client: BaseSpaceClient) -> list[FileInfo]:
    """Every file of the demo run, walked directory by directory, plus one dataset's files."""
    files: list[FileInfo] = []
    pending = ["/"]
    while pending:
        directory = pending.pop()
        level = await client.list_run_directory(RUN_ID, directory)
        files.extend(level.files)
        pending.extend(f"{directory.rstrip('/')}/{sub}" for sub in level.subdirectories)
    datasets = await client.list_datasets()
    files.extend(await client.list_dataset_files(datasets[0].id))
    return files


async def test_first_reads_of_listed_files_make_no_api_request(
    emulator: EmulatorProcess,
) -> None:
    offered: list[tuple[str, str]] = []
    emulator.clear_requests()
    async with BaseSpaceClient(emulator.url, emulator.token, retry_policy=FAST_RETRIES) as client:
        reader = ContentReader(client)

        def offer(pairs: list[tuple[str, str]]) -> None:
            offered.extend(pairs)
            reader.offer_urls(pairs)

        client.on_content_urls = offer
        files = await listed_files(client)
        assert len(files) >= 5 and len(offered) == len(files)
        listings = [r for r in emulator.requests() if r["path"].endswith("/files")]
        assert listings and all("filehrefcontentresolution=true" in r["query"] for r in listings)
        emulator.clear_requests()
        for info in files[:12]:
            version = info.version()
            assert await reader.read_range(version, 0, version.size) == direct(emulator, info.id)
        assert reader.hints_used == min(12, len(files))
    # only direct()'s own resolutions: none from the reader
    assert len(content_requests(emulator)) == min(12, len(files))


async def test_stale_listed_url_falls_back_to_a_resolution(emulator_factory: Any) -> None:
    proc: EmulatorProcess = emulator_factory(url_ttl=30)
    skew = [0.0]  # seconds the reader's clock runs ahead of the real one
    async with BaseSpaceClient(proc.url, proc.token, retry_policy=FAST_RETRIES) as client:
        reader = ContentReader(client, clock=lambda: datetime.now(UTC) + timedelta(seconds=skew[0]))
        client.on_content_urls = reader.offer_urls
        level = await client.list_run_directory(RUN_ID, "/")
        info = next(f for f in level.files if f.size > 0)
        proc.clear_requests()
        skew[0] = 60.0  # the listed URL (30 s) has expired by the reader's clock
        version = info.version()
        assert await reader.read_range(version, 0, version.size) == direct(proc, info.id)
        assert reader.hints_used == 0
    # the reader resolved the URL itself (one request), and direct() once
    assert len(content_requests(proc)) == 2


async def test_unresolved_api_hrefs_are_not_taken_for_urls(emulator: EmulatorProcess) -> None:
    """A listing without resolution gives ``.../v2/files/{id}/content``: never a blob URL."""
    async with BaseSpaceClient(emulator.url, emulator.token, retry_policy=FAST_RETRIES) as client:
        seen: list[tuple[str, str]] = []
        client.on_content_urls = seen.extend
        items = await client.list_items(f"v2/runs/{RUN_ID}/files", {"recursive": "true"})
        hrefs = [(str(i["Id"]), str(i["HrefContent"])) for i in items]
        assert hrefs and not any(is_signed_content_url(h, i) for i, h in hrefs)
        level = await client.list_run_directory(RUN_ID, "/")
        assert all(is_signed_content_url(f.href_content, f.id) for f in level.files)
        assert len(seen) == len(level.files)
