"""The one place where domain exceptions become errnos (the FUSE edge).

===========================================  =======
exception                                     errno
===========================================  =======
ControlError (a refused control-file action)  its own
NotFound, Gone, FileNotFoundError             ENOENT
Unauthorized, Forbidden, PermissionError      EACCES
BadRequest, ConfigError, ValueError           EINVAL
other ApiError 409, 422 (conflict, invalid)   EINVAL
other ApiError 4xx but 429                    EACCES
StaleFileError                                ESTALE
NotADirectoryError                            ENOTDIR
RateLimited, ServerError, TransportError,     EIO
IntegrityError, ContentUrlExpired,
trio.TooSlowError (operation time bound),
anything unexpected
===========================================  =======

Used by the request wrapper (:mod:`bsmount.fuse.requests`) and by the control-file I/O, which
also records the errno with its cause in the directory's ``.error``.
"""

from __future__ import annotations

import errno

from bsmount.errors import (
    ApiError,
    BadRequest,
    ConfigError,
    ControlError,
    Forbidden,
    Gone,
    NotFound,
    RateLimited,
    StaleFileError,
    Unauthorized,
)

__all__ = ["to_errno"]


def to_errno(exc: BaseException) -> int:
    """The errno a failed filesystem operation reports for ``exc``."""
    if isinstance(exc, ControlError):
        return exc.errno
    if isinstance(exc, NotFound | Gone | FileNotFoundError):
        return errno.ENOENT
    if isinstance(exc, Unauthorized | Forbidden | PermissionError):
        return errno.EACCES
    if isinstance(exc, BadRequest | ConfigError | ValueError):
        return errno.EINVAL
    if isinstance(exc, ApiError) and not isinstance(exc, RateLimited) and 400 <= exc.status < 500:
        return errno.EINVAL if exc.status in (409, 422) else errno.EACCES
    if isinstance(exc, StaleFileError):
        return errno.ESTALE
    if isinstance(exc, NotADirectoryError):
        return errno.ENOTDIR
    return errno.EIO
