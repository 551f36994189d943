"""What a launched app computes: :func:`run_job` (called on a worker thread) and the step plan
its session shows while it runs (:func:`plan_steps`).

A :class:`Job` holds a snapshot of the inputs (every entity's files as content sources) and the
string options; :func:`run_job` writes the outputs into ``job.workdir`` and returns them as
:class:`OutputSet` objects (one per AppResult to create). Runners:

- ``fastq-toolkit``: per input sample, 3' quality trimming (``quality-cutoff``), adapter
  trimming (``adapter-trimming``: cut at ``AGATCGGAAGAGC``), pairs with a mate shorter than
  ``min-read-length`` dropped; the trimmed R1/R2 FASTQ.gz under the input names and a report;
- ``aligner`` and ``germline-caller``: :mod:`bsmount.emulator.apps.align`;
- ``qc-report``: per sample and per FASTQ/BAM file read counts, base qualities, GC, mapping;
  ``qc_report.html`` (or ``.txt``) and ``qc_metrics.csv``.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import html
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pysam

from bsmount.emulator.blobs.content import ContentSource
from bsmount.emulator.state.applications import AppVersion
from bsmount.emulator.state.launches import LogStep
from bsmount.emulator.state.model import Property

__all__ = [
    "FastqPair",
    "InputEntity",
    "Job",
    "OutputSet",
    "Read",
    "fastq_pairs",
    "plan_steps",
    "run_job",
    "write_fastq_gz",
]

log = logging.getLogger(__name__)

ADAPTER = "AGATCGGAAGAGC"
FASTQ_SUFFIXES = (".fastq.gz", ".fq.gz", ".fastq", ".fq")


@dataclass(frozen=True)
class InputEntity:
    """A sample, biosample, appresult or file given as input, with its files' contents."""

    kind: str
    id: str
    name: str
    files: list[tuple[str, ContentSource]]


@dataclass
class Job:
    runner: str
    app_name: str
    app_version: str
    options: dict[str, str | list[str]]
    inputs: dict[str, list[InputEntity]]
    workdir: Path

    def option(self, name: str, default: str) -> str:
        value = self.options.get(name, default)
        return value if isinstance(value, str) else default

    def flag(self, name: str) -> bool:
        value = self.options.get(name)
        return isinstance(value, list) and bool(value)

    def integer(self, name: str, default: int) -> int:
        try:
            return int(self.option(name, str(default)))
        except ValueError:
            return default


@dataclass
class OutputSet:
    """One AppResult to create: name, description, files (path in the result, local file) and
    ``References`` ((rel, kind, id))."""

    name: str
    description: str
    files: list[tuple[str, Path]] = field(default_factory=list)
    references: list[tuple[str, str, str]] = field(default_factory=list)
    md5: dict[Path, str] = field(default_factory=dict)  # filled by run_job, off the loop


@dataclass(frozen=True)
class Read:
    name: str
    seq: str
    qual: str


@dataclass
class FastqPair:
    """A sample's reads: R1 (and R2 when paired) with their file names."""

    r1_name: str
    r1: list[Read]
    r2_name: str | None = None
    r2: list[Read] = field(default_factory=list)


# ---------------------------------------------------------------------- steps
_STEPS: dict[str, list[tuple[float, str, str]]] = {
    "fastq-toolkit": [
        (0.0, "Initializing", "Reading the input FASTQ files"),
        (0.3, "Trimming reads", "Trimming 3' bases and adapters"),
        (0.7, "Filtering reads", "Dropping pairs shorter than the minimum length"),
        (0.9, "Writing outputs", "Writing trimmed FASTQ files and the report"),
    ],
    "aligner": [
        (0.0, "Initializing", "Loading the reference"),
        (0.2, "Aligning reads", "Aligning read pairs (k-mer seeds, ungapped extension)"),
        (0.7, "Sorting alignments", "Sorting by coordinate"),
        (0.9, "Writing outputs", "Writing BAM, BAI and metrics"),
    ],
    "germline-caller": [
        (0.0, "Initializing", "Loading the reference and hash table"),
        (0.2, "Mapping reads", "Mapping and aligning reads"),
        (0.6, "Calling variants", "Calling small variants from the pileup"),
        (0.9, "Writing outputs", "Writing VCF, index and metrics"),
    ],
    "qc-report": [
        (0.0, "Initializing", "Collecting inputs"),
        (0.4, "Computing metrics", "Computing read, quality and GC metrics"),
        (0.9, "Writing outputs", "Writing the report"),
    ],
}


