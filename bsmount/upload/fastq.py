"""FASTQ files copied into a project's ``Samples/`` (``bs upload dataset``'s main use): names,
checks and what is recorded.

A name must follow Illumina's convention, ``<Sample>_S<n>[_L<lane>]_R<1|2>_001.fastq[.gz]``: the
sample name groups files into one Sample per name. Before anything is sent, a file is read once
(in a worker thread) and must be gzip (or plain text) FASTQ: records of four lines, ``@`` header,
``+`` separator, as many quality characters as bases. The read count and longest read are kept:
they become the Sample's ``NumReadsRaw``/``NumReadsPF`` and ``Read1``/``Read2``, and R1 and R2
of one sample and lane must hold the same number of reads.
"""

from __future__ import annotations

import errno
import gzip
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from bsmount.errors import ControlError

__all__ = ["FastqName", "FastqStats", "inspect_fastq", "parse_fastq_name"]

_NAME = re.compile(
    r"^(?P<sample>.+?)_S(?P<number>\d+)(?:_L(?P<lane>\d{3}))?_R(?P<read>[12])_001"
    r"\.(?:fastq|fq)(?P<gz>\.gz)?$"
)
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class FastqName:
    sample: str
    number: int
    lane: str  # "" when the name has no lane
    read: int  # 1 or 2
    gzipped: bool


@dataclass(frozen=True, slots=True)
class FastqStats:
    reads: int
    longest: int


def parse_fastq_name(name: str) -> FastqName:
    match = _NAME.match(name)
    if match is None:
        raise ControlError(
            errno.EINVAL,
            f"{name!r}: files in Samples/ are FASTQ named like Illumina's convention, "
            "<Sample>_S1_L001_R1_001.fastq.gz (the sample name groups them into one Sample)",
        )
    return FastqName(
        sample=match["sample"],
        number=int(match["number"]),
        lane=match["lane"] or "",
        read=int(match["read"]),
        gzipped=bool(match["gz"]),
    )


def inspect_fastq(path: Path, name: str, gzipped: bool) -> FastqStats:
    """Read the whole file; its read count and longest read, or ControlError(EINVAL)."""
    reads = longest = 0
    pending = b""
    line_no = 0
    record: list[bytes] = []
    try:
        with gzip.open(path, "rb") if gzipped else open(path, "rb") as stream:
            while True:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                for line in lines:
                    line_no += 1
                    record.append(line.rstrip(b"\r"))
                    if len(record) == 4:
                        longest = max(longest, _check_record(record, name, line_no))
                        reads += 1
                        record = []
    except (OSError, EOFError, zlib.error) as exc:
        raise ControlError(errno.EINVAL, f"{name!r} is not a valid gzip file: {exc}") from None
    if pending:
        line_no += 1
        record.append(pending.rstrip(b"\r"))
        if len(record) == 4:
            longest = max(longest, _check_record(record, name, line_no))
            reads += 1
            record = []
    if record:
        raise ControlError(errno.EINVAL, f"{name!r}: the last FASTQ record is incomplete")
    if reads == 0:
        raise ControlError(errno.EINVAL, f"{name!r} holds no FASTQ records")
    return FastqStats(reads, longest)


def _check_record(record: list[bytes], name: str, line_no: int) -> int:
    header, bases, plus, quality = record
    if not header.startswith(b"@") or not plus.startswith(b"+"):
        raise ControlError(errno.EINVAL, f"{name!r} is not FASTQ (record ending at line {line_no})")
    if len(bases) != len(quality):
        raise ControlError(
            errno.EINVAL,
            f"{name!r}: record ending at line {line_no} has {len(bases)} bases and "
            f"{len(quality)} quality values",
        )
    return len(bases)
