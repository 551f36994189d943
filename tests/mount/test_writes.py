"""Writing through a real mount (docs/writing.md): every writer a user would try produces the
right file, read back through the mount and straight from the emulator's API; what BaseSpace
cannot follow fails with its errno, the reason in ``.error``, and the server unchanged.

The module's emulator takes 64 KiB parts and the mount sends 1 MiB parts, so multipart uploads
happen with small files.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
import random
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulator_proc import EmulatorProcess
from tests.mount.apiwalk import complete, direct_md5, items
from tests.mount.mounting import SMALL_PARTS, Mount, demo_with_mount

PROJECT = "20000001"
MiB = 1 << 20
pytestmark = pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.tree\.oddities: odd entries from the server in .*name\(s\) changed",
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, Mount]]:
    base = tmp_path_factory.mktemp("writes")
    with demo_with_mount(
        base, *SMALL_PARTS, "--cache-dir", str(base / "cache"), min_part_size=64 * 1024
    ) as both:
        yield both


def _project(m: Mount) -> Path:
    return m.path / "Projects" / os.readlink(m.path / "Projects" / f".id.{PROJECT}")


def _new_appresult(m: Mount, name: str) -> Path:
    appresult = _project(m) / "AppResults" / name
    os.mkdir(appresult)
    return appresult


def _server_files(emu: EmulatorProcess, appresult: Path) -> dict[str, dict[str, Any]]:
    appresult_id = (appresult / ".id").read_text().strip()
    files = complete(items(emu, f"v1pre3/appresults/{appresult_id}/files"))
    return {f["Path"]: f for f in files}


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _check_server(emu: EmulatorProcess, appresult: Path, expected: dict[str, bytes]) -> None:
    """Every expected path is on the server, complete, with these bytes (and nothing else)."""
    server = _server_files(emu, appresult)
    assert set(server) == set(expected), (sorted(server), sorted(expected))
    for path, data in expected.items():
        assert server[path]["Size"] == len(data), path
        assert direct_md5(emu, server[path]["Id"]) == _md5(data), path


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_mkdir_appresult_and_every_simple_writer(
    setup: tuple[EmulatorProcess, Mount], tmp_path: Path
) -> None:
    emu, m = setup
    appresult = _new_appresult(m, "Writers")
    assert {".complete", ".abort", ".status", "Files"} <= set(os.listdir(appresult))
    assert (appresult / ".status").read_text().strip() == "Running"
    files = appresult / "Files"
    big = os.urandom(3 * MiB + 12345)  # three full parts and a short one
    (tmp_path / "big.bin").write_bytes(big)
    subprocess.run(["cp", str(tmp_path / "big.bin"), str(files / "cp.bin")], check=True)
    subprocess.run(["bash", "-c", f"echo 'hello BaseSpace' > '{files}/redirect.txt'"], check=True)
    subprocess.run(
        ["bash", "-c", f"printf 'one\\ntwo\\n' | tee '{files}/tee.txt' >/dev/null"], check=True
    )
    subprocess.run(
        ["dd", f"if={tmp_path / 'big.bin'}", f"of={files / 'dd.bin'}", "bs=1M", "status=none"],
        check=True,
    )
    with open(files / "python.bin", "wb") as out:
        for start in range(0, len(big), 100_000):
            out.write(big[start : start + 100_000])
    subprocess.run(["touch", str(files / "empty.txt")], check=True)
    text = b"".join(b"line %d\n" % i for i in range(50_000))
    subprocess.run(["bash", "-c", f"gzip -c > '{files}/stream.gz'"], input=text, check=True)
    expected = {
        "cp.bin": big,
        "redirect.txt": b"hello BaseSpace\n",
        "tee.txt": b"one\ntwo\n",
        "dd.bin": big,
        "python.bin": big,
        "empty.txt": b"",
    }
    for name, data in expected.items():
        assert (files / name).read_bytes() == data, name  # read back through the mount
        assert os.stat(files / name).st_size == len(data), name
    assert gzip.decompress((files / "stream.gz").read_bytes()) == text
    expected["stream.gz"] = (files / "stream.gz").read_bytes()
    _check_server(emu, appresult, expected)
    assert json.loads((m.path / ".bsmount" / "uploads").read_text())["in_flight"] == []


def test_cp_r_rsync_and_tar_trees(setup: tuple[EmulatorProcess, Mount], tmp_path: Path) -> None:
    emu, m = setup
    source = tmp_path / "src"
    for i in range(40):
        path = source / f"d{i % 3}" / ("deep" if i % 2 else "") / f"f{i:03}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(100 + i * 997))
    (source / "large.bin").write_bytes(os.urandom(2 * MiB + 7))
    want = _tree(source)

    copied = _new_appresult(m, "CopyR")
    since = emu.requests()[-1]["index"] + 1
    subprocess.run(["cp", "-r", f"{source}/.", str(copied / "Files")], check=True)
    listings = [
        r for r in emu.requests(since) if r["method"] == "GET" and r["path"].endswith("/files")
    ]
    assert len(listings) <= 1  # new directories are not listed from the server (6 made here)
    assert _tree(copied / "Files") == want
    _check_server(emu, copied, want)

    synced = _new_appresult(m, "Rsync")
    out = subprocess.run(
        ["rsync", "-a", f"{source}/", str(synced / "Files") + "/"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr  # temp names, rename, chmod and utimes all accepted
    assert _tree(synced / "Files") == want
    _check_server(emu, synced, want)

    inplace = _new_appresult(m, "RsyncInplace")
    out = subprocess.run(
        ["rsync", "-r", "--inplace", f"{source}/", str(inplace / "Files") + "/"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    _check_server(emu, inplace, want)

    archive = tmp_path / "tree.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(source, arcname=".")
    untarred = _new_appresult(m, "Tar")
    out = subprocess.run(
        ["tar", "-xf", str(archive), "-C", str(untarred / "Files")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    _check_server(emu, untarred, want)


@pytest.mark.tools
def test_samtools_and_bgzip_write_into_the_mount(
    setup: tuple[EmulatorProcess, Mount], tmp_path: Path
) -> None:
    emu, m = setup
    bams = list(_project(m).glob("AppResults/*/Files/**/*.bam"))
    assert bams, "the demo has a BAM"
    appresult = _new_appresult(m, "Tools")
    files = appresult / "Files"
    subprocess.run(
        ["samtools", "view", "-b", "-o", str(files / "copy.bam"), str(bams[0])], check=True
    )
    vcfs = list(_project(m).glob("AppResults/*/Files/**/*.vcf.gz"))
    assert vcfs
    subprocess.run(
        ["bash", "-c", f"zcat '{vcfs[0]}' | bgzip -c > '{files}/copy.vcf.gz'"], check=True
    )
    count = subprocess.run(
        ["samtools", "view", "-c", str(files / "copy.bam")], capture_output=True, text=True
    )
    original = subprocess.run(
        ["samtools", "view", "-c", str(bams[0])], capture_output=True, text=True
    )
    assert count.stdout == original.stdout and int(count.stdout) > 0
    header = subprocess.run(["bcftools", "view", "-h", str(files / "copy.vcf.gz")], check=True)
    assert header.returncode == 0
    server = _server_files(emu, appresult)
    assert set(server) == {"copy.bam", "copy.vcf.gz"}
    assert direct_md5(emu, server["copy.bam"]["Id"]) == _md5((files / "copy.bam").read_bytes())


@pytest.mark.expect_log_warnings(
    r"refused in .*: .*(only an appresult's Files/ accepts|cannot be overwritten|is a BaseSpace "
    r"file|cannot be renamed|uploads are sequential|files can only be added while|write exactly)",
    r"-> (EROFS|EEXIST|EPERM|EINVAL): ",
    r"flush\(\d+\) -> EIO: seeky\.bin: upload failed: .*uploads are sequential",
    r"WARNING bsmount\.upload\.transfer: .*",
)
def test_what_basespace_cannot_follow(setup: tuple[EmulatorProcess, Mount], tmp_path: Path) -> None:
    emu, m = setup
    samples = list((_project(m) / "Samples").iterdir())
    sample_files = next(p for p in samples if p.is_dir()) / "Files"
    with pytest.raises(OSError) as info:
        (sample_files / "new.txt").write_text("x")
    assert info.value.errno == errno.EROFS
    assert "only an appresult's Files/" in (sample_files / ".error").read_text()

    appresult = _new_appresult(m, "Refusals")
    files = appresult / "Files"
    (files / "kept.txt").write_text("kept\n")
    with pytest.raises(OSError) as info:
        (files / "kept.txt").write_text("changed\n")  # overwrite
    assert info.value.errno in (errno.EPERM, errno.EEXIST)
    with pytest.raises(OSError) as info:
        os.unlink(files / "kept.txt")
    assert info.value.errno == errno.EPERM
    with pytest.raises(OSError) as info:
        os.rename(files / "kept.txt", files / "moved.txt")
    assert info.value.errno == errno.EPERM
    assert "cannot be renamed" in (files / ".error").read_text()

    fd = os.open(files / "seeky.bin", os.O_WRONLY | os.O_CREAT)
    try:
        os.write(fd, b"a" * 1000)
        with pytest.raises(OSError) as info:
            os.pwrite(fd, b"b", 10)  # a write back into the file
        assert info.value.errno == errno.EINVAL
    finally:
        with pytest.raises(OSError):
            os.close(fd)  # the upload was abandoned: close reports it
    assert "uploads are sequential" in (files / ".error").read_text()

    (files / "scratch.txt").write_text("x")  # committed at close; a local one can be removed:
    fd = os.open(files / "gone.txt", os.O_WRONLY | os.O_CREAT)
    os.write(fd, b"never published")
    os.unlink(files / "gone.txt")
    os.close(fd)
    assert "gone.txt" not in os.listdir(files)

    assert subprocess.run(["bash", "-c", f"echo no > '{appresult}/.complete'"]).returncode != 0
    subprocess.run(["bash", "-c", f"echo yes > '{appresult}/.complete'"], check=True)
    assert (appresult / ".status").read_text().strip() == "Complete"
    with pytest.raises(OSError) as info:
        (files / "late.txt").write_text("late")
    assert info.value.errno == errno.EROFS
    _check_server(emu, appresult, {"kept.txt": b"kept\n", "scratch.txt": b"x"})
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_rsync_of_200_small_files_and_a_200_mib_file(
    setup: tuple[EmulatorProcess, Mount], tmp_path: Path
) -> None:
    emu, m = setup
    source = tmp_path / "run"
    for i in range(200):
        path = source / f"lane{i % 4}" / f"tile_{i:04}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(1000 + i))
    big = source / "big.bin"
    with open(big, "wb") as out:
        for _ in range(200):
            out.write(os.urandom(MiB))
    free = os.statvfs(m.path)
    assert free.f_bavail * free.f_frsize > 0  # df shows room: tools that check go ahead
    target = _new_appresult(m, "Rsync200")
    out = subprocess.run(
        ["rsync", "-a", f"{source}/", str(target / "Files") + "/"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    server = _server_files(emu, target)
    assert len(server) == 201
    big_md5 = hashlib.md5(big.read_bytes()).hexdigest()
    assert server["big.bin"]["Size"] == 200 * MiB
    assert direct_md5(emu, server["big.bin"]["Id"]) == big_md5
    assert server["big.bin"]["ETag"].endswith("-200")  # 1 MiB parts
    for path in (source / "lane3").iterdir():
        entry = server[f"lane3/{path.name}"]
        assert direct_md5(emu, entry["Id"]) == _md5(path.read_bytes())
    # a fresh look through the mount (new listing) gives the same bytes
    subprocess.run(["bash", "-c", f"echo > '{target}/Files/.refresh'"], check=True)
    through = subprocess.run(
        ["md5sum", str(target / "Files" / "big.bin")], capture_output=True, text=True, check=True
    )
    assert through.stdout.split()[0] == big_md5


def _fastq(reads: int, length: int, seed: int) -> bytes:
    rng = random.Random(seed)
    records = []
    for i in range(reads):
        bases = "".join(rng.choice("ACGT") for _ in range(length - i % 7))
        records.append(f"@read{i} 1:N:0:1\n{bases}\n+\n{'I' * len(bases)}\n")
    return gzip.compress("".join(records).encode())


def test_fastq_copied_into_samples_become_a_sample(
    setup: tuple[EmulatorProcess, Mount], tmp_path: Path
) -> None:
    emu, m = setup
    r1, r2 = _fastq(500, 100, 1), _fastq(500, 100, 2)
    (tmp_path / "Tumor9_S3_L001_R1_001.fastq.gz").write_bytes(r1)
    (tmp_path / "Tumor9_S3_L001_R2_001.fastq.gz").write_bytes(r2)
    samples = _project(m) / "Samples"
    subprocess.run(["bash", "-c", f"cp '{tmp_path}'/Tumor9_*.fastq.gz '{samples}/'"], check=True)
    sample = samples / "Tumor9"
    assert sorted(os.listdir(sample / "Files")) == [
        ".error",
        ".refresh",
        "Tumor9_S3_L001_R1_001.fastq.gz",
        "Tumor9_S3_L001_R2_001.fastq.gz",
    ]
    assert (sample / "Files" / "Tumor9_S3_L001_R2_001.fastq.gz").read_bytes() == r2
    sample_id = (sample / ".id").read_text().strip()
    body = emu.api(f"v1pre3/samples/{sample_id}")["Response"]
    assert body["NumReadsRaw"] == 500 and body["Read1"] == 100 and body["SampleNumber"] == 3
    server = {f["Name"]: f for f in complete(items(emu, f"v1pre3/samples/{sample_id}/files"))}
    assert direct_md5(emu, server["Tumor9_S3_L001_R1_001.fastq.gz"]["Id"]) == _md5(r1)

    synced = tmp_path / "rsync"
    synced.mkdir()
    (synced / "Normal9_S4_R1_001.fastq.gz").write_bytes(r1)
    out = subprocess.run(
        ["rsync", "-a", f"{synced}/", f"{samples}/"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr  # a temporary name, then renamed: checked then
    assert (samples / "Normal9" / "Files" / "Normal9_S4_R1_001.fastq.gz").read_bytes() == r1


@pytest.mark.expect_log_warnings(
    r"refused in 'Projects/\d+/Samples': .*(Illumina's convention|not a valid gzip|is not FASTQ"
    r"|paired files must hold the same reads)",
    r"-> EINVAL: ",
    r"WARNING bsmount\.upload\.transfer: .*",
)
def test_fastq_checks(setup: tuple[EmulatorProcess, Mount], tmp_path: Path) -> None:
    _emu, m = setup
    samples = _project(m) / "Samples"
    before = set(os.listdir(samples))
    with pytest.raises(OSError) as info:
        (samples / "notes.txt").write_text("x")
    assert info.value.errno == errno.EINVAL
    assert "Illumina's convention" in (samples / ".error").read_text()
    with pytest.raises(OSError) as info:
        (samples / "Bad1_S1_R1_001.fastq.gz").write_bytes(b"not gzip at all\n" * 100)
    assert info.value.errno == errno.EINVAL
    assert "not a valid gzip" in (samples / ".error").read_text()
    with pytest.raises(OSError) as info:
        (samples / "Bad2_S1_R1_001.fastq.gz").write_bytes(gzip.compress(b"hello\nworld\n" * 4))
    assert info.value.errno == errno.EINVAL
    (samples / "Pair9_S5_R1_001.fastq.gz").write_bytes(_fastq(300, 50, 3))
    with pytest.raises(OSError) as info:
        (samples / "Pair9_S5_R2_001.fastq.gz").write_bytes(_fastq(299, 50, 4))
    assert info.value.errno == errno.EINVAL
    assert "paired files must hold the same reads" in (samples / ".error").read_text()
    assert set(os.listdir(samples)) - before == {
        "Pair9",
        ".id.{}".format((samples / "Pair9" / ".id").read_text().strip()),
    }
    files = os.listdir(samples / "Pair9" / "Files")
    assert "Pair9_S5_R2_001.fastq.gz" not in files and "Pair9_S5_R1_001.fastq.gz" in files


def test_a_fresh_mount_reads_what_was_written(
    setup: tuple[EmulatorProcess, Mount], tmp_path: Path
) -> None:
    """Files written through the first mount, read by a new one: the server's bytes."""
    emu, m = setup
    appresult = _new_appresult(m, "ReadBack")
    data = os.urandom(2 * MiB + 3)
    (appresult / "Files" / "x.bin").write_bytes(data)
    (appresult / "Files" / "y.txt").write_text("why\n")
    other = Mount(emu.url, emu.token, tmp_path / "mnt2", tmp_path / "mount2.log").start()
    try:
        project = other.path / "Projects" / os.readlink(other.path / "Projects" / f".id.{PROJECT}")
        files = project / "AppResults" / "ReadBack" / "Files"
        assert (files / "x.bin").read_bytes() == data
        assert (files / "y.txt").read_text() == "why\n"
    finally:
        other.stop()


@pytest.mark.expect_log_warnings(
    r"create 'y+' refused in .*: name of 256 bytes \(at most 255\)",
    r"create\(.*\) -> ENAMETOOLONG: name of 256 bytes",
)
def test_names_hold_both_ways(setup: tuple[EmulatorProcess, Mount]) -> None:
    """Unicode, spaces and a 255-byte name go up as written and come back the same."""
    emu, m = setup
    appresult = _new_appresult(m, "Names")
    long_name = "é" * 100 + "x" * 51 + ".txt"  # 255 bytes in UTF-8
    assert len(long_name.encode()) == 255
    names = ["Échantillon α (2) r1.txt", "with  spaces & 'quotes'.txt", long_name]
    for name in names:
        (appresult / "Files" / name).write_text(name)
    assert set(names) <= set(os.listdir(appresult / "Files"))
    server = _server_files(emu, appresult)
    assert set(server) == set(names)
    subprocess.run(["bash", "-c", f"echo > '{appresult}/Files/.refresh'"], check=True)
    for name in names:
        assert (appresult / "Files" / name).read_text() == name
    with pytest.raises(OSError) as info:
        (appresult / "Files" / ("y" * 256)).write_text("too long")
    assert info.value.errno == errno.ENAMETOOLONG
