"""The lab side of biosamples: ``BioSamples/`` lists with ``.import`` (a manifest) and
``mkdir`` (``bs create biosample``), and a biosample's ``Libraries/`` and ``LabRequeues/``.

* ``Projects/<p>/BioSamples/``: ``mkdir NAME`` creates a biosample whose default project is
  ``p`` (``POST v2/biosamples``); its metadata then goes in through ``.properties``.
* ``BioSamples/`` (every project's): a biosample needs a default project, which a bare name does
  not say: ``mkdir NAME`` there makes it in the mount's ``--biosample-project`` (a name or an
  id); without that option it is refused (EINVAL, the reason in ``.error``). A manifest written
  to ``.import`` names each row's project.
* ``LabRequeues/`` holds one directory per lab requeue, named by its id (requeues have no name);
  ``Libraries/`` one per library, named by the library's name. Both are entity directories
  (``.json`` is ``GET v2/labrequeues/{id}`` / ``v2/libraries/{id}``).

The control files are :mod:`bsmount.controls.lab_files`'; the kinds are declared in
:mod:`bsmount.tree.kinds`.
"""

from __future__ import annotations

import errno
import logging
from typing import Any, ClassVar

from bsmount.api import lab
from bsmount.controls.lab_files import ImportTarget
from bsmount.controls.manifest import name_problem
from bsmount.controls.registry import IMPORT
from bsmount.errors import ControlError
from bsmount.tree.layout import EntityListKind
from bsmount.tree.metacache import Listing
from bsmount.tree.nodes import LayoutContext, Node, NodeKey, control_node

__all__ = ["BioSampleListKind", "ProjectBioSampleListKind"]

log = logging.getLogger(__name__)


class BioSampleListKind(EntityListKind):
    """``BioSamples/`` (every biosample): its list and ``.import`` (rows name their project);
    ``mkdir NAME`` makes a biosample in the mount's ``--biosample-project``, and is refused with
    the reason (EINVAL, in ``.error``) when the mount has none."""

    creates: ClassVar[str] = "bs create biosample (in --biosample-project)"

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        listing = await super().build(ctx, node)
        target = ImportTarget(self._project_id(node))
        listing.entries[IMPORT.name] = control_node(node.key, IMPORT, entity=target)
        return listing

    @staticmethod
    def _project_id(node: Node) -> str | None:
        args = node.spec.args if node.spec is not None else ()
        return args[0] if args else None

    async def make_directory(
        self, ctx: LayoutContext, parent: Node, name: str
    ) -> tuple[NodeKey, ...]:
        if ctx.biosample_project is None:
            raise ControlError(
                errno.EINVAL,
                "a biosample needs a default project: mkdir Projects/<project>/BioSamples/"
                f"{name}, mount with --biosample-project PROJECT, or write a manifest naming"
                " it to BioSamples/.import",
            )
        client: Any = ctx.client
        project_id = await _project_named(client, ctx.biosample_project)
        existing = {b.name.casefold() for b in await client.list_biosamples(project_id)}
        return await _create(ctx, parent, name, project_id, existing)


class ProjectBioSampleListKind(BioSampleListKind):
    """A project's ``BioSamples/``, where ``mkdir NAME`` creates a biosample of the project."""

    creates: ClassVar[str] = "bs create biosample --project"

    async def make_directory(
        self, ctx: LayoutContext, parent: Node, name: str
    ) -> tuple[NodeKey, ...]:
        project_id = self._project_id(parent)
        assert project_id is not None
        listing = await ctx.listing(parent)
        existing = {
            child.spec.entity.name.casefold()
            for child in listing.entries.values()
            if child.spec is not None and child.spec.entity is not None
        }
        return await _create(ctx, parent, name, project_id, existing)


async def _project_named(client: Any, wanted: str) -> str:
    """The id of the project named (or numbered) ``wanted``: the ``--biosample-project``."""
    projects = await client.list_projects()
    for project in projects:
        if project.id == wanted or project.name == wanted:
            return str(project.id)
    folded = [p for p in projects if p.name.casefold() == wanted.casefold()]
    if len(folded) == 1:
        return str(folded[0].id)
    raise ControlError(
        errno.EINVAL, f"--biosample-project {wanted!r}: no project of that name or id"
    )


async def _create(
    ctx: LayoutContext, parent: Node, name: str, project_id: str, existing: set[str]
) -> tuple[NodeKey, ...]:
    """``POST v2/biosamples`` for ``name`` in ``project_id`` once the name is checked; the
    listings to refresh."""
    problem = name_problem(name)
    if problem is not None:
        raise ControlError(errno.EINVAL, problem)
    if name.casefold() in existing:
        raise ControlError(
            errno.EEXIST, f"project {project_id} already has a biosample named {name!r}"
        )
    client: Any = ctx.client
    created = await lab.create_biosample(client, name, project_id)
    log.info("created biosample %r (%s) in project %s", name, created.id, project_id)
    return (parent.key, ("BioSamples",), ("Projects", project_id, "BioSamples"))
