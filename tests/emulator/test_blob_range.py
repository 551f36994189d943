"""The blob route of a real emulator process: HTTP Range, headers, signatures and expiry."""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from bsmount.emulator.blobs.content import GeneratedContent, generated_bytes
from tests.emulator_proc import (
    SMALL_FILES,
    SMALL_HUGE_SIZE,
    SMALL_MID_SIZE,
    EmulatorProcess,
    small_local_bytes,
    write_small_seed,
)


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    seed = write_small_seed(tmp_path_factory.mktemp("seed"))
    with EmulatorProcess(seed) as proc:
        yield proc


def url_of(emu: EmulatorProcess, name: str) -> str:
    file_id, file_name = SMALL_FILES[name]
    return emu.content_url(file_id, file_name)


def get(url: str, range_header: str | None = None, **headers: str) -> httpx.Response:
    if range_header is not None:
        headers["Range"] = range_header
    return httpx.get(url, headers=headers, timeout=30)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


MID = b"".join(GeneratedContent(SMALL_MID_SIZE, 3).iter_range(0, SMALL_MID_SIZE))


def test_whole_body_and_s3_headers(emu: EmulatorProcess) -> None:
    response = get(url_of(emu, "mid"))
    assert response.status_code == 200
    assert response.content == MID
    h = response.headers
    assert h["accept-ranges"] == "bytes"
    assert h["content-length"] == str(SMALL_MID_SIZE)
    assert h["etag"] == f'"{GeneratedContent(SMALL_MID_SIZE, 3).etag}"'
    assert re.fullmatch(r'"[0-9a-f]{32}-1"', h["etag"])
    assert parsedate_to_datetime(h["last-modified"]).tzinfo is not None
    assert h["content-type"] == "application/octet-stream"
    assert h["content-disposition"] == "filename=mid.bin"
    assert "content-range" not in h


def test_literal_and_local_file_content(emu: EmulatorProcess) -> None:
    hello = get(url_of(emu, "hello"))
    assert hello.content == b"hello world\n"
    hello_md5 = hashlib.md5(b"hello world\n").hexdigest()
    assert hello.headers["etag"] == f'"{hello_md5}"'
    local = get(url_of(emu, "local"))
    data = small_local_bytes()
    assert local.content == data
    assert local.headers["etag"] == f'"{hashlib.md5(data).hexdigest()}"'
    part = get(url_of(emu, "local"), "bytes=1048570-2097160")
    assert part.status_code == 206
    assert part.content == data[1048570:2097161]


def test_awkward_file_name_round_trips(emu: EmulatorProcess) -> None:
    url = url_of(emu, "odd")
    assert "%20" in url and "%3A" in url  # the name is quoted in the path
    response = get(url)
    assert response.status_code == 200
    assert response.content == b"odd\n"
    disposition = response.headers["content-disposition"]
    assert disposition == f"filename*=UTF-8''{quote(SMALL_FILES['odd'][1], safe='')}"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 1),
        ("bytes=0-9", 0, 10),
        ("bytes=100-1048676", 100, 1048677),
        (f"bytes=10-{SMALL_MID_SIZE + 100}", 10, SMALL_MID_SIZE),  # end clamped
        (f"bytes={SMALL_MID_SIZE - 1}-{SMALL_MID_SIZE - 1}", SMALL_MID_SIZE - 1, SMALL_MID_SIZE),
        ("bytes=3145000-", 3145000, SMALL_MID_SIZE),  # open-ended
        ("bytes=-5", SMALL_MID_SIZE - 5, SMALL_MID_SIZE),  # suffix
        (f"bytes=-{SMALL_MID_SIZE + 10}", 0, SMALL_MID_SIZE),  # suffix longer than the file
    ],
)
def test_single_ranges_give_206(emu: EmulatorProcess, header: str, start: int, end: int) -> None:
    response = get(url_of(emu, "mid"), header)
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{SMALL_MID_SIZE}"
    assert response.headers["content-length"] == str(end - start)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.content == MID[start:end]


@pytest.mark.parametrize(
    "header",
    [f"bytes={SMALL_MID_SIZE}-", f"bytes={SMALL_MID_SIZE + 5}-{SMALL_MID_SIZE + 9}", "bytes=-0"],
)
def test_unsatisfiable_ranges_give_416(emu: EmulatorProcess, header: str) -> None:
    response = get(url_of(emu, "mid"), header)
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{SMALL_MID_SIZE}"
    assert b"<Code>InvalidRange</Code>" in response.content
    assert f"<ActualObjectSize>{SMALL_MID_SIZE}</ActualObjectSize>".encode() in response.content


def test_empty_file(emu: EmulatorProcess) -> None:
    whole = get(url_of(emu, "empty"))
    assert whole.status_code == 200
    assert whole.content == b""
    assert whole.headers["content-length"] == "0"
    assert get(url_of(emu, "empty"), "bytes=0-").status_code == 416


@pytest.mark.parametrize("header", ["bytes=10-5", "bytes=0-1,5-6", "lines=1-2", "bytes=x-y"])
def test_ignored_range_headers_give_the_whole_body(emu: EmulatorProcess, header: str) -> None:
    response = get(url_of(emu, "mid"), header)
    assert response.status_code == 200
    assert len(response.content) == SMALL_MID_SIZE


