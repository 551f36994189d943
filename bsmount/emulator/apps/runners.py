"""Which function computes which app: :data:`RUNNERS` (the seed's ``runner`` names) and
:func:`run_job`, called on a worker thread by the launch engine."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from bsmount.emulator.apps.align import run_aligner, run_caller
from bsmount.emulator.apps.toolkit import run_fastq_toolkit, run_qc_report
from bsmount.emulator.apps.work import Job, OutputSet

__all__ = ["RUNNERS", "run_job"]

log = logging.getLogger(__name__)

RUNNERS: dict[str, Callable[[Job], list[OutputSet]]] = {
    "fastq-toolkit": run_fastq_toolkit,
    "aligner": run_aligner,
    "germline-caller": run_caller,
    "qc-report": run_qc_report,
}


def run_job(job: Job) -> list[OutputSet]:
    """Compute the outputs of ``job`` and their MD5s (blocking: run it on a worker thread)."""
    runner = RUNNERS.get(job.runner)
    if runner is None:
        raise ValueError(f"unknown runner {job.runner!r}")
    job.workdir.mkdir(parents=True, exist_ok=True)
    outputs = runner(job)
    for output in outputs:
        for _, local in output.files:
            output.md5[local] = hashlib.md5(local.read_bytes()).hexdigest()
    log.info(
        "%s %s: %d output sets in %s", job.app_name, job.app_version, len(outputs), job.workdir
    )
    return outputs
