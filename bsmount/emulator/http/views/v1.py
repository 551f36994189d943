"""JSON shapes of the v1pre3 API: entities as the real service renders them.

Hrefs are relative (``v1pre3/projects/123``); ids are strings; dates have 7 fractional digits.
List items are the compact forms; single resources (``full=True``) add their Hrefs, references
and the inlined ``Properties`` container. Field names and order follow recorded traffic
(basespace-api.md §3).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from bsmount.emulator.http.views.compact import compact_form
from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.model import (
    NULL_DATE,
    Application,
    AppResult,
    AppSession,
    Entity,
    File,
    Genome,
    Project,
    Property,
    Run,
    Sample,
    User,
    format_date,
)

__all__ = ["INLINE_PROPERTY_ITEMS", "V1Views", "gravatar", "ui_slug"]

# How many items of an array property are inlined; the rest come from .../properties/{name}/items.
INLINE_PROPERTY_ITEMS = 5
_REFERENCE_TYPES = {
    "samples": "Sample",
    "appresults": "AppResult",
    "runs": "Run",
    "projects": "Project",
    "files": "File",
}
_FILE_PARENT_KEYS = {
    "samples": "ParentSample",
    "appresults": "ParentAppResult",
    "runs": "ParentRun",
    "datasets": "ParentDataset",
    "appsessions": "ParentAppSession",
}


def gravatar(user: User) -> str:
    digest = hashlib.md5(user.email.strip().lower().encode("utf-8")).hexdigest()
    return f"https://secure.gravatar.com/avatar/{digest}.jpg?s=20&d=mm&r=PG"


def ui_slug(name: str) -> str:
    """The name part of BaseSpace UI links: runs of other characters become one ``-``."""
    return re.sub(r"[^0-9A-Za-z]+", "-", name).strip("-")


class V1Views:
    """Renders entities of ``state`` in v1pre3 shapes."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    # ------------------------------------------------------------------ users and genomes
    def user_compact(self, user_id: str) -> dict[str, Any]:
        user = self.state.peek("users", user_id)
        if user is None:
            return {
                "Id": user_id,
                "Href": f"v1pre3/users/{user_id}",
                "Name": "",
                "DateCreated": NULL_DATE,
            }
        return {
            "Id": user.id,
            "Href": f"v1pre3/users/{user.id}",
            "Name": user.name,
            "DateCreated": NULL_DATE,
            "GravatarUrl": gravatar(user),
        }

    def user(self, user: User) -> dict[str, Any]:
        last = user.date_last_active or user.date_created
        return {
            "Id": user.id,
            "Href": f"v1pre3/users/{user.id}",
            "Name": user.name,
            "Email": user.email,
            "GravatarUrl": gravatar(user),
            "DateLastActive": format_date(last),
            "DateCreated": format_date(user.date_created),
            "HrefRuns": f"v1pre3/users/{user.id}/runs",
            "HrefProjects": f"v1pre3/users/{user.id}/projects",
        }

    def genome(self, genome: Genome) -> dict[str, Any]:
        return {
            "Id": genome.id,
            "Href": f"v1pre3/genomes/{genome.id}",
            "DisplayName": genome.name,
            "SpeciesName": genome.species_name,
            "Source": genome.source,
            "Build": genome.build,
            "HrefAnnotations": f"v1pre3/genomes/{genome.id}/annotations",
        }

    # ------------------------------------------------------------------ containers
    def project(self, project: Project, full: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if full:
            body["HrefSamples"] = f"v1pre3/projects/{project.id}/samples"
            body["HrefAppResults"] = f"v1pre3/projects/{project.id}/appresults"
            body["HrefBaseSpaceUI"] = (
                f"https://basespace.illumina.com/project/{project.id}/{ui_slug(project.name)}"
            )
            body["Properties"] = self.properties_inline("projects", project)
        body.update(
            {
                "Id": project.id,
                "UserOwnedBy": self.user_compact(project.owner_id),
                "Href": f"v1pre3/projects/{project.id}",
                "Name": project.name,
                "Description": project.description,
                "DateCreated": format_date(project.date_created),
                "DateModified": format_date(project.date_modified),
                "HasCollaborators": project.has_collaborators,
                "TotalSize": self.state.total_size("projects", project),
            }
        )
        return body

    def sample(self, sample: Sample, full: bool = False) -> dict[str, Any]:
        project = self.state.peek("projects", sample.project_id)
        clusters = sample.num_reads_raw // 2 if sample.is_paired_end else sample.num_reads_raw
        clusters_pf = sample.num_reads_pf // 2 if sample.is_paired_end else sample.num_reads_pf
        body: dict[str, Any] = {
            "Id": sample.id,
            "Href": f"v1pre3/samples/{sample.id}",
            "IsMerged": False,
            "UserOwnedBy": self.user_compact(project.owner_id if project else ""),
            "Name": sample.name,
            "ExperimentName": sample.experiment_name,
            "SampleId": sample.sample_id,
            "Status": sample.status,
            "StatusSummary": sample.status_summary,
            "DateCreated": format_date(sample.date_created),
            "TotalSize": self.state.total_size("samples", sample),
        }
        genome = self.state.peek("genomes", sample.genome_id) if sample.genome_id else None
        if genome is not None:
            body["Genome"] = self.genome(genome)
        body.update(
            {
                "Read1": sample.read1,
                "Read2": sample.read2 if sample.is_paired_end else 0,
                "NumReadsPF": sample.num_reads_pf,
                "NumReadsRaw": sample.num_reads_raw,
                "TotalReadsRaw": sample.num_reads_raw,
                "TotalReadsPF": sample.num_reads_pf,
                "TotalClustersRaw": clusters,
                "TotalClustersPF": clusters_pf,
                "IsPairedEnd": sample.is_paired_end,
            }
        )
        if full:
            if genome is not None:
                body["HrefGenome"] = f"v1pre3/genomes/{genome.id}"
            body["SampleNumber"] = sample.sample_number
            body["HrefFiles"] = f"v1pre3/samples/{sample.id}/files"
            body["References"] = []
            body["Properties"] = self.properties_inline("samples", sample)
            session = self.state.peek("appsessions", sample.appsession_id or "")
            if session is not None:
                body["AppSession"] = self.appsession(session)
            body["Projects"] = [self.project(project)] if project is not None else []
        return body

    def appresult(self, result: AppResult, full: bool = False) -> dict[str, Any]:
        project = self.state.peek("projects", result.project_id)
        body: dict[str, Any] = {
            "Id": result.id,
            "Href": f"v1pre3/appresults/{result.id}",
            "UserOwnedBy": self.user_compact(project.owner_id if project else ""),
            "Name": result.name,
            "Status": result.status,
            "StatusSummary": result.status_summary,
            "DateCreated": format_date(result.date_created),
            "TotalSize": self.state.total_size("appresults", result),
        }
        session = self.state.peek("appsessions", result.appsession_id or "")
        if session is not None:
            body["AppSession"] = self.appsession(session)
        if full:
            body["Description"] = result.description
            body["HrefFiles"] = f"v1pre3/appresults/{result.id}/files"
            if result.genome_id is not None:
                body["HrefGenome"] = f"v1pre3/genomes/{result.genome_id}"
            # [G] Left out when there are none: the C# SDK's own test of a new AppResult
            # expects null References (and null HrefGenome).
            if result.references:
                body["References"] = self.references(result.references)
            body["Properties"] = self.properties_inline("appresults", result)
            body["Projects"] = [self.project(project)] if project is not None else []
        return body

    def run(self, run: Run, full: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Id": run.id,
            "Href": f"v1pre3/runs/{run.id}",
            "Name": run.name,
            "Number": run.number,
            "ExperimentName": run.experiment_name,
            "Status": run.status,
            "ReagentBarcode": run.reagent_barcode,
            "FlowcellBarcode": run.flowcell_barcode,
            "DateCreated": format_date(run.date_created),
            "DateModified": format_date(run.date_modified),
            "UserOwnedBy": self.user_compact(run.owner_id),
            "UserUploadedBy": self.user_compact(run.owner_id),
            "TotalSize": self.state.total_size("runs", run),
            "PlatformName": run.platform_name,
            "Workflow": run.workflow,
            "InstrumentName": run.instrument_name,
            "InstrumentType": run.instrument_type,
            "HrefFiles": f"v1pre3/runs/{run.id}/files",
            "HrefSamples": f"v1pre3/runs/{run.id}/samples",
            "HrefBaseSpaceUI": f"https://basespace.illumina.com/run/{run.id}/{ui_slug(run.name)}",
        }
        if full:
            read1, read2, index1, index2 = run.cycles
            body.update(
                {
                    "NumCyclesRead1": read1,
                    "NumCyclesRead2": read2,
                    "NumCyclesIndex1": index1,
                    "NumCyclesIndex2": index2,
                    "DateUploadStarted": format_date(run.date_created),
                    "DateUploadCompleted": format_date(run.date_modified),
                    "IsArchived": False,
                    "IsDeleted": False,
                    "IsFileDataDeleted": False,
                    "Properties": self.properties_inline("runs", run),
                    "SequencingStats": {
                        "NumCyclesRead1": read1,
                        "NumCyclesRead2": read2,
                        "NumCyclesIndex1": index1,
                        "NumCyclesIndex2": index2,
                    },
                }
            )
        return body

    def application(self, app: Application) -> dict[str, Any]:
        return {
            "Id": app.id,
            "Href": f"v1pre3/applications/{app.id}",
            "Name": app.name,
            "VersionNumber": app.version,
            "AppFamilySlug": app.slug,
        }

    def appsession(self, session: AppSession, full: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Id": session.id,
            "Href": f"v1pre3/appsessions/{session.id}",
        }
        if full:
            body["Type"] = "AppSession"
        body.update(
            {
                "Name": session.name,
                "Application": self.application(session.application),
                "UserCreatedBy": self.user_compact(session.owner_id),
                "Status": session.status,
                "QcStatus": session.qc_status,
                "StatusSummary": session.status_summary,
                "DateCreated": format_date(session.date_created),
                "ModifiedOn": format_date(session.date_modified),
            }
        )
        if session.date_completed is not None:
            body["DateCompleted"] = format_date(session.date_completed)
        body["TotalSize"] = self.state.total_size("appsessions", session)
        if full:
            body["References"] = []
            body["Properties"] = self.properties_inline("appsessions", session)
            body["OriginatingUri"] = f"https://basespace.illumina.com/analyses/{session.id}"
        return body

    def references(self, refs: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
        """``References`` of an entity: ``{Rel, Type, Href, HrefContent, Content}`` [G]."""
        rendered = []
        for rel, kind, entity_id in refs:
            entity = self.state.peek(kind, entity_id)
            href = f"v1pre3/{kind}/{entity_id}"
            item: dict[str, Any] = {"Rel": rel, "Type": _REFERENCE_TYPES.get(kind, kind)}
            item["Href"] = item["HrefContent"] = href
            if entity is not None:
                item["Content"] = self.compact(kind, entity)
            rendered.append(item)
        return rendered

    # ------------------------------------------------------------------ files
    def file(self, item: File, full: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if full or item.upload_status != "complete":
            body["UploadStatus"] = item.upload_status
        if full:
            body["Properties"] = self.properties_inline("files", item)
        body.update(
            {
                "Id": item.id,
                "Href": f"v1pre3/files/{item.id}",
                "HrefContent": f"v1pre3/files/{item.id}/content",
                "Name": item.name,
                "ContentType": item.content_type,
                "Size": item.size,
                "Path": item.path,
                "IsArchived": item.is_archived,
                "DateCreated": format_date(item.date_created),
                "DateModified": format_date(item.date_modified),
            }
        )
        if full:
            parent = self.state.peek(item.parent_kind, item.parent_id)
            key = _FILE_PARENT_KEYS.get(item.parent_kind)
            if parent is not None and key is not None:
                body[key] = self.compact(item.parent_kind, parent)
        body["ETag"] = item.etag
        if not full:
            body["IdAsLong"] = int(item.id)
        return body

    # ------------------------------------------------------------------ properties
    def compact(self, kind: str, entity: Entity) -> dict[str, Any]:
        """The compact form of any entity (:data:`~.compact.COMPACT_FORMS`), or a stub."""
        form = compact_form(entity).v1
        if form is None:
            return {"Id": entity.id, "Href": f"v2/{kind}/{entity.id}", "Name": entity.name}
        render: Callable[[Entity], dict[str, Any]] = getattr(self, form)
        return render(entity)

    def property(
        self, kind: str, owner: Entity, prop: Property, limit: int = INLINE_PROPERTY_ITEMS
    ) -> dict[str, Any]:
        href = f"v1pre3/{kind}/{owner.id}/properties/{prop.name}"
        body: dict[str, Any] = {
            "Type": prop.type,
            "Href": href,
            "Name": prop.name,
            "Description": prop.description,
        }
        if prop.type == "string":
            body["Content"] = prop.content or ""
            return body
        values = self.property_values(prop)
        if not prop.is_array:
            body["Content"] = values[0] if values else None
            return body
        body["Items"] = values[:limit]
        body["HrefItems"] = f"{href}/items"
        body["ItemsDisplayedCount"] = len(body["Items"])
        body["ItemsTotalCount"] = len(values)
        return body

    def property_values(self, prop: Property) -> list[Any]:
        """The items of a property: strings, or compact forms of the referenced entities."""
        if prop.type == "string[]":
            return list(prop.items)
        values: list[Any] = []
        for kind, entity_id in prop.refs:
            entity = self.state.peek(kind, entity_id)
            if entity is not None:
                values.append(self.compact(kind, entity))
        return values

    def properties_inline(self, kind: str, owner: Entity) -> dict[str, Any]:
        items = [self.property(kind, owner, p) for p in sorted_properties(owner)]
        return {
            "Items": items,
            "DisplayedCount": len(items),
            "TotalCount": len(items),
            "Href": f"v1pre3/{kind}/{owner.id}/properties",
        }


def sorted_properties(owner: Entity) -> list[Property]:
    return sorted(owner.properties, key=lambda p: p.name)
