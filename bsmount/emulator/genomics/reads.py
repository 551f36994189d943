"""Paired-end read simulation for the demo genome, and the FASTQ.gz writer.

Owns the MiSeq-like run identity shared by read names and the run folder (:data:`INSTRUMENT`,
:data:`RUN_NUMBER`, :data:`FLOWCELL`, :data:`TILES`, :data:`READ_LENGTH`), the quality model, the
:class:`ReadSimulator` (fragments drawn from the reference, the sample's SNP alleles applied per
haplotype, sequencing errors biased towards read ends with lowered qualities there), and writing a
sample's R1/R2 pair as bcl2fastq-style gzip files with Illumina headers
(``@M04074:242:000000000-BRGPG:1:1101:15589:1331 1:N:0:ATCACG``).
"""

from __future__ import annotations

import gzip
import logging
import operator
import random
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import NamedTuple

from bsmount.emulator.genomics.reference import TELOMERE, Genome, random_bases

log = logging.getLogger(__name__)

INSTRUMENT = "M04074"
RUN_NUMBER = 242
FLOWCELL = "000000000-BRGPG"
LANE = 1
#: MiSeq v2 flow cell: 2 surfaces x 1 swath x 14 tiles.
TILES: tuple[int, ...] = (*range(1101, 1115), *range(2101, 2115))
READ_LENGTH = 151
INDEX_LENGTH = 6
#: Fragment length distribution (mean, sd, min, max).
INSERT = (350.0, 70.0, 180, 800)
#: Per-base coverage of chrM relative to the nuclear contigs (mitochondria are many-copy).
CHRM_COVERAGE_FACTOR = 40

_COMPLEMENT = bytes.maketrans(b"ACGTN", b"TGCAN")
_OTHER_BASES: dict[int, bytes] = {b: bytes(o for o in b"ACGT" if o != b)[:3] for b in b"ACGTN"}
# Sequencing errors per read, indexed by 6 random bits: R1 averages ~0.8, R2 ~1.4.
_ERRORS_R1 = bytes([0] * 30 + [1] * 20 + [2] * 9 + [3] * 4 + [5] * 1)
_ERRORS_R2 = bytes([0] * 18 + [1] * 22 + [2] * 14 + [3] * 6 + [4] * 3 + [7] * 1)


def reverse_complement(seq: bytes) -> bytes:
    return seq.translate(_COMPLEMENT)[::-1]


def random_bases_str(rng: random.Random, n: int) -> str:
    return random_bases(rng, n).decode("ascii")


class QualityDraw(NamedTuple):
    """A read's qualities and sequencing-error positions, in both orientations."""

    forward: str  # Phred+33 qualities, first cycle first
    reverse: str  # the same reversed: the read's qualities in reference order on the - strand
    errors_forward: tuple[int, ...]  # read offsets of sequencing errors (quality lowered there)
    errors_reverse: tuple[int, ...]  # the same offsets counted from the read's other end


