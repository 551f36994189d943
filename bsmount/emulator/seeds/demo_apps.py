"""The demo seed's application catalogue (:data:`DEMO_APPLICATIONS`) and one earlier AppSession
per app (:func:`earlier_sessions`), so a client can derive launch options the way BaseSpacePy does
(from the ``Input.*`` properties of the user's last session of that app).

Four apps, two versions each (every version its own application Id, as on BaseSpace):

=================  ==================================  ================  ==================
app                slug                                versions (Id)     runner
=================  ==================================  ================  ==================
FASTQ Toolkit      illumina-inc.fastq-toolkit          2.2.0 (5345347),  fastq-toolkit
                                                       2.2.5 (8920913)
BWA Aligner        illumina-inc.bwa-aligner            1.0.0 (3946944),  aligner
                                                       1.1.4 (6174178)
DRAGEN Germline    illumina-inc.dragen-germline        3.9.5 (7455450),  germline-caller
                                                       3.10.4 (12144141)
FastQC             illumina-inc.fastqc                 1.0.0 (4193193),  qc-report
                                                       1.1.0 (9632632)
=================  ==================================  ================  ==================

Their forms are in docs/emulator.md ("Applications and launches").
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ALIGNER_ID",
    "CALLER_ID",
    "DEMO_APPLICATIONS",
    "FASTQ_TOOLKIT_ID",
    "QC_ID",
    "earlier_sessions",
]

FASTQ_TOOLKIT_ID = "8920913"
ALIGNER_ID = "6174178"
CALLER_ID = "12144141"
QC_ID = "9632632"


def _session_name(default: str) -> dict[str, Any]:
    return {
        "id": "app-session-name",
        "type": "string",
        "label": "Analysis Name",
        "default": default,
        "description": "Name of the analysis (the AppSession)",
    }


_PROJECT = {"id": "project-id", "type": "project", "label": "Save Results To", "required": True}

DEMO_APPLICATIONS: list[dict[str, Any]] = [
    {
        "name": "FASTQ Toolkit",
        "slug": "illumina-inc.fastq-toolkit",
        "runner": "fastq-toolkit",
        "short_description": "Trim adapters and low-quality bases, filter reads by length",
        "classifications": ["Read Manipulation", "Quality Control"],
        "homepage": "https://basespace.illumina.com/apps/8920913/FASTQ-Toolkit",
        "versions": [
            {"id": "5345347", "version": "2.2.0", "date_published": "2017-03-14T00:00:00Z"},
            {"id": FASTQ_TOOLKIT_ID, "version": "2.2.5", "date_published": "2019-06-04T00:00:00Z"},
        ],
        "form": [
            _session_name("FASTQ Toolkit [LocalDateTime]"),
            _PROJECT,
            {"id": "sample-id", "type": "sample[]", "label": "Sample(s)", "required": True},
            {"id": "adapter-trimming", "type": "checkbox", "label": "Adapter Trimming",
             "choices": ["1"], "default": ["1"]},
            {"id": "quality-cutoff", "type": "integer", "label": "Base Quality Trim (3')",
             "default": "20"},
            {"id": "min-read-length", "type": "integer", "label": "Minimum Read Length",
             "default": "32"},
        ],
    },
    {
        "name": "BWA Aligner",
        "slug": "illumina-inc.bwa-aligner",
        "runner": "aligner",
        "short_description": "Align reads with BWA-MEM and sort them into an indexed BAM",
        "classifications": ["Alignment"],
        "versions": [
            {"id": "3946944", "version": "1.0.0", "date_published": "2016-09-20T00:00:00Z"},
            {"id": ALIGNER_ID, "version": "1.1.4", "date_published": "2018-11-06T00:00:00Z"},
        ],
        "form": [
            _session_name("BWA Aligner [LocalDateTime]"),
            _PROJECT,
            {"id": "sample-id", "type": "sample[]", "label": "Sample(s)", "required": True},
            {"id": "genome-id", "type": "select", "label": "Reference Genome",
             "choices": ["hg19", "hg38", "mm10"], "default": "hg19"},
            {"id": "FlagPCRDuplicates-id", "type": "checkbox", "label": "Flag PCR Duplicates",
             "choices": ["1"], "default": []},
        ],
    },
    {
        "name": "DRAGEN Germline",
        "slug": "illumina-inc.dragen-germline",
        "runner": "germline-caller",
        "short_description": "Map, align and call small germline variants (VCF)",
        "classifications": ["Variant Calling", "Alignment"],
        "versions": [
            {"id": "7455450", "version": "3.9.5", "date_published": "2021-09-01T00:00:00Z"},
            {"id": CALLER_ID, "version": "3.10.4", "date_published": "2022-05-17T00:00:00Z"},
        ],
        "form": [
            _session_name("DRAGEN Germline [LocalDateTime]"),
            _PROJECT,
            {"id": "sample-id", "type": "biosample[]", "label": "Biosample(s)", "required": True},
            {"id": "ht-ref", "type": "select", "label": "Reference",
             "choices": ["hg19-altaware-cnv-anchor.v8", "hg38-altaware-cnv-anchor.v8"],
             "default": "hg38-altaware-cnv-anchor.v8"},
            {"id": "vc-min-depth", "type": "integer", "label": "Minimum Read Depth",
             "default": "2"},
            {"id": "vc-enable-gvcf", "type": "checkbox", "label": "Emit gVCF",
             "choices": ["1"], "default": []},
        ],
    },
    {
        "name": "FastQC",
        "slug": "illumina-inc.fastqc",
        "runner": "qc-report",
        "company": "BaseSpace Labs",
        "short_description": "Quality-control report for FASTQ samples and alignments",
        "classifications": ["Quality Control"],
        "versions": [
            {"id": "4193193", "version": "1.0.0", "date_published": "2015-02-10T00:00:00Z"},
            {"id": QC_ID, "version": "1.1.0", "date_published": "2020-01-21T00:00:00Z"},
        ],
        "form": [
            _session_name("FastQC [LocalDateTime]"),
            _PROJECT,
            {"id": "sample-id", "type": "sample[]", "label": "Sample(s)"},
            {"id": "appresult-id", "type": "appresult", "label": "Alignment (BAM) to check"},
            {"id": "file-id", "type": "file", "label": "Single file to check"},
            {"id": "report-title", "type": "string", "label": "Report Title",
             "default": "QC Report"},
            {"id": "report-format", "type": "select", "label": "Report Format",
             "choices": ["html", "txt"], "default": "html"},
        ],
    },
]  # fmt: skip


def _app(app_id: str) -> dict[str, str]:
    for app in DEMO_APPLICATIONS:
        for version in app["versions"]:
            if version["id"] == app_id:
                return {
                    "id": app_id,
                    "name": app["name"],
                    "version": version["version"],
                    "slug": app["slug"],
                }
    raise KeyError(app_id)


def earlier_sessions(project_key: str, samples: list[str], biosamples: list[str]) -> list[Any]:
    """One finished AppSession per demo app, with the ``Input.*`` properties a launch of it
    records (explicit dates, so adding them moves no other entity's date)."""
    project = {"name": "Input.project-id", "type": "project", "content": project_key}
    return [
        {
            "name": "FASTQ Toolkit 2018-08-02 14:10:00Z",
            "application": _app(FASTQ_TOOLKIT_ID),
            "status": "Complete",
            "status_summary": "Application completed successfully",
            "date_created": "2018-08-02T14:10:00Z",
            "date_completed": "2018-08-02T14:16:12Z",
            "properties": [
                project,
                {"name": "Input.sample-id", "type": "sample[]", "items": samples[:1]},
                {"name": "Input.adapter-trimming", "type": "string[]", "items": ["1"]},
                {"name": "Input.quality-cutoff", "content": "20"},
                {"name": "Input.min-read-length", "content": "32"},
            ],
        },
        {
            "name": "BWA Aligner 2018-08-02 15:00:00Z",
            "application": _app(ALIGNER_ID),
            "status": "Complete",
            "status_summary": "Application completed successfully",
            "date_created": "2018-08-02T15:00:00Z",
            "date_completed": "2018-08-02T15:21:40Z",
            "properties": [
                project,
                {"name": "Input.sample-id", "type": "sample[]", "items": samples[:1]},
                {"name": "Input.genome-id", "content": "hg19"},
                {"name": "Input.FlagPCRDuplicates-id", "type": "string[]", "items": []},
            ],
        },
        {
            "name": "DRAGEN Germline 2018-08-02 16:00:00Z",
            "application": _app(CALLER_ID),
            "status": "Complete",
            "status_summary": "Application completed successfully",
            "date_created": "2018-08-02T16:00:00Z",
            "date_completed": "2018-08-02T16:48:03Z",
            "properties": [
                project,
                {"name": "Input.sample-id", "type": "biosample[]", "items": biosamples[:1]},
                {"name": "Input.ht-ref", "content": "hg38-altaware-cnv-anchor.v8"},
                {"name": "Input.vc-min-depth", "content": "2"},
                {"name": "Input.vc-enable-gvcf", "type": "string[]", "items": []},
            ],
        },
        {
            "name": "FastQC 2018-08-02 17:00:00Z",
            "application": _app(QC_ID),
            "status": "Complete",
            "status_summary": "Application completed successfully",
            "date_created": "2018-08-02T17:00:00Z",
            "date_completed": "2018-08-02T17:03:30Z",
            "properties": [
                project,
                {"name": "Input.sample-id", "type": "sample[]", "items": samples},
                {"name": "Input.report-title", "content": "QC Report"},
                {"name": "Input.report-format", "content": "html"},
            ],
        },
    ]
