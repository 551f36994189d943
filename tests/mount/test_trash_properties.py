"""The trash and the property files through a real mount, driven by shell commands as a user
types them; the server's state is checked through the API after each (a long metadata TTL, so
what the mount shows after an action comes from the invalidations, not from expiry)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulator_proc import EmulatorProcess
from tests.mount.apiwalk import items
from tests.mount.mounting import DEMO_ODD_NAMES, Mount, demo_with_mount, sh

pytestmark = [DEMO_ODD_NAMES]

DEMO_PROJECT = "20000001"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, Mount]]:
    base = tmp_path_factory.mktemp("trash-properties")
    with demo_with_mount(base, "--metadata-ttl", "300") as both:
        yield both


def _project(m: Mount) -> str:
    return "Projects/" + os.readlink(m.path / "Projects" / f".id.{DEMO_PROJECT}")


def _api(emu: EmulatorProcess, path: str) -> Any:
    return emu.http.get(path, headers={"x-access-token": emu.token})


def _listed(m: Mount, path: str) -> list[str]:
    return sorted(n for n in os.listdir(m.path / path) if not n.startswith("."))


def test_trash_then_restore_with_shell_commands(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    project = _project(m)
    samples = f"{project}/Samples"
    sample = _listed(m, samples)[0]
    sample_id = (m.path / samples / sample / ".id").read_text().strip()
    name = (m.path / samples / sample / ".name").read_text().strip()
    assert name not in sh(m, "ls Trash/").split("\n")  # Trash/ listed and cached first
    sh(m, f"echo yes > '{samples}/{sample}/.trash'")
    assert f".id.{sample_id}" not in os.listdir(m.path / samples)
    assert name in sh(m, "ls Trash/").split("\n")
    assert sh(m, f"cat 'Trash/{name}/TrashItemType'") == "DeletedSample (FILEDATA+METADATA)\n"
    assert _api(emu, f"v1pre3/samples/{sample_id}").status_code == 410
    sh(m, f"echo yes > 'Trash/{name}/.restore'")
    assert sample in sh(m, f"ls '{samples}/'").split("\n")  # back at its place
    assert name not in sh(m, "ls Trash/").split("\n")
    assert _api(emu, f"v1pre3/samples/{sample_id}").status_code == 200
    # BaseMount's words through .commands
    sh(m, f"echo 'move-to-trash {samples}/{sample}' > .commands")
    assert name in sh(m, "ls Trash/").split("\n")
    sh(m, f"echo 'restore-from-trash Trash/{name}' > .commands")
    assert f".id.{sample_id}" in os.listdir(m.path / samples)
    assert _api(emu, f"v1pre3/samples/{sample_id}").status_code == 200


def test_preserve_metadata_then_empty_the_trash(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    datasets = f"{_project(m)}/Datasets"
    dataset = next(d for d in _listed(m, datasets) if _listed(m, f"{datasets}/{d}/Files"))
    dataset_id = (m.path / datasets / dataset / ".id").read_text().strip()
    name = (m.path / datasets / dataset / ".name").read_text().strip()
    sh(m, f"echo preserve-metadata > '{datasets}/{dataset}/.trash'")  # bs dataset delete
    assert dataset in _listed(m, datasets)  # --preserve-metadata: the dataset stays...
    assert _listed(m, f"{datasets}/{dataset}/Files") == []  # ...without its files
    assert sh(m, f"cat 'Trash/{name}/TrashItemType'") == "DeletedDataset (FILEDATA)\n"
    assert _api(emu, f"v2/datasets/{dataset_id}").status_code == 200
    sh(m, "echo yes > Trash/.empty")
    assert sh(m, "ls Trash/") == ""
    assert items(emu, "v2/trash") == []


def test_property_files_with_shell_commands(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    props = f"{_project(m)}/Properties"

    def api() -> dict[str, Any]:
        return {p["Name"]: p for p in items(emu, f"v1pre3/projects/{DEMO_PROJECT}/properties")}

    assert "Lab.Contact" in sh(m, f"ls '{props}'").split("\n")
    assert sh(m, f"cat '{props}/Lab.Contact'") == api()["Lab.Contact"]["Content"] + "\n"
    sh(m, f"echo 'My.Prop=first' > '{props}/../.properties'")
    assert sh(m, f"cat '{props}/My.Prop'") == "first\n"  # the new file shows at once
    sh(m, f"echo second > '{props}/My.Prop'")
    assert api()["My.Prop"]["Content"] == "second"
    sh(m, f'echo \'{{"My.List": ["a", "b"]}}\' > \'{props}/../.properties\'')
    sh(m, f"printf 'x\\ny\\nz\\n' > '{props}/My.List'")
    assert api()["My.List"]["Items"] == ["x", "y", "z"]
    sh(m, f"rm '{props}/My.Prop'")  # bs property delete
    assert "My.Prop" not in api() and "My.Prop" not in sh(m, f"ls '{props}'").split("\n")
    sh(m, f"echo 'My.List=' > '{props}/../.properties'")  # name= deletes too
    assert "My.List" not in api() and "Lab.Contact" in api()


@pytest.mark.parametrize(
    ("top", "route"), [("BioSamples", "v2/biosamples"), ("Runs", "v1pre3/runs")]
)
def test_biosample_and_run_property_files(
    setup: tuple[EmulatorProcess, Mount], top: str, route: str
) -> None:
    emu, m = setup
    entity = f"{top}/{_listed(m, top)[0]}"
    entity_id = (m.path / entity / ".id").read_text().strip()
    sh(m, f"echo 'Mount.Lane=3' > '{entity}/.properties'")
    assert sh(m, f"cat '{entity}/Properties/Mount.Lane'") == "3\n"
    sh(m, f"echo 4 > '{entity}/Properties/Mount.Lane'")
    assert _api(emu, f"{route}/{entity_id}/properties/Mount.Lane").status_code == 200
    sh(m, f"rm '{entity}/Properties/Mount.Lane'")
    assert _api(emu, f"{route}/{entity_id}/properties/Mount.Lane").status_code == 404
    assert not Path(m.path / entity / "Properties" / "Mount.Lane").exists()


def test_bash_printf_sets_several_properties_line_by_line(tmp_path: Path) -> None:
    """bash's printf sends each line in its own write(): ``.properties`` acts at close, so
    every line is set (acting at the first newline refused the second line)."""
    with demo_with_mount(tmp_path) as (_emu, m):
        project = "Projects/.id.20000001"
        subprocess.run(
            ["bash", "-c", f"printf 'Test.A=1\\nTest.B=two\\n' > {project}/.properties"],
            cwd=m.path,
            check=True,
            timeout=60,
        )
        shown = json.loads((m.path / project / ".properties").read_text())
        assert shown["Test.A"] == "1" and shown["Test.B"] == "two", shown
