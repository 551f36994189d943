"""Fault injection: rules that make the emulator misbehave on purpose, and the ASGI middleware.

A rule (JSON, ``POST /_emulator/faults``)::

    {"method": "GET" | "*", "path": "<regex searched in the path>", "probability": 0..1 (1),
     "count": N (unlimited), "per_path": false, "action": ...}

``count`` bounds how often the rule fires in total, or for each distinct path when ``per_path``
is true (e.g. "every content URL expires once"). Actions:

- ``{"status": 503, "headers": {"Retry-After": "1"}, "body": optional}``: answer at once;
- ``{"delay": seconds}`` or ``{"delay": [low, high]}``: wait, then go on (other rules may still
  fire on the same request: delays add up with at most one other action);
- ``"reset"``: headers and about half the body, then the TCP connection is reset (RST);
- ``"truncate"``: fewer bytes than Content-Length, then the connection is closed cleanly;
- ``"expire"``: 403 S3 ``AccessDenied``/``Request has expired`` XML, as for an expired URL;
- ``"corrupt"``: one byte of the body (the middle one) is flipped;
- ``"etag_change"``: the ``ETag`` header is replaced by a different one;
- ``"ignore_range"``: the Range header is dropped, so the answer is 200 with the whole body;
- ``"wrong_range"``: a neighbouring range is served (206 with a Content-Range not asked for);
- ``"reset_body"``: about half of the *request* body is read, then the connection is reset
  (an upload cut mid-body: nothing is stored, nothing answered);
- ``{"throttle": bytes_per_second}``: the request body is read at most that fast (a slow
  ingest), then the request proceeds.

``etag_change`` also changes ``"ETag": "<hex>"`` values in a JSON answer (a part PUT's), and
``status`` answers read the request body first, so an uploading client sees the answer.

Rules are tried in the order they were added; the first non-delay rule that fires wins. Every
firing is counted (``GET /_emulator/faults``). Draws use one ``random.Random`` seeded from
``EmulatorConfig.fault_seed`` (or a rule's own ``seed``), so runs are reproducible.
``/_emulator/`` requests are never faulted.
"""

from __future__ import annotations

import itertools
import logging
import random
import re
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from bsmount.emulator.control.fault_actions import (
    Cut,
    ReceiveCut,
    body_cutting,
    body_throttling,
    corrupting,
    cutting,
    drain_body,
    etag_changing,
    fault_status_response,
    request_header,
    reset_connection,
    shifted_range,
)
from bsmount.emulator.control.requestlog import FAULT_SCOPE_KEY

__all__ = ["ACTIONS", "FaultMiddleware", "FaultRegistry", "FaultRule", "RuleError", "parse_rule"]

log = logging.getLogger(__name__)

ACTIONS = (
    "status",
    "delay",
    "reset",
    "truncate",
    "expire",
    "corrupt",
    "etag_change",
    "ignore_range",
    "wrong_range",
    "reset_body",
    "throttle",
)
_RULE_KEYS = {"method", "path", "probability", "count", "per_path", "action", "seed"}


class RuleError(ValueError):
    """A fault rule that cannot be understood."""


@dataclass
class FaultRule:
    """One parsed rule and its counters."""

    id: int
    method: str
    path: re.Pattern[str]
    action: str
    params: dict[str, Any]
    probability: float = 1.0
    count: int | None = None
    per_path: bool = False
    rng: random.Random | None = None
    fired: int = 0
    fired_by_path: dict[str, int] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {**self.raw, "id": self.id, "fired": self.fired}


def _parse_action(action: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(action, str):
        if action not in ACTIONS or action in ("status", "delay", "throttle"):
            raise RuleError(f"unknown action {action!r}")
        return action, {}
    if not isinstance(action, dict):
        raise RuleError("action must be a string or an object")
    if "status" in action:
        status = action["status"]
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise RuleError("status must be an HTTP status code")
        headers = action.get("headers", {})
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int | float) for k, v in headers.items()
        ):
            raise RuleError("headers must be an object of strings")
        params = {"status": status, "headers": {k: str(v) for k, v in headers.items()}}
        if "body" in action:
            params["body"] = action["body"]
        return "status", params
    if "delay" in action:
        delay = action["delay"]
        if _number(delay) and delay >= 0:
            return "delay", {"low": float(delay), "high": float(delay)}
        if (
            isinstance(delay, list)
            and len(delay) == 2
            and all(_number(d) and d >= 0 for d in delay)
            and delay[0] <= delay[1]
        ):
            return "delay", {"low": float(delay[0]), "high": float(delay[1])}
        raise RuleError("delay must be seconds >= 0 or [low, high]")
    if "throttle" in action:
        rate = action["throttle"]
        if not _number(rate) or rate <= 0:
            raise RuleError("throttle must be bytes per second > 0")
        return "throttle", {"rate": float(rate)}
    if "action" in action and isinstance(action["action"], str):
        return _parse_action(action["action"])
    raise RuleError(f"unknown action {action!r}")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_rule(spec: Any) -> FaultRule:
    """Validate one rule given as JSON (its id is set when it is added)."""
    if not isinstance(spec, dict):
        raise RuleError("a rule must be a JSON object")
    unknown = set(spec) - _RULE_KEYS
    if unknown:
        raise RuleError(f"unknown rule keys: {sorted(unknown)}")
    method = spec.get("method", "*")
    if not isinstance(method, str) or not method:
        raise RuleError("method must be a string")
    pattern = spec.get("path", "")
    if not isinstance(pattern, str):
        raise RuleError("path must be a regex string")
    try:
        path = re.compile(pattern)
    except re.error as exc:
        raise RuleError(f"bad path regex: {exc}") from None
    probability = spec.get("probability", 1.0)
    if not _number(probability) or not 0 <= probability <= 1:
        raise RuleError("probability must be within [0, 1]")
    count = spec.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
        raise RuleError("count must be a non-negative integer")
    per_path = spec.get("per_path", False)
    if not isinstance(per_path, bool):
        raise RuleError("per_path must be a boolean")
    seed = spec.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise RuleError("seed must be an integer")
    if "action" not in spec:
        raise RuleError("a rule needs an action")
    action, params = _parse_action(spec["action"])
    return FaultRule(
        id=0,
        method=method.upper(),
        path=path,
        action=action,
        params=params,
        probability=float(probability),
        count=count,
        per_path=per_path,
        rng=None if seed is None else random.Random(seed),
        raw=dict(spec),
    )


