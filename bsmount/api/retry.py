"""The retry policy of bsmount's HTTP calls: what is retried, how long to wait, when to quit.

Retried: connection errors and timeouts (any ``httpx.TransportError`` except unsupported-protocol
and proxy errors), malformed bodies (:class:`~bsmount.errors.TransportError`), 429 (honouring
``Retry-After``, capped), 500/502/503/504, and wrong bytes from the blob store
(:class:`~bsmount.errors.IntegrityError`). Never retried: 400/401/403/404/410 and every other
:class:`~bsmount.errors.ApiError`, :class:`~bsmount.errors.StaleFileError`,
:class:`~bsmount.errors.ContentUrlExpired` (the content reader refreshes the URL itself).

Backoff is exponential with full jitter (``uniform(0, min(cap, base * 2**attempt))``), bounded by
``max_retries`` and by a *stall* deadline: an operation that makes no progress for ``deadline``
seconds (waiting included) fails. :meth:`Attempt.progress` pushes the deadline forward and
resets the attempt count, so a long download that keeps moving is never cut short, while a dead
backend fails after ``deadline`` seconds at most. Sleeps use ``trio.sleep`` so tests can use
``MockClock``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx
import trio

from bsmount.errors import (
    ApiError,
    IntegrityError,
    RateLimited,
    ServerError,
    TransportError,
    redact,
)

__all__ = [
    "RETRYABLE_STATUSES",
    "Attempt",
    "RetryPolicy",
    "describe_error",
    "final_error",
    "is_retryable",
    "parse_retry_after",
    "retrying",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: HTTP statuses worth another try (429 is retried too, after its Retry-After).
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
#: 5xx answers whose error code says the request itself is at fault: the same request gets the
#: same answer, so it is not retried (the Search API answers 500 to a query it cannot parse).
DETERMINISTIC_ERROR_CODES = frozenset({"BASESPACE.SEARCH.QUERY_PARSE_ERROR"})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. ``deadline`` is the longest time without progress, sleeps included."""

    max_retries: int = 5
    base: float = 0.2
    cap: float = 5.0
    retry_after_cap: float = 30.0
    deadline: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def backoff(self, attempt: int) -> float:
        """Full-jitter delay before retry number ``attempt`` (1-based)."""
        ceiling = min(self.cap, self.base * (2.0 ** min(max(attempt - 1, 0), 60)))
        return self.rng.uniform(0.0, ceiling)

    def delay_for(self, attempt: int, error: BaseException) -> float:
        """The wait before the next try: the server's Retry-After if it gave one, else backoff."""
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.retry_after_cap)
        return self.backoff(attempt)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds or an HTTP date); ``None`` if unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)


def is_retryable(exc: BaseException) -> bool:
    """Whether another attempt could succeed where this one failed."""
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.ProxyError):
        return False
    if isinstance(exc, httpx.TransportError | TransportError | IntegrityError):
        return True
    if isinstance(exc, RateLimited):
        return True
    if isinstance(exc, ServerError):
        return exc.status in RETRYABLE_STATUSES and exc.error_code not in DETERMINISTIC_ERROR_CODES
    return False


def describe_error(exc: BaseException) -> str:
    """A short, secret-free description of an error for logs and messages."""
    if isinstance(exc, ApiError):
        text = f"HTTP {exc.status}" + (f" {exc.error_code}" if exc.error_code else "")
    else:
        detail = str(exc).strip()
        cause = exc.__cause__ or exc.__context__
        for _ in range(8):  # trio wraps TLS failures in exceptions without text: find the reason
            if detail or cause is None:
                break
            detail = str(cause).strip()
            cause = cause.__cause__ or cause.__context__
        text = type(exc).__name__ + (f": {detail}" if detail else "")
    return redact(text)[:300]


def final_error(exc: BaseException, what: str) -> BaseException:
    """The exception to raise once retries are exhausted (domain errors stay as they are)."""
    if isinstance(exc, httpx.HTTPError):
        return TransportError(f"{what}: {describe_error(exc)}")
    return exc


class Attempt:
    """State shared by the attempts of one operation (progress, deadline, counters)."""

    def __init__(self, policy: RetryPolicy, what: str) -> None:
        self.policy = policy
        self._what = what
        self._redacted: str | None = None
        self.number = 0  # attempts since the last progress
        self.total = 0  # attempts overall
        self.deadline = trio.current_time() + policy.deadline
        self._scope: trio.CancelScope | None = None

    @property
    def what(self) -> str:
        """The operation's name for logs and errors, redacted (only when first needed: most
        attempts succeed and never name themselves)."""
        if self._redacted is None:
            self._redacted = redact(self._what)
        return self._redacted

    def progress(self) -> None:
        """Record forward progress: the stall deadline moves and the retry budget refills."""
        self.deadline = trio.current_time() + self.policy.deadline
        self.number = 0
        if self._scope is not None:
            self._scope.deadline = self.deadline


async def retrying(
    policy: RetryPolicy,
    operation: Callable[[Attempt], Awaitable[T]],
    *,
    what: str,
    retry_if: Callable[[BaseException], bool] = is_retryable,
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    """Run ``operation`` until it succeeds, retrying per ``policy``; ``what`` names it in logs.

    The operation receives an :class:`Attempt`; each try runs under a cancel scope whose deadline
    is the stall deadline. When it passes, :class:`~bsmount.errors.TransportError` is raised.
    """
    state = Attempt(policy, what)
    last: BaseException | None = None
    while True:
        state.number += 1
        state.total += 1
        with trio.CancelScope(deadline=state.deadline) as scope:
            state._scope = scope
            try:
                return await operation(state)
            except Exception as exc:
                if not retry_if(exc):
                    raise
                last = exc
            finally:
                state._scope = None
        if scope.cancelled_caught:
            msg = f"{state.what}: no progress for {policy.deadline:g} s"
            if last is not None:
                msg += f" (last error: {describe_error(last)})"
            log.warning("giving up: %s", msg)
            raise TransportError(msg) from last
        assert last is not None
        if state.number > policy.max_retries:
            log.warning(
                "giving up on %s after %d attempts: %s",
                state.what,
                state.total,
                describe_error(last),
            )
            raise final_error(last, state.what) from last
        delay = policy.delay_for(state.number, last)
        if trio.current_time() + delay > state.deadline:
            log.warning(
                "giving up on %s: retry in %.2f s would pass the %g s deadline: %s",
                state.what,
                delay,
                policy.deadline,
                describe_error(last),
            )
            raise final_error(last, state.what) from last
        log.info(
            "retrying %s in %.2f s (attempt %d, %.0f s before giving up): %s",
            state.what,
            delay,
            state.total + 1,
            state.deadline - trio.current_time(),
            describe_error(last),
        )
        if on_retry is not None:
            on_retry(last)
        await trio.sleep(delay)
