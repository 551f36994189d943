"""Small value types shared by the API client, the read engine and the tree.

``FileVersion`` identifies the bytes of one remote file: the same id with another ETag or size is
other content, so caches key on the whole version (mountpoint-s3's ObjectId idea).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FileVersion"]


@dataclass(frozen=True, slots=True)
class FileVersion:
    """One version of a remote file's content."""

    file_id: str
    size: int
    etag: str | None = None  # unquoted; "<md5>" or "<hex>-<parts>"; None when the API gave none
    growing: bool = False  # a log still being written: the server may hold more than ``size``

    @property
    def md5(self) -> str | None:
        """The content MD5 when the ETag is a plain MD5 (no multipart ``-N`` suffix)."""
        if self.etag and len(self.etag) == 32 and "-" not in self.etag:
            return self.etag.lower()
        return None
