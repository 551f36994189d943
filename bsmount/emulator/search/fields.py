"""The searchable fields of each Search API scope and the documents queries are evaluated on.

Each scope (``projects``, ``runs``, ``samples``, ``appresults``, ``genomes``, ``sample_files``,
``appresult_files``) has a table of lowercase dotted field names -> :class:`Field` (a kind and a
getter). Related entities appear as nested fields (``project.name``, ``sample.id``,
``appsession.status``, ``userownedby.name``, ...), and every scope can name its own entity that
way too (``sample.name`` in ``samples`` is the sample's name). A query field resolves to the
concrete fields it stands for (:meth:`ScopeFields.resolve`): itself, every field below it when it
names an object (``genome:hg19`` searches ``genome.*``), the names its wildcards match
(``project.*``), with ``projects.`` accepted for ``project.``; an unknown field resolves to
nothing, so it matches no entity. ``fileextension`` holds every dotted suffix of a file's name,
with and without the dot (``x.vcf.gz``: ``.gz``, ``.vcf.gz``, ``gz``, ``vcf.gz``), so
``fileextension:.vcf`` does not find ``x.vcf.gz``.

:class:`Related` follows references for one user only (another user's run named in a property
is not searchable); :class:`EntityDocument` computes a field's values on first use.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bsmount.emulator.search.match import FieldKind
from bsmount.emulator.search.related import Related, extensions
from bsmount.emulator.state.model import (
    AppResult,
    AppSession,
    File,
    Genome,
    Project,
    Run,
    Sample,
    User,
)

__all__ = ["SCOPE_FIELDS", "SCOPE_TABLES", "EntityDocument", "Field", "ScopeFields"]

log = logging.getLogger(__name__)

Getter = Callable[["Related", Any], Iterable[Any]]
_ALIASES = {"projects": "project"}
_RESOLVED_CAP = 4096  # query field names remembered per scope


@dataclass(frozen=True)
class Field:
    """A searchable field: how its values match (``kind``) and how to read them."""

    kind: FieldKind
    get: Getter


def _extension_values(_related: Related, item: File) -> list[str]:
    """``fileextension`` values: each suffix with and without its dot (``.gz``, ``gz``)."""
    found = extensions(item.name)
    return found + [suffix[1:] for suffix in found]


# ---------------------------------------------------------------------- field tables
def _attr(name: str) -> Getter:
    return lambda _related, entity: [getattr(entity, name)]


def _f(kind: FieldKind, get: Getter | str) -> Field:
    return Field(kind, _attr(get) if isinstance(get, str) else get)


def _href(kind: str, suffix: str = "") -> Field:
    return Field("keyword", lambda _r, e: [f"v1pre3/{kind}/{e.id}{suffix}"])


def _size(kind: str) -> Field:
    return Field("number", lambda r, e: [r.state.total_size(kind, e)])


COMMON: dict[str, Field] = {
    "id": _f("keyword", "id"),
    "name": _f("text", "name"),
    "datecreated": _f("date", "date_created"),
    "datemodified": _f("date", "date_modified"),
}
USER = {**COMMON, "email": _f("keyword", "email"), "href": _href("users")}
GENOME = {
    **COMMON,
    "displayname": _f("text", "name"),
    "speciesname": _f("text", "species_name"),
    "species": _f("text", "species_name"),
    "build": _f("keyword", "build"),
    "source": _f("text", "source"),
    "href": _href("genomes"),
}
PROJECT = {
    **COMMON,
    "description": _f("text", "description"),
    "hascollaborators": _f("bool", "has_collaborators"),
    "totalsize": _size("projects"),
    "href": _href("projects"),
}
APP = {
    "id": Field("keyword", lambda _r, s: [s.application.id]),
    "name": Field("text", lambda _r, s: [s.application.name]),
    "version": Field("keyword", lambda _r, s: [s.application.version]),
    "slug": Field("keyword", lambda _r, s: [s.application.slug]),
}
APPSESSION = {
    **COMMON,
    "status": _f("text", "status"),
    "statussummary": _f("text", "status_summary"),
    "qcstatus": _f("keyword", "qc_status"),
    "href": _href("appsessions"),
}
RUN = {
    **COMMON,
    "number": _f("number", "number"),
    "experimentname": _f("text", "experiment_name"),
    "status": _f("text", "status"),
    "reagentbarcode": _f("keyword", "reagent_barcode"),
    "flowcellbarcode": _f("keyword", "flowcell_barcode"),
    "platformname": _f("text", "platform_name"),
    "instrumentname": _f("text", "instrument_name"),
    "instrumenttype": _f("text", "instrument_type"),
    "instrument.name": _f("text", "instrument_name"),
    "instrument.type": _f("text", "instrument_type"),
    "workflow": _f("text", "workflow"),
    "numcyclesread1": Field("number", lambda _r, e: [e.cycles[0]]),
    "numcyclesread2": Field("number", lambda _r, e: [e.cycles[1]]),
    "numcyclesindex1": Field("number", lambda _r, e: [e.cycles[2]]),
    "numcyclesindex2": Field("number", lambda _r, e: [e.cycles[3]]),
    "totalsize": _size("runs"),
    "href": _href("runs"),
    "hreffiles": _href("runs", "/files"),
    "hrefsamples": _href("runs", "/samples"),
}
SAMPLE = {
    **COMMON,
    "sampleid": _f("keyword", "sample_id"),
    "experimentname": _f("text", "experiment_name"),
    "samplenumber": _f("number", "sample_number"),
    "status": _f("text", "status"),
    "statussummary": _f("text", "status_summary"),
    "ispairedend": _f("bool", "is_paired_end"),
    "ismerged": Field("bool", lambda _r, _e: [False]),
    "read1": _f("number", "read1"),
    "read2": Field("number", lambda _r, e: [e.read2 if e.is_paired_end else 0]),
    "numreadsraw": _f("number", "num_reads_raw"),
    "numreadspf": _f("number", "num_reads_pf"),
    "totalsize": _size("samples"),
    "href": _href("samples"),
    "hreffiles": _href("samples", "/files"),
}
APPRESULT = {
    **COMMON,
    "description": _f("text", "description"),
    "status": _f("text", "status"),
    "statussummary": _f("text", "status_summary"),
    "totalsize": _size("appresults"),
    "href": _href("appresults"),
    "hreffiles": _href("appresults", "/files"),
}
FILE = {
    **COMMON,
    "path": _f("text", "path"),
    "size": Field("number", lambda _r, f: [f.size]),
    "fileextension": Field("keyword", _extension_values),
    "contenttype": _f("keyword", "content_type"),
    "etag": Field("keyword", lambda _r, f: [f.etag]),
    "isarchived": _f("bool", "is_archived"),
    "uploadstatus": _f("keyword", "upload_status"),
    "href": _href("files"),
    "hrefcontent": _href("files", "/content"),
}


def _prop_content(_related: Related, entity: Any) -> list[str]:
    values: list[str] = []
    for prop in entity.properties:
        if prop.content is not None:
            values.append(prop.content)
        values.extend(prop.items)
        values.extend(ref_id for _kind, ref_id in prop.refs)
    return values


PROPERTY = {
    "property.name": Field("text", lambda _r, e: [p.name for p in e.properties]),
    "property.content": Field("text", _prop_content),
}


def _chain(related: Callable[[Related, Any], Iterable[Any]], get: Getter) -> Getter:
    def getter(r: Related, entity: Any) -> list[Any]:
        return [value for other in related(r, entity) for value in get(r, other)]

    return getter


def nest(
    prefix: str, related: Callable[[Related, Any], Iterable[Any]], table: Mapping[str, Field]
) -> dict[str, Field]:
    """``table``'s fields under ``prefix.``, read from the entities ``related`` gives."""
    return {f"{prefix}.{name}": Field(f.kind, _chain(related, f.get)) for name, f in table.items()}


