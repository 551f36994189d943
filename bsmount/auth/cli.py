"""``bsmount auth``, ``bsmount whoami``, ``bsmount config list`` and ``bsmount config load``.

The commands of the ``bs`` CLI for logging in and handling configs (product-spec §1): ``auth``
runs the device flow (:mod:`.device_flow`) and writes ``~/.basespace/NAME.cfg``; ``whoami``
shows the user behind the resolved credentials; ``config list`` shows the configs and their API
servers (never tokens); ``config load NAME`` prints shell ``export`` lines for ``eval`` — the only
place a token is ever printed, on stdout, on request. No command takes a token in its arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
from datetime import datetime
from typing import Any

import httpx
import trio

from bsmount.auth.device_flow import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_SCOPES,
    AuthError,
    AuthResult,
    DeviceAuthorization,
    device_login,
    parse_scopes,
)
from bsmount.config import (
    Credentials,
    check_api_server_url,
    config_dir,
    load_credentials,
    read_config_file,
    resolve_api_server,
)
from bsmount.config.files import config_file_path, list_configs, write_config
from bsmount.errors import ApiError, ConfigError, TransportError, Unauthorized
from bsmount.logsetup import setup_logging

__all__ = ["format_exports", "format_table", "main", "run"]

log = logging.getLogger(__name__)

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"bsmount {command}")
    if command in ("auth", "whoami"):
        parser.add_argument("-c", "--config", help="config NAME (~/.basespace/NAME.cfg) or PATH")
        parser.add_argument("--api-server", help="API URL or region (use1, euc1, euw2, ...)")
        parser.add_argument("--debug", action="store_true", help="log the steps to stderr")
    if command == "auth":
        parser.add_argument(
            "--scopes",
            help=f"comma-separated scopes (default: {','.join(DEFAULT_SCOPES)})",
        )
        parser.add_argument("--force", action="store_true", help="overwrite an existing config")
        parser.add_argument("--client-id", help="app client id (env BSMOUNT_CLIENT_ID)")
        parser.add_argument("--client-secret", help="app client secret (env BSMOUNT_CLIENT_SECRET)")
        parser.add_argument(
            "--timeout", type=float, metavar="SECONDS", help="give up after this long"
        )
    if command == "whoami":
        parser.add_argument("--json", action="store_true", help="print JSON")
    if command == "config":
        sub = parser.add_subparsers(dest="action", metavar="{list,load}")
        lister = sub.add_parser("list", help="configs in ~/.basespace and their API servers")
        lister.add_argument("--json", action="store_true", help="print JSON")
        loader = sub.add_parser("load", help="print export lines for eval")
        loader.add_argument("name", help="config NAME or PATH")
    return parser


def main(command: str, argv: list[str]) -> int:
    """Entry point from :mod:`bsmount.cli`."""
    return run(command, argv)


def run(
    command: str,
    argv: list[str],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    environ: dict[str, str] | None = None,
) -> int:
    """Run one command; ``transport`` replaces the network and ``environ`` the environment."""
    parser = _parser(command)
    args = parser.parse_args(argv)
    env = dict(os.environ if environ is None else environ)
    debug = bool(getattr(args, "debug", False))
    setup_logging(None, debug=debug, stderr=True, level=logging.DEBUG if debug else logging.WARNING)
    name = command if command != "config" else f"config {args.action or ''}".strip()
    try:
        if command == "auth":
            return _auth(args, env, transport)
        if command == "whoami":
            return _whoami(args, env, transport)
        if args.action == "list":
            return _config_list(as_json=args.json)
        if args.action == "load":
            return _config_load(args.name)
        parser.print_usage(sys.stderr)
        return EXIT_USAGE
    except (AuthError, ConfigError) as exc:
        print(f"bsmount {name}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"bsmount {name}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


# --- auth ------------------------------------------------------------------------------------


def _auth(
    args: argparse.Namespace, env: dict[str, str], transport: httpx.AsyncBaseTransport | None
) -> int:
    path = config_file_path(args.config or "default")
    server = resolve_api_server(args.api_server or env.get("BASESPACE_API_SERVER") or "use1")
    check_api_server_url(server)
    if path.exists() and not args.force:
        raise AuthError(f"{path} already exists; use --force to overwrite it")
    explicit = args.scopes is not None
    scopes = parse_scopes(args.scopes) if explicit else DEFAULT_SCOPES
    client_id = args.client_id or env.get("BSMOUNT_CLIENT_ID") or DEFAULT_CLIENT_ID
    secret = args.client_secret or env.get("BSMOUNT_CLIENT_SECRET") or DEFAULT_CLIENT_SECRET
    if args.timeout is not None and args.timeout <= 0:
        raise AuthError("--timeout must be positive")

    def show(authorization: DeviceAuthorization) -> None:
        minutes = max(1, round(authorization.expires_in / 60))
        print("Please go to this URL to authenticate:")
        print(f"    {authorization.verification_with_code_uri}")
        print(f"User code: {authorization.user_code} (valid for {minutes} min)")
        print("Waiting for approval (Ctrl-C to cancel)...", flush=True)

    def dropped(scope: str, description: str) -> None:
        print(
            f"bsmount auth: the server refused scope {scope!r}; asking without it", file=sys.stderr
        )

    async def login() -> tuple[AuthResult, str]:
        result = await device_login(
            server,
            client_id=client_id,
            client_secret=secret,
            scopes=scopes,
            drop_invalid_scopes=not explicit,
            show=show,
            on_drop=dropped,
            timeout=args.timeout,
            transport=transport,
        )
        return result, await _user_line(result, transport)

    result, who = trio.run(login)
    write_config(path, result.api_server, result.token, force=args.force)
    print(who)
    print(f"Scopes: {', '.join(result.scopes)}")
    print(f"Saved the configuration to {path}")
    return 0


async def _user_line(result: AuthResult, transport: httpx.AsyncBaseTransport | None) -> str:
    """``Logged in as NAME (id N) on SERVER``, or why the new token could not be checked."""
    creds = Credentials(result.api_server, result.token, "device login")
    try:
        user = await _current_user(creds, transport)
    except (ApiError, TransportError, ConfigError) as exc:
        log.warning("could not check the new token: %s", exc)
        return f"Logged in on {result.api_server} (the user could not be read: {exc})"
    return f"Logged in as {user.get('Name', '?')} (id {user.get('Id', '?')}) on {creds.api_server}"


# --- whoami ----------------------------------------------------------------------------------


async def _current_user(
    creds: Credentials, transport: httpx.AsyncBaseTransport | None
) -> dict[str, Any]:
    from bsmount.api.client import BaseSpaceClient

    async with BaseSpaceClient(
        creds.api_server, creds.token, max_retries=2, io_deadline=20, transport=transport
    ) as client:
        user = await client.current_user()
    return dict(user.raw)


def _bs_date(value: Any) -> str:
    """A date as ``bs`` prints it: ``2015-01-16 15:31:22 +0000 UTC``."""
    from bsmount.api.models import parse_date

    parsed: datetime | None = parse_date(value)
    return parsed.strftime("%Y-%m-%d %H:%M:%S +0000 UTC") if parsed else ""


def format_table(rows: list[list[str]], header: list[str] | None = None) -> str:
    """A bordered text table like the ``bs`` CLI prints."""
    all_rows = ([header] if header else []) + rows
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(all_rows[0]))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(row: list[str]) -> str:
        return (
            "|" + "|".join(f" {cell.ljust(w)} " for cell, w in zip(row, widths, strict=True)) + "|"
        )

    out = [rule]
    if header:
        out += [line(header), rule]
    out += [line(row) for row in rows] + [rule]
    return "\n".join(out)


def _whoami(
    args: argparse.Namespace, env: dict[str, str], transport: httpx.AsyncBaseTransport | None
) -> int:
    creds = load_credentials(args.config, args.api_server, environ=env)
    try:
        user = trio.run(_current_user, creds, transport)
    except Unauthorized:
        hint = f" -c {args.config}" if args.config else ""
        raise ConfigError(
            f"the access token from {creds.source} was refused by {creds.api_server} "
            f"(log in again: bsmount auth{hint} --force)"
        ) from None
    except ApiError as exc:
        raise ConfigError(f"{creds.api_server} answered {exc}") from None
    except TransportError as exc:
        raise ConfigError(f"cannot reach {creds.api_server}: {exc}") from None
    if args.json:
        print(json.dumps({**user, "Host": creds.api_server}, indent=2, ensure_ascii=False))
        return 0
    rows = [
        ["Name", str(user.get("Name", ""))],
        ["Id", str(user.get("Id", ""))],
        ["Email", str(user.get("Email", ""))],
        ["DateCreated", _bs_date(user.get("DateCreated"))],
        ["DateLastActive", _bs_date(user.get("DateLastActive"))],
        ["Host", creds.api_server],
    ]
    print(format_table(rows))
    return 0


# --- config list / load ----------------------------------------------------------------------


def _config_list(*, as_json: bool) -> int:
    directory = config_dir()
    entries = list_configs(directory)
    if as_json:
        items = [{"Name": n, "ApiServer": s, "Note": note} for n, s, note in entries]
        print(json.dumps(items, indent=2))
        return 0
    if not entries:
        print(f"no configs in {directory} (create one with: bsmount auth)", file=sys.stderr)
        return 0
    notes = any(note for _, _, note in entries)
    header = ["Name", "ApiServer"] + (["Note"] if notes else [])
    rows = [[n, s] + ([note] if notes else []) for n, s, note in entries]
    print(format_table(rows, header))
    return 0


def format_exports(creds: Credentials) -> str:
    """Shell lines setting ``BASESPACE_API_SERVER`` and ``BASESPACE_ACCESS_TOKEN`` (quoted)."""
    return (
        f"export BASESPACE_API_SERVER={shlex.quote(creds.api_server)}\n"
        f"export BASESPACE_ACCESS_TOKEN={shlex.quote(creds.token)}\n"
    )


def _config_load(name: str) -> int:
    creds = read_config_file(config_file_path(name))
    sys.stdout.write(format_exports(creds))
    sys.stdout.flush()
    if sys.stdout.isatty():
        print(
            f'# to set these in your shell: eval "$(bsmount config load {name})"', file=sys.stderr
        )
    return 0