def test_random_ranges_of_a_five_gib_file(emu: EmulatorProcess) -> None:
    url = url_of(emu, "huge")
    rng = random.Random(2024)
    offsets = [0, SMALL_HUGE_SIZE - 1000, 2**32 - 7] + [
        rng.randrange(SMALL_HUGE_SIZE) for _ in range(20)
    ]
    with httpx.Client(timeout=30) as client:
        for start in offsets:
            length = rng.randrange(1, 300_000)
            end = min(SMALL_HUGE_SIZE, start + length)
            response = client.get(url, headers={"Range": f"bytes={start}-{end - 1}"})
            assert response.status_code == 206
            assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{SMALL_HUGE_SIZE}"
            assert response.content == generated_bytes(SMALL_HUGE_SIZE, 17, start, end)
    assert get(url, "bytes=-3").content == generated_bytes(
        SMALL_HUGE_SIZE, 17, SMALL_HUGE_SIZE - 3, SMALL_HUGE_SIZE
    )


def test_large_range_streams(emu: EmulatorProcess) -> None:
    """A 64 MiB range arrives complete and in many pieces (the body is streamed)."""
    url = url_of(emu, "huge")
    size = 64 * 2**20
    digest = hashlib.md5()
    pieces = 0
    with httpx.stream("GET", url, headers={"Range": f"bytes=1000-{1000 + size - 1}"}) as response:
        assert response.status_code == 206
        for chunk in response.iter_raw():
            digest.update(chunk)
            pieces += 1
    expected = hashlib.md5()
    for chunk in GeneratedContent(SMALL_HUGE_SIZE, 17).iter_range(1000, 1000 + size):
        expected.update(chunk)
    assert digest.hexdigest() == expected.hexdigest()
    assert pieces > 8


def _assert_s3_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/xml")
    assert response.content.startswith(b"<?xml")
    assert f"<Code>{code}</Code>".encode() in response.content


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: with_query(
            url, Signature="A" + dict(parse_qsl(urlsplit(url).query))["Signature"][1:]
        ),
        lambda url: with_query(
            url, Expires=str(int(dict(parse_qsl(urlsplit(url).query))["Expires"]) + 1)
        ),
        lambda url: with_query(url, **{"response-content-type": "text/html"}),
        lambda url: url.replace("/mid.bin?", "/other.bin?"),
        lambda url: url.replace("/s3/", "/s3/0").replace("/mid.bin", "/mid.bin"),
    ],
    ids=["signature", "expires", "override", "name", "key"],
)
def test_tampered_urls_are_refused(emu: EmulatorProcess, tamper: Callable[[str], str]) -> None:
    url = tamper(url_of(emu, "mid"))
    response = get(url)
    assert response.status_code == 403
    _assert_s3_error(response, 403, "SignatureDoesNotMatch")


def test_url_signed_with_another_key_is_refused(emu: EmulatorProcess) -> None:
    from bsmount.emulator.blobs.signing import sign_content_url

    url, _ = sign_content_url(emu.url, "9006", "mid.bin", 3600, b"another key")
    _assert_s3_error(get(url), 403, "SignatureDoesNotMatch")


def test_missing_query_auth_is_refused(emu: EmulatorProcess) -> None:
    url = url_of(emu, "mid").split("?")[0]
    _assert_s3_error(get(url), 403, "AccessDenied")


def test_authorization_header_is_refused_and_api_headers_ignored(emu: EmulatorProcess) -> None:
    url = url_of(emu, "hello")
    _assert_s3_error(get(url, Authorization=f"Bearer {emu.token}"), 400, "InvalidArgument")
    response = get(url, **{"x-access-token": "not even a token"})
    assert response.status_code == 200
    assert response.content == b"hello world\n"


def test_head_fails_the_get_signature(emu: EmulatorProcess) -> None:
    response = httpx.head(url_of(emu, "mid"))
    assert response.status_code == 403
    assert response.content == b""


def test_unknown_key_with_valid_signature_is_no_such_key(emu: EmulatorProcess) -> None:
    _assert_s3_error(get(emu.content_url("123456", "nothing.bin")), 404, "NoSuchKey")


def test_url_from_the_api_serves_the_file(emu: EmulatorProcess) -> None:
    file_id = SMALL_FILES["mid"][0]
    meta = emu.api(f"v1pre3/files/{file_id}/content", redirect="meta")["Response"]
    assert meta["SupportsRange"] is True
    response = get(meta["HrefContent"], "bytes=5-9")
    assert response.status_code == 206
    assert response.content == MID[5:10]
    assert "access_token" not in meta["HrefContent"]


def test_urls_survive_a_restart_with_the_same_key(tmp_path: Path) -> None:
    with EmulatorProcess(write_small_seed(tmp_path)) as proc:
        url = proc.content_url(*SMALL_FILES["hello"])
        assert get(url).content == b"hello world\n"
        proc.restart()
        assert get(url).content == b"hello world\n"


def test_expiry(tmp_path: Path) -> None:
    with EmulatorProcess(write_small_seed(tmp_path), url_ttl=1) as proc:
        file_id = SMALL_FILES["hello"][0]
        meta = proc.api(f"v1pre3/files/{file_id}/content", redirect="meta")["Response"]
        url = meta["HrefContent"]
        assert get(url).status_code == 200
        expires = int(dict(parse_qsl(urlsplit(url).query))["Expires"])
        time.sleep(max(0.0, expires - time.time()) + 1.1)
        response = get(url)
        _assert_s3_error(response, 403, "AccessDenied")
        assert b"<Message>Request has expired</Message>" in response.content
        assert b"<Expires>" in response.content and b"<ServerTime>" in response.content
        # A fresh URL works again.
        fresh = proc.api(f"v1pre3/files/{file_id}/content", redirect="meta")["Response"]
        assert get(fresh["HrefContent"]).status_code == 200
