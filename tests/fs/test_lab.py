"""Lab operations through the FUSE handlers (no kernel) over the demo account: a biosample's
``Libraries/`` and ``LabRequeues/`` (kinds and ``.json`` against the API), ``mkdir`` of a
biosample in a project's ``BioSamples/`` and its refusals, a manifest written to
``BioSamples/.import`` (all rows created, or none and every bad row in ``.error``), and
``.requeue`` (NewLibrary, ExistingLibrary and refusals), and an import the server refuses midway
(undone: what it created goes to the trash); the emulator's state checked after each."""

from __future__ import annotations

import errno
import json
import random
from typing import Any

import pytest
import trio

from bsmount.emulator.seeds.demo import GENOMICS_PROJECT
from bsmount.tree.kinds import (
    BIOSAMPLE_LAB_REQUEUES,
    BIOSAMPLE_LIBRARIES,
    BIOSAMPLES,
    LAB_REQUEUE,
    LIBRARY,
    PROJECT_BIOSAMPLES,
)
from tests.emulator_proc import EmulatorProcess
from tests.fs.conftest import CTX, FS
from tests.fs.test_controls import covers

pytestmark = pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.tree\.oddities: odd entries from the server in .*name\(s\) changed"
)

PROJECT = f"Projects/{GENOMICS_PROJECT}"


def _api(emu: EmulatorProcess, path: str, **params: Any) -> Any:
    answer = emu.http.get(path, params=params, headers={"x-access-token": emu.token})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _biosamples(emu: EmulatorProcess) -> list[dict[str, Any]]:
    return list(_api(emu, "/v2/biosamples", limit=1000)["Items"])


async def _first_biosample(fs: FS) -> str:
    names = sorted(n for n in await fs.listdir("BioSamples") if not n.startswith("."))
    return f"BioSamples/{names[0]}"


async def test_libraries_and_lab_requeues_are_directories(
    fs: FS, fs_emulator: EmulatorProcess
) -> None:
    first = _biosamples(fs_emulator)[0]
    path = f"BioSamples/{first['BioSampleName']}"
    entries = await fs.listdir(path)
    assert {"Libraries", "LabRequeues", ".requeue"} <= set(entries)
    assert fs.node(await fs.ino("BioSamples")).spec.kind is BIOSAMPLES  # type: ignore[union-attr]
    assert fs.node(await fs.ino(f"{PROJECT}/BioSamples")).spec.kind is PROJECT_BIOSAMPLES  # type: ignore[union-attr]
    libraries = _api(fs_emulator, f"/v2/biosamples/{first['Id']}/libraries")["Items"]
    listed = await fs.listdir(f"{path}/Libraries")
    assert fs.node(await fs.ino(f"{path}/Libraries")).spec.kind is BIOSAMPLE_LIBRARIES  # type: ignore[union-attr]
    assert {x["Name"] for x in libraries} <= set(listed)
    library = libraries[0]
    library_dir = f"{path}/Libraries/{library['Name']}"
    assert fs.node(await fs.ino(library_dir)).spec.kind is LIBRARY  # type: ignore[union-attr]
    shown = json.loads(await fs.read(f"{library_dir}/.json"))
    assert shown["Id"] == library["Id"] and shown["Index1Sequence"] == library["Index1Sequence"]
    link = await fs.ops.readlink(await fs.ino(f"{path}/Libraries/.id.{library['Id']}"), CTX)
    assert link.decode() == library["Name"]
    requeues = _api(fs_emulator, f"/v2/biosamples/{first['Id']}/labrequeues")["Items"]
    listed = await fs.listdir(f"{path}/LabRequeues")
    assert fs.node(await fs.ino(f"{path}/LabRequeues")).spec.kind is BIOSAMPLE_LAB_REQUEUES  # type: ignore[union-attr]
    assert [r["Id"] for r in requeues] == [n for n in listed if not n.startswith(".")]
    requeue_dir = f"{path}/LabRequeues/{requeues[0]['Id']}"
    assert fs.node(await fs.ino(requeue_dir)).spec.kind is LAB_REQUEUE  # type: ignore[union-attr]
    shown = json.loads(await fs.read(f"{requeue_dir}/.json"))
    assert (shown["Type"], shown["LIMSId"]) == ("AdditionalYieldOfLibrary", "LIMS-0001")
    listing = (await fs.read(f"{path}/LabRequeues/.list.csv")).decode().splitlines()
    assert listing[0] == "Id,Type,Status,RequestedAdditionalYield"
    assert listing[1] == f"{requeues[0]['Id']},AdditionalYieldOfLibrary,Requested,2"


