"""Blob HTTP client candidates, measured against nginx on loopback: ``python -m bench.blob_http``.

Owns the measurement behind docs/design.md "Blob HTTP": one keep-alive client doing ranged GETs
into a preallocated buffer, per candidate:

* ``threaded``: bsmount's own :class:`~bsmount.api.threaded.ThreadedTransport` (``http.client``
  + ``readinto`` in a worker thread), called from trio as :mod:`bsmount.api.content` calls it;
* ``urllib3``, ``pycurl``: the same request in one ``trio.to_thread.run_sync`` hop (how a library
  would have to be called from the trio loop), bodies into the same buffer (urllib3's
  ``readinto``; pycurl's write callback);
* ``*-sync``: the same libraries (and ``http.client``, httpx's sync client) in a plain loop, no
  trio, no thread hop: the floor each one could reach.

Figures: per-request median and p99 of N 64 KiB ranged GETs, and sequential MB/s (and the
process's CPU-seconds per GiB) reading a 256 MiB file in 1, 4 and 8 MiB ranges. Candidates run
interleaved (their order rotates each round) so that a busy machine weighs on all of them alike;
the load average is printed with each round. Optional candidates (urllib3, pycurl) are skipped
when not installed; they are not bsmount dependencies.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import trio

from bench.common import MIB, Paths, free_port
from bench.services import Nginx
from bsmount.api.threaded import ThreadedTransport

FILE_SIZE = 256 * MIB
SMALL = 64 * 1024
BIG_SIZES = (1 * MIB, 4 * MIB, 8 * MIB)
NAME = "blob.bin"
TIMEOUT = httpx.Timeout(30.0)

# A request: (start, end exclusive, buffer view) -> bytes received
Sync = Callable[[int, int, memoryview], int]
Async = Callable[[int, int, memoryview], Awaitable[int]]


def _loadavg() -> str:
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


# --- candidates: each is made once per round and gives a request function and a closer ---------


class HttpClientSync:
    """Bare ``http.client`` + ``readinto`` in the calling thread (no trio, no pool)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(self, start: int, end: int, view: memoryview) -> int:
        conn = self.conn
        conn.putrequest("GET", f"/{NAME}", skip_accept_encoding=True)
        conn.putheader("Accept-Encoding", "identity")
        conn.putheader("Range", f"bytes={start}-{end - 1}")
        conn.endheaders()
        resp = conn.getresponse()
        assert resp.status == 206, resp.status
        got = 0
        while got < end - start:
            n = resp.readinto(view[got : end - start])
            if not n:
                break
            got += n
        return got

    def close(self) -> None:
        self.conn.close()


class Urllib3Sync:
    """urllib3 2.x connection pool, ``preload_content=False`` and ``readinto``."""

    def __init__(self, port: int) -> None:
        import urllib3

        self.pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1, timeout=30.0)
        self.path = f"/{NAME}"

    def get(self, start: int, end: int, view: memoryview) -> int:
        resp = self.pool.urlopen(
            "GET",
            self.path,
            headers={"Range": f"bytes={start}-{end - 1}", "Accept-Encoding": "identity"},
            preload_content=False,
            decode_content=False,
            retries=False,
        )
        try:
            assert resp.status == 206, resp.status
            assert resp.headers.get("content-range")
            got = 0
            while got < end - start:
                n = resp.readinto(view[got : end - start])
                if not n:
                    break
                got += n
            return got
        finally:
            resp.release_conn()

    def close(self) -> None:
        self.pool.close()


