"""Shared pytest fixtures: real emulator processes.

- ``emulator`` (session): one ``bsmount emulator --seed demo`` process for the whole session. The
  demo's genomics files are cached in the user cache (``$XDG_CACHE_HOME/bsmount/emulator``) so
  they are built once per machine; set ``BSMOUNT_TEST_DATA_DIR`` to use another directory.
  Tests that change its state or add faults must undo it (``emulator.reset()``).
- ``emulator_factory``: starts extra processes with their own seed/options
  (``emulator_factory(seed=path, url_ttl=1)``), stopped at the end of the test.
- ``_no_unexpected_warnings`` (autouse): a test fails at teardown if bsmount logged a WARNING or
  worse (in process, or in the log of a mount) that it did not declare with
  ``@pytest.mark.expect_log_warnings(regex, ...)`` (see :mod:`tests.logcheck`).

No emulator process outlives the session: every :class:`EmulatorProcess` is stopped at session
end and again at interpreter exit.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests import logcheck
from tests.emulator_proc import EmulatorProcess, stop_all


def _data_dir() -> str | None:
    return os.environ.get("BSMOUNT_TEST_DATA_DIR") or None


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    """The demo emulator, shared by the session."""
    proc = EmulatorProcess("demo", data_dir=_data_dir())
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., EmulatorProcess]]:
    """Start emulators with their own options; all are stopped when the test ends."""
    started: list[EmulatorProcess] = []

    def start(seed: str | os.PathLike[str] = "demo", **options: Any) -> EmulatorProcess:
        if seed == "demo":
            options.setdefault("data_dir", _data_dir())
        proc = EmulatorProcess(seed, **options)
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            proc.stop()


def _expected(node: pytest.Item | pytest.Collector) -> list[str]:
    return [regex for marker in node.iter_markers("expect_log_warnings") for regex in marker.args]


def _fail_on(problems: list[str], expected: list[str], when: str) -> None:
    left = logcheck.unexpected(problems, expected)
    if left:
        shown = "\n".join(p[-2000:] for p in left[:20])
        pytest.fail(
            f"{len(left)} unexpected warning(s) logged {when} (declare expected ones with"
            f" @pytest.mark.expect_log_warnings(regex)):\n{shown}",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _no_unexpected_warnings(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if bsmount warned without the test declaring it (see tests/logcheck.py)."""
    collector = logcheck.RecordCollector()
    logger = logging.getLogger("bsmount")
    logger.addHandler(collector)
    try:
        yield
    finally:
        logger.removeHandler(collector)
    problems = [logcheck.format_record(r) for r in collector.records]
    _fail_on(problems + logcheck.take_problems(), _expected(request.node), "during the test")


@pytest.fixture(scope="module", autouse=True)
def _no_unexpected_warnings_at_module_end(request: pytest.FixtureRequest) -> Iterator[None]:
    """The same for what module-scoped mounts log after the module's last test (their
    shutdown); only the module's own ``pytestmark`` declarations apply."""
    yield
    _fail_on(logcheck.take_problems(), _expected(request.node), "at the end of the module")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_all()
