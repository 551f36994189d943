"""The lab tables of the emulator's account: prep requests, libraries and lab requeues of
biosamples (v2 ``PrepRequests``, ``libraries``, ``labrequeues``).

They hang off :class:`bsmount.emulator.state.tables.Model` as ``model.lab`` (so a reset rebuilds
them from the seed). Ids are numeric, from ranges of their own; every row names its biosample,
whose default project's owner owns it. The rules are :mod:`bsmount.emulator.state.lab`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "LAB_ID_BASES",
    "REQUEUE_TYPES",
    "LabRequeue",
    "LabTables",
    "Library",
    "PrepRequest",
]

#: First id of each lab table (ranges apart from the entity tables').
LAB_ID_BASES = {"preprequests": 91_000_001, "libraries": 92_000_001, "labrequeues": 93_000_001}

#: The lab requeue ``Type`` values: a new library from the biosample (through its prep request),
#: more yield from an existing library, more yield from a pool (the v2 reference's ``type``
#: parameter names these three).
REQUEUE_TYPES = ("NewBioSampleLibrary", "AdditionalYieldOfLibrary", "AdditionalYieldOfLibraryPool")


@dataclass(eq=False)
class PrepRequest:
    """How a biosample is to be prepared: a library prep kit and the yield required."""

    id: str
    biosample_id: str
    library_prep: str  # the kit's name ("Unknown" when none was given)
    required_yield_gb: float
    date_created: datetime
    date_modified: datetime
    status: str = "Active"
    lims_id: str = ""


@dataclass(eq=False)
class Library:
    """A library prepared from a biosample."""

    id: str
    biosample_id: str
    name: str
    library_prep: str
    date_created: datetime
    date_modified: datetime
    status: str = "Active"
    index1: str = ""  # index sequences
    index2: str = ""
    container_name: str = ""
    container_position: str = ""
    insert_size: str = ""
    biomolecule: str = "DNA"
    yield_bps: int = 0


@dataclass(eq=False)
class LabRequeue:
    """A request to the lab for more data from a biosample."""

    id: str
    biosample_id: str
    type: str  # one of REQUEUE_TYPES
    requested_additional_yield: int
    date_created: datetime
    date_modified: datetime
    status: str = "Requested"
    lims_id: str = ""
    prep_request_id: str | None = None
    library_id: str | None = None
    matched_yield: int = 0


@dataclass
class LabTables:
    """Every lab table, keyed by id, in creation order."""

    prep_requests: dict[str, PrepRequest] = field(default_factory=dict)
    libraries: dict[str, Library] = field(default_factory=dict)
    requeues: dict[str, LabRequeue] = field(default_factory=dict)
    next_ids: dict[str, int] = field(default_factory=lambda: dict(LAB_ID_BASES))

    def new_id(self, table: str) -> str:
        number = self.next_ids[table]
        self.next_ids[table] = number + 1
        return str(number)
