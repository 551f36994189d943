"""`bs` commands of docs/bs-cli.md that no other test drives through a real mount.

Each test names the `bs` command it stands for; the shell command it runs is the one the table
gives. Read-only checks use the module's demo mount; the global options get their own mount.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.mount.apiwalk import complete, direct_md5, items
from tests.mount.mounting import DEMO_ODD_NAMES, Mount, fuse_marker

pytestmark = [fuse_marker(), DEMO_ODD_NAMES]

DEMO_PROJECT = "20000001"
APPRESULT = "40000001"
FASTQ_SESSION = "60000001"  # Complete, with the demo's five datasets as outputs


def _sh(command: str, cwd: Path) -> str:
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, capture_output=True, text=True, check=True, timeout=120
    ).stdout


def _one_of_each(emulator: Any) -> dict[str, str]:
    """An id of every kind `bs get` knows (except applications: not in the tree yet)."""
    return {
        "projects": DEMO_PROJECT,
        "samples": items(emulator, f"v1pre3/projects/{DEMO_PROJECT}/samples")[0]["Id"],
        "appresults": APPRESULT,
        "appsessions": FASTQ_SESSION,
        "runs": items(emulator, "v1pre3/users/current/runs")[0]["Id"],
        "biosamples": items(emulator, "v2/biosamples")[0]["Id"],
        "datasets": items(emulator, "v2/datasets")[0]["Id"],
    }


def test_get_is_the_json_of_any_entity(mnt: Path, emulator: Any) -> None:
    """`bs get <entity> -i ID [-f json]`, `-n NAME`, `--terse`, `-F ExecutionStatus`."""
    for kind, entity_id in _one_of_each(emulator).items():
        entity = mnt / ".ResourceById" / kind / entity_id
        href = (entity / ".href").read_text().strip()
        assert href.startswith(emulator.url)
        api = emulator.api(href.removeprefix(emulator.url))
        assert json.loads(_sh(f"cat '.ResourceById/{kind}/{entity_id}/.json'", mnt)) == api, kind
        assert _sh(f"cat '.ResourceById/{kind}/{entity_id}/.id'", mnt) == entity_id + "\n"
    # by name (-n) is the same document as by id
    name = os.readlink(mnt / "Projects" / f".id.{DEMO_PROJECT}")
    by_name = json.loads((mnt / "Projects" / name / ".json").read_text())
    assert by_name["Response"]["Id"] == DEMO_PROJECT and by_name["Response"]["Name"] == name
    status = mnt / ".ResourceById" / "appsessions" / FASTQ_SESSION / ".status"
    assert (
        status.read_text().strip()
        == emulator.api(f"v2/appsessions/{FASTQ_SESSION}")["ExecutionStatus"]
    )


@pytest.mark.skipif(not (shutil.which("jq") and shutil.which("yq")), reason="needs jq and yq")
def test_get_fields_and_formats_are_jq_over_json(mnt: Path) -> None:
    """`bs get project -i ID -F Id -F Name -f csv`, and `-f yaml`: jq and yq over `.json`."""
    name = os.readlink(mnt / "Projects" / f".id.{DEMO_PROJECT}")
    csv = _sh(
        f"jq -r '.Response | [.Id, .Name] | @csv' '.ResourceById/projects/{DEMO_PROJECT}/.json'",
        mnt,
    )
    assert csv == f'"{DEMO_PROJECT}","{name}"\n'
    yaml = _sh(f"yq -y .Response.Id '.ResourceById/projects/{DEMO_PROJECT}/.json'", mnt)
    assert yaml.strip().strip("'\"") == DEMO_PROJECT


def _api_paths(files: list[dict[str, Any]], extension: str = "") -> set[str]:
    return {f["Path"].lstrip("/") for f in complete(files) if f["Path"].endswith(extension)}


def test_contents_is_find_over_files(mnt: Path, emulator: Any) -> None:
    """`bs contents appresult -i ID [--extension=bam]`, `bs dataset contents`."""
    files = items(emulator, f"v1pre3/appresults/{APPRESULT}/files", limit=1000)
    found = _sh(
        "find . -type f ! -name .refresh ! -name .error -printf '%P\\n'",
        mnt / ".ResourceById" / "appresults" / APPRESULT / "Files",
    )
    assert set(found.split()) == _api_paths(files) and len(found.split()) == len(_api_paths(files))
    bams = _sh(
        "find . -type f -name '*.bam' -printf '%P\\n'",
        mnt / ".ResourceById" / "appresults" / APPRESULT / "Files",
    )
    assert set(bams.split()) == _api_paths(files, ".bam") != set()
    dataset = items(emulator, "v2/datasets")[0]["Id"]
    dataset_files = items(emulator, f"v2/datasets/{dataset}/files", limit=1000)
    found = _sh(
        "find . -type f ! -name .refresh ! -name .error -printf '%P\\n'",
        mnt / ".ResourceById" / "datasets" / dataset / "Files",
    )
    assert set(found.split()) == _api_paths(dataset_files) != set()


def test_download_run_and_appresult(mnt: Path, emulator: Any, tmp_path: Path) -> None:
    """`bs download run -i ID -o DIR` and `bs appresult download --id ID -o DIR [--extension]`."""
    run = items(emulator, "v1pre3/users/current/runs")[0]["Id"]
    out = tmp_path / "run"
    _sh(
        f"rsync -a --exclude=.refresh --exclude=.error .ResourceById/runs/{run}/Files/ '{out}/'",
        mnt,
    )
    api = {
        f["Path"].lstrip("/"): f
        for f in complete(items(emulator, f"v2/runs/{run}/files", limit=1000, recursive="true"))
    }
    got = {str(p.relative_to(out)): p for p in out.rglob("*") if p.is_file()}
    assert set(got) == set(api)
    assert all(got[path].stat().st_size == int(f["Size"]) for path, f in api.items())
    sample = random.Random(14).sample(sorted(api), 12) + ["RunInfo.xml"]
    for path in sample:
        assert hashlib.md5(got[path].read_bytes()).hexdigest() == direct_md5(
            emulator, api[path]["Id"]
        )

    bams = tmp_path / "bams"
    bams.mkdir()
    _sh(f"cp .ResourceById/appresults/{APPRESULT}/Files/*.bam '{bams}/'", mnt)
    files = complete(items(emulator, f"v1pre3/appresults/{APPRESULT}/files", limit=1000))
    expected = {f["Path"].lstrip("/"): f for f in files if f["Path"].endswith(".bam")}
    assert sorted(os.listdir(bams)) == sorted(expected) != []
    for name, f in expected.items():
        assert hashlib.md5((bams / name).read_bytes()).hexdigest() == direct_md5(emulator, f["Id"])


def test_await_terse_gives_the_output_datasets(mnt: Path, emulator: Any) -> None:
    """`bs await appsession ID --terse`: wait, then the ids of its output datasets."""
    session = f".ResourceById/appsessions/{FASTQ_SESSION}"
    out = _sh(f"cat {session}/.await >/dev/null && cat {session}/Datasets/*/.id", mnt)
    outputs = {
        d["Id"]
        for d in items(emulator, "v2/datasets")
        if d.get("AppSession", {}).get("Id") == FASTQ_SESSION
    }
    assert sorted(out.split()) == sorted(outputs) and outputs


def test_auth_timeout_gives_up(emulator: Any, tmp_path: Path) -> None:
    """`bs auth --timeout`: no approval in time, exit 1, no config written."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BASESPACE_", "BSMOUNT_"))}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bsmount",
            "auth",
            "-c",
            "late",
            "--api-server",
            emulator.url,
            "--timeout",
            "2",
        ],
        env=dict(env, HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "User code:" in result.stdout
    assert "not approved within" in result.stderr or "expired" in result.stderr
    assert not (tmp_path / ".basespace" / "late.cfg").exists()


def test_config_option_and_api_server_option_of_the_mount(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bs -c NAME ...` and `--api-server URL`: the mount takes the token from NAME.cfg and
    the server from --api-server over the config's (the environment's are wrong on purpose)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / ".basespace" / "emu.cfg"
    config.parent.mkdir(mode=0o700)
    config.write_text(f"apiServer = http://127.0.0.1:9\naccessToken = {emulator.token}\n")
    config.chmod(0o600)
    m = Mount(
        "http://127.0.0.1:9",
        "0" * 32,
        tmp_path / "mnt",
        tmp_path / "mount.log",
        extra_args=("-c", "emu", "--api-server", emulator.url),
    ).start()
    try:
        assert (
            m.path / "Projects" / f".id.{DEMO_PROJECT}" / ".id"
        ).read_text() == DEMO_PROJECT + "\n"
        assert emulator.url in (m.path / ".bsmount" / "config").read_text()
    finally:
        m.stop()


def test_abort_an_appresults_session(mnt: Path, emulator: Any) -> None:
    """AppSession status Aborted: `mkdir` an AppResult, then `echo yes > .abort`."""
    results = (
        mnt / "Projects" / os.readlink(mnt / "Projects" / f".id.{DEMO_PROJECT}") / "AppResults"
    )
    try:
        _sh(f"mkdir '{results}/bs-cli abort' && echo yes > '{results}/bs-cli abort/.abort'", mnt)
        appresult = results / "bs-cli abort"
        session = json.loads((appresult / ".json").read_text())["Response"]["AppSession"]["Id"]
        assert emulator.api(f"v2/appsessions/{session}")["ExecutionStatus"] == "Aborted"
        assert (appresult / ".status").read_text().strip() == "Aborted"
        with pytest.raises(OSError):
            (appresult / "Files" / "late.txt").write_text("too late\n")
    finally:
        emulator.reset()
