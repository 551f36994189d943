"""Configuration: credentials, the ``bs`` config files, mount settings and every default.

Modules: :mod:`~bsmount.config.settings` (:class:`Defaults`, the one place each tunable default
lives, and :class:`MountSettings`), :mod:`~bsmount.config.credentials` (where the API server and
token come from, in the ``bs`` CLI's order, and their checks), :mod:`~bsmount.config.files` (the
config files in ``~/.basespace``: naming, atomic writing, listing).
"""

from __future__ import annotations

from bsmount.config.credentials import (
    DEFAULT_API_SERVER,
    REGIONS,
    Credentials,
    check_api_server_url,
    config_dir,
    load_credentials,
    read_config_file,
    resolve_api_server,
)
from bsmount.config.files import (
    config_file_path,
    config_summary,
    format_config,
    list_configs,
    write_config,
)
from bsmount.config.settings import Defaults, KiB, MiB, MountSettings

__all__ = [
    "DEFAULT_API_SERVER",
    "REGIONS",
    "Credentials",
    "Defaults",
    "KiB",
    "MiB",
    "MountSettings",
    "check_api_server_url",
    "config_dir",
    "config_file_path",
    "config_summary",
    "format_config",
    "list_configs",
    "load_credentials",
    "read_config_file",
    "resolve_api_server",
    "write_config",
]