@pytest.mark.expect_log_warnings(
    r"mkdir refused in .*BioSamples.*: a biosample needs a default project",
    r"mkdir\(.*\) -> EINVAL: a biosample needs a default project",
    r"mkdir refused in .*BioSamples.*: BioSample Name 'bad name': use",
    r"mkdir\(.*\) -> EINVAL: BioSample Name 'bad name'",
    r"mkdir refused in .*BioSamples.*: project \d+ already has a biosample",
    r"mkdir\(.*\) -> EEXIST: project \d+ already has a biosample",
)
async def test_mkdir_creates_a_biosample_in_a_project(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".properties")
    base = f"{PROJECT}/BioSamples"
    attrs = await fs.ops.mkdir(await fs.ino(base), b"FS-New_1", 0o755, CTX)
    assert attrs.st_ino == await fs.ino(f"{base}/FS-New_1")
    [made] = [b for b in _biosamples(fs_emulator) if b["BioSampleName"] == "FS-New_1"]
    assert made["DefaultProject"]["Name"] == GENOMICS_PROJECT
    assert "FS-New_1" in await fs.listdir("BioSamples")  # the top-level list was refreshed
    await fs.write(f"{base}/FS-New_1/.properties", b"Lab.Tissue=blood\n")
    props = _api(fs_emulator, f"/v2/biosamples/{made['Id']}/properties")["Items"]
    assert [(p["Name"], p["Content"]) for p in props] == [("Lab.Tissue", "blood")]
    # the refusals: no project at the top level, a bad name, a name the project has (any case)
    top = await fs.ino("BioSamples")
    assert await fs.errno_of(fs.ops.mkdir(top, b"Loose", 0o755, CTX)) == errno.EINVAL
    assert "mkdir Projects/<project>/BioSamples/Loose" in await fs.error_text("BioSamples")
    parent = await fs.ino(base)
    assert await fs.errno_of(fs.ops.mkdir(parent, b"bad name", 0o755, CTX)) == errno.EINVAL
    assert await fs.errno_of(fs.ops.mkdir(parent, b"fs-new_1", 0o755, CTX)) == errno.EEXIST
    assert "already has a biosample named 'fs-new_1'" in await fs.error_text(base)
    assert (
        len(
            [b for b in _biosamples(fs_emulator) if b["BioSampleName"].startswith(("Loose", "bad"))]
        )
        == 0
    )


MANIFEST = """[Header],,,
FileVersion,1,,
[Data],,,
BioSample Name,Default Project,Container Name,Container Position
FS-M1,"{project}",PlateZ,A1
FS-M2,"{project}",PlateZ,B02
"""


async def test_import_creates_every_row(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".import")
    template = (await fs.read("BioSamples/.import")).decode()
    assert "BioSample Name,Default Project,Container Name,Container Position" in template
    before = len(_biosamples(fs_emulator))
    await fs.write("BioSamples/.import", MANIFEST.format(project=GENOMICS_PROJECT).encode())
    after = _biosamples(fs_emulator)
    made = {b["BioSampleName"]: b for b in after}
    assert len(after) == before + 2
    assert (made["FS-M1"]["ContainerName"], made["FS-M1"]["ContainerPosition"]) == ("PlateZ", "A01")
    assert made["FS-M2"]["ContainerPosition"] == "B02"
    assert {"FS-M1", "FS-M2"} <= set(await fs.listdir("BioSamples"))
    assert {"FS-M1", "FS-M2"} <= set(await fs.listdir(f"{PROJECT}/BioSamples"))
    # in a project's BioSamples/, Default Project may be left out
    await fs.write(f"{PROJECT}/BioSamples/.import", b"BioSample Name\nFS-M3\n")
    assert "FS-M3" in await fs.listdir(f"{PROJECT}/BioSamples")


