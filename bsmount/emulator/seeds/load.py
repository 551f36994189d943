"""The emulator's seed format: ``load_seed(spec, data_dir)`` and friends.

A seed is a JSON document (documented with an example in ``docs/emulator.md`` and
``docs/examples/seed-example.json``) describing users and their tokens, projects with samples,
appresults, appsessions, biosamples and datasets, runs, files and properties. ``--seed demo`` is
the built-in seed of :mod:`bsmount.emulator.seeds.demo`.

Loading validates the whole document (unknown keys, bad types, dangling references and
missing source files are :class:`SeedError` with the JSON path of the culprit) and returns an
:class:`~bsmount.emulator.state.account.EmulatorState` whose ``reset()`` rebuilds the same model:
ids and dates are derived from the document alone, so a seed always yields the same ids. Content
sources are created once and shared by every rebuild. The document is read by
:mod:`.schema` and turned into a model by :mod:`.entities` and :mod:`.build`.

:func:`make_bulk_seed` builds a seed with thousands of items in several lists (paging tests).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bsmount.emulator.blobs.content import ContentSource
from bsmount.emulator.seeds.entities import SeedBuilder, SeedError
from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.tables import Model

__all__ = [
    "BULK_TOKEN",
    "SeedError",
    "load_seed",
    "load_seed_data",
    "make_bulk_seed",
]

log = logging.getLogger(__name__)

BULK_TOKEN = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"


def load_seed_data(
    data: Mapping[str, Any], base_dir: Path, *, description: str = "seed"
) -> EmulatorState:
    """An :class:`EmulatorState` from a parsed seed document.

    ``base_dir`` anchors relative ``source`` paths (the seed file's directory).
    """
    contents: dict[int, ContentSource] = {}
    document = dict(data)

    def build() -> Model:
        return SeedBuilder(document, base_dir, contents).build()

    state = EmulatorState(build, description=description)
    model = state.model
    log.info(
        "seed %s: %d users, %d projects, %d runs, %d files",
        description,
        len(model.users),
        len(model.projects),
        len(model.runs),
        len(model.files),
    )
    return state


def load_seed(spec: str, data_dir: Path) -> EmulatorState:
    """Load ``spec``: ``"demo"`` (the built-in demo, its files cached in ``data_dir``) or the
    path of a JSON seed file."""
    if spec == "demo":
        # Imported on demand: the demo's genomics files need pysam, JSON seeds do not.
        from bsmount.emulator.seeds.demo import demo_seed

        return load_seed_data(demo_seed(data_dir), data_dir, description="demo")
    path = Path(spec).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(f"cannot read seed file {spec}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeedError(f"{spec}: invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise SeedError(f"{spec}: the seed must be a JSON object")
    return load_seed_data(data, path.resolve().parent, description=str(path))


def make_bulk_seed(n: int, *, token: str = BULK_TOKEN) -> dict[str, Any]:
    """A seed with ``n`` items in each of several lists, for paging tests.

    One user (``token``) owns ``n`` projects named ``Project 00001``... plus a project ``Bulk``
    holding ``n`` samples (``Sample 00001``...), one appresult ``Many Files`` with ``n`` small
    literal files (``f00001.txt``...), ``n`` biosamples and ``n`` datasets (one per biosample),
    and one run ``Bulk Run`` with ``n`` files spread over ``n // 100 + 1`` directories. So the
    lists ``users/current/projects`` (n + 1), ``projects/{Bulk}/samples``,
    ``appresults/{Many Files}/files``, ``v2 biosamples?projectid=``, ``v2 datasets?projectid=``
    and ``runs/{id}/files`` each exceed ``n``-ish items.
    """
    width = max(5, len(str(n)))
    projects: list[dict[str, Any]] = [
        {"name": f"Project {i:0{width}d}", "description": "bulk"} for i in range(1, n + 1)
    ]
    files = [{"path": f"f{i:0{width}d}.txt", "text": f"file {i}\n"} for i in range(1, n + 1)]
    biosamples = [
        {
            "name": f"BioSample {i:0{width}d}",
            "datasets": [{"name": f"Dataset {i:0{width}d}", "type": "common.files"}],
        }
        for i in range(1, n + 1)
    ]
    projects.append(
        {
            "key": "bulk-project",
            "name": "Bulk",
            "samples": [{"name": f"Sample {i:0{width}d}"} for i in range(1, n + 1)],
            "appresults": [{"key": "many-files", "name": "Many Files", "files": files}],
            "biosamples": biosamples,
        }
    )
    run_files = [
        {"path": f"Data/D{i // 100:04d}/r{i:0{width}d}.bin", "size": 64, "seed": i}
        for i in range(1, n + 1)
    ]
    return {
        "users": [
            {"key": "bulk", "name": "Bulk User", "email": "bulk@example.com", "tokens": [token]}
        ],
        "projects": projects,
        "runs": [{"name": "Bulk Run", "files": run_files}],
    }
