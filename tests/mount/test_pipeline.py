"""The Snakemake example (docs/examples/pipeline, docs/pipelines.md) through a real mount.

The workflow reads the demo's BAM and VCF through the mount, runs samtools and bcftools over them
into its local working directory, and its last rule copies the results into a new AppResult
through the write path and marks it complete. The test checks the AppResult is Complete, that
each result is in BaseSpace with the bytes the workflow made (and the mount shows), and that those
are what the tools give on local copies of the inputs fetched straight from the emulator's API;
then that a publish interrupted half-way continues into the same AppResult, and refuses to go on
when a file there differs.

As in test_writes.py, the emulator takes 64 KiB parts and the mount sends 1 MiB parts, so the
region's BAM (about 4 MiB) goes up as a multipart upload.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulator_proc import EmulatorProcess
from tests.mount.apiwalk import complete, direct_bytes, direct_md5, items
from tests.mount.mounting import SMALL_PARTS, Mount, demo_with_mount

ROOT = Path(__file__).resolve().parents[2]
SNAKEFILE = ROOT / "docs" / "examples" / "pipeline" / "Snakefile"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
PROJECT = "20000001"
MiB = 1 << 20
SOURCE = "Alignment & Variants (DRAGEN)"  # the demo AppResult the config's inputs are in
BAM = "Myeloid-DNA-Rep1.bam"
VCF = "Myeloid-DNA.genotyped.vcf.gz"
REGION = "chr1:1-700000"  # about 30,000 reads: a region BAM of several 1 MiB parts
TAG = "chr1_1_700000"
APPRESULT = "Pipeline QC (test)"
RESULTS = {
    "flagstat": "Myeloid-DNA-Rep1.flagstat.txt",
    "idxstats": "Myeloid-DNA-Rep1.idxstats.tsv",
    "region_bam": f"Myeloid-DNA-Rep1.{TAG}.bam",
    "region_bai": f"Myeloid-DNA-Rep1.{TAG}.bam.bai",
    "bcfstats": "Myeloid-DNA.genotyped.stats.txt",
    "region_vcf": f"Myeloid-DNA.genotyped.{TAG}.vcf.gz",
    "region_tbi": f"Myeloid-DNA.genotyped.{TAG}.vcf.gz.tbi",
}

pytestmark = [
    pytest.mark.tools,
    pytest.mark.expect_log_warnings(
        r"WARNING bsmount\.tree\.oddities: odd entries from the server in .*name\(s\) changed",
    ),
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, Mount]]:
    for tool in ("samtools", "bcftools"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if not SNAKEMAKE.exists():
        pytest.skip(f"snakemake is not installed in {SNAKEMAKE.parent} (the test extra has it)")
    base = tmp_path_factory.mktemp("pipeline")
    with demo_with_mount(
        base, *SMALL_PARTS, "--cache-dir", str(base / "cache"), min_part_size=64 * 1024
    ) as both:
        yield both


def _snakemake(
    m: Mount, workdir: Path, appresult: str = APPRESULT, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(SNAKEMAKE),
            "--cores",
            "2",
            "-s",
            str(SNAKEFILE),
            "--directory",
            str(workdir),
            "--config",
            f"mount={m.path}",
            f"appresult={appresult}",
            f"region={REGION}",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )


def _run(*command: str | Path) -> str:
    return subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, check=True
    ).stdout


def _id(entity: Path) -> str:
    return (entity / ".id").read_text().strip()


def _server_files(emu: EmulatorProcess, appresult: Path) -> dict[str, dict[str, Any]]:
    files = complete(items(emu, f"v1pre3/appresults/{_id(appresult)}/files"))
    return {f["Path"]: f for f in files}


def _no_comments(text: str) -> list[str]:
    """bcftools stats without its lines naming the command line and input path."""
    return [line for line in text.splitlines() if not line.startswith(("#", "ID\t"))]


def _header_without_pg(bam: Path) -> list[str]:
    return [line for line in _run("samtools", "view", "-H", bam).splitlines() if "@PG" not in line]


def test_snakemake_workflow_reads_and_writes_through_the_mount(
    setup: tuple[EmulatorProcess, Mount], tmp_path: Path
) -> None:
    emu, m = setup
    project = m.path / "Projects" / os.readlink(m.path / "Projects" / f".id.{PROJECT}")
    source = project / "AppResults" / SOURCE
    appresult = project / "AppResults" / APPRESULT
    files = appresult / "Files"
    workdir = tmp_path / "work"
    assert not appresult.exists()

    started = time.monotonic()
    run = _snakemake(m, workdir)
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr[-6000:]
    assert "9 of 9 steps (100%) done" in run.stderr
    assert elapsed < 60, elapsed

    # the AppResult was created and completed by the last rule, which wrote its local marker
    assert (appresult / ".status").read_text().strip() == "Complete"
    published = (workdir / "results" / "published.txt").read_text().split()
    assert published == [_id(appresult), "Complete"]
    assert json.loads((m.path / ".bsmount" / "uploads").read_text())["in_flight"] == []
    assert sorted(p.name for p in files.iterdir() if not p.name.startswith(".")) == sorted(
        RESULTS.values()
    )

    # every result is in BaseSpace, complete, with the bytes the workflow made (and nothing else)
    server = _server_files(emu, appresult)
    assert set(server) == set(RESULTS.values())
    for name, entry in server.items():
        made = (workdir / "results" / name).read_bytes()
        assert entry["Size"] == len(made) > 0, name
        assert direct_md5(emu, entry["Id"]) == hashlib.md5(made).hexdigest(), name
        assert (files / name).read_bytes() == made, name  # and the mount shows them
    region_bam = server[RESULTS["region_bam"]]
    parts = -(-region_bam["Size"] // MiB)
    assert parts > 1 and region_bam["ETag"].endswith(f"-{parts}")  # sent in 1 MiB parts

    # the results are what the tools give on the inputs fetched straight from the API
    local = tmp_path / "local"
    local.mkdir()
    inputs = _server_files(emu, source)
    for name in (BAM, f"{BAM}.bai", VCF, f"{VCF}.tbi"):
        (local / name).write_bytes(direct_bytes(emu, inputs[name]["Id"]))
    got = {key: files / name for key, name in RESULTS.items()}

    flagstat = got["flagstat"].read_text()
    assert flagstat == _run("samtools", "flagstat", local / BAM)
    assert "180800 + 0 in total" in flagstat and "mapped (" in flagstat
    assert got["idxstats"].read_text() == _run("samtools", "idxstats", local / BAM)
    assert _no_comments(got["bcfstats"].read_text()) == _no_comments(
        _run("bcftools", "stats", local / VCF)
    )
    assert "number of records:\t3145" in got["bcfstats"].read_text()

    # the region's BAM opens with samtools, through the mount, with the index written there too
    _run("samtools", "quickcheck", got["region_bam"])
    reads = _run("samtools", "view", local / BAM, REGION)
    assert reads.count("\n") > 20_000
    assert _run("samtools", "view", got["region_bam"]) == reads
    assert _header_without_pg(got["region_bam"]) == _header_without_pg(local / BAM)
    assert _run("samtools", "view", "-c", got["region_bam"], "chr1:600000-610000") == _run(
        "samtools", "view", "-c", local / BAM, "chr1:600000-610000"
    )
    shutil.copyfile(got["region_bam"], local / "region.bam")
    _run("samtools", "index", "-o", local / "region.bam.bai", local / "region.bam")
    assert got["region_bai"].read_bytes() == (local / "region.bam.bai").read_bytes()

    # the region's VCF: bgzipped, the same records, indexed
    records = _run("bcftools", "view", "-H", "-r", REGION, local / VCF)
    assert records.count("\n") > 100
    assert _run("bcftools", "view", "-H", got["region_vcf"]) == records
    assert _run("bcftools", "view", "-H", got["region_vcf"], "-r", "chr1:600000-700000") == _run(
        "bcftools", "view", "-H", "-r", "chr1:600000-700000", local / VCF
    )
    shutil.copyfile(got["region_vcf"], local / "region.vcf.gz")
    _run("bcftools", "index", "-t", "-o", local / "region.vcf.gz.tbi", local / "region.vcf.gz")
    assert got["region_tbi"].read_bytes() == (local / "region.vcf.gz.tbi").read_bytes()

    # a second run finds everything done: nothing is rewritten (BaseSpace files are final)
    again = _snakemake(m, workdir)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Nothing to be done" in again.stderr
    assert set(_server_files(emu, appresult)) == set(RESULTS.values())

    # a publish that stopped half-way: a rerun compares what is there and copies the rest...
    results = workdir / "results"
    resumed = project / "AppResults" / "Pipeline QC (resumed)"
    os.mkdir(resumed)
    shutil.copyfile(results / RESULTS["flagstat"], resumed / "Files" / RESULTS["flagstat"])
    run = _snakemake(m, workdir, resumed.name, "--forcerun", "publish")
    assert run.returncode == 0, run.stderr[-3000:]
    assert (resumed / ".status").read_text().strip() == "Complete"
    assert set(_server_files(emu, resumed)) == set(RESULTS.values())
    # ...and stops, leaving the AppResult Running, when a file there is not the result
    clash = project / "AppResults" / "Pipeline QC (clash)"
    os.mkdir(clash)
    (clash / "Files" / RESULTS["idxstats"]).write_text("something else\n")
    run = _snakemake(m, workdir, clash.name, "--forcerun", "publish")
    assert run.returncode != 0
    assert f"{RESULTS['idxstats']} differ" in run.stdout + run.stderr  # cmp
    assert (clash / ".status").read_text().strip() == "Running"
    assert not (results / "published.txt").exists()  # the failed rule's local output is removed
