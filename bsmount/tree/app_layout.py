"""``Applications/``: the kinds behind ``bs list applications``, ``bs get application`` and
``bs launch application`` (the account's ``AppSessions/`` is :mod:`.appsession_layout`'s).

::

    Applications/<name>/                 an application (latest version): .json .form
                                         .form.json .settings.json .launch (+ metadata files)
    Applications/<name>/Versions/<v>/    the same for each version (each has its own id)

Workflows (Category ``Workflow``) also hold their QC threshold and dependency files.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, cast

from bsmount.api import applications
from bsmount.api.models import Entity
from bsmount.controls.base import ControlFile
from bsmount.tree.layout import DIR_CONTROL_NAMES, EntityDirKind, dir_controls, entity_dir
from bsmount.tree.metacache import Listing
from bsmount.tree.naming import assign_names
from bsmount.tree.nodes import (
    CachedKind,
    DirKind,
    LayoutContext,
    Node,
    control_nodes,
    link_node,
    static_file_node,
    to_ns,
)

__all__ = [
    "FORM_FILES",
    "ApplicationDirKind",
    "ApplicationVersionsKind",
    "form_table",
]

log = logging.getLogger(__name__)

FORM = ".form"
FORM_JSON = ".form.json"
SETTINGS_JSON = ".settings.json"
FORM_FILES = (FORM, FORM_JSON, SETTINGS_JSON)
WORKFLOW_CATEGORY = "workflow"  # an application's Category (casefolded) with workflow files


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# -- Applications/ ---------------------------------------------------------------------------------


def form_table(form: Sequence[applications.FormField] | None, app_name: str) -> str:
    """The input form as ``bs launch application --list`` would print it: one row per field."""
    if form is None:
        return (
            f"# {app_name}: the server publishes no input form for this application.\n"
            "# .launch accepts any field=value (sent as given) or a raw JSON launch body.\n"
        )
    rows = [("Option", "Type", "Required", "Default", "Choices", "Label")]
    for f in form:
        default = f.default
        if isinstance(default, list):
            default = ",".join(str(d) for d in default)
        rows.append(
            (
                f.id,
                f.type,
                "yes" if f.required else "no",
                "" if default is None else str(default),
                "|".join(f.choices),
                f.label,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    lines.append("")
    lines.append(
        "# launch: echo 'field=value' > .launch  (several: printf 'a=1\\nb=2\\n' > .launch);"
    )
    lines.append("# entity fields take ids, mount paths (Projects/P/Samples/S) or .id.<id> links")
    return "\n".join(lines) + "\n"


async def load_form(client: Any, app: Entity) -> list[applications.FormField] | None:
    """The input form of ``app``: from its full record, else from its settings."""
    record = await applications.application(client, app.id)
    form = applications.parse_form(record)
    if form is None:
        try:
            settings = await applications.application_settings(client, app.id)
        except Exception as exc:  # a server without settings: no form, not an error
            log.info("no settings for application %s: %s", app.id, exc)
            return None
        form = applications.parse_form(settings)
    return form


class ApplicationDirKind(EntityDirKind):
    """An application's directory: the metadata files, ``.form`` (the input form as a table),
    ``.form.json``, ``.settings.json`` (``GET v2/applications/{id}/settings``), its control
    files (``.launch``...) and, for the latest version, ``Versions/``; an analysis workflow
    (Category ``Workflow``) also has ``workflow_files`` (``.qcthresholds``,
    ``.workflowdependencies``: :mod:`bsmount.controls.threshold_files`)."""

    def __init__(
        self,
        name: str,
        shows: str,
        *,
        subdirs: Sequence[tuple[str, DirKind]] = (),
        files: Sequence[ControlFile] = (),
        workflow_files: Sequence[ControlFile] = (),
    ) -> None:
        super().__init__(name, shows, subdirs=subdirs, files=files)
        self.workflow_files = tuple(workflow_files)

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        listing = await super().build(ctx, node)
        assert node.spec is not None
        app = node.spec.entity
        client: Any = ctx.client  # the API client (applications calls take any client)

        async def form_text() -> bytes:
            return form_table(await load_form(client, app), app.name).encode("utf-8")

        async def form_json() -> bytes:
            form = await load_form(client, app)
            fields = None if form is None else [_field_json(f) for f in form]
            return _json_bytes({"Application": app.id, "Name": app.name, "Fields": fields})

        mtime = node.mtime_ns
        listing.entries[FORM] = static_file_node(
            node.key + (FORM,), loader=form_text, mtime_ns=mtime
        )
        listing.entries[FORM_JSON] = static_file_node(
            node.key + (FORM_JSON,), loader=form_json, mtime_ns=mtime
        )

        async def settings_json() -> bytes:
            return _json_bytes(await applications.application_settings(client, app.id))

        listing.entries[SETTINGS_JSON] = static_file_node(
            node.key + (SETTINGS_JSON,), loader=settings_json, mtime_ns=mtime
        )
        if str(getattr(app, "category", "")).casefold() == WORKFLOW_CATEGORY:
            listing.entries.update(control_nodes(node.key, self.workflow_files, app))
        return listing


def _field_json(f: applications.FormField) -> dict[str, Any]:
    return {
        "Id": f.id,
        "Type": f.type,
        "Label": f.label,
        "Required": f.required,
        "Default": f.default,
        "Choices": list(f.choices),
        "Description": f.description,
    }


class ApplicationVersionsKind(CachedKind):
    """``Applications/<name>/Versions/``: one directory per version of the application, named
    by its version number (each version is an application of its own id)."""

    def __init__(self, name: str, shows: str, *, child: DirKind) -> None:
        super().__init__(name, shows)
        self.child = child

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        assert node.spec is not None
        app_id = node.spec.args[0]
        versions = await applications.application_versions(cast(Any, ctx.client), app_id)
        versions = [v for v in versions if v.id]
        named = assign_names(
            versions,
            name_of=lambda v: v.version or v.id,
            id_of=lambda v: v.id,
            created_of=lambda v: v.date_created,
            reserved=[*DIR_CONTROL_NAMES, *(f".id.{v.id}" for v in versions)],
        )
        listing = Listing()
        links: dict[str, Node] = {}
        for item in named:
            version = item.item
            listing.entries[item.name] = entity_dir(node.key + (version.id,), self.child, version)
            links[f".id.{version.id}"] = link_node(
                node.key + (f".id.{version.id}",),
                item.name,
                to_ns(version.date_modified or version.date_created),
            )
        listing.entries.update(links)
        listing.entries.update(dir_controls(node.key))
        return listing
