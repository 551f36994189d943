"""Typed models of the BaseSpace entities, parsed defensively from the API's JSON.

Every entity is a frozen, keyword-only dataclass that keeps the object it was parsed from in
``raw`` (unknown fields are kept, never fatal). Parsing never crashes on odd input: a missing or
mistyped field gives a default (``""`` for names, ``None`` for dates), sizes are clamped to
``0 <= size <= MAX_SIZE``, the "null date" ``0001-01-01T00:00:00Z`` reads as ``None``. Both API
generations are understood: v1pre3 (``Status``, ``ModifiedOn``, relative hrefs) and v2
(``ExecutionStatus``, ``BioSampleName``, typed property keys, absolute hrefs).

``parse_entity(kind, obj)`` builds the right class from a plural kind name (``"projects"``...);
properties are parsed by :func:`bsmount.api.properties.parse_property`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Self, TypeVar

from bsmount._types import FileVersion

__all__ = [
    "KINDS",
    "MAX_SIZE",
    "AppResult",
    "AppSession",
    "BioSample",
    "Dataset",
    "Entity",
    "FileInfo",
    "Genome",
    "Project",
    "Property",
    "Run",
    "RunDirectory",
    "Sample",
    "User",
    "parse_date",
    "parse_entity",
    "parse_file_list",
    "parse_list",
    "parse_size",
    "unquote_etag",
]

#: Sizes beyond this (1 EiB) are treated as absurd and clamped.
MAX_SIZE = 1 << 60

_NULL_YEAR = 1  # "0001-01-01T00:00:00.0000000Z" is BaseSpace's null date


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(obj: Mapping[str, Any], *keys: str) -> str:
    """The first of ``keys`` holding a scalar, as a string; ``""`` when none does."""
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
    return ""


def _opt_text(obj: Mapping[str, Any], *keys: str) -> str | None:
    value = _text(obj, *keys)
    return value or None


def parse_date(value: Any) -> datetime | None:
    """An aware UTC datetime from a BaseSpace date string (7 fraction digits allowed)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.year <= _NULL_YEAR:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_size(value: Any) -> int | None:
    """A byte count clamped to ``[0, MAX_SIZE]``; ``None`` when the value is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            return None
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        value = int(min(max(value, 0.0), float(MAX_SIZE)))
    if not isinstance(value, int):
        return None
    return min(max(value, 0), MAX_SIZE)


def unquote_etag(value: Any) -> str | None:
    """An ETag without quotes or weak prefix (``W/"abc"`` -> ``abc``); ``None`` when empty."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"').strip()
    return text or None


@dataclass(frozen=True, kw_only=True)
class Entity:
    """Fields shared by every BaseSpace entity."""

    kind: ClassVar[str] = ""

    id: str
    name: str
    href: str = ""  # as given by the API: relative on v1pre3, absolute on v2
    date_created: datetime | None = None
    date_modified: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def _common(cls, obj: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": _text(obj, "Id"),
            "name": _text(obj, "Name"),
            "href": _text(obj, "Href"),
            "date_created": parse_date(obj.get("DateCreated")),
            "date_modified": parse_date(obj.get("DateModified")),
            "raw": obj,
        }

    @classmethod
    def from_json(cls, obj: Any) -> Self:
        """Parse one entity from its JSON object (anything else gives an empty entity)."""
        return cls(**cls._common(_obj(obj)))


@dataclass(frozen=True, kw_only=True)
class User(Entity):
    kind: ClassVar[str] = "users"
    email: str = ""

    @classmethod
    def from_json(cls, obj: Any) -> Self:
        o = _obj(obj)
        return cls(**cls._common(o), email=_text(o, "Email"))


@dataclass(frozen=True, kw_only=True)
class Project(Entity):
    kind: ClassVar[str] = "projects"
    description: str = ""
    total_size: int | None = None

    @classmethod
    def from_json(cls, obj: Any) -> Self:
        o = _obj(obj)
        return cls(
            **cls._common(o),
            description=_text(o, "Description"),
            total_size=parse_size(o.get("TotalSize")),
        )


@dataclass(frozen=True, kw_only=True)
class Sample(Entity):
    kind: ClassVar[str] = "samples"
    status: str = ""
    experiment_name: str = ""

    @classmethod
    def from_json(cls, obj: Any) -> Self:
        o = _obj(obj)
        return cls(
            **cls._common(o),
            status=_text(o, "Status"),
            experiment_name=_text(o, "ExperimentName"),
        )


@dataclass(frozen=True, kw_only=True)
class AppResult(Entity):
    kind: ClassVar[str] = "appresults"
    status: str = ""
    appsession_id: str | None = None

    @classmethod
    def from_json(cls, obj: Any) -> Self:
        o = _obj(obj)
        return cls(
            **cls._common(o),
            status=_text(o, "Status"),
            appsession_id=_opt_text(_obj(o.get("AppSession")), "Id"),
        )


@dataclass(frozen=True, kw_only=True)
class Run(Entity):
    kind: ClassVar[str] = "runs"
    experiment_name: str = ""
    status: str = ""
    total_size: int | None = None

    @classmethod
    def from_json(cls, obj: Any) -> Self:
        o = _obj(obj)
        return cls(
            **cls._common(o),
            experiment_name=_text(o, "ExperimentName"),
            status=_text(o, "Status"),
            total_size=parse_size(o.get("TotalSize")),
        )


