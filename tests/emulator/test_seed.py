"""The seed format: the documented example loads, ids and dates are deterministic, invalid
seeds fail with the JSON path of the culprit, large seeds load fast, and the demo seed holds
what the brief promises."""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from bsmount.emulator.blobs.content import GeneratedContent, LocalFileContent
from bsmount.emulator.config import default_data_dir
from bsmount.emulator.seeds.load import SeedError, load_seed, load_seed_data, make_bulk_seed
from tests.emulator.seeds import EXAMPLE_SEED, api_client, api_seed, entity_id


def test_example_seed_loads() -> None:
    state = load_seed(str(EXAMPLE_SEED), Path("/nonexistent"))
    model = state.model
    assert [u.name for u in model.users.values()] == ["Alice Example", "Bob Example"]
    assert len(model.tokens) == 3
    assert [p.name for p in model.projects.values()] == [
        "Exome: Trio (2021) / batch 1",
        "Bob's project",
    ]
    assert {a.status for a in model.appsessions.values()} == {"Complete", "Running"}
    assert "ds.0123456789abcdef0123456789abcdef" in model.datasets
    big = model.files[entity_id(state, "files", "bam/child.bam")]
    assert isinstance(big.content, GeneratedContent) and big.size == 10485760
    copied = model.files[entity_id(state, "files", "copy-of-the-seed.json")]
    assert isinstance(copied.content, LocalFileContent)
    assert copied.size == EXAMPLE_SEED.stat().st_size
    shared = next(d for d in model.datasets.values() if d.sample_id is not None)
    assert [f.name for f in state.files_of("datasets", shared)] == [
        "Child_S1_L001_R1_001.fastq", "Child_S1_L001_R2_001.fastq"]  # fmt: skip
    run = next(iter(model.runs.values()))
    assert run.instrument_name == "M00001" and run.flowcell_barcode == "ABCDE"
    assert len(state.files_of("runs", run)) == 5


async def test_example_seed_is_served() -> None:
    state = load_seed(str(EXAMPLE_SEED), Path("."))
    async with api_client(state, token="0123456789abcdef0123456789abcdef") as client:
        user = (await client.get("/v1pre3/users/current")).json()["Response"]
        projects = (await client.get("/v1pre3/users/current/projects")).json()["Response"]
    assert user["Name"] == "Alice Example"
    assert [p["Name"] for p in projects["Items"]] == ["Exome: Trio (2021) / batch 1"]


def test_ids_and_dates_are_deterministic() -> None:
    first = load_seed_data(api_seed(), Path("."))
    second = load_seed_data(api_seed(), Path("."))
    for kind in ("users", "projects", "samples", "appresults", "runs", "appsessions",
                 "biosamples", "datasets", "files"):  # fmt: skip
        a, b = first.model.table(kind), second.model.table(kind)
        assert list(a) == list(b), kind
        assert [e.date_created for e in a.values()] == [e.date_created for e in b.values()]
    assert all(re.fullmatch(r"ds\.[0-9a-f]{32}", d) for d in first.model.datasets)
    assert all(i.isdigit() for i in first.model.files)
    before = list(first.model.files)
    first.reset()
    assert list(first.model.files) == before


def test_content_shared_across_resets() -> None:
    state = load_seed_data(api_seed(), Path("."))
    fid = entity_id(state, "files", "a.vcf")
    content = state.model.files[fid].content
    state.reset()
    assert state.model.files[fid].content is content


def test_source_relative_to_seed_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "reads.txt").write_bytes(b"ACGT\n")
    seed = {"projects": [{"name": "P", "samples": [{"name": "S", "files": [
        {"path": "reads.txt", "source": "data/reads.txt"}]}]}]}  # fmt: skip
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    state = load_seed(str(path), tmp_path)
    name, content = state.file_content(next(iter(state.model.files))) or ("", None)
    assert name == "reads.txt" and content is not None
    assert b"".join(content.iter_range(0, content.size)) == b"ACGT\n"
    # a seed without users gets a default user (tokens come from --token)
    assert len(state.model.users) == 1 and not state.model.tokens


def run_files(seed: dict[str, Any]) -> list[dict[str, Any]]:
    return seed["runs"][0]["files"]  # type: ignore[no-any-return]