class FaultRegistry:
    """The active rules, their counters and the random source."""

    def __init__(self, seed: int | None = None) -> None:
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self._rng = random.Random(seed)

    def add(self, spec: Any) -> int:
        """Parse and add one rule; returns its id. Raises :class:`RuleError`."""
        return self.add_all([spec])[0]

    def add_all(self, specs: list[Any]) -> list[int]:
        """Parse every rule, then add them all (or none, raising :class:`RuleError`)."""
        rules = []
        for index, spec in enumerate(specs):
            try:
                rules.append(parse_rule(spec))
            except RuleError as exc:
                raise RuleError(f"rule {index}: {exc}" if len(specs) > 1 else str(exc)) from None
        for rule in rules:
            rule.id = next(self._ids)
            self._rules.append(rule)
            log.info(
                "fault rule %d added: %s %s -> %s", rule.id, rule.method, rule.path, rule.action
            )
        return [rule.id for rule in rules]

    def remove(self, rule_id: int) -> bool:
        before = len(self._rules)
        self._rules = [r for r in self._rules if r.id != rule_id]
        return len(self._rules) != before

    def clear(self) -> None:
        self._rules.clear()

    def describe(self) -> list[dict[str, Any]]:
        return [rule.describe() for rule in self._rules]

    def seed(self, seed: int | None) -> None:
        self._rng.seed(seed)

    def fire(self, method: str, path: str) -> list[FaultRule]:
        """The rules firing for this request: delays, then at most one other action."""
        fired: list[FaultRule] = []
        for rule in self._rules:
            if rule.method not in ("*", method) or rule.path.search(path) is None:
                continue
            used = rule.fired_by_path.get(path, 0) if rule.per_path else rule.fired
            if rule.count is not None and used >= rule.count:
                continue
            if rule.probability < 1 and (rule.rng or self._rng).random() >= rule.probability:
                continue
            rule.fired += 1
            if rule.per_path:
                rule.fired_by_path[path] = used + 1
            fired.append(rule)
            if rule.action != "delay":
                break
        return fired

    def delay_for(self, rule: FaultRule) -> float:
        low, high = rule.params["low"], rule.params["high"]
        return float(low if low == high else (rule.rng or self._rng).uniform(low, high))


class FaultMiddleware:
    """ASGI middleware applying the registry's rules to every request but the control plane."""

    def __init__(self, app: ASGIApp, registry: FaultRegistry) -> None:
        self.app = app
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_emulator/"):
            await self.app(scope, receive, send)
            return
        fired = self.registry.fire(scope["method"], scope["path"])
        if not fired:
            await self.app(scope, receive, send)
            return
        scope[FAULT_SCOPE_KEY] = [rule.action for rule in fired]
        for rule in fired:
            if rule.action == "delay":
                await anyio.sleep(self.registry.delay_for(rule))
        final = fired[-1]
        log.info("fault %d (%s) on %s %s", final.id, final.action, scope["method"], scope["path"])
        await self._apply(final, scope, receive, send)

    async def _apply(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> None:
        action = rule.action
        if action == "delay":
            await self.app(scope, receive, send)
        elif action in ("status", "expire"):
            if scope["method"] in ("PUT", "POST"):
                await drain_body(receive)
            response = fault_status_response(rule.action, rule.params, scope)
            await response(scope, receive, send)
        elif action == "throttle":
            await self.app(scope, body_throttling(receive, rule.params["rate"]), send)
        elif action == "reset_body":
            try:
                await self.app(scope, body_cutting(receive, scope), send)
            except* ReceiveCut:
                await reset_connection(scope)
        elif action in ("ignore_range", "wrong_range"):
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"range"]
            if action == "wrong_range":
                asked = request_header(scope["headers"], b"range")
                headers.append((b"range", shifted_range(asked)))
            await self.app({**scope, "headers": headers}, receive, send)
        elif action == "etag_change":
            await self.app(scope, receive, etag_changing(send))
        elif action == "corrupt":
            await self.app(scope, receive, corrupting(send))
        else:  # reset / truncate
            try:
                await self.app(scope, receive, cutting(send))
            except* Cut:
                if action == "reset":
                    await reset_connection(scope)
