"""The emulator's control plane under ``/_emulator/``: never part of the real API, no token needed.

- ``GET health`` → ``{"status": "ok"}``
- ``POST reset``: the state goes back to its seed, the request log and the fault rules are cleared
- ``GET requests[?since=INDEX]`` → the request log (JSON list, oldest first); ``DELETE requests``
- ``POST faults`` (a rule, a list of rules, or ``{"rules": [...], "seed": N}``) → ``{"ids": [..]}``;
  ``GET faults`` → the rules with their ``fired`` counts; ``DELETE faults``; ``DELETE faults/{id}``
- ``POST appsessions/{id}/status`` with ``{"status": "Complete"}`` → moves an appsession
- ``GET stats`` → request counts and body bytes by route kind and by status
- ``POST oauth/approve``, ``POST oauth/deny``, ``GET oauth/pending``, ``POST oauth/config``: the
  OAuth device flow's switches (:mod:`bsmount.emulator.oauth.control`)
- ``POST appsessions/{id}/finish|fail|speed|start``, ``GET launches``, ``GET``/``POST
  launches/config``: launched sessions (:mod:`bsmount.emulator.apps.control`)
- ``GET uploads``, ``GET uploads/{file_id}``, ``GET``/``POST config`` (multipart limits):
  :mod:`bsmount.emulator.control.uploads`

Requests are read from ``request.app.state`` (``emulator``, ``faults``, ``log``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from bsmount.emulator.apps.control import control_routes as app_control_routes
from bsmount.emulator.control.faults import FaultRegistry, RuleError
from bsmount.emulator.control.uploads import control_routes as upload_control_routes
from bsmount.emulator.oauth.control import control_routes as oauth_control_routes

__all__ = ["control_routes"]

log = logging.getLogger(__name__)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise RuleError(f"body is not JSON: {exc}") from None


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def reset(request: Request) -> Response:
    request.app.state.emulator.reset()
    request.app.state.log.clear()
    request.app.state.faults.clear()
    log.info("emulator reset")
    return JSONResponse({"status": "reset"})


async def requests_get(request: Request) -> Response:
    since_text = request.query_params.get("since", "0")
    try:
        since = int(since_text)
    except ValueError:
        return _error(400, "since must be an integer")
    return JSONResponse(request.app.state.log.entries(since))


async def requests_delete(request: Request) -> Response:
    request.app.state.log.clear()
    return Response(status_code=204)


async def faults_post(request: Request) -> Response:
    registry: FaultRegistry = request.app.state.faults
    reseed, seed = False, None
    try:
        body = await _json_body(request)
        if isinstance(body, dict) and "rules" in body:
            reseed, seed = "seed" in body, body.get("seed")
            if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
                raise RuleError("seed must be an integer")
            body = body["rules"]
        rules = body if isinstance(body, list) else [body]
        ids = registry.add_all(rules)
    except RuleError as exc:
        return _error(400, str(exc))
    if reseed:
        registry.seed(seed)
    return JSONResponse({"ids": ids}, status_code=201)


async def faults_get(request: Request) -> Response:
    return JSONResponse(request.app.state.faults.describe())


async def faults_delete(request: Request) -> Response:
    request.app.state.faults.clear()
    return Response(status_code=204)


async def fault_delete(request: Request) -> Response:
    try:
        rule_id = int(request.path_params["rule_id"])
    except ValueError:
        return _error(404, "no such rule")
    if not request.app.state.faults.remove(rule_id):
        return _error(404, "no such rule")
    return Response(status_code=204)


async def appsession_status(request: Request) -> Response:
    appsession_id: str = request.path_params["appsession_id"]
    try:
        body = await _json_body(request)
    except RuleError as exc:
        return _error(400, str(exc))
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(status, str) or not status:
        return _error(400, 'body must be {"status": "<AppSession status>"}')
    try:
        request.app.state.emulator.set_appsession_status(appsession_id, status)
    except KeyError:
        return _error(404, f"no appsession {appsession_id}")
    except ValueError as exc:
        return _error(400, str(exc))
    return JSONResponse({"id": appsession_id, "status": status})


async def stats(request: Request) -> Response:
    data = request.app.state.log.stats()
    data["faults_fired"] = sum(rule["fired"] for rule in request.app.state.faults.describe())
    return JSONResponse(data)


def control_routes() -> list[BaseRoute]:
    """The ``/_emulator`` mount."""
    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/requests", requests_get, methods=["GET"]),
        Route("/requests", requests_delete, methods=["DELETE"]),
        Route("/faults", faults_post, methods=["POST"]),
        Route("/faults", faults_get, methods=["GET"]),
        Route("/faults", faults_delete, methods=["DELETE"]),
        Route("/faults/{rule_id}", fault_delete, methods=["DELETE"]),
        Route("/appsessions/{appsession_id}/status", appsession_status, methods=["POST"]),
        Route("/stats", stats, methods=["GET"]),
        *oauth_control_routes(),
        *upload_control_routes(),
        *app_control_routes(),
    ]
    return [Mount("/_emulator", routes=routes)]
