"""What API handlers read from a request: query parameters and bodies.

- :class:`Params`: query parameters, names and enum values case-insensitive (``Limit``/``limit``,
  ``SortDir=desc``), ``x[]`` counting as ``x``; bad integers and booleans are 400
  ``BASESPACE.COMMON.INVALID_PARAMETER``.
- :func:`read_fields`: the fields of a write (``POST v1pre3/projects``, ``POST v2/projects``,
  v1pre3 ``POST appsessions/{id}``) from the query string, then a JSON object or a form body.
- :func:`read_object`: like :func:`read_fields` but JSON values keep their types (the
  ``References`` list of ``POST projects/{id}/appresults``).
- :func:`read_properties`: the items of a ``{"Properties": [...]}`` body (basespace-api.md §3.9;
  the same for v1pre3 and v2), validated by :mod:`bsmount.emulator.state.properties`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from bsmount.emulator.http.errors import ApiProblem

__all__ = ["Params", "read_fields", "read_object", "read_properties"]


class Params:
    """Query parameters with case-insensitive names; ``x[]`` counts as ``x``."""

    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self._items = [(k.lower().removesuffix("[]"), v) for k, v in items]

    def get(self, name: str) -> str | None:
        wanted = name.lower()
        found = None
        for key, value in self._items:
            if key == wanted:
                found = value
        return found

    def get_list(self, name: str) -> list[str]:
        """Every value of ``name``, comma-separated values split, blanks dropped."""
        wanted = name.lower()
        values: list[str] = []
        for key, value in self._items:
            if key == wanted:
                values.extend(v.strip() for v in value.split(",") if v.strip())
        return values

    def get_int(self, name: str, default: int) -> int:
        raw = self.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise ApiProblem(
                400, "BASESPACE.COMMON.INVALID_PARAMETER", f"{name} must be an integer"
            ) from None
        if value < 0:
            raise ApiProblem(400, "BASESPACE.COMMON.INVALID_PARAMETER", f"{name} must be >= 0")
        return value

    def get_bool(self, name: str, default: bool) -> bool:
        raw = self.get(name)
        if raw is None or raw.strip() == "":
            return default
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ApiProblem(400, "BASESPACE.COMMON.INVALID_PARAMETER", f"{name} must be true or false")


async def read_fields(request: Request) -> dict[str, str]:
    """Fields from the query string, then a JSON object or form body (names lower-cased, JSON
    nulls as ""); ``access_token`` and ``x-access-token`` are dropped."""
    fields = {k.lower(): v for k, v in request.query_params.items()}
    raw = await request.body()
    if raw.strip():
        content_type = request.headers.get("content-type", "").lower()
        if "json" in content_type or raw.lstrip().startswith(b"{"):
            try:
                data = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise ApiProblem(
                    400, "BASESPACE.COMMON.INVALID_REQUEST", "The body is not valid JSON"
                ) from None
            if not isinstance(data, dict):
                raise ApiProblem(400, "BASESPACE.COMMON.INVALID_REQUEST", "Expected a JSON object")
            fields.update({str(k).lower(): "" if v is None else str(v) for k, v in data.items()})
        else:
            pairs = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
            fields.update({k.lower(): v for k, v in pairs})
    for param in ("access_token", "x-access-token"):  # tokens are never fields
        fields.pop(param, None)
    return fields


async def read_object(request: Request) -> dict[str, Any]:
    """Fields from the query string, then a JSON object or form body; names lower-cased, JSON
    values as they are; ``access_token`` and ``x-access-token`` are dropped."""
    fields: dict[str, Any] = {k.lower(): v for k, v in request.query_params.items()}
    raw = await request.body()
    if raw.strip():
        content_type = request.headers.get("content-type", "").lower()
        if "json" in content_type or raw.lstrip().startswith(b"{"):
            try:
                data = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise ApiProblem(
                    400, "BASESPACE.COMMON.INVALID_REQUEST", "The body is not valid JSON"
                ) from None
            if not isinstance(data, dict):
                raise ApiProblem(400, "BASESPACE.COMMON.INVALID_REQUEST", "Expected a JSON object")
            fields.update({str(k).lower(): v for k, v in data.items()})
        else:
            pairs = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
            fields.update({k.lower(): v for k, v in pairs})
    for param in ("access_token", "x-access-token"):  # tokens are never fields
        fields.pop(param, None)
    return fields


def _invalid_properties(message: str) -> ApiProblem:
    return ApiProblem(400, "BASESPACE.PROPERTIES.INVALID_REQUEST", message)


async def read_properties(request: Request) -> list[Mapping[str, Any]]:
    """The list under ``Properties`` in a JSON body, each item with lower-cased keys (other keys
    of an item, such as ``Id`` or ``Options``, are kept and ignored later)."""
    raw = await request.body()
    try:
        data = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _invalid_properties("The body is not valid JSON") from None
    if not isinstance(data, dict):
        raise _invalid_properties('Expected a JSON object {"Properties": [...]}')
    lowered = {str(k).lower(): v for k, v in data.items()}
    items = lowered.get("properties")
    if not isinstance(items, list) or not items:
        raise _invalid_properties('"Properties" must be a non-empty list')
    result: list[Mapping[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _invalid_properties(f"Properties[{index}] must be an object")
        result.append({str(k).lower(): v for k, v in item.items()})
    return result
