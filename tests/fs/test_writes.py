"""Writing through the FUSE handlers without a kernel: an AppResult made with mkdir, files
created, streamed in parts and committed, .complete/.abort, and .bsmount/uploads."""

from __future__ import annotations

import errno
import hashlib
import json
import os

import pytest

from tests.emulator_proc import EmulatorProcess
from tests.fs.conftest import CTX, FS, Context
from tests.fs.test_controls import covers

pytestmark = pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.tree\.oddities: odd entries from the server in .*name\(s\) changed"
)
PROJECT = "Projects/.id.20000001"


async def _appresults(fs: FS) -> str:
    name = await fs.ops.readlink(await fs.ino(PROJECT), None)  # type: ignore[arg-type]
    return f"Projects/{name.decode()}/AppResults"


def _api_files(emu: EmulatorProcess, appresult_id: str) -> dict[str, dict[str, object]]:
    answer = emu.http.get(
        f"v1pre3/appresults/{appresult_id}/files", headers={"x-access-token": emu.token}
    ).json()
    return {f["Path"]: f for f in answer["Response"]["Items"]}


async def test_files_stream_in_parts_and_commit_at_close(
    fs: FS, fs_emulator: EmulatorProcess
) -> None:
    covers("uploads")
    base = await _appresults(fs)
    await fs.ops.mkdir(await fs.ino(base), b"FS writes", 0o755, CTX)
    appresult = f"{base}/FS writes"
    appresult_id = (await fs.read(f"{appresult}/.id")).decode().strip()
    data = os.urandom(1_000_000)  # three 256 KiB parts and a short fourth
    await fs.create(f"{appresult}/Files/a.bin", data)
    await fs.ops.mkdir(await fs.ino(f"{appresult}/Files"), b"sub", 0o755, CTX)
    await fs.create(f"{appresult}/Files/sub/b.txt", b"small\n")
    listing = await fs.listdir(f"{appresult}/Files")
    assert {"a.bin", "sub"} <= set(listing) and listing["a.bin"].st_size == len(data)
    assert await fs.read(f"{appresult}/Files/a.bin") == data
    server = _api_files(fs_emulator, appresult_id)
    assert set(server) == {"a.bin", "sub/b.txt"}
    assert server["a.bin"]["Size"] == len(data)
    parts = [data[i : i + 256 * 1024] for i in range(0, len(data), 256 * 1024)]
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    assert server["a.bin"]["ETag"] == f"{hashlib.md5(digests).hexdigest()}-4"
    uploads = json.loads(await fs.read(".bsmount/uploads"))
    assert uploads["files_committed"] == 2 and uploads["in_flight"] == []
    assert uploads["bytes_sent"] == len(data) + 6


@pytest.mark.expect_log_warnings(
    r"write \.(complete|abort) refused in .*: \d+ file\(s\) of appresult \d+ are still being",
    r"write\(.*\) -> EBUSY: \d+ file\(s\) of appresult",
    r"create 'late\.txt' refused in .*: appresult \d+: its appsession is (Complete|Aborted)",
    r"create\(.*\) -> EROFS: appresult \d+: its appsession is",
)
async def test_complete_and_abort_end_the_session(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".complete", ".abort")
    base = await _appresults(fs)
    for name, control, status in (
        ("Done", ".complete", "Complete"),
        ("Dropped", ".abort", "Aborted"),
    ):
        await fs.ops.mkdir(await fs.ino(base), name.encode(), 0o755, CTX)
        appresult = f"{base}/{name}"
        files = await fs.ino(f"{appresult}/Files")
        info, _ = await fs.ops.create(files, b"open.txt", 0o644, os.O_WRONLY | os.O_CREAT, CTX)
        await fs.ops.write(info.fh, 0, b"x")
        code = await fs.errno_of(fs.write(f"{appresult}/{control}", b"yes\n"))
        assert code == errno.EBUSY  # a file is still being written
        await fs.ops.flush(info.fh)
        await fs.ops.release(info.fh)
        await fs.write(f"{appresult}/{control}", b"yes\n")
        assert (await fs.read(f"{appresult}/.status")).decode().strip() == status
        late = fs.ops.create(files, b"late.txt", 0o644, os.O_WRONLY | os.O_CREAT, CTX)
        assert await fs.errno_of(late) == errno.EROFS


@pytest.mark.expect_log_warnings(r"uid \d+ may not write here: only the mounting user may")
async def test_only_the_mounting_user_creates_files(fs: FS) -> None:
    base = await _appresults(fs)
    await fs.ops.mkdir(await fs.ino(base), b"Mine", 0o755, CTX)
    files = await fs.ino(f"{base}/Mine/Files")
    other = Context(uid=os.getuid() + 1000)
    create = fs.ops.create(files, b"theirs.txt", 0o644, os.O_WRONLY | os.O_CREAT, other)
    assert await fs.errno_of(create) == errno.EACCES
    assert await fs.errno_of(fs.ops.mkdir(files, b"d", 0o755, other)) == errno.EACCES
