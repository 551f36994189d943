"""What a launched app works on: a :class:`Job` (a snapshot of the inputs, every entity's files
as content sources, and the string options), the :class:`OutputSet` objects it produces (one per
AppResult to create), the step plan its session shows while it runs (:func:`plan_steps`), and the
FASTQ helpers the runners share. The runners are :mod:`.toolkit` and :mod:`.align`, picked by
:func:`bsmount.emulator.apps.runners.run_job`.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

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
    "content_bytes",
    "entities_of",
    "fastq_pairs",
    "plan_steps",
    "safe_name",
    "write_fastq_gz",
]

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


def entities_of(job: Job, *kinds: str) -> Iterator[InputEntity]:
    for entities in job.inputs.values():
        for entity in entities:
            if entity.kind in kinds:
                yield entity
