"""Every directory kind of bsmount.tree.kinds, reached through the FUSE handlers over the demo
account: what each lists, its control files, and that the walk meets every declared kind."""

from __future__ import annotations

import stat
from collections import deque

import pyfuse3
import pytest

from bsmount.controls.registry import DIRECTORY_FILES
from bsmount.emulator.seeds.demo import GENOMICS_PROJECT
from bsmount.tree.kinds import KINDS
from bsmount.tree.layout import ENTITY_META_FILES, EntityDirKind, StaticDirKind
from bsmount.tree.nodes import DirKind
from tests.fs.conftest import FS

# the demo account has odd names on purpose (duplicates, "/", ".."): renamed and reported once
pytestmark = pytest.mark.expect_log_warnings(
    r"WARNING bsmount\.tree\.oddities: odd entries from the server in .*name\(s\) changed"
)

PER_LIST = 2  # entities visited per list: enough to meet every kind, fast
DYNAMIC = [  # names no listing shows, looked up like a user would
    "Search/samples/*",
    'Search/genomes/speciesname:"homo sapiens"',
    ".ResourceById/projects/20000001",
    ".ResourceById/appsessions/60000001",
    ".ResourceById/genomes/4",
    f"Projects/{GENOMICS_PROJECT}/Datasets/.type",  # list filters: dot names, after entities
    f"Projects/{GENOMICS_PROJECT}/AppSessions/.status",
]


async def _walk(
    fs: FS, extra: tuple[str, ...] = ()
) -> dict[DirKind, list[tuple[str, dict[str, object]]]]:
    """Breadth-first over directories (not symlinks): kind → [(path, listing)]."""
    seen: dict[DirKind, list[tuple[str, dict[str, object]]]] = {}
    queue = deque(["", *DYNAMIC, *extra])
    visited: set[str] = set()
    while queue:
        path = queue.popleft()
        if path in visited:
            continue
        visited.add(path)
        node = fs.node(await fs.ino(path))
        assert node.spec is not None, path
        entries = await fs.listdir(path)
        seen.setdefault(node.spec.kind, []).append((path, entries))
        if len(seen[node.spec.kind]) > PER_LIST:
            continue
        dirs = [
            name
            for name, attrs in entries.items()
            if stat.S_ISDIR(attrs.st_mode)  # type: ignore[attr-defined]
        ]
        for name in dirs[:PER_LIST] if node.spec.kind.name in LISTS else dirs:
            queue.append(f"{path}/{name}" if path else name)
    return seen


LISTS = {name for name in KINDS if name.endswith(("s", "_files", "folder"))}


async def test_the_walk_meets_every_declared_kind(fs: FS) -> None:
    # a run folder being copied into Runs/ (kind run_upload) exists only once made
    await fs.ops.mkdir(await fs.ino("Runs"), b"FS run folder", 0o755, fs_ctx())
    await fs.ops.mkdir(await fs.ino("Runs/FS run folder"), b"Data", 0o755, fs_ctx())
    seen = await _walk(fs, ("Runs/FS run folder",))
    assert {kind.name for kind in seen} == set(KINDS)
    for kind, visits in seen.items():
        assert KINDS[kind.name] is kind  # one object per kind, the registry's
        for path, entries in visits:
            names = set(entries)
            if kind.name != "bsmount":
                assert {f.name for f in DIRECTORY_FILES} <= names, path
            if isinstance(kind, EntityDirKind) and kind.name != "bsmount":
                assert set(ENTITY_META_FILES) <= names, path
            if isinstance(kind, StaticDirKind):
                declared = {f.name for f in kind.files if not f.unlisted}
                assert declared <= names, (path, declared - names)
                hidden = {f.name for f in kind.files if f.unlisted}
                assert not hidden & names, path  # unlisted files (.await) stay out of readdir
                for sub, _sub_kind in kind.subdirs:
                    assert sub in names, (path, sub)


async def test_names_and_links_of_entity_lists(fs: FS) -> None:
    projects = await fs.listdir("Projects")
    links = {name: attrs for name, attrs in projects.items() if name.startswith(".id.")}
    assert ".id.20000001" in links
    assert stat.S_ISLNK(links[".id.20000001"].st_mode)  # type: ignore[attr-defined]
    target = await fs.ops.readlink(await fs.ino("Projects/.id.20000001"), None)  # type: ignore[arg-type]
    assert target.decode() in projects
    project = await fs.listdir(f"Projects/{target.decode()}")
    assert {"AppResults", "AppSessions", "BioSamples", "Datasets", "Samples"} <= set(project)
    assert (await fs.read(f"Projects/{target.decode()}/.id")) == b"20000001\n"


async def test_appsession_links_point_at_the_project_entities(fs: FS) -> None:
    base = "Projects/.id.20000001"
    name = (await fs.ops.readlink(await fs.ino(base), None)).decode()  # type: ignore[arg-type]
    sessions = await fs.listdir(f"Projects/{name}/AppSessions")
    produced = 0
    for session in [n for n in sessions if not n.startswith(".")]:
        for sub in ("AppResults", "Datasets"):
            for link_name in [
                n
                for n in await fs.listdir(f"Projects/{name}/AppSessions/{session}/{sub}")
                if not n.startswith(".")
            ]:
                path = f"Projects/{name}/AppSessions/{session}/{sub}/{link_name}"
                target = (await fs.ops.readlink(await fs.ino(path), None)).decode()  # type: ignore[arg-type]
                assert target == f"../../../{sub}/{link_name}"
                assert link_name in await fs.listdir(f"Projects/{name}/{sub}")
                produced += 1
    assert produced >= 1


@pytest.mark.expect_log_warnings(
    r"samples '99999999' refused in '\.ResourceById/samples': no such id",
    r"lookup\(.*b'99999999'.*\) -> ENOENT: no such id",
)
async def test_unknown_dynamic_names_are_enoent_with_a_reason(fs: FS) -> None:
    types = await fs.ino(".ResourceById/samples")
    code = await fs.errno_of(fs.ops.lookup(types, b"99999999", None))  # type: ignore[arg-type]
    assert code == 2  # ENOENT
    assert "no such id" in await fs.error_text(".ResourceById/samples")
    assert await fs.errno_of(fs.ops.lookup(pyfuse3.ROOT_INODE, b"nothing", None)) == 2  # type: ignore[arg-type]


@pytest.mark.expect_log_warnings(
    r"mkdir refused in 'Projects': a project named 'FS tier project' already exists",
    r"mkdir\(.*\) -> EEXIST: a project named 'FS tier project' already exists",
)
async def test_mkdir_creates_a_project_only_where_the_kind_allows(fs: FS) -> None:
    projects = await fs.ino("Projects")
    attrs = await fs.ops.mkdir(projects, b"FS tier project", 0o755, fs_ctx())
    assert stat.S_ISDIR(attrs.st_mode)
    assert "FS tier project" in await fs.listdir("Projects")
    again = fs.ops.mkdir(projects, b"FS tier project", 0o755, fs_ctx())
    assert await fs.errno_of(again) == 17  # EEXIST, and why in Projects/.error
    assert "already exists" in await fs.error_text("Projects")
    trash = await fs.ino("Trash")
    assert await fs.errno_of(fs.ops.mkdir(trash, b"x", 0o755, fs_ctx())) == 30  # EROFS


def fs_ctx() -> object:
    from tests.fs.conftest import CTX

    return CTX
