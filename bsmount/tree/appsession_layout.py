"""The account's ``AppSessions/``: the kinds behind ``bs list appsessions`` and ``bs appsession
...`` (``Applications/`` is :mod:`.app_layout`'s).

::

    AppSessions/<name>/                  every analysis of the account (+ .status/<status>/)
    AppSessions/<name>/Logs/<file>       its log files, readable while they grow (tail -f)
    AppSessions/<name>/Inputs/<field>    symlinks to the entities it was launched on
    AppSessions/<name>/Outputs/<name>    symlinks to the appresults and datasets it produced

Links point into ``.ResourceById`` (an analysis, its inputs and outputs may live in several
projects). A log file is a :class:`LiveLog`: its size is looked up again (at most once a
second, one request for all the logs of its analysis) whenever it is stat'ed, opened or read
past its known end, so ``tail -f`` follows a running analysis's log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, cast

import trio

from bsmount._types import FileVersion
from bsmount.api import applications
from bsmount.api.models import AppResult, Entity, FileInfo, parse_list
from bsmount.api.routes import segment
from bsmount.errors import NotFound
from bsmount.tree.layout import DIR_CONTROL_NAMES, EntityDirKind, dir_controls
from bsmount.tree.metacache import Listing
from bsmount.tree.naming import assign_names, sanitize_component
from bsmount.tree.nodes import (
    CachedKind,
    DirSpec,
    LayoutContext,
    Node,
    NodeKey,
    NodeType,
    dir_node,
    link_node,
    to_ns,
)

__all__ = [
    "FINAL_STATUSES",
    "AppSessionDirKind",
    "AppSessionInputsKind",
    "AppSessionLogsKind",
    "AppSessionOutputsKind",
    "LiveLog",
    "SessionLogs",
]

log = logging.getLogger(__name__)

#: Statuses after which an analysis's logs stop growing.
FINAL_STATUSES = frozenset({"complete", "aborted", "failed", "timedout", "stopped", "canceled"})
#: How often a growing log's size may be asked again (one request for all of a session's logs).
LOG_REFRESH_SECONDS = 1.0
#: How long the Logs/ listing of a running analysis is kept (new log files appear).
RUNNING_LOGS_TTL = 2.0

_RESOURCE = ".ResourceById"


# -- AppSessions/<s>/ ------------------------------------------------------------------------------


class AppSessionDirKind(EntityDirKind):
    """An analysis of ``AppSessions/``: its sub-directories (``Logs/ Inputs/ Outputs/``) know
    the analysis itself (its status decides how long ``Logs/`` is kept)."""

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        listing = await super().build(ctx, node)
        spec = node.spec
        assert spec is not None
        for name, kind in self.subdirs:
            listing.entries[name] = dir_node(
                node.key + (name,), DirSpec(kind, spec.args, spec.entity), node.mtime_ns
            )
        return listing


# -- AppSessions/<s>/Logs --------------------------------------------------------------------------


class SessionLogs:
    """The log files of one analysis as last seen, refreshed at most once a second (one
    ``logfiles`` request serves every log of the analysis)."""

    def __init__(self, client: Any, appsession: Entity, files: Sequence[FileInfo]) -> None:
        self.client = client
        self.appsession = appsession
        self.files = {f.id: f for f in files}
        self.refreshed = time.monotonic()
        self.final = str(getattr(appsession, "status", "")).lower() in FINAL_STATUSES
        self._lock = trio.Lock()
        self.refreshes = 0

    async def refresh(self) -> None:
        if self.final:
            return  # listed after the analysis ended: its logs no longer grow
        async with self._lock:
            if time.monotonic() - self.refreshed < LOG_REFRESH_SECONDS:
                return
            files = await applications.logfiles(self.client, self.appsession.id)
            self.files.update({f.id: f for f in files})
            self.refreshed = time.monotonic()
            self.refreshes += 1


def live_version(file: FileInfo) -> FileVersion:
    """A growing log's version: its size only (its ETag changes as it grows: not checked)."""
    return FileVersion(file_id=file.id, size=file.size, etag=None, growing=True)


class LiveLog:
    """One log file of an analysis: its current version, looked up again on demand
    (:class:`bsmount.tree.nodes.LiveContent`)."""

    def __init__(self, logs: SessionLogs, file_id: str) -> None:
        self._logs = logs
        self._file_id = file_id

    @property
    def version(self) -> FileVersion:
        return live_version(self._logs.files[self._file_id])

    @property
    def mtime_ns(self) -> int:
        file = self._logs.files[self._file_id]
        return to_ns(file.date_modified or file.date_created)

    async def refresh(self) -> FileVersion:
        try:
            await self._logs.refresh()
        except Exception as exc:  # the last known size stays; the next stat tries again
            log.info("log %s: size not refreshed: %s", self._file_id, exc)
        return self.version


