"""Every control file of bsmount.controls.registry through the FUSE handlers, checked against
the emulator's state; and docs/control-files.md against the registry."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest

from bsmount.controls.registry import CONTROL_FILES, markdown_table
from tests.emulator_proc import EmulatorProcess
from tests.fs.conftest import FS, Context

# the demo account has odd names on purpose (duplicates, "/"): renamed and reported once
pytestmark = pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.tree\.oddities: odd entries from the server in .*name\(s\) changed"
)

PROJECT = "Projects/.id.20000001"
RUNNING = "60000003"
COMPLETE = "60000001"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "control-files.md"
COVERED: set[str] = set()  # control files exercised by this module's tests


def covers(*names: str) -> None:
    COVERED.update(names)


async def _project(fs: FS) -> str:
    target = await fs.ops.readlink(await fs.ino(PROJECT), None)  # type: ignore[arg-type]
    return "Projects/" + target.decode()


async def _appsession(fs: FS, appsession_id: str) -> str:
    base = f"{await _project(fs)}/AppSessions"
    name = await fs.ops.readlink(await fs.ino(f"{base}/.id.{appsession_id}"), None)  # type: ignore[arg-type]
    return f"{base}/{name.decode()}"


def _api(emu: EmulatorProcess, path: str) -> Any:
    answer = emu.http.get(path, headers={"x-access-token": emu.token})
    return answer.json()


@pytest.mark.expect_log_warnings(
    r"write \.properties refused in .*: line 1: expected name=value",
    r"write\(.*\) -> EINVAL: line 1: expected name=value",
)
async def test_properties_read_write_and_refusal(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".properties", ".error")
    project = await _project(fs)
    await fs.write(f"{project}/.properties", b"FsTier.Owner=lab-9\n")
    shown = json.loads(await fs.read(f"{project}/.properties"))
    assert shown["FsTier.Owner"] == "lab-9"
    props = _api(fs_emulator, "v1pre3/projects/20000001/properties")["Response"]["Items"]
    assert any(p["Name"] == "FsTier.Owner" and p["Content"] == "lab-9" for p in props)
    assert await fs.errno_of(fs.write(f"{project}/.properties", b"no equals sign\n")) == (
        errno.EINVAL
    )
    assert "expected name=value" in await fs.error_text(project)


@pytest.mark.expect_log_warnings(
    r"write \.kill refused in .*: appsession 60000001 is Complete",
    r"write\(.*\) -> EINVAL: appsession 60000001 is Complete",
)
async def test_status_kill_and_await(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".status", ".kill", ".await")
    running = await _appsession(fs, RUNNING)
    assert (await fs.read(f"{running}/.status")).strip() == b"Running"
    assert (await fs.read(f"{running}/.kill")).strip() == b"Running"
    assert ".await" not in await fs.listdir(running)  # unlisted: walkers never block on it
    await fs.write(f"{running}/.kill", b"stop\n")
    status = _api(fs_emulator, f"v2/appsessions/{RUNNING}")["ExecutionStatus"]
    assert status.lower() in ("stopped", "aborted", "canceled")
    final = json.loads(await fs.read(f"{running}/.await"))
    assert final["Response" if "Response" in final else "Id"]
    complete = await _appsession(fs, COMPLETE)
    assert await fs.errno_of(fs.write(f"{complete}/.kill", b"stop\n")) == errno.EINVAL
    assert "only running ones" in await fs.error_text(complete)


async def test_refresh_drops_cached_listings(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".refresh")
    before = set(await fs.listdir("Projects"))
    answer = fs_emulator.http.post(
        "v1pre3/projects",
        json={"Name": "Made elsewhere"},
        headers={"x-access-token": fs_emulator.token},
    )
    assert answer.status_code in (200, 201)
    assert "Made elsewhere" not in await fs.listdir("Projects")  # cached for the TTL
    await fs.write("Projects/.refresh", b"\n")
    assert set(await fs.listdir("Projects")) - before >= {"Made elsewhere"}


@pytest.mark.expect_log_warnings(
    r"write \.trash refused in .*: write exactly 'yes'",
    r"write\(.*\) -> EINVAL: write exactly 'yes'",
)
async def test_trash_and_commands(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".trash", ".commands")
    project = await _project(fs)
    samples = [n for n in await fs.listdir(f"{project}/Samples") if not n.startswith(".")]
    first, second = f"{project}/Samples/{samples[0]}", f"{project}/Samples/{samples[1]}"
    first_id = (await fs.read(f"{first}/.id")).decode().strip()
    second_id = (await fs.read(f"{second}/.id")).decode().strip()
    assert await fs.errno_of(fs.write(f"{first}/.trash", b"no\n")) == errno.EINVAL
    await fs.write(f"{first}/.trash", b"yes\n")
    assert f".id.{first_id}" not in await fs.listdir(f"{project}/Samples")
    assert fs_emulator.http.get(
        f"v1pre3/samples/{first_id}", headers={"x-access-token": fs_emulator.token}
    ).status_code in (404, 410)
    assert b"move-to-trash PATH" in await fs.read(".commands")
    await fs.write(".commands", f"move-to-trash {second}\n".encode())
    assert f".id.{second_id}" not in await fs.listdir(f"{project}/Samples")
    assert fs_emulator.http.get(
        f"v1pre3/samples/{second_id}", headers={"x-access-token": fs_emulator.token}
    ).status_code in (404, 410)
    await fs.write(".commands", b"unmount\n")
    assert fs.terminated == [True]


@pytest.mark.expect_log_warnings(r"uid \d+ may not write .*: only the mounting user may")
async def test_only_the_mounting_user_writes(fs: FS) -> None:
    covers(".error")
    other = Context(uid=os.getuid() + 1000)
    code = await fs.errno_of(fs.write(f"{await _project(fs)}/.properties", b"A.B=c\n", other))
    assert code == errno.EACCES
    ino = await fs.ino(f"{await _project(fs)}/.error")
    assert await fs.errno_of(fs.ops.open(ino, os.O_WRONLY, Context())) == errno.EACCES


async def test_bsmount_files(fs: FS) -> None:
    covers("stats", "version", "config")
    stats = json.loads(await fs.read(".bsmount/stats"))
    assert stats["api"] == "counted" and stats["uptime_seconds"] >= 0
    assert (await fs.read(".bsmount/version")).startswith(b"bsmount ")
    assert json.loads(await fs.read(".bsmount/config")) == {"metadata_ttl": 60}


def test_every_control_file_is_exercised() -> None:
    """Runs last in this module (pytest keeps file order)."""
    assert {f.name for f in CONTROL_FILES} == COVERED


def test_docs_table_matches_the_registry() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert markdown_table() in text, (
        "regenerate the table: bsmount.controls.registry.markdown_table"
    )
