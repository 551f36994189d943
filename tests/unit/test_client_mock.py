"""BaseSpaceClient and ContentReader against httpx.MockTransport: shapes, paging, errors, retries,
content URL caching, ranged-read verification, and no token in any error text or log record."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import trio

from bsmount import __version__
from bsmount._types import FileVersion
from bsmount.api import BaseSpaceClient, ContentReader, RetryPolicy
from bsmount.api.http import check_api_server
from bsmount.errors import (
    ApiError,
    BadRequest,
    ConfigError,
    ContentUrlExpired,
    Forbidden,
    Gone,
    IntegrityError,
    NotFound,
    RateLimited,
    ServerError,
    StaleFileError,
    TransportError,
    Unauthorized,
)

API = "https://api.test"
TOKEN = "0123456789abcdef0123456789abcdef"
Handler = Callable[[httpx.Request], httpx.Response]


def v1(obj: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"Response": obj, "ResponseStatus": {}, "Notifications": []})


def v1_error(status: int, code: str, message: str) -> httpx.Response:
    body = {
        "ResponseStatus": {"ErrorCode": code, "Message": message},
        "Notifications": [{"Type": "error", "Item": message}],
    }
    return httpx.Response(status, json=body)


class Fake:
    """A scripted BaseSpace: routes by (method, path regex) -> handler; logs every request."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.log: list[httpx.Request] = []

    def on(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.insert(0, (method, re.compile(pattern), handler))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.log.append(request)
        for method, pattern, handler in self.routes:
            if method == request.method and pattern.fullmatch(request.url.path):
                return handler(request)
        return httpx.Response(
            404, json={"ResponseStatus": {"Message": "This isn't a recognized path."}}
        )

    def paths(self, prefix: str = "") -> list[str]:
        return [r.url.path for r in self.log if r.url.path.startswith(prefix)]


def make_client(fake: Fake, **kw: Any) -> BaseSpaceClient:
    kw.setdefault(
        "retry_policy", RetryPolicy(base=0.01, cap=0.05, deadline=30.0, rng=random.Random(0))
    )
    return BaseSpaceClient(API, TOKEN, transport=httpx.MockTransport(fake), **kw)


def paged(
    items: list[dict[str, Any]], *, v2: bool = False, cap: int = 1024, total: bool = True
) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        q = {k.lower(): v for k, v in request.url.params.items()}
        offset, limit = int(q.get("offset", 0)), min(int(q.get("limit", 10)), cap)
        page = items[offset : offset + limit]
        counts: dict[str, Any] = {"DisplayedCount": len(page), "Offset": offset, "Limit": limit}
        if total:
            counts["TotalCount"] = len(items)
        if v2:
            return httpx.Response(200, json={"Items": page, "Paging": counts})
        return v1({"Items": page, **counts})

    return handler


# --- construction, headers, URLs -----------------------------------------------------------------


def test_check_api_server() -> None:
    assert (
        check_api_server("https://api.basespace.illumina.com/")
        == "https://api.basespace.illumina.com"
    )
    assert check_api_server("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert check_api_server("http://[::1]:80/") == "http://[::1]:80"
    assert check_api_server("http://localhost:1") == "http://localhost:1"
    for bad in ("http://api.basespace.illumina.com", "ftp://x", "api.basespace.illumina.com"):
        with pytest.raises(ConfigError):
            check_api_server(bad)
    with pytest.raises(ConfigError):
        BaseSpaceClient("http://example.com", TOKEN)


async def test_headers_and_user_agent() -> None:
    fake = Fake()
    fake.on(
        "GET", "/v1pre3/users/current", lambda r: v1({"Id": "1", "Name": "Me", "Email": "me@x"})
    )
    async with make_client(fake) as client:
        user = await client.current_user()
    assert (user.id, user.name, user.email) == ("1", "Me", "me@x")
    req = fake.log[0]
    assert req.headers["user-agent"] == f"bsmount/{__version__}"
    assert req.headers["x-access-token"] == TOKEN
    assert str(req.url) == f"{API}/v1pre3/users/current"


def test_absolute_url_and_curl() -> None:
    client = make_client(Fake())
    assert client.api_server == API
    assert client.absolute_url("v1pre3/files/1") == f"{API}/v1pre3/files/1"
    assert client.absolute_url(f"{API}/v2/files/1") == f"{API}/v2/files/1"
    assert client.curl_command("v1pre3/projects/2") == (
        f"curl -H \"x-access-token: $BASESPACE_ACCESS_TOKEN\" '{API}/v1pre3/projects/2'"
    )
    assert TOKEN not in client.curl_command("v1pre3/x")
    assert "'\\''" in client.curl_command("v1pre3/it's")


@pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.api\.client: href on another host \(evil\.example\) rebased",
)
async def test_href_on_foreign_host_is_rebased() -> None:
    fake = Fake()
    fake.on("GET", "/v2/datasets/ds.1", lambda r: httpx.Response(200, json={"Id": "ds.1"}))
    async with make_client(fake) as client:
        body = await client.get_json("https://evil.example/v2/datasets/ds.1")
    assert body == {"Id": "ds.1"}
    assert fake.log[0].url.host == "api.test"  # the token never left for another host


async def test_hostile_ids_never_become_paths() -> None:
    fake = Fake()
    async with make_client(fake) as client:
        for bad in ("..", "../users/current", "a/b", "", ".", "x y"):
            with pytest.raises(NotFound):
                await client.get_project(bad)
    assert fake.log == []


# --- typed calls and shapes ---------------------------------------------------------------------


async def test_entities_from_v1_and_v2() -> None:
    fake = Fake()
    fake.on(
        "GET",
        "/v1pre3/projects/7",
        lambda r: v1({"Id": "7", "Name": "P", "TotalSize": 12, "Extra": 1}),
    )
    fake.on(
        "GET",
        "/v2/datasets/ds.abc",
        lambda r: httpx.Response(200, json={"Id": "ds.abc", "Name": "D", "Project": {"Id": "7"}}),
    )
    fake.on(
        "GET",
        "/v2/appsessions/5",
        lambda r: httpx.Response(200, json={"Id": "5", "ExecutionStatus": "Running"}),
    )
    fake.on(
        "GET",
        "/v1pre3/files/9",
        lambda r: v1(
            {"Id": "9", "Name": "a.txt", "Size": 3, "ETag": "e", "UploadStatus": "pending"}
        ),
    )
    async with make_client(fake) as client:
        project = await client.get_project("7")
        assert project.total_size == 12 and project.raw["Extra"] == 1
        dataset = await client.get_entity("datasets", "ds.abc")
        assert dataset.kind == "datasets" and dataset.project_id == "7"  # type: ignore[attr-defined]
        assert (await client.get_appsession("5")).status == "Running"
        f = await client.get_file("9")
        assert f.upload_status == "pending" and f.version() == FileVersion("9", 3, "e")
        with pytest.raises(ValueError):
            await client.get_entity("nonsense", "1")
        raw = await client.get_json("v1pre3/projects/7")
        assert raw["ResponseStatus"] == {} and raw["Response"]["Id"] == "7"


async def test_list_calls_use_the_right_routes_and_filters() -> None:
    fake = Fake()
    for pattern in (
        "/v1pre3/users/current/projects",
        "/v1pre3/projects/1/samples",
        "/v1pre3/projects/1/appresults",
        "/v1pre3/users/current/runs",
        "/v1pre3/samples/2/files",
        "/v1pre3/appresults/3/files",
        "/v1pre3/genomes",
    ):
        fake.on("GET", pattern, paged([{"Id": "1", "Name": "x"}]))
    for pattern in ("/v2/appsessions", "/v2/biosamples", "/v2/datasets", "/v2/datasets/ds.1/files"):
        fake.on("GET", pattern, paged([{"Id": "1", "Name": "x"}], v2=True))
    async with make_client(fake) as client:
        await client.list_projects()
        await client.list_samples("1")
        await client.list_appresults("1")
        await client.list_runs()
        await client.list_sample_files("2")
        await client.list_appresult_files("3")
        await client.list_genomes()
        await client.list_appsessions("1")
        await client.list_biosamples(project_id="1")
        await client.list_datasets(project_id="1", biosample_id="2", appsession_id="3")
        files = await client.list_dataset_files("ds.1")
    assert files[0].name == "x"
    by_path = {r.url.path: r.url.params for r in fake.log}
    assert by_path["/v2/appsessions"]["output.projects"] == "1"
    assert by_path["/v2/biosamples"]["projectid"] == "1"
    assert (
        dict(by_path["/v2/datasets"]).items()
        >= {
            "projectid": "1",
            "inputbiosamples": "2",
            "appsessionids": "3",
        }.items()
    )
    assert by_path["/v1pre3/users/current/projects"]["Limit"] == "1024"
    assert by_path["/v1pre3/samples/2/files"]["Limit"] == "1000"
    assert by_path["/v2/datasets/ds.1/files"]["limit"] == "1000"
    assert by_path["/v2/biosamples"]["limit"] == "1024"


async def test_run_directory_and_subdirectories() -> None:
    fake = Fake()

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["directory"] == "/Data/Intensities"
        assert request.url.params["recursive"] == "false"
        return httpx.Response(
            200,
            json={
                "Items": [
                    {
                        "Id": "11",
                        "Name": "config.xml",
                        "Path": "Data/Intensities/config.xml",
                        "Size": 5,
                    }
                ],
                "SubDirectories": [
                    {"Href": "x", "Name": "BaseCalls"},
                    {"Name": "Data/Intensities/L001/"},
                    {"Name": "BaseCalls"},
                ],
                "Paging": {"DisplayedCount": 1, "TotalCount": 1, "Offset": 0, "Limit": 1000},
            },
        )

    fake.on("GET", "/v2/runs/5/files", handler)
    async with make_client(fake) as client:
        d = await client.list_run_directory("5", "Data/Intensities/")
    assert [f.path for f in d.files] == ["Data/Intensities/config.xml"]
    assert d.subdirectories == ["BaseCalls", "L001"]


async def test_properties_with_item_completion() -> None:
    fake = Fake()
    props: list[dict[str, Any]] = [
        {"Type": "string", "Name": "a", "Content": "x"},
        {
            "Type": "run[]",
            "Name": "Input.Runs",
            "Items": [{"Id": "1"}],
            "HrefItems": "v1pre3/samples/4/properties/Input.Runs/items",
            "ItemsDisplayedCount": 1,
            "ItemsTotalCount": 3,
        },
    ]
    fake.on("GET", "/v1pre3/samples/4/properties", paged(props))
    fake.on(
        "GET",
        "/v1pre3/samples/4/properties/Input.Runs/items",
        paged([{"Id": str(i), "Content": {"Id": str(i), "Name": f"run{i}"}} for i in (1, 2, 3)]),
    )
    fake.on(
        "GET",
        "/v2/datasets/ds.1/properties",
        paged([{"Type": "string[]", "Name": "s", "ContentItems": ["q"]}], v2=True),
    )
    async with make_client(fake) as client:
        got = await client.get_properties("samples", "4")
        assert got[0].value == "x"
        assert [r["id"] for r in got[1].value] == ["1", "2", "3"]
        assert (await client.get_properties("datasets", "ds.1"))[0].value == ["q"]


async def test_create_project_posts_json() -> None:
    fake = Fake()

    def create(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return v1({"Id": "99", "Name": body["Name"], "Description": body["Description"]}, 201)

    fake.on("POST", "/v1pre3/projects", create)
    async with make_client(fake) as client:
        p = await client.create_project("New: (one)", "desc")
    assert (p.id, p.name, p.description) == ("99", "New: (one)", "desc")


async def test_create_project_not_repeated_on_ambiguous_failure() -> None:
    fake = Fake()
    fake.on("POST", "/v1pre3/projects", lambda r: httpx.Response(500, text="oops"))
    async with make_client(fake) as client:
        with pytest.raises(ServerError):
            await client.create_project("x")
    assert len(fake.log) == 1
    fake2 = Fake()
    answers = iter([httpx.Response(503), v1({"Id": "1", "Name": "x"}, 201)])
    fake2.on("POST", "/v1pre3/projects", lambda r: next(answers))
    async with make_client(fake2) as client:
        assert (await client.create_project("x")).id == "1"
    assert len(fake2.log) == 2


# --- pagination ---------------------------------------------------------------------------------


async def test_full_pagination_v1_with_server_cap() -> None:
    items = [{"Id": str(i), "Name": f"s{i}"} for i in range(2600)]
    fake = Fake()
    fake.on("GET", "/v1pre3/projects/1/samples", paged(items, cap=1000))
    async with make_client(fake) as client:
        got = await client.list_items("v1pre3/projects/1/samples")
    assert [g["Id"] for g in got] == [str(i) for i in range(2600)]
    offsets = sorted(int(r.url.params["Offset"]) for r in fake.log)
    assert offsets == [0, 1000, 2000]


async def test_full_pagination_v2_concurrent_and_ordered() -> None:
    items = [{"Id": f"ds.{i:032x}"} for i in range(5000)]
    fake = Fake()
    fake.on("GET", "/v2/datasets", paged(items, v2=True))
    async with make_client(fake) as client:
        got = await client.list_items("v2/datasets", {"projectid": "1", "Limit": "3"})
    assert [g["Id"] for g in got] == [i["Id"] for i in items]
    assert len(fake.log) == 5
    assert all(r.url.params["projectid"] == "1" and "Limit" not in r.url.params for r in fake.log)


async def test_pagination_without_total_walks_until_empty() -> None:
    items = [{"Id": str(i)} for i in range(2100)]
    fake = Fake()
    fake.on("GET", "/v2/runs/1/files", paged(items, v2=True, total=False))
    async with make_client(fake) as client:
        got = await client.list_items("v2/runs/1/files")
    assert len(got) == 2100 and len(fake.log) == 4  # 1000 + 1000 + 100 + one empty page


async def test_pagination_short_pages_and_shrinking_collection() -> None:
    items = [{"Id": str(i)} for i in range(2500)]
    state = {"calls": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        state["calls"] += 1
        offset, limit = int(request.url.params["Offset"]), int(request.url.params["Limit"])
        limit = min(limit, 700 if offset else 1024)  # later pages come back shorter than asked
        page = items[offset : offset + limit]
        return v1({"Items": page, "TotalCount": 3000, "DisplayedCount": len(page)})  # claims 3000

    fake = Fake()
    fake.on("GET", "/v1pre3/users/current/projects", handler)
    async with make_client(fake) as client:
        got = await client.list_items("v1pre3/users/current/projects")
    assert [g["Id"] for g in got] == [str(i) for i in range(2500)]


async def test_failing_page_raises_a_plain_error(autojump_clock: trio.abc.Clock) -> None:
    items = [{"Id": str(i)} for i in range(5000)]
    good = paged(items)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["Offset"] == "2048":
            return v1_error(404, "BASESPACE.GONE", "went away")
        return good(request)

    fake = Fake()
    fake.on("GET", "/v1pre3/users/current/projects", handler)
    async with make_client(fake) as client:
        with pytest.raises(NotFound):  # not an ExceptionGroup from the page workers
            await client.list_projects()


def test_bad_tokens_refused_without_echo() -> None:
    for bad in ("", "with space", "new\nline", "tab\there", "é" * 4):
        with pytest.raises(ConfigError) as info:
            BaseSpaceClient(API, bad, transport=httpx.MockTransport(Fake()))
        assert bad not in str(info.value) or bad == ""


@pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.api\.paging: dropped 1 malformed entries of a list",
)
async def test_pagination_dedupes_and_rejects_empty_first_page() -> None:
    fake = Fake()
    fake.on(
        "GET",
        "/v1pre3/genomes",
        lambda r: v1({"Items": [{"Id": "1"}, {"Id": "1"}, "junk", {"Id": "2"}], "TotalCount": 4}),
    )
    fake.on("GET", "/v1pre3/users/current/runs", lambda r: v1({"Items": [], "TotalCount": 5}))
    fake.on("GET", "/v1pre3/users/current/projects", lambda r: v1({"NoItems": True}))
    async with make_client(fake) as client:
        assert [g["Id"] for g in await client.list_items("v1pre3/genomes")] == ["1", "2"]
        with pytest.raises(TransportError):
            await client.list_items("v1pre3/users/current/runs")
        with pytest.raises(TransportError):
            await client.list_items("v1pre3/users/current/projects")


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (410, Gone),
        (418, ApiError),
    ],
)
async def test_error_mapping_not_retried(status: int, cls: type[ApiError]) -> None:
    fake = Fake()
    fake.on("GET", "/v1pre3/projects/1", lambda r: v1_error(status, "BASESPACE.X", "nope"))
    async with make_client(fake) as client:
        with pytest.raises(cls) as info:
            await client.get_project("1")
    assert type(info.value) is cls and info.value.status == status
    assert info.value.error_code == "BASESPACE.X" and "nope" in str(info.value)
    assert len(fake.log) == 1
    assert client.counters.errors == 1 and client.counters.retries == 0


