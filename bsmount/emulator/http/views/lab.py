"""The JSON of a biosample's prep requests (V2PrepRequest), shared by the biosample view
(``PrepRequests`` of ``GET v2/biosamples/{id}``) and the lab routes (:mod:`..lab`)."""

from __future__ import annotations

from typing import Any, Protocol

from bsmount.emulator.state.lab import prep_requests_of
from bsmount.emulator.state.lab_model import PrepRequest
from bsmount.emulator.state.model import BioSample, format_date

__all__ = ["kit_view", "prep_request_view", "prep_requests_view"]


class _Hrefs(Protocol):
    def href(self, path: str) -> str: ...


def kit_view(name: str) -> dict[str, Any]:
    """A LibraryPrepKitCompact known by its name only [G]."""
    return {"Id": name, "Name": name}


def prep_request_view(views: _Hrefs, prep: PrepRequest, biosample: Any) -> dict[str, Any]:
    return {
        "Id": prep.id,
        "Href": views.href(f"preprequests/{prep.id}"),
        "Status": prep.status,
        "BioSample": biosample,
        "LibraryPrep": kit_view(prep.library_prep),
        "DateCreated": format_date(prep.date_created),
        "DateModified": format_date(prep.date_modified),
        "RequiredYield": int(prep.required_yield_gb * 1_000_000_000),
        "RequiredYieldGb": prep.required_yield_gb,
        "LIMSId": prep.lims_id,
    }


def prep_requests_view(views: _Hrefs, state: Any, biosample: BioSample) -> list[dict[str, Any]]:
    """A biosample's ``PrepRequests`` (their ``BioSample`` only by Id and Href, not nested)."""
    ref = {"Id": biosample.id, "Href": views.href(f"biosamples/{biosample.id}")}
    return [prep_request_view(views, p, ref) for p in prep_requests_of(state, biosample)]
