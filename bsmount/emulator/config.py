"""The emulator's runtime settings: one dataclass, filled by the CLI or by tests.

It holds what the HTTP layers need (URL lifetime, signing key, public base URL of the blob route,
fault randomness, request-log size) and what the server process needs (host, port, seed, token
override, data directory, upload directory). It does not parse arguments (see
:mod:`bsmount.emulator.server`).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DEFAULT_URL_TTL", "EmulatorConfig", "default_data_dir"]

# Lifetime of signed content URLs: about 7 days, like BaseSpace's S3 URLs (basespace-api.md §6.2).
DEFAULT_URL_TTL = 7 * 24 * 3600.0


def default_data_dir() -> Path:
    """Where generated demo files are cached: ``$XDG_CACHE_HOME/bsmount/emulator``."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "bsmount" / "emulator"


@dataclass
class EmulatorConfig:
    """Settings of one emulator instance."""

    url_ttl: float = DEFAULT_URL_TTL
    # Key of the HMAC that signs content URLs; random per process unless given.
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    # Base URL put into signed content URLs instead of the request's own (e.g. behind a proxy).
    blob_base_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    seed: str = "demo"
    data_dir: Path = field(default_factory=default_data_dir)
    # Replaces the token of the seed's first user when set.
    token: str | None = field(default=None, repr=False)
    allow_remote: bool = False
    # Seed of the fault rules' random draws (None: seeded from the OS).
    fault_seed: int | None = None
    # How many request-log entries are kept (oldest dropped first).
    log_capacity: int = 100_000
    # Where uploaded bytes are kept (None: a fresh directory under the system's temp dir,
    # removed at exit).
    upload_dir: Path | None = None
