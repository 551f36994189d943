"""Bytes read through the mount equal the bytes fetched directly from the content URLs."""

from __future__ import annotations

import filecmp
import hashlib
import os
import random
import subprocess
import threading
from pathlib import Path
from typing import Any

from tests.mount.apiwalk import blob_requests, complete, direct_bytes, direct_md5, items
from tests.mount.mounting import DEMO_ODD_NAMES, fuse_marker

pytestmark = [fuse_marker(), DEMO_ODD_NAMES]

BIG = 4 * 2**30


def _demo_files(emulator: Any, mnt: Path) -> list[tuple[Path, dict[str, Any]]]:
    """(path in the mount, API file) for every sample/appresult file of every project."""
    out: list[tuple[Path, dict[str, Any]]] = []
    for project in items(emulator, "v1pre3/users/current/projects"):
        pdir = mnt / "Projects" / os.readlink(mnt / "Projects" / f".id.{project['Id']}")
        for kind, sub in (("samples", "Samples"), ("appresults", "AppResults")):
            for entity in items(emulator, f"v1pre3/projects/{project['Id']}/{kind}"):
                edir = pdir / sub / os.readlink(pdir / sub / f".id.{entity['Id']}")
                for f in complete(
                    items(emulator, f"v1pre3/{kind}/{entity['Id']}/files", limit=1000)
                ):
                    path = edir / "Files" / f["Path"].lstrip("/")
                    if path.exists():
                        out.append((path, f))
    return out


def _md5sum(path: Path) -> str:
    result = subprocess.run(["md5sum", str(path)], capture_output=True, text=True, check=True)
    return result.stdout.split()[0]


def test_md5_of_every_demo_file(mnt: Path, emulator: Any) -> None:
    checked = 0
    for path, f in _demo_files(emulator, mnt):
        if int(f["Size"]) > 512 * 2**20:
            continue
        assert _md5sum(path) == direct_md5(emulator, f["Id"]), path
        checked += 1
    assert checked >= 10


def _big_file(emulator: Any, mnt: Path) -> tuple[Path, dict[str, Any]]:
    for path, f in _demo_files(emulator, mnt):
        if int(f["Size"]) >= BIG:
            return path, f
    raise AssertionError("the demo seed has no >= 4 GiB file")


def test_random_offsets_of_the_large_file(mnt: Path, emulator: Any) -> None:
    path, f = _big_file(emulator, mnt)
    size = int(f["Size"])
    assert path.stat().st_size == size
    rng = random.Random(1234)
    with open(path, "rb") as handle:
        for _ in range(200):
            length = rng.choice([1, 100, 4096, 65536, 200_000])
            offset = rng.randrange(0, size - 1)
            handle.seek(offset)
            got = handle.read(length)
            want = direct_bytes(emulator, f["Id"], offset, min(size, offset + length) - 1)
            assert got == want, (offset, length)
        handle.seek(size - 10)
        assert handle.read(100) == direct_bytes(emulator, f["Id"], size - 10, size - 1)
        assert handle.read(10) == b""


def test_head_of_large_file_fetches_little(mnt: Path, emulator: Any) -> None:
    path, _f = _big_file(emulator, mnt)
    # a fresh inode view: drop the kernel page cache so data really comes from the server
    subprocess.run(["sh", "-c", "echo 1 > /proc/sys/vm/drop_caches"], check=False)
    emulator.clear_requests()
    out = subprocess.run(["head", "-c", "1M", str(path)], capture_output=True, check=True).stdout
    assert len(out) == 2**20
    fetched = sum(r["bytes_sent"] for r in blob_requests(emulator.requests()))
    assert fetched < 16 * 2**20, fetched


def test_cp_and_rsync_of_a_project(mnt: Path, emulator: Any, tmp_path: Path) -> None:
    project = next(
        p
        for p in items(emulator, "v1pre3/users/current/projects")
        if not any(int(f["Size"]) >= BIG for _p, f in _demo_files_for(emulator, mnt, p))
    )
    pdir = mnt / "Projects" / os.readlink(mnt / "Projects" / f".id.{project['Id']}")
    subprocess.run(["cp", "-r", str(pdir), str(tmp_path / "cp")], check=True, timeout=300)
    subprocess.run(["rsync", "-a", f"{pdir}/", str(tmp_path / "rsync")], check=True, timeout=300)
    compared = 0
    for path, f in _demo_files_for(emulator, mnt, project):
        rel = path.relative_to(pdir)
        for copy in (tmp_path / "cp" / rel, tmp_path / "rsync" / rel):
            assert hashlib.md5(copy.read_bytes()).hexdigest() == direct_md5(emulator, f["Id"])
            compared += 1
    assert compared > 0
    assert filecmp.cmp(tmp_path / "cp" / ".id", tmp_path / "rsync" / ".id", shallow=False)


def _demo_files_for(
    emulator: Any, mnt: Path, project: dict[str, Any]
) -> list[tuple[Path, dict[str, Any]]]:
    pdir = mnt / "Projects" / os.readlink(mnt / "Projects" / f".id.{project['Id']}")
    return [(p, f) for p, f in _demo_files(emulator, mnt) if pdir in p.parents]


def test_concurrent_readers(mnt: Path, emulator: Any) -> None:
    files = [(p, f) for p, f in _demo_files(emulator, mnt) if 0 < int(f["Size"]) < 512 * 2**20]
    files = sorted(files, key=lambda pf: -int(pf[1]["Size"]))[:8]
    assert len(files) == 8
    procs = [
        subprocess.Popen(["md5sum", str(p)], stdout=subprocess.PIPE, text=True) for p, _ in files
    ]
    for proc, (_p, f) in zip(procs, files, strict=True):
        out, _ = proc.communicate(timeout=300)
        assert out.split()[0] == direct_md5(emulator, f["Id"])

    path, f = _big_file(emulator, mnt)
    region = 64 * 2**20
    expected = direct_bytes(emulator, f["Id"], 2**30, 2**30 + region - 1)
    results: list[bytes] = [b""] * 4
    errors: list[BaseException] = []

    def reader(i: int) -> None:
        try:
            with open(path, "rb") as handle:
                handle.seek(2**30)
                chunks = []
                while sum(map(len, chunks)) < region:
                    chunks.append(handle.read(min(1 << 20, region - sum(map(len, chunks)))))
                results[i] = b"".join(chunks)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors
    assert all(r == expected for r in results)