@pytest.mark.expect_log_warnings(
    r"write \.import refused in 'BioSamples': manifest refused",
    r"-> EINVAL: manifest refused",
)
async def test_import_with_a_bad_row_creates_nothing(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".import", ".error")
    existing = _biosamples(fs_emulator)[0]["BioSampleName"]
    rows = [
        "BioSample Name,Default Project,Container Name,Container Position",
        f'FS-OK1,"{GENOMICS_PROJECT}",P1,A01',  # line 2: fine
        f'FS-OK1,"{GENOMICS_PROJECT}",P1,A02',  # line 3: same name twice
        "FS-X2,No Such Project,,",  # line 4
        f'FS-X3,"{GENOMICS_PROJECT}",,C01',  # line 5: a well without a container
        f'FS-X4,"{GENOMICS_PROJECT}",P1,Z99',  # line 6: not a well
        f'{existing},"{GENOMICS_PROJECT}",,',  # line 7: the project has it
        f'bad name,"{GENOMICS_PROJECT}",,',  # line 8
        f',"{GENOMICS_PROJECT}",,',  # line 9
        f'FS-OK2,"{GENOMICS_PROJECT}",P1,A01',  # line 10: P1 A01 is line 2's
    ]
    before = _biosamples(fs_emulator)
    ino = await fs.ino("BioSamples/.import")
    info = await fs.ops.open(ino, 0o1 | 0o1000, CTX)  # O_WRONLY | O_TRUNC
    await fs.ops.write(info.fh, 0, ("\n".join(rows) + "\n").encode())
    assert await fs.errno_of(fs.ops.flush(info.fh)) == errno.EINVAL
    await fs.ops.release(info.fh)
    assert _biosamples(fs_emulator) == before  # nothing created
    error = await fs.error_text("BioSamples")
    assert "8 of 9 rows invalid" in error
    for line, text in (
        (3, "'FS-OK1' is also on line 2"),
        (4, "no project 'No Such Project'"),
        (5, "needs a Container Name"),
        (6, "'Z99' is not a well"),
        (7, "already has a biosample"),
        (8, "use 1-99 letters"),
        (9, "BioSample Name is empty"),
        (10, "P1 A01 is also on line 2"),
    ):
        assert f"line {line}: " in error and text in error, (line, text, error)
    assert "line 2:" not in error


@pytest.mark.expect_log_warnings(
    r"write \.requeue refused in .*: (unknown requeue type|several libraries|library=nope|yield=0)",
    r"-> EINVAL: (unknown requeue type|several libraries|library=nope|yield=0)",
)
async def test_requeue_new_and_existing_library(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".requeue")
    second = _biosamples(fs_emulator)[1]
    path = f"BioSamples/{second['BioSampleName']}"
    assert [n for n in await fs.listdir(f"{path}/LabRequeues") if not n.startswith(".")] == []
    full = _api(fs_emulator, f"/v2/biosamples/{second['Id']}")
    library = _api(fs_emulator, f"/v2/biosamples/{second['Id']}/libraries")["Items"][0]
    shown = (await fs.read(f"{path}/.requeue")).decode().splitlines()
    prep_id = full["PrepRequests"][0]["Id"]
    assert shown[1:] == [
        f"NewLibrary prep={prep_id} yield=5  # Illumina DNA Prep, 5 Gbp, Active",
        f"ExistingLibrary library={library['Name']} yield=5  # {library['Id']}, Active",
    ]
    await fs.write(f"{path}/.requeue", b"NewLibrary\n")
    requeues = _api(fs_emulator, f"/v2/biosamples/{second['Id']}/labrequeues")["Items"]
    assert [(r["Type"], r["RequestedAdditionalYield"]) for r in requeues] == [
        ("NewBioSampleLibrary", 5)  # the prep request's 5 Gbp
    ]
    await fs.write(f"{path}/.requeue", b"ExistingLibrary yield=3 lims=L-77\n")
    requeues = _api(fs_emulator, f"/v2/biosamples/{second['Id']}/labrequeues")["Items"]
    assert [(r["Type"], r["RequestedAdditionalYield"], r["LIMSId"]) for r in requeues[1:]] == [
        ("AdditionalYieldOfLibrary", 3, "L-77")
    ]
    shown = [n for n in await fs.listdir(f"{path}/LabRequeues") if not n.startswith(".")]
    assert shown == [r["Id"] for r in requeues]
    # refusals: an unknown type, a bad yield, two libraries and none named, an unknown library
    requeue = f"{path}/.requeue"
    for payload, text in (
        (b"MoreReads\n", "unknown requeue type 'MoreReads'"),
        (b"NewLibrary yield=0\n", "yield=0"),
        (b"ExistingLibrary library=nope\n", "library=nope"),
    ):
        assert await fs.errno_of(fs.write(requeue, payload)) == errno.EINVAL, payload
        assert text in await fs.error_text(path)
    # a second library: ExistingLibrary must then name one
    fs_emulator.http.post(
        f"/v2/biosamples/{second['Id']}/libraries",
        headers={"x-access-token": fs_emulator.token},
        json={
            "LibraryName": "L2",
            "LibraryPrepId": "Kit",
            "ProjectId": second["DefaultProject"]["Id"],
            "Index1": "ACGT",
        },
    ).raise_for_status()
    assert await fs.errno_of(fs.write(requeue, b"ExistingLibrary\n")) == errno.EINVAL
    assert "several libraries" in await fs.error_text(path)
    await fs.write(requeue, b"existinglibrary library=L2\n")
    assert len(_api(fs_emulator, f"/v2/biosamples/{second['Id']}/labrequeues")["Items"]) == 3


