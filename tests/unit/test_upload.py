"""The write engine without a server or a kernel: FileUpload over a fake API that records the
calls, with a real spool on disk."""

from __future__ import annotations

import errno
import hashlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from bsmount.api.uploads import multipart_etag
from bsmount.errors import ControlError
from bsmount.upload.journal import Journal
from bsmount.upload.manager import UploadManager
from bsmount.upload.spool import SpoolDir
from bsmount.upload.transfer import Destination, UploadState

PART = 1000


class FakeApi:
    """Answers the upload routes like the service: parts kept, ETags computed."""

    def __init__(self, *, wrong_etag_for: int | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.parts: dict[int, bytes] = {}
        self.wrong_etag_for = wrong_etag_for
        self.aborted = False

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: Any = None,
        **_: Any,
    ) -> Any:
        self.calls.append((method, path))
        params = params or {}
        if method == "PUT":
            number = int(path.rsplit("/", 1)[1])
            data = b"".join([chunk async for chunk in content()])
            self.parts[number] = data
            etag = hashlib.md5(data).hexdigest()
            if number == self.wrong_etag_for:
                etag = "0" * 32
            return {"Response": {"Number": number, "ETag": etag, "Size": len(data)}}
        if path.startswith("v1pre3/appresults/") and params.get("multipart") == "true":
            return {"Response": {"Id": "f1", "Name": params["name"], "UploadStatus": "pending"}}
        if path.startswith("v1pre3/appresults/"):
            data = bytes(content)
            return {
                "Response": {
                    "Id": "f2",
                    "Name": params["name"],
                    "Size": len(data),
                    "ETag": hashlib.md5(data).hexdigest(),
                    "UploadStatus": "complete",
                }
            }
        if params.get("uploadstatus") == "aborted":
            self.aborted = True
            return {"Response": {"Id": "f1", "UploadStatus": "aborted"}}
        digests = [hashlib.md5(self.parts[n]).digest() for n in sorted(self.parts)]
        size = sum(len(p) for p in self.parts.values())
        return {
            "Response": {
                "Id": "f1",
                "Size": size,
                "ETag": multipart_etag(digests),
                "UploadStatus": "complete",
            }
        }


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[tuple[UploadManager, FakeApi]]:
    api = FakeApi()
    spool = SpoolDir(tmp_path / "spool", 1 << 20)
    spool.prepare()
    async with trio.open_nursery() as nursery:
        yield (
            UploadManager(api, nursery, spool, Journal(tmp_path / "journal"), part_size=PART),
            api,
        )
        nursery.cancel_scope.cancel()


async def test_small_files_go_in_one_request(manager: tuple[UploadManager, FakeApi]) -> None:
    uploads, api = manager
    upload = await uploads.open(Destination("7", "dir", "a.txt"))
    await upload.write(0, b"x" * 10)
    result = await upload.commit()
    assert result.size == 10 and upload.state is UploadState.COMMITTED
    assert api.calls == [("POST", "v1pre3/appresults/7/files")]
    assert not upload.spool.open  # the spool is dropped once BaseSpace has the file


async def test_parts_stream_while_writing(
    manager: tuple[UploadManager, FakeApi], tmp_path: Path
) -> None:
    uploads, api = manager
    upload = await uploads.open(Destination("7", "", "big.bin"))
    data = bytes(range(256)) * 12  # 3072 bytes: three full parts and a short one
    await upload.write(0, data[:2500])
    with trio.fail_after(5):
        while len(api.parts) < 2:  # full parts leave before close
            await trio.sleep(0.01)
    assert sorted(api.parts) == [1, 2]
    assert len(list((tmp_path / "journal").glob("*.json"))) == 1
    await upload.write(2500, data[2500:])
    result = await upload.commit()
    assert b"".join(api.parts[n] for n in sorted(api.parts)) == data
    assert result.etag and result.etag.endswith("-4")
    assert list((tmp_path / "journal").glob("*.json")) == []


async def test_a_write_elsewhere_abandons_the_upload(
    manager: tuple[UploadManager, FakeApi],
) -> None:
    uploads, api = manager
    upload = await uploads.open(Destination("7", "", "seek.bin"))
    await upload.write(0, b"a" * 2500)
    await trio.testing.wait_all_tasks_blocked()
    with pytest.raises(ControlError) as info:
        await upload.write(10, b"b")
    assert info.value.errno == errno.EINVAL
    assert upload.state is UploadState.FAILED and api.aborted
    with pytest.raises(ControlError) as info:
        await upload.write(2500, b"c")
    assert info.value.errno == errno.EIO


async def test_files_over_10000_parts_are_refused(
    manager: tuple[UploadManager, FakeApi],
) -> None:
    uploads, _api = manager
    upload = await uploads.open(Destination("7", "", "huge.bin"))
    upload.part_size = 1  # 10,000 parts of one byte
    await upload.write(0, b"x" * 9_999)
    with pytest.raises(ControlError) as info:
        await upload.write(9_999, b"yy")
    assert info.value.errno == errno.EFBIG


@pytest.mark.expect_log_warnings(r"part 2 failed: .*acknowledged ETag")
async def test_a_wrong_part_etag_fails_the_upload(tmp_path: Path) -> None:
    api = FakeApi(wrong_etag_for=2)
    spool = SpoolDir(tmp_path / "spool", 1 << 20)
    spool.prepare()
    async with trio.open_nursery() as nursery:
        uploads = UploadManager(api, nursery, spool, Journal(tmp_path / "j"), part_size=PART)
        upload = await uploads.open(Destination("7", "", "x.bin"))
        await upload.write(0, b"z" * 3000)
        with pytest.raises(Exception, match="ETag"):
            await upload.commit()
        assert upload.state is UploadState.FAILED and api.aborted
        assert uploads.statistics()["files_failed"] == 1
        nursery.cancel_scope.cancel()


async def test_dot_files_wait_for_their_rename(manager: tuple[UploadManager, FakeApi]) -> None:
    uploads, api = manager
    upload = await uploads.open(Destination("7", "", ".x.AbCdEf"))
    await upload.write(0, b"q" * 2500)
    await trio.testing.wait_all_tasks_blocked()
    assert api.calls == []  # rsync's temporary file: nothing sent under that name
    await upload.rename(Destination("7", "", "x"))
    await upload.commit()
    assert ("POST", "v1pre3/appresults/7/files") in api.calls and len(api.parts) == 3


def test_the_spool_is_private(tmp_path: Path) -> None:
    spool = SpoolDir(tmp_path / "spool", 1)
    spool.prepare()
    assert oct((tmp_path / "spool").stat().st_mode & 0o777) == "0o700"


async def test_small_files_stay_in_memory_big_ones_spill(tmp_path: Path) -> None:
    spool_dir = SpoolDir(tmp_path / "spool", 64 << 20)
    spool_dir.prepare()
    small = spool_dir.create()
    await small.append(b"a" * 1000)
    assert list((tmp_path / "spool").iterdir()) == []  # no file, no worker-thread hop
    assert await small.read(10, 5) == b"aaaaa"
    big = spool_dir.create()
    await big.append(b"b" * (1 << 20))
    await big.append(b"c" * 10)  # past the memory limit: everything moves to disk
    on_disk = list((tmp_path / "spool").iterdir())
    assert len(on_disk) == 1 and on_disk[0].stat().st_size == (1 << 20) + 10
    assert oct(on_disk[0].stat().st_mode & 0o777) == "0o600"
    assert await big.read((1 << 20) - 2, 4) == b"bbcc"
    await big.drop()
    await small.drop()
    assert list((tmp_path / "spool").iterdir()) == [] and spool_dir.used == 0
