"""Launched AppSessions and how they run: :class:`LaunchEngine`.

:meth:`LaunchEngine.launch` turns a validated :class:`~.forms.LaunchPlan` into a Pending
AppSession in the output project, with two empty log files (``logs/<runner>.log`` and
``logs/<runner>.stderr.txt``, files of the session) and a
:class:`~bsmount.emulator.state.launches.LaunchRecord`; the output work
(:func:`bsmount.emulator.apps.runners.run_job`, pysam) starts at once on a worker thread, never on
the event loop.

:meth:`LaunchEngine.advance` moves every launch to where its clock says it is; it runs before
each API request (a tick hook of :meth:`EmulatorState.apply_timers`) and from the control plane,
so a session moves lazily, as the seed's timed sessions do: Pending until ``start_at``, Running
with the StatusSummary and log lines of its steps until ``end_at``, then Complete once its
outputs are ready (new AppResults in the project, ``Output.AppResults`` on the session). A
session whose status someone else changed (stopped, or moved by the control plane) stops
running. :meth:`finish`, :meth:`fail`, :meth:`speed` and :meth:`start` are the control plane's.
"""

from __future__ import annotations

import logging
import secrets
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import cast

from bsmount.emulator.apps.forms import SESSION_NAME_FIELD, LaunchPlan
from bsmount.emulator.apps.runners import run_job
from bsmount.emulator.apps.work import InputEntity, Job, OutputSet, plan_steps
from bsmount.emulator.blobs.content import ContentSource, LiteralContent, LocalFileContent
from bsmount.emulator.seeds.schema import content_type_for
from bsmount.emulator.state.account import EmulatorState
from bsmount.emulator.state.launches import LaunchRecord, LogStep
from bsmount.emulator.state.model import (
    AppResult,
    AppSession,
    BioSample,
    File,
    Property,
    User,
    format_date,
)
from bsmount.emulator.state.tables import utcnow

__all__ = ["ACTIVE", "LaunchEngine", "engine_for"]

log = logging.getLogger(__name__)

#: A launched session runs while it is in one of these statuses.
ACTIVE = ("Pending", "Running")
_EXECUTOR = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bsmount-emulator-app")


def engine_for(state: EmulatorState) -> LaunchEngine:
    """The engine of ``state`` (made and hooked into its timers on first use)."""
    engine = getattr(state, "_launch_engine", None)
    if engine is None:
        engine = LaunchEngine(state)
        state._launch_engine = engine  # type: ignore[attr-defined]
        state.add_tick_hook(engine.advance)
    assert isinstance(engine, LaunchEngine)
    return engine


