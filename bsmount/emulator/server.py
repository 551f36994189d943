"""The emulator's app assembly (:func:`build_app`) and server process (:func:`main`).

``build_app(state, config)`` mounts the BaseSpace routes (:func:`basespace_routes`: :mod:`.http`,
:mod:`.oauth`, :mod:`.search`), the blob route (:mod:`.blobs`) and the ``/_emulator`` control
plane (:mod:`.control`), with the request log outermost and fault injection inside it (so the log
shows what clients really got).

``bsmount emulator [--host 127.0.0.1] [--port N|0] [--seed demo|FILE.json] [--token T]
[--url-ttl S] [--data-dir DIR] [--allow-remote] [--blob-base-url URL] [--materialize DIR]
[--upload-dir DIR] [--min-part-size N] [--max-part-size N]``
loads the seed (and writes every file's bytes under ``--materialize DIR``), sets the multipart
limits and where uploaded bytes go (a temporary directory removed at exit by default), binds
(port 0: any free port), prints ``http://HOST:PORT`` as its first line of stdout and the access
token alone on the second, then serves with hypercorn on trio until SIGINT or SIGTERM (exit 0).
A non-loopback ``--host`` is refused unless ``--allow-remote``.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import shutil
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from bsmount.emulator.apps import routes as app_routes
from bsmount.emulator.blobs.route import blob_route
from bsmount.emulator.blobs.spool import UploadSpool
from bsmount.emulator.config import DEFAULT_URL_TTL, EmulatorConfig, default_data_dir
from bsmount.emulator.control.faults import FaultMiddleware, FaultRegistry
from bsmount.emulator.control.requestlog import RequestLog, RequestLogMiddleware
from bsmount.emulator.control.routes import control_routes
from bsmount.emulator.http import lab, run_uploads, uploads, v1, v2, writes
from bsmount.emulator.http import lanes as lane_routes
from bsmount.emulator.http import workflows as workflow_routes
from bsmount.emulator.http.errors import catch_all_routes
from bsmount.emulator.oauth import routes as oauth
from bsmount.emulator.search import routes as search
from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.model import UploadLimits

__all__ = ["basespace_routes", "build_app", "is_loopback", "main"]

log = logging.getLogger(__name__)


def basespace_routes() -> list[BaseRoute]:
    """Every BaseSpace API route, in matching order: writes, uploads and OAuth first (their paths
    share the reads' patterns), then the v1pre3 reads and search, the v2 reads, and last the
    catch-all 404s of unknown paths."""
    return [
        *writes.routes(),
        *app_routes.routes(),
        *lab.routes(),
        *lane_routes.routes(),
        *workflow_routes.routes(),
        *uploads.routes(),
        *run_uploads.routes(),
        *oauth.routes(),
        *v1.routes(),
        *search.routes(),
        *v2.routes(),
        *catch_all_routes("/v1pre3"),
        *catch_all_routes("/v2"),
    ]


def build_app(
    state: EmulatorState,
    config: EmulatorConfig,
    *,
    api_routes: Sequence[BaseRoute] | None = None,
) -> Starlette:
    """The emulator as an ASGI app. ``api_routes`` replaces the BaseSpace routes (tests only)."""
    if api_routes is None:
        api_routes = basespace_routes()
    request_log = RequestLog(config.log_capacity)
    faults = FaultRegistry(config.fault_seed)
    app = Starlette(
        routes=[*control_routes(), blob_route(), *api_routes],
        middleware=[
            Middleware(RequestLogMiddleware, log=request_log),
            Middleware(FaultMiddleware, registry=faults),
        ],
    )
    app.state.emulator = state
    app.state.config = config
    app.state.faults = faults
    app.state.log = request_log
    return app


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bsmount emulator",
        description="Run a local BaseSpace emulator (see docs/emulator.md).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0: any free port)")
    parser.add_argument("--seed", default="demo", help="'demo' or a seed JSON file")
    parser.add_argument("--token", help="access token replacing the seed's first user's")
    parser.add_argument(
        "--url-ttl", type=float, default=DEFAULT_URL_TTL, help="content URL lifetime, seconds"
    )
    parser.add_argument("--data-dir", type=Path, help="cache of generated demo files")
    parser.add_argument(
        "--allow-remote", action="store_true", help="allow listening on a non-loopback address"
    )
    parser.add_argument("--fault-seed", type=int, help="seed of the fault rules' random draws")
    parser.add_argument(
        "--signing-key", help="hex key signing content URLs (default: random per process)"
    )
    parser.add_argument(
        "--blob-base-url", help="base URL put in content URLs instead of the emulator's own"
    )
    parser.add_argument(
        "--materialize",
        type=Path,
        metavar="DIR",
        help="write every file's bytes to DIR/<its blob URL path> at start-up (for nginx)",
    )
    parser.add_argument(
        "--upload-dir",
        type=Path,
        metavar="DIR",
        help="keep uploaded bytes under DIR (default: a temporary directory removed at exit)",
    )
    parser.add_argument(
        "--min-part-size",
        type=int,
        default=UploadLimits.min_part_size,
        help="smallest multipart part but the last, bytes (default 5 MiB; lower it for tests)",
    )
    parser.add_argument(
        "--max-part-size",
        type=int,
        default=UploadLimits.max_part_size,
        help="largest multipart part, bytes (default 25 MiB)",
    )
    parser.add_argument("--log-level", default="WARNING", help="Python log level (stderr)")
    return parser


class _QuietAborts(logging.Filter):
    """Drop hypercorn's reports of client disconnects, which are normal for a blob store."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionError | trio.BrokenResourceError)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def _serve(app: Starlette, sock: socket.socket) -> None:
    config = HypercornConfig()
    # hypercorn wraps the fd in a socket object of its own and closes it: hand it a duplicate.
    config.bind = [f"fd://{os.dup(sock.fileno())}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")  # through our handler and level
    config.graceful_timeout = 1.0
    config.keep_alive_timeout = 75.0
    config.include_server_header = False
    config.h11_max_incomplete_size = 64 * 1024

    async def shutdown_trigger() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                log.info("signal %d: shutting down", signum)
                return

    await serve(app, config, shutdown_trigger=shutdown_trigger)  # type: ignore[arg-type]


def main(argv: list[str]) -> int:
    """``bsmount emulator ...``; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("hypercorn.error").addFilter(_QuietAborts())
    if not is_loopback(args.host) and not args.allow_remote:
        print(
            f"bsmount emulator: refusing to listen on non-loopback address {args.host!r}"
            " (the emulator has no real security); pass --allow-remote to insist",
            file=sys.stderr,
        )
        return 2
    if args.url_ttl <= 0:
        print("bsmount emulator: --url-ttl must be > 0", file=sys.stderr)
        return 2
    if not 1 <= args.min_part_size <= args.max_part_size:
        print("bsmount emulator: need 1 <= --min-part-size <= --max-part-size", file=sys.stderr)
        return 2
    config = EmulatorConfig(
        url_ttl=args.url_ttl,
        host=args.host,
        port=args.port,
        seed=args.seed,
        data_dir=args.data_dir or default_data_dir(),
        token=args.token,
        allow_remote=args.allow_remote,
        fault_seed=args.fault_seed,
    )
    if args.blob_base_url is not None:
        if not args.blob_base_url.startswith(("http://", "https://")):
            print("bsmount emulator: --blob-base-url must be an http(s) URL", file=sys.stderr)
            return 2
        config.blob_base_url = args.blob_base_url.rstrip("/")
    if args.signing_key:
        try:
            config.signing_key = bytes.fromhex(args.signing_key)
        except ValueError:
            print("bsmount emulator: --signing-key must be hex", file=sys.stderr)
            return 2
    from bsmount.emulator.seeds.load import SeedError, load_seed

    try:
        state = load_seed(config.seed, config.data_dir)
    except SeedError as exc:
        print(f"bsmount emulator: {exc}", file=sys.stderr)
        return 2
    if config.token:
        state.add_token(config.token, replace=True)
    state.set_default_upload_limits(UploadLimits(args.min_part_size, args.max_part_size))
    temporary_spool = args.upload_dir is None
    try:
        if args.upload_dir is not None:
            config.upload_dir = args.upload_dir
            state.use_spool(UploadSpool(args.upload_dir))
        else:
            config.upload_dir = state.spool.root
    except OSError as exc:
        print(f"bsmount emulator: cannot use the upload directory: {exc}", file=sys.stderr)
        return 1
    if args.materialize is not None:
        from bsmount.emulator.blobs.materialize import materialize

        try:
            done = materialize(state, args.materialize, config.signing_key)
        except OSError as exc:
            print(f"bsmount emulator: cannot materialize: {exc}", file=sys.stderr)
            return 1
        if done.failed:
            print(f"bsmount emulator: {done.failed} files not materialized", file=sys.stderr)
    try:
        sock = _bind(config.host, config.port)
    except OSError as exc:
        print(
            f"bsmount emulator: cannot listen on {config.host}:{config.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    user = state.first_user
    token = next((t for t, owner in state.model.tokens.items() if owner == user.id), "")
    print(f"http://{shown}:{port}", flush=True)
    print(token, flush=True)
    app = build_app(state, config)
    try:
        trio.run(_serve, app, sock)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        if temporary_spool:
            shutil.rmtree(state.spool.root, ignore_errors=True)
    return 0
