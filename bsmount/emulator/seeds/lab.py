"""The lab part of a seed's biosample: ``"lab": {"prep_requests": [...], "libraries": [...],
"lab_requeues": [...]}`` (docs/emulator.md shows an example).

A prep request is ``{"key", "library_prep", "required_yield_gb", "lims_id", "status",
"date_created"}``; a library ``{"key", "name", "library_prep", "status", "index1", "index2",
"container_name", "container_position", "insert_size", "biomolecule", "yield_bps",
"date_created"}``; a lab requeue ``{"type", "requested_additional_yield", "status", "lims_id",
"prep_request", "library", "matched_yield", "date_created"}``, whose ``prep_request`` and
``library`` name a key of the same biosample's lab. Ids come from the lab tables' own ranges, in
document order, so a seed always yields the same ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bsmount.emulator.seeds.build import BuilderCore
from bsmount.emulator.seeds.schema import SeedError
from bsmount.emulator.state.lab_model import REQUEUE_TYPES, LabRequeue, Library, PrepRequest
from bsmount.emulator.state.model import BioSample

__all__ = ["LAB_KEYS", "seed_lab"]

LAB_KEYS: dict[str, tuple[str, ...]] = {
    "lab": ("prep_requests", "libraries", "lab_requeues"),
    "prep_request": ("key", "library_prep", "required_yield_gb", "lims_id", "status",
                     "date_created"),
    "library": ("key", "name", "library_prep", "status", "index1", "index2", "container_name",
                "container_position", "insert_size", "biomolecule", "yield_bps", "date_created"),
    "lab_requeue": ("type", "requested_additional_yield", "status", "lims_id", "prep_request",
                    "library", "matched_yield", "date_created"),
}  # fmt: skip


def _obj(value: Any, kind: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SeedError(f"{where}: expected an object")
    unknown = sorted(set(value) - set(LAB_KEYS[kind]))
    if unknown:
        raise SeedError(f"{where}: unknown key(s) {', '.join(unknown)} for a {kind}")
    return value


def _number(spec: Mapping[str, Any], key: str, where: str) -> float:
    value = spec.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise SeedError(f"{where}.{key}: expected a non-negative number")
    return float(value)


def seed_lab(builder: BuilderCore, raw: Any, where: str, biosample: BioSample) -> None:
    """Add the prep requests, libraries and lab requeues of ``biosample`` to the model."""
    if raw is None:
        return
    spec = _obj(raw, "lab", where)
    lab = builder.model.lab
    local: dict[str, str] = {}  # key -> id, within this biosample's lab

    def register(item: Mapping[str, Any], item_where: str, new_id: str) -> None:
        key = item.get("key")
        if key is None:
            return
        if not isinstance(key, str) or not key or key in local:
            raise SeedError(f"{item_where}.key: expected a new non-empty string")
        local[key] = new_id

    def dated(item: Mapping[str, Any], item_where: str) -> Any:
        return builder.date(item, "date_created", item_where) or builder.tick()

    for i, raw_prep in enumerate(
        builder.list_of(spec.get("prep_requests"), f"{where}.prep_requests")
    ):
        w = f"{where}.prep_requests[{i}]"
        item = _obj(raw_prep, "prep_request", w)
        when = dated(item, w)
        prep = PrepRequest(
            id=lab.new_id("preprequests"),
            biosample_id=biosample.id,
            library_prep=builder.text(item, "library_prep", w, "Unknown"),
            required_yield_gb=_number(item, "required_yield_gb", w),
            date_created=when,
            date_modified=when,
            status=builder.text(item, "status", w, "Active"),
            lims_id=builder.text(item, "lims_id", w, ""),
        )
        lab.prep_requests[prep.id] = prep
        register(item, w, prep.id)
    for i, raw_library in enumerate(builder.list_of(spec.get("libraries"), f"{where}.libraries")):
        w = f"{where}.libraries[{i}]"
        item = _obj(raw_library, "library", w)
        when = dated(item, w)
        library = Library(
            id=lab.new_id("libraries"),
            biosample_id=biosample.id,
            name=builder.text(item, "name", w),
            library_prep=builder.text(item, "library_prep", w, "Unknown"),
            date_created=when,
            date_modified=when,
            status=builder.text(item, "status", w, "Active"),
            index1=builder.text(item, "index1", w, ""),
            index2=builder.text(item, "index2", w, ""),
            container_name=builder.text(item, "container_name", w, ""),
            container_position=builder.text(item, "container_position", w, ""),
            insert_size=builder.text(item, "insert_size", w, ""),
            biomolecule=builder.text(item, "biomolecule", w, "DNA"),
            yield_bps=builder.integer(item, "yield_bps", w, 0),
        )
        lab.libraries[library.id] = library
        register(item, w, library.id)
    for i, raw_requeue in enumerate(
        builder.list_of(spec.get("lab_requeues"), f"{where}.lab_requeues")
    ):
        w = f"{where}.lab_requeues[{i}]"
        item = _obj(raw_requeue, "lab_requeue", w)
        kind = builder.text(item, "type", w, "NewBioSampleLibrary")
        if kind not in REQUEUE_TYPES:
            raise SeedError(f"{w}.type: expected one of {', '.join(REQUEUE_TYPES)}")
        links: dict[str, str | None] = {}
        for field, name in (("prep_request", "prep_request_id"), ("library", "library_id")):
            ref = item.get(field)
            if ref is not None:
                if ref not in local:
                    raise SeedError(f"{w}.{field}: no {field} with key {ref!r} in this biosample")
                links[name] = local[ref]
        when = dated(item, w)
        requeue = LabRequeue(
            id=lab.new_id("labrequeues"),
            biosample_id=biosample.id,
            type=kind,
            requested_additional_yield=builder.integer(item, "requested_additional_yield", w, 1),
            date_created=when,
            date_modified=when,
            status=builder.text(item, "status", w, "Requested"),
            lims_id=builder.text(item, "lims_id", w, ""),
            matched_yield=builder.integer(item, "matched_yield", w, 0),
            **links,
        )
        lab.requeues[requeue.id] = requeue
