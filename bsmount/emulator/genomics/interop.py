"""InterOp metric files for the demo run, in the binary layouts Illumina's InterOp library reads.

Owns the bytes of ``TileMetricsOut.bin`` (v2), ``ErrorMetricsOut.bin`` (v3),
``ExtractionMetricsOut.bin`` (v2), ``QMetricsOut.bin`` (v4), ``CorrectedIntMetricsOut.bin`` (v2)
and ``IndexMetricsOut.bin`` (v1): a version byte, a record-size byte for the fixed-size formats,
then little-endian records per lane/tile(/cycle). Values are plausible for a MiSeq v2 2x151 run
(28 tiles, densities near 900 K/mm2, Q30 above 85%), drawn from a fixed seed.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence

from bsmount.emulator.genomics.reads import READ_LENGTH, TILES

#: Clusters on each tile: the run folder's BCL/filter/locs files hold this many records.
CLUSTERS_PER_TILE = 4_096
LANE = 1
_TILE_AREA_MM2 = 0.0046  # makes CLUSTERS_PER_TILE read as ~890 K/mm2
_START_TICKS = 636_675_036_870_000_000  # .NET ticks for 2018-07-18 09:41:27 UTC
_TICKS_PER_CYCLE = 5 * 60 * 10_000_000

ReadSpec = tuple[int, int, bool]  # (read number, cycles, is index read)


def _cycles(reads: Sequence[ReadSpec]) -> list[tuple[int, int, bool]]:
    """(cycle, cycle within its read, is index) for every cycle of the run."""
    out: list[tuple[int, int, bool]] = []
    for _, n, is_index in reads:
        first = len(out)
        out.extend((first + i + 1, i + 1, is_index) for i in range(n))
    return out


def tile_metrics(rng: random.Random, reads: Sequence[ReadSpec]) -> bytes:
    records = [struct.pack("<BB", 2, 10)]
    for tile in TILES:
        clusters = CLUSTERS_PER_TILE + rng.randint(-150, 150)
        pf = int(clusters * rng.uniform(0.86, 0.94))
        values: list[tuple[int, float]] = [
            (100, clusters / _TILE_AREA_MM2),
            (101, pf / _TILE_AREA_MM2),
            (102, float(clusters)),
            (103, float(pf)),
        ]
        for i, (_, _, is_index) in enumerate(reads):
            values.append((200 + 2 * i, rng.uniform(0.0008, 0.0015)))  # phasing
            values.append((201 + 2 * i, rng.uniform(0.0005, 0.0011)))  # prephasing
            if not is_index:
                values.append((300 + i, rng.uniform(0.9, 1.6)))  # % aligned to PhiX
        values.append((400, 0.0))  # control lane
        records.extend(struct.pack("<HHHf", LANE, tile, code, v) for code, v in values)
    return b"".join(records)


def error_metrics(rng: random.Random, reads: Sequence[ReadSpec]) -> bytes:
    records = [struct.pack("<BB", 3, 30)]
    for tile in TILES:
        aligned = rng.randint(40, 70)
        for cycle, within, is_index in _cycles(reads):
            if (
                is_index or within == READ_LENGTH
            ):  # no error rate for index reads or a read's last cycle
                continue
            rate = 0.1 + 0.9 * (within / READ_LENGTH) ** 3 + rng.uniform(0.0, 0.15)
            perfect = max(0, aligned - int(aligned * rate * within / 100))
            records.append(
                struct.pack(
                    "<HHHfIIIII", LANE, tile, cycle, rate, perfect, aligned - perfect, 1, 0, 0
                )
            )
    return b"".join(records)


def extraction_metrics(rng: random.Random, reads: Sequence[ReadSpec]) -> bytes:
    records = [struct.pack("<BB", 2, 38)]
    for tile in TILES:
        for cycle, within, _ in _cycles(reads):
            fwhm = [rng.uniform(2.4, 2.9) for _ in range(4)]
            fade = 1.0 - 0.35 * within / READ_LENGTH
            intensity = [int(v * fade) + rng.randint(-40, 40) for v in (520, 610, 380, 450)]
            ticks = _START_TICKS + cycle * _TICKS_PER_CYCLE + tile * 10_000_000
            records.append(struct.pack("<HHH4f4HQ", LANE, tile, cycle, *fwhm, *intensity, ticks))
    return b"".join(records)


def _q_histogram(rng: random.Random, within: int, pf: int) -> list[int]:
    """Counts of base calls by quality Q1..Q50 for one tile and cycle."""
    hist = [0] * 50
    shift = int(6 * (within / READ_LENGTH) ** 2)
    weights = ((38, 0.55), (37, 0.2), (35, 0.1), (32, 0.06), (27, 0.04), (20, 0.03), (12, 0.02))
    for q, share in weights:
        hist[max(1, q - shift) - 1] += int(pf * share * rng.uniform(0.9, 1.1))
    return hist


def q_metrics(rng: random.Random, reads: Sequence[ReadSpec]) -> bytes:
    records = [struct.pack("<BB", 4, 206)]
    for tile in TILES:
        pf = int(CLUSTERS_PER_TILE * 0.9)
        for cycle, within, _ in _cycles(reads):
            hist = _q_histogram(rng, within, pf)
            records.append(struct.pack("<HHH50I", LANE, tile, cycle, *hist))
    return b"".join(records)


def corrected_intensity_metrics(rng: random.Random, reads: Sequence[ReadSpec]) -> bytes:
    records = [struct.pack("<BB", 2, 48)]
    for tile in TILES:
        for cycle, within, _ in _cycles(reads):
            fade = 1.0 - 0.3 * within / READ_LENGTH
            corrected = [int(v * fade) + rng.randint(-25, 25) for v in (310, 295, 270, 300)]
            called = [c + rng.randint(10, 60) for c in corrected]
            calls = [rng.randint(0, 8)] + [CLUSTERS_PER_TILE // 4 + rng.randint(-90, 90)] * 4
            snr = rng.uniform(8.0, 12.0) * fade
            avg = sum(corrected) // 4
            records.append(
                struct.pack(
                    "<HHHH4H4H5If", LANE, tile, cycle, avg, *corrected, *called, *calls, snr
                )
            )
    return b"".join(records)


def _pascal(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("<H", len(raw)) + raw


def index_metrics(rng: random.Random, samples: Sequence[tuple[str, str, str]]) -> bytes:
    """v1: per tile and sample, the index read's barcode, cluster count, sample and project."""
    records = [struct.pack("<B", 1)]
    for tile in TILES:
        for sample_id, _, index in samples:
            records.append(
                struct.pack("<HHH", LANE, tile, 2)
                + _pascal(index)
                + struct.pack("<I", rng.randint(300, 900))
                + _pascal(sample_id)
                + _pascal("MyeloidDNA")
            )
    return b"".join(records)


def write_interop(
    rng: random.Random, samples: Sequence[tuple[str, str, str]], reads: Sequence[ReadSpec]
) -> dict[str, bytes]:
    """File name -> bytes for every InterOp file of the run."""
    return {
        "TileMetricsOut.bin": tile_metrics(rng, reads),
        "ErrorMetricsOut.bin": error_metrics(rng, reads),
        "ExtractionMetricsOut.bin": extraction_metrics(rng, reads),
        "QMetricsOut.bin": q_metrics(rng, reads),
        "CorrectedIntMetricsOut.bin": corrected_intensity_metrics(rng, reads),
        "IndexMetricsOut.bin": index_metrics(rng, samples),
    }
