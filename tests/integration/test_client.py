"""BaseSpaceClient and ContentReader against a real emulator process over loopback HTTP.

Ground truth for bytes is a plain httpx GET of the signed URL (never bsmount's client); request
counts come from the emulator's request log.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from bsmount._types import FileVersion
from bsmount.api import BaseSpaceClient, ContentReader, RetryPolicy
from bsmount.emulator.seeds.load import make_bulk_seed
from bsmount.errors import NotFound, StaleFileError, Unauthorized
from tests.emulator_proc import (
    SMALL_FILES,
    SMALL_MID_SIZE,
    EmulatorProcess,
    write_small_seed,
)

BULK = 2600
FAST_RETRIES = RetryPolicy(base=0.05, cap=0.2, deadline=30.0, rng=random.Random(0))


@pytest.fixture(scope="module")
def bulk_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    seed = make_bulk_seed(BULK)
    path = tmp_path_factory.mktemp("bulk") / "bulk.json"
    path.write_text(json.dumps(seed), encoding="utf-8")
    with EmulatorProcess(path) as proc:
        yield proc


@pytest.fixture(scope="module")
def small_seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_small_seed(tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="module")
def small_emulator(small_seed: Path) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(small_seed) as proc:
        yield proc


@pytest.fixture
def emu(small_emulator: EmulatorProcess) -> Iterator[EmulatorProcess]:
    """The small-seed emulator with a clean request log and no faults before and after."""
    small_emulator.clear_faults()
    small_emulator.clear_requests()
    yield small_emulator
    small_emulator.clear_faults()


def client_for(proc: EmulatorProcess, **kw: Any) -> BaseSpaceClient:
    kw.setdefault("retry_policy", FAST_RETRIES)
    return BaseSpaceClient(proc.url, proc.token, **kw)


def logged(
    proc: EmulatorProcess, pattern: str, expected: int | None = None
) -> list[dict[str, Any]]:
    """Logged requests whose path matches. The emulator logs a request once its response is
    sent, so the last entries may land a moment after the client got its answer: when
    ``expected`` is given, wait (briefly) for that many entries."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + 3.0
    while True:
        entries = [r for r in proc.requests() if rx.search(r["path"])]
        if expected is None or len(entries) >= expected or time.monotonic() > deadline:
            if expected is not None:
                time.sleep(0.05)  # and make sure no more than expected arrive
                entries = [r for r in proc.requests() if rx.search(r["path"])]
            return entries
        time.sleep(0.02)


def count(proc: EmulatorProcess, pattern: str, expected: int | None = None) -> int:
    return len(logged(proc, pattern, expected))


def direct_bytes(proc: EmulatorProcess, file_id: str, start: int, end: int) -> bytes:
    """Bytes [start, end) fetched with plain httpx from a freshly resolved content URL."""
    meta = proc.api(f"v1pre3/files/{file_id}/content", redirect="meta")["Response"]
    r = httpx.get(meta["HrefContent"], headers={"Range": f"bytes={start}-{end - 1}"}, timeout=60)
    assert r.status_code == 206, r.text[:200]
    return r.content


async def sleep_until(moment: datetime) -> None:
    await trio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()) + 0.05)


async def version_of(client: BaseSpaceClient, file_id: str) -> FileVersion:
    return (await client.get_file(file_id)).version()


# --- pagination ---------------------------------------------------------------------------------


