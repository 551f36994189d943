"""The emulator's control plane on a real process: health, reset, request log, stats, appsession
status, and every fault action observed with raw httpx or sockets."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from bsmount.emulator.blobs.content import GeneratedContent
from tests.emulator_proc import (
    SMALL_APPSESSION,
    SMALL_FILES,
    SMALL_MID_SIZE,
    SMALL_TOKEN,
    EmulatorProcess,
    write_small_seed,
)

MID = b"".join(GeneratedContent(SMALL_MID_SIZE, 3).iter_range(0, SMALL_MID_SIZE))
MID_PATH_RE = r"/s3/[0-9a-f]{32}/mid\.bin$"


@pytest.fixture(scope="module")
def module_emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    seed = write_small_seed(tmp_path_factory.mktemp("seed"))
    with EmulatorProcess(seed, extra_args=["--fault-seed", "1"]) as proc:
        yield proc


@pytest.fixture
def emu(module_emu: EmulatorProcess) -> Iterator[EmulatorProcess]:
    module_emu.reset()
    yield module_emu
    module_emu.reset()


def mid_url(emu: EmulatorProcess) -> str:
    return emu.content_url(*SMALL_FILES["mid"])


def traffic(emu: EmulatorProcess) -> list[dict[str, Any]]:
    """The logged requests, without the control plane's own."""
    return [entry for entry in emu.requests() if entry["kind"] != "control"]


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    ending: str  # "complete" | "eof" (closed early) | "reset" (ECONNRESET)


