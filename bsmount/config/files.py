"""Config files in ``~/.basespace``: naming, writing (atomic, mode 0600) and summarising.

The format is the one shared with the ``bs`` CLI and BaseMount (basespace-api.md §1.1)::

    [DEFAULT]
    apiServer = https://api.basespace.illumina.com
    accessToken = <token>
    apiVersion = v1pre3

:func:`write_config` writes a temporary file with mode 0600 in the same directory (created 0700),
fsyncs it and moves it into place; without ``force`` it never replaces an existing file, even one
created meanwhile (hard link, which fails if the name exists). :func:`config_summary` reads a
config's API server and problems for ``bsmount config list``; the token never leaves it.
Reading credentials for use is :func:`bsmount.config.credentials.read_config_file`.
"""

from __future__ import annotations

import configparser
import contextlib
import logging
import os
import re
import stat
import tempfile
from pathlib import Path

from bsmount.config.credentials import DEFAULT_API_SERVER, config_dir, resolve_api_server
from bsmount.errors import ConfigError

__all__ = ["config_file_path", "config_summary", "format_config", "list_configs", "write_config"]

log = logging.getLogger(__name__)

_TOKEN_CHARS = re.compile(r"[\x21-\x7e]{1,4096}")  # printable ASCII without spaces


def config_file_path(name_or_path: str) -> Path:
    """``NAME`` → ``~/.basespace/NAME.cfg``; a value with ``/`` or ending in ``.cfg`` is a path."""
    value = name_or_path.strip()
    if "/" in value or value.endswith(".cfg"):
        return Path(value).expanduser()
    if not value or value.startswith(".") or not re.fullmatch(r"[\w.@+-]+", value):
        raise ConfigError(f"invalid config name {name_or_path!r}: use letters, digits, . _ - @ +")
    return config_dir() / f"{value}.cfg"


def format_config(api_server: str, token: str) -> str:
    """The shared ``bs``/BaseMount config text."""
    if not _TOKEN_CHARS.fullmatch(token):
        raise ConfigError("the access token contains characters a config file cannot hold")
    if any(c in api_server for c in "\r\n"):
        raise ConfigError("the API server URL contains a line break")
    return f"[DEFAULT]\napiServer = {api_server}\naccessToken = {token}\napiVersion = v1pre3\n"


def write_config(path: Path, api_server: str, token: str, *, force: bool = False) -> None:
    """Write the config atomically, mode 0600 (its directory is created 0700).

    Without ``force`` an existing file is never replaced (even one created meanwhile).
    """
    text = format_config(api_server, token)
    if not force and path.exists():
        raise ConfigError(f"{path} already exists; use --force to overwrite it")
    directory = path.parent
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if force:
            os.replace(temp, path)
        else:
            _link_no_clobber(temp, path)
    except FileExistsError:
        raise ConfigError(f"{path} already exists; use --force to overwrite it") from None
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    _fsync_dir(directory)
    log.info("wrote %s (API server %s)", path, api_server)


def _link_no_clobber(temp: str, path: Path) -> None:
    """Put ``temp`` at ``path`` only if nothing is there (a hard link fails if it exists)."""
    try:
        os.link(temp, path)
    except FileExistsError:
        raise
    except OSError:  # a filesystem without hard links: check, then rename
        if path.exists():
            raise FileExistsError(str(path)) from None
        os.rename(temp, path)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def config_summary(path: Path) -> tuple[str, str]:
    """(API server, problem or "") of a config file; the token is read but never returned."""
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except OSError as exc:
        return "", f"unreadable: {exc.strerror}"
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text if text.lstrip().startswith("[") else "[DEFAULT]\n" + text)
    except configparser.Error:
        return "", "not a valid config file"
    section = parser.defaults()
    server = section.get("apiserver", "").strip() or DEFAULT_API_SERVER
    try:
        server = resolve_api_server(server)
    except ConfigError:
        return server, "invalid apiServer"
    if not section.get("accesstoken", "").strip():
        return server, "no accessToken"
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return server, f"readable by others (chmod 600 {path})"
    return server, ""


def list_configs(directory: Path | None = None) -> list[tuple[str, str, str]]:
    """``(name, api_server, problem)`` of each ``*.cfg`` in ``directory`` (``~/.basespace``)."""
    folder = config_dir() if directory is None else directory
    paths = sorted(folder.glob("*.cfg")) if folder.is_dir() else []
    return [(p.name[: -len(".cfg")], *config_summary(p)) for p in paths if p.is_file()]
