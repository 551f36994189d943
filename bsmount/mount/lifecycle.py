"""Running a mount: wire the client, tree, read engine and FUSE adapter, serve until told to stop.

``serve(settings)`` runs in the foreground process (``bsmount mount --foreground``, or the daemon
child that ``bsmount mount`` starts). SIGINT/SIGTERM end ``pyfuse3.main`` and the mount is
unmounted in ``finally`` (pyfuse3.close(unmount=True)) so a dead mount is never left behind by a
clean stop. Under systemd (``Type=notify``) it reports ``READY=1`` once a request through the
kernel has been answered and ``STOPPING=1`` when it begins to unmount (:mod:`.sdnotify`).
"""

from __future__ import annotations

import errno
import faulthandler
import logging
import os
import resource
import signal
from typing import Any

import pyfuse3
import trio

from bsmount import __version__
from bsmount.api.client import BaseSpaceClient
from bsmount.api.content import ContentReader
from bsmount.config import MountSettings
from bsmount.config.settings import Defaults, default_cache_dir
from bsmount.controls.service import Controls
from bsmount.fuse.kernel_readahead import READ_AHEAD_KB, KernelReadAhead
from bsmount.fuse.operations import Operations
from bsmount.io.reader import ReadEngine
from bsmount.io.stream_readahead import MiB, StreamReadAheadConfig
from bsmount.mount.disk_cache import open_disk_cache, with_disk_cache
from bsmount.mount.gcpolicy import IdleCollector
from bsmount.mount.loopwatch import LoopWatch
from bsmount.mount.malloc_tuning import tune_malloc
from bsmount.mount.sdnotify import notify
from bsmount.tree.tree import Tree
from bsmount.upload.journal import Journal, claim_upload_dir
from bsmount.upload.manager import UploadManager
from bsmount.upload.spool import SpoolDir

__all__ = ["fuse_options", "serve"]

log = logging.getLogger(__name__)


def fuse_options(settings: MountSettings) -> set[str]:
    options = set(pyfuse3.default_options)
    # not "ro": control files take writes; data files refuse them with EROFS themselves
    fsname = settings.fsname.replace("\\", "\\\\").replace(",", "\\,")  # libfuse's escapes
    options |= {f"fsname={fsname}", "subtype=bsmount", "noatime"}
    if settings.allow_other:
        options.add("allow_other")
    if settings.read_only:
        options.add("ro")
    options |= set(settings.kernel_options)
    if settings.debug:
        options.add("debug")
    return options


def _awaits_in_flight(controls: Controls) -> int:
    """Appsessions whose ``.await`` is still polling (Controls keeps one state per appsession;
    a finished one leaves, a failed one stays done until read again)."""
    states = getattr(controls, "_awaits", {})
    return sum(1 for state in states.values() if not state.done.is_set())


def _stats(
    client: BaseSpaceClient,
    engine: ReadEngine,
    operations: Operations,
    controls: Controls,
    uploads: UploadManager,
    gc_policy: IdleCollector,
    loop: LoopWatch,
) -> dict[str, Any]:
    """``.bsmount/stats``: what is in flight (``bsmount status`` shows it), requests by kind,
    bytes, caches, handles, errors by errno, GC pauses, event-loop stalls."""
    reads = engine.statistics()
    return {
        "in_flight": {
            "operations": operations.in_flight,
            "reads": reads.get("inflight", 0),
            "read_bytes": reads.get("inflight_bytes", 0),
            "awaits": _awaits_in_flight(controls),
            "uploads": len(uploads.active),
        },
        "uploads": uploads.statistics(),
        "gc": gc_policy.statistics(),
        "event_loop_lag": loop.statistics(),
        "api": client.statistics(),
        "bytes_fetched": reads.get("bytes_fetched", 0),
        "bytes_served": reads.get("bytes_served", 0),
        "block_cache": {
            "hits": reads.get("cache_hits", 0),
            "misses": reads.get("cache_misses", 0),
            "cached_bytes": reads.get("cached_bytes", 0),
        },
        "open_handles": reads.get("open_handles", 0),
        "read_engine": reads,
        **operations.statistics(),
    }


async def _watch_signals(ready: trio.Event) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        ready.set()
        async for signum in signals:
            log.info("received %s: unmounting", signal.Signals(signum).name)
            notify("STOPPING=1", f"STATUS=unmounting ({signal.Signals(signum).name})")
            pyfuse3.terminate()
            return


async def _announce_ready(where: str) -> None:
    """Tell systemd (``Type=notify``) the mount is usable once a request through the kernel
    has been answered: ``statfs`` on the mount point, served by this process's main loop."""
    try:
        await trio.to_thread.run_sync(os.statvfs, where, abandon_on_cancel=True)
    except OSError as exc:
        if exc.errno == errno.ENOTCONN:
            return
    log.info("serving %s", where)
    notify("READY=1", f"STATUS=serving {where}")


