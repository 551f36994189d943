"""Issue 7, "bad input on control files": every malformed payload is refused, nothing changes.

On a private demo emulator and mount, each case writes a malformed payload to a control file
(``.properties``, ``.trash``, ``.commands``) or makes a bad ``mkdir``: invalid UTF-8, more than
1 MiB (in one write and in many small ones), JSON cut short (the error comes at ``close``), values
of the wrong type, unknown reference kinds, references without an id, property names the API
refuses, ``.commands`` naming paths that do not exist or climb out of the mount. Asserted for
each: the errno (EINVAL, EFBIG; ENOENT for a missing path), the reason in that directory's
``.error``,
and the server's state — the project's properties, the project list, the trash — unchanged,
checked through the API.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulator_proc import EmulatorProcess
from tests.faults.helpers import entity_dir
from tests.mount.apiwalk import items
from tests.mount.mounting import Mount, fuse_marker, fuse_skip_reason

# Every test here writes something a control file or mkdir must refuse: the refusal is logged.
REFUSALS = pytest.mark.expect_log_warnings(
    r"(write \.(properties|trash|commands)|mkdir) refused in '",
    r"(write|flush|mkdir)\(.*\) -> E(INVAL|FBIG|NOENT): ",
)
pytestmark = [pytest.mark.faults, fuse_marker(), REFUSALS]

PROJECT = "20000001"
MiB = 2**20


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, Mount]]:
    reason = fuse_skip_reason()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("control-input")
    emu = EmulatorProcess("demo", data_dir=os.environ.get("BSMOUNT_TEST_DATA_DIR") or None)
    m = Mount(emu.url, emu.token, base / "mnt", base / "mount.log").start()
    try:
        yield emu, m
    finally:
        m.stop()
        assert emu.token not in m.log()
        emu.stop()


def _state(emu: EmulatorProcess) -> dict[str, Any]:
    """What a refused write must not change, read through the API."""
    return {
        "properties": items(emu, f"v1pre3/projects/{PROJECT}/properties"),
        "projects": sorted(p["Name"] for p in items(emu, "v1pre3/users/current/projects")),
        "trash": emu.api("v2/trash", limit=1000).get("Items", []),
    }


def _write(path: Path, chunks: list[bytes]) -> None:
    """Write each chunk completely, as ``echo`` and ``cat`` do (a short write is followed by a
    write of the rest), then close (where an incomplete payload fails)."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


BIG = b'{"Bsmount.Big": "' + b"x" * MiB + b'"}'
CASES: list[tuple[str, str, list[bytes], int]] = [
    # (id, control file, write() chunks, errno)
    ("props-invalid-utf8-json", ".properties", [b'{"Bsmount.A": "\xff\xfe"}'], errno.EINVAL),
    ("props-invalid-utf8-lines", ".properties", [b"Bsmount.A=\xc3\x28\n"], errno.EINVAL),
    ("props-over-1mib-one-write", ".properties", [BIG], errno.EFBIG),
    (
        "props-over-1mib-many-writes",
        ".properties",
        [BIG[i : i + 65536] for i in range(0, len(BIG), 65536)],
        errno.EFBIG,
    ),
    ("props-partial-json", ".properties", [b'{"Bsmount.A": "x", "Bsmount.B": '], errno.EINVAL),
    ("props-partial-json-2-writes", ".properties", [b'{"Bsmount.A"', b': "x"'], errno.EINVAL),
    ("props-json-array", ".properties", [b'["Bsmount.A", "x"]\n'], errno.EINVAL),
    ("props-json-string", ".properties", [b'"Bsmount.A=x"\n'], errno.EINVAL),
    ("props-number", ".properties", [b'{"Bsmount.A": 42}\n'], errno.EINVAL),
    ("props-bool", ".properties", [b'{"Bsmount.A": true}\n'], errno.EINVAL),
    ("props-null-missing", ".properties", [b'{"Bsmount.A": null}\n'], errno.ENOENT),  # delete
    ("props-nested-object", ".properties", [b'{"Bsmount.A": {"x": {"y": 1}}}\n'], errno.EINVAL),
    ("props-mixed-list", ".properties", [b'{"Bsmount.A": ["x", 1]}\n'], errno.EINVAL),
    (
        "props-ref-unknown-kind",
        ".properties",
        [b'{"Bsmount.A": {"type": "cat", "id": "1"}}\n'],
        errno.EINVAL,
    ),
    ("props-ref-without-id", ".properties", [b'{"Bsmount.A": {"type": "run"}}\n'], errno.EINVAL),
    ("props-name-without-namespace", ".properties", [b'{"nodots": "x"}\n'], errno.EINVAL),
    ("props-name-with-nul", ".properties", [b'{"Bsmount.A\\u0000": "x"}\n'], errno.EINVAL),
    (
        "props-one-bad-among-good",
        ".properties",
        [b'{"Bsmount.Good": "x", "Bsmount.Bad": 1}\n'],
        errno.EINVAL,
    ),
    ("trash-not-yes", ".trash", [b"no\n"], errno.EINVAL),
    ("trash-invalid-utf8", ".trash", [b"\xff\xfe\n"], errno.EINVAL),
    ("trash-yes-twice", ".trash", [b"yes yes\n"], errno.EINVAL),
    ("trash-over-1mib", ".trash", [b"y" * (MiB + 1)], errno.EFBIG),
    ("commands-unknown", "/.commands", [b"frobnicate\n"], errno.EINVAL),
    ("commands-invalid-utf8", "/.commands", [b"\xff\xfe\n"], errno.EINVAL),
    ("commands-trash-outside", "/.commands", [b"move-to-trash ../../etc\n"], errno.ENOENT),
    ("commands-trash-missing", "/.commands", [b"move-to-trash Projects/nope\n"], errno.ENOENT),
]


@pytest.mark.parametrize(
    ("control", "chunks", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_control_writes_change_nothing(
    setup: tuple[EmulatorProcess, Mount], control: str, chunks: list[bytes], code: int
) -> None:
    emu, m = setup
    directory = m.path if control.startswith("/") else entity_dir(m.path / "Projects", PROJECT)
    target = directory / control.lstrip("/")
    before = _state(emu)
    with pytest.raises(OSError) as info:
        _write(target, chunks)
    assert info.value.errno == code, info.value
    error = (directory / ".error").read_text()
    assert errno.errorcode[code] in error and control.lstrip("/") in error, error
    assert _state(emu) == before


@pytest.mark.parametrize(
    "name", [b"\xff\xfe project", b"x" * 300], ids=["invalid-utf8", "over-255-bytes"]
)
def test_bad_mkdir_changes_nothing(setup: tuple[EmulatorProcess, Mount], name: bytes) -> None:
    emu, m = setup
    before = _state(emu)
    with pytest.raises(OSError) as info:
        os.mkdir(os.fsencode(m.path / "Projects") + b"/" + name)
    assert info.value.errno in (errno.EINVAL, errno.ENAMETOOLONG), info.value
    if info.value.errno == errno.EINVAL:  # refused by bsmount or the API, not the kernel
        assert "mkdir: EINVAL" in (m.path / "Projects" / ".error").read_text()
    assert _state(emu) == before
