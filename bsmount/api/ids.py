"""V1 and V2 ids of the same data (``bs translate``).

A v2 dataset (``ds.`` + 32 hex digits) that is also a v1 entity says so in its ``V1pre3Id``:
``"sample.411096884"`` for a FASTQ dataset, which is also a v1pre3 Sample ([C: FSB],
docs/upload-launch.md §2.2); ``bs translate dataset -i ds.123`` prints that v1 id. Other entities
(projects, runs, biosamples, appsessions...) have one numeric id that both versions use. The
reference has no route from a v1 id to its dataset, so that direction lists datasets (a project's
when known, else every dataset of the account) and matches their ``V1pre3Id``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["V1Ref", "is_dataset_id", "parse_v1_id", "v1_ref_of", "v1_types"]

_DATASET_ID = re.compile(r"^ds\.[0-9a-z]+$")
_V1_ID = re.compile(r"^(?:([a-z]+)\.)?([0-9]+)$")
#: The singular type word of a ``V1pre3Id`` → the plural kind the tree uses.
_V1_KINDS = {"sample": "samples", "appresult": "appresults"}


@dataclass(frozen=True)
class V1Ref:
    """A v1 id: its kind (``samples``, ``appresults``; "" when the id does not say) and number."""

    kind: str
    id: str

    def matches(self, kind: str, entity_id: str) -> bool:
        return self.id == entity_id and self.kind in ("", kind)


def is_dataset_id(value: str) -> bool:
    """Whether ``value`` has the form of a v2 dataset id (``ds.<hex>``)."""
    return bool(_DATASET_ID.match(value))


def parse_v1_id(value: str) -> V1Ref | None:
    """``sample.411096884``, ``appresult.5`` or a bare number as a :class:`V1Ref` (None if it is
    none of these, or names a type that is not a v1 entity)."""
    match = _V1_ID.match(value.strip())
    if match is None:
        return None
    word, number = match.groups()
    if word is None:
        return V1Ref("", number)
    kind = _V1_KINDS.get(word)
    return V1Ref(kind, number) if kind is not None else None


def v1_ref_of(raw: Mapping[str, Any]) -> V1Ref | None:
    """The v1 id a dataset's JSON carries (``V1pre3Id``), if any."""
    value = raw.get("V1pre3Id") or raw.get("V1Pre3Id")
    return parse_v1_id(value) if isinstance(value, str) else None


def v1_types() -> Sequence[str]:
    """The kinds a dataset can also be in v1."""
    return tuple(_V1_KINDS.values())
