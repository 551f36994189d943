"""Control files: what reading and writing them does (the ``bs`` CLI's actions as files).

This module owns the semantics of ``.properties``, ``.kill``, ``.await``, ``.status``,
``.refresh``, ``.trash``, ``.error``, ``.commands`` and ``.bsmount/{stats,version,config}``
(docs/control-files.md). It knows the API client and the tree, not pyfuse3: a failed action raises
:class:`ControlError` carrying an errno and a message (which also goes to the directory's
``.error``), and a successful one returns an :class:`Effect` telling the FUSE adapter which caches
to drop. Payloads are validated completely before anything is sent, so a bad write changes
nothing on the server.
"""

from __future__ import annotations

import errno
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

from bsmount import __version__
from bsmount.api import actions
from bsmount.errors import ApiError, BadRequest, BsmountError, Forbidden, Unauthorized
from bsmount.tree.nodes import Node, NodeKey

__all__ = [
    "FINAL_STATES",
    "MAX_PAYLOAD",
    "ControlError",
    "Controls",
    "Effect",
    "parse_properties",
]

log = logging.getLogger(__name__)

MAX_PAYLOAD = 1 << 20  # bytes a control file accepts in one payload
FINAL_STATES = {"complete", "aborted", "failed", "timedout", "stopped", "error", "canceled"}
COMMAND_WORDS = {
    "refresh": "drop cached metadata of the whole mount (kernel caches included)",
    "move-to-trash PATH": "move the entity at PATH (relative to the mount) to the trash",
    "unmount": "unmount this filesystem",
}


