"""A real bsmount mount in a subprocess, for the mount tests.

Mounts with ``python -m bsmount mount MNT --foreground`` (the token in the environment, as the
daemon does), waits until the kernel shows the mount while checking the process is alive, and
unmounts with ``fusermount3 -u`` — lazy unmount and kill only on the error path.

The mount's log file is watched by :mod:`tests.logcheck` from start to unmount: a WARNING, ERROR
or traceback in it fails the test during which it was written unless the test declared it
(``@pytest.mark.expect_log_warnings``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import logcheck
from tests.emulator_proc import EmulatorProcess

FUSERMOUNT = shutil.which("fusermount3") or "fusermount3"

#: The demo account's deliberately awkward names (``test_tree.py`` checks what they become): the
#: mount renames them and warns when it lists their directory, in whichever test does so first.
#: Modules that mount the demo declare this for all their tests.
DEMO_ODD_NAMES = pytest.mark.expect_log_warnings(
    r"odd entries from the server in .*: \d+ name\(s\) changed to be safe and unique"
    r" \('(RNA Amplicon 07/24/2018 1:39:05|Myeloid-DNA-Rep1|\.\.|Échantillon α)' -> "
)


def fuse_skip_reason() -> str | None:
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing"
    if shutil.which("fusermount3") is None:
        return "fusermount3 is not installed"
    try:
        fd = os.open("/dev/fuse", os.O_RDWR)
    except OSError as exc:
        return f"cannot open /dev/fuse: {exc}"
    os.close(fd)
    return None


def fuse_marker() -> pytest.MarkDecorator:
    reason = fuse_skip_reason()
    return pytest.mark.skip(reason=reason) if reason else pytest.mark.mount


class Mount:
    def __init__(
        self,
        url: str,
        token: str,
        mountpoint: Path,
        log_file: Path,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.url = url
        self.token = token
        self.path = mountpoint
        self.log_file = log_file
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None
        self._watch: logcheck.LogWatch | None = None

    def start(self, timeout: float = 60.0) -> Mount:
        self.path.mkdir(parents=True, exist_ok=True)
        self._watch = logcheck.watch(self.log_file)
        env = dict(os.environ, BASESPACE_API_SERVER=self.url, BASESPACE_ACCESS_TOKEN=self.token)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bsmount",
                "mount",
                str(self.path),
                "--foreground",
                "--log-file",
                str(self.log_file),
                *self.extra_args,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while not os.path.ismount(self.path):
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                raise RuntimeError(f"mount exited with {self.proc.returncode}: {out}\n{self.log()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"mount did not appear in {timeout} s\n{self.log()}")
            time.sleep(0.05)
        return self

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        """Clean unmount; asserts that it worked and the process exited 0."""
        assert self.proc is not None
        result = subprocess.run(
            [FUSERMOUNT, "-u", str(self.path)], capture_output=True, text=True, check=False
        )
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"mount did not exit after unmount: {result.stderr}") from None
        self._unwatch()
        assert result.returncode == 0, result.stderr
        assert not os.path.ismount(self.path)
        assert code == 0, f"mount exited {code}\n{self.log()[-3000:]}"

    def kill(self) -> None:
        subprocess.run([FUSERMOUNT, "-u", "-z", str(self.path)], capture_output=True, check=False)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self._unwatch()

    def _unwatch(self) -> None:
        """The log is complete: its last problem records wait for the next check."""
        if self._watch is not None:
            logcheck.unwatch(self._watch)
            self._watch = None


#: Mount options of the writing tests: 1 MiB parts (the emulator then takes 64 KiB ones).
SMALL_PARTS = ("--upload-part-size", "1")


@contextlib.contextmanager
def demo_with_mount(
    base: Path, *mount_args: str, min_part_size: int | None = None
) -> Iterator[tuple[EmulatorProcess, Mount]]:
    """A demo emulator of its own (its state may change) and a mount of it under ``base``;
    both stopped on the way out. ``min_part_size`` lowers the emulator's multipart minimum."""
    reason = fuse_skip_reason()
    if reason:
        pytest.skip(reason)
    emu = EmulatorProcess("demo", data_dir=os.environ.get("BSMOUNT_TEST_DATA_DIR") or None)
    try:
        if min_part_size is not None:
            emu.upload_config(min_part_size=min_part_size)
        m = Mount(emu.url, emu.token, base / "mnt", base / "mount.log", mount_args).start()
        try:
            yield emu, m
        finally:
            m.stop()
    finally:
        emu.stop()


def sh(m: Mount, script: str) -> str:
    """Run ``script`` with ``sh -e`` inside the mount; its output (a failure fails the test)."""
    done = subprocess.run(
        ["sh", "-ec", script], cwd=m.path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (script, done.stdout, done.stderr)
    return done.stdout
