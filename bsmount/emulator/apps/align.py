"""The aligner and the germline caller of launched apps: real alignments of the input reads.

Reads are aligned to the demo reference (:func:`bsmount.emulator.genomics.reference.
build_genome`, the genome the demo's FASTQ files were simulated from) by a small seed-and-check
aligner: a 20-mer index of every 8th reference position, the first unique seed hit on either
strand, then an ungapped comparison that accepts up to :data:`MAX_MISMATCHES` mismatches. Every
input read becomes one BAM record (unaligned reads too, placed at their mate when it aligned), so
``samtools view -c`` counts the input reads. Records are sorted by coordinate and indexed with
pysam (:func:`run_aligner`).

:func:`run_caller` aligns the same way, then calls SNVs from the pileup of reads with MAPQ 60:
depth at least ``vc-min-depth``, at least two reads and 25% of them showing the same other
base; the VCF is bgzipped and tabix-indexed with ``pysam.tabix_index``.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pysam

from bsmount.emulator.apps.work import (
    FastqPair,
    InputEntity,
    Job,
    OutputSet,
    Read,
    fastq_pairs,
    safe_name,
)
from bsmount.emulator.genomics.reference import build_genome

__all__ = ["MAX_MISMATCHES", "ReferenceIndex", "align_pairs", "run_aligner", "run_caller"]

K = 20
STEP = 8
MAX_MISMATCHES = 8
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
_LOCK = threading.Lock()
_INDEX: ReferenceIndex | None = None


def reverse_complement(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


@dataclass
class ReferenceIndex:
    names: list[str]
    sequences: dict[str, str]
    seeds: dict[str, tuple[int, int]]  # k-mer -> (contig index, position); (-1, -1): repeated

    @classmethod
    def build(cls) -> ReferenceIndex:
        genome = build_genome()
        names = list(genome.sequences)
        sequences = {n: genome.sequences[n].decode("ascii") for n in names}
        seeds: dict[str, tuple[int, int]] = {}
        for tid, name in enumerate(names):
            seq = sequences[name]
            for pos in range(0, len(seq) - K + 1, STEP):
                kmer = seq[pos : pos + K]
                if "N" in kmer:
                    continue
                seeds[kmer] = (-1, -1) if kmer in seeds else (tid, pos)
        return cls(names, sequences, seeds)


def reference_index() -> ReferenceIndex:
    """The index of the demo reference, built once per process."""
    global _INDEX
    with _LOCK:
        if _INDEX is None:
            _INDEX = ReferenceIndex.build()
        return _INDEX


@dataclass
class Hit:
    tid: int = -1
    pos: int = -1
    reverse: bool = False
    mismatches: int = 0
    mapq: int = 0

    @property
    def mapped(self) -> bool:
        return self.tid >= 0


def _locate(index: ReferenceIndex, seq: str) -> Hit:
    best: Hit | None = None
    for reverse in (False, True):
        query = reverse_complement(seq) if reverse else seq
        for offset in range(0, len(query) - K + 1):
            found = index.seeds.get(query[offset : offset + K])
            if found is None or found[0] < 0:
                continue
            tid, seed_pos = found
            start = seed_pos - offset
            ref = index.sequences[index.names[tid]]
            if start < 0 or start + len(query) > len(ref):
                continue
            window = ref[start : start + len(query)]
            mismatches = sum(1 for a, b in zip(query, window, strict=True) if a != b)
            if mismatches <= MAX_MISMATCHES:
                hit = Hit(tid, start, reverse, mismatches, 60 if mismatches <= 4 else 30)
                if best is None or hit.mismatches < best.mismatches:
                    best = hit
                break
        if best is not None and best.mismatches == 0:
            break
    return best or Hit()


@dataclass
class Aligned:
    """A sample's records, unsorted: (sort key, segment)."""

    records: list[tuple[tuple[int, int, int], pysam.AlignedSegment]] = field(default_factory=list)
    pairs: int = 0
    reads: int = 0
    mapped: int = 0


