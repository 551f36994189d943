"""A streaming reader of a ``multipart/form-data`` body: its one file and its text fields.

The C# SDK posts single-request uploads as a form (ServiceStack's ``PostFileWithRequest``,
upload-launch.md §1.4): one text part per property of its request (``Name``, ``Directory``,
``MultiPart``... each with ``Content-Type: text/plain;charset=utf-8``), then the file as a part
named ``upload`` with a ``filename`` and no Content-Type, then the closing boundary with no line
break after it. ServiceStack 3 writes ``Environment.NewLine`` between the lines: CRLF on Windows,
a bare LF on Mono; ServiceStack 5 always CRLF. Both are read: the line break after the first
boundary tells which, and only in a CRLF body is a CR before a delimiter dropped from the part.

:class:`FormFileReader` is fed the body chunk by chunk. Text parts are kept (up to
``_FIELD_LIMIT`` bytes each) in :attr:`FormFileReader.fields`; when the headers of the first
part that carries a file name (or is named ``file``) have arrived, ``open_file`` is called with
the reader (so it can see the fields sent before the file) and returns the sink the file's bytes
go to as they arrive, keeping only a boundary's length of look-behind: a large form costs no
memory. Other parts are skipped. It knows nothing of the API.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import Message
from email.parser import HeaderParser

__all__ = ["FormDataError", "FormFileReader", "form_boundary"]

_HEADERS_LIMIT = 16 * 1024
_FIELD_LIMIT = 64 * 1024
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_HEADERS_END = re.compile(rb"\r?\n\r?\n")

Sink = Callable[[bytes], None]


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
    """Feed a form body with :meth:`feed`, then call :meth:`close`.

    ``open_file(reader)`` is called once, when the file part starts; it returns the sink for the
    file's bytes, or None to skip the file (then :attr:`found` stays False).
    """

    def __init__(self, boundary: bytes, open_file: Callable[[FormFileReader], Sink | None]) -> None:
        # The delimiter is matched from its LF; a CR before it is dropped from the part.
        self._delimiter = b"\n--" + boundary
        self._open_file = open_file
        self._sink: Sink | None = None
        self._buffer = b"\n"  # the body's first boundary has no line break before it
        self._state = "seek"  # seek, after, headers, file, field, done
        self._crlf: bool | None = None  # CRLF line breaks (else LF only), once known
        self._field_name = ""
        self._field = bytearray()
        self._field_too_long = False
        self._file_seen = False
        self.found = False
        self.filename: str | None = None
        self.content_type: str | None = None
        self.fields: dict[str, str] = {}

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        while self._step():
            pass

    def _step(self) -> bool:
        """Advance as far as the buffer allows; True when it should be called again."""
        buffer, delimiter = self._buffer, self._delimiter
        if self._state in ("seek", "file", "field"):
            index = buffer.find(delimiter)
            keep = len(delimiter)  # a CR and all of the delimiter but its last byte
            if index < 0:
                if len(buffer) > keep:
                    self._emit(buffer[: len(buffer) - keep])
                    self._buffer = buffer[len(buffer) - keep :]
                return False
            crlf = self._crlf is not False and index > 0 and buffer[index - 1] == 0x0D
            end = index - 1 if crlf else index
            self._emit(buffer[:end])
            self._end_part()
            self._buffer = buffer[index + len(delimiter) :]
            self._state = "after"
            return True
        if self._state == "after":
            if len(buffer) < 2:
                return False
            if buffer.startswith(b"--"):
                self._state, self._buffer = "done", b""
                return False
            if buffer.startswith(b"\r\n"):
                buffer = buffer[2:]
            elif buffer.startswith(b"\n"):
                buffer = buffer[1:]
            if self._crlf is None:  # the first boundary line tells how lines end
                self._crlf = not self._buffer.startswith(b"\n")
            self._buffer = buffer
            self._state = "headers"
            return True
        if self._state == "headers":
            match = _HEADERS_END.search(buffer)
            if match is None:
                if len(buffer) > _HEADERS_LIMIT:
                    raise FormDataError("a form part's headers are too long")
                return False
            text = buffer[: match.start()].decode("utf-8", "replace")
            self._buffer = buffer[match.end() :]
            self._start_part(HeaderParser().parsestr(text))
            return True
        self._buffer = b""
        return False

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        if self._state == "file" and self._sink is not None:
            self._sink(data)
        elif self._state == "field" and not self._field_too_long:
            if len(self._field) + len(data) > _FIELD_LIMIT:
                self._field_too_long = True  # kept out of the fields
            else:
                self._field += data

    def _end_part(self) -> None:
        if self._state == "file" and self._sink is not None:
            self.found = True
        elif self._state == "field" and not self._field_too_long:
            self.fields[self._field_name] = self._field.decode("utf-8", "replace")

    def _start_part(self, headers: Message) -> None:
        parsed = Message()
        parsed["content-disposition"] = headers.get("content-disposition", "")
        filename = parsed.get_param("filename", header="content-disposition")
        name = parsed.get_param("name", header="content-disposition")
        if filename is not None or name == "file":
            self._state = "seek"  # a second file is skipped
            if not self._file_seen:
                self._file_seen = True
                self.filename = str(filename) if filename is not None else None
                self.content_type = headers.get("content-type")
                self._state = "file"
                self._sink = self._open_file(self)
            return
        if isinstance(name, str):
            self._state, self._field_name = "field", name
            self._field, self._field_too_long = bytearray(), False
            return
        self._state = "seek"

    def close(self) -> None:
        """Check the body ended with its closing boundary (whether it held a file or not: see
        :attr:`found`)."""
        if self._state != "done":
            raise FormDataError("the form body ended before its closing boundary")