class PycurlSync:
    """One reused pycurl easy handle (keep-alive); the write callback copies into the buffer."""

    def __init__(self, port: int) -> None:
        import pycurl

        self.pycurl = pycurl
        self.curl = c = pycurl.Curl()
        c.setopt(pycurl.URL, f"http://127.0.0.1:{port}/{NAME}")
        c.setopt(pycurl.HTTPHEADER, ["Accept-Encoding: identity"])
        c.setopt(pycurl.BUFFERSIZE, 1 << 20)
        c.setopt(pycurl.TIMEOUT, 30)
        c.setopt(pycurl.NOSIGNAL, 1)
        c.setopt(pycurl.WRITEFUNCTION, self._write)
        c.setopt(pycurl.HEADERFUNCTION, self._header)
        self.view: memoryview | None = None
        self.pos = 0
        self.headers: list[bytes] = []

    def _write(self, data: bytes) -> None:
        n = len(data)
        assert self.view is not None
        self.view[self.pos : self.pos + n] = data
        self.pos += n

    def _header(self, line: bytes) -> None:
        self.headers.append(line)

    def get(self, start: int, end: int, view: memoryview) -> int:
        self.view, self.pos = view, 0
        self.headers = []
        c = self.curl
        c.setopt(self.pycurl.RANGE, f"{start}-{end - 1}")
        c.perform()
        assert c.getinfo(self.pycurl.RESPONSE_CODE) == 206
        self.view = None
        return self.pos

    def close(self) -> None:
        self.curl.close()


class PycurlMulti(PycurlSync):
    """pycurl driven through a ``CurlMulti`` and a select loop in the worker thread: what bsmount
    would need to return to trio every 0.5 s (stall deadlines) and to time out a silent read in
    under a second (libcurl's own low-speed limit counts whole seconds)."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.multi = self.pycurl.CurlMulti()

    def get(self, start: int, end: int, view: memoryview) -> int:
        self.view, self.pos = view, 0
        self.headers = []
        c, m = self.curl, self.multi
        c.setopt(self.pycurl.RANGE, f"{start}-{end - 1}")
        m.add_handle(c)
        try:
            while True:
                ret, running = m.perform()
                if ret == self.pycurl.E_CALL_MULTI_PERFORM:
                    continue
                if not running:
                    break
                m.select(0.5)
            _, ok, failed = m.info_read()
            assert ok and not failed, failed
        finally:
            m.remove_handle(c)
        assert c.getinfo(self.pycurl.RESPONSE_CODE) == 206
        self.view = None
        return self.pos

    def close(self) -> None:
        self.multi.close()
        super().close()


class HttpxSync:
    """httpx's sync client (httpcore, h11), ``iter_raw`` copied into the buffer."""

    def __init__(self, port: int) -> None:
        self.client = httpx.Client(headers={"Accept-Encoding": "identity"}, trust_env=False)
        self.url = f"http://127.0.0.1:{port}/{NAME}"

    def get(self, start: int, end: int, view: memoryview) -> int:
        got = 0
        with self.client.stream(
            "GET", self.url, headers={"Range": f"bytes={start}-{end - 1}"}
        ) as r:
            assert r.status_code == 206
            for chunk in r.iter_raw():
                view[got : got + len(chunk)] = chunk
                got += len(chunk)
        return got

    def close(self) -> None:
        self.client.close()


class Hopped:
    """A sync candidate called from trio, one ``trio.to_thread.run_sync`` hop per request."""

    def __init__(self, inner: HttpClientSync | Urllib3Sync | PycurlSync | PycurlMulti) -> None:
        self.inner = inner
        self.limiter = trio.CapacityLimiter(1)

    async def get(self, start: int, end: int, view: memoryview) -> int:
        return await trio.to_thread.run_sync(self.inner.get, start, end, view, limiter=self.limiter)

    def close(self) -> None:
        self.inner.close()


class Threaded:
    """bsmount's ThreadedTransport.get, read to the end as ContentReader._fetch_into does."""

    def __init__(self, port: int) -> None:
        self.transport = ThreadedTransport(max_connections=1)
        self.url = f"http://127.0.0.1:{port}/{NAME}"

    async def get(self, start: int, end: int, view: memoryview) -> int:
        ex = await self.transport.get(
            self.url, [("Range", f"bytes={start}-{end - 1}")], view[: end - start], TIMEOUT
        )
        try:
            assert ex.status == 206, ex.status
            got = ex.filled
            while got < end - start:
                n = await ex.body.readinto(view[got : end - start])
                if not n:
                    break
                got += n
            assert await ex.body.at_eof()
            return got
        finally:
            await ex.body.aclose()

    def close(self) -> None:
        trio.run(self.transport.aclose)


