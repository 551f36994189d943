"""The demo's simulated genome: a random reference, a variant set, and the VCF that lists it.

Owns the reference sequences (:data:`CONTIGS`, leading ``N`` runs on the nuclear contigs like
telomeres), the variants (SNPs and short indels, genotyped for the two :data:`VCF_SAMPLES`), the
per-haplotype SNP tables the read simulator applies to reads, and writing the bgzipped,
tabix-indexed VCF. Everything comes from fixed seeds: the same bytes on every machine.
"""

from __future__ import annotations

import bisect
import logging
import random
from dataclasses import dataclass
from pathlib import Path

import pysam

log = logging.getLogger(__name__)

CONTIGS: dict[str, int] = {"chr1": 2_000_000, "chr2": 1_500_000, "chrM": 16_569}
#: Leading ``N`` bases on the nuclear contigs (no reads, no variants there).
TELOMERE: dict[str, int] = {"chr1": 10_000, "chr2": 10_000, "chrM": 0}
#: Variants per contig: a few thousand in all.
VARIANT_COUNTS: dict[str, int] = {"chr1": 1_800, "chr2": 1_350, "chrM": 30}
#: The samples genotyped in the VCF; the BAM holds reads of the first.
VCF_SAMPLES: tuple[str, str] = ("Myeloid-DNA-Rep1", "Myeloid-DNA-Rep2")
REFERENCE_NAME = "bsmount-demo-ref-v1"

_ACGT = b"ACGT"
_TO_ACGT = bytes.maketrans(bytes(range(256)), _ACGT * 64)
_GENOTYPES: tuple[tuple[int, int], ...] = ((0, 1), (0, 1), (0, 1), (1, 1), (1, 1), (0, 0))


@dataclass(frozen=True)
class Variant:
    """One VCF record: 0-based ``pos``, alleles and one diploid genotype per VCF sample."""

    contig: str
    pos: int
    ref: str
    alt: str
    genotypes: tuple[tuple[int, int], ...]
    qual: float
    depths: tuple[int, ...]

    @property
    def is_snp(self) -> bool:
        return len(self.ref) == 1 and len(self.alt) == 1


@dataclass(frozen=True)
class HaplotypeSnps:
    """The SNP alleles one haplotype of one sample carries on one contig, sorted by position."""

    positions: list[int]
    alts: list[int]  # the alternate base as a byte value

    def between(self, start: int, end: int) -> list[tuple[int, int]]:
        """The (position, base) pairs with ``start <= position < end``."""
        lo = bisect.bisect_left(self.positions, start)
        hi = bisect.bisect_left(self.positions, end, lo)
        return list(zip(self.positions[lo:hi], self.alts[lo:hi], strict=True))


@dataclass(frozen=True)
class Genome:
    """The reference (ASCII bytes per contig), its variants and the per-haplotype SNP tables."""

    sequences: dict[str, bytes]
    variants: dict[str, list[Variant]]
    # haplotypes[sample index][haplotype 0/1][contig]
    haplotypes: tuple[tuple[dict[str, HaplotypeSnps], ...], ...]

    @property
    def lengths(self) -> dict[str, int]:
        return {name: len(seq) for name, seq in self.sequences.items()}


def random_bases(rng: random.Random, n: int) -> bytes:
    """``n`` uniformly random A/C/G/T bases."""
    return rng.randbytes(n).translate(_TO_ACGT)


def build_genome(seed: int = 20180718) -> Genome:
    """The deterministic demo genome: sequences, variants, haplotype SNP tables."""
    rng = random.Random(seed)
    sequences: dict[str, bytes] = {}
    for name, length in CONTIGS.items():
        n_run = TELOMERE[name]
        sequences[name] = b"N" * n_run + random_bases(rng, length - n_run)
    variants = {name: _make_variants(rng, name, sequences[name]) for name in CONTIGS}
    haplotypes = tuple(
        tuple(_haplotype_tables(variants, sample, hap) for hap in (0, 1))
        for sample in range(len(VCF_SAMPLES))
    )
    return Genome(sequences=sequences, variants=variants, haplotypes=haplotypes)


def _make_variants(rng: random.Random, contig: str, seq: bytes) -> list[Variant]:
    lo, hi = TELOMERE[contig] + 200, len(seq) - 200
    positions = sorted(rng.sample(range(lo, hi), VARIANT_COUNTS[contig]))
    out: list[Variant] = []
    last_end = -1
    for pos in positions:
        if pos <= last_end + 10:  # keep records apart so indel alleles never overlap
            continue
        ref_base = chr(seq[pos])
        kind = rng.random()
        if kind < 0.85:
            ref = ref_base
            alt = rng.choice([b for b in "ACGT" if b != ref_base])
        elif kind < 0.925:
            ref = seq[pos : pos + 1 + rng.randint(1, 6)].decode()
            alt = ref_base
        else:
            ref = ref_base
            alt = ref_base + random_bases(rng, rng.randint(1, 6)).decode()
        if contig == "chrM":
            genotypes: tuple[tuple[int, int], ...] = ((1, 1), rng.choice(((1, 1), (0, 0))))
        else:
            genotypes = (rng.choice(_GENOTYPES), rng.choice(_GENOTYPES))
            if genotypes == ((0, 0), (0, 0)):
                genotypes = ((0, 1), (0, 0))
        base_depth = 400 if contig == "chrM" else 30
        depths = tuple(max(4, int(rng.gauss(base_depth, base_depth / 4))) for _ in genotypes)
        alt_reads = sum(sum(gt) * d / 2 for gt, d in zip(genotypes, depths, strict=True))
        qual = round(max(3.0, alt_reads * rng.uniform(20.0, 32.0) + rng.gauss(0, 15)), 2)
        if rng.random() < 0.04:  # a few weak calls that end up filtered
            qual = round(rng.uniform(3.0, 29.0), 2)
        out.append(Variant(contig, pos, ref, alt, genotypes, qual, depths))
        last_end = pos + len(ref) - 1
    return out


