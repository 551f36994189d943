"""The emulator's tables: :class:`Model` holds every entity of the account by kind and id, and
hands out numeric ids; :func:`utcnow` is the emulator's clock. The rules the API applies to the
tables (ownership, trash, tokens) are in :mod:`bsmount.emulator.state.account`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

from bsmount.emulator.state.applications import AppVersion
from bsmount.emulator.state.lab_model import LabTables
from bsmount.emulator.state.lanes import QcTables
from bsmount.emulator.state.launches import LaunchConfig, LaunchRecord
from bsmount.emulator.state.model import (
    AppResult,
    AppSession,
    BioSample,
    Dataset,
    DeviceGrant,
    Entity,
    File,
    Genome,
    Project,
    Run,
    Sample,
    TokenGrant,
    TrashRecord,
    Upload,
    User,
)

__all__ = ["ID_BASES", "Model", "utcnow"]

# First numeric id handed out per kind when a seed does not give ids (distinct ranges make an id
# tell its kind; file ids exceed 2**32 like the real service's).
ID_BASES = {
    "users": 10_000_001,
    "genomes": 1,
    "projects": 20_000_001,
    "samples": 30_000_001,
    "appresults": 40_000_001,
    "runs": 50_000_001,
    "appsessions": 60_000_001,
    "biosamples": 70_000_001,
    "files": 11_000_000_001,
    "datasets": 1,
}


@dataclass
class Model:
    """Every table of the account, keyed by id, in creation order."""

    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> user id
    genomes: dict[str, Genome] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    samples: dict[str, Sample] = field(default_factory=dict)
    appresults: dict[str, AppResult] = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)
    appsessions: dict[str, AppSession] = field(default_factory=dict)
    biosamples: dict[str, BioSample] = field(default_factory=dict)
    datasets: dict[str, Dataset] = field(default_factory=dict)
    files: dict[str, File] = field(default_factory=dict)
    next_ids: dict[str, int] = field(default_factory=lambda: dict(ID_BASES))
    trash: dict[str, TrashRecord] = field(default_factory=dict)
    next_trash_id: int = 80_000_001
    device_grants: dict[str, DeviceGrant] = field(default_factory=dict)  # by device code
    token_grants: dict[str, TokenGrant] = field(default_factory=dict)  # by issued token
    oauth_expires_in: int = 1800
    oauth_interval: int = 1
    uploads: dict[str, Upload] = field(default_factory=dict)  # by file id
    # The application catalogue, by application (version) id.
    applications: dict[str, AppVersion] = field(default_factory=dict)
    launches: dict[str, LaunchRecord] = field(default_factory=dict)  # by appsession id
    launch_config: LaunchConfig = field(default_factory=LaunchConfig)
    lab: LabTables = field(default_factory=LabTables)  # prep requests, libraries, requeues
    qc: QcTables = field(default_factory=QcTables)  # lanes, QC thresholds, workflows

    def table(self, kind: str) -> dict[str, Entity]:
        """The table for a plural kind (``projects``...); KeyError for unknown kinds."""
        if kind not in ID_BASES or kind == "tokens":
            raise KeyError(kind)
        return cast("dict[str, Entity]", getattr(self, kind))

    def new_numeric_id(self, kind: str) -> str:
        """The next free numeric id of ``kind`` (skipping ids a seed gave explicitly)."""
        table = self.table(kind)
        number = self.next_ids[kind]
        while str(number) in table:
            number += 1
        self.next_ids[kind] = number + 1
        return str(number)


def utcnow() -> datetime:
    return datetime.now(UTC)
