"""Issue 7, "mix while reading everything": every demo file read through a mount under a storm of
transport faults has the right MD5, and no reader sees an error.

Injected (seeded, so a run is reproducible up to request order): on content (blob) requests 5%
503, 2% 429 with ``Retry-After: 1``, 1% connection reset mid-body, 1% truncated body, and every
content URL expiring once (``per_path``); on API calls a 100-500 ms delay 10% of the time. The
large generated file (5 GiB) is read at four 128 MiB regions (512 MiB in all) rather than whole, to
keep the suite within its time budget; each region is compared with a direct ranged read.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.faults.helpers import (
    GiB,
    MiB,
    demo_files,
    direct_md5,
    direct_md5s,
    fired_by_action,
    md5sum_all,
    read_through,
)
from tests.mount.mounting import DEMO_ODD_NAMES, Mount, fuse_marker

pytestmark = [pytest.mark.faults, fuse_marker(), DEMO_ODD_NAMES]

REGION = 128 * MiB
FAULT_MIX: list[dict[str, Any]] = [
    {"method": "GET", "path": "^/s3/", "per_path": True, "count": 1, "action": "expire"},
    {"method": "GET", "path": "^/s3/", "probability": 0.05, "seed": 1, "action": {"status": 503}},
    {
        "method": "GET",
        "path": "^/s3/",
        "probability": 0.02,
        "seed": 2,
        "action": {"status": 429, "headers": {"Retry-After": "1"}},
    },
    {"method": "GET", "path": "^/s3/", "probability": 0.01, "seed": 3, "action": "reset"},
    {"method": "GET", "path": "^/s3/", "probability": 0.01, "seed": 4, "action": "truncate"},
    {
        "method": "*",
        "path": "^/v(1pre3|2)/",
        "probability": 0.10,
        "seed": 5,
        "action": {"delay": [0.1, 0.5]},
    },
]


def test_every_demo_file_survives_the_fault_mix(
    emulator_factory: Callable[..., Any],
    mounter: Callable[..., Mount],
    figures: dict[str, Any],
) -> None:
    emu = emulator_factory("demo")
    # A short metadata TTL makes listings (and content-URL resolutions) happen under the faults too.
    m = mounter(emu, "--metadata-ttl", "2")
    files = demo_files(emu, m.path)
    small = [(p, f) for p, f in files if int(f["Size"]) <= 512 * MiB]
    big = [(p, f) for p, f in files if int(f["Size"]) > 4 * GiB]
    assert len(small) >= 300 and len(big) == 1
    big_path, big_file = big[0]
    size = int(big_file["Size"])
    regions = [
        (0, REGION),
        (GiB + 12345, REGION),
        (size // 2 + 777, REGION),
        (size - REGION, REGION),
    ]
    # The truth, read straight from the content URLs before any fault is switched on.
    md5s = direct_md5s(emu, [f["Id"] for _p, f in small])
    want = dict(zip([str(p) for p, _f in small], md5s, strict=True))
    want_regions = [direct_md5(emu, big_file["Id"], a, a + n) for a, n in regions]

    emu.add_faults(FAULT_MIX, seed=7)
    time.sleep(2.5)  # let the listings expire: lookups list again, under the API delays
    started = time.monotonic()
    assert md5sum_all(list(want)) == want
    for (offset, length), expected in zip(regions, want_regions, strict=True):
        result = read_through(big_path, "--offset", str(offset), "--length", str(length))
        assert result["errno"] is None, result
        assert result["bytes"] == length
        assert result["md5"] == expected, (offset, length)
    seconds = time.monotonic() - started

    fired = fired_by_action(emu)
    for kind in ("expire", "status 503", "status 429", "reset", "truncate", "delay"):
        assert fired.get(kind, 0) > 0, (kind, fired)
    stats = json.loads((m.path / ".bsmount" / "stats").read_text())
    assert stats["errors_by_errno"].get("EIO", 0) == 0, stats["errors_by_errno"]
    blob = [r for r in emu.requests() if r["path"].startswith("/s3/")]
    figures["fault_mix"] = {
        "files": len(small) + 1,
        "bytes_verified": sum(int(f["Size"]) for _p, f in small) + len(regions) * REGION,
        "faults_fired": fired,
        "blob_requests": len(blob),
        "client_retries": stats["api"].get("retries", 0),
        "errors_returned": 0,
        "seconds": round(seconds, 1),
    }