def _self(_related: Related, entity: Any) -> list[Any]:
    return [entity]


def _session(r: Related, e: Any) -> list[AppSession]:
    return r.appsession(e)


def _owner(r: Related, e: Any) -> list[User]:
    return r.owner(e)


def _project(r: Related, e: Any) -> list[Project]:
    return r.project(e)


def _runs(r: Related, e: Any) -> list[Run]:
    return r.runs(e)


def _belongs(*, files: bool = False) -> dict[str, Field]:
    """Owner, project, appsession, app and runs of an entity (or of a file's container), and
    the entity's properties (not for files)."""
    return {
        **nest("userownedby", _owner, USER),
        **nest("project", _project, PROJECT),
        "projectname": Field("text", _chain(_project, _attr("name"))),
        **nest("appsession", _session, APPSESSION),
        **nest("rootappsession", _session, APPSESSION),
        **nest("app", _session, APP),
        **nest("run", _runs, RUN),
        **({} if files else PROPERTY),
    }


def _samples(r: Related, e: Any) -> list[Sample]:
    return r.samples(e)


def _appresults(r: Related, e: Any) -> list[AppResult]:
    return r.appresults(e)


def _genomes(r: Related, e: Any) -> list[Genome]:
    return r.genome(e)


_SAMPLE_LINKS = {
    **nest("sample", _samples, SAMPLE),
    **nest("genome", _genomes, GENOME),
    "experimentname": Field("text", _chain(_samples, _attr("experiment_name"))),
}

