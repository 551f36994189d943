"""Issue 14 items 4 and 5 through a real mount, as a shell user types them: ``bs translate``
(``.v1id``, ``.v2id``, ``.ResourceById`` taking either id), dataset attributes,
``mkdir Projects/X`` + ``.description``, Search's ``.total`` and order; and the emulator taking
``?x-access-token=`` without logging it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from tests.emulator_proc import EmulatorProcess
from tests.mount.mounting import DEMO_ODD_NAMES, Mount, demo_with_mount, sh

pytestmark = [DEMO_ODD_NAMES]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, Mount]]:
    base = tmp_path_factory.mktemp("ids-gaps")
    with demo_with_mount(base, "--metadata-ttl", "300") as both:
        yield both


def test_translate_ids_and_attributes(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    out = sh(
        m,
        'for d in BioSamples/*/Datasets/*/; do [ -e "$d.v1id" ] && { echo "$d"; break; }; done',
    )
    dataset = out.strip()
    ds_id = sh(m, f"cat '{dataset}.id'").strip()
    v1_id = sh(m, f"cat '{dataset}.v1id'").strip()
    assert sh(m, f"cat .ResourceById/datasets/{v1_id}/.id").strip() == ds_id
    assert sh(m, f"cat .ResourceById/datasets/sample.{v1_id}/.id").strip() == ds_id
    assert sh(m, f"cat .ResourceById/samples/{ds_id}/.id").strip() == v1_id
    assert sh(m, f"cat .ResourceById/samples/{v1_id}/.v2id").strip() == ds_id
    attributes = json.loads(sh(m, f"cat '{dataset}.attributes.json'"))
    served = emu.http.get(f"v2/datasets/{ds_id}", headers={"x-access-token": emu.token})
    assert attributes == served.json()["Attributes"]


def test_small_gaps(setup: tuple[EmulatorProcess, Mount]) -> None:
    emu, m = setup
    sh(m, "mkdir Projects/Described && echo 'batch 3 pairs' > Projects/Described/.description")
    assert sh(m, "cat Projects/Described/.description") == "batch 3 pairs\n"
    project_id = sh(m, "cat Projects/Described/.id").strip()
    served = emu.http.get(f"v1pre3/projects/{project_id}", headers={"x-access-token": emu.token})
    assert served.json()["Response"]["Description"] == "batch 3 pairs"
    query = "Search/samples/name:*R*"
    total = int(sh(m, f"cat '{query}/.total'"))
    assert total == len([n for n in os.listdir(m.path / query) if not n.startswith(".")]) > 0
    emu.http.delete("/_emulator/requests")
    assert emu.http.get("v1pre3/users/current", params={"x-access-token": emu.token}).is_success
    assert emu.token not in emu.http.get("/_emulator/requests").text