@dataclass(frozen=True, kw_only=True)
class AppSession(Entity):
    kind: ClassVar[str] = "appsessions"
    status: str = ""  # v2 ExecutionStatus, v1pre3 Status

    @classmethod
    def from_json(cls, obj: Any) -> Self:
        o = _obj(obj)
        common = cls._common(o)
        if common["date_modified"] is None:
            common["date_modified"] = parse_date(o.get("ModifiedOn"))
        return cls(**common, status=_text(o, "ExecutionStatus", "Status"))


@dataclass(frozen=True, kw_only=True)
class BioSample(Entity):
    kind: ClassVar[str] = "biosamples"
    status: str = ""

    @classmethod
    def from_json(cls, obj: Any) -> Self:
        o = _obj(obj)
        common = cls._common(o)
        common["name"] = _text(o, "BioSampleName", "Name")
        return cls(**common, status=_text(o, "Status"))


@dataclass(frozen=True, kw_only=True)
class Dataset(Entity):
    kind: ClassVar[str] = "datasets"
    project_id: str | None = None
    dataset_type: str = ""

    @classmethod
    def from_json(cls, obj: Any) -> Self:
        o = _obj(obj)
        dtype = o.get("DatasetType")
        return cls(
            **cls._common(o),
            project_id=_opt_text(_obj(o.get("Project")), "Id"),
            dataset_type=_text(_obj(dtype), "Id")
            if isinstance(dtype, Mapping)
            else _text(o, "DatasetType"),
        )


@dataclass(frozen=True, kw_only=True)
class Genome(Entity):
    kind: ClassVar[str] = "genomes"
    build: str = ""
    species: str = ""

    @classmethod
    def from_json(cls, obj: Any) -> Self:
        o = _obj(obj)
        common = cls._common(o)
        common["name"] = _text(o, "DisplayName", "Name", "SpeciesName")
        return cls(**common, build=_text(o, "Build"), species=_text(o, "SpeciesName"))


@dataclass(frozen=True, kw_only=True)
class FileInfo(Entity):
    kind: ClassVar[str] = "files"
    path: str = ""  # relative to the container root, "/"-separated; the name when absent
    size: int = 0
    etag: str | None = None  # unquoted
    content_type: str = ""
    upload_status: str = "complete"  # list items omit it; only complete files are listed there
    href_content: str = ""

    @classmethod
    def from_json(cls, obj: Any, *, slim: bool = False) -> Self:
        """``slim`` (file listings): keep of the raw JSON only ``Size`` (what the tree checks
        for oddities), so a 100,000-file listing does not keep ~120 MiB of dicts alive."""
        o = _obj(obj)
        common = cls._common(o)
        if slim:
            common["raw"] = {"Size": o.get("Size")}
        return cls(
            **common,
            path=_text(o, "Path") or common["name"],
            size=parse_size(o.get("Size")) or 0,
            etag=unquote_etag(o.get("ETag")),
            content_type=_text(o, "ContentType"),
            upload_status=_text(o, "UploadStatus") or "complete",
            href_content=_text(o, "HrefContent"),
        )

    @property
    def is_complete(self) -> bool:
        """Whether the upload finished (v1 ``complete``, v2 ``Completed``)."""
        return self.upload_status.lower() in ("complete", "completed")

    def version(self) -> FileVersion:
        """The identity of this file's current content."""
        return FileVersion(file_id=self.id, size=self.size, etag=self.etag)


_E = TypeVar("_E", bound=Entity)

KINDS: dict[str, type[Entity]] = {
    cls.kind: cls
    for cls in (
        User,
        Project,
        Sample,
        AppResult,
        Run,
        AppSession,
        BioSample,
        Dataset,
        Genome,
        FileInfo,
    )
}


def parse_entity(kind: str, obj: Any) -> Entity:
    """Parse ``obj`` as an entity of the plural ``kind``; unknown kinds give a plain Entity."""
    return KINDS.get(kind, Entity).from_json(obj)


def parse_list(cls: type[_E], items: Any) -> list[_E]:
    """Parse every mapping in ``items`` as ``cls`` (non-mappings are skipped)."""
    if not isinstance(items, list):
        return []
    return [cls.from_json(item) for item in items if isinstance(item, Mapping)]


def parse_file_list(items: Any) -> list[FileInfo]:
    """Parse a file listing's items, slim (see :meth:`FileInfo.from_json`)."""
    if not isinstance(items, list):
        return []
    return [FileInfo.from_json(item, slim=True) for item in items if isinstance(item, Mapping)]


# --- properties (parsed by bsmount.api.properties) -----------------------------------------------


@dataclass(frozen=True)
class Property:
    """One property of an entity.

    ``value`` is a ``str`` for ``string``; ``list[str]`` for ``string[]``; for references
    (``run``, ``sample``, ...) a dict ``{"type", "id", "name", "href"}`` or a list of those for
    ``run[]`` and the like; for ``map`` a ``dict[str, list[str]]`` and for ``map[]`` a list of
    them; anything else is the raw ``Content``/``Items`` value.
    """

    name: str
    type: str
    description: str
    value: Any
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def items_total(self) -> int | None:
        """``ItemsTotalCount`` for array properties (more may exist than were inlined)."""
        return parse_size(self.raw.get("ItemsTotalCount"))


# --- directories and content URLs ----------------------------------------------------------------


@dataclass(frozen=True)
class RunDirectory:
    """One level of a run's file tree: the files in it and the names of its subdirectories."""

    files: list[FileInfo]
    subdirectories: list[str]
