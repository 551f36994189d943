"""Fixtures for the system tests (how bsmount fits mount(8), fstab, systemd, a wheel, a shell).

``bs_home``: a temporary HOME whose ``~/.basespace/emu.cfg`` (mode 0600) points at the session's
demo emulator, as ``bsmount auth -c emu`` would have written it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bsmount.config import write_config


@pytest.fixture
def bs_home(emulator: Any, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    write_config(home / ".basespace" / "emu.cfg", emulator.url, emulator.token)
    assert os.stat(home / ".basespace" / "emu.cfg").st_mode & 0o777 == 0o600
    return home