def _haplotype_tables(
    variants: dict[str, list[Variant]], sample: int, hap: int
) -> dict[str, HaplotypeSnps]:
    tables: dict[str, HaplotypeSnps] = {}
    for contig, records in variants.items():
        carried = [v for v in records if v.is_snp and v.genotypes[sample][hap] == 1]
        tables[contig] = HaplotypeSnps([v.pos for v in carried], [ord(v.alt) for v in carried])
    return tables


_VCF_HEADER = """##fileformat=VCFv4.2
##fileDate=20180719
##source=bsmount-demo-simulator (GATK HaplotypeCaller-like records)
##reference=file:///genomes/{reference}.fa
{contigs}
##FILTER=<ID=PASS,Description="All filters passed">
##FILTER=<ID=LowQual,Description="Low quality">
##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count in genotypes, for each ALT allele">
##INFO=<ID=AF,Number=A,Type=Float,Description="Allele Frequency, for each ALT allele">
##INFO=<ID=AN,Number=1,Type=Integer,Description="Total number of alleles in called genotypes">
##INFO=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth">
##INFO=<ID=MQ,Number=1,Type=Float,Description="RMS Mapping Quality">
##INFO=<ID=QD,Number=1,Type=Float,Description="Variant Confidence/Quality by Depth">
##INFO=<ID=VT,Number=1,Type=String,Description="Variant type: SNP, INS or DEL">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths for the ref and alt alleles">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth">
##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype Quality">
##FORMAT=<ID=PL,Number=G,Type=Integer,Description="Phred-scaled genotype likelihoods">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{samples}
"""


def write_vcf(genome: Genome, path: Path) -> tuple[Path, Path]:
    """Write ``path`` (must end in ``.vcf.gz``) bgzipped, plus its ``.tbi``; return both."""
    if not path.name.endswith(".vcf.gz"):
        raise ValueError(f"VCF path must end in .vcf.gz: {path}")
    plain = path.with_name(path.name[: -len(".gz")])
    contig_lines = "\n".join(
        f"##contig=<ID={name},length={length},assembly={REFERENCE_NAME}>"
        for name, length in genome.lengths.items()
    )
    rng = random.Random(7)
    with plain.open("w", encoding="ascii", newline="\n") as out:
        out.write(
            _VCF_HEADER.format(
                reference=REFERENCE_NAME, contigs=contig_lines, samples="\t".join(VCF_SAMPLES)
            )
        )
        for contig in genome.sequences:
            out.writelines(_vcf_line(v, rng) for v in genome.variants[contig])
    pysam.tabix_index(str(plain), preset="vcf", force=True)  # bgzips to path, removes plain
    tbi = path.with_name(path.name + ".tbi")
    log.debug("wrote %s (%d bytes) and its index", path, path.stat().st_size)
    return path, tbi


def _vcf_line(v: Variant, rng: random.Random) -> str:
    called = [a for gt in v.genotypes for a in gt]
    ac = sum(called)
    depth = sum(v.depths)
    vtype = "SNP" if v.is_snp else ("DEL" if len(v.ref) > len(v.alt) else "INS")
    info = (
        f"AC={ac};AF={ac / len(called):.3f};AN={len(called)};DP={depth};MQ=60.00;"
        f"QD={v.qual / depth:.2f};VT={vtype}"
    )
    samples = [_sample_field(gt, dp, rng) for gt, dp in zip(v.genotypes, v.depths, strict=True)]
    filt = "PASS" if v.qual >= 30 else "LowQual"
    return (
        f"{v.contig}\t{v.pos + 1}\t.\t{v.ref}\t{v.alt}\t{v.qual:.2f}\t{filt}\t{info}\t"
        f"GT:AD:DP:GQ:PL\t{chr(9).join(samples)}\n"
    )


def _sample_field(gt: tuple[int, int], depth: int, rng: random.Random) -> str:
    n_alt = sum(gt)
    if n_alt == 0:
        alt = rng.randint(0, 1)
        pl = f"0,{3 * depth},{30 * depth}"
    elif n_alt == 1:
        alt = max(1, min(depth - 1, round(rng.gauss(depth / 2, depth / 8))))
        pl = f"{30 * alt},0,{30 * (depth - alt)}"
    else:
        alt = depth - rng.randint(0, 1)
        pl = f"{30 * depth},{3 * depth},0"
    gq = min(99, 3 * depth)
    return f"{gt[0]}/{gt[1]}:{depth - alt},{alt}:{depth}:{gq}:{pl}"
