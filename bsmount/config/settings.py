"""Mount settings and every tunable default, in one place.

:class:`Defaults` is the single source of each default and its reason: the ``bsmount mount``
options (:mod:`bsmount.mount.cli`), :class:`MountSettings` and the constructors that have a
default for the same quantity (:class:`bsmount.io.ReadEngine`, ...) all read it, so a default
is never repeated as a literal. :class:`MountSettings` is the effective settings of one mount.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bsmount.config.credentials import Credentials

__all__ = ["Defaults", "KiB", "MiB", "MountSettings", "default_cache_dir"]

KiB: Final = 1024
MiB: Final = 1024 * KiB


class Defaults:
    """Every default of a mount, with its reason."""

    # Listings and entity attributes are reused for this long; the kernel's entry/attr timeouts
    # are the same, so `ls` inside the window costs no request and nothing is staler than this.
    metadata_ttl: Final = 60.0
    # Missing names are remembered briefly, so shells probing for files do not hammer the API.
    negative_ttl: Final = 5.0
    # Upper bound on any single filesystem operation (lookup, readdir, read...): past it, EIO.
    io_timeout: Final = 60.0
    # Block cache shared by all open files (bytes). Memory stays bounded whatever the file sizes.
    # 48 MiB: four readers peaked at 208-226 MiB of RSS with it against 219-242 with 64 MiB, at
    # the same speed (docs/performance.md, "Peak RSS"), keeping every case under 256 MiB.
    cache_bytes: Final = 48 * MiB
    # Persistent block cache on local disk (bytes; 0: off). Off by default, like rclone's
    # --vfs-cache-mode, mountpoint-s3's --cache and gcsfuse's file cache: it copies account data
    # onto the node's disk (controlled-access data must not land there unasked), and the
    # default cache directory is often a small, quota'd or network home (docs/performance.md).
    disk_cache_bytes: Final = 0
    # Read-ahead in flight across all open files (bytes); with the cache, the mount's memory bound.
    inflight_bytes: Final = 96 * MiB
    # Cached directory entries across all listings; `find` over a huge account stays bounded.
    max_cached_entries: Final = 1_000_000
    # `bsmount status` samples `.bsmount/stats` twice this far apart for its rates; `--watch`
    # refreshes at this period.
    status_interval: Final = 1.0
    # Files written through the mount go up in parts of this size (BaseSpace: 5 MiB-25 MB parts,
    # at most 10,000 of them, so one file holds up to ~195 GiB; the C# SDK's choice).
    upload_part_size: Final = 20 * MiB
    # Bytes written but not yet acknowledged by the server, across all files: writers wait for
    # uploads to catch up beyond it (the spool on local disk still holds each file until done).
    upload_backlog_bytes: Final = 512 * MiB
    # Parts in flight at once across all files being uploaded.
    upload_parts_in_flight: Final = 8


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/bsmount`` (``~/.cache/bsmount``): spool files of uploads, and the
    persistent block cache when it is on."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bsmount"


@dataclass(frozen=True)
class MountSettings:
    """Effective settings of one mount (defaults and their reasons: :class:`Defaults`)."""

    mountpoint: Path
    credentials: Credentials
    metadata_ttl: float = Defaults.metadata_ttl
    negative_ttl: float = Defaults.negative_ttl
    io_timeout: float = Defaults.io_timeout
    cache_bytes: int = Defaults.cache_bytes
    inflight_bytes: int = Defaults.inflight_bytes
    max_cached_entries: int = Defaults.max_cached_entries
    allow_other: bool = False
    # Owner shown for every file and the one user whose writes control files take (None: the
    # user running the mount), as -o uid=/gid= of fstab.
    uid: int | None = None
    gid: int | None = None
    # -o ro: the kernel refuses every write, control files included.
    read_only: bool = False
    # Generic VFS flags passed to the kernel as given (-o nosuid,nodev,noexec,noatime...).
    kernel_options: tuple[str, ...] = ()
    # The mount's source in /proc/mounts, df and findmnt (mount(8) and fstab: the config name,
    # so that `mount -a` recognises the line as mounted).
    fsname: str = "bsmount"
    debug: bool = False
    log_file: Path | None = None
    # An extra CA (PEM) trusted for the API server's certificate; verification is always on.
    ca_file: Path | None = None
    # Where files being written are spooled (0700; None: default_cache_dir()).
    cache_dir: Path | None = None
    # Persistent block cache in <cache_dir>/blocks, up to this many bytes (0: off).
    disk_cache_bytes: int = Defaults.disk_cache_bytes
    upload_part_size: int = Defaults.upload_part_size
    upload_backlog_bytes: int = Defaults.upload_backlog_bytes
    # The project (name or id) `mkdir BioSamples/NAME` makes biosamples in (None: refused).
    biosample_project: str | None = None

    def redacted(self) -> dict[str, object]:
        """Effective settings for ``.bsmount/config``; the token is never included."""
        return {
            "mountpoint": str(self.mountpoint),
            "api_server": self.credentials.api_server,
            "credentials_from": self.credentials.source,
            "access_token": "<redacted>",
            "metadata_ttl": self.metadata_ttl,
            "negative_ttl": self.negative_ttl,
            "io_timeout": self.io_timeout,
            "cache_bytes": self.cache_bytes,
            "inflight_bytes": self.inflight_bytes,
            "max_cached_entries": self.max_cached_entries,
            "allow_other": self.allow_other,
            "biosample_project": self.biosample_project,
            "uid": self.uid,
            "gid": self.gid,
            "read_only": self.read_only,
            "kernel_options": list(self.kernel_options),
            "fsname": self.fsname,
            "debug": self.debug,
            "log_file": str(self.log_file) if self.log_file else None,
            "ca_file": str(self.ca_file) if self.ca_file else None,
            "cache_dir": str(self.cache_dir or default_cache_dir()),
            "disk_cache_bytes": self.disk_cache_bytes,
            "upload_part_size": self.upload_part_size,
            "upload_backlog_bytes": self.upload_backlog_bytes,
        }
