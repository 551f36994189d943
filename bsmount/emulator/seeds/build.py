"""The mechanics of building a model from a seed document (see :mod:`.entities`).

:class:`SeedBuilder` validates as it builds: every object's keys are checked against the format,
every reference (owners, appsessions, biosamples, genomes, property references) is resolved after
all entities exist, and errors name the JSON path (``projects[2].samples[0].files[1]``).
Ids not given by the seed come from per-kind counters and ``ds.`` + md5 for datasets; dates not
given come from a clock that starts at ``base_date`` and advances one minute per entity. Both
depend only on the document, so rebuilding gives the same model.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from bsmount.emulator.blobs.content import (
    ContentSource,
    GeneratedContent,
    LiteralContent,
    LocalFileContent,
)
from bsmount.emulator.seeds.schema import (
    DEFAULT_BASE_DATE,
    UPLOAD_STATUSES,
    SeedError,
    SeedReader,
    content_type_for,
)
from bsmount.emulator.state.model import (
    REF_TYPES,
    Entity,
    File,
    Property,
    parse_date,
    valid_id,
)
from bsmount.emulator.state.tables import Model

__all__ = ["BuilderCore"]


class BuilderCore(SeedReader):
    """Ids, dates, keys, deferred references, properties and files of one seed build;
    ``contents`` caches content sources across builds."""

    def __init__(
        self, document: Mapping[str, Any], base_dir: Path, contents: dict[int, ContentSource]
    ) -> None:
        self.doc = document
        self.base_dir = base_dir
        self.contents = contents
        self.model = Model()
        self.keys: dict[str, tuple[str, str]] = {}
        self.deferred: list[Callable[[], None]] = []
        self.clock = parse_date(DEFAULT_BASE_DATE)
        self.dataset_counter = 0

    def tick(self) -> datetime:
        self.clock += timedelta(minutes=1)
        return self.clock

    def entity_id(self, kind: str, spec: Mapping[str, Any], where: str) -> str:
        given = spec.get("id")
        table = self.model.table(kind)
        if given is None:
            if kind == "datasets":
                while True:
                    self.dataset_counter += 1
                    seed = f"bsmount-emulator-dataset:{self.dataset_counter}"
                    new_id = "ds." + hashlib.md5(seed.encode()).hexdigest()
                    if new_id not in table:
                        return new_id
            return self.model.new_numeric_id(kind)
        if not isinstance(given, str) or not valid_id(kind, given):
            form = "ds.<32 lowercase hex>" if kind == "datasets" else "a string of digits"
            raise SeedError(f"{where}.id: {kind} ids must be {form}")
        if given in table:
            raise SeedError(f"{where}.id: duplicate {kind} id {given}")
        return given

    def common(self, kind: str, spec: Mapping[str, Any], where: str) -> dict[str, Any]:
        """id, name, dates, deleted flag of an entity; registers its key."""
        entity_id = self.entity_id(kind, spec, where)
        created = self.date(spec, "date_created", where) or self.tick()
        modified = self.date(spec, "date_modified", where) or created
        key = spec.get("key")
        if key is not None:
            if not isinstance(key, str) or not key:
                raise SeedError(f"{where}.key: expected a non-empty string")
            if key in self.keys:
                raise SeedError(f"{where}.key: duplicate key {key!r}")
            self.keys[key] = (kind, entity_id)
        return {
            "id": entity_id,
            "name": self.text(spec, "name", where),
            "date_created": created,
            "date_modified": modified,
            "deleted": self.flag(spec, "deleted", where),
        }

    def resolve(self, kind: str, ref: Any, where: str) -> str:
        """The id of the ``kind`` entity named by ``ref`` (a seed key or an id)."""
        if not isinstance(ref, str):
            raise SeedError(f"{where}: expected a key or id string")
        found = self.keys.get(ref)
        if found is not None:
            if found[0] != kind:
                raise SeedError(f"{where}: {ref!r} is a {found[0][:-1]}, not a {kind[:-1]}")
            return found[1]
        if ref in self.model.table(kind):
            return ref
        raise SeedError(f"{where}: no {kind[:-1]} with key or id {ref!r}")

    def later(self, action: Callable[[], None]) -> None:
        self.deferred.append(action)

    def properties(self, entity: Entity, spec: Mapping[str, Any], where: str) -> None:
        for i, raw in enumerate(self.list_of(spec.get("properties"), f"{where}.properties")):
            entity.properties.append(self.prop(raw, f"{where}.properties[{i}]", entity))
        names = [p.name for p in entity.properties]
        if len(set(names)) != len(names):
            raise SeedError(f"{where}.properties: duplicate property names")

    def prop(self, raw: Any, where: str, owner: Entity) -> Property:
        spec = self.obj(raw, "property", where)
        ptype = self.text(spec, "type", where, "string")
        prop = Property(
            name=self.text(spec, "name", where),
            type=ptype,
            description=self.text(spec, "description", where, ""),
            date_created=owner.date_created,
        )
        ref_kind = REF_TYPES.get(ptype.removesuffix("[]"))
        if ptype == "string":
            prop.content = self.text(spec, "content", where)
        elif ptype == "string[]":
            items = self.list_of(spec.get("items"), f"{where}.items")
            if not all(isinstance(item, str) for item in items):
                raise SeedError(f"{where}.items: expected strings")
            prop.items = list(items)
        elif ref_kind is not None and ptype.endswith("[]"):
            refs = self.list_of(spec.get("items"), f"{where}.items")
            self.later(
                lambda: prop.refs.extend(
                    (ref_kind, self.resolve(ref_kind, r, f"{where}.items[{k}]"))
                    for k, r in enumerate(refs)
                )
            )
        elif ref_kind is not None:
            ref = spec.get("content")
            self.later(lambda: prop.refs.append((ref_kind, self.resolve(ref_kind, ref, where))))
        else:
            known = ", ".join(["string", "string[]", *(f"{t}, {t}[]" for t in REF_TYPES)])
            raise SeedError(f"{where}.type: unknown property type {ptype!r} (known: {known})")
        return prop

    def link(
        self, entity: Any, attribute: str, kind: str, spec: Mapping[str, Any], key: str, where: str
    ) -> None:
        """Set ``entity.attribute`` to the id ``spec[key]`` refers to, once everything exists."""
        if spec.get(key) is not None:
            ref = spec[key]
            self.later(
                lambda: setattr(entity, attribute, self.resolve(kind, ref, f"{where}.{key}"))
            )

    # ------------------------------------------------------------------ files
    def files(self, container: Any, kind: str, spec: Mapping[str, Any], where: str) -> None:
        seen: set[str] = set()
        for i, raw in enumerate(self.list_of(spec.get("files"), f"{where}.files")):
            item = self.file(raw, f"{where}.files[{i}]", container, kind)
            if item.path in seen:
                raise SeedError(f"{where}.files[{i}].path: duplicate path {item.path!r}")
            seen.add(item.path)
            container.file_ids.append(item.id)

    def file(self, raw: Any, where: str, container: Entity, kind: str) -> File:
        spec = self.obj(raw, "file", where)
        path = self.text(spec, "path", where).strip("/")
        parts = path.split("/")
        if not path or any(p in ("", ".", "..") for p in parts) or "\0" in path:
            raise SeedError(f"{where}.path: {path!r} is not a relative file path")
        upload_status = self.text(spec, "upload_status", where, "complete")
        if upload_status not in UPLOAD_STATUSES:
            raise SeedError(f"{where}.upload_status: one of {', '.join(UPLOAD_STATUSES)}")
        entity_id = self.entity_id("files", spec, where)
        created = self.date(spec, "date_created", where) or container.date_created
        item = File(
            id=entity_id,
            name=parts[-1],
            date_created=created,
            date_modified=self.date(spec, "date_modified", where) or created,
            deleted=self.flag(spec, "deleted", where),
            parent_kind=kind,
            parent_id=container.id,
            path=path,
            content=self.content(spec, where, f"{kind}/{container.id}/{path}"),
            content_type=self.text(spec, "content_type", where, content_type_for(path)),
            upload_status=upload_status,
            is_archived=self.flag(spec, "archived", where),
        )
        self.model.files[item.id] = item
        return item

    def content(self, spec: Mapping[str, Any], where: str, label: str) -> ContentSource:
        cached = self.contents.get(id(spec))
        if cached is not None:
            return cached
        given = [k for k in ("text", "source", "size") if k in spec]
        if len(given) != 1:
            raise SeedError(f"{where}: give exactly one of 'text', 'source' or 'size'")
        if "seed" in spec and given != ["size"]:
            raise SeedError(f"{where}.seed: only with 'size'")
        content: ContentSource
        if given == ["text"]:
            content = LiteralContent(self.text(spec, "text", where).encode("utf-8"))
        elif given == ["source"]:
            path = Path(self.text(spec, "source", where)).expanduser()
            if not path.is_absolute():
                path = self.base_dir / path
            if not path.is_file():
                raise SeedError(f"{where}.source: {path} is not a readable file")
            content = cast("ContentSource", LocalFileContent(path))
        else:
            size = spec["size"]
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise SeedError(f"{where}.size: expected a non-negative integer")
            default_seed = zlib.crc32(label.encode("utf-8"))
            content = GeneratedContent(size, self.integer(spec, "seed", where, default_seed))
        self.contents[id(spec)] = content
        return content
