"""Control-plane routes for launched sessions (mounted under ``/_emulator``; no token):

- ``POST appsessions/{id}/finish``: complete it now (waits off the event loop for its outputs);
- ``POST appsessions/{id}/fail`` ``{"status": "NeedsAttention"|"Aborted"|"TimedOut",
  "summary": "..."}``;
- ``POST appsessions/{id}/speed`` ``{"factor": 10}`` or ``{"remaining_seconds": 0.2}``;
- ``POST appsessions/{id}/start``: start a session launched with ``AutoStart: false``;
- ``GET launches``: every launch since the reset; ``GET``/``POST launches/config``
  ``{"pending_seconds", "run_seconds"}``: timings of the next launches (until reset).

Errors are ``{"error": "..."}``: 404 for a session that was not launched, 400 for a bad body,
409 for a session that no longer runs.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bsmount.emulator.apps.engine import LaunchEngine, engine_for
from bsmount.emulator.state.launches import LaunchRecord

__all__ = ["control_routes"]

log = logging.getLogger(__name__)

FAIL_STATUSES = ("NeedsAttention", "Aborted", "TimedOut")
# How long finish waits for the outputs of a launch (seconds).
FINISH_TIMEOUT = 120.0


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise _Refused(400, "body is not JSON") from None
    if not isinstance(body, dict):
        raise _Refused(400, "body must be a JSON object")
    return body


def _launch(request: Request) -> tuple[LaunchEngine, LaunchRecord]:
    engine = engine_for(request.app.state.emulator)
    session_id = request.path_params["appsession_id"]
    try:
        return engine, engine.record(session_id)
    except KeyError:
        raise _Refused(404, f"appsession {session_id} was not launched") from None


def _answer(engine: LaunchEngine, record: LaunchRecord) -> JSONResponse:
    return JSONResponse(engine.describe(record))


async def finish(request: Request) -> Response:
    engine, record = _launch(request)
    if record.outcome:
        raise _Refused(409, f"appsession {record.session_id} is no longer running")
    work = record.work
    if work is not None:
        with anyio.fail_after(FINISH_TIMEOUT):
            await anyio.to_thread.run_sync(lambda: work.exception(timeout=FINISH_TIMEOUT))
    engine.finish_now(record)
    return _answer(engine, record)


async def fail(request: Request) -> Response:
    engine, record = _launch(request)
    body = await _body(request)
    wanted = str(body.get("status", "NeedsAttention"))
    status = {s.lower(): s for s in FAIL_STATUSES}.get(wanted.lower())
    if status is None:
        raise _Refused(400, f"status must be one of {', '.join(FAIL_STATUSES)}")
    summary = body.get("summary")
    if summary is not None and not isinstance(summary, str):
        raise _Refused(400, "summary must be a string")
    try:
        engine.fail(record, status, summary)
    except ValueError as exc:
        raise _Refused(409, str(exc)) from None
    return _answer(engine, record)


def _positive(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _Refused(400, f"{key} must be a number >= 0")
    return float(value)


async def speed(request: Request) -> Response:
    engine, record = _launch(request)
    body = await _body(request)
    factor, remaining = _positive(body, "factor"), _positive(body, "remaining_seconds")
    if (factor is None) == (remaining is None) or factor == 0:
        raise _Refused(400, 'give {"factor": N > 0} or {"remaining_seconds": S}')
    try:
        engine.speed(record, factor, remaining)
    except ValueError as exc:
        raise _Refused(409, str(exc)) from None
    return _answer(engine, record)


async def start(request: Request) -> Response:
    engine, record = _launch(request)
    try:
        engine.start(record)
    except ValueError as exc:
        raise _Refused(409, str(exc)) from None
    return _answer(engine, record)


async def launches(request: Request) -> Response:
    engine = engine_for(request.app.state.emulator)
    engine.advance()
    records = engine.state.model.launches.values()
    return JSONResponse([engine.describe(r) for r in records])


def _config_answer(engine: LaunchEngine) -> JSONResponse:
    config = engine.state.model.launch_config
    return JSONResponse(
        {"pending_seconds": config.pending_seconds, "run_seconds": config.run_seconds}
    )


async def config_get(request: Request) -> Response:
    return _config_answer(engine_for(request.app.state.emulator))


async def config_post(request: Request) -> Response:
    engine = engine_for(request.app.state.emulator)
    body = await _body(request)
    unknown = set(body) - {"pending_seconds", "run_seconds"}
    if unknown:
        raise _Refused(400, f"unknown key(s): {', '.join(sorted(unknown))}")
    config = engine.state.model.launch_config
    for key in ("pending_seconds", "run_seconds"):
        if key in body:
            setattr(config, key, _positive(body, key))
    return _config_answer(engine)


def _guarded(handler: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            response: Response = await handler(request)
            return response
        except _Refused as refused:
            return JSONResponse({"error": refused.message}, status_code=refused.status)

    return endpoint


def control_routes() -> list[BaseRoute]:
    """Routes relative to the ``/_emulator`` mount."""
    base = "/appsessions/{appsession_id}"
    return [
        Route(f"{base}/finish", _guarded(finish), methods=["POST"]),
        Route(f"{base}/fail", _guarded(fail), methods=["POST"]),
        Route(f"{base}/speed", _guarded(speed), methods=["POST"]),
        Route(f"{base}/start", _guarded(start), methods=["POST"]),
        Route("/launches", _guarded(launches), methods=["GET"]),
        Route("/launches/config", _guarded(config_get), methods=["GET"]),
        Route("/launches/config", _guarded(config_post), methods=["POST"]),
    ]
