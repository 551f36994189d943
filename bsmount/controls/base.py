"""What every control file is: :class:`ControlFile`, the binding of one to a directory, and
the :class:`Effect` an action leaves for the FUSE adapter.

A control file is a class with a file name, a mode, the ``bs`` command it stands for, a line for
each of "where", "read" and "write" (the documentation table in docs/control-files.md is checked
against them), and three behaviours: :meth:`ControlFile.read`, :meth:`ControlFile.is_complete`
(when a payload written so far is a whole command) and :meth:`ControlFile.write`; a
:attr:`~ControlFile.removable` one also :meth:`ControlFile.remove` (what ``rm`` does). One instance
per file name exists (:mod:`bsmount.controls.registry`); the directory kinds of
:mod:`bsmount.tree.kinds` say which directories carry which, and a control file's node carries a
:class:`ControlBinding` (the file, its directory, the entity behind it).

This package knows the API client and the domain errors, not pyfuse3 and not the tree's
modules: it sees the tree through the small :class:`ControlContext` protocol.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from bsmount.errors import ControlError

__all__ = [
    "MAX_PAYLOAD",
    "READ_ONLY",
    "READ_WRITE",
    "WRITE_ONLY",
    "ControlBinding",
    "ControlContext",
    "ControlFile",
    "Effect",
    "json_bytes",
    "payload_text",
]

MAX_PAYLOAD = 1 << 20  # bytes a control file accepts in one payload
WRITE_ONLY = 0o200
READ_WRITE = 0o644
READ_ONLY = 0o444

Key = tuple[str, ...]  # a node key of the tree (ids along the path)


@dataclass(frozen=True)
class Effect:
    """What the adapter must do after a successful action."""

    invalidate: tuple[Key, ...] = ()  # drop listings at/below these keys (+ kernel caches)
    removed: tuple[Key, ...] = ()  # entity directories that vanished (trash)
    sessions: tuple[str, ...] = ()  # appresults whose appsession changed status (.complete)
    unmount: bool = False


@dataclass(frozen=True, slots=True)
class ControlBinding:
    """A control file in one directory: which file, where, and the entity it acts on."""

    file: ControlFile
    directory: Key
    entity: Any = None  # bsmount.api.models.Entity for entity control files


class ControlContext(Protocol):
    """What control files may use: the API client, the tree's lookups, background tasks and the
    mount's own state (:class:`bsmount.controls.service.Controls` provides it)."""

    @property
    def client(self) -> Any: ...
    @property
    def settings(self) -> Mapping[str, Any]: ...
    @property
    def versions(self) -> Mapping[str, str]: ...
    @property
    def started(self) -> float: ...

    def error_text(self, directory: Key) -> bytes: ...
    def statistics(self) -> Mapping[str, Any]: ...
    async def resolve(self, path: str) -> Any: ...
    async def await_final(self, entity: Any, interrupted: Callable[[], bool]) -> Any: ...
    def uploads_in_flight(self, appresult_id: str) -> int: ...
    @property
    def run_uploads(self) -> Any: ...  # controls.run_upload_files.RunUploads, None if read-only


class ControlFile:
    """One kind of control file. Subclasses set the class attributes and override what they do;
    the defaults are those of a file that cannot be read or written."""

    name: ClassVar[str]  # the file name, e.g. ".properties"
    mode: ClassVar[int] = READ_ONLY
    bs_command: ClassVar[str] = ""  # what it stands for in the bs CLI ("" when bsmount's own)
    where: ClassVar[str]  # the directories that carry it (for the docs)
    reads: ClassVar[str] = "—"  # what a read gives
    writes: ClassVar[str] = "—"  # what a write does
    unlisted: ClassVar[bool] = False  # answers lookups but is left out of readdir
    unbounded_read: ClassVar[bool] = False  # a read has its own time bound (blocks by design)
    removable: ClassVar[bool] = False  # ``rm`` of it is an action (:meth:`remove`)

    @property
    def writable(self) -> bool:
        return bool(self.mode & 0o200)

    async def read(
        self, ctx: ControlContext, binding: ControlBinding, interrupted: Callable[[], bool]
    ) -> bytes:
        """The file's content, computed at open (never cached)."""
        if not self.mode & 0o444:
            return b""
        raise ControlError(errno.EINVAL, f"{self.name} cannot be read")

    def is_complete(self, payload: bytes) -> bool:
        """Whether ``payload`` is a whole command already (act at write, not at close)."""
        return True

    async def write(self, ctx: ControlContext, binding: ControlBinding, payload: bytes) -> Effect:
        """Perform the action ``payload`` asks for; validate it fully before sending anything."""
        raise ControlError(errno.EACCES, f"{self.name} is read-only")

    async def remove(self, ctx: ControlContext, binding: ControlBinding) -> Effect:
        """What ``rm`` of the file does (only for :attr:`removable` files)."""
        raise ControlError(errno.EPERM, f"{self.name} cannot be removed")

    def __repr__(self) -> str:
        return f"<control file {self.name}>"


def payload_text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ControlError(errno.EINVAL, f"payload is not valid UTF-8 ({exc.reason})") from None


def json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")
