"""A ``stat`` sampler for the load test: stats paths in a loop and reports latencies as JSON.

``python statloop.py SECONDS INTERVAL PATH...`` stats every PATH (a PATH ending in ``!`` must
not exist: ENOENT is expected, anything else is an error) every INTERVAL seconds for SECONDS, then
prints ``{"samples", "max", "p99", "slowest": [[seconds, path, at], ...], "errors": [...]}``.
Run in its own process (the load test raises its priority) so the figures measure the mount, not
the test process's threads.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    duration, interval, paths = float(argv[0]), float(argv[1]), argv[2:]
    times: list[tuple[float, str, float]] = []
    errors: list[str] = []
    started = time.monotonic()
    while time.monotonic() - started < duration:
        for path in paths:
            missing = path.endswith("!")
            target = path[:-1] if missing else path
            before = time.monotonic()
            try:
                os.stat(target)
                if missing:
                    errors.append(f"{target} exists")
            except OSError as exc:
                if not (missing and exc.errno == errno.ENOENT):
                    errors.append(f"{target}: {exc}")
            times.append((time.monotonic() - before, target, before - started))
        time.sleep(interval)
    ordered = sorted(times, reverse=True)
    result = {
        "samples": len(times),
        "max": ordered[0][0] if ordered else 0.0,
        "p99": ordered[len(ordered) // 100][0] if ordered else 0.0,
        "slowest": [[round(t, 4), p, round(at, 2)] for t, p, at in ordered[:10]],
        "errors": errors[:20],
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