async def test_unknown_path_404_message_only() -> None:
    async with make_client(Fake()) as client:
        with pytest.raises(NotFound) as info:
            await client.get_json("v2/v2/datasets")
    assert info.value.error_code == "" and "recognized path" in info.value.message


async def test_200_with_error_code_is_bad_request() -> None:
    fake = Fake()
    fake.on("GET", "/v1pre3/projects/1", lambda r: v1_error(200, "BASESPACE.WEIRD", "error in 200"))
    async with make_client(fake) as client:
        with pytest.raises(BadRequest, match=r"BASESPACE\.WEIRD"):
            await client.get_project("1")


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
async def test_retryable_statuses_then_success(status: int, autojump_clock: trio.abc.Clock) -> None:
    answers = iter(
        [httpx.Response(status, text="<html>busy</html>"), httpx.Response(status), v1({"Id": "1"})]
    )
    fake = Fake()
    fake.on("GET", "/v1pre3/projects/1", lambda r: next(answers))
    async with make_client(fake) as client:
        assert (await client.get_project("1")).id == "1"
    assert len(fake.log) == 3 and client.counters.retries == 2


@pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.api\.retry: giving up on GET \S+/projects/1 after 4 attempts: HTTP 502",
)
async def test_retries_exhausted_gives_the_last_error(autojump_clock: trio.abc.Clock) -> None:
    fake = Fake()
    fake.on(
        "GET", "/v1pre3/projects/1", lambda r: httpx.Response(502, text="<html>bad gateway</html>")
    )
    async with make_client(fake, max_retries=3, retry_policy=None) as client:
        with pytest.raises(ServerError) as info:
            await client.get_project("1")
    assert info.value.status == 502 and len(fake.log) == 4