SCOPE_TABLES: dict[str, dict[str, Field]] = {
    "projects": {
        **PROJECT,
        **nest("userownedby", _owner, USER),
        **nest("project", _self, PROJECT),
        **PROPERTY,
    },
    "runs": {
        **RUN,
        **nest("userownedby", _owner, USER),
        **nest("run", _self, RUN),
        **PROPERTY,
    },
    "genomes": {**GENOME, **nest("genome", _self, GENOME)},
    "samples": {**_SAMPLE_LINKS, **SAMPLE, **_belongs()},
    "appresults": {
        **_SAMPLE_LINKS,
        **APPRESULT,
        **nest("appresult", _self, APPRESULT),
        **_belongs(),
    },
    "sample_files": {**FILE, **_SAMPLE_LINKS, **_belongs(files=True)},
    "appresult_files": {
        **FILE,
        **_SAMPLE_LINKS,
        **nest("appresult", _appresults, APPRESULT),
        **_belongs(files=True),
    },
}


class ScopeFields:
    """The fields of one scope and the resolution of query field names to them."""

    def __init__(self, fields: Mapping[str, Field]) -> None:
        self.fields = dict(fields)
        self._resolved: dict[str, tuple[str, ...]] = {}

    def resolve(self, name: str) -> tuple[str, ...]:
        """The concrete fields a (casefolded) query field name stands for."""
        found = self._resolved.get(name)
        if found is None:
            found = self._resolve(name)
            if len(self._resolved) >= _RESOLVED_CAP:
                self._resolved.clear()
            self._resolved[name] = found
        return found

    def _resolve(self, name: str) -> tuple[str, ...]:
        head, dot, rest = name.partition(".")
        name = _ALIASES.get(head, head) + dot + rest
        if any(c in name for c in "*?"):
            return tuple(n for n in self.fields if fnmatch.fnmatchcase(n, name))
        if name in self.fields:
            return (name,)
        return tuple(n for n in self.fields if n.startswith(name + "."))


SCOPE_FIELDS = {scope: ScopeFields(table) for scope, table in SCOPE_TABLES.items()}


class EntityDocument:
    """One entity seen through its scope's fields; values are computed once, on first use."""

    def __init__(self, scope: ScopeFields, related: Related, entity: Any) -> None:
        self.scope = scope
        self.related = related
        self.entity = entity
        self._values: dict[str, list[Any]] = {}

    def lookup(self, name: str) -> Iterable[tuple[FieldKind, Sequence[Any]]]:
        for concrete in self.scope.resolve(name):
            spec = self.scope.fields[concrete]
            values = self._values.get(concrete)
            if values is None:
                values = [v for v in spec.get(self.related, self.entity) if v is not None]
                self._values[concrete] = values
            yield spec.kind, values
