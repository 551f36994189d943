"""The benchmark's data: sizes per mode, the seed JSON, the big BAM, and rclone's view of the files.

:func:`build_layout` returns a :class:`Layout` naming every benchmark file three ways: its path in
the bsmount mount, its path in ``blobs/tree`` (hard links that nginx lists for rclone) and its
blob path (``blobs/s3/<key>/<name>``, written by the emulator's ``--materialize``). File ids and
the signing key are fixed, so the blob paths are known before the emulator starts.
:func:`write_seed` writes the seed, :func:`ensure_bam` generates the BAM once (the demo's read
simulator, scaled; cached in ``data/``), :func:`link_tree` makes the hard links.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import MIB, Paths
from bsmount.emulator.blobs.materialize import blob_path

__all__ = [
    "FULL",
    "QUICK",
    "SIGNING_KEY",
    "TOKEN",
    "BenchFile",
    "Layout",
    "Sizes",
    "build_layout",
    "write_ceiling_manifest",
]

log = logging.getLogger(__name__)

TOKEN = "be9c" * 8
SIGNING_KEY = bytes.fromhex("b3" * 32)
PROJECT = "Bench"
_FIRST_ID = 12_000_000_001


@dataclass(frozen=True)
class Sizes:
    big: int  # case 1-2: the sequential / random file
    par: int  # case 3: each of the four parallel files
    bam_pairs: int  # case 4: read pairs of the simulated BAM
    small_count: int  # case 5
    small_size: int
    ttfb_count: int  # case 7: enough unopened files for every run
    ttfb_size: int
    dir_entries: int  # case 6: one flat directory
    tree_lanes: int  # case 6: lanes x cycles x files (+ the directories) entries
    tree_cycles: int
    tree_files: int
    upload_big: int = 1024 * MIB  # case 9: one file copied into the mount
    upload_small_count: int = 2000  # case 10: files copied with cp -r
    upload_small_size: int = 256 << 10


QUICK = Sizes(512 * MIB, 128 * MIB, 90_000, 500, 256 << 10, 100, 64 << 10, 10_000, 4, 50, 99,
              upload_big=256 * MIB, upload_small_count=500)  # fmt: skip
FULL = Sizes(4096 * MIB, 1024 * MIB, 4_200_000, 2000, 256 << 10, 100, 64 << 10, 10_000, 4, 250, 99)


@dataclass(frozen=True)
class BenchFile:
    file_id: str
    group: str  # the container's directory name in the tree (and its entity name)
    rel: str  # path inside the container (the seed's "path")
    mnt_dir: str  # the container's Files/ directory relative to the mount point
    tree_group: str  # the container's directory in blobs/tree

    @property
    def name(self) -> str:
        return self.rel.rsplit("/", 1)[-1]

    def mnt(self, mountpoint: Path) -> Path:
        return mountpoint / self.mnt_dir / self.rel

    def tree_rel(self) -> str:
        return f"{self.tree_group}/{self.rel}"

    def blob(self, blobs: Path) -> Path:
        return blob_path(blobs, self.file_id, self.name, SIGNING_KEY)

    def blob_uri(self, blobs: Path) -> str:
        return "/" + self.blob(blobs).relative_to(blobs).as_posix()


@dataclass
class Layout:
    sizes: Sizes
    bam_source: Path
    files: dict[str, list[BenchFile]] = field(default_factory=dict)  # group -> files
    seed_entries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def group(self, name: str) -> list[BenchFile]:
        return self.files[name]

    def one(self, name: str) -> BenchFile:
        return self.files[name][0]

    def mnt_dir(self, group: str, sub: str = "") -> str:
        base = self.files[group][0].mnt_dir
        return f"{base}/{sub}" if sub else base

    def all(self) -> list[BenchFile]:
        return [f for files in self.files.values() for f in files]


_APPRESULT_GROUPS = ("Sequential", "Parallel", "Alignment", "Listing")
_RUN_GROUPS = {"BenchSmall": "240101_M00001_0001_000000000-BENCH1"}
_TREE_RUN = ("BenchTree", "240101_M00001_0002_000000000-BENCH2")


def build_layout(sizes: Sizes, bam_source: Path) -> Layout:
    """Every benchmark file, with fixed ids (the seed lists them in this order)."""
    layout = Layout(sizes, bam_source)
    next_id = _FIRST_ID

    def add(group: str, mnt_dir: str, rel: str, entry: dict[str, Any]) -> None:
        nonlocal next_id
        file_id = str(next_id)
        next_id += 1
        tree_group = mnt_dir.split("/")[-2]  # the appresult's or run's name
        item = BenchFile(file_id, group, rel, mnt_dir, tree_group)
        layout.files.setdefault(group, []).append(item)
        layout.seed_entries.setdefault(group, []).append({"id": file_id, "path": rel, **entry})

    def appresult(group: str) -> str:
        return f"Projects/{PROJECT}/AppResults/{group}/Files"

    def gen(size: int, seed: int) -> dict[str, Any]:
        return {"size": size, "seed": seed}

    add("Sequential", appresult("Sequential"), "big.bin", gen(sizes.big, 1))
    for i in range(1, 5):
        add("Parallel", appresult("Parallel"), f"par{i}.bin", gen(sizes.par, 10 + i))
    add("Alignment", appresult("Alignment"), "sample.bam", {"source": str(bam_source)})
    bai = bam_source.with_name(bam_source.name + ".bai")
    add("Alignment", appresult("Alignment"), "sample.bam.bai", {"source": str(bai)})
    width = len(str(sizes.dir_entries))
    for i in range(sizes.dir_entries):
        add("Listing", appresult("Listing"), f"dir10k/e{i:0{width}d}.txt", gen(100, 1000 + i))
    small = "Runs/BenchSmall/Files"
    for i in range(sizes.small_count):
        add("BenchSmall", small, f"Data/Small/f{i:04d}.bin", gen(sizes.small_size, 20000 + i))
    for i in range(sizes.ttfb_count):
        add("FirstByte", small, f"Data/FirstByte/t{i:03d}.bin", gen(sizes.ttfb_size, 30000 + i))
    tree = f"Runs/{_TREE_RUN[0]}/Files"
    base = "Data/Intensities/BaseCalls"
    for lane in range(1, sizes.tree_lanes + 1):
        for cycle in range(1, sizes.tree_cycles + 1):
            for tile in range(sizes.tree_files):
                rel = f"{base}/L{lane:03d}/C{cycle}.1/s_{lane}_{1101 + tile}.bcl.gz"
                add("BenchTree", tree, rel, gen(64, 40000 + tile))
    return layout


def tree_entries(sizes: Sizes) -> int:
    """What ``find Files | wc -l`` prints for the tree run (its Files/ directory included)."""
    files = sizes.tree_lanes * sizes.tree_cycles * sizes.tree_files
    dirs = 1 + 3 + sizes.tree_lanes + sizes.tree_lanes * sizes.tree_cycles
    return files + dirs


def write_seed(layout: Layout, path: Path) -> None:
    """The emulator seed for ``layout`` (one user, one project, two runs)."""
    entries = layout.seed_entries
    appresults = [{"name": g, "files": entries[g]} for g in _APPRESULT_GROUPS]
    runs = [
        {
            "name": _RUN_GROUPS["BenchSmall"],
            "experiment_name": "BenchSmall",
            "files": entries["BenchSmall"] + entries["FirstByte"],
        },
        {"name": _TREE_RUN[1], "experiment_name": _TREE_RUN[0], "files": entries["BenchTree"]},
    ]
    seed = {
        "format": "bsmount-emulator-seed/1",
        "description": "make bench",
        "users": [{"name": "Bench User", "tokens": [TOKEN]}],
        "projects": [{"name": PROJECT, "appresults": appresults}],
        "runs": runs,
    }
    text = json.dumps(seed, separators=(",", ":"))
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def ensure_bam(paths: Paths, pairs: int) -> Path:
    """The coordinate-sorted, indexed BAM of ``pairs`` simulated read pairs (built once)."""
    from bsmount.emulator.genomics.bam import write_bam
    from bsmount.emulator.genomics.reference import build_genome

    bam = paths.data / f"sim-{pairs}.bam"
    bai = bam.with_name(bam.name + ".bai")
    if bam.exists() and bai.exists():
        return bam
    started = time.monotonic()
    log.warning("generating a BAM of %d read pairs (once; cached in %s)", pairs, paths.data)
    partial = paths.data / f".partial-{os.getpid()}.bam"
    write_bam(build_genome(), partial, "ACGTACGT", n_pairs=pairs)
    partial_bai = partial.with_name(partial.name + ".bai")
    os.replace(partial_bai, bai)
    os.replace(partial, bam)
    log.warning("BAM: %.0f MB in %.0f s", bam.stat().st_size / 1e6, time.monotonic() - started)
    return bam


def write_ceiling_manifest(layout: Layout, path: Path) -> None:
    """``[[path in the mount, size], ...]`` of every benchmark file, for :mod:`bench.ceiling_fs`
    (the ceiling side serves the same paths, with the same sizes, as the bsmount mount)."""
    rows = []
    for group, files in layout.files.items():
        for item, entry in zip(files, layout.seed_entries[group], strict=True):
            size = entry["size"] if "size" in entry else Path(entry["source"]).stat().st_size
            rows.append([f"{item.mnt_dir}/{item.rel}", size])
    text = json.dumps(rows, separators=(",", ":"))
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def contig_lengths() -> dict[str, int]:
    from bsmount.emulator.genomics.reference import build_genome

    return {name: len(seq) for name, seq in build_genome().sequences.items()}


def link_tree(layout: Layout, paths: Paths) -> None:
    """Hard-link every materialized blob to ``blobs/tree/<group>/<path>`` (same inode, same
    bytes, same page cache) so that nginx's autoindex shows rclone the bsmount layout."""
    started = time.monotonic()
    made = 0
    for item in layout.all():
        source = item.blob(paths.blobs)
        target = paths.tree / item.tree_rel()
        try:
            if target.stat().st_ino == source.stat().st_ino:
                continue
            target.unlink()
        except FileNotFoundError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
        made += 1
    log.info("tree: %d links made in %.1f s", made, time.monotonic() - started)
