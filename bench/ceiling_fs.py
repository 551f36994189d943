"""The ceiling: a trivial pyfuse3 filesystem that does no I/O, for ``make bench``'s fourth side.

``python -m bench.ceiling_fs MOUNTPOINT MANIFEST`` mounts, in the foreground, the files the
manifest names (a JSON list of ``[path, size]``: the benchmark files at the paths they have in
the bsmount mount) with bsmount's own mount options (``pyfuse3.default_options`` plus
``fsname``, ``subtype``, ``noatime``), its kernel read-ahead (``KernelReadAhead``, 1 MiB, root
only) and its entry/attribute timeouts, on trio as bsmount is. Every READ is answered with a
view into one preallocated buffer of zeros: no network, no cache, no copy in Python. What it
measures is the cost of FUSE, pyfuse3 and the kernel's page cache on this machine: no
filesystem written with pyfuse3 can read faster. Directories are listed from memory (readdirplus
entries with their attributes), so ``ls -l`` and ``find`` show the same floor for listings.
It answers FLUSH as bsmount does, so a ``close`` costs both the same requests.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import sys
from pathlib import Path

import pyfuse3
import trio

from bsmount.config.settings import Defaults
from bsmount.fuse.kernel_readahead import READ_AHEAD_KB, KernelReadAhead

__all__ = ["CeilingFS", "main"]

# Larger than any READ the kernel sends (1 MiB with the raised read-ahead, 128 KiB otherwise).
_BUFFER = 8 << 20
_TTL = Defaults.metadata_ttl  # bsmount's entry/attribute timeouts


class CeilingFS(pyfuse3.Operations):
    """Files and directories from a manifest; reads answered from one buffer (module doc)."""

    supports_dot_lookup = False
    enable_writeback_cache = False
    enable_acl = False

    def __init__(self, entries: list[tuple[str, int]]) -> None:
        super().__init__()
        self.buffer = memoryview(bytearray(_BUFFER)).toreadonly()
        self.sizes: dict[int, int] = {}  # inode -> size (files)
        self.children: dict[int, dict[bytes, int]] = {pyfuse3.ROOT_INODE: {}}
        self._order: dict[int, list[bytes]] = {}
        self._next = pyfuse3.ROOT_INODE + 1
        for path, size in entries:
            self._add(path, size)
        for ino, kids in self.children.items():
            self._order[ino] = sorted(kids)

    def _add(self, path: str, size: int) -> None:
        *dirs, name = [p.encode() for p in path.strip("/").split("/")]
        parent = pyfuse3.ROOT_INODE
        for part in dirs:
            kids = self.children[parent]
            if part not in kids:
                kids[part] = self._next
                self.children[self._next] = {}
                self._next += 1
            parent = kids[part]
        self.children[parent][name] = self._next
        self.sizes[self._next] = size
        self._next += 1

    def _attrs(self, ino: int) -> pyfuse3.EntryAttributes:
        attrs = pyfuse3.EntryAttributes()
        attrs.st_ino = ino
        attrs.entry_timeout = _TTL
        attrs.attr_timeout = _TTL
        if ino in self.children:
            attrs.st_mode = stat.S_IFDIR | 0o555
            attrs.st_nlink = 2
        else:
            attrs.st_mode = stat.S_IFREG | 0o444
            attrs.st_nlink = 1
            attrs.st_size = self.sizes[ino]
        attrs.st_uid = os.getuid()
        attrs.st_gid = os.getgid()
        attrs.st_blksize = 128 * 1024
        attrs.st_blocks = -(-attrs.st_size // 512)
        return attrs

    async def getattr(self, inode: int, ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        if inode not in self.children and inode not in self.sizes:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return self._attrs(inode)

    async def lookup(
        self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        ino = self.children.get(parent_inode, {}).get(name)
        if ino is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return self._attrs(ino)

    async def opendir(self, inode: int, ctx: pyfuse3.RequestContext) -> int:
        if inode not in self.children:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        return inode

    async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        names = self._order[fh]
        kids = self.children[fh]
        for index in range(start_id, len(names)):
            name = names[index]
            if not pyfuse3.readdir_reply(token, name, self._attrs(kids[name]), index + 1):
                return

    async def releasedir(self, fh: int) -> None:
        return None

    async def open(self, inode: int, flags: int, ctx: pyfuse3.RequestContext) -> pyfuse3.FileInfo:
        if inode not in self.sizes:
            raise pyfuse3.FUSEError(errno.EISDIR)
        if flags & (os.O_WRONLY | os.O_RDWR):
            raise pyfuse3.FUSEError(errno.EROFS)
        return pyfuse3.FileInfo(fh=inode, keep_cache=True)  # as bsmount opens a data file

    async def read(self, fh: int, off: int, size: int) -> memoryview:  # type: ignore[override]
        n = max(0, min(size, self.sizes[fh] - off))
        return self.buffer[:n]

    async def flush(self, fh: int) -> None:
        # answered, as bsmount answers it (its writes commit at close): pyfuse3's default,
        # ENOSYS, would make the kernel stop sending FLUSH, one request per close fewer
        return None

    async def release(self, fh: int) -> None:
        return None

    async def statfs(self, ctx: pyfuse3.RequestContext) -> pyfuse3.StatvfsData:
        data = pyfuse3.StatvfsData()
        data.f_bsize = 128 * 1024
        data.f_frsize = 512
        data.f_namemax = 255
        return data


def fuse_options() -> set[str]:
    """bsmount's options (``bsmount.mount.lifecycle.fuse_options`` with its defaults)."""
    return set(pyfuse3.default_options) | {"fsname=ceiling", "subtype=bench-ceiling", "noatime"}


async def _serve(fs: CeilingFS, mountpoint: str) -> None:
    async with trio.open_nursery() as nursery:
        pyfuse3.init(fs, mountpoint, fuse_options())
        read_ahead = KernelReadAhead(mountpoint, READ_AHEAD_KB)
        nursery.start_soon(read_ahead.apply)

        async def stop_on_signal() -> None:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    pyfuse3.terminate()
                    return

        nursery.start_soon(stop_on_signal)
        try:
            await pyfuse3.main()
        finally:
            pyfuse3.close(unmount=True)
            read_ahead.restore()
            nursery.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m bench.ceiling_fs MOUNTPOINT MANIFEST", file=sys.stderr)
        return 2
    mountpoint, manifest = os.path.realpath(args[0]), Path(args[1])
    entries = [(str(p), int(s)) for p, s in json.loads(manifest.read_text())]
    trio.run(_serve, CeilingFS(entries), mountpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
