"""Seeds and an in-process client for the emulator's API tests.

- :func:`api_seed`: a small seed with two users, every entity kind, every property type,
  awkward names, a trashed sample, a pending upload and a run-folder tree.
- :func:`make_app` / :func:`api_client`: the emulator app (``build_app``) around a state,
  reached in-process through ``httpx.ASGITransport`` (no sockets).
- ``bsmount.emulator.seeds.load.make_bulk_seed(n)`` builds seeds with thousands of items (paging).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from bsmount.emulator.config import EmulatorConfig
from bsmount.emulator.seeds.load import load_seed_data
from bsmount.emulator.server import build_app
from bsmount.emulator.state.account import EmulatorState

__all__ = [
    "ALICE",
    "BASE",
    "BOB",
    "EXAMPLE_SEED",
    "api_client",
    "api_seed",
    "entity_id",
    "make_app",
    "make_state",
]

ALICE = "a11ce" + "0" * 27
BOB = "b0b" + "0" * 29
BASE = "http://testserver"
EXAMPLE_SEED = Path(__file__).resolve().parents[3] / "docs" / "examples" / "seed-example.json"


def api_seed() -> dict[str, Any]:
    """Alice owns "Proj A" (samples, appresults, appsessions, biosamples/datasets) and run
    "RUN1"; Bob owns "Bob's" (one sample with a file)."""
    props = [
        {"name": "Note", "content": "hello"},
        {"name": "Tags", "type": "string[]", "items": [f"t{i}" for i in range(8)]},
        {"name": "Input.Runs", "type": "run[]", "items": ["run1"]},
        {"name": "Input.Project", "type": "project", "content": "proj-a"},
    ]
    return {
        "base_date": "2020-01-01T00:00:00Z",
        "users": [
            {"key": "alice", "name": "Alice", "email": "alice@example.com", "tokens": [ALICE]},
            {"key": "bob", "name": "Bob", "tokens": [BOB]},
        ],
        "projects": [
            {
                "key": "proj-a",
                "name": "Proj A: (test)",
                "description": "first",
                "properties": props,
                "appsessions": [
                    {"key": "as1", "name": "Session 1", "status": "Complete"},
                    {"key": "as2", "name": "Session 2", "status": "Running"},
                    {"key": "as3", "name": "Session 3", "status": "Aborted"},
                ],
                "samples": [
                    {
                        "key": "s1",
                        "name": "Échantillon α",
                        "num_reads_raw": 100,
                        "genome": "4",
                        "appsession": "as1",
                        "properties": props,
                        "files": [
                            {"path": "s1_R1.fastq.gz", "size": 1000, "seed": 1},
                            {"path": "s1_R2.fastq.gz", "size": 1000, "seed": 2},
                        ],
                    },
                    {"key": "s2", "name": "Dup", "date_created": "2020-02-01T00:00:00Z"},
                    {"key": "s3", "name": "Dup", "date_created": "2020-03-01T00:00:00Z"},
                    {"key": "s-trash", "name": "Gone", "deleted": True, "files": [
                        {"path": "gone.txt", "text": "gone\n"}]},
                ],
                "appresults": [
                    {
                        "key": "ar1",
                        "name": "Result/1",
                        "appsession": "as1",
                        "properties": [{"name": "Input.Samples", "type": "sample[]",
                                        "items": ["s1", "s2"]}],
                        "files": [
                            {"path": "a.vcf", "text": "##fileformat=VCFv4.2\n"},
                            {"path": "bam/b.bam", "size": 5000},
                            {"path": "bam/b.bam.bai", "size": 50},
                            {"path": "pending.bin", "size": 10, "upload_status": "pending"},
                        ],
                    }
                ],
                "biosamples": [
                    {
                        "key": "bs1",
                        "name": "Échantillon α",
                        "datasets": [
                            {"key": "ds1", "name": "DS one", "type": "illumina.fastq.v1.8",
                             "sample": "s1", "appsession": "as1",
                             "date_created": "2020-05-01T00:00:00Z"},
                        ],
                    },
                    {"key": "bs2", "name": "Other biosample"},
                ],
                "datasets": [
                    {"key": "ds2", "name": "DS two", "biosamples": ["bs2"], "appsession": "as2",
                     "date_created": "2020-06-01T00:00:00Z",
                     "properties": [{"name": "Input.BioSamples", "type": "biosample[]",
                                     "items": ["bs2"]}],
                     "files": [{"path": "x.txt", "text": "x\n"},
                               {"path": "y.txt", "text": "y\n", "upload_status": "pending"}]},
                ],
            },
            {"key": "proj-empty", "name": "Empty"},
            {"key": "proj-trash", "name": "Trashed project", "deleted": True,
             "samples": [{"key": "s-in-trash", "name": "In trash"}]},
            {"key": "proj-bob", "name": "Bob's", "owner": "bob",
             "samples": [{"key": "s-bob", "name": "B", "files": [
                 {"path": "b.txt", "text": "bob\n"}]}]},
        ],
        "runs": [
            {
                "key": "run1",
                "name": "200101_M00001_0001_000000000-ABCDE",
                "files": [
                    {"path": "RunInfo.xml", "text": "<RunInfo/>\n"},
                    {"path": "SampleSheet.csv", "text": "[Header]\n"},
                    {"path": "InterOp/QMetricsOut.bin", "size": 100},
                    {"path": "InterOp/TileMetricsOut.bin", "size": 100},
                    {"path": "Data/Intensities/BaseCalls/L001/s_1_1101.bcl", "size": 10},
                    {"path": "Data/Intensities/BaseCalls/L001/s_1_1102.bcl", "size": 10},
                    {"path": "Data/Intensities/BaseCalls/L002/s_2_1101.bcl", "size": 10},
                    {"path": "Data/Intensities/L001/C1.1/x.cif", "size": 10},
                ],
            },
            {"key": "run-bob", "name": "Bob run", "owner": "bob"},
        ],
    }  # fmt: skip


def make_state(seed: Mapping[str, Any] | None = None) -> EmulatorState:
    return load_seed_data(api_seed() if seed is None else seed, Path("."), description="test")


def make_app(state: EmulatorState, **config: Any) -> Any:
    config.setdefault("signing_key", b"k" * 32)
    return build_app(state, EmulatorConfig(**config))


@asynccontextmanager
async def api_client(
    state: EmulatorState | None = None, token: str | None = ALICE, **config: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the in-process app; ``token`` is sent as ``x-access-token``."""
    app = make_app(state if state is not None else make_state(), **config)
    headers = {"x-access-token": token} if token else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=headers) as client:
        yield client


def entity_id(state: EmulatorState, kind: str, name: str, index: int = 0) -> str:
    """The id of the ``index``-th entity of ``kind`` named ``name`` (files: by path)."""
    table = state.model.table(kind)
    found = [e.id for e in table.values() if getattr(e, "path", e.name) == name]
    if len(found) <= index:
        raise KeyError(f"no {kind} named {name!r}")
    return found[index]
