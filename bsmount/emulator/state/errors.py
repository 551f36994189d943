"""What the account refuses: the exceptions of the emulator's state layer.

The state knows nothing of HTTP; :func:`bsmount.emulator.http.errors.problem_for` is the one place
that turns each of these into a BaseSpace error answer (status, ErrorCode, Message):

- :class:`UnknownEntity` → 404 ``BASESPACE.COMMON.NOT_FOUND`` (403 for files, as BaseSpace does);
- :class:`ForbiddenEntity` → 403 ``BASESPACE.COMMON.INSUFFICIENT_RESOURCE_PERMISSIONS``;
- :class:`RemovedEntity` → 410 ``BASESPACE.COMMON.RESOURCE_REMOVED``;
- :class:`PropertyNotFound` → 404 ``BASESPACE.PROPERTIES.NOT_FOUND``;
- :class:`InvalidRequest` → 400 with its own BaseSpace error code;
- :class:`Conflict` → 409 with its own code (an upload to the path of a complete file);
- :class:`ContentNotReady` → 404 with its own code (the content of a file whose upload is not
  complete).
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "ContentNotReady",
    "EntityError",
    "ForbiddenEntity",
    "InvalidRequest",
    "PropertyNotFound",
    "RemovedEntity",
    "StateError",
    "UnknownEntity",
]


class StateError(Exception):
    """Something the account refuses to do or to show."""


class EntityError(StateError):
    """A lookup failed; ``kind`` (``projects``, ``files``, ``trash``...) and ``entity_id`` say
    what was asked for."""

    def __init__(self, kind: str, entity_id: str) -> None:
        super().__init__(f"{kind}/{entity_id}")
        self.kind = kind
        self.entity_id = entity_id


class UnknownEntity(EntityError):
    """No such id."""


class ForbiddenEntity(EntityError):
    """The entity belongs to another user."""


class RemovedEntity(EntityError):
    """The entity (or its container) is in the trash."""


class PropertyNotFound(StateError):
    """The entity has no property of that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no property {name}")
        self.name = name


class InvalidRequest(StateError):
    """The request breaks one of the service's rules; ``code`` is BaseSpace's error code
    (``BASESPACE.PROPERTIES.INVALID_NAME``, ``BASESPACE.APPSESSIONS.RUNNING``...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Conflict(InvalidRequest):
    """The request clashes with what exists (HTTP 409)."""


class ContentNotReady(InvalidRequest):
    """The file has no readable bytes yet: its upload is pending or was aborted (HTTP 404)."""