def plan_steps(app: AppVersion, inputs: dict[str, Property]) -> list[LogStep]:
    """The steps a session of ``app`` goes through (summary and log line of each)."""
    count = sum(len(p.refs) for p in inputs.values() if p.type != "project")
    steps = [
        LogStep(0.0, "Initializing", f"{app.name} {app.version} starting with {count} input(s)")
    ]
    for fraction, summary, line in _STEPS[app.runner]:
        stderr = f"[{app.runner}] {summary.lower()}" if fraction > 0 else ""
        steps.append(LogStep(fraction, summary, line, stderr))
    return steps


# ---------------------------------------------------------------------- reading inputs
def content_bytes(content: ContentSource) -> bytes:
    return b"".join(content.iter_range(0, content.size))


def parse_fastq(data: bytes) -> list[Read]:
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    lines = data.decode("ascii", errors="replace").splitlines()
    reads = []
    for i in range(0, len(lines) - 3, 4):
        if lines[i].startswith("@"):
            reads.append(Read(lines[i][1:], lines[i + 1], lines[i + 3]))
    return reads


def fastq_pairs(entity: InputEntity) -> list[FastqPair]:
    """The FASTQ files of an input, R1 paired with its R2 (by ``_R1``/``_R2`` in the name)."""
    fastqs = sorted((p, c) for p, c in entity.files if p.lower().endswith(FASTQ_SUFFIXES))
    by_path = dict(fastqs)
    pairs = []
    for path, content in fastqs:
        name = path.rsplit("/", 1)[-1]
        if "_R2" in name:
            continue
        mate = path.replace("_R1", "_R2", 1) if "_R1" in name else None
        pair = FastqPair(name, parse_fastq(content_bytes(content)))
        if mate is not None and mate in by_path:
            pair.r2_name = mate.rsplit("/", 1)[-1]
            pair.r2 = parse_fastq(content_bytes(by_path[mate]))
        pairs.append(pair)
    return pairs


def write_fastq_gz(path: Path, reads: list[Read]) -> Path:
    text = "".join(f"@{r.name}\n{r.seq}\n+\n{r.qual}\n" for r in reads)
    with gzip.open(path, "wb", compresslevel=4) as out:
        out.write(text.encode("ascii"))
    return path


