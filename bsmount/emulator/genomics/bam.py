"""The demo BAM: simulated read pairs of one sample, aligned by construction, coordinate-sorted.

Owns the BAM header (@HD SO:coordinate, @SQ with M5, an @RG, a bwa -> samtools @PG chain), the SAM
records (proper pairs with NM/MD/MC/AS/XS/RG tags, some low-MAPQ reads, pairs with an unmapped mate
placed at its mate, and fully unmapped pairs at the end), writing them in coordinate order without
a sort step (fragment starts are drawn sorted; right mates wait in a heap), and the BAI.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
from collections.abc import Iterator
from pathlib import Path

import pysam

from bsmount.emulator.genomics.reads import (
    FLOWCELL,
    INSERT,
    LANE,
    READ_LENGTH,
    ReadSimulator,
    SimRead,
    random_bases_str,
    read_name,
)
from bsmount.emulator.genomics.reference import REFERENCE_NAME, TELOMERE, VCF_SAMPLES, Genome

log = logging.getLogger(__name__)

#: Read pairs in the BAM (about 26 MB of BAM at compression level 1).
BAM_PAIRS = 90_000
#: BGZF level: level 1 costs a third of the CPU of the default 6 for ~10% more bytes.
COMPRESSION_LEVEL = 1
READ_GROUP = f"{FLOWCELL}.{LANE}"
_UNMAPPED_MATE_RATE = 0.006
_UNMAPPED_PAIRS = 400
_CIGAR = f"{READ_LENGTH}M"
_MATE_CIGAR_TAG = f"\tMC:Z:{_CIGAR}"
_RG_TAG = f"\tRG:Z:{READ_GROUP}"


def bam_header_text(genome: Genome, sample: str, index: str) -> str:
    lines = ["@HD\tVN:1.6\tSO:coordinate"]
    for name, seq in genome.sequences.items():
        md5 = hashlib.md5(seq.upper(), usedforsecurity=False).hexdigest()
        lines.append(
            f"@SQ\tSN:{name}\tLN:{len(seq)}\tAS:{REFERENCE_NAME}\tM5:{md5}\t"
            f"UR:file:///genomes/{REFERENCE_NAME}.fa"
        )
    lines.append(
        f"@RG\tID:{READ_GROUP}\tSM:{sample}\tLB:{sample}-lib1\tPL:ILLUMINA\tPM:MiSeq\t"
        f"PU:{FLOWCELL}.{LANE}.{index}\tCN:bsmount-demo\tDT:2018-07-18T09:41:27+0000"
    )
    rg = f"@RG\\tID:{READ_GROUP}\\tSM:{sample}\\tPL:ILLUMINA"
    lines.append(
        f"@PG\tID:bwa\tPN:bwa\tVN:0.7.17-r1188\tCL:bwa mem -t 8 -R {rg} "
        f"{REFERENCE_NAME}.fa {sample}_S1_L001_R1_001.fastq.gz {sample}_S1_L001_R2_001.fastq.gz"
    )
    lines.append(
        f"@PG\tID:samtools\tPN:samtools\tPP:bwa\tVN:1.16.1\tCL:samtools sort -@ 8 -o {sample}.bam -"
    )
    return "\n".join(lines) + "\n"


def _md(read: SimRead, ref: bytes) -> str:
    if not read.mismatches:
        return str(READ_LENGTH)
    parts: list[str] = []
    prev = 0
    for off in read.mismatches:
        parts.append(f"{off - prev}{chr(ref[read.start + off])}")
        prev = off + 1
    parts.append(str(READ_LENGTH - prev))
    return "".join(parts)


class _Records:
    """Builds the SAM lines of one simulated sample, in coordinate order."""

    def __init__(self, genome: Genome, sim: ReadSimulator) -> None:
        self.genome = genome
        self.sim = sim
        self.rng = sim.rng

    def mapped(
        self, name: str, flag: int, contig: str, read: SimRead, pnext: int, tlen: int
    ) -> str:
        """A mapped read; ``flag`` says whether its mate is mapped (then it gets an MC tag)."""
        rand = self.rng.random
        nm = len(read.mismatches)
        score = READ_LENGTH - 5 * nm
        if rand() < 0.03:  # a repeat: the second-best hit scores as well as the best
            mapq, xs = int(rand() * 4), score
        else:
            mapq, xs = 60, 19 + int(rand() * 22)
        md = _md(read, self.genome.sequences[contig]) if nm else _CIGAR[:-1]
        mc = "" if flag & 8 else _MATE_CIGAR_TAG
        return (
            f"{name}\t{flag}\t{contig}\t{read.start + 1}\t{mapq}\t{_CIGAR}\t=\t{pnext}\t{tlen}\t"
            f"{read.seq.decode('ascii')}\t{read.qual}\tNM:i:{nm}\tMD:Z:{md}{mc}\tAS:i:{score}\t"
            f"XS:i:{xs}{_RG_TAG}"
        )

    def unmapped(self, name: str, read_no: int, contig: str, pos: int, mate_reverse: bool) -> str:
        """An unmapped read (junk sequence) placed at its mapped mate, or at the end if ``*``."""
        flag = 1 | 4 | (64 if read_no == 1 else 128)
        if contig == "*":
            flag |= 8
        elif mate_reverse:
            flag |= 32
        seq = random_bases_str(self.rng, READ_LENGTH)
        qual = self.sim.qualities.pick(self.rng, read_no).forward
        rnext = "*" if contig == "*" else "="
        return f"{name}\t{flag}\t{contig}\t{pos}\t0\t*\t{rnext}\t{pos}\t0\t{seq}\t{qual}{_RG_TAG}"

    def contig_lines(self, contig: str, n_pairs: int) -> Iterator[str]:
        sim, rng = self.sim, self.rng
        lo = TELOMERE[contig]
        hi = len(self.genome.sequences[contig]) - INSERT[3]
        rand = rng.random
        starts = sorted(lo + int(rand() * (hi - lo)) for _ in range(n_pairs))
        waiting: list[tuple[int, int, str]] = []  # (0-based start, tie-breaker, SAM line)
        for serial, start in enumerate(starts):
            while waiting and waiting[0][0] <= start:
                yield heapq.heappop(waiting)[2]
            r1, r2 = sim.fragment(contig, start, length := sim.insert_length())
            name = read_name(*sim.cluster())
            r1_left = r2.reverse
            left, right = (r1, r2) if r1_left else (r2, r1)
            if rand() < _UNMAPPED_MATE_RATE:  # the right mate did not align: placed at the left
                yield self.mapped(name, 73 if r1_left else 137, contig, left, start + 1, 0)
                yield self.unmapped(name, 2 if r1_left else 1, contig, start + 1, False)
                continue
            flags = (99, 147) if r1_left else (163, 83)
            yield self.mapped(name, flags[0], contig, left, right.start + 1, length)
            line = self.mapped(name, flags[1], contig, right, start + 1, -length)
            heapq.heappush(waiting, (right.start, serial, line))
        while waiting:
            yield heapq.heappop(waiting)[2]

    def all_lines(self, n_pairs: int) -> Iterator[str]:
        shares = self.sim.contig_shares
        contigs = list(shares)
        counts = {c: int(n_pairs * shares[c]) for c in contigs}
        counts[contigs[0]] += n_pairs - sum(counts.values())
        for contig in contigs:
            yield from self.contig_lines(contig, counts[contig])
        for _ in range(_UNMAPPED_PAIRS):
            name = read_name(*self.sim.cluster())
            yield self.unmapped(name, 1, "*", 0, False)
            yield self.unmapped(name, 2, "*", 0, False)


def write_bam(
    genome: Genome, path: Path, index: str, n_pairs: int = BAM_PAIRS
) -> tuple[Path, Path]:
    """Write the coordinate-sorted BAM of VCF sample 0 to ``path`` and index it; return both."""
    sim = ReadSimulator(genome, 0, seed=4242)
    header = pysam.AlignmentHeader.from_text(bam_header_text(genome, VCF_SAMPLES[0], index))
    records = _Records(genome, sim)
    options = [f"level={COMPRESSION_LEVEL}"]
    # htslib's pool needs 3 threads to keep 2 cores compressing while this thread parses.
    with pysam.AlignmentFile(
        str(path), "wb", header=header, threads=3, format_options=options
    ) as out:
        for line in records.all_lines(n_pairs):
            out.write(pysam.AlignedSegment.fromstring(line, header))
    pysam.index(str(path))
    bai = path.with_name(path.name + ".bai")
    log.debug("wrote %s (%d bytes) and its index", path, path.stat().st_size)
    return path, bai