def raw_get(url: str, range_header: str | None = None) -> RawResponse:
    """One GET over a plain socket, reading until Content-Length, EOF or a reset."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    target = parts.path + ("?" + parts.query if parts.query else "")
    request = f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
    if range_header:
        request += f"Range: {range_header}\r\n"
    request += "Connection: close\r\n\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(request.encode("latin-1"))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed before the headers: {data!r}"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "-1"))
        ending = "eof"
        try:
            while length < 0 or len(body) < length:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    break
                body += chunk
            else:
                ending = "complete"
        except ConnectionResetError:
            ending = "reset"
    return RawResponse(int(lines[0].split(" ", 2)[1]), headers, body, ending)


# --------------------------------------------------------------------------- basics


def test_health(emu: EmulatorProcess) -> None:
    response = emu.http.get("/_emulator/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_request_log_fields(emu: EmulatorProcess) -> None:
    emu.clear_requests()
    emu.http.get("/v1pre3/users/current", params={"access_token": SMALL_TOKEN})
    blob = httpx.get(mid_url(emu), headers={"Range": "bytes=10-1009"})
    assert blob.status_code == 206
    log = traffic(emu)
    assert [entry["path"] for entry in log] == ["/v1pre3/users/current", log[1]["path"]]
    api, content = log[0], log[1]
    assert api["method"] == "GET"
    assert api["status"] == 200
    assert api["kind"] == "api_v1"
    assert api["query"] == "access_token=REDACTED"
    assert SMALL_TOKEN not in str(log)
    assert api["bytes_sent"] > 0
    assert api["range"] is None
    assert api["fault"] is None
    assert content["kind"] == "blob"
    assert content["status"] == 206
    assert content["bytes_sent"] == 1000
    assert content["range"] == "bytes=10-1009"
    assert "Signature=REDACTED" in content["query"]
    assert "Expires=" in content["query"]
    for entry in log:
        assert entry["duration_ms"] >= 0
        assert abs(entry["time"] - time.time()) < 60
    assert log[1]["index"] == log[0]["index"] + 1


def test_request_log_since_and_clear(emu: EmulatorProcess) -> None:
    emu.http.get("/_emulator/health")
    first = emu.requests()
    assert first and all(e["path"] != "/_emulator/requests" for e in first)
    mark = first[-1]["index"] + 1
    emu.http.get("/_emulator/health")
    emu.http.get("/nowhere")
    later = emu.requests(since=mark)
    assert [(e["path"], e["status"]) for e in later] == [
        ("/_emulator/health", 200),
        ("/nowhere", 404),
    ]
    emu.clear_requests()
    assert emu.requests() == []


def test_stats(emu: EmulatorProcess) -> None:
    emu.http.get("/v2/users/current", headers={"x-access-token": SMALL_TOKEN})
    httpx.get(mid_url(emu), headers={"Range": "bytes=0-99"})
    stats = emu.stats()
    assert stats["by_kind"]["api_v2"] == 1
    assert stats["by_kind"]["blob"] == 1
    assert stats["bytes_by_kind"]["blob"] == 100
    assert stats["requests"] == sum(stats["by_kind"].values())
    assert stats["bytes_sent"] == sum(stats["bytes_by_kind"].values())
    assert stats["faults_fired"] == 0


def test_appsession_status_and_reset(emu: EmulatorProcess) -> None:
    def status() -> str:
        return str(emu.api(f"v1pre3/appsessions/{SMALL_APPSESSION}")["Response"]["Status"])

    assert status() == "Running"
    emu.set_appsession_status(SMALL_APPSESSION, "Complete")
    assert status() == "Complete"
    bad = emu.http.post(
        f"/_emulator/appsessions/{SMALL_APPSESSION}/status", json={"status": "Nope"}
    )
    assert bad.status_code == 400
    missing = emu.http.post("/_emulator/appsessions/999999/status", json={"status": "Complete"})
    assert missing.status_code == 404
    emu.add_fault(path="anything", action="reset")
    emu.reset()
    assert emu.requests() == []
    assert status() == "Running"
    assert emu.faults() == []
    assert [e["path"] for e in traffic(emu)] == [f"/v1pre3/appsessions/{SMALL_APPSESSION}"]


# --------------------------------------------------------------------------- fault rules


def test_fault_rules_are_validated(emu: EmulatorProcess) -> None:
    for rule in (
        {"path": "x"},
        {"path": "(", "action": "reset"},
        {"path": "x", "action": "explode"},
        {"path": "x", "action": {"status": 99}},
        {"path": "x", "action": "reset", "probability": 2},
        {"path": "x", "action": "reset", "count": -1},
        {"path": "x", "action": "reset", "colour": "red"},
        {"path": "x", "action": {"delay": -1}},
        {"path": "x", "action": "reset", "count": True},
        {"path": 5, "action": "reset"},
    ):
        response = emu.http.post("/_emulator/faults", json=rule)
        assert response.status_code == 400, rule
        assert response.json()["error"]
    assert emu.http.post("/_emulator/faults", content=b"{not json").status_code == 400
    mixed = [{"path": "x", "action": "reset"}, {"path": "y", "action": "nope"}]
    response = emu.http.post("/_emulator/faults", json=mixed)
    assert response.status_code == 400
    assert "rule 1" in response.json()["error"]
    assert emu.faults() == []  # all or nothing


def test_status_fault_with_retry_after_and_count(emu: EmulatorProcess) -> None:
    rule_id = emu.add_fault(
        method="GET",
        path="^/v1pre3/users/current$",
        count=2,
        action={"status": 503, "headers": {"Retry-After": "1"}},
    )
    statuses = []
    for _ in range(3):
        response = emu.api_response("v1pre3/users/current")
        statuses.append(response.status_code)
        if response.status_code == 503:
            assert response.headers["retry-after"] == "1"
            assert response.json()["ResponseStatus"]["Message"]
    assert statuses == [503, 503, 200]
    (rule,) = emu.faults()
    assert rule["id"] == rule_id
    assert rule["fired"] == 2
    assert rule["count"] == 2
    log = traffic(emu)
    assert [e["fault"] for e in log[:3]] == [["status"], ["status"], None]
    assert emu.stats()["faults_fired"] == 2


def test_status_fault_on_blob_is_s3_xml_and_custom_body(emu: EmulatorProcess) -> None:
    emu.add_fault(path=MID_PATH_RE, count=1, action={"status": 500})
    emu.add_fault(path=MID_PATH_RE, count=1, action={"status": 429, "body": "slow down"})
    first = httpx.get(mid_url(emu))
    assert first.status_code == 500
    assert b"<Code>InternalError</Code>" in first.content
    second = httpx.get(mid_url(emu))
    assert (second.status_code, second.text) == (429, "slow down")
    assert httpx.get(mid_url(emu)).status_code == 200


def test_method_must_match(emu: EmulatorProcess) -> None:
    emu.add_fault(method="POST", path="users/current", action={"status": 500})
    assert emu.api_response("v1pre3/users/current").status_code == 200
    assert emu.faults()[0]["fired"] == 0


def test_control_plane_is_never_faulted(emu: EmulatorProcess) -> None:
    emu.add_fault(path="", action={"status": 500})
    assert emu.http.get("/_emulator/health").status_code == 200
    assert emu.api_response("v1pre3/users/current").status_code == 500


def test_delete_one_fault(emu: EmulatorProcess) -> None:
    keep = emu.add_fault(path="a", action="reset")
    drop = emu.add_fault(path="b", action="truncate")
    assert emu.http.delete(f"/_emulator/faults/{drop}").status_code == 204
    assert emu.http.delete(f"/_emulator/faults/{drop}").status_code == 404
    assert [r["id"] for r in emu.faults()] == [keep]
    emu.clear_faults()
    assert emu.faults() == []


def test_delay(emu: EmulatorProcess) -> None:
    emu.add_fault(path="users/current", count=1, action={"delay": 0.6})
    started = time.monotonic()
    assert emu.api_response("v1pre3/users/current").status_code == 200
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    emu.api_response("v1pre3/users/current")
    assert time.monotonic() - started < 0.5


def test_delay_range_then_another_action(emu: EmulatorProcess) -> None:
    emu.add_fault(path="users/current", count=1, action={"delay": [0.2, 0.3]})
    emu.add_fault(path="users/current", count=1, action={"status": 502})
    started = time.monotonic()
    assert emu.api_response("v1pre3/users/current").status_code == 502
    assert 0.2 <= time.monotonic() - started < 2
    assert traffic(emu)[0]["fault"] == ["delay", "status"]


def test_reset_mid_body(emu: EmulatorProcess) -> None:
    emu.add_fault(path=MID_PATH_RE, count=1, action="reset")
    response = raw_get(mid_url(emu), "bytes=0-2097151")
    assert response.status == 206
    assert response.headers["content-length"] == "2097152"
    assert response.ending == "reset"
    assert len(response.body) == 1048576
    assert response.body == MID[: len(response.body)]
    with pytest.raises(httpx.TransportError):
        emu.add_fault(path=MID_PATH_RE, count=1, action="reset")
        httpx.get(mid_url(emu))
    assert raw_get(mid_url(emu), "bytes=0-99").ending == "complete"
    log = [e for e in traffic(emu) if e["kind"] == "blob"]
    assert log[0]["fault"] == ["reset"]
    assert 0 < log[0]["bytes_sent"] <= 1048576


def test_truncate(emu: EmulatorProcess) -> None:
    emu.add_fault(path=MID_PATH_RE, count=1, action="truncate")
    response = raw_get(mid_url(emu))
    assert response.status == 200
    assert response.headers["content-length"] == str(SMALL_MID_SIZE)
    assert response.ending == "eof"
    assert len(response.body) == SMALL_MID_SIZE // 2
    assert response.body == MID[: SMALL_MID_SIZE // 2]
    emu.add_fault(path="users/current", count=1, action="truncate")
    with pytest.raises(httpx.RemoteProtocolError):
        emu.api_response("v1pre3/users/current")
    assert emu.api_response("v1pre3/users/current").status_code == 200


def test_expire(emu: EmulatorProcess) -> None:
    emu.add_fault(path=MID_PATH_RE, count=1, action="expire")
    response = httpx.get(mid_url(emu))
    assert response.status_code == 403
    assert b"<Code>AccessDenied</Code>" in response.content
    assert b"<Message>Request has expired</Message>" in response.content
    assert httpx.get(mid_url(emu)).status_code == 200


def test_expire_once_per_url(emu: EmulatorProcess) -> None:
    emu.add_fault(path="^/s3/", per_path=True, count=1, action="expire")
    hello = emu.content_url(*SMALL_FILES["hello"])
    assert [httpx.get(u).status_code for u in (mid_url(emu), mid_url(emu), hello, hello)] == [
        403,
        200,
        403,
        200,
    ]
    assert emu.faults()[0]["fired"] == 2


def test_corrupt(emu: EmulatorProcess) -> None:
    emu.add_fault(path=MID_PATH_RE, count=1, action="corrupt")
    response = httpx.get(mid_url(emu), headers={"Range": "bytes=1000-2000999"})
    assert response.status_code == 206
    body, expected = response.content, MID[1000:2001000]
    assert len(body) == len(expected)
    diffs = [i for i in range(0, len(body), 4096) if body[i : i + 4096] != expected[i : i + 4096]]
    assert len(diffs) == 1
    block = diffs[0]
    bytes_off = [i for i in range(block, block + 4096) if i < len(body) and body[i] != expected[i]]
    assert len(bytes_off) == 1
    assert httpx.get(mid_url(emu), headers={"Range": "bytes=1000-2000999"}).content == expected


def test_etag_change(emu: EmulatorProcess) -> None:
    normal = httpx.get(mid_url(emu), headers={"Range": "bytes=0-9"}).headers["etag"]
    emu.add_fault(path=MID_PATH_RE, count=1, action="etag_change")
    changed = httpx.get(mid_url(emu), headers={"Range": "bytes=0-9"})
    assert changed.status_code == 206
    assert changed.content == MID[:10]
    assert changed.headers["etag"] != normal
    assert changed.headers["etag"].endswith('-1"')
    assert httpx.get(mid_url(emu), headers={"Range": "bytes=0-9"}).headers["etag"] == normal


def test_ignore_range(emu: EmulatorProcess) -> None:
    emu.add_fault(path=MID_PATH_RE, count=1, action="ignore_range")
    response = httpx.get(mid_url(emu), headers={"Range": "bytes=100-199"})
    assert response.status_code == 200
    assert response.content == MID
    assert "content-range" not in response.headers
    assert traffic(emu)[0]["range"] == "bytes=100-199"  # the log shows what was asked


@pytest.mark.parametrize("asked", ["bytes=100-199", "bytes=0-99", "bytes=500-", "bytes=-50"])
def test_wrong_range(emu: EmulatorProcess, asked: str) -> None:
    normal = httpx.get(mid_url(emu), headers={"Range": asked})
    emu.add_fault(path=MID_PATH_RE, count=1, action="wrong_range")
    response = httpx.get(mid_url(emu), headers={"Range": asked})
    assert response.status_code == 206
    assert response.headers["content-range"] != normal.headers["content-range"]
    first, last = response.headers["content-range"].split(" ")[1].split("/")[0].split("-")
    assert response.content == MID[int(first) : int(last) + 1]
    assert response.content != normal.content


def test_probability_is_seedable(emu: EmulatorProcess) -> None:
    def pattern() -> list[int]:
        emu.clear_faults()
        emu.add_faults(
            [{"path": "users/current", "probability": 0.3, "action": {"status": 503}}], seed=99
        )
        return [emu.api_response("v1pre3/users/current").status_code for _ in range(60)]

    first, second = pattern(), pattern()
    assert first == second
    failures = first.count(503)
    assert 5 <= failures <= 35
    assert set(first) == {200, 503}
    emu.clear_faults()
    emu.add_fault(path="users/current", probability=0, action={"status": 503})
    assert all(emu.api_response("v1pre3/users/current").status_code == 200 for _ in range(10))


def test_rule_with_its_own_seed(emu: EmulatorProcess) -> None:
    def pattern() -> list[int]:
        emu.clear_faults()
        emu.add_fault(path="users/current", probability=0.5, seed=5, action={"status": 500})
        return [emu.api_response("v1pre3/users/current").status_code for _ in range(30)]

    assert pattern() == pattern()
