"""``python -m bench.run [--quick]``: set up, run every case side by side, print the table.

Builds the data (seed, BAM) under ``bench/work/<quick|full>``, starts nginx on a loopback port and
the emulator with ``--materialize`` (content URLs pointing at nginx), hard-links rclone's view,
runs the cases of :mod:`bench.cases_io`, :mod:`bench.cases_meta` and :mod:`bench.cases_upload`,
prints the markdown table of :mod:`bench.report` and writes the raw figures to
``bench/results/<timestamp>.json``. Everything it started is stopped on the way out, also on
Ctrl-C or a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import logging
import os
import platform
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from bench import cases_cache, cases_io, cases_meta, cases_upload, report
from bench.common import GIB, BenchError, Paths, can_drop_caches, free_port, which
from bench.data import (
    FULL,
    QUICK,
    build_layout,
    ensure_bam,
    link_tree,
    write_ceiling_manifest,
    write_seed,
)
from bench.harness import SIDES, Bench
from bench.services import Emulator, Nginx

log = logging.getLogger("bench")

HERE = Path(__file__).resolve().parent
CASES = ("seq", "rand", "par", "bam", "small", "list", "ttfb", "upload", "cache")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small files, one run (< 3 min)")
    parser.add_argument("--runs", type=int, help="runs per case (default: 3, quick: 1)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"subset of {','.join(CASES)}")
    parser.add_argument("--sides", default=",".join(SIDES), help="subset of the sides")
    parser.add_argument(
        "--warmup-gib",
        type=float,
        help="GiB touched and freed before each cold run (default: big file + 1 GiB; 0: none)",
    )
    parser.add_argument("--work", type=Path, help="work directory (default bench/work/<mode>)")
    parser.add_argument("--results", type=Path, default=HERE / "results", help="JSON output dir")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _missing_tools() -> list[str]:
    return [
        t for t in ("nginx", "rclone", "fio", "samtools", "curl", "fusermount3") if not which(t)
    ]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    missing = _missing_tools()
    if missing:
        print(f"bench: missing tools: {' '.join(missing)} (run `make bench-deps` as root)")
        return 2
    if not can_drop_caches():
        print("bench: not root: the page cache cannot be dropped, 'cold' runs will be warm")
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        print(f"bench: unknown cases {sorted(unknown)}")
        return 2
    sides = tuple(s for s in args.sides.split(",") if s)
    sizes = QUICK if args.quick else FULL
    runs = args.runs or (1 if args.quick else 3)
    paths = Paths((args.work or HERE / "work" / ("quick" if args.quick else "full")).resolve())
    paths.make()
    signal.signal(signal.SIGTERM, _raise_interrupt)
    started = time.monotonic()
    load_start = list(os.getloadavg())
    if load_start[0] > 1.0:
        print(f"bench: load average {load_start[0]:.1f}: other work on this machine skews figures")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    with contextlib.ExitStack() as stack:
        print(f"bench: preparing data in {paths.root} ...", flush=True)
        bam = ensure_bam(paths, sizes.bam_pairs)
        layout = build_layout(sizes, bam)
        seed = paths.root / "seed.json"
        write_seed(layout, seed)
        write_ceiling_manifest(layout, paths.root / "ceiling.json")
        nginx = Nginx(paths, free_port())
        stack.callback(nginx.stop)
        nginx.start()
        emulator = Emulator(paths, seed, nginx.url)
        stack.callback(emulator.stop)
        print("bench: starting the emulator (materializes files for nginx) ...", flush=True)
        emulator.start()
        link_tree(layout, paths)
        # The BAM's MD5 ETag is computed on first use: do it before anything is timed.
        emulator.api(f"v1pre3/files/{layout.one('Alignment').file_id}")
        bench = Bench(
            paths=paths,
            layout=layout,
            quick=args.quick,
            runs=runs,
            fio_runtime=5 if args.quick else 15,
            nginx=nginx,
            emulator=emulator,
            sides=sides,
            warmup_bytes=int(
                (args.warmup_gib * GIB) if args.warmup_gib is not None else sizes.big + GIB
            ),
        )
        setup_s = time.monotonic() - started
        print(f"bench: ready after {setup_s:.0f} s; {runs} run(s) per case", flush=True)
        took: dict[str, float] = {}  # wall seconds per case, profiles included

        @contextlib.contextmanager
        def timing(case: str) -> Iterator[None]:
            begun = time.monotonic()
            try:
                yield
            finally:
                took[case] = round(time.monotonic() - begun, 1)
                log.info("case %s took %.0f s", case, took[case])

        profile: dict[str, Any] | None = None
        if "seq" in cases:
            with timing("seq"):
                cases_io.sequential(bench)
                if not args.no_profile and "bsmount" in sides:
                    profile = cases_io.profile_sequential(bench, paths.logs, stamp)
        for case, run_case in (
            ("rand", cases_io.random_reads),
            ("par", cases_io.parallel),
            ("bam", cases_meta.index_queries),
            ("small", cases_meta.small_files),
            ("list", cases_meta.listing),
            ("ttfb", cases_meta.first_byte),
        ):
            if case in cases:
                with timing(case):
                    run_case(bench)
        upload_profile: dict[str, Any] | None = None
        if "upload" in cases:
            with timing("upload"):
                cases_upload.upload_big(bench)
                cases_upload.upload_small(bench)
                cases_upload.memory(bench)
                if not args.no_profile and "bsmount" in sides:
                    upload_profile = cases_upload.profile_upload(bench, paths.logs, stamp)
        if "cache" in cases:
            with timing("cache"):
                cases_cache.warm_sequential(bench)
                cases_cache.warm_index_queries(bench)
        cases_io.memory(bench)
        table = report.table(bench)
    total_s = time.monotonic() - started
    load_end = list(os.getloadavg())
    print()
    print(report.header(bench, (load_start[0], load_end[0])))
    print()
    print(table)
    for found in (profile, upload_profile):
        if found:
            print()
            print(report.profile_text(found))
    doc = {
        "timestamp": stamp,
        "mode": "quick" if args.quick else "full",
        "runs": runs,
        "setup_seconds": round(setup_s, 1),
        "total_seconds": round(total_s, 1),
        "case_seconds": took,
        "page_cache_dropped": bench.can_drop,
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
        "load_average_start_end": [load_start, load_end],
        "memory_warmup_bytes": bench.warmups,
        "sizes": vars(sizes),
        "results": bench.results.as_json(),
        "bsmount_peak_rss_mib_by_case": bench.rss,
        "rows": report.rows_json(bench),
        "profile": profile,
        "upload_profile": upload_profile,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"{stamp}.json"
    out.write_text(json.dumps(doc, indent=1) + "\n")
    spent = ", ".join(f"{case} {seconds:.0f} s" for case, seconds in took.items())
    print(f"\nbench: {total_s:.0f} s in all (set-up {setup_s:.0f} s, {spent})")
    print(f"bench: raw figures in {out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench: interrupted; everything started was stopped", file=sys.stderr)
        sys.exit(130)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        sys.exit(1)
