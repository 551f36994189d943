"""Checking a blob answer and taking its body: the pieces of :mod:`bsmount.api.content` that do not
depend on the reader's state.

:func:`check_answer` raises the error an answer calls for (status, ETag, ``Content-Range``,
``Content-Length``); :class:`Where` names the request in those errors (formatted, URL redacted,
only when an error is made); :func:`new_buffer` allocates a read buffer without zero-filling it;
:func:`md5_hex` hashes a whole body.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import trio

from bsmount._types import FileVersion
from bsmount.api.http import api_error
from bsmount.api.models import unquote_etag
from bsmount.api.retry import parse_retry_after
from bsmount.api.urls import ContentUrl
from bsmount.errors import ContentUrlExpired, IntegrityError, StaleFileError, redact

__all__ = [
    "Where",
    "check_answer",
    "check_content_range",
    "md5_hex",
    "new_buffer",
]

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


class Where:
    """Names a request in error messages ("file F bytes A-B (URL, redacted)"), lazily."""

    __slots__ = ("end", "file_id", "pos", "url")

    def __init__(self, file_id: str, pos: int, end: int, url: str) -> None:
        self.file_id, self.pos, self.end, self.url = file_id, pos, end, url

    def __str__(self) -> str:
        return f"file {self.file_id} bytes {self.pos}-{self.end - 1} ({redact(self.url)})"


def check_answer(
    status: int,
    header: Callable[[str], str | None],
    url: ContentUrl,
    version: FileVersion,
    pos: int,
    end: int,
    where: Where,
) -> None:
    """Raise the error a blob answer calls for: status, ETag, Content-Range, length."""
    if status != 206 and status != 200:
        if status == 403:
            raise ContentUrlExpired(f"blob store refused the URL: {where}: HTTP 403")
        if status == 416:
            raise StaleFileError(f"range not satisfiable, the file shrank: {where}")
        raise api_error(
            status,
            f"blob store error for file {version.file_id}",
            url=url.url,
            retry_after=parse_retry_after(header("retry-after")),
        )
    etag = unquote_etag(header("etag"))
    if version.etag and etag and etag != version.etag:
        raise StaleFileError(f"file changed: ETag {etag} instead of {version.etag}: {where}")
    if status == 200:
        if not (pos == 0 and end == version.size):
            raise IntegrityError(f"HTTP 200 (whole object) where a range was asked: {where}")
    else:
        check_content_range(header("content-range"), pos, end, version, where)
    length = header("content-length")
    if length is not None and length.strip() != str(end - pos):
        raise IntegrityError(f"Content-Length {length} instead of {end - pos}: {where}")


def check_content_range(
    header: str | None, pos: int, end: int, version: FileVersion, where: Where
) -> None:
    match = _CONTENT_RANGE.match(header or "")
    if match is None:
        raise IntegrityError(f"206 without a valid Content-Range ({header!r}): {where}")
    first, last, total = int(match.group(1)), int(match.group(2)), match.group(3)
    grown = version.growing and total != "*" and int(total) > version.size
    if total != "*" and int(total) != version.size and not grown:
        raise StaleFileError(f"file size is now {total}, not {version.size}: {where}")
    if first != pos or last != end - 1:
        raise IntegrityError(f"Content-Range {header!r} does not match the request: {where}")


def _make_allocator() -> Callable[[int], bytearray]:
    """``bytearray(n)`` zero-fills: 1.5 ms of the trio thread per 8 MiB part (0.2 CPU-s per GiB).
    CPython's ``PyByteArray_FromStringAndSize(NULL, n)`` does not; the page faults then happen
    in the worker thread's socket read. Safe here because :meth:`ContentReader.read_range`
    returns a buffer only once every byte of it has been received."""
    try:
        import ctypes

        func = ctypes.pythonapi.PyByteArray_FromStringAndSize
        func.restype = ctypes.py_object
        func.argtypes = (ctypes.c_void_p, ctypes.c_ssize_t)
        probe = func(None, 8)
        if not isinstance(probe, bytearray) or len(probe) != 8:
            raise TypeError("unexpected result")
    except Exception:  # not CPython: zero-filled buffers
        return bytearray

    def allocate(size: int) -> bytearray:
        return func(None, size) if size > 0 else bytearray()  # type: ignore[no-any-return]

    return allocate


new_buffer = _make_allocator()


async def md5_hex(buf: bytearray) -> str:
    if len(buf) <= 2**20:
        return hashlib.md5(buf).hexdigest()
    return await trio.to_thread.run_sync(lambda: hashlib.md5(buf).hexdigest())
