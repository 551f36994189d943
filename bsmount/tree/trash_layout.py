"""``Trash/``: what the caller's trash holds (``GET v2/trash``, every page), one directory per item.

The list is an entity list (:class:`~bsmount.tree.layout.EntityListKind`: items named by what they
hold, duplicates suffixed, ``.id.<id>`` links) plus ``.empty``. An item's directory holds the
metadata files (``.json`` is ``GET v2/trash/{id}``), BaseMount's ``TrashItemType``
(``DeletedSample (FILEDATA+METADATA)``; ``FILEDATA`` alone for an item moved with
``preserve-metadata``) and ``.restore``, bound to a
:class:`~bsmount.controls.trash_files.RestoreTarget` that names the tree's keys where the restored
entity appears again (``places``, declared in :mod:`bsmount.tree.kinds`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bsmount.api.trash import TrashItem, list_trash
from bsmount.controls.base import ControlFile
from bsmount.controls.trash_files import RestoreTarget
from bsmount.tree.layout import EntityDirKind, EntityListKind, dir_controls, meta_entries
from bsmount.tree.metacache import Listing
from bsmount.tree.nodes import (
    DirKind,
    LayoutContext,
    Node,
    NodeKey,
    control_nodes,
    static_file_node,
)

__all__ = ["TRASH_ITEM_TYPE", "TrashItemKind", "TrashListKind"]

TRASH_ITEM_TYPE = "TrashItemType"  # BaseMount's file naming what an item holds


class TrashListKind(EntityListKind):
    """``Trash/``: one directory per trash item, ``.id.<id>`` links and the list's own control
    files (``.empty``)."""

    def __init__(
        self, name: str, shows: str, *, child: DirKind, files: Sequence[ControlFile]
    ) -> None:
        super().__init__(name, shows, child=child, fetch=lambda c, a: list_trash(c))
        self.files = tuple(files)

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        listing = await super().build(ctx, node)
        listing.entries.update(control_nodes(node.key, self.files))
        return listing


class TrashItemKind(EntityDirKind):
    """``Trash/<item>/``: metadata files, ``TrashItemType`` and ``.restore``.

    ``places``: deleted kind (``samples``...) → the keys whose listings change when such an
    entity is restored; an unknown kind refreshes the whole tree."""

    def __init__(
        self,
        name: str,
        shows: str,
        *,
        files: Sequence[ControlFile],
        places: Mapping[str, Sequence[NodeKey]],
    ) -> None:
        super().__init__(name, shows, files=files)
        self.places = {kind: tuple(keys) for kind, keys in places.items()}

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        spec = node.spec
        assert spec is not None
        item = spec.entity
        assert isinstance(item, TrashItem)
        listing = Listing()
        listing.entries.update(meta_entries(ctx.client, node.key, item))
        listing.entries[TRASH_ITEM_TYPE] = static_file_node(
            node.key + (TRASH_ITEM_TYPE,),
            (item.describe() + "\n").encode("utf-8"),
            mtime_ns=node.mtime_ns,
        )
        target = RestoreTarget(item, self.places.get(item.deleted_kind, ((),)))
        listing.entries.update(control_nodes(node.key, self.files, target))
        listing.entries.update(dir_controls(node.key))
        return listing
