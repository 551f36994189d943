"""Issue 14 items 4 and 5 through the FUSE handlers: v1/v2 ids (``bs translate``), dataset
attributes, a project's ``.description``, Search's ``.total`` and order, the ``x-access-token``
query parameter."""

from __future__ import annotations

import errno
import json

import pytest

from tests.emulator_proc import EmulatorProcess
from tests.fs.conftest import CTX, FS
from tests.fs.test_controls import covers

pytestmark = pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.tree\.oddities: odd entries from the server in .*name\(s\) changed"
)


async def _a_dataset(fs: FS) -> str:
    for biosample in await fs.listdir("BioSamples"):
        if biosample.startswith("."):
            continue
        names = [n for n in await fs.listdir(f"BioSamples/{biosample}/Datasets") if n[0] != "."]
        if names:
            return f"BioSamples/{biosample}/Datasets/{names[0]}"
    raise AssertionError("the demo has no dataset")


async def _text(fs: FS, path: str) -> str:
    return (await fs.read(path)).decode().strip()


@pytest.mark.expect_log_warnings(
    r"datasets '999999999' refused in .*no dataset has the v1 id 999999999",
    r"lookup\(.*b'999999999'.*\) -> ENOENT: .*no dataset has the v1 id",
)
async def test_v1_and_v2_ids_both_ways(fs: FS) -> None:
    dataset = await _a_dataset(fs)
    entries = await fs.listdir(dataset)
    assert ".v1id" in entries and ".attributes.json" in entries
    ds_id, v1_id = await _text(fs, f"{dataset}/.id"), await _text(fs, f"{dataset}/.v1id")
    assert ds_id.startswith("ds.") and v1_id.isdigit()
    for name in (v1_id, f"sample.{v1_id}"):
        assert await _text(fs, f".ResourceById/datasets/{name}/.id") == ds_id
    assert await _text(fs, f".ResourceById/samples/{ds_id}/.id") == v1_id
    assert await _text(fs, f".ResourceById/samples/{v1_id}/.v2id") == ds_id
    project = json.loads(await fs.read(f"{dataset}/.json"))["Project"]["Id"]
    name = await fs.ops.readlink(await fs.ino(f"Projects/.id.{project}"), None)  # type: ignore[arg-type]
    samples = f"Projects/{name.decode()}/Samples"
    sample = await fs.ops.readlink(await fs.ino(f"{samples}/.id.{v1_id}"), None)  # type: ignore[arg-type]
    assert await _text(fs, f"{samples}/{sample.decode()}/.v2id") == ds_id
    assert ".v1id" not in await fs.listdir(f"Projects/{name.decode()}")  # only where both exist
    no_ds = await fs.errno_of(fs.ino(".ResourceById/datasets/999999999"))
    assert no_ds == errno.ENOENT
    assert "no dataset has the v1 id 999999999" in await fs.error_text(".ResourceById/datasets")


async def test_dataset_attributes(fs: FS, fs_emulator: EmulatorProcess) -> None:
    dataset = await _a_dataset(fs)
    ds_id = await _text(fs, f"{dataset}/.id")
    attributes = json.loads(await fs.read(f"{dataset}/.attributes.json"))
    served = fs_emulator.http.get(
        f"v2/datasets/{ds_id}", headers={"x-access-token": fs_emulator.token}
    ).json()["Attributes"]
    assert attributes == served and attributes["common_fastq"]["IsPairedEnd"] is True


async def test_project_description_after_mkdir(fs: FS, fs_emulator: EmulatorProcess) -> None:
    covers(".description")
    await fs.ops.mkdir(await fs.ino("Projects"), b"Described", 0o755, CTX)
    assert await fs.read("Projects/Described/.description") == b""
    await fs.write("Projects/Described/.description", b"Tumour/normal pairs, batch 3\n")
    assert await _text(fs, "Projects/Described/.description") == "Tumour/normal pairs, batch 3"
    project_id = await _text(fs, "Projects/Described/.id")
    served = fs_emulator.http.get(
        f"v1pre3/projects/{project_id}", headers={"x-access-token": fs_emulator.token}
    ).json()["Response"]
    assert served["Description"] == "Tumour/normal pairs, batch 3"


async def test_search_total_and_relevance_order(fs: FS, fs_emulator: EmulatorProcess) -> None:
    query = "Search/samples/name:*R*"
    listing = [n for n in await fs.listdir(query) if not n.startswith(".")]
    total = int(await _text(fs, f"{query}/.total"))
    answer = fs_emulator.http.get(
        "v1pre3/search",
        params={"scope": "samples", "query": "name:*R*", "Limit": "1024"},
        headers={"x-access-token": fs_emulator.token},
    ).json()["Response"]
    assert total == answer["TotalCount"] == len(listing)
    ranked = [item["Sample"]["Id"] for item in answer["Items"]]
    shown = [json.loads(await fs.read(f"{query}/.json"))[i]["Sample"]["Id"] for i in range(total)]
    assert shown == ranked  # the service's relevance order, kept


def test_x_access_token_query_parameter_is_accepted_and_redacted(
    fs_emulator: EmulatorProcess,
) -> None:
    fs_emulator.http.delete("/_emulator/requests")
    answer = fs_emulator.http.get(
        "v1pre3/users/current", params={"x-access-token": fs_emulator.token}
    )
    assert answer.status_code == 200
    refused = fs_emulator.http.get("v1pre3/users/current", params={"x-access-token": "nope"})
    assert refused.status_code == 401
    log = fs_emulator.http.get("/_emulator/requests").text
    assert fs_emulator.token not in log and "REDACTED" in log