def _second_draw_seed(probability: float) -> int:
    """A fault rule seed whose first draw lets a request through and whose second fires (the
    emulator draws ``random.Random(seed).random() >= probability`` to let one pass)."""
    for seed in range(1000):
        draws = random.Random(seed)
        if draws.random() >= probability and draws.random() < probability:
            return seed
    raise AssertionError("no seed")


@pytest.mark.expect_log_warnings(
    r"write \.import refused in 'BioSamples': line \d: the server refused 'FS-R\d'",
    r"-> EIO: line \d: the server refused 'FS-R\d'",
)
async def test_import_refused_by_the_server_midway_is_undone(
    fs: FS, fs_emulator: EmulatorProcess
) -> None:
    covers(".import")
    before = _biosamples(fs_emulator)
    fs_emulator.add_fault(
        method="POST",
        path="^/v2/biosamples$",
        probability=0.5,
        seed=_second_draw_seed(0.5),
        count=1,
        action={"status": 409},
    )
    rows = [f'FS-R{i},"{GENOMICS_PROJECT}"' for i in (1, 2, 3)]
    manifest = "BioSample Name,Default Project\n" + "\n".join(rows) + "\n"
    assert await fs.errno_of(fs.write("BioSamples/.import", manifest.encode())) == errno.EIO
    assert _biosamples(fs_emulator) == before  # those created were moved to the trash
    trash = _api(fs_emulator, "/v2/trash")["Items"]
    trashed = sorted(t["Name"] for t in trash if t["Name"].startswith("FS-R"))
    assert len(trashed) == 2 and set(trashed) < {"FS-R1", "FS-R2", "FS-R3"}  # one was refused
    error = await fs.error_text("BioSamples")
    assert "the 2 biosample(s) this import had created were moved to the trash" in error
    assert not {"FS-R1", "FS-R2", "FS-R3"} & set(await fs.listdir("BioSamples"))


@pytest.mark.expect_log_warnings(r"manifest import cut short: the 3 biosample\(s\) this import")
async def test_import_cut_short_is_undone(fs: FS, fs_emulator: EmulatorProcess) -> None:
    """The operation's deadline cancels an import while one request is held by the server: the
    three created are moved to the trash; the held one completes on the server afterwards."""
    covers(".import")
    before = len(_biosamples(fs_emulator))
    fs_emulator.add_fault(method="POST", path="^/v2/biosamples$", count=1, action={"delay": 3})
    rows = [f'FS-C{i},"{GENOMICS_PROJECT}"' for i in (1, 2, 3, 4)]
    payload = ("BioSample Name,Default Project\n" + "\n".join(rows) + "\n").encode()
    node = fs.node(await fs.ino("BioSamples/.import"))
    assert node.control is not None
    with trio.move_on_after(1.5) as scope:
        await fs.controls.write(node.control, payload)
    assert scope.cancelled_caught
    trashed = [t["Name"] for t in _api(fs_emulator, "/v2/trash")["Items"]]
    assert len([n for n in trashed if n.startswith("FS-C")]) == 3
    await trio.sleep(3)  # the held request ends on the server: its biosample exists
    live = [b["BioSampleName"] for b in _biosamples(fs_emulator)]
    assert len(live) == before + 1 and len([n for n in live if n.startswith("FS-C")]) == 1


@pytest.mark.expect_log_warnings(
    r"write \.default-project refused in .*: no project 'Nowhere'",
    r"-> EINVAL: no project 'Nowhere'",
)
async def test_default_project_moves_a_biosample(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".default-project")
    first = _biosamples(fs_emulator)[0]
    path = f"BioSamples/{first['BioSampleName']}"
    assert (await fs.read(f"{path}/.default-project")).decode() == GENOMICS_PROJECT + "\n"
    assert first["BioSampleName"] in await fs.listdir(f"{PROJECT}/BioSamples")
    await fs.write(f"{path}/.default-project", b"Empty Project\n")
    moved = _api(fs_emulator, f"/v2/biosamples/{first['Id']}")
    assert moved["DefaultProject"]["Name"] == "Empty Project"
    assert moved["ContainerPosition"] == first["ContainerPosition"]  # the container kept
    assert (await fs.read(f"{path}/.default-project")).decode() == "Empty Project\n"
    assert first["BioSampleName"] not in await fs.listdir(f"{PROJECT}/BioSamples")
    assert first["BioSampleName"] in await fs.listdir("Projects/Empty Project/BioSamples")
    assert await fs.errno_of(fs.write(f"{path}/.default-project", b"Nowhere\n")) == errno.EINVAL
    assert "no project 'Nowhere'" in await fs.error_text(path)
    # back by id
    await fs.write(f"{path}/.default-project", first["DefaultProject"]["Id"].encode() + b"\n")
    assert first["BioSampleName"] in await fs.listdir(f"{PROJECT}/BioSamples")