def _candidates(port: int) -> dict[str, Callable[[], Sync | Async | object]]:
    made: dict[str, Callable[[], object]] = {
        "threaded (bsmount)": lambda: Threaded(port),
        "http.client-hop": lambda: Hopped(HttpClientSync(port)),
        "http.client-sync": lambda: HttpClientSync(port),
        "httpx-sync": lambda: HttpxSync(port),
    }
    try:
        import urllib3  # noqa: F401

        made["urllib3-hop"] = lambda: Hopped(Urllib3Sync(port))
        made["urllib3-sync"] = lambda: Urllib3Sync(port)
    except ImportError:
        print("urllib3 not installed: skipped")
    try:
        import pycurl  # noqa: F401

        made["pycurl-hop"] = lambda: Hopped(PycurlSync(port))
        made["pycurl-multi-hop"] = lambda: Hopped(PycurlMulti(port))
        made["pycurl-sync"] = lambda: PycurlSync(port)
    except ImportError:
        print("pycurl not installed: skipped")
    return made


# --- the measurements ---------------------------------------------------------------------------


def _ranges(count: int, size: int) -> list[tuple[int, int]]:
    """``count`` pseudo-random aligned ranges of ``size`` bytes (the same for every candidate)."""
    slots = FILE_SIZE // size
    return [((i * 7919) % slots * size, (i * 7919) % slots * size + size) for i in range(count)]


def _run(candidate: object, ranges: list[tuple[int, int]], view: memoryview) -> list[float]:
    """Seconds per request; the whole loop runs in trio when the candidate is async."""
    times: list[float] = []
    get = candidate.get  # type: ignore[attr-defined]
    if isinstance(candidate, Threaded | Hopped):

        async def main() -> None:
            clock = time.perf_counter
            for start, end in ranges:
                t0 = clock()
                n = await get(start, end, view)
                times.append(clock() - t0)
                assert n == end - start

        trio.run(main)
    else:
        clock = time.perf_counter
        for start, end in ranges:
            t0 = clock()
            n = get(start, end, view)
            times.append(clock() - t0)
            assert n == end - start
    return times


def _check(candidate: object, data: bytes) -> None:
    buf = bytearray(SMALL)
    for start, end in _ranges(3, SMALL):
        _run(candidate, [(start, end)], memoryview(buf))
        assert buf == data[start:end], "wrong bytes"


