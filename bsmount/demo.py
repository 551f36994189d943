"""``make demo`` / ``make demo-stop``: the emulator with demo data, mounted at ``./BaseSpace``.

``python -m bsmount.demo start`` starts ``bsmount emulator --seed demo`` in the background (its
URL and token are read from its first output lines), mounts it at ``./BaseSpace`` with
``bsmount mount``, and prints commands to try. Running it twice is harmless: a live demo is
reported, a dead one is cleaned up and started again. ``stop`` unmounts and stops the emulator.
State lives in ``./.demo/`` (pid, URL, token file mode 0600, logs).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["main"]

STATE = Path(".demo")
MOUNTPOINT = Path("BaseSpace")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _read_state() -> tuple[int, str, str] | None:
    try:
        pid = int((STATE / "emulator.pid").read_text())
        url = (STATE / "url").read_text().strip()
        token = (STATE / "token").read_text().strip()
    except (OSError, ValueError):
        return None
    return pid, url, token


def _start_emulator() -> tuple[int, str, str]:
    STATE.mkdir(mode=0o700, exist_ok=True)
    out_path = STATE / "emulator.out"
    with open(out_path, "wb") as out, open(STATE / "emulator.log", "ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bsmount", "emulator", "--port", "0", "--seed", "demo"],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        lines = out_path.read_text(errors="replace").splitlines()
        if len(lines) >= 2:
            url = lines[0].strip()
            token = lines[1].split()[-1].strip()
            (STATE / "emulator.pid").write_text(str(proc.pid))
            (STATE / "url").write_text(url + "\n")
            token_file = STATE / "token"
            token_file.write_text(token + "\n")
            token_file.chmod(0o600)
            return proc.pid, url, token
        if proc.poll() is not None:
            raise SystemExit(f"the emulator exited ({proc.returncode}); see {STATE}/emulator.log")
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the emulator did not start within 300 s")


def _mount(url: str, token: str) -> None:
    MOUNTPOINT.mkdir(exist_ok=True)
    env = dict(os.environ, BASESPACE_API_SERVER=url, BASESPACE_ACCESS_TOKEN=token)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bsmount",
            "mount",
            str(MOUNTPOINT),
            "--log-file",
            str(STATE / "mount.log"),
        ],
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(result.returncode)


def _first(pattern: str) -> str:
    """The first match of ``pattern`` in the mount, skipping hidden entries (.id links...)."""
    found = sorted(
        path
        for path in MOUNTPOINT.glob(pattern)
        if not any(part.startswith(".") for part in path.relative_to(MOUNTPOINT).parts)
    )
    return str(found[0]) if found else f"{MOUNTPOINT}/{pattern}"


def _try_these(url: str) -> None:
    bam = _first("Projects/*/AppResults/*/Files/*.bam")
    vcf = _first("Projects/*/AppResults/*/Files/*.vcf.gz")
    fastq = _first("Projects/*/Samples/*/Files/*_R1_*.fastq.gz")
    project = _first("Projects/*")
    app = f"{MOUNTPOINT}/Applications/BWA Aligner"
    # the aligner runs on the sample of that FASTQ; .launch takes paths from the mount's root
    sample_dir = Path(fastq).parents[1]
    in_sample = (
        str(sample_dir.relative_to(MOUNTPOINT)) if sample_dir.is_dir() else "Projects/P/Samples/S"
    )
    in_project = str(Path(in_sample).parents[1])
    print(
        f"""
bsmount demo: the emulator runs at {url} and is mounted at ./{MOUNTPOINT}
token: in .demo/token (export BASESPACE_ACCESS_TOKEN=$(cat .demo/token))

Try:
  ls -la {MOUNTPOINT}/Projects
  ls {MOUNTPOINT}/Runs/*/Files
  samtools view -H '{bam}' | head
  samtools view -c '{bam}' chr1:100000-110000
  bcftools view -H -r chr1:1-500000 '{vcf}' | head -3
  zcat '{fastq}' | head -8
  cat '{project}/.json'
  curl -s -H "x-access-token: $(cat .demo/token)" {url}/v1pre3/users/current/projects

Write (docs/writing.md):
  mkdir '{project}/AppResults/My results'
  samtools view -b -o '{project}/AppResults/My results/Files/region.bam' '{bam}' chr1:1-500000
  cp -r ~/some/dir '{project}/AppResults/My results/Files/'
  cat {MOUNTPOINT}/.bsmount/uploads
  echo yes > '{project}/AppResults/My results/.complete'
  cp '{fastq}' '{project}/Samples/'   # a FASTQ file becomes a new Sample

Launch an analysis (docs/applications.md):
  cat '{app}/.form'
  printf 'project-id={in_project}\\nsample-id={in_sample}\\n' > '{app}/.launch'
  cat '{app}/.launch'   # id=... path=AppSessions/<name>
  ls {MOUNTPOINT}/AppSessions/.status/Running/
  tail -f {MOUNTPOINT}/AppSessions/<name>/Logs/*; cat {MOUNTPOINT}/AppSessions/<name>/.await

Stop with: make demo-stop"""
    )


def start() -> int:
    state = _read_state()
    if state and _alive(state[0]) and os.path.ismount(MOUNTPOINT):
        print("bsmount demo is already running.")
        _try_these(state[1])
        return 0
    stop(quiet=True)
    _pid, url, token = _start_emulator()
    _mount(url, token)
    _try_these(url)
    return 0


def stop(quiet: bool = False) -> int:
    if os.path.ismount(MOUNTPOINT) or _dead_mount():
        subprocess.run(
            [sys.executable, "-m", "bsmount", "unmount", str(MOUNTPOINT)],
            check=False,
            capture_output=quiet,
        )
    state = _read_state()
    if state and _alive(state[0]):
        os.killpg(state[0], signal.SIGTERM)
        for _ in range(50):
            if not _alive(state[0]):
                break
            time.sleep(0.1)
    for name in ("emulator.pid", "url", "token"):
        (STATE / name).unlink(missing_ok=True)
    if not quiet:
        print("bsmount demo stopped.")
    return 0


def _dead_mount() -> bool:
    try:
        os.stat(MOUNTPOINT)
    except OSError as exc:
        return exc.errno == 107  # ENOTCONN
    return False


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["start"]:
        return start()
    if args == ["stop"]:
        return stop()
    print("usage: python -m bsmount.demo start|stop", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
