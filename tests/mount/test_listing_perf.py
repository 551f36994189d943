"""Walking a run folder through a real mount: the API's entries, each directory listed once,
and the listings of sub-directories overlapping (prefetched) rather than one after another."""

from __future__ import annotations

import os
import stat
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from tests.mount.apiwalk import complete, items
from tests.mount.mounting import DEMO_ODD_NAMES, fuse_marker

pytestmark = [fuse_marker(), DEMO_ODD_NAMES]


def _run_dir(mnt: Path, run_id: str) -> Path:
    runs = mnt / "Runs"
    return runs / os.readlink(runs / f".id.{run_id}")


def _api_entries(files: list[dict[str, Any]]) -> set[str]:
    """Every path ``find`` should print below Files/: the files and all their parent dirs."""
    found: set[str] = set()
    for f in complete(files):
        parts = f["Path"].strip("/").split("/")
        found.add("/".join(parts))
        for i in range(1, len(parts)):
            found.add("/".join(parts[:i]))
    return found


def _listing_requests(log: list[dict[str, Any]], run_id: str) -> list[dict[str, Any]]:
    return [r for r in log if r["path"] == f"/v2/runs/{run_id}/files"]


def _max_overlap(requests: list[dict[str, Any]]) -> int:
    """The most listing requests the emulator was handling at the same moment."""
    edges = []
    for r in requests:
        edges.append((r["time"], 1))
        edges.append((r["time"] + r["duration_ms"] / 1000, -1))
    depth = peak = 0
    for _when, step in sorted(edges, key=lambda e: (e[0], e[1])):
        depth += step
        peak = max(peak, depth)
    return peak


def test_find_over_a_run_lists_each_directory_once(mnt: Path, emulator: Any) -> None:
    run = items(emulator, "v1pre3/users/current/runs")[0]
    files_dir = _run_dir(mnt, run["Id"]) / "Files"
    api_files = items(emulator, f"v2/runs/{run['Id']}/files", limit=1000, recursive="true")
    expected = _api_entries(api_files)
    assert len(expected) > 300  # the demo run: ~300 cycle directories, one file each

    emulator.clear_requests()
    out = subprocess.run(
        ["find", str(files_dir)], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    log = emulator.requests()

    printed = {line[len(str(files_dir)) + 1 :] for line in out.splitlines()[1:]}
    assert {p for p in printed if not p.rsplit("/", 1)[-1].startswith(".")} == expected

    listings = _listing_requests(log, run["Id"])
    queries = [parse_qs(r["query"]) for r in listings]
    pages = Counter((q.get("directory", ["/"])[0], q.get("offset", ["0"])[0]) for q in queries)
    directories = {d for d, _offset in pages}
    assert max(pages.values()) == 1, [k for k, n in pages.items() if n > 1]
    # every directory find entered was listed exactly once (the root and each sub-directory)
    walked = {"/"} | {"/" + p for p in expected if (files_dir / p).is_dir()}
    assert directories == walked
    # find asks for one directory at a time: overlapping listings are the prefetch at work
    assert _max_overlap(listings) > 1

    # walking again is answered from the cache: no request at all
    emulator.clear_requests()
    subprocess.run(["find", str(files_dir)], capture_output=True, check=True, timeout=120)
    assert not _listing_requests(emulator.requests(), run["Id"])


def test_ls_l_attributes_match_the_api(mnt: Path, emulator: Any) -> None:
    """``ls -l``'s attributes come from readdirplus; they must match the API and ``stat``."""
    run = items(emulator, "v1pre3/users/current/runs")[0]
    files_dir = _run_dir(mnt, run["Id"]) / "Files"
    api_files = {
        f["Path"].strip("/"): f
        for f in complete(
            items(emulator, f"v2/runs/{run['Id']}/files", limit=1000, recursive="true")
        )
    }
    top = {p: f for p, f in api_files.items() if "/" not in p}
    assert top
    out = subprocess.run(
        ["ls", "-ln", "--time-style=+%s", str(files_dir)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split() for line in out.splitlines()[1:]]
    by_name = {row[-1]: row for row in rows}
    for name, f in top.items():
        row = by_name[name]
        assert row[0] == "-r--r--r--"
        assert int(row[4]) == int(f["Size"])
        st = (files_dir / name).stat()
        assert int(row[2]) == st.st_uid == os.getuid()
        assert int(row[5]) == int(st.st_mtime)
    for name, row in by_name.items():
        if row[0].startswith("d"):
            assert stat.S_ISDIR((files_dir / name).stat().st_mode)