async def test_retry_after_honoured(autojump_clock: trio.abc.Clock) -> None:
    stamps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        stamps.append(trio.current_time())
        if len(stamps) == 1:
            return httpx.Response(429, headers={"Retry-After": "3"}, json={"ErrorMessage": "slow"})
        return v1({"Id": "1"})

    fake = Fake()
    fake.on("GET", "/v1pre3/projects/1", handler)
    async with make_client(fake) as client:
        await client.get_project("1")
    assert stamps[1] - stamps[0] == pytest.approx(3.0)


@pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.api\.retry: giving up on GET \S+/projects/1 after 2 attempts: HTTP 429",
)
async def test_rate_limited_carries_retry_after(autojump_clock: trio.abc.Clock) -> None:
    fake = Fake()
    fake.on(
        "GET", "/v1pre3/projects/1", lambda r: httpx.Response(429, headers={"Retry-After": "1"})
    )
    async with make_client(fake, retry_policy=RetryPolicy(max_retries=1)) as client:
        with pytest.raises(RateLimited) as info:
            await client.get_project("1")
    assert info.value.retry_after == 1.0


@pytest.mark.expect_log_warnings(
    r"bsmount\.api\.retry: giving up on GET \S+/projects/1 after 3 attempts: .* not JSON",
)
async def test_html_instead_of_json(autojump_clock: trio.abc.Clock) -> None:
    fake = Fake()
    html = "<!DOCTYPE html><html><body>Maintenance</body></html>"
    fake.on(
        "GET",
        "/v1pre3/projects/1",
        lambda r: httpx.Response(200, text=html, headers={"content-type": "text/html"}),
    )
    fake.on(
        "GET", "/v1pre3/projects/2", lambda r: httpx.Response(200, json=["not", "an", "object"])
    )
    async with make_client(fake, retry_policy=RetryPolicy(max_retries=2)) as client:
        with pytest.raises(TransportError, match="not JSON"):
            await client.get_project("1")
        assert len(fake.log) == 3
        with pytest.raises(TransportError, match="expected a JSON object"):
            await client.get_project("2")