def _broken(change: Any) -> dict[str, Any]:
    seed = copy.deepcopy(api_seed())
    change(seed)
    return seed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["projects"][0].update(colour="red"),
         r"projects\[0\]: unknown key\(s\) colour"),
        (lambda s: s["projects"][0]["samples"][0]["files"][0].update(text="x"),
         r"projects\[0\]\.samples\[0\]\.files\[0\]: give exactly one of"),
        (lambda s: s["projects"][0]["samples"][0]["files"][0].pop("size"), "exactly one of"),
        (lambda s: s["projects"][0]["samples"][0].update(appsession="nope"),
         r"samples\[0\]\.appsession: no appsession with key or id 'nope'"),
        (lambda s: s["projects"][0]["samples"][0].update(appsession="s2"), "is a sample, not"),
        (lambda s: s["projects"][0]["samples"][1].update(key="s1"), "duplicate key 's1'"),
        (lambda s: s["projects"][0].update(id="12ab"), "ids must be a string of digits"),
        (lambda s: s["projects"][0]["datasets"][0].update(id="ds.XYZ"), "ds.<32 lowercase hex>"),
        (lambda s: s["projects"][1].update(owner="carol"), r"projects\[1\]\.owner: no user"),
        (lambda s: run_files(s).append({"path": "RunInfo.xml", "text": ""}), "duplicate path"),
        (lambda s: run_files(s).append({"path": "../up.txt", "text": ""}), "not a relative"),
        (lambda s: run_files(s).append({"path": "x", "source": "/no/such/file"}),
         "not a readable file"),
        (lambda s: run_files(s).append({"path": "y", "size": -1}), "non-negative"),
        (lambda s: run_files(s).append({"path": "z", "text": "", "seed": 1}),
         "only with 'size'"),
        (lambda s: s["projects"][0]["properties"].append({"name": "P", "type": "blob"}),
         "unknown property type 'blob'"),
        (lambda s: s["projects"][0]["properties"].append({"name": "Note", "content": "x"}),
         "duplicate property names"),
        (lambda s: s["projects"][0].update(date_created="yesterday"), "not an ISO-8601 date"),
        (lambda s: s["users"][1].update(tokens=[s["users"][0]["tokens"][0]]), "token used twice"),
        (lambda s: s["projects"][0]["samples"][0].update(name=7), r"\.name: expected a string"),
    ],
)  # fmt: skip
def test_invalid_seeds(change: Any, message: str) -> None:
    with pytest.raises(SeedError, match=message):
        load_seed_data(_broken(change), Path("."))


def test_invalid_seed_files(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(SeedError, match="invalid JSON"):
        load_seed(str(tmp_path / "bad.json"), tmp_path)
    with pytest.raises(SeedError, match="must be a JSON object"):
        load_seed(str(tmp_path / "list.json"), tmp_path)
    with pytest.raises(SeedError, match="cannot read seed file"):
        load_seed(str(tmp_path / "missing.json"), tmp_path)


def test_bulk_seed_loads_fast(tmp_path: Path) -> None:
    seed = make_bulk_seed(3000)
    path = tmp_path / "bulk.json"
    path.write_text(json.dumps(seed))
    started = time.perf_counter()
    state = load_seed(str(path), tmp_path)
    elapsed = time.perf_counter() - started
    assert elapsed < 3.0, elapsed
    bulk = state.model.projects[entity_id(state, "projects", "Bulk")]
    assert len(state.projects_of(state.first_user)) == 3001
    assert len(state.samples_in(bulk)) == 3000
    assert len(state.in_project("datasets", bulk)) == 3000
    result = state.model.appresults[entity_id(state, "appresults", "Many Files")]
    assert len(state.files_of("appresults", result)) == 3000


def test_demo_seed() -> None:
    from bsmount.emulator.seeds import demo

    started = time.perf_counter()
    state = load_seed("demo", default_data_dir())
    model = state.model
    assert time.perf_counter() - started < 120
    demo_user = state.user_for_token(demo.DEMO_TOKEN)
    assert demo_user is not None and demo_user.name == "Demo User"
    names = [p.name for p in state.projects_of(demo_user)]
    assert names[:3] == [demo.GENOMICS_PROJECT, demo.AWKWARD_PROJECT, demo.LARGE_PROJECT]
    genomics = model.projects[entity_id(state, "projects", demo.GENOMICS_PROJECT)]
    samples = state.samples_in(genomics)
    assert len(samples) >= 5
    assert len({s.name for s in samples}) == len(samples) - 1  # one duplicated name
    for sample in samples:
        paths = [f.path for f in state.files_of("samples", sample)]
        assert len(paths) == 2 and all(p.endswith(".fastq.gz") for p in paths)
    result = model.appresults[entity_id(state, "appresults", demo.ALIGNMENT_RESULT)]
    suffixes = sorted(f.path.rsplit(".", 1)[-1] for f in state.files_of("appresults", result))
    assert {"bam", "bai", "gz", "tbi"} <= set(suffixes)
    statuses = {a.status for a in state.appsessions_of(demo_user)}
    assert {"Running", "Complete", "Aborted"} <= statuses
    big = model.files[entity_id(state, "files", demo.BIG_FILE_PATH)]
    assert big.size == demo.BIG_FILE_SIZE >= 4 * 2**30
    assert isinstance(big.content, GeneratedContent)
    run = next(r for r in model.runs.values() if r.name == demo.RUN_NAME)
    run_paths = {f.path for f in state.files_of("runs", run)}
    assert {"RunInfo.xml", "RunParameters.xml", "SampleSheet.csv"} <= run_paths
    assert any(p.startswith("InterOp/") and p.endswith(".bin") for p in run_paths)
    assert any(p.startswith("Data/Intensities/BaseCalls/") for p in run_paths)
    awkward = [s.name for s in model.samples.values()]
    for name in ("Échantillon α", "..", "a/b (slash)", "colon:name: (with parens)"):
        assert name in awkward
    assert any(f.upload_status == "pending" for f in model.files.values())
    assert any(a.deleted for a in model.appresults.values())
    types = {p.type for e in [*model.samples.values(), *model.appsessions.values(),
                              *model.appresults.values()] for p in e.properties}  # fmt: skip
    assert {"string", "string[]", "run[]", "sample[]", "project", "run"} <= types
    assert all(d.sample_id or d.file_ids for d in model.datasets.values())
    other = state.user_for_token(demo.OTHER_TOKEN)
    assert other is not None and [p.name for p in state.projects_of(other)] == [
        "Someone Else's Project"
    ]