def _segment(
    header: pysam.AlignmentHeader,
    read: Read,
    hit: Hit,
    mate: Hit | None,
    flag_first: bool,
    paired: bool,
    group: str,
) -> pysam.AlignedSegment:
    seg = pysam.AlignedSegment(header)
    seg.query_name = read.name.split()[0]
    seq, qual = read.seq, read.qual
    if hit.mapped and hit.reverse:
        seq, qual = reverse_complement(seq), qual[::-1]
    seg.query_sequence = seq
    seg.query_qualities = pysam.qualitystring_to_array(qual)
    flag = 0
    if paired:
        flag |= 0x1 | (0x40 if flag_first else 0x80)
    place = hit if hit.mapped else (mate if mate is not None and mate.mapped else None)
    if not hit.mapped:
        flag |= 0x4
    elif hit.reverse:
        flag |= 0x10
    if paired and mate is not None:
        if not mate.mapped:
            flag |= 0x8
        elif mate.reverse:
            flag |= 0x20
        if hit.mapped and mate.mapped and hit.tid == mate.tid and hit.reverse != mate.reverse:
            flag |= 0x2
    seg.flag = flag
    if place is not None:
        seg.reference_id = place.tid
        seg.reference_start = place.pos
    else:
        seg.reference_id = -1
        seg.reference_start = -1
    if hit.mapped:
        seg.mapping_quality = hit.mapq
        seg.cigarstring = f"{len(seq)}M"
        seg.set_tag("NM", hit.mismatches)
    if paired and mate is not None:
        mate_place = mate if mate.mapped else (hit if hit.mapped else None)
        if mate_place is not None:
            seg.next_reference_id = mate_place.tid
            seg.next_reference_start = mate_place.pos
        if hit.mapped and mate.mapped and hit.tid == mate.tid:
            left, right = min(hit.pos, mate.pos), max(hit.pos, mate.pos) + len(seq)
            seg.template_length = (right - left) * (1 if hit.pos <= mate.pos else -1)
    seg.set_tag("RG", group)
    return seg


def align_pairs(
    index: ReferenceIndex, header: pysam.AlignmentHeader, pairs: list[FastqPair], group: str
) -> Aligned:
    aligned = Aligned()
    for pair in pairs:
        paired = bool(pair.r2)
        mates: list[Read | None] = list(pair.r2) if paired else [None] * len(pair.r1)
        for read1, read2 in zip(pair.r1, mates, strict=True):
            hit1 = _locate(index, read1.seq)
            hit2 = _locate(index, read2.seq) if read2 is not None else None
            aligned.pairs += 1
            for read, hit, mate, first in ((read1, hit1, hit2, True), (read2, hit2, hit1, False)):
                if read is None or hit is None:
                    continue
                seg = _segment(header, read, hit, mate, first, paired, group)
                aligned.reads += 1
                aligned.mapped += int(hit.mapped)
                tid = seg.reference_id if seg.reference_id >= 0 else len(index.names)
                key = (tid, seg.reference_start, aligned.reads)
                aligned.records.append((key, seg))
    aligned.records.sort(key=lambda item: item[0])
    return aligned


def _header(index: ReferenceIndex, sample: str, group: str, job: Job) -> pysam.AlignmentHeader:
    return pysam.AlignmentHeader.from_dict(
        {
            "HD": {"VN": "1.6", "SO": "coordinate"},
            "SQ": [{"SN": n, "LN": len(index.sequences[n])} for n in index.names],
            "RG": [{"ID": group, "SM": sample, "PL": "ILLUMINA", "LB": sample}],
            "PG": [{"ID": "bsmount-emulator", "PN": job.app_name, "VN": job.app_version}],
        }
    )


def _write_bam(path: Path, header: pysam.AlignmentHeader, aligned: Aligned) -> Path:
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for _, seg in aligned.records:
            out.write(seg)
    pysam.index(str(path))
    return path


def _inputs(job: Job) -> list[InputEntity]:
    return [e for entities in job.inputs.values() for e in entities if e.kind != "files"]