async def _serve(settings: MountSettings, where: str) -> None:
    """``where``: the mountpoint's real path, resolved before mounting (see KernelReadAhead)."""
    creds = settings.credentials
    async with BaseSpaceClient(
        creds.api_server,
        creds.token,
        io_deadline=settings.io_timeout,
        ca_file=str(settings.ca_file) if settings.ca_file else None,
    ) as client:
        user = await client.current_user()
        log.info("authenticated as %s (id %s) on %s", user.name, user.id, creds.api_server)
        async with trio.open_nursery() as nursery:
            tune_malloc()
            # verify_md5: a full in-order read of a file whose ETag is a plain MD5 is checked
            # against it (product-spec §6), whatever the file's size; a mismatch is EIO.
            content = ContentReader(client)
            client.on_content_urls = content.offer_urls  # URLs that v2 file listings carry
            disk_cache = await open_disk_cache(settings, user.id, content, nursery)
            engine = ReadEngine(
                disk_cache or content,
                nursery,
                # tolerate the kernel's larger read-ahead arriving out of order
                config=StreamReadAheadConfig(seek_back=max(MiB, 2 * READ_AHEAD_KB * 1024)),
                cache_bytes=settings.cache_bytes,
                max_inflight_total=settings.inflight_bytes,
                verify_md5=True,
                # a read that gets no bytes fails inside the operation's bound with an error
                # naming the file and the byte range (logged by the adapter), not a bare timeout
                read_timeout=settings.io_timeout * 0.9,
            )
            tree = Tree(
                client,
                ttl=settings.metadata_ttl,
                negative_ttl=settings.negative_ttl,
                max_entries=settings.max_cached_entries,
                nursery=nursery,  # run sub-directories listed ahead of walkers (find, du, ls -R)
                biosample_project=settings.biosample_project,
            )
            # this mount point's own spool and journal, locked while it is mounted
            upload_dir, _lock = await trio.to_thread.run_sync(
                claim_upload_dir, settings.cache_dir or default_cache_dir(), where
            )
            spool = SpoolDir(upload_dir / "spool", settings.upload_backlog_bytes)
            await trio.to_thread.run_sync(spool.prepare)
            uploads = UploadManager(
                client,
                nursery,
                spool,
                Journal(upload_dir / "journal"),
                part_size=settings.upload_part_size,
                parts_in_flight=Defaults.upload_parts_in_flight,
            )
            await uploads.recover()  # uploads a dead mount left open are aborted on the server
            operations: Operations
            controls = Controls(
                client,
                tree,
                nursery,
                statistics=lambda: with_disk_cache(
                    _stats(client, engine, operations, controls, uploads, gc_policy, loop_watch),
                    disk_cache,
                ),
                settings=settings.redacted(),
                versions={"bsmount": __version__, "pyfuse3": pyfuse3.__version__},
                uploads_in_flight=lambda appresult_id: operations.uploads_in_flight(appresult_id),
            )
            operations = Operations(
                tree,
                engine,
                controls=controls,
                uploads=uploads,
                io_timeout=settings.io_timeout,
                uid=settings.uid,
                gid=settings.gid,
            )
            nursery.start_soon(operations.kernel.run)
            # full GC passes (100-200 ms over a big cached tree) wait for idle moments
            gc_policy = IdleCollector(operations.idle_for)
            nursery.start_soon(gc_policy.run)
            loop_watch = LoopWatch()
            nursery.start_soon(loop_watch.run)
            pyfuse3.init(operations, str(settings.mountpoint), fuse_options(settings))
            log.info("mounted %s", settings.mountpoint)
            read_ahead = KernelReadAhead(where, READ_AHEAD_KB)
            nursery.start_soon(read_ahead.apply)
            unmounted = False
            try:
                ready = trio.Event()
                nursery.start_soon(_watch_signals, ready)
                await ready.wait()
                nursery.start_soon(_announce_ready, where)
                await pyfuse3.main()
                notify("STOPPING=1", "STATUS=unmounted")
                pyfuse3.close(unmount=True)
                unmounted = True
            finally:
                if not unmounted:
                    pyfuse3.close(unmount=True)
                read_ahead.restore()
                nursery.cancel_scope.cancel()
    log.info("unmounted %s", settings.mountpoint)


def serve(settings: MountSettings) -> None:
    """Mount and serve in this process until unmounted or signalled."""
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    os.umask(0o077)
    # the process holds the token: a crash must not write it to a core file
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    trio.run(_serve, settings, os.path.realpath(settings.mountpoint))  # no FUSE request yet
