"""The OAuth device flow's switches on the control plane (mounted under ``/_emulator``).

``POST oauth/approve {"user_code", "user"?}``, ``POST oauth/deny {"user_code"}``, ``GET
oauth/pending``, ``POST oauth/config {"expires_in"?, "interval"?}`` (for new authorizations).
Answers are plain JSON: the grant as :func:`~bsmount.emulator.oauth.device_flow.describe` shows
it, or ``{"error": ...}`` with the status of the
:class:`~bsmount.emulator.oauth.device_flow.DecisionError`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bsmount.emulator.oauth.device_flow import DecisionError, decide, describe
from bsmount.emulator.state.account import EmulatorState

__all__ = ["control_routes"]


async def _control_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise DecisionError(400, "body is not JSON") from None
    if not isinstance(body, dict):
        raise DecisionError(400, "body must be a JSON object")
    return body


def _control_decision(approve: bool) -> Any:
    async def handler(request: Request) -> Response:
        state: EmulatorState = request.app.state.emulator
        try:
            body = await _control_body(request)
            code = body.get("user_code")
            user = body.get("user")
            if not isinstance(code, str) or not code:
                raise DecisionError(400, 'body must be {"user_code": "...", "user": optional id}')
            if user is not None and not isinstance(user, str):
                raise DecisionError(400, "user must be a user id string")
            grant = decide(state, code, approve, user)
        except DecisionError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        return JSONResponse(describe(grant, time.monotonic()))

    return handler


async def pending(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    now = time.monotonic()
    grants = state.model.device_grants.values()
    return JSONResponse(
        [describe(g, now) for g in grants if g.status == "pending" and not g.expired(now)]
    )


async def config(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    try:
        body = await _control_body(request)
        values: dict[str, int] = {}
        for key, minimum in (("expires_in", 1), ("interval", 0)):
            value = body.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise DecisionError(400, f"{key} must be an integer >= {minimum}")
            values[key] = value
    except DecisionError as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    with state.lock:
        model = state.model
        model.oauth_expires_in = values.get("expires_in", model.oauth_expires_in)
        model.oauth_interval = values.get("interval", model.oauth_interval)
    return JSONResponse({"expires_in": model.oauth_expires_in, "interval": model.oauth_interval})


def control_routes() -> list[BaseRoute]:
    """Routes for the ``/_emulator`` mount."""
    return [
        Route("/oauth/approve", _control_decision(True), methods=["POST"]),
        Route("/oauth/deny", _control_decision(False), methods=["POST"]),
        Route("/oauth/pending", pending, methods=["GET"]),
        Route("/oauth/config", config, methods=["POST"]),
    ]
