"""Credentials: where the API server and token come from, and their checks.

Credentials are looked up in the order of the ``bs`` CLI and BaseMount (product-spec §1):
``--api-server`` / ``-c NAME|PATH``; the environment (``BASESPACE_API_SERVER`` +
``BASESPACE_ACCESS_TOKEN``); ``~/.basespace/default.cfg``. Config files use the shared INI format
(``apiServer = URL`` and ``accessToken = TOKEN``, with or without a ``[DEFAULT]`` header).

This module never logs or prints a token; :class:`Credentials` hides it from ``repr``.
"""

from __future__ import annotations

import configparser
import ipaddress
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bsmount.errors import ConfigError

__all__ = [
    "DEFAULT_API_SERVER",
    "REGIONS",
    "Credentials",
    "check_api_server_url",
    "config_dir",
    "load_credentials",
    "read_config_file",
    "resolve_api_server",
]

log = logging.getLogger(__name__)

#: Region aliases (any case): the seed manual's USE1 APS2 CAC1 EUC1 APN1 EUW2, and CNN1. [G] the
#: URLs follow the ``api.<region>.sh.basespace.illumina.com`` pattern; the manual names no URL.
REGIONS: dict[str, str] = {
    "use1": "https://api.basespace.illumina.com",
    "euc1": "https://api.euc1.sh.basespace.illumina.com",
    "euw2": "https://api.euw2.sh.basespace.illumina.com",
    "aps2": "https://api.aps2.sh.basespace.illumina.com",
    "cac1": "https://api.cac1.sh.basespace.illumina.com",
    "apn1": "https://api.apn1.sh.basespace.illumina.com",
    "cnn1": "https://api.cnn1.sh.basespace.illumina.com.cn",
}
DEFAULT_API_SERVER = REGIONS["use1"]


@dataclass(frozen=True)
class Credentials:
    """An API server and the token for it (the token is never part of ``repr``)."""

    api_server: str
    token: str = field(repr=False)
    source: str = ""  # where they came from, for messages ("env", a config path, ...)


def config_dir() -> Path:
    """``~/.basespace``, the directory shared with the ``bs`` CLI and BaseMount."""
    return Path(os.environ.get("HOME", str(Path.home()))) / ".basespace"


def resolve_api_server(value: str) -> str:
    """Turn a region alias (``euc1``) or a URL into a normalised base URL (no trailing slash)."""
    alias = value.strip().lower()
    if alias in REGIONS:
        return REGIONS[alias]
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"invalid API server {value!r}: give a URL (https://...) or a region "
            f"({', '.join(sorted(REGIONS))})"
        )
    return url


def check_api_server_url(url: str) -> None:
    """Refuse plain ``http://`` except to loopback (the emulator): tokens never cross a network."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    host = (parts.hostname or "").strip("[]")
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ConfigError(
        f"refusing plain http:// to {host!r}: use https:// (http is allowed only to 127.0.0.0/8 "
        "and ::1, e.g. the emulator)"
    )


def read_config_file(path: Path) -> Credentials:
    """Read a ``bs``/BaseMount config file; warn (like ssh) when others can read it."""
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "config file %s is accessible by others (mode %o); run: chmod 600 %s",
            path,
            stat.S_IMODE(mode),
            path,
        )
    parser = configparser.ConfigParser(interpolation=None)
    if not text.lstrip().startswith("["):
        text = "[DEFAULT]\n" + text
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise ConfigError(f"config file {path} is not valid: {exc.message}") from None
    section = parser.defaults()
    server = section.get("apiserver", "").strip()
    token = section.get("accesstoken", "").strip()
    if not token:
        raise ConfigError(f"config file {path} has no accessToken")
    return Credentials(resolve_api_server(server or DEFAULT_API_SERVER), token, str(path))


def _config_path(name_or_path: str) -> Path:
    if "/" in name_or_path or name_or_path.endswith(".cfg"):
        return Path(name_or_path).expanduser()
    return config_dir() / f"{name_or_path}.cfg"


def load_credentials(
    config: str | None = None,
    api_server: str | None = None,
    environ: dict[str, str] | None = None,
) -> Credentials:
    """Find credentials in the documented order; raise :class:`ConfigError` with a hint if none."""
    env = dict(os.environ if environ is None else environ)
    if config:
        creds = read_config_file(_config_path(config))
    elif env.get("BASESPACE_ACCESS_TOKEN"):
        server = env.get("BASESPACE_API_SERVER") or DEFAULT_API_SERVER
        creds = Credentials(
            resolve_api_server(server), env["BASESPACE_ACCESS_TOKEN"], "environment"
        )
    else:
        default = config_dir() / "default.cfg"
        if not default.exists():
            raise ConfigError(
                "no credentials: set BASESPACE_API_SERVER and BASESPACE_ACCESS_TOKEN, "
                f"pass -c NAME, or create {default} (bsmount auth)"
            )
        creds = read_config_file(default)
    if api_server:
        creds = Credentials(resolve_api_server(api_server), creds.token, creds.source)
    check_api_server_url(creds.api_server)
    return creds