class ControlError(BsmountError):
    """A control-file write or read was refused; ``errno`` says how, ``str()`` says why."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.errno = code


@dataclass(frozen=True)
class Effect:
    """What the adapter must do after a successful action."""

    invalidate: tuple[NodeKey, ...] = ()  # drop listings at/below these keys (+ kernel caches)
    removed: tuple[NodeKey, ...] = ()  # entity directories that vanished (trash)
    unmount: bool = False


class _Client(Protocol):
    async def get_properties(self, kind: str, entity_id: str) -> list[Any]: ...
    async def get_json(self, path_or_href: str, params: Any = None) -> Any: ...
    async def create_project(self, name: str, description: str = "") -> Any: ...


class _Tree(Protocol):
    root: Node

    async def lookup(self, parent: Node, name: str) -> Node | None: ...


def _text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ControlError(errno.EINVAL, f"payload is not valid UTF-8 ({exc.reason})") from None


def parse_properties(payload: bytes) -> dict[str, actions.PropertyValue]:
    """A JSON object ``{name: value}`` or ``name=value`` lines; ValueError-free: ControlError."""
    text = _text(payload).strip()
    if not text:
        raise ControlError(errno.EINVAL, "empty payload: write a JSON object or name=value lines")
    values: dict[str, actions.PropertyValue] = {}
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ControlError(errno.EINVAL, f"invalid JSON: {exc.msg} at char {exc.pos}") from None
        if not isinstance(document, dict):
            raise ControlError(errno.EINVAL, "the JSON payload must be an object {name: value}")
        values = document
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, sep, value = line.partition("=")
            if not sep or not name.strip():
                raise ControlError(errno.EINVAL, f"line {number}: expected name=value")
            values[name.strip()] = value.strip()
    for key, item in values.items():
        try:
            actions.property_body(key, item)
        except ValueError as exc:
            raise ControlError(errno.EINVAL, str(exc)) from None
    return values


def _property_view(prop: Any) -> Any:
    value = prop.value
    if isinstance(value, dict) and "id" in value:
        return {k: value[k] for k in ("type", "id", "name") if k in value}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [{k: v[k] for k in ("type", "id", "name") if k in v} for v in value]
    return value


def _status_of(document: Any) -> str:
    body = document.get("Response", document) if isinstance(document, dict) else {}
    status = body.get("ExecutionStatus") or body.get("Status") or ""
    return str(status)


def _errno_for(exc: BaseException) -> int:
    if isinstance(exc, ControlError):
        return exc.errno
    if isinstance(exc, BadRequest):
        return errno.EINVAL
    if isinstance(exc, Unauthorized | Forbidden):
        return errno.EACCES
    if isinstance(exc, ApiError) and 400 <= exc.status < 500:
        return errno.EINVAL if exc.status in (409, 422) else errno.EACCES
    return errno.EIO


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
        stats: Callable[[], Mapping[str, Any]] = dict,
        settings: Mapping[str, Any] | None = None,
        poll_interval: float = 5.0,
        await_timeout: float = 24 * 3600.0,
    ) -> None:
        self.client = client
        self.tree = tree
        self.nursery = nursery
        self.stats = stats
        self.settings = dict(settings or {})
        self.poll_interval = poll_interval
        self.await_timeout = await_timeout
        self.started = time.time()
        self._errors: OrderedDict[NodeKey, str] = OrderedDict()
        self._awaits: dict[str, _Await] = {}

    # -- .error --------------------------------------------------------------------------------

    def record_error(self, directory: NodeKey, action: str, exc: BaseException) -> int:
        """Log a refused action, keep it for ``.error``; return the errno to report."""
        code = _errno_for(exc)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        message = f"{stamp} {action}: {errno.errorcode.get(code, code)}: {exc}\n"
        self._errors[directory] = message
        self._errors.move_to_end(directory)
        while len(self._errors) > 10_000:
            self._errors.popitem(last=False)
        log.warning("%s refused in %r: %s", action, "/".join(directory), exc)
        return code

    def error_text(self, directory: NodeKey) -> bytes:
        return self._errors.get(directory, "").encode("utf-8")

    # -- reads ---------------------------------------------------------------------------------

    async def read(self, node: Node, interrupted: Callable[[], bool] = lambda: False) -> bytes:
        control = node.extra["control"]
        directory: NodeKey = node.extra["dir"]
        entity: Any = node.extra.get("entity")
        if control == "error":
            return self.error_text(directory)
        if control == "properties":
            props = await self.client.get_properties(entity.kind, entity.id)
            view = {p.name: _property_view(p) for p in props}
            return _json(view)
        if control in ("status", "kill"):
            document = await self.client.get_json(entity.href)
            return (_status_of(document) + "\n").encode("utf-8")
        if control == "await":
            return _json(await self._await(entity, interrupted))
        if control == "commands":
            return "".join(f"{w}\t{d}\n" for w, d in COMMAND_WORDS.items()).encode("utf-8")
        if control == "stats":
            return _json({**self.stats(), "uptime_seconds": round(time.time() - self.started, 1)})
        if control == "version":
            import pyfuse3

            return f"bsmount {__version__}\npyfuse3 {pyfuse3.__version__}\n".encode()
        if control == "config":
            return _json(self.settings)
        if control in ("refresh", "trash"):
            return b""
        raise ControlError(errno.EINVAL, f"{control} cannot be read")

    async def _await(self, entity: Any, interrupted: Callable[[], bool]) -> Any:
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
        """One polling loop per appsession, shared by every reader of its ``.await``."""
        try:
            with trio.fail_after(self.await_timeout):
                while True:
                    document = await self.client.get_json(entity.href)
                    if _status_of(document).lower() in FINAL_STATES:
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

    # -- writes --------------------------------------------------------------------------------

    def is_complete(self, node: Node, payload: bytes) -> bool:
        """Whether a payload is a whole command already (act at write, not at close)."""
        control = node.extra["control"]
        if control in ("refresh", "kill"):
            return True
        if control in ("trash", "commands"):
            return payload.endswith(b"\n")
        if control == "properties":
            text = payload.decode("utf-8", "replace").strip()
            if text.startswith("{"):
                try:
                    json.loads(text)
                except json.JSONDecodeError:
                    return False
                return True
            return payload.endswith(b"\n")
        return True

    async def write(self, node: Node, payload: bytes) -> Effect:
        control = node.extra["control"]
        directory: NodeKey = node.extra["dir"]
        entity = node.extra.get("entity")
        if len(payload) > MAX_PAYLOAD:
            raise ControlError(errno.EFBIG, f"payload over {MAX_PAYLOAD} bytes")
        if control == "refresh":
            return Effect(invalidate=(directory,))
        if control == "commands":
            return await self._command(_text(payload).strip())
        if entity is None:
            raise ControlError(errno.EACCES, f"{control} is read-only")
        if control == "properties":
            values = parse_properties(payload)
            await actions.set_properties(self.client, entity.kind, entity.id, values)
            log.info("set %d properties on %s %s", len(values), entity.kind, entity.id)
            return Effect()
        if control == "kill":
            status = _status_of(await self.client.get_json(entity.href))
            if status.lower() in FINAL_STATES:
                raise ControlError(
                    errno.EINVAL,
                    f"appsession {entity.id} is {status}: only running ones can be killed",
                )
            await actions.stop_appsession(self.client, entity.id)
            log.info("stopped appsession %s", entity.id)
            return Effect(invalidate=(directory[:-1],))
        if control == "trash":
            word = _text(payload).strip()
            if word != "yes":
                raise ControlError(
                    errno.EINVAL, f"write exactly 'yes' to move to the trash, not {word!r}"
                )
            await actions.move_to_trash(self.client, entity.kind, entity.id)
            log.info("moved %s %s to the trash", entity.kind, entity.id)
            return Effect(invalidate=(directory[:-1],), removed=(directory,))
        raise ControlError(errno.EACCES, f"{control} is read-only")

    async def _command(self, line: str) -> Effect:
        word, _sep, argument = line.partition(" ")
        if word == "refresh" and not argument:
            return Effect(invalidate=((),))
        if word == "unmount" and not argument:
            return Effect(unmount=True)
        if word == "move-to-trash" and argument:
            node = self.tree.root
            for part in [p for p in argument.strip().strip("/").split("/") if p]:
                child = await self.tree.lookup(node, part)
                if child is None:
                    raise ControlError(errno.ENOENT, f"no such path: {argument}")
                node = child
            entity = node.spec.entity if node.spec is not None else None
            if entity is None or entity.kind not in actions.TRASH_KINDS:
                raise ControlError(errno.EINVAL, f"{argument} is not an entity that can be trashed")
            await actions.move_to_trash(self.client, entity.kind, entity.id)
            return Effect(invalidate=(node.key[:-1],), removed=(node.key,))
        raise ControlError(errno.EINVAL, f"unknown command {line!r}; read .commands for the list")

    async def create_project(self, name: str, existing: list[str]) -> Effect:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:  # os.fsdecode keeps bytes that are not UTF-8 as surrogates
            raise ControlError(errno.EINVAL, f"project name {name!r} is not valid UTF-8") from None
        if name in existing:
            raise ControlError(errno.EEXIST, f"a project named {name!r} already exists")
        await self.client.create_project(name)
        log.info("created project %r", name)
        return Effect(invalidate=(("Projects",),))


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")
