"""The lab calls of the ``bs`` CLI over the v2 API: biosamples created by name, their libraries
and lab requeues.

==============================  ===================================================================
action                          request
==============================  ===================================================================
create a biosample              ``POST v2/biosamples`` ``{BioSampleName, DefaultProjectId,
                                ContainerName?, ContainerPosition?}`` (``bs create biosample``)
a biosample's prep requests     ``GET v2/biosamples/{id}`` → ``PrepRequests``
a biosample's libraries         ``GET v2/biosamples/{id}/libraries`` (``bs list libraries`` [G])
a biosample's lab requeues      ``GET v2/biosamples/{id}/labrequeues``
requeue: a new library          ``POST v2/preprequests/{id}/labrequeues``
                                ``{RequestedAdditionalYield, LIMSId}``
                                (``bs biosample requeue --requeue-type=NewLibrary``)
requeue: more of a library      ``POST v2/libraries/{id}/labrequeues`` (same body)
change the default project      ``POST v2/biosamples/bulkupdate`` ``{Ids, DefaultProjectId,
                                ContainerName, ContainerPosition}`` (the web UI's Change Default
                                Project; ``bs`` has no command for it)
==============================  ===================================================================

Creating is never retried once the request may have reached the server (not idempotent). All
calls raise the domain errors of :mod:`bsmount.errors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self

from bsmount.api.models import BioSample, Entity, parse_list
from bsmount.api.routes import expect_object, segment

__all__ = [
    "LabRequeue",
    "Library",
    "PrepRequest",
    "biosample_document",
    "create_biosample",
    "list_lab_requeues",
    "list_libraries",
    "move_biosamples",
    "prep_requests",
    "requeue_library",
    "requeue_new_library",
]


class _Reader(Protocol):
    async def get_json(self, path_or_href: str, params: Any = None) -> Any: ...
    async def list_items(self, path: str, params: Any = None) -> list[dict[str, Any]]: ...


class _Client(_Reader, Protocol):
    async def _call(
        self,
        method: str,
        path_or_href: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        kind: str = "api",
        idempotent: bool = True,
    ) -> Any: ...


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""


@dataclass(frozen=True, kw_only=True)
class Library(Entity):
    """A library of a biosample (V2LibraryCompact); its JSON is only ever in lists."""

    kind: ClassVar[str] = "libraries"
    status: str = ""

    @classmethod
    def from_json(cls, obj: Any) -> Self:
        o = obj if isinstance(obj, Mapping) else {}
        return cls(**cls._common(o), status=_str(o, "Status"))


@dataclass(frozen=True, kw_only=True)
class LabRequeue(Entity):
    """A lab requeue (V2LabRequeueCompact): named by its id, which is all it has."""

    kind: ClassVar[str] = "labrequeues"
    type: str = ""
    status: str = ""

    @classmethod
    def from_json(cls, obj: Any) -> Self:
        o = obj if isinstance(obj, Mapping) else {}
        common = cls._common(o)
        common["name"] = common["id"]
        return cls(**common, type=_str(o, "Type"), status=_str(o, "Status"))


@dataclass(frozen=True)
class PrepRequest:
    """A biosample's prep request (V2PrepRequest): what a ``NewLibrary`` requeue starts from."""

    id: str
    status: str
    library_prep: str
    required_yield_gb: float

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> PrepRequest:
        kit = obj.get("LibraryPrep")
        value = obj.get("RequiredYieldGb")
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return cls(
            id=_str(obj, "Id"),
            status=_str(obj, "Status"),
            library_prep=_str(kit, "Name") if isinstance(kit, Mapping) else "",
            required_yield_gb=float(value) if number else 0.0,  # type: ignore[arg-type]
        )


async def create_biosample(
    client: _Client,
    name: str,
    project_id: str,
    *,
    container_name: str = "",
    container_position: str = "",
) -> BioSample:
    """A new biosample in ``project_id`` (its default project)."""
    body = {"BioSampleName": name, "DefaultProjectId": segment(project_id)}
    if container_name:
        body["ContainerName"] = container_name
    if container_position:
        body["ContainerPosition"] = container_position
    answer = await client._call("POST", "v2/biosamples", json_body=body, idempotent=False)
    return BioSample.from_json(expect_object(answer, "POST v2/biosamples"))


async def biosample_document(client: _Reader, biosample_id: str) -> dict[str, Any]:
    """The biosample's JSON as the API gives it now (``GET v2/biosamples/{id}``)."""
    document = await client.get_json(f"v2/biosamples/{segment(biosample_id)}")
    return expect_object(document, "v2/biosamples/{id}")


async def prep_requests(client: _Reader, biosample_id: str) -> list[PrepRequest]:
    document = await biosample_document(client, biosample_id)
    items = document.get("PrepRequests")
    if not isinstance(items, list):
        return []
    return [PrepRequest.from_json(i) for i in items if isinstance(i, Mapping) and i.get("Id")]


async def list_libraries(client: _Reader, biosample_id: str) -> list[Library]:
    path = f"v2/biosamples/{segment(biosample_id)}/libraries"
    return parse_list(Library, await client.list_items(path))


async def list_lab_requeues(client: _Reader, biosample_id: str) -> list[LabRequeue]:
    path = f"v2/biosamples/{segment(biosample_id)}/labrequeues"
    return parse_list(LabRequeue, await client.list_items(path))


def _requeue_body(requested_yield: int, lims_id: str) -> dict[str, Any]:
    return {"RequestedAdditionalYield": requested_yield, "LIMSId": lims_id}


async def requeue_new_library(
    client: _Client, prep_request_id: str, requested_yield: int, lims_id: str = ""
) -> LabRequeue:
    path = f"v2/preprequests/{segment(prep_request_id)}/labrequeues"
    body = _requeue_body(requested_yield, lims_id)
    answer = await client._call("POST", path, json_body=body, idempotent=False)
    return LabRequeue.from_json(expect_object(answer, "POST v2/preprequests/{id}/labrequeues"))


async def requeue_library(
    client: _Client, library_id: str, requested_yield: int, lims_id: str = ""
) -> LabRequeue:
    path = f"v2/libraries/{segment(library_id)}/labrequeues"
    body = _requeue_body(requested_yield, lims_id)
    answer = await client._call("POST", path, json_body=body, idempotent=False)
    return LabRequeue.from_json(expect_object(answer, "POST v2/libraries/{id}/labrequeues"))


async def move_biosamples(
    client: _Client,
    biosample_ids: list[str],
    project_id: str,
    *,
    container_name: str,
    container_position: str,
) -> list[BioSample]:
    """Give biosamples another default project (their container sent as it is: the reference
    marks it required). Setting the same values again changes nothing, so it may be retried."""
    body = {
        "Ids": [segment(i) for i in biosample_ids],
        "DefaultProjectId": segment(project_id),
        "ContainerName": container_name,
        "ContainerPosition": container_position,
    }
    answer = await client._call("POST", "v2/biosamples/bulkupdate", json_body=body)
    items = expect_object(answer, "POST v2/biosamples/bulkupdate").get("Items")
    return parse_list(BioSample, items)
