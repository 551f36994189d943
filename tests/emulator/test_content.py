"""Unit tests of the emulator's content sources (no server)."""

from __future__ import annotations

import hashlib
import random
import re
import time
from pathlib import Path

import pytest

from bsmount.emulator.blobs.content import (
    BLOCK_SIZE,
    CHUNK_SIZE,
    ContentSource,
    GeneratedContent,
    LiteralContent,
    LocalFileContent,
    generated_bytes,
)


def _read(content: ContentSource, start: int, end: int) -> bytes:
    return b"".join(content.iter_range(start, end))


def test_generated_is_deterministic_and_slices_agree_with_whole() -> None:
    size = 3 * CHUNK_SIZE + 12345
    whole = _read(GeneratedContent(size, 42), 0, size)
    assert len(whole) == size
    assert whole == _read(GeneratedContent(size, 42), 0, size)
    rng = random.Random(7)
    edges = [0, 1, 15, 16, 17, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1, CHUNK_SIZE, size - 1]
    cases = [(a, b) for a in edges for b in edges if a <= b]
    cases += [tuple(sorted((rng.randrange(size + 1), rng.randrange(size + 1)))) for _ in range(300)]
    fresh = GeneratedContent(size, 42)
    for start, end in cases:
        assert _read(fresh, start, end) == whole[start:end], (start, end)
    assert generated_bytes(size, 42, 100, 200) == whole[100:200]


def test_generated_chunks_are_about_a_mebibyte() -> None:
    chunks = list(GeneratedContent(5 * CHUNK_SIZE, 1).iter_range(10, 4 * CHUNK_SIZE + 10))
    assert all(len(chunk) <= CHUNK_SIZE for chunk in chunks)
    assert len(chunks) == 4
    assert sum(map(len, chunks)) == 4 * CHUNK_SIZE


def test_generated_range_is_clamped_to_size() -> None:
    content = GeneratedContent(1000, 3)
    assert len(_read(content, 990, 5000)) == 10
    assert _read(content, 1000, 2000) == b""
    with pytest.raises(ValueError):
        list(content.iter_range(10, 5))


def test_generated_depends_on_seed_and_offset() -> None:
    size = 4 * BLOCK_SIZE
    one, other = (
        _read(GeneratedContent(size, 1), 0, size),
        _read(GeneratedContent(size, 2), 0, size),
    )
    assert one != other
    blocks = [one[i : i + BLOCK_SIZE] for i in range(0, size, BLOCK_SIZE)]
    assert len(set(blocks)) == len(blocks)
    # A read at a wrong offset (by a byte, or by whole blocks) never gives the right bytes.
    for shift in (1, 16, BLOCK_SIZE, 2 * BLOCK_SIZE):
        assert one[shift : shift + 4096] != one[:4096]


def test_generated_bytes_look_random() -> None:
    data = _read(GeneratedContent(CHUNK_SIZE, 9), 0, CHUNK_SIZE)
    # Roughly uniform byte values: no value is wildly over-represented.
    counts = [data.count(bytes([v])) for v in range(256)]
    assert max(counts) < 2 * CHUNK_SIZE / 256


def test_generated_etag_is_multipart_style() -> None:
    part = 8 * 1024 * 1024
    for size, parts in [(0, 1), (1, 1), (part, 1), (part + 1, 2), (5 * 2**30, 640)]:
        etag = GeneratedContent(size, 5).etag
        assert re.fullmatch(r"[0-9a-f]{32}-(\d+)", etag), etag
        assert etag.endswith(f"-{parts}")
    assert GeneratedContent(100, 1).etag == GeneratedContent(100, 1).etag
    assert GeneratedContent(100, 1).etag != GeneratedContent(100, 2).etag
    assert GeneratedContent(100, 1).etag != GeneratedContent(101, 1).etag


def test_huge_generated_file_costs_nothing() -> None:
    content = GeneratedContent(100 * 10**9, 11)
    tail = _read(content, content.size - 10, content.size)
    assert len(tail) == 10
    assert tail == _read(GeneratedContent(100 * 10**9, 11), content.size - 10, content.size)


def test_generated_throughput_exceeds_one_gigabyte_per_second() -> None:
    content = GeneratedContent(2**30, 4)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = sum(len(chunk) for chunk in content.iter_range(0, 256 * 2**20))
        best = min(best, time.perf_counter() - started)
    assert total == 256 * 2**20
    assert total / best > 1e9, f"{total / best / 1e6:.0f} MB/s"


def test_literal_content() -> None:
    data = bytes(range(256)) * 9000
    content = LiteralContent(data)
    assert content.size == len(data)
    assert content.etag == hashlib.md5(data).hexdigest()
    assert _read(content, 0, len(data)) == data
    assert _read(content, 1000, 5000) == data[1000:5000]
    assert all(len(c) <= CHUNK_SIZE for c in content.iter_range(0, len(data)))
    assert LiteralContent(b"").etag == hashlib.md5(b"").hexdigest()


def test_local_file_content_streams_and_hashes_lazily(tmp_path: Path) -> None:
    data = random.Random(3).randbytes(2 * CHUNK_SIZE + 77)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    content = LocalFileContent(path)
    assert content.size == len(data)
    assert content.last_modified is not None
    assert content._etag is None  # not hashed until asked
    assert content.etag == hashlib.md5(data).hexdigest()
    chunks = list(content.iter_range(5, len(data)))
    assert all(len(c) <= CHUNK_SIZE for c in chunks)
    assert b"".join(chunks) == data[5:]
    assert _read(content, CHUNK_SIZE - 3, CHUNK_SIZE + 3) == data[CHUNK_SIZE - 3 : CHUNK_SIZE + 3]
    # The MD5 is computed once: later changes to the file do not re-hash.
    path.write_bytes(b"changed")
    assert content.etag == hashlib.md5(data).hexdigest()


def test_sources_satisfy_the_protocol(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    for content in (LiteralContent(b"x"), LocalFileContent(tmp_path / "f"), GeneratedContent(1, 1)):
        assert isinstance(content, ContentSource)
