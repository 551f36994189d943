"""Control files: the ``bs`` CLI's actions as small files in the mount.

:mod:`.base` says what a control file is, :mod:`.registry` lists every one, :mod:`.directory`,
:mod:`.entity` and :mod:`.mount_files` implement them, and :mod:`.service` is the context they
act in (client, error log, ``.await`` polling). No pyfuse3 here: the FUSE adapter
(:mod:`bsmount.fuse.control_io`) opens, collects payloads and applies :class:`Effect`.
"""

from bsmount.controls.base import MAX_PAYLOAD, ControlBinding, ControlFile, Effect
from bsmount.controls.registry import CONTROL_FILES
from bsmount.controls.service import Controls

__all__ = ["CONTROL_FILES", "MAX_PAYLOAD", "ControlBinding", "ControlFile", "Controls", "Effect"]
