"""The emulator's entities and their formats: ids, dates, kinds and properties.

Entities are plain mutable dataclasses held by :class:`bsmount.emulator.state.tables.Model`. Ids
are strings: decimal digits for every kind except datasets (``ds.`` + 32 lowercase hex). Dates are
aware UTC datetimes, rendered by :func:`format_date` as ``YYYY-MM-DDTHH:MM:SS.fffffffZ``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from bsmount.emulator.blobs.content import ContentSource
from bsmount.emulator.blobs.spool import StoredBody

__all__ = [
    "ENTITY_KINDS",
    "NULL_DATE",
    "REF_TYPES",
    "AppResult",
    "AppSession",
    "Application",
    "BioSample",
    "Dataset",
    "DatasetType",
    "DeviceGrant",
    "DirIndex",
    "Entity",
    "File",
    "Genome",
    "Project",
    "Property",
    "Run",
    "Sample",
    "TokenGrant",
    "TrashRecord",
    "Upload",
    "UploadLimits",
    "User",
    "format_date",
    "href_id",
    "parse_date",
    "valid_id",
]

NULL_DATE = "0001-01-01T00:00:00.0000000Z"

# The kinds of entity, by their plural API path segment.
ENTITY_KINDS = (
    "users",
    "projects",
    "samples",
    "appresults",
    "runs",
    "appsessions",
    "biosamples",
    "datasets",
    "files",
    "genomes",
)

# Property types that reference entities: singular type name -> entity kind.
REF_TYPES = {
    "project": "projects",
    "sample": "samples",
    "appresult": "appresults",
    "run": "runs",
    "appsession": "appsessions",
    "biosample": "biosamples",
    "dataset": "datasets",
    "file": "files",
}

_NUMERIC_ID = re.compile(r"[0-9]{1,19}")
_DATASET_ID = re.compile(r"ds\.[0-9a-f]{32}")
_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?"
)


def href_id(kind: str, text: str) -> str | None:
    """The id in ``text``, an id or an href of a ``kind`` entity (``v1pre3/samples/1``,
    ``https://.../v2/samples/1``, ``samples/1``), not yet checked by :func:`valid_id`; None
    when ``text`` has neither shape."""
    text = text.strip()
    if text.startswith(("http://", "https://")):
        text = urlsplit(text).path
    parts = [p for p in text.split("/") if p]
    if parts and parts[0].lower() in ("v1pre3", "v2"):
        parts = parts[1:]
    if len(parts) == 2 and parts[0].lower() == kind:
        return parts[1]
    return parts[0] if len(parts) == 1 else None


def valid_id(kind: str, value: str) -> bool:
    """Whether ``value`` is a well-formed id for ``kind`` (datasets ``ds.<hex>``, others digits)."""
    pattern = _DATASET_ID if kind == "datasets" else _NUMERIC_ID
    return pattern.fullmatch(value) is not None


@functools.lru_cache(maxsize=4096)  # listings render the same few dates thousands of times
def format_date(value: datetime) -> str:
    """BaseSpace's date format: UTC, 7 fractional digits, ``Z``."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + f".{utc.microsecond:06d}0Z"


def parse_date(text: str) -> datetime:
    """Parse an ISO-8601 date (``2018-07-19``, ``...T23:50:10Z``, 7-digit fractions, offsets)."""
    match = _DATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not an ISO-8601 date: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz = UTC
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        tz = timezone(delta if zone[0] == "+" else -delta)
    parsed = datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        micro,
        tzinfo=tz,
    )
    return parsed.astimezone(UTC)


@dataclass(eq=False)
class Property:
    """A typed property: ``string`` (content), ``string[]`` (items) or entity references (refs).

    ``refs`` holds ``(kind, id)`` pairs; a singular reference type holds exactly one.
    """

    name: str
    type: str
    description: str = ""
    content: str | None = None
    items: list[str] = field(default_factory=list)
    refs: list[tuple[str, str]] = field(default_factory=list)
    date_created: datetime = field(default_factory=lambda: datetime(2018, 1, 1, tzinfo=UTC))

    @property
    def is_array(self) -> bool:
        return self.type.endswith("[]")

    @property
    def ref_kind(self) -> str | None:
        """The referenced entity kind (``runs`` for ``run[]``), or None for string types."""
        return REF_TYPES.get(self.type.removesuffix("[]"))

    @property
    def item_count(self) -> int:
        if self.type == "string":
            return 1
        return len(self.items) if self.type == "string[]" else len(self.refs)


