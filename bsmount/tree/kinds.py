"""Every directory bsmount can show, in one table: what each kind holds, and how they nest.

========================  ==========================================================
kind                      what a directory of it holds
========================  ==========================================================
root                      Projects/ Runs/ BioSamples/ Search/ Trash/ .ResourceById/
                          Applications/ AppSessions/
                          .bsmount/ README .commands
projects, runs,           one directory per entity (+ ``.id.<id>`` links); ``mkdir``
biosamples                in ``Projects/`` creates a project
project                   AppResults/ AppSessions/ BioSamples/ Datasets/ Samples/
project_* lists           the project's entities of one type; every list also holds
                          ``.list.csv .list.json .headers`` (what ``bs list`` prints)
dataset_types,            ``Datasets/.type/<DatasetTypeId>/``,
appsession_statuses       ``AppSessions/.status/<ExecutionStatus>/``: symlinks to the list's
                          entries with that value (:mod:`.filter_layout`)
sample, appresult,        Files/ (+ metadata and control files)
dataset
biosample                 AppSessions/ (links) Datasets/ LabRequeues/ Libraries/
                          ``.requeue``; ``mkdir`` in a project's ``BioSamples/``
                          creates one, ``BioSamples/.import`` a manifest's (lab_layout)
run                       Files/ (the run folder, listed ahead of walkers) Lanes/
run_lanes, lane           Lanes/<n>/: .json .qc per lane (:mod:`.lane_layout`); ``Runs/`` holds
                          .qcthresholds .qcthresholds.csv (the account's lane QC thresholds)
appsession                AppResults/ Datasets/: symlinks to what it produced; Inputs/ Logs/
*_files                   a Files tree built from one file listing
run_folder                one directory of a run folder per request
run_upload                a run folder being copied into ``Runs/`` (``bs upload run``)
search_*                  Search/<scope>/<query>/ results as symlinks
resource_*                .ResourceById/<type>/<id>/
meta_entity               an entity with no place (a genome): metadata files only
bsmount                   .bsmount/: stats version config
*_properties              <entity>/Properties/: one file per property (read, write, rm)
trash, trash_item         Trash/: one directory per item, ``.restore`` in each; ``.empty``
applications, application Applications/<app>/ (.form .form.json .launch, Versions/<v>/)
account_appsessions       AppSessions/<s>/: every analysis; Logs/ (growing) Inputs/ Outputs/
========================  ==========================================================

Every entity directory also holds ``.id .type .name .href .json .curl`` and ``Properties/``
(:mod:`.property_layout`; ``Trash/`` is :mod:`.trash_layout`'s), every directory
``.refresh`` and ``.error`` (:mod:`bsmount.controls.registry` lists the control files). The
behaviour of each sort of kind lives in :mod:`.layout` (entities), :mod:`.file_layout` (files),
:mod:`.search_layout` and :mod:`.resource_layout`; this module only declares and wires them.
:data:`KINDS` is the whole table, by name.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from bsmount.api import applications, lab
from bsmount.controls.property_files import PROPERTIES_DIR
from bsmount.controls.registry import (
    ABORT,
    AWAIT,
    COMMANDS,
    COMPLETE,
    CONFIG,
    CREATE_WORKFLOW,
    DEFAULT_PROJECT,
    DESCRIPTION,
    EMPTY_TRASH,
    KILL,
    LAUNCH,
    PROPERTIES,
    PROPERTY_LIST,
    PROPERTY_VALUE,
    QC_THRESHOLDS,
    QC_THRESHOLDS_CSV,
    REQUEUE,
    RESTORE,
    STATS,
    STATUS,
    TRASH,
    UPLOADS,
    VERSION,
    WORKFLOW_DEPENDENCIES,
)
from bsmount.controls.trash_files import TRASH_DIR
from bsmount.tree.app_layout import ApplicationDirKind, ApplicationVersionsKind
from bsmount.tree.appsession_layout import (
    AppSessionDirKind,
    AppSessionInputsKind,
    AppSessionLogsKind,
    AppSessionOutputsKind,
)
from bsmount.tree.file_layout import FilesKind, RunFolderKind
from bsmount.tree.filter_layout import FilterKind, FilterValueKind, ResourceLinkListKind
from bsmount.tree.id_layout import DatasetDirKind, V1EntityDirKind
from bsmount.tree.lab_layout import BioSampleListKind, ProjectBioSampleListKind
from bsmount.tree.lane_layout import LaneDirKind, LaneListKind
from bsmount.tree.layout import (
    AppResultListKind,
    AppSessionLinksKind,
    EntityDirKind,
    EntityListKind,
    MetaEntityKind,
    ProjectListKind,
    RootKind,
    SampleListKind,
    StaticDirKind,
)
from bsmount.tree.nodes import DirKind
from bsmount.tree.property_layout import PropertiesKind
from bsmount.tree.resource_layout import (
    ROOT_NAME,
    ResourceLinksKind,
    ResourceRootKind,
    ResourceTypeKind,
)
from bsmount.tree.run_upload_layout import RunListKind, RunUploadKind
from bsmount.tree.search_layout import SearchQueryKind, SearchRootKind, SearchScopeKind
from bsmount.tree.trash_layout import TrashItemKind, TrashListKind

__all__ = ["KINDS", "README_TEXT", "ROOT"]  # and each kind by its constant

README_TEXT = """\
bsmount — an Illumina BaseSpace Sequence Hub account as a filesystem

  Projects/<project>/{Samples,AppResults,AppSessions,Datasets,BioSamples}/<entity>/Files/...
  Runs/<run>/Files/<run folder>      BioSamples/<biosample>/Datasets/<dataset>/Files/...
  Search/<scope>/<query>/            Search API results as symlinks (docs/search.md)
  .ResourceById/<type>/<id>/         any entity by its id
  Applications/<app>/.launch         launch an analysis (.form lists its inputs)
  AppSessions/<analysis>/Logs/       every analysis of the account, logs readable as they grow
  Runs/<run>/Lanes/<n>/.qc           a lane's QC; Runs/.qcthresholds: lane thresholds (docs/lab.md)
  BioSamples/.import                 create biosamples from a manifest; <b>/.requeue (docs/lab.md)
  cp -r <run folder> Runs/           upload a run, then `echo yes > Runs/<name>/.complete`
  Trash/<item>/                      the trash: `echo yes > .restore` brings an item back

