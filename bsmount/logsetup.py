"""Logging set-up for the command line and the mount process.

Every record passes through :class:`RedactingFilter`, which hides access tokens and URL
signatures in messages and arguments, so no log line at any level can carry a secret.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from bsmount.errors import redact

__all__ = ["RedactingFilter", "setup_logging"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with secrets redacted; also hides the live token."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if len(s) >= 8)

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())
        for secret in self.secrets:
            message = message.replace(secret, "<token>")
        record.msg = message
        record.args = None
        return True


def setup_logging(
    log_file: Path | None,
    *,
    debug: bool = False,
    stderr: bool = True,
    level: int | None = None,
) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    chosen = level if level is not None else (logging.DEBUG if debug else logging.INFO)
    root.setLevel(chosen)
    token = os.environ.get("BASESPACE_ACCESS_TOKEN", "")
    redacting = RedactingFilter((token,))
    handlers: list[logging.Handler] = []
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        os.chmod(log_file, 0o600)
        handlers.append(file_handler)
    if stderr:
        handlers.append(logging.StreamHandler())
    for handler in handlers:
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler.addFilter(redacting)
        root.addHandler(handler)
    if not debug:
        for noisy in ("httpx", "httpcore", "hpack"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
