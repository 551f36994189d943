"""systemd's readiness protocol (``sd_notify``), for ``Type=notify`` units.

systemd gives a notify-type service the address of a datagram socket in ``NOTIFY_SOCKET`` (a
path, or an abstract name written with a leading ``@``); the service sends newline-separated
``KEY=VALUE`` assignments to it: ``READY=1`` once it serves, ``STOPPING=1`` when it begins to
stop, ``STATUS=...`` for ``systemctl status``. Without ``NOTIFY_SOCKET`` (not under systemd),
:func:`notify` does nothing. Failures to notify are logged at debug level and never stop the
mount.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["notify"]

log = logging.getLogger(__name__)


def _address(value: str) -> str | None:
    if value.startswith("@"):
        return "\0" + value[1:]  # abstract namespace
    if value.startswith("/"):
        return value
    return None  # vsock and other families: not supported


def notify(*assignments: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``assignments`` (``"READY=1"``, ``"STATUS=..."``) to systemd; True if sent."""
    value = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if not value:
        return False
    address = _address(value)
    if address is None:
        log.debug("NOTIFY_SOCKET %r is not a unix socket address; not notifying", value)
        return False
    message = "\n".join(assignments).encode("utf-8")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message)
    except OSError as exc:
        log.debug("could not notify systemd at %r: %s", value, exc)
        return False
    return True
