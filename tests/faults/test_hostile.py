"""Issue 7, "hostile names and data from the server": odd answers never break out or break down.

The seed (JSON, docs/emulator.md) gives entities names with ``/``, ``..``, ``.``, NUL, a newline,
300 bytes, and 10,000 samples with one name. Fault rules with a ``body`` make the API answer what
the seed format refuses: a file list with paths that climb out (``../../etc/passwd``, ``/abs``),
a NUL in a path, names ``.`` and ``..``, negative, absurd and non-numeric sizes, missing ids,
names and paths, unknown fields, duplicate ids; and an HTML page with status 200 instead of JSON.

Asserted: every entity is listed once under a unique, safe name (no NUL, ``/``, ``.``/``..``,
newline, nothing over 255 bytes), reachable through its ``.id.<id>`` link, with the raw name in
``.name``; every path resolves inside its directory; sizes are clamped to ``[0, 2**60]``; the HTML
answer gives EIO on that directory only; the mount keeps serving; a file without an id (it cannot
be read) is not listed; each odd listing is logged once, with examples (not again when listed
again).
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.faults.helpers import entity_dir, log_lines
from tests.mount.apiwalk import items
from tests.mount.mounting import Mount, fuse_marker

# The server's answers are hostile on purpose: odd names renamed, an answer that is not JSON.
HOSTILE = pytest.mark.expect_log_warnings(
    r"odd entries from the server in .*: \d+ name\(s\) changed to be safe and unique",
    r"giving up on GET \S+/v1pre3/samples/30000002/files after \d+ attempts: .* not JSON",
    r"opendir\(.*\) -> EIO: TransportError: GET \S+/v1pre3/samples/30000002/files\S* HTTP 200",
    # not provoked on purpose: reported as a possible bug (10k entries overflow the queue)
    r"bsmount\.fuse\.kernel: kernel invalidation queue full; dropping",
)
pytestmark = [pytest.mark.faults, fuse_marker(), HOSTILE]

DUPLICATES = 10_000
HOSTILE_NAMES = [
    "a/b",
    "/",
    "..",
    ".",
    "../../etc",
    "x\u0000y",
    "line\nbreak",
    "tab\there",
    "é" * 150,  # 300 bytes of UTF-8
    "z" * 300,
    ".id.123",
    ".refresh",
]


def _seed(directory: Path) -> Path:
    samples = [{"name": name} for name in HOSTILE_NAMES]
    samples += [{"name": "dup"} for _ in range(DUPLICATES)]
    seed = {
        "users": [{"name": "Hostile", "tokens": ["badd" * 8]}],
        "projects": [
            {"name": "..", "samples": samples},
            {"name": "a/b"},
            {"name": "."},
            {"name": "x\u0000y"},
            {"name": "é" * 150},
        ],
    }
    path = directory / "hostile-seed.json"
    path.write_text(json.dumps(seed))
    return path


def _file(ident: Any, path: Any, size: Any, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"Href": f"v1pre3/files/{ident}", "UploadStatus": "complete"}
    for key, value in (("Id", ident), ("Path", path), ("Size", size)):
        if value is not None:
            item[key] = value
    if isinstance(path, str):
        item["Name"] = path.rsplit("/", 1)[-1]
    item.update(extra)
    return item


HOSTILE_FILES = [
    _file("91", "../../etc/passwd", 10),
    _file("92", "/abs/x.txt", 11),
    _file("93", "..", 12),
    _file("94", ".", 13),
    _file("95", "a/../../b.txt", 14),
    _file("96", "nul\u0000name.txt", 15),
    _file("97", "neg.txt", -5),
    _file("98", "huge.txt", 10**30),
    _file("99", "text-size.txt", "abc"),
    _file(None, "no-id.txt", 16),
    _file("100", None, 17),
    _file("101", "dup.txt", 18, Unknown={"nested": [1, 2]}, ETag=123),
    _file("101", "dup.txt", 18),  # the same file twice
    _file("102", "dup.txt", 19),  # another file with the same path
    _file("103", "x" * 400 + ".txt", 20),
]


def _names_are_safe(names: list[str]) -> None:
    assert len(names) == len(set(names))
    for name in names:
        assert name not in (".", "..", "") and "/" not in name and "\x00" not in name, repr(name)
        assert "\n" not in name and len(os.fsencode(name)) <= 255, repr(name)


def test_hostile_names_and_answers(
    emulator_factory: Callable[..., Any],
    mounter: Callable[..., Mount],
    tmp_path: Path,
    figures: dict[str, Any],
) -> None:
    emu = emulator_factory(_seed(tmp_path))
    m = mounter(emu)
    projects = items(emu, "v1pre3/users/current/projects")
    listed = os.listdir(m.path / "Projects")
    _names_are_safe(listed)
    for project in projects:
        pdir = entity_dir(m.path / "Projects", project["Id"])
        assert pdir.parent == m.path / "Projects"
        assert (pdir / ".name").read_text() == project["Name"] + "\n"
    hostile = next(p for p in projects if p["Name"] == "..")
    pdir = entity_dir(m.path / "Projects", hostile["Id"])
    samples = items(emu, f"v1pre3/projects/{hostile['Id']}/samples")
    assert len(samples) == len(HOSTILE_NAMES) + DUPLICATES
    links = {f".id.{s['Id']}" for s in samples} | {".refresh", ".error"}
    links |= {".list.csv", ".list.json", ".headers"}  # docs/lists.md
    names = [n for n in os.listdir(pdir / "Samples") if n not in links]
    _names_are_safe(names)
    assert len(names) == len(samples)
    assert "dup" in names and f"dup ({DUPLICATES})" in names
    for sample in samples[: len(HOSTILE_NAMES)]:
        sdir = entity_dir(pdir / "Samples", sample["Id"])
        assert sdir.resolve().parent == (pdir / "Samples").resolve()
        assert (sdir / ".id").read_text() == sample["Id"] + "\n"
        assert (sdir / ".name").read_text() == sample["Name"].replace("\x00", "") + "\n" or (
            (sdir / ".name").read_text() == sample["Name"] + "\n"
        )

    # A file list full of odd entries, answered by a fault rule (the seed format refuses them).
    victim, html = samples[0], samples[1]
    body = {"Response": {"Items": HOSTILE_FILES, "TotalCount": len(HOSTILE_FILES)}}
    emu.add_fault(
        path=f"^/v1pre3/samples/{victim['Id']}/files$", action={"status": 200, "body": body}
    )
    emu.add_fault(
        path=f"^/v1pre3/samples/{html['Id']}/files$",
        action={
            "status": 200,
            "body": "<html><body><h1>Welcome to the proxy</h1></body></html>",
            "headers": {"Content-Type": "text/html"},
        },
    )
    files = entity_dir(pdir / "Samples", victim["Id"]) / "Files"
    walked: list[Path] = []
    for root, dirs, filenames in os.walk(files):
        _names_are_safe(dirs + filenames)
        walked += [Path(root) / name for name in filenames]
    data = [p for p in walked if p.name not in (".refresh", ".error")]
    for path in data:
        assert files.resolve() in path.resolve().parents, path
        assert 0 <= path.stat().st_size <= 2**60
    sizes = sorted(p.stat().st_size for p in data)
    assert 0 in sizes and 2**60 in sizes, sizes  # -5 and "abc" -> 0; 10**30 -> clamped
    assert len({os.stat(p).st_ino for p in data}) == len(data)
    with pytest.raises(OSError) as info:
        os.listdir(entity_dir(pdir / "Samples", html["Id"]) / "Files")
    assert info.value.errno == errno.EIO
    assert os.listdir(m.path / "Projects")  # the mount survived all of it
    assert not any(p.name == "no-id.txt" for p in data)  # cannot be read: skipped, reported
    for _ in range(3):  # listing again (after .refresh) does not log the oddities again
        for directory in (m.path / "Projects", pdir / "Samples", files):
            (directory / ".refresh").write_text("\n")
            os.listdir(directory)
        list(os.walk(files))
    log = m.log()
    assert log_lines(log, "not JSON", "text/html")
    odd = log_lines(log, "odd entries from the server in")
    assert len(odd) == 3, odd  # Projects, the samples, the file list: once each
    assert log_lines(log, "odd entries", "/Samples:", "name(s) changed", "'a/b' -> 'a／b'"), odd
    assert log_lines(log, "odd entries", "/Files:", "1 entry without an id", "3 size(s)"), odd
    figures["hostile"] = {
        "samples_listed": len(names),
        "odd_files_served": len(data),
        "odd_file_entries_sent": len(HOSTILE_FILES),
    }
