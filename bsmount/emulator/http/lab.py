"""The lab routes of the emulator (v2): creating biosamples, their libraries and lab requeues.

=====================================================  ========================================
route                                                  answer
=====================================================  ========================================
``POST v2/biosamples``                                 201 V2BiologicalSample (409 on a name
                                                       its project has, ignoring case)
``POST v2/biosamples/bulkupdate``                      IBiologicalSampleCompactList [G]: the
                                                       biosamples, now in DefaultProjectId
``GET v2/biosamples/{id}/libraries``                   V2LibraryCompactList
``POST v2/biosamples/{id}/libraries``                  V2LibraryCompact
``GET v2/libraries`` (``status``)                      V2LibraryCompactList, every biosample's
``GET v2/libraries/{id}``                              [G] V2LibraryCompact (its ``Href``)
``GET v2/biosamples/{biosampleid}/labrequeues``        V2LabRequeueCompactList (``type``)
``GET v2/labrequeues`` (``status``, ``type``)          V2LabRequeueList
``GET v2/labrequeues/{id}``                            V2LabRequeue
``POST v2/preprequests/{id}/labrequeues``              V2LabRequeue ``NewBioSampleLibrary``
``POST v2/libraries/{id}/labrequeues``                 V2LabRequeue ``AdditionalYieldOfLibrary``
=====================================================  ========================================

Shapes follow the v2 reference's schemas; the rules are :mod:`bsmount.emulator.state.lab`'s.
These routes come before the v2 reads (``POST v2/biosamples`` shares the list's path).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute

from bsmount.emulator.http.paging import paginate
from bsmount.emulator.http.request import read_object
from bsmount.emulator.http.responses import json_response
from bsmount.emulator.http.routing import Ctx, api_route
from bsmount.emulator.http.views.lab import kit_view
from bsmount.emulator.http.views.v2 import V2Views
from bsmount.emulator.state import lab
from bsmount.emulator.state.lab_model import LabRequeue, Library
from bsmount.emulator.state.model import BioSample, format_date

__all__ = ["LabViews", "routes"]

V2 = "/v2"


def _created(item: Any) -> Any:
    return item.date_created


def _modified(item: Any) -> Any:
    return item.date_modified


LIBRARY_SORTS: dict[str, Callable[[Any], Any]] = {
    "Name": lambda x: x.name.casefold(),
    "DateCreated": _created,
    "DateModified": _modified,
    "Status": lambda x: x.status,
}
REQUEUE_SORTS: dict[str, Callable[[Any], Any]] = {
    "DateCreated": _created,
    "DateModified": _modified,
    "Type": lambda r: r.type,
    "RequestedAdditionalYield": lambda r: r.requested_additional_yield,
}


class LabViews:
    """The JSON of lab objects (V2LibraryCompact, V2LabRequeue)."""

    def __init__(self, ctx: Ctx) -> None:
        self.state = ctx.state
        self.v2 = V2Views(ctx.state, ctx.base_url)

    def _biosample(self, biosample_id: str) -> tuple[BioSample | None, dict[str, Any]]:
        found: BioSample | None = self.state.peek("biosamples", biosample_id)
        if found is None:
            return None, {"Id": biosample_id}
        return found, self.v2.biosample(found)

    def _owner(self, biosample: BioSample | None) -> dict[str, Any]:
        project = self.state.peek("projects", biosample.project_id) if biosample else None
        return self.v2.user_compact(project.owner_id if project else "")

    def library(self, library: Library) -> dict[str, Any]:
        found, biosample = self._biosample(library.biosample_id)
        project = self.state.peek("projects", found.project_id) if found else None
        body: dict[str, Any] = {
            "Id": library.id,
            "Href": self.v2.href(f"libraries/{library.id}"),
            "Name": library.name,
            "DateCreated": format_date(library.date_created),
            "DateModified": format_date(library.date_modified),
            "Status": library.status,
            "BioSample": biosample,
            "LibraryPrep": kit_view(library.library_prep),
        }
        if project is not None:
            body["Project"] = self.v2.project(project)
        if library.container_name:
            body["Container"] = {
                "Id": library.container_name,
                "UserContainerId": library.container_name,
            }
        body.update(
            {
                "Pools": [],
                "PoolComponentActualYieldInBps": library.yield_bps,
                "InsertSize": library.insert_size,
                "Biomolecule": library.biomolecule,
                "Index1Sequence": library.index1,
                "Index2Sequence": library.index2,
                "UserOwnedBy": self._owner(found),
            }
        )
        return body

    def requeue(self, requeue: LabRequeue, full: bool = False) -> dict[str, Any]:
        found, biosample = self._biosample(requeue.biosample_id)
        body: dict[str, Any] = {
            "Id": requeue.id,
            "Href": self.v2.href(f"labrequeues/{requeue.id}"),
            "Status": requeue.status,
            "Type": requeue.type,
            "BioSample": biosample,
            "UserOwnedBy": self._owner(found),
            "DateCreated": format_date(requeue.date_created),
            "DateModified": format_date(requeue.date_modified),
            "RequestedAdditionalYield": requeue.requested_additional_yield,
            "MatchedYield": requeue.matched_yield,
            "MissingYield": max(requeue.requested_additional_yield - requeue.matched_yield, 0),
            "LIMSId": requeue.lims_id,
            "PrepType": "Library" if requeue.library_id else "BioSample",
        }
        if requeue.library_id:
            body["HrefSampleLibrary"] = self.v2.href(f"libraries/{requeue.library_id}")
        if requeue.prep_request_id:
            body["HrefPrepRequest"] = self.v2.href(f"preprequests/{requeue.prep_request_id}")
        if full:
            body = {"Properties": {"Items": [], "DisplayedCount": 0, "TotalCount": 0}, **body}
        return body


def _list(
    ctx: Ctx, items: list[Any], sorts: dict[str, Callable[[Any], Any]], render: Any
) -> Response:
    page = paginate(ctx.params, items, sorts)
    return json_response({"Items": [render(i) for i in page.items], "Paging": page.v2_paging()})


def _wanted(ctx: Ctx, name: str) -> set[str]:
    return {v.lower() for v in ctx.params.get_list(name)}


# ---------------------------------------------------------------------- biosamples
async def create_biosample(ctx: Ctx) -> Response:
    body = await read_object(ctx.request)
    biosample = lab.create_biosample(ctx.state, ctx.user, body)
    return json_response(LabViews(ctx).v2.biosample(biosample, full=True), 201)


async def bulk_update(ctx: Ctx) -> Response:
    body = await read_object(ctx.request)
    updated = lab.bulk_update(ctx.state, ctx.user, body)
    views = LabViews(ctx)
    items = [views.v2.biosample(b) for b in updated]
    return json_response({"Items": items, "DisplayedCount": len(items), "TotalCount": len(items)})


# ---------------------------------------------------------------------- libraries
async def biosample_libraries(ctx: Ctx) -> Response:
    biosample: BioSample = ctx.get("biosamples")
    views = LabViews(ctx)
    return _list(ctx, lab.libraries_of(ctx.state, biosample), LIBRARY_SORTS, views.library)


async def create_library(ctx: Ctx) -> Response:
    body = await read_object(ctx.request)
    library = lab.create_library(ctx.state, ctx.user, ctx.path("id"), body)
    return json_response(LabViews(ctx).library(library))


async def library(ctx: Ctx) -> Response:
    found = lab.get_library(ctx.state, ctx.user, ctx.path("id"))
    return json_response(LabViews(ctx).library(found))


async def libraries(ctx: Ctx) -> Response:
    items = lab.all_libraries(ctx.state, ctx.user)
    statuses = _wanted(ctx, "status")
    if statuses:
        items = [x for x in items if x.status.lower() in statuses]
    return _list(ctx, items, LIBRARY_SORTS, LabViews(ctx).library)


# ---------------------------------------------------------------------- lab requeues
async def biosample_requeues(ctx: Ctx) -> Response:
    biosample: BioSample = ctx.get("biosamples", ctx.path("biosampleid"))
    items = lab.requeues_of(ctx.state, biosample)
    types = _wanted(ctx, "type")
    if types:
        items = [r for r in items if r.type.lower() in types]
    return _list(ctx, items, REQUEUE_SORTS, LabViews(ctx).requeue)


async def requeues(ctx: Ctx) -> Response:
    items = lab.all_requeues(ctx.state, ctx.user)
    statuses, types = _wanted(ctx, "status"), _wanted(ctx, "type")
    if statuses:
        items = [r for r in items if r.status.lower() in statuses]
    if types:
        items = [r for r in items if r.type.lower() in types]
    views = LabViews(ctx)
    return _list(ctx, items, REQUEUE_SORTS, lambda r: views.requeue(r, full=True))


async def requeue(ctx: Ctx) -> Response:
    found = lab.get_requeue(ctx.state, ctx.user, ctx.path("id"))
    return json_response(LabViews(ctx).requeue(found, full=True))


async def requeue_from_prep_request(ctx: Ctx) -> Response:
    body = await read_object(ctx.request)
    made = lab.requeue_new_library(ctx.state, ctx.user, ctx.path("id"), body)
    return json_response(LabViews(ctx).requeue(made, full=True))


async def requeue_from_library(ctx: Ctx) -> Response:
    body = await read_object(ctx.request)
    made = lab.requeue_library(ctx.state, ctx.user, ctx.path("id"), body)
    return json_response(LabViews(ctx).requeue(made, full=True))


def routes() -> list[BaseRoute]:
    """The lab routes (before the v2 reads: ``POST v2/biosamples`` shares a path with them)."""
    post = ("POST",)
    return [
        api_route(f"{V2}/biosamples", create_biosample, "v2", methods=post),
        api_route(f"{V2}/biosamples/bulkupdate", bulk_update, "v2", methods=post),
        api_route(f"{V2}/biosamples/{{id}}/libraries", biosample_libraries, "v2"),
        api_route(f"{V2}/biosamples/{{id}}/libraries", create_library, "v2", methods=post),
        api_route(f"{V2}/biosamples/{{biosampleid}}/labrequeues", biosample_requeues, "v2"),
        api_route(f"{V2}/libraries", libraries, "v2"),
        api_route(f"{V2}/libraries/{{id}}", library, "v2"),
        api_route(f"{V2}/labrequeues", requeues, "v2"),
        api_route(f"{V2}/labrequeues/{{id}}", requeue, "v2"),
        api_route(
            f"{V2}/preprequests/{{id}}/labrequeues", requeue_from_prep_request, "v2", methods=post
        ),
        api_route(f"{V2}/libraries/{{id}}/labrequeues", requeue_from_library, "v2", methods=post),
    ]
