"""``BaseSpaceClient``: the async (trio) BaseSpace API client — every metadata call bsmount makes.

One instance owns two connection pools (the API's httpx client, with the token; the blob URLs'
:class:`~bsmount.api.threaded.ThreadedTransport`, without it, used by
:class:`bsmount.api.content.ContentReader`), a :class:`~bsmount.api.retry.RetryPolicy` and
:class:`~bsmount.api.http.ClientCounters`. Calls return typed models (:mod:`bsmount.api.models`);
collections are paged completely (:mod:`bsmount.api.paging`). v1pre3 is used for users, projects,
samples, appresults, runs, files and genomes; v2 for appsessions, biosamples, datasets and run
directories (as fs_basespace does); the file listings are in :mod:`bsmount.api.file_lists`.
Errors are :mod:`bsmount.errors` exceptions; none carries the token.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import httpx

from bsmount.api import uploads
from bsmount.api.file_lists import FileListings
from bsmount.api.http import (
    ClientCounters,
    check_api_server,
    decode_api_response,
    make_api_http,
    make_blob_http,
    scrub,
)
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
    parse_list,
)
from bsmount.api.paging import Convert, collect_pages, page_keys, page_size_for
from bsmount.api.properties import complete_property, parse_property
from bsmount.api.retry import RetryPolicy, is_retryable, parse_retry_after, retrying
from bsmount.api.routes import (
    ENTITY_ROUTES,
    PROPERTY_ROUTES,
    expect_object,
    repeatable_post,
    segment,
    unwrap,
)
from bsmount.api.urls import ContentUrl, parse_content_url
from bsmount.config.settings import Defaults
from bsmount.errors import (
    BsmountError,
    ConfigError,
    TransportError,
    redact,
)

__all__ = ["BaseSpaceClient"]

log = logging.getLogger(__name__)

_TOKEN_CHARS = re.compile(r"[\x21-\x7e]{1,4096}")  # printable ASCII, no spaces (a header value)


class BaseSpaceClient:
    """Async client of one BaseSpace API server for one access token.

    ``timeout`` bounds each network step of a request; ``io_deadline`` bounds the time an
    operation may go without progress, retries and waits included; ``max_retries`` bounds the
    retries in a row of an API call (content reads retry outages until ``io_deadline``, see
    :mod:`bsmount.api.content`). ``transport`` replaces the network (tests:
    ``httpx.MockTransport``; blob reads reach it through :mod:`bsmount.api.mock_network`, on the
    same code path as real ones); with it, the https-only rule for non-loopback servers is not
    applied. ``ca_file`` adds a trusted CA (TLS verification itself cannot be turned off).
    """

    def __init__(
        self,
        api_server: str,
        token: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        io_deadline: float = Defaults.io_timeout,
        max_connections: int = 32,
        transport: httpx.AsyncBaseTransport | None = None,
        ca_file: str | None = None,
        retry_policy: RetryPolicy | None = None,
        page_concurrency: int = 4,
    ) -> None:
        if transport is None:
            self.api_server = check_api_server(api_server)
        else:
            self.api_server = api_server.strip().rstrip("/")
        if not token or not _TOKEN_CHARS.fullmatch(token):
            raise ConfigError("the access token is empty or contains invalid characters")
        self._token = token
        self.timeout = timeout
        self.io_deadline = io_deadline
        self.page_concurrency = page_concurrency
        self.retry_policy = retry_policy or RetryPolicy(
            max_retries=max_retries, deadline=io_deadline
        )
        self.counters = ClientCounters()
        #: Receives ``(file id, signed URL)`` pairs that file listings carried (the content
        #: reader's ``offer_urls``), so a first read needs no ``files/{id}/content`` request.
        self.on_content_urls: Callable[[list[tuple[str, str]]], None] | None = None
        self.file_listings = FileListings(self._collect, lambda: self.on_content_urls)
        self._origin = self._origin_of(self.api_server)
        self._warned_hosts: set[str] = set()
        self._api = make_api_http(
            self.api_server,
            token,
            timeout=timeout,
            max_connections=max_connections,
            transport=transport,
            ca_file=ca_file,
        )
        self.blob_http = make_blob_http(
            timeout=timeout,
            max_connections=max_connections,
            transport=transport,
            ca_file=ca_file,
        )

    def statistics(self) -> dict[str, int]:
        """Requests by kind, blob bytes, retries and errors: a copy, for ``.bsmount/stats``."""
        return self.counters.as_dict()

    # --- lifecycle ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close both connection pools."""
        await self._api.aclose()
        await self.blob_http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"BaseSpaceClient({self.api_server!r})"

    # --- URLs --------------------------------------------------------------------------------

    @staticmethod
    def _origin_of(url: str) -> tuple[str, str]:
        parts = urlsplit(url)
        return parts.scheme.lower(), parts.netloc.lower()

    def absolute_url(self, href: str) -> str:
        """A v1 relative href (``v1pre3/files/1``) made absolute; absolute URLs stay as they are."""
        if "://" in href:
            return href
        return f"{self.api_server}/{href.lstrip('/')}"

    def curl_command(self, href: str) -> str:
        """A shell command that fetches ``href`` with the token taken from the environment."""
        url = self.absolute_url(href).replace("'", "'\\''")
        return f"curl -H \"x-access-token: $BASESPACE_ACCESS_TOKEN\" '{url}'"

    def _target(self, path_or_href: str) -> str:
        """The absolute URL to request; never another host than the API server (token safety)."""
        url = self.absolute_url(path_or_href)
        parts = urlsplit(url)
        if (parts.scheme.lower(), parts.netloc.lower()) != self._origin:
            host = parts.netloc.lower()
            if host not in self._warned_hosts:
                self._warned_hosts.add(host)
                log.warning(
                    "href on another host (%s) rebased onto the API server %s",
                    redact(host),
                    self.api_server,
                )
            rest = parts.path + (f"?{parts.query}" if parts.query else "")
            url = self.api_server + rest
        return url

    # --- raw calls ---------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        """Server-provided text with the token and URL secrets removed."""
        return scrub(text, self._token)

    def count_retry(self, exc: BaseException) -> None:
        """``on_retry`` hook shared with the content reader."""
        self.counters.retries += 1

    async def _call(
        self,
        method: str,
        path_or_href: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        content: bytes | Callable[[], AsyncIterator[bytes]] | None = None,
        headers: Mapping[str, str] | None = None,
        kind: str = "api",
        idempotent: bool = True,
        retry_policy: RetryPolicy | None = None,
        retry_if: Callable[[BaseException], bool] | None = None,
    ) -> Any:
        """One API request (retried per ``retry_policy``, default :attr:`retry_policy`;
        ``retry_if`` overrides which failures are retried: a launch only when never sent);
        ``content`` is a raw body (file uploads) — bytes, or a function giving the body's chunks
        afresh for each attempt (streamed; give its Content-Length in ``headers``) —,
        ``json_body`` a JSON one."""
        url = self._target(path_or_href)
        what = f"{method} {url}"

        async def attempt(_: object) -> Any:
            self.counters.count(kind)
            body = content() if callable(content) else content
            response = await self._api.request(
                method, url, params=params, json=json_body, content=body, headers=headers
            )
            retry_after = None
            if response.status_code in (429, 503):
                retry_after = parse_retry_after(response.headers.get("retry-after"))
            return decode_api_response(response, token=self._token, retry_after=retry_after)

        try:
            return await retrying(
                retry_policy or self.retry_policy,
                attempt,
                what=what,
                retry_if=retry_if or (is_retryable if idempotent else repeatable_post),
                on_retry=self.count_retry,
            )
        except BsmountError:
            self.counters.errors += 1
            raise
        except httpx.HTTPError as exc:  # not retryable (unsupported protocol, proxy...)
            self.counters.errors += 1
            raise TransportError(f"{redact(what)}: {type(exc).__name__}: {exc}") from exc

    async def get_json(self, path_or_href: str, params: Mapping[str, str] | None = None) -> Any:
        """GET a path (``v1pre3/...``, ``v2/...``) or href; the parsed body, envelope included."""
        return await self._call("GET", path_or_href, params=params)

    async def list_items(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Every item of a collection, all pages (see :mod:`bsmount.api.paging`)."""
        items, _ = await self._collect(path, params)
        return items

    async def _collect(
        self,
        path: str,
        params: Mapping[str, str] | None,
        extra_key: str | None = None,
        convert: Convert | None = None,
    ) -> tuple[list[Any], list[Any]]:
        offset_key, limit_key = page_keys(path)
        base = {k: v for k, v in (params or {}).items() if k.lower() not in ("offset", "limit")}

        async def fetch(paging: Mapping[str, str]) -> Any:
            return await self.get_json(path, {**base, **paging})

        return await collect_pages(
            fetch,
            page_size=page_size_for(path),
            offset_key=offset_key,
            limit_key=limit_key,
            concurrency=self.page_concurrency,
            extra_key=extra_key,
            convert=convert,
        )

    async def _get_obj(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return expect_object(await self.get_json(path, params), redact(path))

    # --- typed calls -------------------------------------------------------------------------

    async def current_user(self) -> User:
        return User.from_json(await self._get_obj("v1pre3/users/current"))

    async def list_projects(self) -> list[Project]:
        return parse_list(Project, await self.list_items("v1pre3/users/current/projects"))

    async def get_project(self, project_id: str) -> Project:
        return Project.from_json(await self._get_obj(f"v1pre3/projects/{segment(project_id)}"))

    async def list_samples(self, project_id: str) -> list[Sample]:
        path = f"v1pre3/projects/{segment(project_id)}/samples"
        return parse_list(Sample, await self.list_items(path))

    async def list_appresults(self, project_id: str) -> list[AppResult]:
        path = f"v1pre3/projects/{segment(project_id)}/appresults"
        return parse_list(AppResult, await self.list_items(path))

    async def list_appsessions(
        self, project_id: str | None = None, *, input_biosample: str | None = None
    ) -> list[AppSession]:
        """A project's appsessions (``output.projects``), or those that used a biosample as
        input (``input.biosamples``), or all."""
        params: dict[str, str] = {}
        for key, value in (("output.projects", project_id), ("input.biosamples", input_biosample)):
            if value is not None:
                segment(value)
                params[key] = value
        return parse_list(AppSession, await self.list_items("v2/appsessions", params or None))

    async def get_appsession(self, appsession_id: str) -> AppSession:
        return AppSession.from_json(await self._get_obj(f"v2/appsessions/{segment(appsession_id)}"))

    async def list_runs(self) -> list[Run]:
        return parse_list(Run, await self.list_items("v1pre3/users/current/runs"))

    async def get_run(self, run_id: str) -> Run:
        return Run.from_json(await self._get_obj(f"v1pre3/runs/{segment(run_id)}"))

    async def list_biosamples(self, project_id: str | None = None) -> list[BioSample]:
        params = {"projectid": project_id} if project_id is not None else None
        if project_id is not None:
            segment(project_id)
        return parse_list(BioSample, await self.list_items("v2/biosamples", params))

    async def list_datasets(
        self,
        *,
        project_id: str | None = None,
        biosample_id: str | None = None,
        appsession_id: str | None = None,
    ) -> list[Dataset]:
        params: dict[str, str] = {}
        for key, value in (
            ("projectid", project_id),
            ("inputbiosamples", biosample_id),
            ("appsessionids", appsession_id),
        ):
            if value is not None:
                segment(value)
                params[key] = value
        return parse_list(Dataset, await self.list_items("v2/datasets", params))

    async def list_sample_files(self, sample_id: str) -> list[FileInfo]:
        return await self.file_listings.sample_files(sample_id)

    async def list_appresult_files(self, appresult_id: str) -> list[FileInfo]:
        return await self.file_listings.appresult_files(appresult_id)

    async def list_dataset_files(self, dataset_id: str) -> list[FileInfo]:
        return await self.file_listings.dataset_files(dataset_id)

    async def list_run_directory(self, run_id: str, directory: str = "/") -> RunDirectory:
        """One level of a run's file tree (v2 ``runs/{id}/files``, not recursive)."""
        return await self.file_listings.run_directory(run_id, directory)

    async def get_file(self, file_id: str) -> FileInfo:
        return FileInfo.from_json(await self._get_obj(f"v1pre3/files/{segment(file_id)}"))

    async def get_entity(self, kind: str, entity_id: str) -> Entity:
        """One entity of a plural ``kind`` (``"projects"``, ``"datasets"``...), parsed by kind."""
        route = ENTITY_ROUTES.get(kind)
        if route is None:
            raise ValueError(f"unknown entity kind {kind!r}")
        return parse_entity(kind, await self._get_obj(f"{route}/{segment(entity_id)}"))

    async def get_properties(self, kind: str, entity_id: str) -> list[Property]:
        """Every property of an entity; array items beyond the inlined ones are fetched too."""
        route = PROPERTY_ROUTES.get(kind)
        if route is None:
            raise ValueError(f"no properties for entity kind {kind!r}")
        items = await self.list_items(f"{route}/{segment(entity_id)}/properties")
        return [await complete_property(self, parse_property(item)) for item in items]

    async def list_genomes(self) -> list[Genome]:
        return parse_list(Genome, await self.list_items("v1pre3/genomes"))

    async def create_project(self, name: str, description: str = "") -> Project:
        """Create a project owned by the caller (retried only when surely not created)."""
        body = await self._call(
            "POST",
            "v1pre3/projects",
            json_body={"Name": name, "Description": description},
            idempotent=False,
        )
        return Project.from_json(expect_object(body, "POST v1pre3/projects"))

    async def create_appresult(self, project_id: str, name: str) -> AppResult:
        """A new AppResult in the project, with a new Running AppSession of its own."""
        return await uploads.create_appresult(self, project_id, name)

    async def get_content_url(self, file_id: str) -> ContentUrl:
        """Resolve a file's pre-signed content URL (``files/{id}/content?redirect=meta``)."""
        body = await self._call(
            "GET",
            f"v1pre3/files/{segment(file_id)}/content",
            params={"redirect": "meta"},
            kind="content-url",
        )
        url = parse_content_url(unwrap(body))
        if url is None:
            raise TransportError(f"files/{file_id}/content: no HrefContent in the answer")
        return url