def safe_name(name: str) -> str:
    """An entity name usable as a file name."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._")
    return cleaned or "output"


def _entities(job: Job, *kinds: str) -> Iterator[InputEntity]:
    for entities in job.inputs.values():
        for entity in entities:
            if entity.kind in kinds:
                yield entity


# ---------------------------------------------------------------------- runners
def run_job(job: Job) -> list[OutputSet]:
    """Compute the outputs of ``job`` and their MD5s (blocking: run it on a worker thread)."""
    job.workdir.mkdir(parents=True, exist_ok=True)
    if job.runner == "fastq-toolkit":
        outputs = _fastq_toolkit(job)
    elif job.runner in ("aligner", "germline-caller"):
        from bsmount.emulator.apps.align import run_aligner, run_caller

        outputs = run_aligner(job) if job.runner == "aligner" else run_caller(job)
    elif job.runner == "qc-report":
        outputs = _qc_report(job)
    else:
        raise ValueError(f"unknown runner {job.runner!r}")
    for output in outputs:
        for _, local in output.files:
            output.md5[local] = hashlib.md5(local.read_bytes()).hexdigest()
    log.info(
        "%s %s: %d output sets in %s", job.app_name, job.app_version, len(outputs), job.workdir
    )
    return outputs


def _trim(read: Read, cutoff: int, adapters: bool) -> Read:
    end = len(read.seq)
    if adapters:
        at = read.seq.find(ADAPTER)
        if at >= 0:
            end = at
    while end > 0 and ord(read.qual[end - 1]) - 33 < cutoff:
        end -= 1
    return Read(read.name, read.seq[:end], read.qual[:end])


def _fastq_toolkit(job: Job) -> list[OutputSet]:
    cutoff = job.integer("quality-cutoff", 20)
    min_length = job.integer("min-read-length", 32)
    adapters = job.flag("adapter-trimming")
    outputs = []
    for sample in _entities(job, "samples"):
        out_dir = job.workdir / f"{sample.kind}-{sample.id}"
        out_dir.mkdir(parents=True, exist_ok=True)
        output = OutputSet(sample.name, f"FASTQ Toolkit {job.app_version}: trimmed reads")
        output.references.append(("using", "samples", sample.id))
        report = [
            f"FASTQ Toolkit {job.app_version} trimming report for {sample.name}",
            f"quality-cutoff={cutoff} min-read-length={min_length} adapters={adapters}",
        ]
        for pair in fastq_pairs(sample):
            kept1: list[Read] = []
            kept2: list[Read] = []
            trimmed_bases = 0
            mates = pair.r2 if pair.r2 else [None] * len(pair.r1)
            for read1, read2 in zip(pair.r1, mates, strict=True):
                t1 = _trim(read1, cutoff, adapters)
                trimmed_bases += len(read1.seq) - len(t1.seq)
                t2 = None
                if read2 is not None:
                    t2 = _trim(read2, cutoff, adapters)
                    trimmed_bases += len(read2.seq) - len(t2.seq)
                if len(t1.seq) < min_length or (t2 is not None and len(t2.seq) < min_length):
                    continue
                kept1.append(t1)
                if t2 is not None:
                    kept2.append(t2)
            output.files.append((pair.r1_name, write_fastq_gz(out_dir / pair.r1_name, kept1)))
            if pair.r2_name is not None:
                path = write_fastq_gz(out_dir / pair.r2_name, kept2)
                output.files.append((pair.r2_name, path))
            report.append(
                f"{pair.r1_name}: {len(pair.r1)} reads in, {len(kept1)} kept,"
                f" {trimmed_bases} bases trimmed"
            )
        report_path = out_dir / f"{safe_name(sample.name)}.trimming_report.txt"
        report_path.write_text("\n".join(report) + "\n", encoding="utf-8")
        output.files.append((report_path.name, report_path))
        outputs.append(output)
    return outputs


def _read_stats(reads: list[Read]) -> dict[str, float]:
    bases = sum(len(r.seq) for r in reads)
    gc = sum(r.seq.count("G") + r.seq.count("C") for r in reads)
    quals = [ord(q) - 33 for r in reads for q in r.qual]
    q30 = sum(1 for q in quals if q >= 30)
    return {
        "reads": len(reads),
        "bases": bases,
        "mean_quality": round(sum(quals) / len(quals), 2) if quals else 0.0,
        "percent_q30": round(100 * q30 / len(quals), 2) if quals else 0.0,
        "percent_gc": round(100 * gc / bases, 2) if bases else 0.0,
    }


def _bam_stats(path: Path) -> dict[str, float]:
    mapped = unmapped = 0
    with pysam.AlignmentFile(str(path), "rb", check_sq=False) as bam:
        for record in bam.fetch(until_eof=True):
            if record.is_unmapped:
                unmapped += 1
            else:
                mapped += 1
    total = mapped + unmapped
    return {
        "records": total,
        "mapped": mapped,
        "percent_mapped": round(100 * mapped / total, 2) if total else 0.0,
    }


def _qc_report(job: Job) -> list[OutputSet]:
    title = job.option("report-title", "QC Report") or "QC Report"
    fmt = job.option("report-format", "html")
    out_dir = job.workdir / "qc"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    output = OutputSet(title, f"FastQC {job.app_version}: quality-control report")
    for entity in _entities(job, "samples", "biosamples", "appresults", "files"):
        output.references.append(("using", entity.kind, entity.id))
        for pair in fastq_pairs(entity):
            for name, reads in ((pair.r1_name, pair.r1), (pair.r2_name, pair.r2)):
                if name is not None:
                    rows.append({"input": entity.name, "file": name, **_read_stats(reads)})
        for path, content in entity.files:
            if path.lower().endswith(".bam"):
                local = out_dir / f"in-{entity.id}-{safe_name(path)}"
                local.write_bytes(content_bytes(content))
                rows.append({"input": entity.name, "file": path, **_bam_stats(local)})
                local.unlink()
    columns = ["input", "file", "reads", "bases", "mean_quality", "percent_q30", "percent_gc",
               "records", "mapped", "percent_mapped"]  # fmt: skip
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    metrics = out_dir / "qc_metrics.csv"
    metrics.write_text(buffer.getvalue(), encoding="utf-8")
    if fmt == "txt":
        report = out_dir / "qc_report.txt"
        lines = [title, "=" * len(title)]
        lines += [", ".join(f"{k}={v}" for k, v in row.items()) for row in rows]
        report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        report = out_dir / "qc_report.html"
        cells = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(str(row.get(c, '')))}</td>" for c in columns)
            + "</tr>"
            for row in rows
        )
        head = "".join(f"<th>{c}</th>" for c in columns)
        report.write_text(
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body><h1>{html.escape(title)}</h1><table><tr>{head}</tr>{cells}"
            "</table></body></html>\n",
            encoding="utf-8",
        )
    output.files += [(report.name, report), (metrics.name, metrics)]
    return [output]
