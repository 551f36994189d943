"""Genomics tools through the mount: samtools with the BAI, bcftools/tabix regions, zcat."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.mount.apiwalk import blob_requests
from tests.mount.mounting import DEMO_ODD_NAMES, fuse_marker

pytestmark = [fuse_marker(), DEMO_ODD_NAMES, pytest.mark.tools]


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed")
    return path


def _find(mnt: Path, suffix: str) -> Path:
    for root, _dirs, names in os.walk(mnt / "Projects"):
        for name in sorted(names):
            if name.endswith(suffix) and not name.startswith("."):
                return Path(root) / name
    raise AssertionError(f"no *{suffix} in the demo")


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300).stdout


def _drop_caches() -> None:
    subprocess.run(["sh", "-c", "echo 3 > /proc/sys/vm/drop_caches"], check=False)


def test_samtools_header_and_region_query(mnt: Path, emulator: Any) -> None:
    samtools = _need("samtools")
    bam = _find(mnt, ".bam")
    header = _run(samtools, "view", "-H", str(bam))
    assert header.startswith("@HD") and "@SQ" in header
    contig = next(
        line.split("SN:")[1].split("\t")[0]
        for line in header.splitlines()
        if line.startswith("@SQ")
    )
    _drop_caches()
    emulator.clear_requests()
    region_reads = _run(samtools, "view", str(bam), f"{contig}:100000-110000")
    assert region_reads.count("\n") > 0
    blobs = blob_requests(emulator.requests())
    fetched = sum(r["bytes_sent"] for r in blobs)
    assert fetched < bam.stat().st_size / 4, (fetched, bam.stat().st_size)
    count = int(_run(samtools, "view", "-c", str(bam), f"{contig}:100000-110000"))
    assert count == region_reads.count("\n")


def test_bcftools_and_tabix_region(mnt: Path) -> None:
    bcftools = _need("bcftools")
    tabix = _need("tabix")
    vcf = _find(mnt, ".vcf.gz")
    assert (vcf.parent / (vcf.name + ".tbi")).exists()
    header = _run(bcftools, "view", "-h", str(vcf))
    contig = next(
        line.split("ID=")[1].split(",")[0].rstrip(">")
        for line in header.splitlines()
        if line.startswith("##contig")
    )
    records = _run(bcftools, "view", "-H", "-r", f"{contig}:1-1000000", str(vcf))
    assert records.count("\n") > 0
    assert all(line.split("\t")[0] == contig for line in records.splitlines())
    via_tabix = _run(tabix, str(vcf), f"{contig}:1-1000000")
    assert via_tabix.count("\n") == records.count("\n")


def test_zcat_head_of_fastq(mnt: Path) -> None:
    fastq = _find(mnt, ".fastq.gz")
    out = subprocess.run(
        f"zcat '{fastq}' | head -8", shell=True, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert len(out) == 8
    assert out[0].startswith("@") and out[2].startswith("+") and len(out[1]) == len(out[3])