@pytest.mark.expect_log_warnings(
    r"bsmount\.api\.retry: giving up on GET \S+/projects/1 after 3 attempts: ConnectError",
)
async def test_connection_errors_retried_then_transport_error(
    autojump_clock: trio.abc.Clock,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    fake = Fake()
    fake.on("GET", "/v1pre3/projects/1", refuse)
    async with make_client(fake, retry_policy=RetryPolicy(max_retries=2)) as client:
        with pytest.raises(TransportError, match="ConnectError"):
            await client.get_project("1")
    assert len(fake.log) == 3


@pytest.mark.expect_log_warnings(
    r"bsmount\.api\.retry: giving up on GET \S+/projects/2 after 3 attempts: HTTP 503",
    r"bsmount\.api\.retry: giving up on GET \S+/projects/3 after 3 attempts: .* not JSON",
)
async def test_token_never_in_errors_or_logs(
    caplog: pytest.LogCaptureFixture, autojump_clock: trio.abc.Clock
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = Fake()
    echo = f"bad token {TOKEN} in https://x/?access_token={TOKEN}"
    fake.on("GET", "/v1pre3/projects/1", lambda r: v1_error(401, f"AUTH.{TOKEN}", echo))
    fake.on(
        "GET",
        "/v1pre3/projects/2",
        lambda r: httpx.Response(503, json={"ResponseStatus": {"Message": echo}}),
    )
    fake.on(
        "GET", "/v1pre3/projects/3", lambda r: httpx.Response(200, text=f"<html>{TOKEN}</html>")
    )
    errors: list[BaseException] = []
    async with make_client(fake, retry_policy=RetryPolicy(max_retries=2)) as client:
        for pid in ("1", "2", "3"):
            try:
                await client.get_json(f"v1pre3/projects/{pid}", {"access_token": TOKEN})
            except Exception as exc:
                errors.append(exc)
    assert len(errors) == 3
    for error in errors:
        assert TOKEN not in str(error) and TOKEN not in repr(error)
        assert TOKEN not in str(getattr(error, "url", ""))
    for record in caplog.records:
        assert TOKEN not in record.getMessage()


# --- content ------------------------------------------------------------------------------------


class Body(httpx.SyncByteStream):
    """A streamed body in small chunks (like the network); can fail after ``fail_after`` bytes.
    (Sync: blob reads reach the fake through bsmount.api.mock_network, which reads it as the
    bytes of a connection.)"""

    def __init__(self, data: bytes, fail_after: int | None = None, chunk: int = 1024) -> None:
        self.data, self.fail_after, self.chunk = data, fail_after, chunk

    def __iter__(self):  # type: ignore[no-untyped-def]
        for i in range(0, len(self.data), self.chunk):
            if self.fail_after is not None and i >= self.fail_after:
                raise httpx.ReadError("connection reset by peer")
            yield self.data[i : i + self.chunk]


def streamed(
    status: int, data: bytes, headers: dict[str, str], fail_after: int | None = None
) -> httpx.Response:
    headers = {"Content-Length": str(len(data)), **headers}
    return httpx.Response(status, headers=headers, stream=Body(data, fail_after))


class Blob:
    """A fake S3 object behind signed URLs, with scriptable misbehaviour."""

    def __init__(self, data: bytes, etag: str = "abc-2") -> None:
        self.data = data
        self.etag = etag
        self.generation = 0
        self.expire_urls: set[int] = set()  # generations whose URL is refused
        self.faults: list[str] = []  # consumed one per blob request
        self.ttl = timedelta(days=7)
        self.down_until = 0.0  # trio time before which connections are refused (backend down)

    def install(self, fake: Fake, file_id: str = "5") -> None:
        fake.on("GET", f"/v1pre3/files/{file_id}/content", self.meta)
        fake.on("GET", r"/blob/.*", self.serve)

    def meta(self, request: httpx.Request) -> httpx.Response:
        assert request.url.params["redirect"] == "meta"
        self.generation += 1
        expires = datetime.now(UTC) + self.ttl
        url = (
            f"https://bucket.test/blob/k?gen={self.generation}&Signature=sig{self.generation}secret"
        )
        return v1(
            {
                "Expires": expires.isoformat().replace("+00:00", "Z"),
                "HrefContent": url,
                "SupportsRange": True,
            }
        )

    def serve(self, request: httpx.Request) -> httpx.Response:
        assert "x-access-token" not in request.headers and "authorization" not in request.headers
        if int(request.url.params["gen"]) in self.expire_urls:
            return httpx.Response(403, text="<Error><Code>AccessDenied</Code></Error>")
        if trio.current_time() < self.down_until:
            raise httpx.ConnectError("connection refused", request=request)
        fault = self.faults.pop(0) if self.faults else ""
        m = re.fullmatch(r"bytes=(\d+)-(\d+)", request.headers["range"])
        assert m is not None
        a, b = int(m.group(1)), int(m.group(2))
        body = self.data[a : b + 1]
        headers = {"ETag": f'"{self.etag}"', "Content-Range": f"bytes {a}-{b}/{len(self.data)}"}
        if fault == "etag":
            headers["ETag"] = '"other-2"'
        if fault == "ignore_range":
            return streamed(200, self.data, {"ETag": headers["ETag"]})
        if fault == "wrong_range":
            headers["Content-Range"] = f"bytes {a + 1}-{b + 1}/{len(self.data)}"
        if fault == "short":  # fewer bytes than promised, then a clean end
            return httpx.Response(
                206,
                headers={**headers, "Content-Length": str(len(body))},
                stream=Body(body[: len(body) // 2]),
            )
        if fault == "503":
            return httpx.Response(503)
        if fault == "corrupt":
            body = bytes([body[0] ^ 1]) + body[1:]
        if fault == "reset":  # half the body, then the connection dies
            return streamed(206, body, headers, fail_after=len(body) // 2)
        if fault == "refuse":
            raise httpx.ConnectError("connection refused", request=request)
        return streamed(206, body, headers)


def setup_content(
    data: bytes, etag: str = "abc-2", **kw: Any
) -> tuple[Fake, Blob, BaseSpaceClient, FileVersion]:
    fake = Fake()
    blob = Blob(data, etag)
    blob.install(fake)
    client = make_client(fake, **kw)
    return fake, blob, client, FileVersion("5", len(data), etag)


DATA = bytes(random.Random(7).randrange(256) for _ in range(100_000))


async def test_ranged_reads_reuse_one_url() -> None:
    fake, _, client, version = setup_content(DATA)
    reader = ContentReader(client)
    rng = random.Random(3)
    for _ in range(50):
        a = rng.randrange(len(DATA))
        b = a + rng.randrange(1, 5000)
        assert await reader.read_range(version, a, b) == DATA[a : min(b, len(DATA))]
    assert fake.paths().count("/v1pre3/files/5/content") == 1
    assert client.counters.requests["blob"] == 50 and client.counters.requests["content-url"] == 1
    assert await reader.read_range(version, len(DATA), len(DATA) + 10) == b""
    assert await reader.read_range(version, 5, 5) == b""
    with pytest.raises(ValueError):
        await reader.read_range(version, -1, 3)
    await client.aclose()


async def test_url_from_a_listing_saves_the_api_request() -> None:
    fake, _, client, version = setup_content(DATA)
    reader = ContentReader(client)
    listed = "https://bucket.test/blob/k?gen=0&Signature=listed"
    assert not reader.remember_url("5", "v1pre3/files/5/content")  # an API path, not a URL
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    assert not reader.remember_url("5", listed, past)  # already expired
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert reader.remember_url("5", listed, later)
    assert await reader.read_range(version, 10, 5000) == DATA[10:5000]
    assert fake.paths().count("/v1pre3/files/5/content") == 0
    assert client.counters.requests.get("content-url", 0) == 0
    await client.aclose()


async def test_content_url_single_flight() -> None:
    fake, _, client, _ = setup_content(DATA)
    reader = ContentReader(client)
    urls = []

    async def get() -> None:
        urls.append(await reader.content_url("5"))

    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(get)
    assert len({u.url for u in urls}) == 1 and len(fake.log) == 1


async def test_url_refreshed_after_expiry_margin() -> None:
    fake, blob, client, version = setup_content(DATA)
    now = [datetime.now(UTC)]
    reader = ContentReader(client, url_margin=300.0, clock=lambda: now[0])
    await reader.read_range(version, 0, 10)
    now[0] += timedelta(days=7) - timedelta(seconds=301)
    await reader.read_range(version, 0, 10)
    assert fake.paths().count("/v1pre3/files/5/content") == 1
    now[0] += timedelta(seconds=2)  # inside the margin: resolve again
    await reader.read_range(version, 0, 10)
    assert fake.paths().count("/v1pre3/files/5/content") == 2
    # a short-lived URL is still reused: the margin never exceeds half its lifetime
    blob.ttl = timedelta(seconds=60)
    reader2 = ContentReader(client, url_margin=300.0)
    await reader2.read_range(version, 0, 10)
    await reader2.read_range(version, 0, 10)
    assert fake.paths().count("/v1pre3/files/5/content") == 3


@pytest.mark.expect_log_warnings(
    r"bsmount\.api\.content: read of file 5 bytes 10-19 failed: blob store refused the URL",
)
async def test_403_refreshes_url_once() -> None:
    fake, blob, client, version = setup_content(DATA)
    reader = ContentReader(client)
    await reader.read_range(version, 0, 10)
    blob.expire_urls.add(1)
    assert await reader.read_range(version, 10, 20) == DATA[10:20]
    assert fake.paths().count("/v1pre3/files/5/content") == 2
    blob.expire_urls.update({2, 3, 4})
    with pytest.raises(ContentUrlExpired):
        await reader.read_range(version, 10, 20)
    assert fake.paths().count("/v1pre3/files/5/content") == 3


@pytest.mark.expect_log_warnings(
    r"bsmount\.api\.content: read of file 5 bytes 0-99 failed: file changed: ETag other-2",
)
async def test_etag_change_is_stale_not_retried() -> None:
    fake, blob, client, version = setup_content(DATA)
    reader = ContentReader(client)
    blob.faults = ["etag"]
    with pytest.raises(StaleFileError):
        await reader.read_range(version, 0, 100)
    assert len(fake.paths("/blob")) == 1


@pytest.mark.parametrize("fault", ["ignore_range", "wrong_range", "short", "503", "reset"])
async def test_wrong_answers_are_retried(fault: str, autojump_clock: trio.abc.Clock) -> None:
    fake, blob, client, version = setup_content(DATA)
    reader = ContentReader(client)
    blob.faults = [fault, fault]
    assert await reader.read_range(version, 1000, 9000) == DATA[1000:9000]
    assert len(fake.paths("/blob")) == 3 and client.counters.retries == 2


@pytest.mark.expect_log_warnings(
    r"bsmount\.api\.content: read of file 5 bytes 1000-8999 failed: HTTP 200 \(whole object\)",
    r"bsmount\.api\.content: read of file 5 bytes 1000-8999 failed: Content-Range .* not match",
)
@pytest.mark.parametrize("fault", ["ignore_range", "wrong_range"])
async def test_wrong_answers_end_as_integrity_error(
    fault: str, autojump_clock: trio.abc.Clock
) -> None:
    _, blob, client, version = setup_content(DATA, retry_policy=RetryPolicy(max_retries=2))
    reader = ContentReader(client)
    blob.faults = [fault] * 10
    with pytest.raises(IntegrityError):
        await reader.read_range(version, 1000, 9000)


async def test_short_bodies_keep_progressing(autojump_clock: trio.abc.Clock) -> None:
    """Each short body is progress: the read resumes again and again and completes."""
    fake, blob, client, version = setup_content(DATA, retry_policy=RetryPolicy(max_retries=1))
    reader = ContentReader(client)
    blob.faults = ["short"] * 8
    assert await reader.read_range(version, 1000, 9000) == DATA[1000:9000]
    assert len(fake.paths("/blob")) == 9


async def test_short_body_resumes_at_the_right_offset(autojump_clock: trio.abc.Clock) -> None:
    fake, blob, client, version = setup_content(DATA)
    reader = ContentReader(client)
    blob.faults = ["short"]
    assert await reader.read_range(version, 100, 20100) == DATA[100:20100]
    ranges = [r.headers["range"] for r in fake.log if r.url.path.startswith("/blob")]
    assert ranges == ["bytes=100-20099", "bytes=10100-20099"]
    assert client.counters.bytes_fetched == 20000


@pytest.mark.expect_log_warnings(
    r"bsmount\.api\.content: read of file 5 bytes 0-99999 failed: file 5: MD5 \w+ of the whole",
)
async def test_whole_file_read_checked_against_md5(autojump_clock: trio.abc.Clock) -> None:
    md5 = hashlib.md5(DATA).hexdigest()
    fake, blob, client, version = setup_content(DATA, etag=md5)
    reader = ContentReader(client)
    blob.faults = ["corrupt"]
    assert await reader.read_range(version, 0, len(DATA)) == DATA
    assert len(fake.paths("/blob")) == 2
    blob.faults = ["corrupt"] * 10
    with pytest.raises(IntegrityError, match="MD5"):
        await reader.read_range(version, 0, len(DATA))
    blob.faults = ["ignore_range"]  # a 200 is fine when the whole object was asked
    assert await reader.read_range(version, 0, len(DATA) + 50) == DATA


@pytest.mark.expect_log_warnings(
    r"bsmount\.api\.retry: giving up on read of file 5 bytes 0-4999: .*ConnectError",
    r"bsmount\.api\.content: read of file 5 bytes 0-4999 failed: .*ConnectError",
)
async def test_backend_down_then_back_is_survived(autojump_clock: trio.abc.Clock) -> None:
    _, blob, client, version = setup_content(DATA)
    reader = ContentReader(client)
    await reader.content_url("5")
    start = trio.current_time()
    blob.down_until = start + 20.0  # down for 20 s, inside the 60 s io_deadline
    assert await reader.read_range(version, 0, 5000) == DATA[:5000]
    assert trio.current_time() - start >= 20.0
    blob.down_until = trio.current_time() + 1000.0  # down for good: bounded by the deadline
    start = trio.current_time()
    with pytest.raises(TransportError, match="ConnectError"):
        await reader.read_range(version, 0, 5000)
    assert trio.current_time() - start <= 60.0


async def test_stream_range_yields_parts() -> None:
    _, _, client, version = setup_content(DATA)
    reader = ContentReader(client, part_size=30_000)
    parts = [p async for p in reader.stream_range(version, 5, 95_000)]
    assert [len(p) for p in parts] == [30_000, 30_000, 30_000, 4_995]
    assert b"".join(parts) == DATA[5:95_000]


@pytest.mark.expect_log_warnings(
    r"bsmount\.api\.content: read of file 8 bytes 0-4 failed: HTTP 403 BASESPACE\.COMMON\.INSUF",
)
async def test_unknown_file_content_is_forbidden() -> None:
    fake = Fake()
    fake.on(
        "GET",
        "/v1pre3/files/8/content",
        lambda r: v1_error(403, "BASESPACE.COMMON.INSUFFICIENT_RESOURCE_PERMISSIONS", "no"),
    )
    async with make_client(fake) as client:
        with pytest.raises(Forbidden):
            await ContentReader(client).read_range(FileVersion("8", 10, None), 0, 5)
    assert len(fake.log) == 1


@pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.api\.retry: giving up on read of file 5 bytes 0-9: .*HTTP 503",
    r"WARNING bsmount\.api\.content: read of file 5 bytes 0-9 failed: HTTP 503: blob store error",
)
async def test_blob_errors_name_no_signature(
    caplog: pytest.LogCaptureFixture, autojump_clock: trio.abc.Clock
) -> None:
    caplog.set_level(logging.DEBUG)
    _, blob, client, version = setup_content(DATA, retry_policy=RetryPolicy(max_retries=1))
    reader = ContentReader(client)
    blob.faults = ["503"] * 10_000  # an outage: retried until the stall deadline, then given up
    start = trio.current_time()
    with pytest.raises(ServerError) as info:
        await reader.read_range(version, 0, 10)
    assert 55.0 <= trio.current_time() - start <= 60.0
    assert "sig1secret" not in str(info.value)
    assert all("sig1secret" not in r.getMessage() for r in caplog.records)
    assert any("file 5" in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