@dataclass(eq=False)
class Entity:
    """Fields every entity has."""

    id: str
    name: str
    date_created: datetime
    date_modified: datetime
    deleted: bool = False
    properties: list[Property] = field(default_factory=list)

    def property(self, name: str) -> Property | None:
        for prop in self.properties:
            if prop.name == name:
                return prop
        return None


@dataclass(eq=False)
class User(Entity):
    email: str = ""
    date_last_active: datetime | None = None


@dataclass(eq=False)
class Genome(Entity):
    species_name: str = ""
    source: str = ""
    build: str = ""


@dataclass(eq=False)
class Project(Entity):
    owner_id: str = ""
    description: str = ""
    has_collaborators: bool = False


@dataclass(eq=False)
class Sample(Entity):
    project_id: str = ""
    sample_id: str = ""
    experiment_name: str = ""
    status: str = "Complete"
    status_summary: str = ""
    read1: int = 151
    read2: int = 151
    num_reads_raw: int = 0
    num_reads_pf: int = 0
    is_paired_end: bool = True
    sample_number: int = 1
    genome_id: str | None = None
    appsession_id: str | None = None
    file_ids: list[str] = field(default_factory=list)


@dataclass(eq=False)
class AppResult(Entity):
    project_id: str = ""
    description: str = ""
    status: str = "Complete"
    status_summary: str = ""
    appsession_id: str | None = None
    file_ids: list[str] = field(default_factory=list)
    # ``References`` given when it was created through the API: (rel, kind, id), e.g.
    # ("using", "samples", "30000001").
    references: list[tuple[str, str, str]] = field(default_factory=list)
    # ``HrefGenome`` given when it was created through the API.
    genome_id: str | None = None


@dataclass(eq=False)
class Run(Entity):
    owner_id: str = ""
    experiment_name: str = ""
    status: str = "Complete"
    number: int = 1
    platform_name: str = "MiSeq"
    instrument_name: str = ""
    instrument_type: str = "MiSeq"
    flowcell_barcode: str = ""
    reagent_barcode: str = ""
    workflow: str = "GenerateFastQ"
    cycles: tuple[int, int, int, int] = (151, 151, 8, 8)
    file_ids: list[str] = field(default_factory=list)
    # v2 UploadStatus: seeded runs are "Completed"; a run made by ``POST v2/runs`` is
    # "Uploading" (files may be added) until ``uploadstatus=Completed`` or ``Failed``
    # (:mod:`bsmount.emulator.state.run_uploads`).
    upload_status: str = "Completed"
    date_upload_completed: datetime | None = None


@dataclass(frozen=True)
class Application:
    id: str
    name: str
    version: str = "1.0.0"
    slug: str = ""


@dataclass(eq=False)
class AppSession(Entity):
    project_id: str = ""
    owner_id: str = ""
    application: Application = field(default_factory=lambda: Application("1", "App"))
    status: str = "Complete"
    status_summary: str = ""
    purpose: str = "AppTrigger"
    qc_status: str = "Undefined"
    delivery_status: str = "None"
    date_started: datetime | None = None
    date_completed: datetime | None = None
    # A Running session becomes Complete at this time (seed ``complete_after_seconds``); any
    # explicit status change cancels it. Applied lazily by ``EmulatorState.apply_timers``.
    complete_at: datetime | None = None


@dataclass(eq=False)
class BioSample(Entity):
    project_id: str = ""
    status: str = "New"
    lab_status: str = "Sequencing"
    container_name: str = ""  # the plate or tube the biosample is in
    container_position: str = ""  # its well (``A01``)


@dataclass(frozen=True)
class DatasetType:
    id: str
    name: str
    conforms_to: tuple[str, ...] = ()


