"""``<entity>/Properties/``: one file per property of the entity, BaseMount style.

The listing is one request (every property, with the items of lists completed); each property
is a control file bound to a :class:`~bsmount.controls.property_files.PropertyTarget`: a list
property (``string[]``, ``sample[]``...) to the list file, others to the value file (what reading,
writing and ``rm`` do is theirs: :mod:`bsmount.controls.property_files`). Names a file cannot
have (``/``, NUL, ``.``, ``..``) or that ``.refresh``/``.error`` take are left out, with a log
line. One kind per entity type, since the listing call needs the entity's kind.
"""

from __future__ import annotations

import logging

from bsmount.controls.base import ControlBinding, ControlFile
from bsmount.controls.property_files import PropertyTarget
from bsmount.tree.layout import DIR_CONTROL_NAMES, dir_controls
from bsmount.tree.metacache import Listing
from bsmount.tree.nodes import CachedKind, LayoutContext, Node, NodeType

__all__ = ["PropertiesKind"]

log = logging.getLogger(__name__)


def _usable(name: str) -> bool:
    return name not in ("", ".", "..", *DIR_CONTROL_NAMES) and "/" not in name and "\0" not in name


class PropertiesKind(CachedKind):
    """The ``Properties/`` directory of one type of entity (``entity_kind``: ``samples``...)."""

    def __init__(
        self,
        name: str,
        shows: str,
        *,
        entity_kind: str,
        value_file: ControlFile,
        list_file: ControlFile,
    ) -> None:
        super().__init__(name, shows)
        self.entity_kind = entity_kind
        self.value_file = value_file
        self.list_file = list_file

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        spec = node.spec
        assert spec is not None
        entity_id = spec.args[0]
        listing = Listing()
        left_out: list[str] = []
        for prop in await ctx.client.get_properties(self.entity_kind, entity_id):
            if not _usable(prop.name) or prop.name in listing.entries:
                left_out.append(prop.name)
                continue
            file = self.list_file if prop.type.endswith("[]") else self.value_file
            target = PropertyTarget(self.entity_kind, entity_id, prop.name, prop.type)
            listing.entries[prop.name] = Node(
                key=node.key + (prop.name,),
                type=NodeType.FILE,
                mtime_ns=node.mtime_ns,
                control=ControlBinding(file, node.key, target),
            )
        if left_out:
            log.info(
                "%s %s: properties with names a file cannot have left out of Properties/: %r",
                self.entity_kind,
                entity_id,
                left_out,
            )
        listing.entries.update(dir_controls(node.key))
        return listing
