"""The seed's application catalogue (top-level ``applications``): apps, versions, input forms.

One seed object per app; each of its ``versions`` becomes an
:class:`~bsmount.emulator.state.applications.AppVersion` with its own id, sharing the app's name,
slug, runner, timings and form (a version may give its own ``form``)::

    {"name": "BWA Aligner", "slug": "illumina-inc.bwa-aligner", "runner": "aligner",
     "run_seconds": 3, "versions": [{"id": "3946944", "version": "1.0.0"}, ...],
     "form": [{"id": "project-id", "type": "project", "required": true}, ...]}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bsmount.emulator.seeds.schema import SeedError, SeedReader
from bsmount.emulator.state.applications import FIELD_TYPES, RUNNERS, AppVersion, FormField
from bsmount.emulator.state.model import valid_id
from bsmount.emulator.state.tables import Model

__all__ = ["read_applications"]

_FIELD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def read_applications(reader: SeedReader, specs: list[Any], model: Model) -> None:
    """Add every version of every app in ``specs`` to ``model.applications``."""
    for i, raw in enumerate(specs):
        where = f"applications[{i}]"
        spec = reader.obj(raw, "app", where)
        name = reader.text(spec, "name", where)
        slug = reader.text(spec, "slug", where, "illumina-inc." + "-".join(name.lower().split()))
        runner = reader.text(spec, "runner", where)
        if runner not in RUNNERS:
            raise SeedError(f"{where}.runner: one of {', '.join(RUNNERS)}")
        form = _form(reader, spec.get("form"), f"{where}.form")
        versions = reader.list_of(spec.get("versions"), f"{where}.versions")
        if not versions:
            raise SeedError(f"{where}.versions: at least one version")
        for j, raw_version in enumerate(versions):
            vwhere = f"{where}.versions[{j}]"
            vspec = reader.obj(raw_version, "app_version", vwhere)
            app_id = reader.text(vspec, "id", vwhere)
            if not valid_id("applications", app_id):
                raise SeedError(f"{vwhere}.id: application ids are strings of digits")
            if app_id in model.applications:
                raise SeedError(f"{vwhere}.id: duplicate application id {app_id}")
            own_form = vspec.get("form")
            model.applications[app_id] = AppVersion(
                id=app_id,
                name=name,
                version=reader.text(vspec, "version", vwhere),
                slug=slug,
                runner=runner,
                form=form if own_form is None else _form(reader, own_form, f"{vwhere}.form"),
                company=reader.text(spec, "company", where, "Illumina, Inc."),
                category=reader.text(spec, "category", where, "Native"),
                short_description=reader.text(spec, "short_description", where, ""),
                long_description=reader.text(spec, "long_description", where, ""),
                homepage=reader.text(spec, "homepage", where, ""),
                classifications=tuple(_strings(reader, spec, "classifications", where)),
                date_created=reader.date(vspec, "date_created", vwhere),
                date_published=reader.date(vspec, "date_published", vwhere),
                pending_seconds=_seconds(spec, "pending_seconds", where, 0.5),
                run_seconds=_seconds(spec, "run_seconds", where, 3.0),
            )


def _strings(reader: SeedReader, spec: Mapping[str, Any], key: str, where: str) -> list[str]:
    values = reader.list_of(spec.get(key), f"{where}.{key}")
    if not all(isinstance(v, str) for v in values):
        raise SeedError(f"{where}.{key}: expected strings")
    return list(values)


def _seconds(spec: Mapping[str, Any], key: str, where: str, default: float) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise SeedError(f"{where}.{key}: expected a number of seconds >= 0")
    return float(value)


def _form(reader: SeedReader, raw: Any, where: str) -> tuple[FormField, ...]:
    fields: list[FormField] = []
    for k, raw_field in enumerate(reader.list_of(raw, where)):
        fwhere = f"{where}[{k}]"
        spec = reader.obj(raw_field, "form_field", fwhere)
        field_id = reader.text(spec, "id", fwhere)
        if not _FIELD_ID.fullmatch(field_id):
            raise SeedError(f"{fwhere}.id: letters, digits, '-', '_' and '.' only")
        ftype = reader.text(spec, "type", fwhere)
        if ftype not in FIELD_TYPES:
            raise SeedError(f"{fwhere}.type: one of {', '.join(FIELD_TYPES)}")
        choices = tuple(_strings(reader, spec, "choices", fwhere))
        if ftype in ("select", "checkbox") and not choices:
            if ftype == "select":
                raise SeedError(f"{fwhere}.choices: a select needs choices")
            choices = ("1",)
        default = spec.get("default")
        if default is not None:
            multi = FIELD_TYPES[ftype].endswith("[]")
            strings = isinstance(default, list) and all(isinstance(d, str) for d in default)
            if multi and not strings:
                raise SeedError(f"{fwhere}.default: expected a list of strings")
            if not multi and not isinstance(default, str):
                raise SeedError(f"{fwhere}.default: expected a string")
            if ftype == "select" and default not in choices:
                raise SeedError(f"{fwhere}.default: not one of the choices")
            if ftype == "checkbox" and not set(default) <= set(choices):
                raise SeedError(f"{fwhere}.default: not a subset of the choices")
            if ftype == "integer" and not re.fullmatch(r"-?[0-9]+", str(default)):
                raise SeedError(f"{fwhere}.default: not an integer")
        if any(f.id == field_id for f in fields):
            raise SeedError(f"{fwhere}.id: duplicate field id {field_id!r}")
        fields.append(
            FormField(
                id=field_id,
                type=ftype,
                label=reader.text(spec, "label", fwhere, field_id),
                required=reader.flag(spec, "required", fwhere),
                default=list(default) if isinstance(default, list) else default,
                choices=choices,
                description=reader.text(spec, "description", fwhere, ""),
            )
        )
    return tuple(fields)
