"""A reader process for the fault tests: reads a file through the mount and reports as JSON.

``python readfile.py PATH [--offset N] [--length N] [--chunk N] [--loop-for S --expect MD5]``
reads ``PATH`` in order from ``offset`` (``length`` bytes, or to EOF), hashing what it reads, and
prints one JSON object: ``bytes``, ``md5``, ``errno`` (null, or the errno of the read that failed),
``error_after`` (seconds the failing read() took), ``longest_read`` (the longest single read()
call, seconds: the longest stall the reader saw), ``reads`` and ``seconds``. With ``--loop-for``
it reads the range again and again for that many seconds (dropping the kernel's page cache of the
file before each pass, so every pass goes through the filesystem), checks every pass against
``--expect`` and also reports ``passes`` and ``mismatches``. It runs in its own process so that a
read that never returns cannot hang the test process.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--length", type=int, default=-1)
    parser.add_argument("--chunk", type=int, default=1 << 20)
    parser.add_argument("--loop-for", type=float, default=0.0)
    parser.add_argument("--expect", default="")
    args = parser.parse_args(argv)
    total = reads = passes = mismatches = 0
    longest = 0.0
    failed: int | None = None
    failed_after = 0.0
    md5 = ""
    started = time.monotonic()
    fd = os.open(args.path, os.O_RDONLY)
    try:
        while failed is None:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            digest = hashlib.md5()
            done = 0
            position = args.offset
            while args.length < 0 or done < args.length:
                want = args.chunk if args.length < 0 else min(args.chunk, args.length - done)
                before = time.monotonic()
                try:
                    chunk = os.pread(fd, want, position)
                except OSError as exc:
                    failed, failed_after = exc.errno, time.monotonic() - before
                    break
                longest = max(longest, time.monotonic() - before)
                reads += 1
                if not chunk:
                    break
                digest.update(chunk)
                done += len(chunk)
                position += len(chunk)
            total += done
            md5 = digest.hexdigest()
            if failed is None:
                passes += 1
                mismatches += bool(args.expect) and md5 != args.expect
            if time.monotonic() - started >= args.loop_for:
                break
    finally:
        os.close(fd)
    result = {
        "bytes": total,
        "md5": md5,
        "errno": None if failed is None else errno.errorcode.get(failed, str(failed)),
        "error_after": round(failed_after, 3),
        "longest_read": round(max(longest, failed_after), 3),
        "reads": reads,
        "passes": passes,
        "mismatches": mismatches,
        "seconds": round(time.monotonic() - started, 3),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
