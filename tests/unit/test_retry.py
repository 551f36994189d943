"""The retry policy: what is retried, backoff, Retry-After, the stall deadline (MockClock)."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import trio

from bsmount.api.retry import (
    Attempt,
    RetryPolicy,
    is_retryable,
    parse_retry_after,
    retrying,
)
from bsmount.errors import (
    BadRequest,
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


def policy(**kw: float) -> RetryPolicy:
    return RetryPolicy(rng=random.Random(1), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_retryable(status: int) -> None:
    assert is_retryable(ServerError(status, "x"))


@pytest.mark.parametrize(
    "exc",
    [
        BadRequest(400, "x"),
        Unauthorized(401, "x"),
        Forbidden(403, "x"),
        NotFound(404, "x"),
        Gone(410, "x"),
        ServerError(501, "not implemented"),
        StaleFileError("changed"),
        ContentUrlExpired("403"),
        ValueError("bug"),
        httpx.UnsupportedProtocol("ftp"),
    ],
)
def test_not_retryable(exc: BaseException) -> None:
    assert not is_retryable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        RateLimited(429, "slow down", retry_after=1.0),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.ReadError("reset"),
        TransportError("not JSON"),
        IntegrityError("short body"),
    ],
)
def test_retryable(exc: BaseException) -> None:
    assert is_retryable(exc)


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = datetime(2025, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now=now) == 90.0


def test_backoff_full_jitter_bounds() -> None:
    p = policy(base=0.2, cap=5.0)
    for attempt in range(1, 12):
        ceiling = min(5.0, 0.2 * 2 ** (attempt - 1))
        delays = [p.backoff(attempt) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.7  # really jittered across the range
    assert 0.0 <= p.backoff(100_000) <= 5.0  # no overflow however many attempts
    assert p.delay_for(1, RateLimited(429, "x", retry_after=7.0)) == 7.0
    assert p.delay_for(1, RateLimited(429, "x", retry_after=1e6)) == p.retry_after_cap


async def test_succeeds_after_transient_failures(autojump_clock: trio.abc.Clock) -> None:
    calls = 0
    retried: list[BaseException] = []

    async def op(_: Attempt) -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ServerError(503, "busy")
        return "ok"

    assert await retrying(policy(), op, what="GET x", on_retry=retried.append) == "ok"
    assert calls == 3 and len(retried) == 2


async def test_non_retryable_raises_at_once(autojump_clock: trio.abc.Clock) -> None:
    calls = 0

    async def op(_: Attempt) -> None:
        nonlocal calls
        calls += 1
        raise NotFound(404, "nope")

    with pytest.raises(NotFound):
        await retrying(policy(), op, what="GET x")
    assert calls == 1


@pytest.mark.expect_log_warnings(
    r"bsmount\.api\.retry: giving up on GET x after (4 attempts: ConnectE|3 attempts: HTTP 502)",
)
async def test_gives_up_after_max_retries(autojump_clock: trio.abc.Clock) -> None:
    calls = 0

    async def op(_: Attempt) -> None:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("refused")

    with pytest.raises(TransportError, match="ConnectError"):
        await retrying(policy(max_retries=3), op, what="GET x")
    assert calls == 4  # one try + three retries

    async def server_error(_: Attempt) -> None:
        raise ServerError(502, "bad gateway")

    with pytest.raises(ServerError):  # domain errors come out as themselves
        await retrying(policy(max_retries=2), server_error, what="GET x")


async def test_retry_after_is_honoured(autojump_clock: trio.abc.Clock) -> None:
    times: list[float] = []

    async def op(_: Attempt) -> str:
        times.append(trio.current_time())
        if len(times) == 1:
            raise RateLimited(429, "slow", retry_after=4.0)
        return "ok"

    await retrying(policy(), op, what="GET x")
    assert times[1] - times[0] == pytest.approx(4.0)


@pytest.mark.expect_log_warnings(
    r"bsmount\.api\.retry: giving up on GET x: retry in 25\.00 s would pass the 10 s deadline",
)
async def test_retry_after_beyond_deadline_gives_up(autojump_clock: trio.abc.Clock) -> None:
    start = trio.current_time()

    async def op(_: Attempt) -> None:
        raise RateLimited(429, "slow", retry_after=25.0)

    with pytest.raises(RateLimited):
        await retrying(policy(deadline=10.0), op, what="GET x")
    assert trio.current_time() - start < 1.0  # did not sleep past the deadline


@pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.api\.retry: giving up: GET x: no progress for 7 s",
)
async def test_stall_deadline_bounds_a_hanging_call(autojump_clock: trio.abc.Clock) -> None:
    start = trio.current_time()

    async def op(_: Attempt) -> None:
        await trio.sleep_forever()

    with pytest.raises(TransportError, match="no progress for 7 s"):
        await retrying(policy(deadline=7.0), op, what="GET x")
    assert trio.current_time() - start == pytest.approx(7.0)


@pytest.mark.expect_log_warnings(
    r"bsmount\.api\.retry: giving up: x: no progress for 5 s \(last error: ReadTimeout",
)
async def test_deadline_counts_sleeps(autojump_clock: trio.abc.Clock) -> None:
    start = trio.current_time()

    async def op(_: Attempt) -> None:
        await trio.sleep(1.0)
        raise httpx.ReadTimeout("slow")

    with pytest.raises(TransportError):
        await retrying(policy(deadline=5.0, max_retries=100, base=1.0, cap=1.0), op, what="x")
    assert trio.current_time() - start <= 5.0 + 1e-6


async def test_progress_extends_deadline_and_refills_retries(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A slow download that keeps moving is never cut; each failure after progress is forgiven."""
    done = 0

    async def op(state: Attempt) -> str:
        nonlocal done
        while done < 20:
            await trio.sleep(3.0)  # 20 chunks x 3 s = 60 s, far beyond the 5 s deadline
            done += 1
            state.progress()
            if done % 4 == 0:
                raise httpx.ReadError("reset mid-body")
        return "complete"

    assert await retrying(policy(deadline=5.0, max_retries=1), op, what="x") == "complete"


async def test_retries_logged_without_secrets(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bsmount")
    calls = 0

    async def op(_: Attempt) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ServerError(503, "busy")

    what = "GET https://h/x?access_token=supersecrettoken&Signature=abcdefghijkl"
    await retrying(policy(), op, what=what)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "retrying" in text and "HTTP 503" in text
    assert "supersecrettoken" not in text and "abcdefghijkl" not in text
    assert all(r.levelno == logging.INFO for r in caplog.records)


async def test_cancellation_from_outside_propagates(autojump_clock: trio.abc.Clock) -> None:
    async def op(_: Attempt) -> None:
        await trio.sleep_forever()

    with trio.move_on_after(2.0) as scope:
        await retrying(policy(deadline=100.0), op, what="x")
    assert scope.cancelled_caught


def test_a_query_the_service_cannot_parse_is_not_retried() -> None:
    from bsmount.api.retry import is_retryable
    from bsmount.errors import ServerError

    parse = ServerError(500, "bad query", error_code="BASESPACE.SEARCH.QUERY_PARSE_ERROR")
    assert not is_retryable(parse)
    assert is_retryable(ServerError(500, "oops", error_code="BASESPACE.COMMON.INTERNAL"))
