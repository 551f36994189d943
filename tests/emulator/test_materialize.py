"""``--materialize DIR`` and ``--blob-base-url URL``: blobs on disk at their URL paths."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from bsmount.emulator.blobs.content import generated_bytes
from bsmount.emulator.blobs.materialize import blob_path, materialize
from bsmount.emulator.blobs.signing import blob_key
from bsmount.emulator.seeds.load import load_seed_data
from tests.emulator_proc import EmulatorProcess

TOKEN = "3a7e" * 8
KEY = bytes(range(32))
ODD_NAME = "odd name (1): α&=?.txt"
GEN_SIZE = 3 * 2**20 + 7  # several 1 MiB chunks and a ragged end


def local_bytes() -> bytes:
    return random.Random(11).randbytes(300_001)


def seed_document(directory: Path) -> dict[str, object]:
    (directory / "local.bin").write_bytes(local_bytes())
    files = [
        {"id": "8001", "path": "hello.txt", "text": "hello\n"},
        {"id": "8002", "path": "deep/dir/gen.bin", "size": GEN_SIZE, "seed": 5},
        {"id": "8003", "path": "local.bin", "source": "local.bin"},
        {"id": "8004", "path": f"x/{ODD_NAME}", "text": "odd\n"},
        {"id": "8005", "path": "empty.txt", "text": ""},
    ]
    return {
        "users": [{"name": "Bench", "tokens": [TOKEN]}],
        "projects": [{"name": "P", "appresults": [{"name": "R", "files": files}]}],
    }


def expected() -> dict[str, tuple[str, bytes]]:
    return {
        "8001": ("hello.txt", b"hello\n"),
        "8002": ("gen.bin", generated_bytes(GEN_SIZE, 5, 0, GEN_SIZE)),
        "8003": ("local.bin", local_bytes()),
        "8004": (ODD_NAME, b"odd\n"),
        "8005": ("empty.txt", b""),
    }


def test_materialize_writes_every_file_at_its_blob_path_and_skips_on_rerun(
    tmp_path: Path,
) -> None:
    state = load_seed_data(seed_document(tmp_path), tmp_path)
    out = tmp_path / "blobs"
    stats = materialize(state, out, KEY)
    assert (stats.written, stats.skipped, stats.failed) == (5, 0, 0)
    assert stats.bytes_written == sum(len(data) for _, data in expected().values())
    for file_id, (name, data) in expected().items():
        path = out / "s3" / blob_key(file_id, KEY) / name
        assert path == blob_path(out, file_id, name, KEY)
        assert path.read_bytes() == data
    # Nothing but the blobs (no temporary files left behind).
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == sorted(
        name for name, _ in expected().values()
    )

    gen = blob_path(out, "8002", "gen.bin", KEY)
    before = gen.stat().st_mtime_ns
    os.utime(gen, ns=(before - 10**9, before - 10**9))
    again = materialize(state, out, KEY)
    assert (again.written, again.skipped, again.bytes_written) == (0, 5, 0)
    assert gen.stat().st_mtime_ns == before - 10**9  # left alone, not rewritten

    # A file with the wrong size (an interrupted copy, an older seed) is written again.
    with gen.open("r+b") as handle:
        handle.truncate(1000)
    third = materialize(state, out, KEY)
    assert (third.written, third.skipped) == (1, 4)
    assert gen.read_bytes() == expected()["8002"][1]


def test_other_signing_key_gives_other_paths(tmp_path: Path) -> None:
    state = load_seed_data(seed_document(tmp_path), tmp_path)
    materialize(state, tmp_path / "a", KEY)
    materialize(state, tmp_path / "b", bytes(32))
    assert {p.name for p in (tmp_path / "a" / "s3").iterdir()}.isdisjoint(
        p.name for p in (tmp_path / "b" / "s3").iterdir()
    )


def test_emulator_flags_point_content_urls_at_the_materialized_files(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(seed_document(tmp_path)), encoding="utf-8")
    out = tmp_path / "blobs"
    base = "http://127.0.0.1:9/static/"
    args = ["--materialize", str(out), "--blob-base-url", base]
    with EmulatorProcess(seed, token=TOKEN, extra_args=args) as emulator:
        for file_id, (name, data) in expected().items():
            meta = emulator.api(f"v2/files/{file_id}/content", redirect="meta")
            url = meta["HrefContent"]
            assert url.startswith("http://127.0.0.1:9/static/s3/")
            path = unquote(urlsplit(url).path).removeprefix("/static/")
            assert (out / path).read_bytes() == data, name
        v1 = emulator.api("v1pre3/files/8002/content", redirect="meta")["Response"]
        assert v1["HrefContent"].startswith(base + "s3/")


@pytest.mark.parametrize("bad", ["ftp://x/", "127.0.0.1:80"])
def test_bad_blob_base_url_is_refused(tmp_path: Path, bad: str) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(seed_document(tmp_path)), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "bsmount", "emulator", "--seed", str(seed), "--blob-base-url", bad],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "--blob-base-url" in result.stderr
