"""JSON shapes of the v2 API: bare objects with absolute hrefs (``{base}/v2/...``).

Nested v1pre3-typed objects (applications, runs and samples inside properties) keep relative
v1pre3 hrefs, as the real service does. v2 properties put their values under typed keys
(``ContentItems``, ``RunItems``, ``DatasetItems``...; basespace-api.md §4.2).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from bsmount.emulator.http.views.compact import compact_form
from bsmount.emulator.http.views.lab import prep_requests_view
from bsmount.emulator.http.views.v1 import (
    INLINE_PROPERTY_ITEMS,
    V1Views,
    gravatar,
    sorted_properties,
)
from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.model import (
    AppSession,
    BioSample,
    Dataset,
    Entity,
    File,
    Project,
    Property,
    User,
    format_date,
)

__all__ = ["V2Views"]

# v2 property value keys per referenced kind: (single, array). Sample/AppResult keys are guesses.
_V2_REF_KEYS = {
    "runs": ("Run", "RunItems"),
    "projects": ("Project", "ProjectItems"),
    "samples": ("Sample", "SampleItems"),
    "appresults": ("AppResult", "AppResultItems"),
    "appsessions": ("AppSession", "AppSessionItems"),
    "biosamples": ("BioSample", "BioSampleItems"),
    "datasets": ("Dataset", "DatasetItems"),
    "files": ("File", "FileItems"),
}


class V2Views:
    """Renders entities of ``state`` in v2 shapes, with hrefs under ``base_url``."""

    def __init__(self, state: EmulatorState, base_url: str) -> None:
        self.state = state
        self.base = base_url.rstrip("/")
        self.v1 = V1Views(state)

    def href(self, path: str) -> str:
        return f"{self.base}/v2/{path}"

    # ------------------------------------------------------------------ users and projects
    def user_compact(self, user_id: str) -> dict[str, Any]:
        user = self.state.peek("users", user_id)
        if user is None:
            return {"Id": user_id, "Href": self.href(f"users/{user_id}")}
        return {
            "Id": user.id,
            "Href": self.href(f"users/{user.id}"),
            "Name": user.name,
            "DateCreated": format_date(user.date_created),
            "GravatarUrl": gravatar(user),
            "HrefProperties": self.href("users/current/properties"),
        }

    def user(self, user: User) -> dict[str, Any]:
        last = user.date_last_active or user.date_created
        return {
            "Id": user.id,
            "Href": self.href(f"users/{user.id}"),
            "Name": user.name,
            "Email": user.email,
            "DateCreated": format_date(user.date_created),
            "DateLastActive": format_date(last),
            "GravatarUrl": gravatar(user),
            "HrefRuns": self.href("runs"),
            "HrefProjects": f"{self.base}/v1pre3/users/{user.id}/projects",
            "HrefProperties": self.href("users/current/properties"),
            "Roles": [],
            "RolePermissions": [],
            "Features": [],
            "IsWorkgroup": False,
            "IsPublicDomainUser": False,
            "LoggedInUser": self.user_compact(user.id),
        }

    def project(self, project: Project, full: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Id": project.id,
            "UserOwnedBy": self.user_compact(project.owner_id),
            "Href": self.href(f"projects/{project.id}"),
            "Name": project.name,
            "Description": project.description,
            "DateCreated": format_date(project.date_created),
            "DateModified": format_date(project.date_modified),
            "HasCollaborators": project.has_collaborators,
            "TotalSize": self.state.total_size("projects", project),
        }
        if full:
            body["HrefSamples"] = f"v1pre3/projects/{project.id}/samples"
            body["HrefAppResults"] = f"v1pre3/projects/{project.id}/appresults"
            body["HrefDatasets"] = self.href(f"projects/{project.id}/datasets")
            body["IsDeleted"] = False
            body["Properties"] = self.properties_inline("projects", project)
        return body

    # ------------------------------------------------------------------ biosamples, appsessions
    def biosample(self, biosample: BioSample, full: bool = False) -> dict[str, Any]:
        project = self.state.peek("projects", biosample.project_id)
        body: dict[str, Any] = {
            "Id": biosample.id,
            "Href": self.href(f"biosamples/{biosample.id}"),
            "UserOwnedBy": self.user_compact(project.owner_id if project else ""),
            "BioSampleName": biosample.name,
        }
        if project is not None:
            body["DefaultProject"] = self.project(project)
        body.update(
            {
                "DateModified": format_date(biosample.date_modified),
                "DateCreated": format_date(biosample.date_created),
                "ContainerName": biosample.container_name,
                "ContainerPosition": biosample.container_position,
                "Status": biosample.status,
                "LabStatus": biosample.lab_status,
            }
        )
        if full:
            body["PrepRequests"] = prep_requests_view(self, self.state, biosample)
            body["OutputProjectIds"] = [biosample.project_id]
            body["Properties"] = self.properties_inline("biosamples", biosample)
        return body

    def appsession(self, session: AppSession, full: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Id": session.id,
            "Name": session.name,
            "Href": self.href(f"appsessions/{session.id}"),
            "Application": self.v1.application(session.application),
            "UserCreatedBy": self.user_compact(session.owner_id),
            "ExecutionStatus": session.status,
            "QcStatus": session.qc_status,
            "StatusSummary": session.status_summary,
            "Purpose": session.purpose,
            "DateCreated": format_date(session.date_created),
            "DateModified": format_date(session.date_modified),
        }
        if session.date_completed is not None:
            body["DateCompleted"] = format_date(session.date_completed)
        if session.date_started is not None:
            body["DateStarted"] = format_date(session.date_started)
        body.update(
            {
                "TotalSize": self.state.total_size("appsessions", session),
                "DeliveryStatus": session.delivery_status,
                "ContainsComments": False,
                "HrefComments": self.href(f"appsessions/{session.id}/comments"),
            }
        )
        if full:
            body["HrefLogs"] = self.href(f"appsessions/{session.id}/logfiles")
            body["Children"] = []
            body["IsDeleted"] = False
            body["Properties"] = self.properties_inline("appsessions", session)
        return body

    # ------------------------------------------------------------------ datasets and files
    def dataset(
        self,
        dataset: Dataset,
        *,
        properties: bool = False,
        property_filters: Collection[str] = (),
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Id": dataset.id,
            "Href": self.href(f"datasets/{dataset.id}"),
            "HrefFiles": self.href(f"datasets/{dataset.id}/files"),
            "Name": dataset.name,
            "DateCreated": format_date(dataset.date_created),
            "DateModified": format_date(dataset.date_modified),
        }
        session = self.state.peek("appsessions", dataset.appsession_id or "")
        if session is not None:
            body["AppSession"] = self.appsession(session)
        project = self.state.peek("projects", dataset.project_id)
        if project is not None:
            body["Project"] = self.project(project)
            body["UserOwnedBy"] = self.user_compact(project.owner_id)
        body["TotalSize"] = self.state.total_size("datasets", dataset)
        body["IsArchived"] = False
        dtype = dataset.dataset_type
        body["DatasetType"] = {
            "Id": dtype.id,
            "Href": self.href(f"datasettypes/{dtype.id}"),
            "Name": dtype.name,
            "ConformsToIds": list(dtype.conforms_to),
        }
        body["Attributes"] = dataset.attributes
        if properties:
            body["Properties"] = self.properties_inline("datasets", dataset, property_filters)
        body.update(
            {
                "QcStatus": dataset.qc_status,
                "QcStatusSummary": "No thresholds were evaluated",
                "UploadStatus": "Completed",
                "UploadStatusSummary": "",
                "ValidationStatus": "Passed",
                "HrefComments": self.href(f"datasets/{dataset.id}/comments"),
                "ContainsComments": False,
            }
        )
        if dataset.sample_id is not None:
            body["V1pre3Id"] = f"sample.{dataset.sample_id}"  # [C: FSB] "sample.411096884"
        return body

    def file(
        self, item: File, href_content: str | None = None, full: bool = False
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Id": item.id,
            "Href": self.href(f"files/{item.id}"),
            "HrefContent": href_content or self.href(f"files/{item.id}/content"),
            "Name": item.name,
            "ContentType": item.content_type,
            "Size": item.size,
            "Path": item.path,
            "IsArchived": item.is_archived,
            "DateCreated": format_date(item.date_created),
            "DateModified": format_date(item.date_modified),
            "ETag": item.etag,
        }
        if full or item.upload_status != "complete":
            body["UploadStatus"] = item.upload_status
        if not full:
            body["IdAsLong"] = int(item.id)
        return body

    # ------------------------------------------------------------------ properties
    def compact(self, kind: str, entity: Entity) -> dict[str, Any]:
        """The compact form of any entity (:data:`~.compact.COMPACT_FORMS`): its v2 shape, or its
        v1pre3 one for types v2 has none of its own for."""
        form = compact_form(entity).v2
        if form is None:
            return self.v1.compact(kind, entity)
        render: Callable[[Entity], dict[str, Any]] = getattr(self, form)
        return render(entity)

    def property(
        self, kind: str, owner: Entity, prop: Property, limit: int = INLINE_PROPERTY_ITEMS
    ) -> dict[str, Any]:
        href = self.href(f"{kind}/{owner.id}/properties/{prop.name}")
        body: dict[str, Any] = {
            "Type": prop.type,
            "Href": href,
            "Name": prop.name,
            "Description": prop.description,
        }
        if prop.type == "string":
            body["Content"] = prop.content or ""
            return body
        if prop.type == "string[]":
            values: list[Any] = list(prop.items)
            key = "ContentItems"
        else:
            values = []
            for ref_kind, entity_id in prop.refs:
                entity = self.state.peek(ref_kind, entity_id)
                if entity is not None:
                    values.append(self.compact(ref_kind, entity))
            single, array = _V2_REF_KEYS[prop.ref_kind or ""]
            if not prop.is_array:
                body[single] = values[0] if values else None
                return body
            key = array
        body[key] = values[:limit]
        body["HrefItems"] = f"{href}/items"
        body["ItemsDisplayedCount"] = len(body[key])
        body["ItemsTotalCount"] = len(values)
        return body

    def property_items(self, prop: Property) -> list[dict[str, Any]]:
        """Every item of ``prop`` as ``.../properties/{name}/items`` lists them: ``{Id, Content}``
        for strings, ``{Id, Run: {...}}`` (``Project``, ``Dataset``...) for references."""
        if prop.type in ("string", "string[]"):
            values = [prop.content or ""] if prop.type == "string" else prop.items
            return [{"Id": str(i + 1), "Content": v} for i, v in enumerate(values)]
        key = _V2_REF_KEYS[prop.ref_kind or ""][0]
        items: list[dict[str, Any]] = []
        for ref_kind, entity_id in prop.refs:
            entity = self.state.peek(ref_kind, entity_id)
            if entity is not None:
                items.append({"Id": str(len(items) + 1), key: self.compact(ref_kind, entity)})
        return items

    def properties_inline(
        self, kind: str, owner: Entity, names: Collection[str] = ()
    ) -> dict[str, Any]:
        wanted = {n.lower() for n in names}
        props = [p for p in sorted_properties(owner) if not wanted or p.name.lower() in wanted]
        items = [self.property(kind, owner, p) for p in props]
        return {
            "Items": items,
            "DisplayedCount": len(items),
            "TotalCount": len(items),
            "Href": self.href(f"{kind}/{owner.id}/properties"),
        }