class QualityModel:
    """Pools of MiSeq-like quality strings, each with the read's sequencing-error positions.

    Qualities are a per-read profile (mean by cycle, shifted by a per-read offset) plus Gaussian
    noise that widens along the read, clamped to Q12..Q38; ~4% of reads end in a Q2 ('#') tail
    like Illumina's read-segment quality control indicator. Errors (R1 ~0.8 per read, R2 ~1.4)
    pile up towards the 3' end and get Q8..Q22. Built once per simulator with bytes operations,
    so a read costs one random draw from the pool.
    """

    POOL_BITS = 12
    _OFFSETS = range(-4, 5)
    _SEGMENTS = ((0, 50, 1.4), (50, 100, 2.4), (100, READ_LENGTH, 3.8))  # (from, to, noise sd)

    def __init__(self, rng: random.Random) -> None:
        normal = NormalDist()
        self._noise = [
            bytes(64 + round(normal.inv_cdf((i + 0.5) / 256) * sd) for i in range(256))
            for _, _, sd in self._SEGMENTS
        ]
        self._clamp = bytes(33 + min(38, max(12, v - 128)) for v in range(256))
        size = 1 << self.POOL_BITS
        self.pools: tuple[list[QualityDraw], list[QualityDraw]] = (
            self._pool(rng, size, 6.0, _ERRORS_R1),
            self._pool(rng, size, 9.0, _ERRORS_R2),
        )

    def _pool(
        self, rng: random.Random, size: int, decay: float, errors: bytes
    ) -> list[QualityDraw]:
        profiles = [
            bytes(
                64 + round(37.5 + off - decay * (c / READ_LENGTH) ** 3 - (2.5 if c < 3 else 0.0))
                for c in range(READ_LENGTH)
            )
            for off in self._OFFSETS
        ]
        pool: list[QualityDraw] = []
        last = READ_LENGTH - 1
        for _ in range(size):
            raw = rng.randbytes(READ_LENGTH)
            noise = b"".join(
                raw[lo:hi].translate(table)
                for (lo, hi, _), table in zip(self._SEGMENTS, self._noise, strict=True)
            )
            profile = profiles[min(len(profiles) - 1, max(0, round(rng.gauss(4.0, 1.5))))]
            qual = bytearray(map(operator.add, profile, noise)).translate(self._clamp)
            if rng.random() < 0.04:
                tail = rng.randint(5, 60)
                qual[READ_LENGTH - tail :] = b"#" * tail
            cycles: set[int] = set()
            for _ in range(errors[rng.getrandbits(6)]):
                r = rng.random()
                cycle = last - int(READ_LENGTH * r * r)  # errors pile up at the end
                cycles.add(cycle)
                qual[cycle] = 41 + rng.randrange(15)  # Q8..Q22
            text = qual.decode("ascii")
            ordered = tuple(sorted(cycles))
            pool.append(QualityDraw(text, text[::-1], ordered, tuple(last - c for c in ordered)))
        return pool

    def pick(self, rng: random.Random, read_no: int) -> QualityDraw:
        return self.pools[read_no - 1][rng.getrandbits(self.POOL_BITS)]


@dataclass(slots=True)
class SimRead:
    """One read in reference orientation: ``seq``/``qual`` read left to right along the contig."""

    start: int  # 0-based leftmost reference position
    seq: bytes
    qual: str
    reverse: bool
    mismatches: list[int]  # sorted offsets in the read where it differs from the reference

    def sequenced(self) -> tuple[str, str]:
        """(bases, qualities) as the sequencer read them (what a FASTQ holds)."""
        if self.reverse:
            return reverse_complement(self.seq).decode("ascii"), self.qual[::-1]
        return self.seq.decode("ascii"), self.qual


