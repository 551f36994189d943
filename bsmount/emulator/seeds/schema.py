"""The seed format's vocabulary and its validating reader (used by :mod:`.build`).

:data:`KEYS` lists the keys each kind of seed object may have (anything else is an error, so
typos do not pass silently); :class:`SeedReader` reads typed values out of seed objects and
raises :class:`SeedError` naming the JSON path of a bad value.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bsmount.emulator.state.model import DatasetType, parse_date

__all__ = [
    "DATASET_TYPES",
    "DEFAULT_BASE_DATE",
    "DEFAULT_GENOMES",
    "KEYS",
    "UPLOAD_STATUSES",
    "SeedError",
    "SeedReader",
    "content_type_for",
]


class SeedError(ValueError):
    """The seed document is invalid; the message names the offending JSON path."""


DATASET_TYPES = {
    "illumina.fastq.v1.8": DatasetType(
        "illumina.fastq.v1.8", "Illumina Fastq", ("common.files", "common.fastq")
    ),
    "common.fastq": DatasetType("common.fastq", "Fastq", ("common.files",)),
    "common.files": DatasetType("common.files", "Common Files", ()),
    "illumina.bam": DatasetType("illumina.bam", "BAM", ("common.files",)),
    "illumina.vcf": DatasetType("illumina.vcf", "VCF", ("common.files",)),
}

DEFAULT_GENOMES: list[dict[str, Any]] = [
    {"id": "1", "name": "Escherichia coli - NCBI (ASM584v2)", "species_name": "Escherichia coli",
     "source": "NCBI", "build": "ASM584v2"},
    {"id": "4", "name": "Homo sapiens - UCSC (hg19)", "species_name": "Homo sapiens",
     "source": "UCSC", "build": "hg19"},
    {"id": "7", "name": "Mus musculus - UCSC (mm10)", "species_name": "Mus musculus",
     "source": "UCSC", "build": "mm10"},
    {"id": "22", "name": "Homo sapiens - UCSC (hg38)", "species_name": "Homo sapiens",
     "source": "UCSC", "build": "hg38"},
]  # fmt: skip

_CONTENT_TYPES = (
    ((".gz", ".bgz", ".zip"), "application/x-gzip"),
    ((".txt", ".log", ".vcf", ".sam", ".fa", ".fasta", ".fastq", ".md", ".tsv"), "text/plain"),
    ((".xml",), "application/xml"),
    ((".json",), "application/json"),
    ((".html", ".htm"), "text/html"),
    ((".pdf",), "application/pdf"),
)

_COMMON = ("key", "id", "name", "date_created", "date_modified", "deleted", "properties")
KEYS: dict[str, tuple[str, ...]] = {
    "seed": ("format", "description", "base_date", "users", "genomes", "projects", "runs",
             "lane_qc_thresholds", "workflow_settings", "applications"),
    "user": ("key", "id", "name", "email", "tokens", "date_created", "date_last_active"),
    "genome": ("key", "id", "name", "species_name", "source", "build"),
    "project": (*_COMMON, "owner", "description", "has_collaborators", "samples", "appresults",
                "appsessions", "biosamples", "datasets"),
    "sample": (*_COMMON, "sample_id", "experiment_name", "status", "status_summary", "read1",
               "read2", "num_reads_raw", "num_reads_pf", "paired_end", "sample_number", "genome",
               "appsession", "files"),
    "appresult": (*_COMMON, "description", "status", "status_summary", "appsession", "files"),
    "appsession": (*_COMMON, "application", "status", "status_summary", "purpose", "qc_status",
                   "delivery_status", "date_started", "date_completed", "complete_after_seconds"),
    "application": ("id", "name", "version", "slug"),
    "biosample": (*_COMMON, "status", "lab_status", "datasets", "container_name",
                  "container_position", "lab"),
    "dataset": (*_COMMON, "type", "biosamples", "appsession", "sample", "attributes",
                "qc_status", "files"),
    "run": (*_COMMON, "owner", "experiment_name", "status", "number", "platform",
            "instrument_name", "instrument_type", "flowcell_barcode", "reagent_barcode",
            "workflow", "cycles", "files", "lanes"),
    "lane": ("number", "status", "metrics"),
    "workflow_settings": ("application", "qc_thresholds", "dependencies"),
    "file": ("id", "path", "text", "source", "size", "seed", "content_type", "upload_status",
             "date_created", "date_modified", "archived", "deleted"),
    "property": ("name", "type", "description", "content", "items"),
    "app": ("name", "slug", "runner", "company", "category", "short_description",
            "long_description", "homepage", "classifications", "pending_seconds", "run_seconds",
            "versions", "form"),
    "app_version": ("id", "version", "date_created", "date_published", "form"),
    "form_field": ("id", "type", "label", "required", "default", "choices", "description"),
}  # fmt: skip
UPLOAD_STATUSES = ("complete", "pending", "aborted", "undefined")
DEFAULT_BASE_DATE = "2018-07-18T12:00:00Z"


def content_type_for(path: str) -> str:
    """The ContentType BaseSpace reports for a file name (by extension)."""
    lower = path.lower()
    for suffixes, kind in _CONTENT_TYPES:
        if lower.endswith(suffixes):
            return kind
    return "application/octet-stream"


class SeedReader:
    """Typed access to seed objects; every failure is a :class:`SeedError` with its path."""

    def obj(self, value: Any, kind: str, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise SeedError(f"{where}: expected an object")
        unknown = sorted(set(value) - set(KEYS[kind]))
        if unknown:
            raise SeedError(f"{where}: unknown key(s) {', '.join(unknown)} for a {kind}")
        return value

    @staticmethod
    def list_of(value: Any, where: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise SeedError(f"{where}: expected a list")
        return value

    @staticmethod
    def text(spec: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
        value = spec.get(key, default)
        if value is None:
            raise SeedError(f"{where}: {key!r} is required")
        if not isinstance(value, str):
            raise SeedError(f"{where}.{key}: expected a string")
        return value

    @staticmethod
    def integer(spec: Mapping[str, Any], key: str, where: str, default: int) -> int:
        value = spec.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SeedError(f"{where}.{key}: expected a non-negative integer")
        return value

    @staticmethod
    def flag(spec: Mapping[str, Any], key: str, where: str) -> bool:
        value = spec.get(key, False)
        if not isinstance(value, bool):
            raise SeedError(f"{where}.{key}: expected true or false")
        return value

    def date(self, spec: Mapping[str, Any], key: str, where: str) -> datetime | None:
        value = spec.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise SeedError(f"{where}.{key}: expected an ISO-8601 date string")
        try:
            return parse_date(value)
        except ValueError as exc:
            raise SeedError(f"{where}.{key}: {exc}") from None
