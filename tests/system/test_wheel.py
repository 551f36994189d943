"""A wheel from a fresh checkout, installed into a fresh venv, gives working commands.

The committed tree is unpacked into a temporary directory (``git archive HEAD``: what a fresh
clone holds, no ``.venv``, no ``*.egg-info``, no uncommitted change) and built with ``pip wheel
--no-build-isolation`` (the venv's setuptools, so no network). The wheel is installed with
``--no-deps --no-index`` into a venv made ``--without-pip``, whose dependencies come from this
project venv's site-packages through a ``.pth`` line (plain paths: the editable install there is
not activated, so ``bsmount`` can only come from the wheel). Then ``bsmount --version``,
``bsmount emulator`` and a mount against it, ``ls`` and ``bsmount unmount``, all with the new
venv's scripts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

import bsmount
from tests import logcheck
from tests.emulator_proc import _read_line
from tests.mount.mounting import DEMO_ODD_NAMES, fuse_skip_reason

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [DEMO_ODD_NAMES]


def _run(*cmd: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run outside the checkout: ``python -c`` there would import bsmount from it."""
    done = subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd="/",
        env=env,
    )
    assert done.returncode == 0, f"{cmd}: {done.stdout}\n{done.stderr}"
    return done


def _fresh_checkout(dest: Path) -> Path:
    """The committed tree (``git archive HEAD``), as a fresh clone has it."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout")
    base = tmp_path_factory.mktemp("wheel")
    src = _fresh_checkout(base / "src")
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", base / "dist", src)  # fmt: skip
    wheels = list((base / "dist").glob("bsmount-*.whl"))
    assert [w.name for w in wheels] == [f"bsmount-{bsmount.__version__}-py3-none-any.whl"]
    venv = base / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    purelib = _run(
        venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    ).stdout.strip()
    Path(purelib, "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q",
         "--no-deps", "--no-index", wheels[0])  # fmt: skip
    yield venv, base


def test_wheel_commands(wheel_venv: tuple[Path, Path]) -> None:
    venv, _base = wheel_venv
    bin_dir = venv / "bin"
    assert _run(bin_dir / "bsmount", "--version").stdout == f"bsmount {bsmount.__version__}\n"
    where = _run(bin_dir / "python", "-c", "import bsmount; print(bsmount.__file__)").stdout
    assert where.startswith(str(venv)), where
    assert (bin_dir / "mount.fuse.bsmount").exists()
    assert "usage: mount.fuse.bsmount" in _run(bin_dir / "mount.fuse.bsmount", "--help").stdout
    assert "--cache-size MIB" in _run(bin_dir / "bsmount", "mount", "--help").stdout


@pytest.mark.mount
@pytest.mark.skipif(fuse_skip_reason() is not None, reason=str(fuse_skip_reason()))
def test_wheel_emulator_and_mount(wheel_venv: tuple[Path, Path]) -> None:
    venv, base = wheel_venv
    bsmount_cmd = str(venv / "bin" / "bsmount")
    emulator = subprocess.Popen(
        [bsmount_cmd, "emulator", "--port", "0", "--seed", "demo"],
        cwd="/",
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    mnt = base / "BaseSpace"
    mnt.mkdir(exist_ok=True)
    log = base / "mount.log"
    watch = logcheck.watch(log)
    try:
        url = _read_line(emulator.stdout, 120)
        token = _read_line(emulator.stdout, 10)
        assert url and token, "the wheel's emulator did not start"
        env = {**os.environ, "BASESPACE_API_SERVER": url, "BASESPACE_ACCESS_TOKEN": token}
        out = _run(bsmount_cmd, "mount", mnt, "--log-file", log, env=env).stdout
        assert out.startswith(f"bsmount: mounted {mnt}")
        pid = int(out.split("(pid ")[1].split(",")[0])
        exe = os.readlink(f"/proc/{pid}/exe")
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[0].decode() == str(venv / "bin" / "python"), (exe, cmdline)
        assert "Demo: Myeloid DNA Panel (MiSeq, 2x151)" in os.listdir(mnt / "Projects")
        assert "bsmount " + bsmount.__version__ in (mnt / ".bsmount" / "version").read_text()
        _run(bsmount_cmd, "unmount", mnt)
        assert not os.path.ismount(mnt)
    finally:
        if os.path.ismount(mnt):
            subprocess.run(["fusermount3", "-u", "-z", str(mnt)], check=False)
        emulator.terminate()
        emulator.wait(timeout=30)
        if emulator.stdout is not None:
            emulator.stdout.close()
        logcheck.unwatch(watch)
