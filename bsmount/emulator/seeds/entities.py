"""Turns a seed document into a :class:`~bsmount.emulator.state.tables.Model` (see :mod:`.load`).

:class:`SeedBuilder` walks the document: users (and tokens), genomes, projects with their
appsessions, samples, appresults, biosamples and datasets, then runs. References between entities
are resolved once everything exists (:class:`~.build.BuilderCore`).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from bsmount.emulator.seeds.applications import read_applications
from bsmount.emulator.seeds.build import BuilderCore
from bsmount.emulator.seeds.lab import seed_lab
from bsmount.emulator.seeds.lanes import seed_lanes, seed_qc_settings
from bsmount.emulator.seeds.schema import (
    DATASET_TYPES,
    DEFAULT_BASE_DATE,
    DEFAULT_GENOMES,
    SeedError,
)
from bsmount.emulator.state.model import (
    Application,
    AppResult,
    AppSession,
    BioSample,
    Dataset,
    DatasetType,
    Genome,
    Project,
    Run,
    Sample,
    TrashRecord,
    User,
    parse_date,
)
from bsmount.emulator.state.tables import Model, utcnow

__all__ = ["SeedBuilder", "SeedError"]


class SeedBuilder(BuilderCore):
    """One build of a seed document."""

    def build(self) -> Model:
        doc = self.obj(self.doc, "seed", "seed")
        base = self.date(doc, "base_date", "seed") or parse_date(DEFAULT_BASE_DATE)
        self.clock = base
        for i, spec in enumerate(self.list_of(doc.get("users"), "users")):
            self.user(spec, f"users[{i}]")
        if not self.model.users:
            self.user({"name": "Emulator User", "email": "emulator@example.com"}, "users")
        read_applications(self, self.list_of(doc.get("applications"), "applications"), self.model)
        genomes = doc.get("genomes", DEFAULT_GENOMES)
        for i, spec in enumerate(self.list_of(genomes, "genomes")):
            self.genome(spec, f"genomes[{i}]")
        for i, spec in enumerate(self.list_of(doc.get("projects"), "projects")):
            self.project(spec, f"projects[{i}]")
        for i, spec in enumerate(self.list_of(doc.get("runs"), "runs")):
            self.run(spec, f"runs[{i}]")
        model = self.model
        seed_qc_settings(self, model.qc, doc, next(iter(model.users)), model.applications)
        for action in self.deferred:
            action()
        self.trash_records()
        return self.model

    def trash_records(self) -> None:
        """A trash item for each entity the seed marks ``deleted`` (by its owner, dated by its
        DateModified), so ``GET v2/trash`` lists them and they can be restored."""
        model = self.model
        for kind in ("projects", "runs", "samples", "appresults", "appsessions", "biosamples",
                     "datasets"):  # fmt: skip
            for entity in model.table(kind).values():
                if not entity.deleted:
                    continue
                project = model.projects.get(getattr(entity, "project_id", ""))
                owner = getattr(entity, "owner_id", "") or (project.owner_id if project else "")
                record_id = str(model.next_trash_id)
                model.next_trash_id += 1
                model.trash[record_id] = TrashRecord(
                    record_id, kind, entity.id, owner, entity.date_modified
                )

    def user(self, raw: Any, where: str) -> None:
        spec = self.obj(raw, "user", where)
        fields = self.common("users", spec, where)
        fields.pop("deleted")
        name = fields["name"]
        email = self.text(spec, "email", where, f"{name.lower().replace(' ', '.')}@example.com")
        last = self.date(spec, "date_last_active", where) or fields["date_created"]
        user = User(**fields, email=email, date_last_active=last)
        self.model.users[user.id] = user
        for j, token in enumerate(self.list_of(spec.get("tokens"), f"{where}.tokens")):
            if not isinstance(token, str) or not token:
                raise SeedError(f"{where}.tokens[{j}]: expected a non-empty string")
            if token in self.model.tokens:
                raise SeedError(f"{where}.tokens[{j}]: token used twice")
            self.model.tokens[token] = user.id

    def genome(self, raw: Any, where: str) -> None:
        spec = self.obj(raw, "genome", where)
        fields = self.common("genomes", spec, where)
        genome = Genome(
            **fields,
            species_name=self.text(spec, "species_name", where, ""),
            source=self.text(spec, "source", where, ""),
            build=self.text(spec, "build", where, ""),
        )
        self.model.genomes[genome.id] = genome

    def owner(self, spec: Mapping[str, Any], where: str) -> str:
        ref = spec.get("owner")
        if ref is None:
            return next(iter(self.model.users))
        return self.resolve("users", ref, f"{where}.owner")

    def project(self, raw: Any, where: str) -> None:
        spec = self.obj(raw, "project", where)
        project = Project(
            **self.common("projects", spec, where),
            owner_id=self.owner(spec, where),
            description=self.text(spec, "description", where, ""),
            has_collaborators=self.flag(spec, "has_collaborators", where),
        )
        self.model.projects[project.id] = project
        self.properties(project, spec, where)
        for i, item in enumerate(self.list_of(spec.get("appsessions"), f"{where}.appsessions")):
            self.appsession(item, f"{where}.appsessions[{i}]", project)
        for i, item in enumerate(self.list_of(spec.get("samples"), f"{where}.samples")):
            self.sample(item, f"{where}.samples[{i}]", project, i + 1)
        for i, item in enumerate(self.list_of(spec.get("appresults"), f"{where}.appresults")):
            self.appresult(item, f"{where}.appresults[{i}]", project)
        for i, item in enumerate(self.list_of(spec.get("biosamples"), f"{where}.biosamples")):
            self.biosample(item, f"{where}.biosamples[{i}]", project)
        for i, item in enumerate(self.list_of(spec.get("datasets"), f"{where}.datasets")):
            self.dataset(item, f"{where}.datasets[{i}]", project, None)

    def appsession(self, raw: Any, where: str, project: Project) -> None:
        spec = self.obj(raw, "appsession", where)
        app_spec = self.obj(spec.get("application", {}), "application", f"{where}.application")
        app_name = self.text(app_spec, "name", f"{where}.application", "FASTQ Generation")
        app_id = self.text(
            app_spec, "id", f"{where}.application", str(zlib.crc32(app_name.encode()))
        )
        slug = "illumina." + "-".join(app_name.lower().split())
        application = Application(
            id=app_id,
            name=app_name,
            version=self.text(app_spec, "version", f"{where}.application", "1.0.0"),
            slug=self.text(app_spec, "slug", f"{where}.application", slug),
        )
        fields = self.common("appsessions", spec, where)
        timer = spec.get("complete_after_seconds")
        status = self.text(spec, "status", where, "Complete" if timer is None else "Running")
        completed = self.date(spec, "date_completed", where)
        complete_at = None
        if timer is not None:
            if isinstance(timer, bool) or not isinstance(timer, int | float) or timer < 0:
                raise SeedError(f"{where}.complete_after_seconds: expected a number >= 0")
            if status != "Running" or completed is not None:
                raise SeedError(
                    f"{where}.complete_after_seconds: only for a Running appsession"
                    " without date_completed"
                )
            complete_at = utcnow() + timedelta(seconds=timer)
        if completed is None and status != "Running":
            completed = fields["date_modified"]
        session = AppSession(
            **fields,
            project_id=project.id,
            owner_id=project.owner_id,
            application=application,
            status=status,
            status_summary=self.text(spec, "status_summary", where, ""),
            purpose=self.text(spec, "purpose", where, "AppTrigger"),
            qc_status=self.text(spec, "qc_status", where, "Undefined"),
            delivery_status=self.text(spec, "delivery_status", where, "None"),
            date_started=self.date(spec, "date_started", where) or fields["date_created"],
            date_completed=completed,
            complete_at=complete_at,
        )
        self.model.appsessions[session.id] = session
        self.properties(session, spec, where)

    def sample(self, raw: Any, where: str, project: Project, number: int) -> None:
        spec = self.obj(raw, "sample", where)
        fields = self.common("samples", spec, where)
        reads = self.integer(spec, "num_reads_raw", where, 0)
        sample = Sample(
            **fields,
            project_id=project.id,
            sample_id=self.text(spec, "sample_id", where, fields["name"]),
            experiment_name=self.text(spec, "experiment_name", where, ""),
            status=self.text(spec, "status", where, "Complete"),
            status_summary=self.text(spec, "status_summary", where, ""),
            read1=self.integer(spec, "read1", where, 151),
            read2=self.integer(spec, "read2", where, 151),
            num_reads_raw=reads,
            num_reads_pf=self.integer(spec, "num_reads_pf", where, reads),
            is_paired_end=bool(spec.get("paired_end", True)),
            sample_number=self.integer(spec, "sample_number", where, number),
        )
        self.model.samples[sample.id] = sample
        self.link(sample, "genome_id", "genomes", spec, "genome", where)
        self.link(sample, "appsession_id", "appsessions", spec, "appsession", where)
        self.properties(sample, spec, where)
        self.files(sample, "samples", spec, where)

    def appresult(self, raw: Any, where: str, project: Project) -> None:
        spec = self.obj(raw, "appresult", where)
        result = AppResult(
            **self.common("appresults", spec, where),
            project_id=project.id,
            description=self.text(spec, "description", where, ""),
            status=self.text(spec, "status", where, "Complete"),
            status_summary=self.text(spec, "status_summary", where, ""),
        )
        self.model.appresults[result.id] = result
        self.link(result, "appsession_id", "appsessions", spec, "appsession", where)
        self.properties(result, spec, where)
        self.files(result, "appresults", spec, where)

    def biosample(self, raw: Any, where: str, project: Project) -> None:
        spec = self.obj(raw, "biosample", where)
        biosample = BioSample(
            **self.common("biosamples", spec, where),
            project_id=project.id,
            status=self.text(spec, "status", where, "New"),
            lab_status=self.text(spec, "lab_status", where, "Sequencing"),
            container_name=self.text(spec, "container_name", where, ""),
            container_position=self.text(spec, "container_position", where, ""),
        )
        self.model.biosamples[biosample.id] = biosample
        self.properties(biosample, spec, where)
        seed_lab(self, spec.get("lab"), f"{where}.lab", biosample)
        for i, item in enumerate(self.list_of(spec.get("datasets"), f"{where}.datasets")):
            self.dataset(item, f"{where}.datasets[{i}]", project, biosample)

    def dataset(self, raw: Any, where: str, project: Project, parent: BioSample | None) -> None:
        spec = self.obj(raw, "dataset", where)
        type_spec = spec.get("type", "common.files")
        if isinstance(type_spec, str):
            dtype = DATASET_TYPES.get(
                type_spec, DatasetType(type_spec, type_spec, ("common.files",))
            )
        else:
            raise SeedError(f"{where}.type: expected a dataset type id such as common.fastq")
        attributes = spec.get("attributes", {})
        if not isinstance(attributes, dict):
            raise SeedError(f"{where}.attributes: expected an object")
        if spec.get("sample") is not None and spec.get("files"):
            raise SeedError(f"{where}: give either 'sample' (shared files) or 'files', not both")
        dataset = Dataset(
            **self.common("datasets", spec, where),
            project_id=project.id,
            dataset_type=dtype,
            attributes=dict(attributes),
            qc_status=self.text(spec, "qc_status", where, "Undefined"),
        )
        if parent is not None:
            dataset.biosample_ids.append(parent.id)
        self.model.datasets[dataset.id] = dataset
        refs = self.list_of(spec.get("biosamples"), f"{where}.biosamples")
        self.later(
            lambda: dataset.biosample_ids.extend(
                self.resolve("biosamples", r, f"{where}.biosamples[{k}]")
                for k, r in enumerate(refs)
            )
        )
        self.link(dataset, "appsession_id", "appsessions", spec, "appsession", where)
        self.link(dataset, "sample_id", "samples", spec, "sample", where)
        self.properties(dataset, spec, where)
        self.files(dataset, "datasets", spec, where)

    def run(self, raw: Any, where: str) -> None:
        spec = self.obj(raw, "run", where)
        fields = self.common("runs", spec, where)
        cycles = self.list_of(spec.get("cycles", [151, 151, 8, 8]), f"{where}.cycles")
        if len(cycles) != 4 or not all(isinstance(c, int) and c >= 0 for c in cycles):
            raise SeedError(f"{where}.cycles: expected [read1, read2, index1, index2] integers")
        platform = self.text(spec, "platform", where, "MiSeq")
        parts = fields["name"].split("_")
        run = Run(
            **fields,
            owner_id=self.owner(spec, where),
            experiment_name=self.text(spec, "experiment_name", where, fields["name"]),
            status=self.text(spec, "status", where, "Complete"),
            number=self.integer(spec, "number", where, len(self.model.runs) + 1),
            platform_name=platform,
            instrument_name=self.text(
                spec, "instrument_name", where, parts[1] if len(parts) > 2 else "M00001"
            ),
            instrument_type=self.text(spec, "instrument_type", where, platform),
            flowcell_barcode=self.text(
                spec, "flowcell_barcode", where, parts[-1].split("-")[-1] if len(parts) > 3 else ""
            ),
            reagent_barcode=self.text(spec, "reagent_barcode", where, ""),
            workflow=self.text(spec, "workflow", where, "GenerateFastQ"),
            cycles=(cycles[0], cycles[1], cycles[2], cycles[3]),
        )
        self.model.runs[run.id] = run
        self.properties(run, spec, where)
        self.files(run, "runs", spec, where)
        seed_lanes(self, self.model.qc, run.id, spec, where)
