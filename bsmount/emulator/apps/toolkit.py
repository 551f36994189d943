"""The FASTQ Toolkit and QC report runners (blocking: called on a worker thread).

- ``fastq-toolkit``: per input sample, 3' quality trimming (``quality-cutoff``), adapter
  trimming (``adapter-trimming``: cut at ``AGATCGGAAGAGC``), pairs with a mate shorter than
  ``min-read-length`` dropped; the trimmed R1/R2 FASTQ.gz under the input names and a report;
- ``qc-report``: per sample and per FASTQ/BAM file read counts, base qualities, GC, mapping;
  ``qc_report.html`` (or ``.txt``) and ``qc_metrics.csv``.
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

import pysam

from bsmount.emulator.apps.work import (
    ADAPTER,
    Job,
    OutputSet,
    Read,
    content_bytes,
    entities_of,
    fastq_pairs,
    safe_name,
    write_fastq_gz,
)

__all__ = ["run_fastq_toolkit", "run_qc_report"]


def _trim(read: Read, cutoff: int, adapters: bool) -> Read:
    end = len(read.seq)
    if adapters:
        at = read.seq.find(ADAPTER)
        if at >= 0:
            end = at
    while end > 0 and ord(read.qual[end - 1]) - 33 < cutoff:
        end -= 1
    return Read(read.name, read.seq[:end], read.qual[:end])


def run_fastq_toolkit(job: Job) -> list[OutputSet]:
    cutoff = job.integer("quality-cutoff", 20)
    min_length = job.integer("min-read-length", 32)
    adapters = job.flag("adapter-trimming")
    outputs = []
    for sample in entities_of(job, "samples"):
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


def run_qc_report(job: Job) -> list[OutputSet]:
    title = job.option("report-title", "QC Report") or "QC Report"
    fmt = job.option("report-format", "html")
    out_dir = job.workdir / "qc"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    output = OutputSet(title, f"FastQC {job.app_version}: quality-control report")
    for entity in entities_of(job, "samples", "biosamples", "appresults", "files"):
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
