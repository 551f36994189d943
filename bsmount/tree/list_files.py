"""``.list.csv``, ``.list.json`` and ``.headers``: what ``bs list <entity> -f csv|json`` and
``bs <entity> headers`` print, as files of every list directory.

They are generated from the entities of the listing the directory shows (no request of their
own), rendered when opened:

* ``.list.csv``: a header row and one row per entity, with the columns ``bs list <entity>``
  prints by default (:data:`COLUMNS`; a dotted column such as ``Project.Name`` reads a nested
  field, as ``bs -F`` does);
* ``.list.json``: a JSON array of the entities as the API gave them (every field);
* ``.headers``: the available field names, one a line (nested objects as ``A.B``), in the order
  the API gives them.

Their mtime is the newest entity's, so ``find -newermt`` sees a list change when an entity does.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bsmount.tree.nodes import MOUNT_TIME_NS, Node, NodeKey, static_file_node, to_ns

__all__ = ["COLUMNS", "LIST_FILE_NAMES", "field_value", "headers", "list_file_entries"]

LIST_CSV = ".list.csv"
LIST_JSON = ".list.json"
HEADERS = ".headers"
LIST_FILE_NAMES = (LIST_CSV, LIST_JSON, HEADERS)

#: The columns ``bs list <entity>`` prints by default, by entity kind (docs/lists.md says which
#: the manual shows and which are chosen: ``bs`` has no ``list samples``).
COLUMNS: Mapping[str, tuple[str, ...]] = {
    "projects": ("Name", "Id", "TotalSize"),
    "runs": ("Name", "Id", "ExperimentName", "Status"),
    "biosamples": ("BioSampleName", "Id", "ContainerName", "ContainerPosition", "Status"),
    "appsessions": ("Name", "Id", "ExecutionStatus"),
    "applications": ("Name", "Id", "VersionNumber"),
    "appresults": ("Name", "Id", "Status"),
    "libraries": ("Name", "Id", "Status"),
    "labrequeues": ("Id", "Type", "Status", "RequestedAdditionalYield"),
    "datasets": ("Name", "Id", "Project.Name", "DatasetType.Name"),
    "samples": ("Name", "Id", "Status"),
}
_DEFAULT_COLUMNS = ("Name", "Id")


def field_value(raw: Mapping[str, Any], path: str) -> str:
    """The text of field ``path`` (``Project.Name`` reads a nested object) of an entity's JSON;
    ``""`` when absent. Booleans are ``true``/``false``, objects and arrays JSON."""
    value: Any = raw
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return ""
        value = value.get(part)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def headers(raws: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every field name of the entities (nested objects flattened as ``A.B``), first seen first."""
    seen: dict[str, None] = {}

    def walk(obj: Mapping[str, Any], prefix: str) -> None:
        for key, value in obj.items():
            name = f"{prefix}{key}"
            if isinstance(value, Mapping) and value:
                walk(value, name + ".")
            else:
                seen.setdefault(name, None)

    for raw in raws:
        walk(raw, "")
    return list(seen)


def render_csv(entities: Sequence[Any], columns: Sequence[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for entity in entities:
        writer.writerow([field_value(entity.raw, column) for column in columns])
    return out.getvalue().encode("utf-8")


def render_json(entities: Sequence[Any]) -> bytes:
    document = [dict(entity.raw) for entity in entities]
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def render_headers(entities: Sequence[Any], columns: Sequence[str]) -> bytes:
    names = headers(entity.raw for entity in entities) or list(columns)
    return "".join(f"{name}\n" for name in names).encode("utf-8")


def list_file_entries(key: NodeKey, kind: str, entities: Sequence[Any]) -> dict[str, Node]:
    """The ``.list.csv .list.json .headers`` of the list directory ``key`` showing ``entities``
    (all of one ``kind``: ``"projects"``...)."""
    columns = COLUMNS.get(kind, _DEFAULT_COLUMNS)
    frozen = tuple(entities)
    mtime = max((to_ns(e.date_modified or e.date_created) for e in frozen), default=MOUNT_TIME_NS)

    async def load_csv() -> bytes:
        return render_csv(frozen, columns)

    async def load_json() -> bytes:
        return render_json(frozen)

    async def load_headers() -> bytes:
        return render_headers(frozen, columns)

    return {
        LIST_CSV: static_file_node(key + (LIST_CSV,), loader=load_csv, mtime_ns=mtime),
        LIST_JSON: static_file_node(key + (LIST_JSON,), loader=load_json, mtime_ns=mtime),
        HEADERS: static_file_node(key + (HEADERS,), loader=load_headers, mtime_ns=mtime),
    }
