"""V1/V2 ids and dataset attributes in entity directories (``bs translate``, ``bs dataset
attributes``), and ``.ResourceById/<type>/<id>`` taking either form of an id.

::

    <dataset>/.v1id              the v1 id the dataset also has (its V1pre3Id: a Sample's id for
                                 a FASTQ dataset); only where it has one
    <dataset>/.attributes.json   the dataset's Attributes (per dataset type, e.g. common_fastq),
                                 read fresh at open
    <sample>/.v2id               the id of the dataset that is also this sample; only where one is
    .ResourceById/datasets/<v1 id>       the dataset whose V1pre3Id it is (``123``, ``sample.123``)
    .ResourceById/samples/<ds.id>        the sample a dataset also is (appresults alike)

The reference has no route from a v1 id to its dataset: a sample's ``.v2id`` comes from its
project's dataset list (one request per project, cached for the metadata TTL and dropped by
``.refresh`` in ``Samples/``), and ``.ResourceById`` from the account's dataset list
(:mod:`bsmount.api.ids`).
"""

from __future__ import annotations

import json

from bsmount.api.ids import V1Ref, is_dataset_id, parse_v1_id, v1_ref_of, v1_types
from bsmount.api.models import Entity
from bsmount.api.routes import segment
from bsmount.errors import NotFound
from bsmount.tree.layout import EntityDirKind
from bsmount.tree.metacache import Listing
from bsmount.tree.nodes import LayoutContext, Node, NodeKey, link_node, static_file_node

__all__ = [
    "ATTRIBUTES_FILE",
    "V1ID_FILE",
    "V2ID_FILE",
    "DatasetDirKind",
    "V1EntityDirKind",
    "lookup_entity",
]

V1ID_FILE = ".v1id"
V2ID_FILE = ".v2id"
ATTRIBUTES_FILE = ".attributes.json"
_INDEX = "\x00v1ids"  # key suffix of a cached index: "<v1 kind>:<v1 id>" -> dataset id


def _text(value: str) -> bytes:
    return (value + "\n").encode("utf-8")


class DatasetDirKind(EntityDirKind):
    """A dataset's directory: also ``.v1id`` (where it has one) and ``.attributes.json``."""

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        listing = await super().build(ctx, node)
        assert node.spec is not None
        entity: Entity = node.spec.entity
        ref = v1_ref_of(entity.raw)
        if ref is not None:
            listing.entries[V1ID_FILE] = static_file_node(
                (*node.key, V1ID_FILE), _text(ref.id), mtime_ns=node.mtime_ns
            )
        href = entity.href or f"v2/datasets/{segment(entity.id)}"

        async def attributes() -> bytes:  # fresh at open, like .json
            document = await ctx.client.get_json(href)
            value = document.get("Attributes") if isinstance(document, dict) else None
            return (json.dumps(value or {}, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

        listing.entries[ATTRIBUTES_FILE] = static_file_node(
            (*node.key, ATTRIBUTES_FILE), loader=attributes, mtime_ns=node.mtime_ns
        )
        return listing


class V1EntityDirKind(EntityDirKind):
    """A v1 entity that a dataset may also be (a sample): ``.v2id`` where one is."""

    async def build(self, ctx: LayoutContext, node: Node) -> Listing:
        listing = await super().build(ctx, node)
        assert node.spec is not None
        entity: Entity = node.spec.entity
        project = node.key[1] if node.key[:1] == ("Projects",) and len(node.key) > 1 else None
        dataset_id = await find_dataset(ctx, node.key[:-1], V1Ref(entity.kind, entity.id), project)
        if dataset_id is not None:
            listing.entries[V2ID_FILE] = static_file_node(
                (*node.key, V2ID_FILE), _text(dataset_id), mtime_ns=node.mtime_ns
            )
        return listing


async def find_dataset(
    ctx: LayoutContext, list_key: NodeKey, ref: V1Ref, project_id: str | None
) -> str | None:
    """The id of the dataset whose ``V1pre3Id`` is ``ref`` (the project's datasets, or every
    dataset when ``project_id`` is None), from an index cached under ``list_key``."""

    async def load() -> Listing:
        datasets = await ctx.client.list_datasets(project_id=project_id)
        index = Listing()
        for dataset in datasets:
            own = v1_ref_of(dataset.raw)
            if own is not None and dataset.id:
                name = f"{own.kind}:{own.id}"
                index.entries.setdefault(name, link_node((*list_key, _INDEX, name), dataset.id))
        return index

    index = await ctx.cache.get((*list_key, _INDEX), load)
    for name in (f"{ref.kind}:{ref.id}", f":{ref.id}"):
        link = index.entries.get(name)
        if link is not None and link.target:
            return link.target
    if ref.kind == "":  # a bare number: whichever v1 type carries it
        for name, link in index.entries.items():
            if name.endswith(f":{ref.id}") and link.target:
                return link.target
    return None


async def lookup_entity(ctx: LayoutContext, list_key: NodeKey, kind: str, name: str) -> Entity:
    """The entity ``.ResourceById/<kind>/<name>`` names, ``name`` being a v2 or a v1 id."""
    if kind == "datasets" and not is_dataset_id(name):
        ref = parse_v1_id(name)
        if ref is not None:
            dataset_id = await find_dataset(ctx, list_key, ref, None)
            if dataset_id is None:
                raise NotFound(404, f"no dataset has the v1 id {name}")
            return await ctx.client.get_entity("datasets", dataset_id)
    if kind in v1_types() and is_dataset_id(name):
        dataset = await ctx.client.get_entity("datasets", name)
        own = v1_ref_of(dataset.raw)
        if own is None or own.kind not in ("", kind):
            have = f"its v1 id is {own.kind or 'an entity'} {own.id}" if own else "it has none"
            raise NotFound(404, f"dataset {name} is not also one of the {kind} ({have})")
        return await ctx.client.get_entity(kind, own.id)
    return await ctx.client.get_entity(kind, name)
