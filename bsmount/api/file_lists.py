"""File listings of the API client: samples', appresults', datasets' and run directories' files.

A collaborator of :class:`bsmount.api.client.BaseSpaceClient` (its ``list_*_files`` calls
delegate here), given the client's paged-list call and its content-URL sink. Every page of a
file listing is parsed into slim :class:`~bsmount.api.models.FileInfo` records as it arrives (a
big page in a worker thread, while the next pages are on their way). v2 listings (datasets, run
directories) are asked to resolve content URLs (``filehrefcontentresolution=true``); the signed
URLs they carry go to the sink (the content reader), so a first read needs no
``files/{id}/content`` request. v1 listings cannot carry them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import trio

from bsmount.api.models import FileInfo, RunDirectory, parse_file_list
from bsmount.api.paging import Convert
from bsmount.api.routes import segment
from bsmount.api.urls import is_signed_content_url

__all__ = ["FileListings"]

# File-list pages this long are parsed in a worker thread (~8 µs per file), so that a listing
# does not stop the event loop (and every other filesystem request) for long.
_THREAD_MIN_FILES = 200
# v2 file listings put each file's pre-signed URL in HrefContent (see on_content_urls)
_RESOLVE_URLS = {"filehrefcontentresolution": "true"}


async def _parse_file_page(items: list[dict[str, Any]]) -> list[Any]:
    """One page of a file listing as FileInfo records; a big page in a worker thread (~14 µs a
    file), so the event loop keeps answering while the next pages arrive."""
    if len(items) < _THREAD_MIN_FILES:
        return parse_file_list(items)
    return await trio.to_thread.run_sync(parse_file_list, items)


ContentUrlSink = Callable[[list[tuple[str, str]]], None]


class Collect(Protocol):
    """The client's paged list call: every item of ``path`` (and the ``extra_key`` lists)."""

    async def __call__(
        self,
        path: str,
        params: Mapping[str, str] | None,
        extra_key: str | None = None,
        convert: Convert | None = None,
    ) -> tuple[list[Any], list[Any]]: ...


class FileListings:
    """The file-listing calls over ``collect``; signed URLs go to ``content_urls()``'s sink."""

    def __init__(self, collect: Collect, content_urls: Callable[[], ContentUrlSink | None]) -> None:
        self._collect = collect
        self._content_urls = content_urls

    async def _list_files(
        self, path: str, params: Mapping[str, str] | None = None, extra_key: str | None = None
    ) -> tuple[list[FileInfo], list[Any]]:
        """A file listing, every page parsed as it arrives; when the listing was asked to
        resolve content URLs (v2), they are offered to the reader."""
        files, extras = await self._collect(path, params, extra_key, _parse_file_page)
        if params is not None and params.get("filehrefcontentresolution") == "true":
            self._offer_content_urls(files)
        return files, extras

    async def sample_files(self, sample_id: str) -> list[FileInfo]:
        path = f"v1pre3/samples/{segment(sample_id)}/files"
        return (await self._list_files(path))[0]

    async def appresult_files(self, appresult_id: str) -> list[FileInfo]:
        path = f"v1pre3/appresults/{segment(appresult_id)}/files"
        return (await self._list_files(path))[0]

    async def dataset_files(self, dataset_id: str) -> list[FileInfo]:
        path = f"v2/datasets/{segment(dataset_id)}/files"
        return (await self._list_files(path, _RESOLVE_URLS))[0]

    async def appsession_logs(self, appsession_id: str) -> list[FileInfo]:
        """An analysis's log files (v2 ``appsessions/{id}/logfiles``, URLs resolved)."""
        path = f"v2/appsessions/{segment(appsession_id)}/logfiles"
        return (await self._list_files(path, _RESOLVE_URLS))[0]

    async def run_directory(self, run_id: str, directory: str = "/") -> RunDirectory:
        """One level of a run's file tree (v2 ``runs/{id}/files``, not recursive)."""
        directory = "/" + directory.strip("/")
        params = {
            "directory": directory,
            "recursive": "false",
            "include": "Subdirectories,TotalCount",
            **_RESOLVE_URLS,
        }
        files, extras = await self._list_files(
            f"v2/runs/{segment(run_id)}/files", params, "SubDirectories"
        )
        names: list[str] = []
        for entry in extras:
            if isinstance(entry, dict):
                raw = entry.get("Name") or entry.get("Path") or ""
            else:
                raw = entry if isinstance(entry, str) else ""
            name = str(raw).rstrip("/").rsplit("/", 1)[-1]
            if name and name not in names:
                names.append(name)
        return RunDirectory(files=files, subdirectories=names)

    def _offer_content_urls(self, files: list[FileInfo]) -> None:
        """Hand the signed URLs a v2 listing carried to ``on_content_urls`` (API paths such as
        ``.../v2/files/{id}/content``, which a server gives when it did not resolve, are not)."""
        sink = self._content_urls()
        if sink is None:
            return
        pairs = [
            (f.id, f.href_content)
            for f in files
            if f.id and f.href_content and is_signed_content_url(f.href_content, f.id)
        ]
        if pairs:
            sink(pairs)
