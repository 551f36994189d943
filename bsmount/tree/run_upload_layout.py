"""``Runs/`` as a place to copy run folders into (``bs upload run``; docs/lab.md "Uploading run
folders"): :class:`RunListKind`, the list of runs where ``mkdir NAME`` (``cp -r``'s first step)
starts a run folder, and :class:`RunUploadKind`, that folder and its sub-directories while they
are copied.

A run folder being copied is local to this mount (:mod:`bsmount.fuse.run_writes` holds its files,
sends them and creates the run); its listing here is only its control files: ``.complete``,
``.abort`` and ``.status`` at its top, ``.refresh`` and ``.error`` everywhere. Args:
``(name,)`` for the folder, ``(name, path)`` for a sub-directory.
"""

from __future__ import annotations

from bsmount.controls.registry import RUN_UPLOAD_ABORT, RUN_UPLOAD_COMPLETE, RUN_UPLOAD_STATUS
from bsmount.tree.layout import EntityListKind, dir_controls
from bsmount.tree.metacache import Listing
from bsmount.tree.nodes import CachedKind, LayoutContext, Node, control_nodes

__all__ = ["RunListKind", "RunUploadKind"]

_TOP_FILES = (RUN_UPLOAD_COMPLETE, RUN_UPLOAD_ABORT, RUN_UPLOAD_STATUS)


class RunListKind(EntityListKind):
    """``Runs/``: the runs; a directory made in it (``mkdir``, ``cp -r``, ``rsync -a``) is a run
    folder to upload."""

    creates = "bs upload run (cp -r <run folder> Runs/)"
    accepts_run_folder = True


class RunUploadKind(CachedKind):
    """A run folder being copied into ``Runs/``, or one of its sub-directories."""

    accepts_run_folder = True

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        assert node.spec is not None
        listing = Listing()
        if len(node.spec.args) == 1:
            listing.entries.update(control_nodes(node.key, _TOP_FILES))
        listing.entries.update(dir_controls(node.key))
        return listing