class ReadSimulator:
    """Draws read pairs from ``genome`` carrying the SNP alleles of VCF sample ``sample``."""

    def __init__(self, genome: Genome, sample: int, seed: int) -> None:
        self.genome = genome
        self.sample = sample
        self.rng = random.Random(seed)
        self.qualities = QualityModel(random.Random(seed + 1))
        self._snps = genome.haplotypes[sample]
        self._used_names: set[int] = set()
        contigs = list(genome.sequences)
        weights = [
            (len(genome.sequences[c]) - TELOMERE[c]) * (CHRM_COVERAGE_FACTOR if c == "chrM" else 1)
            for c in contigs
        ]
        total = sum(weights)
        self.contig_shares: dict[str, float] = {
            c: w / total for c, w in zip(contigs, weights, strict=True)
        }

    def cluster(self) -> tuple[int, int, int]:
        """A unique (tile, x, y) cluster position for a read name."""
        rand = self.rng.random
        while True:
            tile = TILES[int(rand() * len(TILES))]
            x, y = 1000 + int(rand() * 29000), 1000 + int(rand() * 29000)
            key = (tile * 30000 + x) * 30000 + y
            if key not in self._used_names:
                self._used_names.add(key)
                return tile, x, y

    def insert_length(self) -> int:
        mean, sd, lo, hi = INSERT
        n = int(self.rng.gauss(mean, sd))
        return lo if n < lo else (hi if n > hi else n)

    def random_start(self, contig: str) -> int:
        lo = TELOMERE[contig]
        return lo + int(self.rng.random() * (len(self.genome.sequences[contig]) - INSERT[3] - lo))

    def fragment(self, contig: str, start: int, length: int) -> tuple[SimRead, SimRead]:
        """(R1, R2) from ``[start, start+length)``: R1 on either strand, R2 on the other."""
        rng = self.rng
        hap = rng.getrandbits(1)
        r1_forward = rng.getrandbits(1) == 1
        right = start + length - READ_LENGTH
        r1 = self._read(contig, start if r1_forward else right, 1, not r1_forward, hap)
        r2 = self._read(contig, right if r1_forward else start, 2, r1_forward, hap)
        return r1, r2

    def _read(self, contig: str, start: int, read_no: int, reverse: bool, hap: int) -> SimRead:
        rng = self.rng
        ref = self.genome.sequences[contig]
        end = start + READ_LENGTH
        snps = self._snps[hap][contig]
        lo = bisect_left(snps.positions, start)
        hi = bisect_left(snps.positions, end, lo)
        draw = self.qualities.pools[read_no - 1][rng.getrandbits(QualityModel.POOL_BITS)]
        if reverse:
            qual, errors = draw.reverse, draw.errors_reverse
        else:
            qual, errors = draw.forward, draw.errors_forward
        if lo == hi and not errors:  # the common case: the read matches the reference
            return SimRead(start, ref[start:end], qual, reverse, [])
        changed = {snps.positions[i] - start: snps.alts[i] for i in range(lo, hi)}
        for off in errors:
            ref_base = ref[start + off]
            new = _OTHER_BASES[changed.get(off, ref_base)][int(rng.random() * 3)]
            if new == ref_base:
                changed.pop(off, None)
            else:
                changed[off] = new
        seq = bytearray(ref[start:end])
        for off, base in changed.items():
            seq[off] = base
        return SimRead(start, bytes(seq), qual, reverse, sorted(changed))


def read_name(tile: int, x: int, y: int) -> str:
    return f"{INSTRUMENT}:{RUN_NUMBER}:{FLOWCELL}:{LANE}:{tile}:{x}:{y}"


def fastq_pair_text(
    genome: Genome, sample: int, n_pairs: int, index: str, seed: int
) -> tuple[bytes, bytes]:
    """The uncompressed R1 and R2 FASTQ text of ``n_pairs`` pairs, in bcl2fastq tile order."""
    sim = ReadSimulator(genome, sample, seed)
    rng = sim.rng
    clusters = sorted((sim.cluster() for _ in range(n_pairs)), key=lambda c: (c[0], c[2], c[1]))
    contigs = list(sim.contig_shares)
    weights = list(sim.contig_shares.values())
    r1_lines: list[str] = []
    r2_lines: list[str] = []
    for tile, x, y in clusters:
        contig = rng.choices(contigs, weights)[0]
        r1, r2 = sim.fragment(contig, sim.random_start(contig), sim.insert_length())
        name = read_name(tile, x, y)
        seq1, qual1 = r1.sequenced()
        seq2, qual2 = r2.sequenced()
        r1_lines.append(f"@{name} 1:N:0:{index}\n{seq1}\n+\n{qual1}\n")
        r2_lines.append(f"@{name} 2:N:0:{index}\n{seq2}\n+\n{qual2}\n")
    return "".join(r1_lines).encode("ascii"), "".join(r2_lines).encode("ascii")


def write_gzip(path: Path, data: bytes) -> Path:
    """Write ``data`` gzip-compressed, with a zero mtime so the bytes are deterministic.

    Level 4 is bcl2fastq's default. zlib releases the GIL, so callers may run this in a thread.
    """
    path.write_bytes(gzip.compress(data, compresslevel=4, mtime=0))
    log.debug("wrote %s (%d bytes)", path, path.stat().st_size)
    return path
