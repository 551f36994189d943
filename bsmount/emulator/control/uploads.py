"""Control-plane routes for uploads: what was uploaded, and the multipart limits in force.

- ``GET /_emulator/uploads`` → every upload since the last reset, oldest first:
  ``[{"file_id", "path", "container", "user_id", "multipart", "status", "size", "etag",
  "parts": [{"number", "size", "etag"}], "part_count", "part_bytes", "part_puts",
  "date_started", "date_finished"}]`` (:func:`bsmount.emulator.state.uploads.describe_uploads`);
  ``?status=pending`` keeps one status.
- ``GET /_emulator/uploads/{file_id}`` → one of them (404 if that file was not uploaded).
- ``GET /_emulator/config`` → ``{"min_part_size", "max_part_size", "max_parts", "spool_dir",
  "spool_bytes"}``; ``POST /_emulator/config`` with any of the first three (integers ≥ 1;
  ``min_part_size`` ≤ ``max_part_size``) changes them until the next reset, which restores the
  command line's values (``--min-part-size``, ``--max-part-size``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.model import UploadLimits
from bsmount.emulator.state.uploads import describe_uploads

__all__ = ["LIMIT_KEYS", "control_routes"]

log = logging.getLogger(__name__)

LIMIT_KEYS = ("min_part_size", "max_part_size", "max_parts")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def uploads_list(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    uploads = describe_uploads(state)
    wanted = request.query_params.get("status")
    if wanted:
        uploads = [u for u in uploads if u["status"] == wanted.lower()]
    return JSONResponse(uploads)


async def upload_one(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    file_id = request.path_params["file_id"]
    for upload in describe_uploads(state):
        if upload["file_id"] == file_id:
            return JSONResponse(upload)
    return _error(404, f"no upload of file {file_id}")


def _config(state: EmulatorState) -> dict[str, Any]:
    body: dict[str, Any] = dataclasses.asdict(state.upload_limits)
    body["spool_dir"] = str(state.spool.root)
    body["spool_bytes"] = state.spool.usage()
    return body


async def config_get(request: Request) -> Response:
    return JSONResponse(_config(request.app.state.emulator))


def parse_limits(body: Any, current: UploadLimits) -> UploadLimits:
    """``current`` with the values of ``body`` (a JSON object); ValueError if any is bad."""
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    unknown = set(body) - set(LIMIT_KEYS)
    if unknown:
        raise ValueError(f"unknown keys: {sorted(unknown)} (known: {', '.join(LIMIT_KEYS)})")
    for key, value in body.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{key} must be an integer >= 1")
    limits = dataclasses.replace(current, **body)
    if limits.min_part_size > limits.max_part_size:
        raise ValueError("min_part_size must not exceed max_part_size")
    return limits


async def config_post(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    try:
        body = json.loads(await request.body() or b"null")
        state.upload_limits = parse_limits(body, state.upload_limits)
    except ValueError as exc:  # JSONDecodeError included
        return _error(400, str(exc))
    log.info("upload limits now %s", state.upload_limits)
    return JSONResponse(_config(state))


def control_routes() -> list[BaseRoute]:
    """Routes to mount under ``/_emulator``."""
    return [
        Route("/uploads", uploads_list, methods=["GET"]),
        Route("/uploads/{file_id}", upload_one, methods=["GET"]),
        Route("/config", config_get, methods=["GET"]),
        Route("/config", config_post, methods=["POST"]),
    ]