@dataclass(eq=False)
class Dataset(Entity):
    project_id: str = ""
    biosample_ids: list[str] = field(default_factory=list)
    appsession_id: str | None = None
    sample_id: str | None = None  # the v1pre3 sample sharing this dataset's files (V1pre3Id)
    dataset_type: DatasetType = field(
        default_factory=lambda: DatasetType("common.files", "Common Files")
    )
    attributes: dict[str, Any] = field(default_factory=dict)
    qc_status: str = "Undefined"
    file_ids: list[str] = field(default_factory=list)


@dataclass(eq=False)
class File(Entity):
    """A file in a container: ``parent_kind`` is samples, appresults, runs or datasets.

    ``path`` is relative to the container's root (``/`` separates directories), ``name`` its last
    component. ``content`` supplies size, ETag and the bytes.
    """

    parent_kind: str = ""
    parent_id: str = ""
    path: str = ""
    content: ContentSource | None = None
    content_type: str = "application/octet-stream"
    upload_status: str = "complete"
    is_archived: bool = False

    @property
    def size(self) -> int:
        return self.content.size if self.content is not None else 0

    @property
    def etag(self) -> str:
        return self.content.etag if self.content is not None else ""

    @property
    def directory(self) -> str:
        """The directory part of ``path`` with a trailing ``/`` ("" at the root)."""
        head, sep, _ = self.path.rpartition("/")
        return head + sep


@dataclass
class UploadLimits:
    """The multipart rules (DOC-MPU: parts numbered 1..10000; every part but the last at least
    5 MB, each at most 25 MB; MiB is the emulator's reading of "MB"). Tests lower
    ``min_part_size`` so they need not send 5 MiB parts."""

    min_part_size: int = 5 * 2**20
    max_part_size: int = 25 * 2**20
    max_parts: int = 10_000


@dataclass(eq=False)
class Upload:
    """How a file created through the API got (or is getting) its bytes.

    ``multipart`` uploads collect ``parts`` (by number) while the file is ``pending``; a
    single-request upload has its one ``body``. ``status`` mirrors the file's UploadStatus
    (``pending``, ``complete``, ``aborted``).
    """

    file_id: str
    user_id: str
    multipart: bool
    date_started: datetime
    status: str = "pending"
    parts: dict[int, StoredBody] = field(default_factory=dict)
    body: StoredBody | None = None
    part_puts: int = 0  # part PUTs accepted, re-sent ones included
    date_finished: datetime | None = None


@dataclass
class DirIndex:
    """A container's files by directory: ``""`` is the root, others end with ``/``."""

    files: dict[str, list[File]] = field(default_factory=dict)
    subdirs: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, files: Iterable[File]) -> DirIndex:
        index = cls()
        children: dict[str, set[str]] = {}
        for item in files:
            directory = item.directory
            index.files.setdefault(directory, []).append(item)
            parts = directory.split("/")[:-1]
            for depth, part in enumerate(parts):
                parent = "".join(p + "/" for p in parts[:depth])
                children.setdefault(parent, set()).add(part)
        index.subdirs = {key: sorted(value) for key, value in children.items()}
        return index

    def has_directory(self, directory: str) -> bool:
        return directory == "" or directory in self.files or directory in self.subdirs


@dataclass(eq=False)
class TrashRecord:
    """One item of a user's trash: the entity ``kind/entity_id`` moved there by ``user_id``."""

    id: str
    kind: str
    entity_id: str
    user_id: str
    date_deleted: datetime
    # What was moved: the entity and its files, or (``preserve=Metadata``) its files only,
    # which are then listed in ``file_ids``.
    includes: tuple[str, ...] = ("FILEDATA", "METADATA")
    file_ids: list[str] = field(default_factory=list)


@dataclass(eq=False)
class DeviceGrant:
    """An OAuth device authorization (basespace-api.md §1.4) and its progress.

    ``status`` is ``pending``, ``approved``, ``denied`` or ``used`` (token handed out); times are
    ``time.monotonic()`` values.
    """

    device_code: str
    user_code: str
    client_id: str
    scopes: list[str]
    created: float
    expires_in: int
    interval: int
    status: str = "pending"
    user_id: str | None = None
    last_poll: float | None = None

    def expired(self, now: float) -> bool:
        return now >= self.created + self.expires_in


@dataclass(eq=False)
class TokenGrant:
    """What an access token issued by the device flow was granted: client and scopes."""

    client_id: str
    scopes: list[str]
    date_created: datetime
