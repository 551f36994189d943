"""The demo seed's genomics files: valid FASTQ/BAM/VCF/run folder, deterministic, cached.

Checks the files with pysam and the standard library first, then (marked ``tools``) with the
samtools/bcftools/tabix/gzip binaries, skipping those cleanly where a binary is missing. The
cache machinery (stamp, leftovers, locking) is tested with a tiny stand-in builder.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import struct
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pysam
import pytest

from bsmount.emulator.genomics import demo_files as genomics
from bsmount.emulator.genomics.demo_files import DEMO_SAMPLES, DemoFiles, build_demo_files
from bsmount.emulator.genomics.reference import VCF_SAMPLES
from bsmount.emulator.genomics.runfolder import RUN_NAME, TOTAL_CYCLES

REGION = ("chr1", 100_000, 110_000)
REGION_TEXT = f"{REGION[0]}:{REGION[1]}-{REGION[2]}"
HEADER_RE = re.compile(
    r"^@(M04074:242:000000000-BRGPG:1:[12]1[01]\d:\d+:\d+) ([12]):N:0:([ACGT]{6})$"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoFiles, Path, float]:
    directory = tmp_path_factory.mktemp("genomics")
    started = time.monotonic()
    files = build_demo_files(directory)
    return files, directory, time.monotonic() - started


@pytest.fixture(scope="module")
def demo(built: tuple[DemoFiles, Path, float]) -> DemoFiles:
    return built[0]


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed")
    return path


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout


def all_paths(files: DemoFiles) -> list[Path]:
    paths = [files.bam, files.bai, files.vcf, files.tbi, *files.run_folder.values()]
    for r1, r2 in files.fastq_pairs.values():
        paths += [r1, r2]
    return paths


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- contract and cache ---------------------------------------------------------------------


def test_contract(built: tuple[DemoFiles, Path, float]) -> None:
    files, directory, _ = built
    assert len(files.fastq_pairs) >= 4
    assert set(files.fastq_pairs) == {s.name for s in DEMO_SAMPLES}
    assert files.contigs == {"chr1": 2_000_000, "chr2": 1_500_000, "chrM": 16_569}
    assert files.bam.name.endswith(".bam") and files.bai.name == files.bam.name + ".bai"
    assert files.vcf.name.endswith(".vcf.gz") and files.tbi.name == files.vcf.name + ".tbi"
    for path in all_paths(files):
        assert path.is_file() and path.stat().st_size > 0, path
        assert path.is_relative_to(directory)
    assert 20_000_000 <= files.bam.stat().st_size <= 40_000_000


def test_second_call_is_fast_and_equal(built: tuple[DemoFiles, Path, float]) -> None:
    files, directory, _ = built
    started = time.monotonic()
    again = build_demo_files(directory)
    assert time.monotonic() - started < 0.5
    assert again == files


# --- FASTQ ----------------------------------------------------------------------------------


def read_fastq(path: Path) -> list[tuple[str, str, str]]:
    with gzip.open(path, "rt", encoding="ascii") as handle:
        lines = handle.read().splitlines()
    assert len(lines) % 4 == 0
    records = []
    for i in range(0, len(lines), 4):
        header, seq, plus, qual = lines[i : i + 4]
        assert plus == "+"
        assert len(seq) == len(qual) == 151
        assert set(seq) <= set("ACGTN")
        assert all("#" <= q <= "J" for q in qual), qual
        records.append((header, seq, qual))
    return records


def test_fastq_pairs_are_valid_and_pair_up(demo: DemoFiles) -> None:
    for sample in DEMO_SAMPLES:
        r1_path, r2_path = demo.fastq_pairs[sample.name]
        assert r1_path.name.endswith("_R1_001.fastq.gz")
        assert r2_path.name == r1_path.name.replace("_R1_", "_R2_")
        r1, r2 = read_fastq(r1_path), read_fastq(r2_path)
        assert len(r1) == len(r2) == sample.pairs
        names = set()
        for (h1, _, _), (h2, _, _) in zip(r1, r2, strict=True):
            m1, m2 = HEADER_RE.match(h1), HEADER_RE.match(h2)
            assert m1 and m2, (h1, h2)
            assert m1[1] == m2[1] and (m1[2], m2[2]) == ("1", "2")
            assert m1[3] == m2[3] == sample.index
            names.add(m1[1])
        assert len(names) == sample.pairs


# --- BAM ------------------------------------------------------------------------------------


def test_bam_header_order_and_index(demo: DemoFiles) -> None:
    with pysam.AlignmentFile(str(demo.bam), "rb") as bam:
        header = bam.header.to_dict()
        assert header["HD"]["SO"] == "coordinate"
        assert {sq["SN"]: sq["LN"] for sq in header["SQ"]} == demo.contigs
        assert header["RG"][0]["SM"] == VCF_SAMPLES[0]
        assert [pg["ID"] for pg in header["PG"]][:1] == ["bwa"]
        assert bam.check_index()
        last = (-1, -1)
        per_contig: Counter[str] = Counter()
        total = 0
        for read in bam.fetch(until_eof=True):
            total += 1
            if read.reference_id < 0:
                last = (1 << 30, 0)
                continue
            key = (read.reference_id, read.reference_start)
            assert key >= last, read.query_name
            last = key
            if not read.is_unmapped:
                per_contig[read.reference_name or ""] += 1
        assert set(per_contig) == set(demo.contigs)
        in_region = bam.count(*REGION)
        assert 0 < in_region < total / 100


def test_bam_carries_the_vcf_alleles(demo: DemoFiles) -> None:
    """At hom-alt SNPs of the BAM's sample, the reads show the VCF's ALT base."""
    alt_total = depth_total = checked = 0
    with pysam.VariantFile(str(demo.vcf)) as vcf, pysam.AlignmentFile(str(demo.bam)) as bam:
        for rec in vcf.fetch("chr2", 200_000, 1_400_000):
            gt = rec.samples[VCF_SAMPLES[0]]["GT"]
            alt = (rec.alts or ("",))[0]
            if gt != (1, 1) or len(rec.ref or "") != 1 or len(alt) != 1:
                continue
            counts = bam.count_coverage(rec.chrom, rec.start, rec.stop, quality_threshold=0)
            by_base = dict(zip("ACGT", (c[0] for c in counts), strict=True))
            depth = sum(by_base.values())
            assert depth > 0 and by_base[alt] >= depth / 2, (rec.pos, by_base)
            alt_total, depth_total = alt_total + by_base[alt], depth_total + depth
            checked += 1
            if checked == 40:
                break
    assert checked == 40 and alt_total > 0.9 * depth_total


# --- VCF ------------------------------------------------------------------------------------


def test_vcf_header_records_and_region(demo: DemoFiles) -> None:
    with pysam.VariantFile(str(demo.vcf)) as vcf:
        header = vcf.header
        assert list(header.samples) == list(VCF_SAMPLES)
        assert {name: header.contigs[name].length for name in header.contigs} == demo.contigs
        assert {"AC", "AF", "AN", "DP"} <= set(header.info)
        assert {"GT", "AD", "DP", "GQ", "PL"} <= set(header.formats)
        records = list(vcf.fetch())
        assert 2_000 <= len(records) <= 5_000
        assert {r.chrom for r in records} == set(demo.contigs)
        in_region = list(vcf.fetch(*REGION))
        assert 0 < len(in_region) < len(records) / 20


# --- run folder -----------------------------------------------------------------------------


def test_run_folder_layout(demo: DemoFiles) -> None:
    rf = demo.run_folder
    for rel in ("RunInfo.xml", "RunParameters.xml", "SampleSheet.csv", "RTAComplete.txt"):
        assert rel in rf
    assert 200 <= len(rf) <= 1_000
    cycle_dirs = {
        rel.split("/")[4] for rel in rf if rel.startswith("Data/Intensities/BaseCalls/L001/C")
    }
    assert cycle_dirs == {f"C{c}.1" for c in range(1, TOTAL_CYCLES + 1)}
    assert "Data/Intensities/BaseCalls/L001/s_1_1101.filter" in rf
    assert "Data/Intensities/L001/s_1_1101.locs" in rf
    assert any(rel.startswith("Config/") for rel in rf)
    assert any(rel.startswith("Logs/") for rel in rf)
    for rel, path in rf.items():
        assert path.as_posix().endswith(f"{RUN_NAME}/{rel}")


def test_run_info_and_sample_sheet(demo: DemoFiles) -> None:
    root = ET.parse(demo.run_folder["RunInfo.xml"]).getroot()
    run_el = root.find("Run")
    assert run_el is not None and run_el.get("Id") == RUN_NAME
    cycles = [int(r.get("NumCycles", "0")) for r in root.iter("Read")]
    assert cycles == [151, 6, 151] and sum(cycles) == TOTAL_CYCLES
    ET.parse(demo.run_folder["RunParameters.xml"])
    sheet = demo.run_folder["SampleSheet.csv"].read_bytes().decode("utf-8")
    assert "\r\n" in sheet
    sections = [line.split(",")[0] for line in sheet.splitlines() if line.startswith("[")]
    assert sections == ["[Header]", "[Reads]", "[Settings]", "[Data]"]
    data = sheet.split("[Data]")[1].splitlines()[2:]
    assert [row.split(",")[1] for row in data] == [s.name for s in DEMO_SAMPLES]
    assert [row.split(",")[5] for row in data] == [s.index for s in DEMO_SAMPLES]


@pytest.mark.parametrize(
    ("name", "version", "record_size"),
    [
        ("TileMetricsOut.bin", 2, 10),
        ("ErrorMetricsOut.bin", 3, 30),
        ("ExtractionMetricsOut.bin", 2, 38),
        ("QMetricsOut.bin", 4, 206),
        ("CorrectedIntMetricsOut.bin", 2, 48),
    ],
)
def test_interop_layout(demo: DemoFiles, name: str, version: int, record_size: int) -> None:
    data = demo.run_folder[f"InterOp/{name}"].read_bytes()
    assert data[0] == version and data[1] == record_size
    body = data[2:]
    assert len(body) % record_size == 0 and len(body) // record_size >= 28
    lane, tile = struct.unpack_from("<HH", body)
    assert lane == 1 and tile in range(1101, 2115)


def test_basecall_files(demo: DemoFiles) -> None:
    rf = demo.run_folder
    bcl = gzip.decompress(rf["Data/Intensities/BaseCalls/L001/C1.1/s_1_1101.bcl.gz"].read_bytes())
    (clusters,) = struct.unpack_from("<I", bcl)
    assert clusters > 0 and len(bcl) == 4 + clusters
    filt = rf["Data/Intensities/BaseCalls/L001/s_1_1101.filter"].read_bytes()
    assert struct.unpack_from("<III", filt) == (0, 3, clusters) and len(filt) == 12 + clusters
    locs = rf["Data/Intensities/L001/s_1_1101.locs"].read_bytes()
    assert struct.unpack_from("<I", locs, 8) == (clusters,) and len(locs) == 12 + 8 * clusters


# --- external tools -------------------------------------------------------------------------


@pytest.mark.tools
def test_samtools_reads_the_bam(demo: DemoFiles) -> None:
    samtools = need("samtools")
    run(samtools, "quickcheck", str(demo.bam))
    header = run(samtools, "view", "-H", str(demo.bam))
    assert "@HD\tVN:1.6\tSO:coordinate" in header and "@RG\t" in header and "@PG\t" in header
    total = int(run(samtools, "view", "-c", str(demo.bam)))
    in_region = int(run(samtools, "view", "-c", str(demo.bam), REGION_TEXT))
    assert 0 < in_region < total / 100
    idxstats = [line.split("\t") for line in run(samtools, "idxstats", str(demo.bam)).splitlines()]
    mapped = {row[0]: int(row[2]) for row in idxstats}
    assert {name: int(row[1]) for row in idxstats if (name := row[0]) != "*"} == demo.contigs
    assert all(mapped[name] > 0 for name in demo.contigs)
    assert sum(int(row[2]) + int(row[3]) for row in idxstats) == total


@pytest.mark.tools
def test_bcftools_and_tabix_region_queries(demo: DemoFiles) -> None:
    bcftools, tabix = need("bcftools"), need("tabix")
    region = run(bcftools, "view", "-H", "-r", REGION_TEXT, str(demo.vcf)).splitlines()
    total = run(bcftools, "view", "-H", str(demo.vcf)).splitlines()
    assert 0 < len(region) < len(total) / 20
    assert all(line.split("\t")[0] == "chr1" for line in region)
    by_tabix = run(tabix, str(demo.vcf), REGION_TEXT).splitlines()
    assert [line.split("\t")[:5] for line in by_tabix] == [line.split("\t")[:5] for line in region]
    assert run(tabix, "-l", str(demo.vcf)).split() == list(demo.contigs)


@pytest.mark.tools
def test_gzip_accepts_every_fastq(demo: DemoFiles) -> None:
    gzip_tool = need("gzip")
    for r1, r2 in demo.fastq_pairs.values():
        run(gzip_tool, "-t", str(r1), str(r2))


# --- cache machinery ------------------------------------------------------------------------


@pytest.mark.slow
def test_concurrent_processes_build_once_and_identically(
    tmp_path: Path, built: tuple[DemoFiles, Path, float]
) -> None:
    """Two processes racing on one directory agree, and the bytes equal the fixture's build."""
    script = (
        "import json, sys; from pathlib import Path\n"
        "from bsmount.emulator.genomics.demo_files import build_demo_files\n"
        "f = build_demo_files(Path(sys.argv[1]))\n"
        "print(json.dumps({'bam': str(f.bam), 'fastq': {k: list(map(str, v)) "
        "for k, v in f.fastq_pairs.items()}, 'run': len(f.run_folder)}))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=240)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    assert json.loads(outputs[0]) == json.loads(outputs[1])
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == [
        f"demo-genomics-v{genomics.VERSION}"
    ]
    final = f"demo-genomics-v{genomics.VERSION}"
    assert tree_digest(tmp_path / final) == tree_digest(built[1] / final)


def fake_build(calls: list[int]) -> Any:
    def build(root: Path) -> dict[str, Any]:
        calls.append(1)
        time.sleep(0.05)
        (root / "a.txt").write_text("a")
        return {
            "version": genomics.VERSION,
            "fastq_pairs": {"s": ["a.txt", "a.txt"]},
            "bam": "a.txt",
            "bai": "a.txt",
            "vcf": "a.txt",
            "tbi": "a.txt",
            "run_folder": {"RunInfo.xml": "a.txt"},
            "contigs": {"chr1": 10},
            "sizes": {"a.txt": 1},
        }

    return build


def test_threads_racing_build_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(genomics, "_build", fake_build(calls))
    results: list[DemoFiles] = []
    threads = [
        threading.Thread(target=lambda: results.append(build_demo_files(tmp_path)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1]
    assert len(results) == 4 and all(r == results[0] for r in results)


@pytest.mark.expect_log_warnings(
    r"removing an unfinished demo genomics build: \S+/\.demo-genomics-v\d+\.tmp-crashed",
    r"rebuilding demo genomics files: \S+/demo-genomics-v\d+ is incomplete or outdated",
)
def test_damaged_or_unfinished_builds_are_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(genomics, "_build", fake_build(calls))
    first = build_demo_files(tmp_path)
    first.bam.write_text("truncated!")  # size no longer matches the stamp
    leftover = tmp_path / f".demo-genomics-v{genomics.VERSION}.tmp-crashed"
    leftover.mkdir()
    second = build_demo_files(tmp_path)
    assert calls == [1, 1] and second == first
    assert second.bam.read_text() == "a"
    assert not leftover.exists()
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == [
        f"demo-genomics-v{genomics.VERSION}"
    ]


def test_failed_build_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(root: Path) -> dict[str, Any]:
        (root / "half.bin").write_bytes(b"x")
        raise RuntimeError("disk full")

    monkeypatch.setattr(genomics, "_build", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        build_demo_files(tmp_path)
    assert [p for p in tmp_path.iterdir() if p.is_dir()] == []