Every entity directory holds .id .type .name .href .json .curl; every list holds
.id.<id> symlinks. Files stream on demand by HTTP range: nothing is downloaded at open.
Listings are cached for the metadata TTL (see `mount --metadata-ttl`).
Documentation: docs/usage.md and docs/semantics.md in the bsmount repository.
"""

# -- the control files of each entity type ---------------------------------------------------------

_ENTITY = (PROPERTIES, TRASH)
_WITH_STATUS = (PROPERTIES, TRASH, STATUS)
_APPSESSION = (PROPERTIES, TRASH, STATUS, KILL, AWAIT, CREATE_WORKFLOW)
_APPRESULT = (PROPERTIES, TRASH, STATUS, COMPLETE, ABORT)


class _RunDirKind(EntityDirKind):
    """A run: its ``Files`` (the run folder) is listed ahead of walkers."""

    prefetch_children: ClassVar[bool] = True


# -- files -----------------------------------------------------------------------------------------

SAMPLE_FILES = FilesKind(
    "sample_files", "a sample's files", fetch=lambda c, i: c.list_sample_files(i)
)
APPRESULT_FILES = FilesKind(
    "appresult_files",
    "an appresult's files; files can be written into it while its appsession runs",
    fetch=lambda c, i: c.list_appresult_files(i),
    accepts_uploads=True,
)
DATASET_FILES = FilesKind(
    "dataset_files", "a dataset's files", fetch=lambda c, i: c.list_dataset_files(i)
)
RUN_FOLDER = RunFolderKind("run_folder", "one directory of a run folder")

# -- Properties/ (one kind per entity type: the listing call needs the type) -----------------------


def _properties(entity_kind: str, singular: str) -> PropertiesKind:
    return PropertiesKind(
        f"{singular}_properties",
        f"one file per property of the {singular} (read, write, rm)",
        entity_kind=entity_kind,
        value_file=PROPERTY_VALUE,
        list_file=PROPERTY_LIST,
    )


PROJECT_PROPERTIES = _properties("projects", "project")
SAMPLE_PROPERTIES = _properties("samples", "sample")
APPRESULT_PROPERTIES = _properties("appresults", "appresult")
RUN_PROPERTIES = _properties("runs", "run")
APPSESSION_PROPERTIES = _properties("appsessions", "appsession")
BIOSAMPLE_PROPERTIES = _properties("biosamples", "biosample")
DATASET_PROPERTIES = _properties("datasets", "dataset")

# -- entities --------------------------------------------------------------------------------------

SAMPLE = V1EntityDirKind(
    "sample",
    "Files/ (+ .v2id where a dataset is also this sample)",
    subdirs=[("Files", SAMPLE_FILES), (PROPERTIES_DIR, SAMPLE_PROPERTIES)],
    files=_WITH_STATUS,
)
APPRESULT = EntityDirKind(
    "appresult",
    "Files/ (+ .complete .abort while its appsession runs)",
    subdirs=[("Files", APPRESULT_FILES), (PROPERTIES_DIR, APPRESULT_PROPERTIES)],
    files=_APPRESULT,
)
DATASET = DatasetDirKind(
    "dataset",
    "Files/ (+ .attributes.json, and .v1id where it is also a v1 sample)",
    subdirs=[("Files", DATASET_FILES), (PROPERTIES_DIR, DATASET_PROPERTIES)],
    files=_ENTITY,
)
LANE = LaneDirKind("lane", "a lane of a run: .json .qc (+ metadata files)")
RUN_LANES = LaneListKind(
    "run_lanes", "one directory per lane of the run, by number (+ .qc.csv)", child=LANE
)
RUN = _RunDirKind(
    "run",
    "Files/ (the run folder) Lanes/",
    subdirs=[("Files", RUN_FOLDER), ("Lanes", RUN_LANES), (PROPERTIES_DIR, RUN_PROPERTIES)],
    files=_WITH_STATUS,
)

# -- filters of lists (filter_layout): .type/ of datasets, .status/ of appsessions -------------

DATASET_TYPE = FilterValueKind(
    "dataset_type",
    "symlinks to the list's datasets of one DatasetType.Id (+ .list.csv .list.json .headers)",
    value_of=lambda d: d.dataset_type,
)
DATASET_TYPES = FilterKind(
    "dataset_types", "one directory per DatasetType.Id in the list", value=DATASET_TYPE
)
APPSESSION_STATUS = FilterValueKind(
    "appsession_status",
    "symlinks to the list's appsessions of one ExecutionStatus (+ .list.csv ...)",
    value_of=lambda s: s.status,
)
APPSESSION_STATUSES = FilterKind(
    "appsession_statuses",
    "one directory per ExecutionStatus (those present and the usual ones)",
    value=APPSESSION_STATUS,
    known=("Aborted", "Complete", "NeedsAttention", "Running", "TimedOut"),
)
_DATASET_FILTERS = [(".type", DATASET_TYPES)]

BIOSAMPLE_DATASETS = EntityListKind(
    "biosample_datasets",
    "the biosample's datasets",
    child=DATASET,
    fetch=lambda c, a: c.list_datasets(biosample_id=a[0]),
    filters=_DATASET_FILTERS,
)

PROJECT_APPRESULTS = AppResultListKind(
    "project_appresults",
    "the project's appresults; mkdir NAME creates one to write files into",
    child=APPRESULT,
    fetch=lambda c, a: c.list_appresults(a[0]),
)
PROJECT_DATASETS = EntityListKind(
    "project_datasets",
    "the project's datasets",
    child=DATASET,
    fetch=lambda c, a: c.list_datasets(project_id=a[0]),
    filters=_DATASET_FILTERS,
)
APPSESSION_APPRESULTS = AppSessionLinksKind(
    "appsession_appresults",
    "symlinks to the appresults it produced",
    sibling_dir="AppResults",
    sibling=PROJECT_APPRESULTS,
)
APPSESSION_DATASETS = AppSessionLinksKind(
    "appsession_datasets",
    "symlinks to the datasets it produced",
    sibling_dir="Datasets",
    sibling=PROJECT_DATASETS,
)
APPSESSION_LOGS = AppSessionLogsKind(
    "appsession_logs", "an analysis's log files, readable while they grow (tail -f)"
)
APPSESSION_INPUTS = AppSessionInputsKind(
    "appsession_inputs", "symlinks to the entities the analysis was launched on"
)
APPSESSION_OUTPUTS = AppSessionOutputsKind(
    "appsession_outputs", "symlinks to the appresults and datasets the analysis produced"
)
APPSESSION = AppSessionDirKind(
    "appsession",
    "AppResults/ Datasets/ (symlinks to its outputs) Inputs/ Logs/",
    subdirs=[
        ("AppResults", APPSESSION_APPRESULTS),
        ("Datasets", APPSESSION_DATASETS),
        ("Inputs", APPSESSION_INPUTS),
        ("Logs", APPSESSION_LOGS),
        (PROPERTIES_DIR, APPSESSION_PROPERTIES),
    ],
    files=_APPSESSION,
)
PROJECT_APPSESSIONS = EntityListKind(
    "project_appsessions",
    "the project's appsessions",
    child=APPSESSION,
    fetch=lambda c, a: c.list_appsessions(a[0]),
    filters=[(".status", APPSESSION_STATUSES)],
)

# -- a biosample's lab: Libraries/ LabRequeues/ (lab_layout) ---------------------------------------

LIBRARY = EntityDirKind("library", "a library of a biosample: metadata files (.json ...)")
LAB_REQUEUE = EntityDirKind(
    "lab_requeue", "a lab requeue of a biosample, named by its id: metadata files (.json ...)"
)
BIOSAMPLE_LIBRARIES = EntityListKind(
    "biosample_libraries",
    "the biosample's libraries (bs list libraries)",
    child=LIBRARY,
    fetch=lambda c, a: lab.list_libraries(c, a[0]),
)
BIOSAMPLE_LAB_REQUEUES = EntityListKind(
    "biosample_lab_requeues",
    "the biosample's lab requeues, by id (.requeue in the biosample adds one)",
    child=LAB_REQUEUE,
    fetch=lambda c, a: lab.list_lab_requeues(c, a[0]),
)

BIOSAMPLE_APPSESSIONS = ResourceLinkListKind(
    "biosample_appsessions",
    "symlinks to the appsessions that used the biosample as input (.ResourceById)",
    child=APPSESSION,
    fetch=lambda c, a: c.list_appsessions(input_biosample=a[0]),
    resource_type="appsessions",
    resource_root=ROOT_NAME,
)
BIOSAMPLE = EntityDirKind(
    "biosample",
    "AppSessions/ Datasets/ LabRequeues/ Libraries/ (+ .requeue .default-project)",
    subdirs=[
        ("AppSessions", BIOSAMPLE_APPSESSIONS),
        ("Datasets", BIOSAMPLE_DATASETS),
        ("LabRequeues", BIOSAMPLE_LAB_REQUEUES),
        ("Libraries", BIOSAMPLE_LIBRARIES),
        (PROPERTIES_DIR, BIOSAMPLE_PROPERTIES),
    ],
    files=(*_ENTITY, REQUEUE, DEFAULT_PROJECT),
)
PROJECT_BIOSAMPLES = ProjectBioSampleListKind(
    "project_biosamples",
    "the project's biosamples; mkdir NAME creates one (+ .import: a manifest)",
    child=BIOSAMPLE,
    fetch=lambda c, a: c.list_biosamples(a[0]),
)
PROJECT_SAMPLES = SampleListKind(
    "project_samples",
    "the project's samples; FASTQ files copied in become samples",
    child=SAMPLE,
    fetch=lambda c, a: c.list_samples(a[0]),
)
PROJECT = EntityDirKind(
    "project",
    "AppResults/ AppSessions/ BioSamples/ Datasets/ Samples/",
    subdirs=[
        ("AppResults", PROJECT_APPRESULTS),
        ("AppSessions", PROJECT_APPSESSIONS),
        ("BioSamples", PROJECT_BIOSAMPLES),
        ("Datasets", PROJECT_DATASETS),
        ("Samples", PROJECT_SAMPLES),
        (PROPERTIES_DIR, PROJECT_PROPERTIES),
    ],
    files=(*_ENTITY, DESCRIPTION),
)
META_ENTITY = MetaEntityKind("meta_entity", "metadata files of an entity with no place (genomes)")

# -- the top level ---------------------------------------------------------------------------------

PROJECTS = ProjectListKind(
    "projects", "one directory per project", child=PROJECT, fetch=lambda c, a: c.list_projects()
)
RUNS = RunListKind(
    "runs",
    "one directory per run; a run folder copied in (cp -r, mkdir) is uploaded as a run",
    child=RUN,
    fetch=lambda c, a: c.list_runs(),
    files=[QC_THRESHOLDS, QC_THRESHOLDS_CSV],  # the account's lane thresholds
)
RUN_UPLOAD = RunUploadKind(
    "run_upload",
    "a run folder being copied into Runs/ (local until sent; + .complete .abort .status)",
)
BIOSAMPLES = BioSampleListKind(
    "biosamples",
    "one directory per biosample (+ .import: a manifest creates biosamples)",
    child=BIOSAMPLE,
    fetch=lambda c, a: c.list_biosamples(),
)

# -- Search/ ---------------------------------------------------------------------------------------

SEARCH_QUERY = SearchQueryKind(
    "search_query", "the query's results, as symlinks", meta=META_ENTITY, resource_root=ROOT_NAME
)
SEARCH_SCOPE = SearchScopeKind(
    "search_scope", "nothing listed; a name looked up is a query", query=SEARCH_QUERY
)
SEARCH = SearchRootKind("search_root", "the Search API's scopes", scope=SEARCH_SCOPE)

# -- .ResourceById/ --------------------------------------------------------------------------------

RESOURCE_APPRESULT_LINKS = ResourceLinksKind(
    "resource_appresult_links",
    "symlinks to an appsession's appresults by id",
    output_type="appresults",
)
RESOURCE_DATASET_LINKS = ResourceLinksKind(
    "resource_dataset_links", "symlinks to an appsession's datasets by id", output_type="datasets"
)
RESOURCE_APPSESSION = AppSessionDirKind(
    "resource_appsession",
    "an appsession by id: AppResults/ Datasets/ (symlinks by id) Inputs/ Logs/",
    subdirs=[
        ("AppResults", RESOURCE_APPRESULT_LINKS),
        ("Datasets", RESOURCE_DATASET_LINKS),
        ("Inputs", APPSESSION_INPUTS),
        ("Logs", APPSESSION_LOGS),
        (PROPERTIES_DIR, APPSESSION_PROPERTIES),
    ],
    files=_APPSESSION,
)
RESOURCE_TYPE = ResourceTypeKind(
    "resource_type",
    "nothing listed; an id looked up is that entity",
    entity_kinds={
        "projects": PROJECT,
        "runs": RUN,
        "samples": SAMPLE,
        "appresults": APPRESULT,
        "biosamples": BIOSAMPLE,
        "datasets": DATASET,
        "appsessions": RESOURCE_APPSESSION,
    },
    meta=META_ENTITY,
)
RESOURCE_BY_ID = ResourceRootKind(
    "resource_root", "one directory per entity type", type_kind=RESOURCE_TYPE
)

# -- Trash/ ----------------------------------------------------------------------------------------

_ANYWHERE = ((ROOT_NAME,), ("Search",))  # found by id or by a search
TRASH_ITEM = TrashItemKind(
    "trash_item",
    "an item in the trash: metadata files, TrashItemType, .restore",
    files=[RESTORE],
    places={  # where a restored entity shows again (listings refreshed)
        "projects": (("Projects",), *_ANYWHERE),
        "runs": (("Runs",), *_ANYWHERE),
        "samples": (("Projects",), *_ANYWHERE),
        "appresults": (("Projects",), *_ANYWHERE),
        "appsessions": (("Projects",), *_ANYWHERE),
        "datasets": (("Projects",), ("BioSamples",), *_ANYWHERE),
        "biosamples": (("Projects",), ("BioSamples",), *_ANYWHERE),
    },
)
TRASH_LIST = TrashListKind(
    "trash", "one directory per item in the trash (+ .empty)", child=TRASH_ITEM, files=[EMPTY_TRASH]
)

# -- Applications/ and the account's AppSessions/ (app_layout, appsession_layout) -----------------

#: The control files of an application directory (and of each of its versions), in one place.
APPLICATION_FILES = [LAUNCH]
#: What an analysis workflow's directory adds (bs workflow threshold / dependency).
WORKFLOW_FILES = [QC_THRESHOLDS, QC_THRESHOLDS_CSV, WORKFLOW_DEPENDENCIES]
APPLICATION_VERSION = ApplicationDirKind(
    "application_version",
    "one version of an application: .form .form.json .launch (+ metadata files)",
    files=APPLICATION_FILES,
    workflow_files=WORKFLOW_FILES,
)
APPLICATION_VERSIONS = ApplicationVersionsKind(
    "application_versions",
    "one directory per version of the application, by version number",
    child=APPLICATION_VERSION,
)
APPLICATION = ApplicationDirKind(
    "application",
    "Versions/ .form .form.json .launch (its latest version)",
    subdirs=[("Versions", APPLICATION_VERSIONS)],
    files=APPLICATION_FILES,
    workflow_files=WORKFLOW_FILES,
)
APPLICATIONS = EntityListKind(
    "applications",
    "one directory per application (bs list applications)",
    child=APPLICATION,
    fetch=lambda c, a: applications.list_applications(cast(Any, c)),
)
ACCOUNT_APPSESSION = AppSessionDirKind(
    "account_appsession",
    "Inputs/ Logs/ Outputs/ (+ .status .kill .await .properties)",
    subdirs=[
        ("Inputs", APPSESSION_INPUTS),
        ("Logs", APPSESSION_LOGS),
        ("Outputs", APPSESSION_OUTPUTS),
        (PROPERTIES_DIR, APPSESSION_PROPERTIES),
    ],
    files=_APPSESSION,
)
ACCOUNT_APPSESSIONS = EntityListKind(
    "account_appsessions",
    "every appsession of the account (bs list appsessions), .status/<status>/ filters",
    child=ACCOUNT_APPSESSION,
    fetch=lambda c, a: c.list_appsessions(),
    filters=[(".status", APPSESSION_STATUSES)],
)

# -- the root --------------------------------------------------------------------------------------

BSMOUNT = StaticDirKind(
    "bsmount",
    "the mount's stats, version and config",
    files=[STATS, UPLOADS, VERSION, CONFIG],
    directory_files=False,
)
ROOT = RootKind(
    "root",
    "the mount's root",
    subdirs=[
        ("AppSessions", ACCOUNT_APPSESSIONS),
        ("Applications", APPLICATIONS),
        ("BioSamples", BIOSAMPLES),
        ("Projects", PROJECTS),
        ("Runs", RUNS),
        ("Search", SEARCH),
        (TRASH_DIR, TRASH_LIST),
        (ROOT_NAME, RESOURCE_BY_ID),
        (".bsmount", BSMOUNT),
    ],
    files=[COMMANDS],
    readme=README_TEXT,
)

#: Every directory kind, by name.
KINDS: dict[str, DirKind] = {
    kind.name: kind
    for kind in (
        ROOT,
        PROJECTS,
        RUNS,
        RUN_UPLOAD,
        BIOSAMPLES,
        PROJECT,
        PROJECT_APPRESULTS,
        PROJECT_APPSESSIONS,
        PROJECT_BIOSAMPLES,
        PROJECT_DATASETS,
        PROJECT_SAMPLES,
        SAMPLE,
        APPRESULT,
        DATASET,
        BIOSAMPLE,
        BIOSAMPLE_DATASETS,
        BIOSAMPLE_APPSESSIONS,
        BIOSAMPLE_LIBRARIES,
        BIOSAMPLE_LAB_REQUEUES,
        LIBRARY,
        LAB_REQUEUE,
        DATASET_TYPES,
        DATASET_TYPE,
        APPSESSION_STATUSES,
        APPSESSION_STATUS,
        RUN,
        RUN_LANES,
        LANE,
        APPSESSION,
        APPSESSION_APPRESULTS,
        APPSESSION_DATASETS,
        SAMPLE_FILES,
        APPRESULT_FILES,
        DATASET_FILES,
        RUN_FOLDER,
        META_ENTITY,
        SEARCH,
        SEARCH_SCOPE,
        SEARCH_QUERY,
        RESOURCE_BY_ID,
        RESOURCE_TYPE,
        RESOURCE_APPSESSION,
        RESOURCE_APPRESULT_LINKS,
        RESOURCE_DATASET_LINKS,
        PROJECT_PROPERTIES,
        SAMPLE_PROPERTIES,
        APPRESULT_PROPERTIES,
        RUN_PROPERTIES,
        APPSESSION_PROPERTIES,
        BIOSAMPLE_PROPERTIES,
        DATASET_PROPERTIES,
        TRASH_LIST,
        TRASH_ITEM,
        BSMOUNT,
        APPLICATIONS,
        APPLICATION,
        APPLICATION_VERSIONS,
        APPLICATION_VERSION,
        ACCOUNT_APPSESSIONS,
        ACCOUNT_APPSESSION,
        APPSESSION_LOGS,
        APPSESSION_INPUTS,
        APPSESSION_OUTPUTS,
    )
}