class LaunchEngine:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    # ------------------------------------------------------------------ launch
    def launch(self, user: User, plan: LaunchPlan) -> AppSession:
        state = self.state
        model = state.model
        app = plan.app
        now = utcnow()
        config = model.launch_config
        pending = app.pending_seconds if config.pending_seconds is None else config.pending_seconds
        run = app.run_seconds if config.run_seconds is None else config.run_seconds
        with state.lock:
            inputs = dict(plan.inputs)
            named = inputs.get(SESSION_NAME_FIELD)
            if named is not None:
                named.content = plan.name
            session = AppSession(
                id=model.new_numeric_id("appsessions"),
                name=plan.name,
                date_created=now,
                date_modified=now,
                properties=list(inputs.values()),
                project_id=plan.project.id,
                owner_id=user.id,
                application=app.ref,
                status="Pending",
                status_summary="Initializing",
                date_started=None,
            )
            model.appsessions[session.id] = session
            steps = plan_steps(app, inputs)
            record = LaunchRecord(
                session_id=session.id,
                app_id=app.id,
                runner=app.runner,
                user_id=user.id,
                project_id=plan.project.id,
                inputs=inputs,
                created=now,
                pending_seconds=pending,
                run_seconds=run,
                steps=steps,
            )
            if plan.auto_start:
                record.start_at = now + timedelta(seconds=pending)
                record.end_at = record.start_at + timedelta(seconds=run)
            for path in (f"logs/{app.runner}.log", f"logs/{app.runner}.stderr.txt"):
                record.log_file_ids.append(self._new_log(session, path, now))
            self._append_log(record, 0, now, f"Launched {app.name} {app.version} as {plan.name!r}")
            job = Job(
                runner=app.runner,
                app_name=app.name,
                app_version=app.version,
                options=_options(inputs),
                inputs=self._input_entities(user, inputs),
                # Unique per launch: a job still running from before a reset may share the id.
                workdir=state.spool.root / "launches" / f"{session.id}-{secrets.token_hex(4)}",
            )
            record.work = _EXECUTOR.submit(run_job, job)
            model.launches[session.id] = record
            state.changed()
        log.info(
            "launched %s %s (%s) as appsession %s for user %s",
            app.name,
            app.version,
            app.id,
            session.id,
            user.id,
        )
        return session

    def _new_log(self, session: AppSession, path: str, now: datetime) -> str:
        model = self.state.model
        item = File(
            id=model.new_numeric_id("files"),
            name=path.rsplit("/", 1)[-1],
            date_created=now,
            date_modified=now,
            parent_kind="appsessions",
            parent_id=session.id,
            path=path,
            content=LiteralContent(b""),
            content_type="text/plain",
        )
        model.files[item.id] = item
        return item.id

    def _append_log(self, record: LaunchRecord, which: int, when: datetime, text: str) -> None:
        item = self.state.model.files.get(record.log_file_ids[which])
        if item is None or item.content is None:
            return
        old = b"".join(item.content.iter_range(0, item.content.size))
        line = f"{format_date(when)} {'ERROR' if which else 'INFO '} {text}\n"
        item.content = LiteralContent(old + line.encode("utf-8"))
        item.date_modified = when

    def _input_entities(
        self, user: User, inputs: dict[str, Property]
    ) -> dict[str, list[InputEntity]]:
        """Snapshot of the entity inputs and their files' contents, for the worker."""
        state = self.state
        found: dict[str, list[InputEntity]] = {}
        for field_id, prop in inputs.items():
            entities: list[InputEntity] = []
            for kind, entity_id in prop.refs:
                entity = state.get(kind, entity_id, user)
                if kind == "projects":
                    continue
                if kind == "files":
                    files = [entity]
                elif isinstance(entity, BioSample):
                    files = [
                        f
                        for dataset in state.datasets_of_biosample(entity)
                        for f in state.files_of("datasets", dataset)
                    ]
                else:
                    files = state.files_of(kind, entity)
                contents = [
                    (f.path, f.content)
                    for f in files
                    if f.content is not None and f.upload_status == "complete"
                ]
                entities.append(InputEntity(kind, entity.id, entity.name, contents))
            if entities:
                found[field_id] = entities
        return found

    # ------------------------------------------------------------------ advancing
    def advance(self, now: datetime | None = None) -> None:
        moment = now or utcnow()
        for record in list(self.state.model.launches.values()):
            if not record.outcome:
                self._advance_one(record, moment)

    def _session(self, record: LaunchRecord) -> AppSession | None:
        return self.state.model.appsessions.get(record.session_id)

    def _advance_one(self, record: LaunchRecord, now: datetime) -> None:
        state = self.state
        session = self._session(record)
        if session is None:
            return
        with state.lock:
            if session.status not in ACTIVE:
                record.outcome = "Stopped"
                self._append_log(record, 1, now, f"Stopped: the session is {session.status}")
                state.changed()
                return
            if record.start_at is None or now < record.start_at:
                return
            if session.status == "Pending":
                session.status = "Running"
                session.date_started = record.start_at
                session.date_modified = now
            fraction = self._fraction(record, now)
            self._write_steps(record, fraction, now)
            if fraction >= 1.0:
                work = record.work
                if work is not None and work.done():
                    error = work.exception()
                    if error is not None:
                        self._fail(record, "NeedsAttention", f"The analysis failed: {error}", now)
                    else:
                        self._complete(record, work, now)
                else:
                    session.status_summary = "Writing outputs"
            state.changed()

    @staticmethod
    def _fraction(record: LaunchRecord, now: datetime) -> float:
        assert record.start_at is not None and record.end_at is not None
        total = (record.end_at - record.start_at).total_seconds()
        if total <= 0:
            return 1.0
        return max(0.0, min(1.0, (now - record.start_at).total_seconds() / total))

    def _write_steps(self, record: LaunchRecord, fraction: float, now: datetime) -> None:
        session = self._session(record)
        assert session is not None and record.start_at is not None
        assert record.end_at is not None
        span = record.end_at - record.start_at
        steps = record.steps
        while record.logged < len(steps) and steps[record.logged].fraction <= fraction:
            step = steps[record.logged]
            when = min(now, record.start_at + span * step.fraction)
            self._append_log(record, 0, when, step.line)
            if step.stderr:
                self._append_log(record, 1, when, step.stderr)
            record.logged += 1
        current: LogStep | None = record.steps[record.logged - 1] if record.logged else None
        if current is not None:
            session.status_summary = f"{current.summary} ({int(fraction * 100)}%)"
        session.date_modified = now

    def _complete(self, record: LaunchRecord, work: Future[list[OutputSet]], now: datetime) -> None:
        state = self.state
        session = self._session(record)
        assert session is not None
        outputs = work.result()
        record.logged = len(record.steps)
        for output in outputs:
            record.appresult_ids.append(self._add_appresult(session, output, now))
            self._append_log(
                record, 0, now, f"Wrote AppResult {output.name!r}: {len(output.files)} files"
            )
        record.outcome = "Complete"
        self._append_log(record, 0, now, "Application completed successfully")
        state.changed()  # the groupings must see the new appresults before the session moves
        state.set_appsession_status(session.id, "Complete")
        log.info("launched appsession %s completed: %s", session.id, record.appresult_ids)

    def _add_appresult(self, session: AppSession, output: OutputSet, now: datetime) -> str:
        model = self.state.model
        result = AppResult(
            id=model.new_numeric_id("appresults"),
            name=output.name,
            date_created=now,
            date_modified=now,
            project_id=session.project_id,
            description=output.description,
            status="Complete",
            status_summary="Application completed successfully",
            appsession_id=session.id,
            references=list(output.references),
        )
        refs_by_kind: dict[str, list[tuple[str, str]]] = {}
        for _, kind, entity_id in output.references:
            refs_by_kind.setdefault(kind, []).append((kind, entity_id))
        for kind, refs in refs_by_kind.items():
            name = {"samples": "Input.Samples", "biosamples": "Input.BioSamples"}.get(kind)
            if name is not None:
                result.properties.append(Property(name, kind[:-1] + "[]", refs=refs))
        model.appresults[result.id] = result
        for rel_path, local in output.files:
            item = File(
                id=model.new_numeric_id("files"),
                name=rel_path.rsplit("/", 1)[-1],
                date_created=now,
                date_modified=now,
                parent_kind="appresults",
                parent_id=result.id,
                path=rel_path,
                content=cast("ContentSource", LocalFileContent(local, output.md5.get(local))),
                content_type=content_type_for(rel_path),
            )
            model.files[item.id] = item
            result.file_ids.append(item.id)
        return result.id

    def _fail(self, record: LaunchRecord, status: str, summary: str, now: datetime) -> None:
        record.outcome = "Failed"
        record.error = summary
        self._append_log(record, 1, now, summary)
        self.state.set_appsession_status(record.session_id, status, summary)
        log.info("launched appsession %s failed: %s (%s)", record.session_id, status, summary)

    # ------------------------------------------------------------------ control plane
    def record(self, session_id: str) -> LaunchRecord:
        """The launch of ``session_id``; KeyError if that session was not launched."""
        return self.state.model.launches[session_id]

    def finish_now(self, record: LaunchRecord) -> None:
        """End the run time now (the next :meth:`advance` completes it once outputs exist)."""
        now = utcnow()
        with self.state.lock:
            if record.start_at is None or record.start_at > now:
                record.start_at = now
            record.end_at = now
        self.advance(now)

    def fail(self, record: LaunchRecord, status: str, summary: str | None) -> None:
        with self.state.lock:
            if record.outcome:
                raise ValueError(f"appsession {record.session_id} is no longer running")
            text = summary or {
                "NeedsAttention": "The analysis needs attention",
                "Aborted": "Aborted",
                "TimedOut": "The analysis timed out",
            }.get(status, status)
            self._fail(record, status, text, utcnow())

    def speed(self, record: LaunchRecord, factor: float | None, remaining: float | None) -> None:
        """Run ``factor`` times faster from now, or end the run in ``remaining`` seconds."""
        now = utcnow()
        with self.state.lock:
            if record.outcome:
                raise ValueError(f"appsession {record.session_id} is no longer running")
            if record.start_at is None:
                raise ValueError(f"appsession {record.session_id} has not been started")
            start, end = record.start_at, record.end_at
            assert end is not None
            if remaining is not None:
                record.start_at = min(start, now)
                record.end_at = now + timedelta(seconds=remaining)
            else:
                assert factor is not None
                total = (end - start) / factor
                if start > now:  # still pending: shorten the wait and the run
                    record.start_at = now + (start - now) / factor
                else:  # keep the fraction already run, shrink what is left
                    done = self._fraction(record, now)
                    record.start_at = now - total * done
                record.end_at = record.start_at + total
        self.advance(now)

    def start(self, record: LaunchRecord) -> None:
        now = utcnow()
        with self.state.lock:
            if record.start_at is not None:
                raise ValueError(f"appsession {record.session_id} has already started")
            record.start_at = now
            record.end_at = now + timedelta(seconds=record.run_seconds)
        self.advance(now)

    def describe(self, record: LaunchRecord) -> dict[str, object]:
        session = self._session(record)
        now = utcnow()
        progress = 0.0
        if record.start_at is not None and now >= record.start_at:
            progress = self._fraction(record, now)
        return {
            "appsession_id": record.session_id,
            "application_id": record.app_id,
            "runner": record.runner,
            "status": session.status if session is not None else None,
            "status_summary": session.status_summary if session is not None else None,
            "outcome": record.outcome or None,
            "progress": round(progress, 3),
            "pending_seconds": record.pending_seconds,
            "run_seconds": record.run_seconds,
            "outputs_ready": record.work is not None and record.work.done(),
            "appresults": list(record.appresult_ids),
            "log_files": list(record.log_file_ids),
            "error": record.error,
        }


def _options(inputs: dict[str, Property]) -> dict[str, str | list[str]]:
    """The string inputs (content or items) by field id, for the runners."""
    options: dict[str, str | list[str]] = {}
    for field_id, prop in inputs.items():
        if prop.type == "string" and prop.content is not None:
            options[field_id] = prop.content
        elif prop.type == "string[]":
            options[field_id] = list(prop.items)
    return options
