"""Issue 7, "wrong answers" and "integrity": bytes the blob store gets wrong never pass as data.

A private emulator serves one file per case; each case's fault rule matches only its file's
content URL, and all the cases are read at once (one reader process per file) through one mount
with ``--io-timeout 6``:

- persistent faults — a body shorter than Content-Length (``truncate``), a 200 where a 206 was
  asked (``ignore_range``), a Content-Range other than the one asked (``wrong_range``): EIO after
  the client's retries, and the bytes the reader got before the error are a correct prefix;
  an ETag change (``etag_change``): ESTALE;
- ``corrupt`` (one byte of every answer flipped) on files whose ETag is a plain MD5: EIO — for a
  1 MiB file (checked whole by the client, retried, then refused), a 3 MiB file and a 72 MiB one
  (checked by the read engine's MD5 of the whole sequential read, at EOF);
- the same faults firing once: the client retries and the reader gets every byte right (an
  ETag change may also give ESTALE — never wrong bytes; a corrupted answer is retried when the
  client checks the file whole, and gives EIO at EOF when the engine does).

Failures are not cached: with the faults gone, every file then reads right.
Every EIO/ESTALE has a log line naming the file and, for a ranged GET that went wrong, its byte
range (the request; its URL is logged too where the answer was wrong, signature redacted).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.faults.helpers import MiB, direct_md5, log_lines, reader_result, start_reader
from tests.mount.mounting import Mount, fuse_marker

# Every wrong answer ends in a logged failure and an errno (the point of the module).
WRONG_ANSWERS = pytest.mark.expect_log_warnings(
    r"read of file \d+ bytes \d+-\d+ failed: (file changed: ETag|file \d+: MD5 \w+ of the whole"
    r" body differs|HTTP 200 \(whole object\)|Content-Range '.*' does not match)",
    r"file \d+: full read does not match its ETag",
    r"read\(\d+, \d+, \d+\) -> (ESTALE: StaleFileError: file changed|EIO: IntegrityError: "
    r"|EIO: TransportError: file \d+: no data for bytes)",
    # a body always cut short: the retries give up on the deadline or on the lack of data,
    # whichever comes first (timing: the retry's jitter)
    r"giving up on read of file \d+ bytes \d+-\d+: .*RemoteProtocolError: peer closed",
    r"read of file \d+ bytes \d+-\d+ failed: .*RemoteProtocolError: peer closed",
    r"read\(\d+, \d+, \d+\) -> EIO: TransportError: read of file \d+ .*RemoteProtocolError",
)
pytestmark = [pytest.mark.faults, fuse_marker(), WRONG_ANSWERS]

GEN = 3 * MiB + 5
# name -> (file spec, fault action, fault count or None, expected outcome)
CASES: dict[str, tuple[dict[str, Any], str, int | None, str]] = {
    "truncate-always": ({"size": GEN}, "truncate", None, "EIO"),
    "ignore_range-always": ({"size": GEN}, "ignore_range", None, "EIO"),
    "wrong_range-always": ({"size": GEN}, "wrong_range", None, "EIO"),
    "etag_change-always": ({"size": GEN}, "etag_change", None, "ESTALE"),
    "corrupt-1m-always": ({"source": "one.bin"}, "corrupt", None, "EIO"),
    "corrupt-3m-always": ({"source": "three.bin"}, "corrupt", None, "EIO"),
    "corrupt-72m-once": ({"source": "big.bin"}, "corrupt", 1, "EIO"),
    "truncate-once": ({"size": GEN}, "truncate", 1, "ok"),
    "reset-once": ({"size": GEN}, "reset", 1, "ok"),
    "ignore_range-once": ({"size": GEN}, "ignore_range", 1, "ok"),
    "wrong_range-once": ({"size": GEN}, "wrong_range", 1, "ok"),
    "etag_change-once": ({"size": GEN}, "etag_change", 1, "ok or ESTALE"),
    "corrupt-1m-once": ({"source": "one.bin"}, "corrupt", 1, "ok"),
}


def _seed(directory: Path) -> Path:
    rng = random.Random(11)
    for name, size in (("one.bin", MiB), ("three.bin", GEN), ("big.bin", 72 * MiB)):
        (directory / name).write_bytes(rng.randbytes(size))
    files = [
        {"path": f"{name}.bin", **spec, **({"seed": i} if "size" in spec else {})}
        for i, (name, (spec, _a, _c, _o)) in enumerate(CASES.items())
    ]
    seed = {
        "users": [{"name": "Wrong Answers", "tokens": ["7e57" * 8]}],
        "projects": [{"name": "P", "appresults": [{"name": "A", "files": files}]}],
    }
    path = directory / "seed.json"
    path.write_text(json.dumps(seed))
    return path


def test_wrong_answers_never_pass_as_data(
    emulator_factory: Callable[..., Any],
    mounter: Callable[..., Mount],
    tmp_path: Path,
    figures: dict[str, Any],
) -> None:
    emu = emulator_factory(_seed(tmp_path))
    m = mounter(emu, "--io-timeout", "6")
    api_files = emu.api("v1pre3/appresults/40000001/files", Limit=100)["Response"]["Items"]
    ids = {f["Name"].removesuffix(".bin"): f["Id"] for f in api_files}
    assert set(ids) == set(CASES)
    want = {name: direct_md5(emu, ids[name]) for name in CASES}
    rules = []
    for name, (_spec, action, count, _outcome) in CASES.items():
        rule: dict[str, Any] = {"method": "GET", "path": f"^/s3/.*/{name}\\.bin$", "action": action}
        if count is not None:
            rule["count"] = count
        rules.append(rule)
    emu.add_faults(rules)

    files = m.path / "Projects" / "P" / "AppResults" / "A" / "Files"
    readers = {name: start_reader(files / f"{name}.bin") for name in CASES}
    results = {name: reader_result(proc, timeout=60) for name, proc in readers.items()}
    log = m.log()
    outcomes: dict[str, str] = {}
    for name, (_spec, action, _count, expected) in CASES.items():
        result = results[name]
        got = result["errno"] or "ok"
        outcomes[name] = got
        assert got in expected.split(" or "), (name, result)
        if got == "ok":
            assert result["md5"] == want[name], name
            continue
        assert result["longest_read"] <= 6 + 1.5, (name, result)
        if action != "corrupt" and result["bytes"]:
            # what the reader got before the error is a correct prefix of the file
            assert result["md5"] == direct_md5(emu, ids[name], 0, result["bytes"]), name
        # the errno is logged with its cause, naming the file; the client names the request
        # (the file and the byte range of the ranged GET)
        assert log_lines(log, f"-> {got}", ids[name]), (name, log[-4000:])
        if action != "corrupt":
            assert log_lines(log, f"-> {got}", f"file {ids[name]}", "bytes "), name
    fired = {rule["path"]: rule["fired"] for rule in emu.faults()}
    assert all(fired.values()), fired
    # Failures are not cached: once the store answers right again, every file reads right.
    emu.clear_faults()
    failed = [name for name, got in outcomes.items() if got != "ok"]
    again = {name: start_reader(files / f"{name}.bin") for name in failed}
    for name, proc in again.items():
        result = reader_result(proc, timeout=60)
        assert result["errno"] is None and result["md5"] == want[name], (name, result)
    figures["wrong_answers"] = {
        "outcomes": outcomes,
        "faults_fired": sum(fired.values()),
        "bytes_verified": sum(r["bytes"] for n, r in results.items() if outcomes[n] == "ok"),
    }