def run_aligner(job: Job) -> list[OutputSet]:
    index = reference_index()
    outputs = []
    for entity in _inputs(job):
        stem = safe_name(entity.name)
        out_dir = job.workdir / f"{entity.kind}-{entity.id}"
        out_dir.mkdir(parents=True, exist_ok=True)
        header = _header(index, entity.name, stem, job)
        aligned = align_pairs(index, header, fastq_pairs(entity), stem)
        bam = _write_bam(out_dir / f"{stem}.bam", header, aligned)
        metrics = out_dir / f"{stem}.alignment_metrics.csv"
        metrics.write_text(
            "metric,value\n"
            f"reference,{job.option('genome-id', 'hg19')}\n"
            f"read_pairs,{aligned.pairs}\nreads,{aligned.reads}\nmapped_reads,{aligned.mapped}\n"
            f"percent_mapped,{100 * aligned.mapped / max(aligned.reads, 1):.2f}\n",
            encoding="utf-8",
        )
        output = OutputSet(entity.name, f"{job.app_name} {job.app_version}: sorted BAM")
        output.references.append(("using", entity.kind, entity.id))
        output.files += [
            (bam.name, bam),
            (bam.name + ".bai", Path(str(bam) + ".bai")),
            (metrics.name, metrics),
        ]
        outputs.append(output)
    return outputs


def _call(
    index: ReferenceIndex, aligned: Aligned, min_depth: int
) -> list[tuple[int, int, str, str, int, int]]:
    """(tid, pos, ref, alt, depth, alt count) of the SNVs in the pileup."""
    starts: dict[int, list[int]] = {}
    ends: dict[int, list[int]] = {}
    alts: dict[tuple[int, int], Counter[str]] = {}
    for _, seg in aligned.records:
        if seg.is_unmapped or seg.mapping_quality < 60:
            continue
        tid, start = seg.reference_id, seg.reference_start
        seq = seg.query_sequence or ""
        starts.setdefault(tid, []).append(start)
        ends.setdefault(tid, []).append(start + len(seq))
        ref = index.sequences[index.names[tid]]
        for offset, base in enumerate(seq):
            if base != ref[start + offset] and base != "N":
                alts.setdefault((tid, start + offset), Counter())[base] += 1
    for values in (*starts.values(), *ends.values()):
        values.sort()
    calls = []
    for (tid, pos), counts in sorted(alts.items()):
        base, count = counts.most_common(1)[0]
        depth = bisect.bisect_right(starts[tid], pos) - bisect.bisect_right(ends[tid], pos)
        if count >= 2 and depth >= min_depth and count / depth >= 0.25:
            ref_base = index.sequences[index.names[tid]][pos]
            calls.append((tid, pos, ref_base, base, depth, count))
    return calls


def run_caller(job: Job) -> list[OutputSet]:
    index = reference_index()
    min_depth = max(1, job.integer("vc-min-depth", 2))
    outputs = []
    for entity in _inputs(job):
        stem = safe_name(entity.name)
        out_dir = job.workdir / f"{entity.kind}-{entity.id}"
        out_dir.mkdir(parents=True, exist_ok=True)
        header = _header(index, entity.name, stem, job)
        aligned = align_pairs(index, header, fastq_pairs(entity), stem)
        calls = _call(index, aligned, min_depth)
        lines = [
            "##fileformat=VCFv4.2",
            f"##source={job.app_name} {job.app_version} (bsmount emulator)",
            f"##reference={job.option('ht-ref', 'hg38')}",
            *(f"##contig=<ID={n},length={len(index.sequences[n])}>" for n in index.names),
            '##INFO=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
            '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">',
            '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + entity.name,
        ]
        for tid, pos, ref, alt, depth, count in calls:
            genotype = "1/1" if count / depth >= 0.8 else "0/1"
            quality = min(99, 10 * count)
            lines.append(
                f"{index.names[tid]}\t{pos + 1}\t.\t{ref}\t{alt}\t{quality}\tPASS\tDP={depth}"
                f"\tGT:AD:DP\t{genotype}:{depth - count},{count}:{depth}"
            )
        plain = out_dir / f"{stem}.hard-filtered.vcf"
        plain.write_text("\n".join(lines) + "\n", encoding="utf-8")
        vcf = Path(pysam.tabix_index(str(plain), preset="vcf", force=True))
        metrics = out_dir / f"{stem}.vc_metrics.csv"
        metrics.write_text(
            "metric,value\n"
            f"reads,{aligned.reads}\nmapped_reads,{aligned.mapped}\nsnvs,{len(calls)}\n",
            encoding="utf-8",
        )
        output = OutputSet(entity.name, f"{job.app_name} {job.app_version}: small variants")
        output.references.append(("using", entity.kind, entity.id))
        output.files += [
            (vcf.name, vcf),
            (vcf.name + ".tbi", Path(str(vcf) + ".tbi")),
            (metrics.name, metrics),
        ]
        outputs.append(output)
    return outputs
