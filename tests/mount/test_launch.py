"""Launching analyses through a real mount, with real tools: ``.launch`` written by the shell,
``cat .await``, ``samtools view -c`` of the aligner's BAM through the mount against the input
FASTQ's read count, the inputs in ``.properties`` and ``Inputs/``, refusals (EINVAL and
``.error``), ``tail -f`` of a growing log, ``AppSessions/.status/Running/``, and a launch whose
answer is lost sent only once (the emulator's request log)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bsmount.emulator.seeds.demo_apps import ALIGNER_ID
from tests.emulator_proc import EmulatorProcess
from tests.mount.mounting import DEMO_ODD_NAMES, Mount, demo_with_mount, sh

pytestmark = [DEMO_ODD_NAMES]

ALIGNER = f"Applications/.id.{ALIGNER_ID}"
PROJECT = "Projects/.id.20000001"
SAMPLE = f"{PROJECT}/Samples/.id.30000001"
LAUNCH_POST = f"/v1pre3/applications/{ALIGNER_ID}/appsessions"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, Mount]]:
    with demo_with_mount(tmp_path_factory.mktemp("launch")) as (emu, m):
        yield emu, m


def _timings(emu: EmulatorProcess, pending: float, run: float) -> None:
    emu.http.post(
        "/_emulator/launches/config", json={"pending_seconds": pending, "run_seconds": run}
    ).raise_for_status()


def _launched(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def _launch_posts(emu: EmulatorProcess) -> int:
    return sum(1 for r in emu.requests() if r["method"] == "POST" and r["path"] == LAUNCH_POST)


def test_align_the_demo_fastq_and_count_the_reads(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    if shutil.which("samtools") is None:
        pytest.skip("samtools is not installed")
    _timings(emu, 0.2, 1.5)
    out = sh(
        m,
        f"""
        cd {ALIGNER}
        echo "project-id={PROJECT}
        sample-id={SAMPLE}
        name=mount loop alignment" > .launch
        cat .launch
        """,
    )
    launched = _launched(out)
    assert launched["name"] == "mount loop alignment"
    session = launched["path"]
    assert session.startswith("AppSessions/") and launched["id"]
    final = json.loads(sh(m, f'cat "{session}/.await"'))
    assert final.get("ExecutionStatus", final.get("Status")) == "Complete"
    sh(m, f'echo 1 > "{session}/.refresh"')
    bams = sh(m, f'ls "{session}"/Outputs/*/Files/*.bam').splitlines()
    assert len(bams) == 1, bams
    reads_in_bam = int(sh(m, f'samtools view -c "{bams[0]}"'))
    fastq_lines = int(sh(m, f"zcat {SAMPLE}/Files/*.fastq.gz | wc -l"))
    assert reads_in_bam == fastq_lines // 4 > 0
    print(f"aligned through the mount: {reads_in_bam} reads in the BAM = FASTQ reads")
    assert sh(m, f'ls "{session}"/Outputs/*/Files/*.bam.bai').strip()
    # the inputs: the session's properties and Inputs/ (symlinks into .ResourceById)
    props = json.loads(sh(m, f'cat "{session}/.properties"'))
    assert props["Input.sample-id"][0]["id"] == "30000001"
    assert sh(m, f'readlink "{session}/Inputs/sample-id.1"').strip() == (
        "../../../.ResourceById/samples/30000001"
    )
    assert sh(m, f'cat "{session}/Inputs/sample-id.1/.id"').strip() == "30000001"
    assert sh(m, f'cat "{session}/Inputs/project-id/.id"').strip() == "20000001"


@pytest.mark.expect_log_warnings(
    r"write \.launch refused in 'Applications/6174178': unknown field nosuch",
    r"(write|flush)\(.*\) -> EINVAL: unknown field nosuch",
    r"write \.launch refused in 'Applications/6174178': required field missing: project-id",
    r"(write|flush)\(.*\) -> EINVAL: required field missing: project-id",
    r"write \.launch refused in 'Applications/6174178': HTTP 400 BASESPACE\.APPLICATIONS\.",
    r"(write|flush)\(.*\) -> EINVAL: HTTP 400 BASESPACE\.APPLICATIONS\.",
)
def test_a_bad_launch_is_einval_with_the_reason_in_error(
    setup: tuple[EmulatorProcess, Mount],
) -> None:
    emu, m = setup
    before = _launch_posts(emu)
    launch = m.path / ALIGNER / ".launch"
    with pytest.raises(OSError) as info:
        launch.write_text("project-id=20000001\nnosuch=1\n")
    assert info.value.errno == errno.EINVAL
    error = (m.path / ALIGNER / ".error").read_text()
    assert "unknown field nosuch" in error and "sample-id" in error
    assert _launch_posts(emu) == before  # refused before sending
    # field=value lines act at close: cp reports a refusal there (a shell's > does not)
    done = subprocess.run(
        ["sh", "-c", "printf 'sample-id:30000001\\n' | cp /dev/stdin .launch"],
        cwd=m.path / ALIGNER,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "Invalid argument" in done.stderr
    assert "required field missing: project-id" in (m.path / ALIGNER / ".error").read_text()
    # what only the server knows: a JSON body with a Type the form does not take
    body = {
        "Properties": [
            {"Name": "Input.project-id", "Type": "project", "Content": "v1pre3/projects/20000001"},
            {"Name": "Input.sample-id", "Type": "sample", "Content": "v1pre3/samples/30000001"},
        ]
    }
    with pytest.raises(OSError) as info:
        launch.write_text(json.dumps(body))
    assert info.value.errno == errno.EINVAL
    assert "BASESPACE.APPLICATIONS." in (m.path / ALIGNER / ".error").read_text()
    assert _launch_posts(emu) == before + 1


def test_tail_follows_a_growing_log_and_running_filter(
    setup: tuple[EmulatorProcess, Mount],
) -> None:
    emu, m = setup
    _timings(emu, 0.2, 6)
    launched = _launched(
        sh(
            m,
            f"printf 'project-id={PROJECT}\\nsample-id={SAMPLE}\\nname=tail me\\n' "
            f"> {ALIGNER}/.launch; cat {ALIGNER}/.launch",
        )
    )
    session = launched["path"]
    name = session.split("/", 1)[1]
    # AppSessions/.status/Running/ shows it once it runs (a refresh drops the cached list)
    deadline = time.monotonic() + 15
    while True:
        sh(m, "echo 1 > AppSessions/.refresh")
        running = sh(m, "ls AppSessions/.status/Running/").splitlines()
        if name in running:
            break
        assert time.monotonic() < deadline, running
        time.sleep(0.3)
    assert sh(m, f'readlink "AppSessions/.status/Running/{name}"').strip() == f"../../{name}"
    logs = m.path / session / "Logs"
    log_name = next(n for n in sorted(os.listdir(logs)) if n.endswith(".log"))
    log_path = logs / log_name
    size_at_start = log_path.stat().st_size
    since = emu.requests()[-1]["index"] + 1
    followed_from = time.monotonic()
    tail = subprocess.Popen(
        ["tail", "-n", "+1", "-s", "0.3", "-f", str(log_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        sh(m, f'cat "{session}/.await" > /dev/null')
        time.sleep(2.0)  # tail's polls see the last lines
    finally:
        tail.terminate()
        followed, errors = tail.communicate(timeout=10)
    following = time.monotonic() - followed_from
    final = log_path.read_bytes()
    # the size is looked up at most once a second (one request for all the session's logs)
    lookups = [r for r in emu.requests(since) if r["path"].endswith("/logfiles")]
    print(f"tail -f for {following:.1f} s: {len(lookups)} logfiles requests, {len(final)} bytes")
    assert len(lookups) <= following * 1.5 + 4, (len(lookups), following)
    assert len(final) > size_at_start, (size_at_start, len(final))  # it grew while followed
    assert followed == final, (followed[-200:], final[-200:], errors)
    assert log_path.stat().st_size == len(final)
    assert name not in sh(m, "echo 1 > AppSessions/.refresh; ls AppSessions/.status/Running/")


@pytest.mark.expect_log_warnings(
    r"write \.launch refused in 'Applications/6174178': .*",
    r"(write|flush)\(.*\) -> EIO: .*",
)
def test_a_launch_whose_answer_is_lost_is_sent_once(
    setup: tuple[EmulatorProcess, Mount],
) -> None:
    emu, m = setup
    _timings(emu, 0.2, 1)
    before = _launch_posts(emu)
    rule = emu.add_fault(method="POST", path=f"^{LAUNCH_POST}$", action="reset", count=1)
    try:
        with pytest.raises(OSError) as info:
            (m.path / ALIGNER / ".launch").write_text(
                "project-id=20000001\nsample-id=30000001\nname=lost answer\n"
            )
        assert info.value.errno == errno.EIO
        assert _launch_posts(emu) == before + 1  # the request log: sent once, never again
        sessions: list[Any] = [
            s for s in emu.http.get("/_emulator/launches").json() if s.get("appsession_id")
        ]
        assert sessions  # the server did start it: a retry would have started a second one
    finally:
        emu.http.delete(f"/_emulator/faults/{rule}")
    assert "write .launch: EIO: " in (m.path / ALIGNER / ".error").read_text()


def test_bash_printf_line_by_line_launches_with_every_field(
    setup: tuple[EmulatorProcess, Mount],
) -> None:
    """bash's printf sends each line in its own write(): the launch waits for close, so the
    later lines' fields (here genome-id and the name) are in it."""
    emu, m = setup
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    before = _launch_posts(emu)
    done = subprocess.run(
        [
            "bash",
            "-c",
            f"printf 'project-id={PROJECT}\\nsample-id={SAMPLE}\\ngenome-id=hg38\\n"
            f"name=bash lines\\n' > .launch && cat .launch",
        ],
        cwd=m.path / ALIGNER,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    launched = _launched(done.stdout)
    assert launched["name"] == "bash lines" and _launch_posts(emu) == before + 1
    props = json.loads(sh(m, f'cat "{launched["path"]}/.properties"'))
    assert props["Input.genome-id"] == "hg38", props
