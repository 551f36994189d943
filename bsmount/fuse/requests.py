"""The bound and error edge every FUSE request passes through (:mod:`bsmount.fuse.operations`).

:func:`fuse_op` runs a handler under a deadline of ``io_timeout`` and turns whatever it
raises into a ``pyfuse3.FUSEError``, logging each errno with its cause (request arguments cut
short); it also counts the requests in flight (``Operations.idle_for``).
:func:`signal_pending` tells whether a reader was interrupted, since pyfuse3 does not
forward FUSE interrupts.
"""

from __future__ import annotations

import errno
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, Protocol, TypeVar

import pyfuse3
import trio

from bsmount.errors import BsmountError, ControlError
from bsmount.fuse.errors import to_errno

__all__ = ["fuse_op", "signal_pending"]

log = logging.getLogger("bsmount.fuse")

#: Refusals a tool meets in normal use (writing where the tree is read-only) are logged at
#: INFO, not WARNING; every other refused action is a WARNING (all of them go to ``.error``).
ROUTINE_REFUSAL_LEVEL = {errno.EROFS: logging.INFO}

P = ParamSpec("P")
R = TypeVar("R")


class _Bounded(Protocol):
    io_timeout: float
    in_flight: int  # requests being answered
    last_done: float  # trio time the last request ended

    def count_error(self, code: int) -> None: ...


def fuse_op(
    name: str, unbounded_if: Callable[[Any, int], bool] | None = None
) -> Callable[[Callable[P, Coroutine[Any, Any, R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Bound an operation in time and turn any failure into a logged FUSEError.

    ``unbounded_if(self, first_arg)`` exempts requests with their own bound (``.await``).
    """

    def decorate(func: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        @functools.wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            self: _Bounded = args[0]  # type: ignore[assignment]
            bound = self.io_timeout
            if unbounded_if is not None and unbounded_if(self, args[1]):  # type: ignore[arg-type]
                bound = float("inf")
            self.in_flight += 1
            try:
                # a bare CancelScope costs half of fail_after's generator (~10 µs a request)
                with trio.CancelScope(deadline=trio.current_time() + bound):
                    return await func(*args, **kwargs)
                raise trio.TooSlowError  # reached only when the deadline cancelled the handler
            except pyfuse3.FUSEError as exc:
                level = logging.DEBUG if exc.errno == errno.ENOENT else logging.INFO
                log.log(
                    level,
                    "%s%s -> %s",
                    name,
                    _brief(args[1:]),
                    errno.errorcode.get(exc.errno, exc.errno),
                )
                self.count_error(exc.errno)
                raise
            except trio.TooSlowError:
                self.count_error(errno.EIO)
                log.warning(
                    "%s%s -> EIO: no answer within %.0f s", name, _brief(args[1:]), self.io_timeout
                )
                raise pyfuse3.FUSEError(errno.EIO) from None
            except ControlError as exc:
                self.count_error(exc.errno)
                log.log(
                    ROUTINE_REFUSAL_LEVEL.get(exc.errno, logging.WARNING),
                    "%s%s -> %s: %s",
                    name,
                    _brief(args[1:]),
                    errno.errorcode.get(exc.errno),
                    exc,
                )
                raise pyfuse3.FUSEError(exc.errno) from None
            except Exception as exc:
                code = to_errno(exc)
                self.count_error(code)
                log.warning(
                    "%s%s -> %s: %s: %s",
                    name,
                    _brief(args[1:]),
                    errno.errorcode.get(code, code),
                    type(exc).__name__,
                    exc,
                    exc_info=code == errno.EIO and not _expected(exc),
                )
                raise pyfuse3.FUSEError(code) from None
            finally:
                self.in_flight -= 1
                self.last_done = trio.current_time()

        return wrapper

    return decorate


def _brief(args: tuple[object, ...]) -> str:
    """Request arguments for a log line: long buffers are cut, never dumped."""
    parts = []
    for arg in args:
        text = repr(arg)
        parts.append(text if len(text) <= 80 else f"{text[:60]}…<{len(text)} chars>")
    return "(" + ", ".join(parts) + ")"


def signal_pending(pid: int) -> bool:
    """Whether ``pid`` has a signal pending that it does not block (it was interrupted)."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
    except OSError:
        return True  # the reader is gone
    pending = int(fields.get("SigPnd", "0").strip(), 16) | int(
        fields.get("ShdPnd", "0").strip(), 16
    )
    blocked = int(fields.get("SigBlk", "0").strip(), 16)
    return bool(pending & ~blocked)


def _expected(exc: BaseException) -> bool:
    return isinstance(exc, BsmountError)
