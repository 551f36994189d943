"""Every control file bsmount has, in one table: what each is, does and stands for.

========================  ============  ===========================================  ==========
file                      mode          read / write                                 bs command
========================  ============  ===========================================  ==========
``.properties``           rw            all properties as JSON / set properties      property
``.kill``                 rw            current status / stop the analysis           kill
``.await`` (unlisted)     r             blocks until the analysis ends, final JSON   await
``.status``               r             live status                                  get -F
``.refresh``              w             drop cached metadata of the subtree          —
``.trash``                w             ``yes`` moves the entity to the trash        delete
``.restore`` ``.empty``   w             ``yes`` restores a Trash/ item / empties it  restore
``Properties/<name>``     rw            one property's value / set it; ``rm``        property
``.description``          rw            a project's description / set it             create
``.complete`` ``.abort``  w             ``yes`` ends an AppResult's AppSession       complete
(in ``Runs/<new>/``)      w, r          end a run folder's upload; ``.status``       upload run
``.launch``               rw            start an analysis / the new AppSession       launch
``.import``               rw            empty manifest / create the manifest's rows  manifest
``.default-project``      rw            a biosample's default project / move it      —
``.requeue``              w             ask the lab for more of a biosample          requeue
``.qcthresholds`` (.csv)  rw            QC thresholds / import, add, clear           lane, workflow
``.workflowdependencies`` rw            a workflow's dependencies / import, add...   workflow
``.create-workflow``      w             a workflow from an appsession                create
``.error``                r             the last refused action here, and why        —
``.commands``             rw            BaseMount words (refresh, move-to-trash...)  basemount
``.bsmount/stats`` ...    r             statistics, uploads, versions, settings      —
========================  ============  ===========================================  ==========

The directory kinds (:mod:`bsmount.tree.kinds`) say which directories carry which file. The
documentation (docs/control-files.md) is tested against :data:`CONTROL_FILES`, so the two cannot
drift.
"""

from __future__ import annotations

from bsmount.controls.base import ControlFile
from bsmount.controls.directory import ErrorFile, RefreshFile
from bsmount.controls.entity import AwaitFile, KillFile, PropertiesFile, StatusFile, TrashFile
from bsmount.controls.lab_files import DefaultProjectFile, ImportFile, RequeueFile
from bsmount.controls.launch_files import LaunchFile
from bsmount.controls.mount_files import (
    CommandsFile,
    ConfigFile,
    StatsFile,
    UploadsFile,
    VersionFile,
)
from bsmount.controls.project_files import DescriptionFile
from bsmount.controls.property_files import PropertyListFile, PropertyValueFile
from bsmount.controls.run_upload_files import (
    RunUploadAbortFile,
    RunUploadCompleteFile,
    RunUploadStatusFile,
)
from bsmount.controls.threshold_files import (
    CreateWorkflowFile,
    QcThresholdsCsvFile,
    QcThresholdsFile,
    WorkflowDependenciesFile,
)
from bsmount.controls.trash_files import EmptyTrashFile, RestoreFile
from bsmount.controls.upload_files import AbortFile, CompleteFile

__all__ = [
    "ABORT",
    "AWAIT",
    "COMMANDS",
    "COMPLETE",
    "CONFIG",
    "CONTROL_FILES",
    "CREATE_WORKFLOW",
    "DEFAULT_PROJECT",
    "DESCRIPTION",
    "DIRECTORY_FILES",
    "EMPTY_TRASH",
    "ERROR",
    "IMPORT",
    "KILL",
    "LAUNCH",
    "PROPERTIES",
    "PROPERTY_LIST",
    "PROPERTY_VALUE",
    "QC_THRESHOLDS",
    "QC_THRESHOLDS_CSV",
    "REFRESH",
    "REQUEUE",
    "RESTORE",
    "RUN_UPLOAD_ABORT",
    "RUN_UPLOAD_COMPLETE",
    "RUN_UPLOAD_STATUS",
    "STATS",
    "STATUS",
    "TRASH",
    "UPLOADS",
    "VERSION",
    "WORKFLOW_DEPENDENCIES",
    "markdown_table",
]

PROPERTIES = PropertiesFile()
DESCRIPTION = DescriptionFile()
KILL = KillFile()
AWAIT = AwaitFile()
STATUS = StatusFile()
REFRESH = RefreshFile()
TRASH = TrashFile()
RESTORE = RestoreFile()
EMPTY_TRASH = EmptyTrashFile()
PROPERTY_VALUE = PropertyValueFile()
PROPERTY_LIST = PropertyListFile()
COMPLETE = CompleteFile()
ABORT = AbortFile()
RUN_UPLOAD_COMPLETE = RunUploadCompleteFile()
RUN_UPLOAD_ABORT = RunUploadAbortFile()
RUN_UPLOAD_STATUS = RunUploadStatusFile()
IMPORT = ImportFile()
REQUEUE = RequeueFile()
DEFAULT_PROJECT = DefaultProjectFile()
ERROR = ErrorFile()
COMMANDS = CommandsFile()
STATS = StatsFile()
VERSION = VersionFile()
UPLOADS = UploadsFile()
CONFIG = ConfigFile()
QC_THRESHOLDS = QcThresholdsFile()
QC_THRESHOLDS_CSV = QcThresholdsCsvFile()
WORKFLOW_DEPENDENCIES = WorkflowDependenciesFile()
CREATE_WORKFLOW = CreateWorkflowFile()
LAUNCH = LaunchFile()

#: Every control file, in the order of the documentation's table.
CONTROL_FILES: tuple[ControlFile, ...] = (
    PROPERTIES,
    PROPERTY_VALUE,
    PROPERTY_LIST,
    DESCRIPTION,
    KILL,
    AWAIT,
    STATUS,
    LAUNCH,
    REFRESH,
    TRASH,
    RESTORE,
    EMPTY_TRASH,
    COMPLETE,
    ABORT,
    RUN_UPLOAD_COMPLETE,
    RUN_UPLOAD_ABORT,
    RUN_UPLOAD_STATUS,
    IMPORT,
    REQUEUE,
    DEFAULT_PROJECT,
    QC_THRESHOLDS,
    QC_THRESHOLDS_CSV,
    WORKFLOW_DEPENDENCIES,
    CREATE_WORKFLOW,
    ERROR,
    COMMANDS,
    STATS,
    UPLOADS,
    VERSION,
    CONFIG,
)
#: The files present in every directory.
DIRECTORY_FILES: tuple[ControlFile, ...] = (REFRESH, ERROR)


def markdown_table() -> str:
    """The table of docs/control-files.md, made from :data:`CONTROL_FILES` (a test compares)."""
    rows = [
        "| file | where | read | write | `bs` command |",
        "|---|---|---|---|---|",
    ]
    for file in CONTROL_FILES:
        name = f"`.bsmount/{file.name}`" if file.where == "`.bsmount/`" else f"`{file.name}`"
        command = f"`{file.bs_command}`" if file.bs_command else "—"
        rows.append(f"| {name} | {file.where} | {file.reads} | {file.writes} | {command} |")
    return "\n".join(rows) + "\n"
