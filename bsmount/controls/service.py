"""Performing control-file reads and actions: :class:`Controls`, the context every
:class:`~bsmount.controls.base.ControlFile` acts in.

It holds the API client, the tree's root lookup (for ``move-to-trash PATH``), the nursery for
background polling (one ``.await`` loop per appsession, shared by its readers), the mount's
statistics, settings and versions, and the last refused action per directory (``.error``).
A failed action raises :class:`~bsmount.errors.ControlError` or a domain error; the FUSE adapter
turns it into an errno (:func:`bsmount.fuse.errors.to_errno`, the one errno edge) and records
both here (:meth:`Controls.record_error`) for ``.error``.
"""

from __future__ import annotations

import errno
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

from bsmount import __version__
from bsmount.controls.base import MAX_PAYLOAD, ControlBinding, Effect, Key
from bsmount.controls.entity import FINAL_STATES, status_of
from bsmount.errors import ControlError

__all__ = ["Controls"]

log = logging.getLogger("bsmount.controls")

_MAX_ERRORS = 10_000  # directories whose last refusal is remembered


class _Tree(Protocol):
    root: Any

    async def lookup(self, parent: Any, name: str) -> Any: ...


@dataclass
class _Await:
    done: trio.Event = field(default_factory=trio.Event)
    document: Any = None
    error: BaseException | None = None
    waiters: int = 0


class Controls:
    """Performs control-file reads and actions; remembers the last error per directory."""

    def __init__(
        self,
        client: Any,
        tree: _Tree,
        nursery: trio.Nursery,
        *,
        statistics: Callable[[], Mapping[str, Any]] = dict,
        settings: Mapping[str, Any] | None = None,
        versions: Mapping[str, str] | None = None,
        poll_interval: float = 5.0,
        await_timeout: float = 24 * 3600.0,
        uploads_in_flight: Callable[[str], int] = lambda appresult_id: 0,
    ) -> None:
        self.client = client
        self.tree = tree
        self.nursery = nursery
        self._statistics = statistics
        self.settings = dict(settings or {})
        self.versions = dict(versions or {"bsmount": __version__})
        self.poll_interval = poll_interval
        self.await_timeout = await_timeout
        self.started = time.time()
        self._uploads_in_flight = uploads_in_flight
        # the run folders being copied into Runs/ (controls.run_upload_files.RunUploads): set
        # by the FUSE adapter that holds them (fuse/run_writes.py), None on a read-only mount
        self.run_uploads: Any = None
        self._errors: OrderedDict[Key, str] = OrderedDict()
        self._awaits: dict[str, _Await] = {}

    # -- .error --------------------------------------------------------------------------------

    def record_error(self, directory: Key, action: str, exc: BaseException, code: int) -> None:
        """Log a refused action (answered with errno ``code``) and keep it for ``.error``."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        message = f"{stamp} {action}: {errno.errorcode.get(code, code)}: {exc}\n"
        self._errors[directory] = message
        self._errors.move_to_end(directory)
        while len(self._errors) > _MAX_ERRORS:
            self._errors.popitem(last=False)
        level = logging.INFO if code == errno.EROFS else logging.WARNING  # EROFS: routine
        log.log(level, "%s refused in %r: %s", action, "/".join(directory), exc)

    def error_text(self, directory: Key) -> bytes:
        return self._errors.get(directory, "").encode("utf-8")

    def statistics(self) -> Mapping[str, Any]:
        return self._statistics()

    def uploads_in_flight(self, appresult_id: str) -> int:
        """Files of the AppResult still being written or uploaded through this mount."""
        return self._uploads_in_flight(appresult_id)

    # -- reading and writing control files -----------------------------------------------------

    async def read(
        self, binding: ControlBinding, interrupted: Callable[[], bool] = lambda: False
    ) -> bytes:
        return await binding.file.read(self, binding, interrupted)

    async def write(self, binding: ControlBinding, payload: bytes) -> Effect:
        if len(payload) > MAX_PAYLOAD:
            raise ControlError(errno.EFBIG, f"payload over {MAX_PAYLOAD} bytes")
        return await binding.file.write(self, binding, payload)

    async def remove(self, binding: ControlBinding) -> Effect:
        """``rm`` of a removable control file (a property's file in ``Properties/``)."""
        return await binding.file.remove(self, binding)

    async def resolve(self, path: str) -> Any:
        """The node at ``path`` (relative to the mount's root)."""
        node = self.tree.root
        for part in [p for p in path.strip().strip("/").split("/") if p]:
            child = await self.tree.lookup(node, part)
            if child is None:
                raise ControlError(errno.ENOENT, f"no such path: {path}")
            node = child
        return node

    # -- .await --------------------------------------------------------------------------------

    async def await_final(self, entity: Any, interrupted: Callable[[], bool]) -> Any:
        """The appsession's JSON once its status is final; one polling loop per appsession."""
        state = self._awaits.get(entity.id)
        if state is None or (state.done.is_set() and state.error is not None):
            state = _Await()
            self._awaits[entity.id] = state
            self.nursery.start_soon(self._poll, entity, state, name=f"await-{entity.id}")
        state.waiters += 1
        try:
            with trio.fail_after(self.await_timeout):
                while not state.done.is_set():
                    # pyfuse3 does not pass FUSE interrupts on, so notice a signalled reader
                    # ourselves and answer EINTR: Ctrl-C on `cat .await` must end it at once.
                    with trio.move_on_after(0.25):
                        await state.done.wait()
                    if not state.done.is_set() and interrupted():
                        raise ControlError(errno.EINTR, "interrupted by a signal")
        except trio.TooSlowError:
            raise ControlError(
                errno.ETIMEDOUT, f"appsession {entity.id} did not finish in {self.await_timeout} s"
            ) from None
        finally:
            state.waiters -= 1
        if state.error is not None:
            raise state.error
        return state.document

    async def _poll(self, entity: Any, state: _Await) -> None:
        try:
            with trio.fail_after(self.await_timeout):
                while True:
                    document = await self.client.get_json(entity.href)
                    if status_of(document).lower() in FINAL_STATES:
                        state.document = document
                        return
                    await trio.sleep(self.poll_interval)
        except BaseException as exc:
            state.error = (
                exc if isinstance(exc, Exception) else ControlError(errno.EINTR, "stopped")
            )
            if not isinstance(exc, Exception):
                raise
        finally:
            state.done.set()
            if self._awaits.get(entity.id) is state and state.error is None:
                del self._awaits[entity.id]
