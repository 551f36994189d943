"""The one place where domain exceptions become errnos (the FUSE edge).

===========================================  =======
exception                                     errno
===========================================  =======
NotFound, Gone, FileNotFoundError             ENOENT
Unauthorized, Forbidden, PermissionError      EACCES
BadRequest, ConfigError, ValueError           EINVAL
StaleFileError                                ESTALE
RateLimited, ServerError, TransportError,     EIO
IntegrityError, ContentUrlExpired,
trio.TooSlowError (operation time bound),
anything unexpected
===========================================  =======
"""

from __future__ import annotations

import errno

import trio

from bsmount.errors import (
    BadRequest,
    ConfigError,
    Forbidden,
    Gone,
    NotFound,
    StaleFileError,
    Unauthorized,
)

__all__ = ["to_errno"]


def to_errno(exc: BaseException) -> int:
    """The errno a failed filesystem operation reports for ``exc``."""
    if isinstance(exc, NotFound | Gone | FileNotFoundError):
        return errno.ENOENT
    if isinstance(exc, Unauthorized | Forbidden | PermissionError):
        return errno.EACCES
    if isinstance(exc, BadRequest | ConfigError | ValueError):
        return errno.EINVAL
    if isinstance(exc, StaleFileError):
        return errno.ESTALE
    if isinstance(exc, NotADirectoryError):
        return errno.ENOTDIR
    if isinstance(exc, trio.TooSlowError):
        return errno.EIO
    return errno.EIO
