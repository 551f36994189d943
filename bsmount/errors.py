"""The domain exception tree shared by every layer of bsmount.

Inner layers raise these; only the FUSE adapter (``bsmount.fuse``) turns them into errnos, through
:func:`bsmount.fuse.errors.to_errno`. No exception text ever contains an access token or a full
content-URL signature: :func:`redact` is applied to every URL that goes into a message.

::

    BsmountError
    ├── ConfigError              bad or missing credentials/config; user-facing, no traceback
    ├── ApiError                 the API answered with an error (status, ErrorCode, Message)
    │   ├── BadRequest           400 (and 200s whose ResponseStatus carries an ErrorCode)
    │   ├── Unauthorized         401: token missing, invalid or revoked
    │   ├── Forbidden            403: no access, or (for files) unknown id
    │   ├── NotFound             404
    │   ├── Gone                 410: removed by its owner
    │   ├── RateLimited          429 (retry_after seconds, if the server said)
    │   └── ServerError          5xx
    ├── TransportError           connection refused/reset, timeouts, malformed bodies: after retries
    ├── ContentUrlExpired        the blob store refused a signed URL (403 / expired)
    ├── IntegrityError           wrong bytes: short body, bad Content-Range, size/MD5 mismatch
    ├── StaleFileError           the file changed while it was being read (ETag changed)
    └── ControlError             a control-file action or mkdir refused (carries its errno)
"""

from __future__ import annotations

import re

__all__ = [
    "ApiError",
    "BadRequest",
    "BsmountError",
    "ConfigError",
    "ContentUrlExpired",
    "ControlError",
    "Forbidden",
    "Gone",
    "IntegrityError",
    "NotFound",
    "RateLimited",
    "ServerError",
    "StaleFileError",
    "TransportError",
    "Unauthorized",
    "redact",
]

_SECRET_QUERY = re.compile(
    r"(?i)((?:access_token|signature|x-amz-signature|awsaccesskeyid|sig|token)=)([^&\s\"']+)"
)


def redact(text: str) -> str:
    """Hide secrets carried in URLs/query strings: tokens and signatures keep 4 characters."""

    def _cut(match: re.Match[str]) -> str:
        value = match.group(2)
        return f"{match.group(1)}{value[:4]}…" if len(value) > 4 else f"{match.group(1)}…"

    return _SECRET_QUERY.sub(_cut, text)


class BsmountError(Exception):
    """Base of every error bsmount raises on purpose."""


class ConfigError(BsmountError):
    """Credentials or configuration are missing or invalid (shown to the user as one line)."""


class ApiError(BsmountError):
    """The BaseSpace API answered with an error status or an error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_code: str = "",
        method: str = "GET",
        url: str = "",
    ) -> None:
        self.status = status
        self.error_code = error_code
        self.message = message
        self.method = method
        self.url = redact(url)
        code = f" {error_code}" if error_code else ""
        where = f" ({method} {self.url})" if self.url else ""
        super().__init__(f"HTTP {status}{code}: {message}{where}")


class BadRequest(ApiError):
    """400, or a 200 whose ResponseStatus carries an ErrorCode."""


class Unauthorized(ApiError):
    """401: the token is missing, invalid or revoked."""


class Forbidden(ApiError):
    """403: not enough access, or an unknown file id (BaseSpace hides which)."""


class NotFound(ApiError):
    """404: unknown path, entity or property."""


class Gone(ApiError):
    """410: the resource was removed by its owner."""


class RateLimited(ApiError):
    """429: too many requests; ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(self, *args: object, retry_after: float | None = None, **kwargs: str) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx from the API after the client's retries."""


class TransportError(BsmountError):
    """The server could not be reached or its answer could not be read, after retries."""


class ContentUrlExpired(BsmountError):
    """The blob store refused a signed content URL (expired or invalid signature)."""


class IntegrityError(BsmountError):
    """Bytes received do not match what was asked or promised (length, range, size, MD5)."""


class StaleFileError(BsmountError):
    """The file's content changed (new ETag) while it was being read."""


class ControlError(BsmountError):
    """A control-file read or write (or a ``mkdir``) was refused: ``errno`` says how, ``str()``
    why. Raised by :mod:`bsmount.controls` and the directory kinds; the message also goes to the
    directory's ``.error``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.errno = code
