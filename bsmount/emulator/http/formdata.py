"""A streaming reader of the one file in a ``multipart/form-data`` body.

The C# SDK posts single-request uploads as a form with one file field (ServiceStack's
``PostFileWithRequest``, upload-launch.md §1.4) rather than a raw body. :class:`FormFileReader`
is fed the body chunk by chunk and hands the bytes of the first part that carries a file name (or
is named ``file``) to a sink as they arrive, keeping only a boundary's length of look-behind: a
large form costs no memory. Other parts are skipped. It knows nothing of the API.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import Message
from email.parser import HeaderParser

__all__ = ["FormDataError", "FormFileReader", "form_boundary"]

_HEADERS_LIMIT = 16 * 1024
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


class FormDataError(ValueError):
    """The body is not the multipart/form-data it says it is."""


def form_boundary(content_type: str) -> bytes | None:
    """The boundary of a ``multipart/form-data`` Content-Type, or None for other types."""
    if not content_type.lower().lstrip().startswith("multipart/form-data"):
        return None
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise FormDataError("multipart/form-data without a boundary")
    return match.group(1).strip().encode("latin-1")


class FormFileReader:
    """Feed a form body with :meth:`feed`, then call :meth:`close`."""

    def __init__(self, boundary: bytes, sink: Callable[[bytes], None]) -> None:
        self._delimiter = b"\r\n--" + boundary
        self._sink = sink
        self._buffer = b"\r\n"  # the body's first boundary has no CRLF before it
        self._state = "seek"  # seek, after, headers, file, done
        self._in_file = False
        self.found = False
        self.filename: str | None = None
        self.content_type: str | None = None

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        while self._step():
            pass

    def _step(self) -> bool:
        """Advance as far as the buffer allows; True when it should be called again."""
        buffer, delimiter = self._buffer, self._delimiter
        if self._state in ("seek", "file"):
            index = buffer.find(delimiter)
            keep = len(delimiter) - 1
            if index < 0:
                if self._state == "file" and len(buffer) > keep:
                    self._sink(buffer[: len(buffer) - keep])
                self._buffer = buffer[max(0, len(buffer) - keep) :]
                return False
            if self._state == "file":
                self._sink(buffer[:index])
                self.found = True
            self._buffer = buffer[index + len(delimiter) :]
            self._state = "after"
            return True
        if self._state == "after":
            if len(buffer) < 2:
                return False
            if buffer.startswith(b"--"):
                self._state, self._buffer = "done", b""
                return False
            self._buffer = buffer[2:] if buffer.startswith(b"\r\n") else buffer
            self._state = "headers"
            return True
        if self._state == "headers":
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _HEADERS_LIMIT:
                    raise FormDataError("a form part's headers are too long")
                return False
            headers = HeaderParser().parsestr(buffer[:end].decode("utf-8", "replace"))
            self._buffer = buffer[end + 4 :]
            self._state = "file" if not self.found and self._is_file(headers) else "seek"
            return True
        self._buffer = b""
        return False

    def _is_file(self, headers: Message) -> bool:
        disposition = headers.get("content-disposition", "")
        parsed = Message()
        parsed["content-disposition"] = disposition
        filename = parsed.get_param("filename", header="content-disposition")
        name = parsed.get_param("name", header="content-disposition")
        if filename is None and name != "file":
            return False
        self.filename = str(filename) if filename is not None else None
        self.content_type = headers.get("content-type")
        return True

    def close(self) -> None:
        """Check the body ended properly with a file in it."""
        if not self.found:
            raise FormDataError("the form has no file part")
        if self._state != "done":
            raise FormDataError("the form body ended before its closing boundary")
