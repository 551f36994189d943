"""Relations the Search API follows from a searched entity, for one user: its project, owner,
appsession, samples (a sample itself, a file's sample, an appresult's input samples), appresults,
genomes and runs (referenced by properties). References to entities the user may not see (another
user's, or trashed ones) are not followed, so they cannot be searched for.
"""

from __future__ import annotations

import logging
from typing import Any

from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.model import (
    AppResult,
    AppSession,
    Entity,
    File,
    Genome,
    Project,
    Run,
    Sample,
    User,
)

__all__ = ["Related", "extensions"]

log = logging.getLogger(__name__)


class Related:
    """Relations between entities as one user may follow them."""

    def __init__(self, state: EmulatorState, user: User) -> None:
        self.state = state
        self.user = user

    def _visible(self, kind: str, entity: Entity | None) -> bool:
        if entity is None:
            return False
        if kind != "genomes" and self.state.owner_of(kind, entity) != self.user.id:
            return False
        return not self.state.is_removed(kind, entity)

    def one(self, kind: str, entity_id: str | None) -> list[Any]:
        entity = self.state.peek(kind, entity_id) if entity_id else None
        return [entity] if self._visible(kind, entity) else []

    def project(self, entity: Any) -> list[Project]:
        if isinstance(entity, File):
            return [p for parent in self.parent(entity) for p in self.project(parent)]
        if isinstance(entity, Project):
            return [entity]
        return self.one("projects", getattr(entity, "project_id", None))

    def parent(self, item: File) -> list[Any]:
        return self.one(item.parent_kind, item.parent_id)

    def owner(self, entity: Any) -> list[User]:
        kind = _KINDS.get(type(entity), "")
        user = self.state.peek("users", self.state.owner_of(kind, entity)) if kind else None
        return [user] if user is not None else []

    def refs(self, entity: Any, kind: str) -> list[Any]:
        """Entities of ``kind`` referenced by ``entity``'s properties, each once."""
        found: dict[str, Any] = {}
        for prop in entity.properties:
            for ref_kind, ref_id in prop.refs:
                if ref_kind == kind and ref_id not in found:
                    for target in self.one(kind, ref_id):
                        found[ref_id] = target
        return list(found.values())

    def appsession(self, entity: Any) -> list[AppSession]:
        if isinstance(entity, File):
            return [s for parent in self.parent(entity) for s in self.appsession(parent)]
        return self.one("appsessions", getattr(entity, "appsession_id", None))

    def samples(self, entity: Any) -> list[Sample]:
        """The sample itself, a sample file's sample, or the input samples of an appresult."""
        if isinstance(entity, Sample):
            return [entity]
        if isinstance(entity, File):
            return [s for parent in self.parent(entity) for s in self.samples(parent)]
        if isinstance(entity, AppResult):
            return self.refs(entity, "samples")
        return []

    def appresults(self, entity: Any) -> list[AppResult]:
        if isinstance(entity, AppResult):
            return [entity]
        if isinstance(entity, File):
            return [a for a in self.parent(entity) if isinstance(a, AppResult)]
        return []

    def genome(self, entity: Any) -> list[Genome]:
        found: dict[str, Genome] = {}
        for sample in self.samples(entity):
            for genome in self.one("genomes", sample.genome_id):
                found[genome.id] = genome
        return list(found.values())

    def runs(self, entity: Any) -> list[Run]:
        if isinstance(entity, Run):
            return [entity]
        if isinstance(entity, File):
            return [r for parent in self.parent(entity) for r in self.runs(parent)]
        return self.refs(entity, "runs")


_KINDS: dict[type, str] = {
    Project: "projects",
    Sample: "samples",
    AppResult: "appresults",
    Run: "runs",
    AppSession: "appsessions",
    File: "files",
    Genome: "genomes",
}


def extensions(name: str) -> list[str]:
    """Every dotted suffix of a file name: ``x.vcf.gz`` -> ``[".gz", ".vcf.gz"]``."""
    parts = name.split(".")
    return ["." + ".".join(parts[i:]) for i in range(len(parts) - 1, 0, -1)]