async def test_full_pagination_of_large_lists(bulk_emulator: EmulatorProcess) -> None:
    bulk_emulator.clear_requests()
    async with client_for(bulk_emulator) as client:
        projects = await client.list_projects()
        assert len(projects) == BULK + 1 and len({p.id for p in projects}) == BULK + 1
        assert [p.name for p in projects[:BULK]] == [f"Project {i:05d}" for i in range(1, BULK + 1)]
        pages = logged(bulk_emulator, r"^/v1pre3/users/current/projects$", 3)
        assert len(pages) == 3  # 1024 + 1024 + 553, the last two fetched concurrently
        bulk = next(p for p in projects if p.name == "Bulk")

        samples = await client.list_samples(bulk.id)
        assert [s.name for s in samples] == [f"Sample {i:05d}" for i in range(1, BULK + 1)]
        (appresult,) = await client.list_appresults(bulk.id)
        files = await client.list_appresult_files(appresult.id)
        assert sorted(f.path for f in files) == [f"f{i:05d}.txt" for i in range(1, BULK + 1)]
        assert all(f.size > 0 and f.etag for f in files)
        biosamples = await client.list_biosamples(bulk.id)
        assert len({b.name for b in biosamples}) == BULK
        datasets = await client.list_datasets(project_id=bulk.id)
        assert len({d.id for d in datasets}) == BULK and all(
            d.id.startswith("ds.") for d in datasets
        )
        one = await client.list_datasets(biosample_id=biosamples[0].id)
        assert len(one) == 1 and (await client.list_dataset_files(one[0].id)) == []

        (run,) = await client.list_runs()
        top = await client.list_run_directory(run.id, "/")
        assert top.files == [] and top.subdirectories == ["Data"]
        data = await client.list_run_directory(run.id, "Data")
        assert data.subdirectories == [f"D{i:04d}" for i in range(BULK // 100 + 1)]
        d1 = await client.list_run_directory(run.id, "/Data/D0001/")
        assert [f.name for f in d1.files] == [f"r{i:05d}.bin" for i in range(100, 200)]
    # files are paged by 1000
    assert count(bulk_emulator, rf"/appresults/{appresult.id}/files$", 3) == 3


# --- metadata errors: no retry on 404/401 -------------------------------------------------------


async def test_not_found_and_unauthorized_are_not_retried(emu: EmulatorProcess) -> None:
    async with client_for(emu) as client:
        with pytest.raises(NotFound):
            await client.get_project("99999999")
    assert count(emu, r"^/v1pre3/projects/99999999$", 1) == 1
    async with BaseSpaceClient(emu.url, "f" * 32, retry_policy=FAST_RETRIES) as bad:
        with pytest.raises(Unauthorized) as info:
            await bad.current_user()
    assert "f" * 32 not in str(info.value)
    assert count(emu, r"^/v1pre3/users/current$", 1) == 1


async def test_api_faults_are_retried(emu: EmulatorProcess) -> None:
    emu.add_fault(method="GET", path=r"^/v1pre3/users/current$", count=2, action={"status": 503})
    async with client_for(emu) as client:
        user = await client.current_user()
        assert user.name == "Transport Tester"
        assert count(emu, r"^/v1pre3/users/current$", 3) == 3 and client.counters.retries == 2

        emu.clear_requests()
        emu.add_fault(
            path=r"^/v1pre3/users/current/projects$",
            count=1,
            action={"status": 429, "headers": {"Retry-After": "1"}},
        )
        start = trio.current_time()
        (project,) = await client.list_projects()
        assert trio.current_time() - start >= 1.0  # Retry-After honoured
        assert count(emu, r"^/v1pre3/users/current/projects$", 2) == 2

        for action in ("reset", "truncate"):
            emu.clear_requests()
            emu.add_fault(
                path=rf"^/v1pre3/projects/{project.id}/appresults$", count=1, action=action
            )
            (appresult,) = await client.list_appresults(project.id)
            assert appresult.name == "Blobs"
            assert count(emu, rf"^/v1pre3/projects/{project.id}/appresults$", 2) == 2, action


# --- content ------------------------------------------------------------------------------------


async def test_content_url_resolved_once_for_50_reads(emu: EmulatorProcess) -> None:
    file_id = SMALL_FILES["mid"][0]
    expected = direct_bytes(emu, file_id, 0, SMALL_MID_SIZE)
    emu.clear_requests()
    rng = random.Random(11)
    async with client_for(emu) as client:
        version = await version_of(client, file_id)
        assert version.size == SMALL_MID_SIZE
        reader = ContentReader(client)
        for _ in range(50):
            start = rng.randrange(SMALL_MID_SIZE)
            end = start + rng.randrange(1, 300_000)
            assert await reader.read_range(version, start, end) == expected[start:end]
    assert count(emu, rf"^/v1pre3/files/{file_id}/content$", 1) == 1
    blobs = logged(emu, r"^/s3/", 50)
    assert len(blobs) == 50 and all(r["status"] == 206 and r["range"] for r in blobs)


async def test_url_refreshed_after_expiry(small_seed: Path, emulator_factory: Any) -> None:
    proc: EmulatorProcess = emulator_factory(seed=small_seed, url_ttl=1)
    file_id = SMALL_FILES["hello"][0]
    async with client_for(proc) as client:
        version = await version_of(client, file_id)
        reader = ContentReader(client, url_margin=0.25)
        assert await reader.read_range(version, 0, 5) == b"hello"
        assert await reader.read_range(version, 6, 11) == b"world"
        assert count(proc, rf"^/v1pre3/files/{file_id}/content$", 1) == 1
        cached = await reader.content_url(file_id)  # from the cache: no request
        await sleep_until(cached.expires)
        assert await reader.read_range(version, 0, 5) == b"hello"
        assert count(proc, rf"^/v1pre3/files/{file_id}/content$", 2) == 2
        # a reader whose clock stands still keeps the URL past its expiry: the blob store says
        # 403, the URL is refreshed once and the read succeeds
        frozen = datetime.now(UTC)
        stubborn = ContentReader(client, url_margin=0.0, clock=lambda: frozen)
        url = await stubborn.content_url(file_id)
        s3_expiry = int(httpx.URL(url.url).params["Expires"])  # the blob store's own deadline
        await sleep_until(datetime.fromtimestamp(s3_expiry + 1, UTC))
        assert await stubborn.read_range(version, 0, 11) == b"hello world"
        assert count(proc, rf"^/v1pre3/files/{file_id}/content$", 4) == 4
    blob_statuses = [r["status"] for r in logged(proc, r"^/s3/", 4)]
    assert blob_statuses[-2:] == [403, 206]


async def test_expire_fault_refreshes_once(emu: EmulatorProcess) -> None:
    file_id = SMALL_FILES["local"][0]
    expected = direct_bytes(emu, file_id, 1000, 2_000_000)
    async with client_for(emu) as client:
        version = await version_of(client, file_id)
        reader = ContentReader(client)
        await reader.content_url(file_id)
        emu.clear_requests()
        emu.add_fault(path=r"^/s3/", count=1, action="expire")
        assert await reader.read_range(version, 1000, 2_000_000) == expected
    assert count(emu, rf"^/v1pre3/files/{file_id}/content$", 1) == 1
    assert [r["status"] for r in logged(emu, r"^/s3/", 2)] == [403, 206]


@pytest.mark.parametrize(
    "action",
    [
        "reset",
        "truncate",
        "ignore_range",
        "wrong_range",
        {"status": 503},
        {"status": 429, "headers": {"Retry-After": "0"}},
    ],
)
async def test_blob_faults_are_retried_and_bytes_exact(emu: EmulatorProcess, action: Any) -> None:
    file_id = SMALL_FILES["mid"][0]
    start, end = 12_345, 3_000_000
    expected = direct_bytes(emu, file_id, start, end)
    async with client_for(emu) as client:
        version = await version_of(client, file_id)
        reader = ContentReader(client)
        await reader.content_url(file_id)
        emu.clear_requests()
        emu.add_fault(path=r"^/s3/", count=2, action=action)
        assert await reader.read_range(version, start, end) == expected
        assert client.counters.retries == 2
    blobs = logged(emu, r"^/s3/", 3)
    assert len(blobs) == 3
    if action in ("reset", "truncate"):  # resumed after the bytes that did arrive
        first = int(re.match(r"bytes=(\d+)-", blobs[1]["range"]).group(1))  # type: ignore[union-attr]
        assert start < first < end


@pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.api\.content: read of file .* file changed: ETag"
)
async def test_etag_change_is_stale(emu: EmulatorProcess) -> None:
    file_id = SMALL_FILES["mid"][0]
    async with client_for(emu) as client:
        version = await version_of(client, file_id)
        emu.add_fault(path=r"^/s3/", count=1, action="etag_change")
        with pytest.raises(StaleFileError):
            await ContentReader(client).read_range(version, 0, 1000)


async def test_large_generated_file_byte_exact(emulator: EmulatorProcess) -> None:
    """Random ranges of the demo's >= 4 GiB generated file, compared with plain httpx reads."""
    async with client_for(emulator) as client:
        projects = await client.list_projects()
        large = next(p for p in projects if p.name == "Large Data")
        stream = next(a for a in await client.list_appresults(large.id) if a.name == "Big Stream")
        (info,) = [
            f for f in await client.list_appresult_files(stream.id) if f.path == "big/huge.bin"
        ]
        version = info.version()
        size = version.size
        assert size >= 4 * 2**30 and version.etag and version.md5 is None  # multipart ETag
        rng = random.Random(2024)
        ranges = [(0, 1 << 20), (size - 777, size + 10), ((1 << 32) - 5, (1 << 32) + 5)]
        ranges += [
            (a, a + rng.randrange(1, 4 << 20)) for a in (rng.randrange(size) for _ in range(12))
        ]
        reader = ContentReader(client)
        for start, end in ranges:
            end = min(end, size)
            got = await reader.read_range(version, start, end)
            assert got == direct_bytes(emulator, info.id, start, end), (start, end)
        begin = 5 * 2**20 + 3
        streamed = b"".join(
            [p async for p in reader.stream_range(version, begin, begin + 20_000_000)]
        )
        assert streamed == direct_bytes(emulator, info.id, begin, begin + 20_000_000)


# --- the documented example seed: shapes, properties, awkward data, writes -----------------------

EXAMPLE_SEED = Path(__file__).resolve().parents[2] / "docs" / "examples" / "seed-example.json"
ALICE = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def example_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    seed = json.loads(EXAMPLE_SEED.read_text(encoding="utf-8"))
    tags = [f"tag{i}" for i in range(12)]  # more than the 5 the API inlines
    seed["projects"][0]["properties"].append(
        {"name": "Many.Tags", "type": "string[]", "items": tags}
    )
    directory = tmp_path_factory.mktemp("example")
    (directory / "seed-example.json").write_bytes(EXAMPLE_SEED.read_bytes())  # a file's source
    path = directory / "seed.json"
    path.write_text(json.dumps(seed), encoding="utf-8")
    with EmulatorProcess(path) as proc:
        yield proc


async def test_example_seed_entities_and_properties(example_emulator: EmulatorProcess) -> None:
    async with BaseSpaceClient(example_emulator.url, ALICE, retry_policy=FAST_RETRIES) as client:
        me = await client.current_user()
        assert (me.name, me.email) == ("Alice Example", "alice@example.com")
        projects = await client.list_projects()
        exome = next(p for p in projects if p.name == "Exome: Trio (2021) / batch 1")
        assert exome.description == "A project with every kind of child"
        assert (await client.get_entity("projects", exome.id)) == exome

        props = {p.name: p for p in await client.get_properties("projects", exome.id)}
        assert props["Lab.Contact"].value == "alice@example.com"
        assert props["Lab.Tags"].value == ["trio", "exome"]
        assert props["Many.Tags"].value == [f"tag{i}" for i in range(12)]  # beyond the inlined 5

        samples = await client.list_samples(exome.id)
        names = [s.name for s in samples]
        assert names.count("Mother") == 2 and "Withdrawn" not in names
        child = next(s for s in samples if s.name == "Child (proband)")
        (run,) = await client.list_runs()
        (runs_prop,) = await client.get_properties("samples", child.id)
        assert runs_prop.type == "run[]" and [r["id"] for r in runs_prop.value] == [run.id]
        assert runs_prop.value[0]["type"] == "run"

        (calls,) = await client.list_appresults(exome.id)
        (inputs,) = await client.get_properties("appresults", calls.id)
        mothers = [s.id for s in samples if s.name == "Mother"]
        assert {r["id"] for r in inputs.value} == {child.id, mothers[0]} or {
            r["id"] for r in inputs.value
        } == {child.id, mothers[1]}
        assert calls.appsession_id is not None
        session = await client.get_appsession(calls.appsession_id)
        assert session.status == "Running"
        sessions = await client.list_appsessions(exome.id)
        assert {s.status for s in sessions} == {"Running", "Complete"}

        files = {f.path: f for f in await client.list_appresult_files(calls.id)}
        assert (
            files["bam/child.bam"].name == "child.bam" and files["bam/child.bam"].size == 10485760
        )
        assert not files["uploading.bin"].is_complete
        single = await client.get_file(files["child.vcf"].id)
        assert single.version().md5 is not None and single.is_complete

        biosamples = await client.list_biosamples(exome.id)
        assert [b.name for b in biosamples] == ["Child (proband)"]
        datasets = await client.list_datasets(biosample_id=biosamples[0].id)
        by_type = {d.dataset_type: d for d in datasets}  # FASTQs + the joint calls using it
        assert sorted(by_type) == ["common.files", "illumina.fastq.v1.8"]
        assert by_type["common.files"].id == "ds.0123456789abcdef0123456789abcdef"
        dataset_files = await client.list_dataset_files(by_type["illumina.fastq.v1.8"].id)
        assert {f.id for f in dataset_files} == {
            f.id for f in await client.list_sample_files(child.id)
        }
        assert isinstance(await client.get_properties("datasets", datasets[0].id), list)

        run_props = await client.get_properties("runs", run.id)
        assert run_props[0].value == "SampleSheet.csv"
        tree = await client.list_run_directory(run.id)
        assert {f.name for f in tree.files} == {"RunInfo.xml", "SampleSheet.csv"}
        assert tree.subdirectories == ["Data", "InterOp"]
        lanes = await client.list_run_directory(run.id, "Data/Intensities/BaseCalls/L001")
        assert lanes.subdirectories == ["C1.1", "C2.1"] and lanes.files == []

        genomes = await client.list_genomes()
        assert any(g.build == "hg19" and g.name == "Homo sapiens - UCSC (hg19)" for g in genomes)

        created = await client.create_project("New: project (α)", "made by the client test")
        assert created.name == "New: project (α)"
        assert created.id in {p.id for p in await client.list_projects()}
    example_emulator.reset()
