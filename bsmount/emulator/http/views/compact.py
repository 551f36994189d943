"""The compact form of each type of entity in v1pre3 and in v2: one table for both versions.

A compact form is how an entity appears inside another resource: as the value of a reference
property, as a file's parent, in a search hit, under a trash item's ``Deleted<Type>``.
:data:`COMPACT_FORMS` names, for each entity type, the method of
:class:`~bsmount.emulator.http.views.v1.V1Views` and of
:class:`~bsmount.emulator.http.views.v2.V2Views` that renders it (called with the entity alone);
``None`` means that version has no shape of its own for the type:

- v1pre3 renders such an entity as a stub ``{Id, Href: "v2/<kind>/<id>", Name}``;
- v2 renders it in its v1pre3 form (v1pre3-typed objects nested in v2 keep their v1 shapes, as
  the real service does).
"""

from __future__ import annotations

from dataclasses import dataclass

from bsmount.emulator.state.model import (
    AppResult,
    AppSession,
    BioSample,
    Dataset,
    Entity,
    File,
    Project,
    Run,
    Sample,
)

__all__ = ["COMPACT_FORMS", "CompactForm", "compact_form"]


@dataclass(frozen=True)
class CompactForm:
    """The view methods rendering one entity type compactly (``None``: no shape of its own)."""

    v1: str | None
    v2: str | None


COMPACT_FORMS: dict[type[Entity], CompactForm] = {
    Project: CompactForm(v1="project", v2="project"),
    Sample: CompactForm(v1="sample", v2=None),
    AppResult: CompactForm(v1="appresult", v2=None),
    Run: CompactForm(v1="run", v2=None),
    AppSession: CompactForm(v1="appsession", v2="appsession"),
    File: CompactForm(v1="file", v2="file"),
    BioSample: CompactForm(v1=None, v2="biosample"),
    Dataset: CompactForm(v1=None, v2="dataset"),
}
_NO_FORM = CompactForm(v1=None, v2=None)


def compact_form(entity: Entity) -> CompactForm:
    """How ``entity``'s type renders compactly (users, genomes: no form in either version)."""
    return COMPACT_FORMS.get(type(entity), _NO_FORM)