class AppSessionLogsKind(CachedKind):
    """``AppSessions/<s>/Logs/``: the analysis's log files (``bs appsession logs``), readable
    while the analysis runs; the listing of a running analysis is kept 2 s, not the TTL."""

    async def listing(self, ctx: LayoutContext, node: Node) -> Listing:
        listing = await ctx.cache.get(node.key, lambda: self.build(ctx, node))
        assert node.spec is not None
        running = str(getattr(node.spec.entity, "status", "")).lower() not in FINAL_STATUSES
        if running and time.monotonic() - listing.fetched_at > RUNNING_LOGS_TTL:
            listing = await self.build(ctx, node)
            ctx.cache.put(node.key, listing)
        return listing

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        assert node.spec is not None
        appsession = node.spec.entity
        try:
            listed = await applications.logfiles(cast(Any, ctx.client), appsession.id)
        except NotFound:  # an analysis without logs (not run here): an empty Logs/
            log.info("appsession %s has no log files", appsession.id)
            listed = []
        files = [f for f in listed if f.id]
        logs = SessionLogs(ctx.client, appsession, files)
        named = assign_names(
            files,
            name_of=lambda f: (f.path or f.name).rstrip("/").rsplit("/", 1)[-1],
            id_of=lambda f: f.id,
            created_of=lambda f: f.date_created,
            reserved=DIR_CONTROL_NAMES,
        )
        listing = Listing()
        for item in named:
            file = item.item
            live = LiveLog(logs, file.id)
            listing.entries[item.name] = Node(
                key=node.key + (file.id,),
                type=NodeType.FILE,
                version=live.version,
                size=file.size,
                mtime_ns=live.mtime_ns,
                live=live,
            )
        listing.entries.update(dir_controls(node.key))
        return listing


# -- AppSessions/<s>/Inputs and Outputs ------------------------------------------------------------


def _resource_link(key: NodeKey, collection: str, entity_id: str, mtime_ns: int) -> Node:
    up = "../" * (len(key) - 1)
    return link_node(key, f"{up}{_RESOURCE}/{collection}/{entity_id}", mtime_ns)


class AppSessionInputsKind(CachedKind):
    """``AppSessions/<s>/Inputs/``: one symlink per entity input of the launch (``Input.*``
    properties that reference entities), named by the form field (``sample-id``; a list field's
    items ``sample-id.1``, ``sample-id.2``...), pointing at ``.ResourceById/<type>/<id>``."""

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        assert node.spec is not None
        appsession = node.spec.entity
        props = await ctx.client.get_properties("appsessions", appsession.id)
        listing = Listing()
        mtime = node.mtime_ns
        for prop in props:
            if not prop.name.startswith("Input."):
                continue
            field = sanitize_component(prop.name.removeprefix("Input."), "input")
            refs = prop.value if isinstance(prop.value, list) else [prop.value]
            refs = [r for r in refs if isinstance(r, dict) and r.get("id") and r.get("type")]
            many = isinstance(prop.value, list)
            for number, ref in enumerate(refs, 1):
                base = str(ref["type"]).lower().removesuffix("[]")
                collection = applications.ENTITY_TYPES.get(base)
                if collection is None:
                    continue
                name = f"{field}.{number}" if many else field
                entity_id = str(ref["id"])
                try:
                    segment(entity_id)
                except NotFound:
                    continue  # an id that could not be a path segment: not linked
                listing.entries[name] = _resource_link(
                    node.key + (name,), collection, entity_id, mtime
                )
        listing.entries.update(dir_controls(node.key))
        return listing


class AppSessionOutputsKind(CachedKind):
    """``AppSessions/<s>/Outputs/``: symlinks to the appresults and datasets the analysis
    produced, at ``.ResourceById/<type>/<id>``."""

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        assert node.spec is not None
        appsession_id = node.spec.entity.id
        path = f"v1pre3/appsessions/{segment(appsession_id)}/appresults"
        outputs: list[tuple[str, Entity]] = [
            ("appresults", a) for a in parse_list(AppResult, await ctx.client.list_items(path))
        ]
        datasets = await ctx.client.list_datasets(appsession_id=appsession_id)
        outputs += [("datasets", d) for d in datasets]
        outputs = [(c, e) for c, e in outputs if e.id]
        named = assign_names(
            outputs,
            name_of=lambda o: o[1].name,
            id_of=lambda o: f"{o[0]}.{o[1].id}",
            created_of=lambda o: o[1].date_created,
            reserved=DIR_CONTROL_NAMES,
        )
        listing = Listing()
        for item in named:
            collection, entity = item.item
            mtime = to_ns(entity.date_modified or entity.date_created)
            listing.entries[item.name] = _resource_link(
                node.key + (f"{collection}.{entity.id}",), collection, entity.id, mtime
            )
        listing.entries.update(dir_controls(node.key))
        return listing