def measure(port: int, data: bytes, rounds: int, count: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    makers = _candidates(port)
    names = list(makers)
    small = _ranges(count, SMALL)
    small_buf = memoryview(bytearray(SMALL))
    for rnd in range(rounds):
        order = names[rnd % len(names) :] + names[: rnd % len(names)]
        print(f"round {rnd + 1}: load average {_loadavg()}", flush=True)
        for name in order:
            cand = makers[name]()
            try:
                _check(cand, data)
                _run(cand, small[:200], small_buf)  # warm-up
                times = sorted(_run(cand, small, small_buf))
                row: dict[str, object] = {
                    "round": rnd + 1,
                    "name": name,
                    "median_ms": statistics.median(times) * 1e3,
                    "p99_ms": times[int(len(times) * 0.99)] * 1e3,
                }
                for size in BIG_SIZES:
                    big = [(a, a + size) for a in range(0, FILE_SIZE, size)]
                    buf = memoryview(bytearray(size))
                    cpu0, t0 = time.process_time(), time.perf_counter()
                    _run(cand, big, buf)
                    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                    row[f"{size // MIB}MiB_MBps"] = FILE_SIZE / wall / 1e6
                    row[f"{size // MIB}MiB_cpu"] = cpu / (FILE_SIZE / 2**30)
                rows.append(row)
                print(
                    f"  {name:20s} 64KiB median {row['median_ms']:.3f} ms"
                    f" p99 {row['p99_ms']:.3f} ms"
                    + "".join(
                        f" | {s // MIB} MiB {row[f'{s // MIB}MiB_MBps']:.0f} MB/s"
                        f" {row[f'{s // MIB}MiB_cpu']:.2f} CPU-s/GiB"
                        for s in BIG_SIZES
                    ),
                    flush=True,
                )
            finally:
                cand.close()  # type: ignore[attr-defined]
        print(f"  (load average after round {rnd + 1}: {_loadavg()})", flush=True)
    return rows


def summary(rows: list[dict[str, object]]) -> None:
    print("\nmedians over rounds (range):")
    keys = ["median_ms", "p99_ms"] + [f"{s // MIB}MiB_MBps" for s in BIG_SIZES] + ["8MiB_cpu"]
    print("| candidate | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name in dict.fromkeys(str(r["name"]) for r in rows):
        cells = []
        for key in keys:
            vals = sorted(float(r[key]) for r in rows if r["name"] == name)  # type: ignore[arg-type]
            fmt = ".3f" if key.endswith("_ms") else (".2f" if key.endswith("cpu") else ".0f")
            cells.append(f"{statistics.median(vals):{fmt}} ({vals[0]:{fmt}}-{vals[-1]:{fmt}})")
        print(f"| {name} | " + " | ".join(cells) + " |")


def httpcore_read_size(port: int, rounds: int) -> None:
    """What httpcore's socket read size (``AsyncHTTP11Connection.READ_NUM_BYTES``, 64 KiB, once
    raised to 1 MiB at bsmount's import) does to the API client: httpx on trio fetching bodies
    the size of API answers (a 1,000-entry listing page with signed URLs is ~1 MB)."""
    import httpcore

    saved = httpcore.AsyncHTTP11Connection.READ_NUM_BYTES
    default = 64 * 1024  # httpcore's own value (importing bsmount.api.http once raised it)
    url = f"http://127.0.0.1:{port}/{NAME}"
    sizes = (64 * 1024, 1 * MIB, 4 * MIB)
    results: dict[tuple[int, int], list[float]] = {}

    async def once(read_size: int, size: int, count: int) -> float:
        httpcore.AsyncHTTP11Connection.READ_NUM_BYTES = read_size
        async with httpx.AsyncClient(trust_env=False) as client:
            times = []
            for i in range(count):
                start = (i * size) % (FILE_SIZE - size)
                t0 = time.perf_counter()
                resp = await client.get(url, headers={"Range": f"bytes={start}-{start + size - 1}"})
                times.append(time.perf_counter() - t0)
                assert len(resp.content) == size
        return statistics.median(times)

    try:
        for rnd in range(rounds):
            print(f"httpcore round {rnd + 1}: load average {_loadavg()}", flush=True)
            for size in sizes:
                for read_size in (default, 1 * MIB) if rnd % 2 == 0 else (1 * MIB, default):
                    count = 2000 if size <= MIB // 16 else 200
                    med = trio.run(once, read_size, size, count)
                    results.setdefault((read_size, size), []).append(med)
    finally:
        httpcore.AsyncHTTP11Connection.READ_NUM_BYTES = saved
    print("\n| body | httpcore reads of 64 KiB (ms) | of 1 MiB (ms) |\n|---|---|---|")
    for size in sizes:
        cells = [statistics.median(results[(r, size)]) * 1e3 for r in (default, 1 * MIB)]
        print(f"| {size // 1024} KiB | {cells[0]:.3f} | {cells[1]:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=3000, help="64 KiB GETs per candidate")
    parser.add_argument(
        "--httpcore", action="store_true", help="measure httpcore's read size (API client) instead"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bsmount-blob-http-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        paths = Paths(root)
        paths.make()
        data = os.urandom(FILE_SIZE)
        (paths.blobs / NAME).write_bytes(data)
        nginx = Nginx(paths, free_port())
        nginx.start()
        try:
            if args.httpcore:
                httpcore_read_size(nginx.port, args.rounds)
                return
            rows = measure(nginx.port, data, args.rounds, args.count)
        finally:
            nginx.stop()
    summary(rows)


if __name__ == "__main__":
    main()
