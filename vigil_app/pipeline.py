"""Run the Dagster jobs the way the command line promises: a range of days as one
single-run backfill on the persistent instance, so every run shows in the UI.

One `vigil run` (or `vigil demo`) at a time per warehouse: the whole invocation holds a
PostgreSQL advisory lock, and a second one says it waits. Inside a run, the steps that write
the warehouse claim the instance's pool (vigil.services.WAREHOUSE_POOL), which also keeps
them apart from the daemon's runs: `execute_in_process` skips the run queue, not the pools.

The daily partitions are fixed when the definitions load (orchestration.lib.partitions), and
`vigil run` ingests first: when that ingest brought data before the first partition, or a
company file with another timezone, the definitions are loaded again before billing."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from vigil import clock, config, db, services

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
COMMAND_TAG = "vigil/command"
RUN_LOCK = "vigil.run"


class PipelineError(RuntimeError):
    """A run that could not do what was asked; the message says why in one line."""


class BadInput(PipelineError):
    """Refused before anything started: a missing inbox, dates out of order."""


class DayNotOver(PipelineError):
    """`--through` names a day that has not ended everywhere yet."""


def _definitions(fresh: bool = False):
    from orchestration import definitions

    if fresh:
        return definitions.reload()
    return definitions.defs() if callable(definitions.defs) else definitions.defs


def _ingest_config(inbox: Path) -> dict:
    """Run config: the inbox to ingest, and a console that shows steps, not every event."""
    return {
        "ops": {"inbox_files": {"config": {"inbox": str(inbox), "only_files": [], "settle_seconds": 0}}},
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
    }


@contextmanager
def _run_instance():
    """The persistent instance, keeping its storage connections open for the whole run.

    dagster-postgres opens a connection for every stored event by default (a NullPool, right
    for processes that do little), and a range run stores thousands of events: on the e2e
    test inbox, 14,000 connections and more than half of the run's time. The pooled engines
    Dagster's own webserver switches to (`optimize_for_webserver`) keep a few open instead,
    with no statement timeout (a run's bookkeeping may read a long history), and are closed
    when the run ends."""
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        instance.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=8)
        try:
            yield instance
        finally:
            for storage in (instance.run_storage, instance.event_log_storage, instance.schedule_storage):
                engine = getattr(storage, "_engine", None)
                if engine is not None:
                    engine.dispose()


def _execute(definitions, job_name: str, run_config: dict, tags: dict[str, str], asset_selection=None) -> str:
    job = definitions.resolve_job_def(job_name)
    with _run_instance() as instance:
        result = job.execute_in_process(
            instance=instance, run_config=run_config, tags=tags, resources=None, raise_on_error=False,
            asset_selection=asset_selection,
        )
    if not result.success:
        failures = [
            f"{e.step_key}: {e.event_specific_data.error.message.strip()}"
            for e in result.all_events
            if e.is_step_failure and e.event_specific_data and getattr(e.event_specific_data, "error", None)
        ]
        reasons = "; ".join(failures or ["see the Dagster UI"])
        raise PipelineError(f"run {result.run_id} of {job_name} failed: {reasons}")
    return result.run_id


@contextmanager
def exclusive_run() -> Iterator[None]:
    """Hold the warehouse's run lock for the whole invocation (a session lock: it goes with
    the connection if this process dies)."""
    conn = db.connect()
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("select pg_try_advisory_lock(hashtext(%s))", (RUN_LOCK,))
            if not cur.fetchone()[0]:
                print("vigil: waiting for another run to finish ...", file=sys.stderr, flush=True)
                cur.execute("select pg_advisory_lock(hashtext(%s))", (RUN_LOCK,))
        _release_dead_command_runs()
        yield
    finally:
        conn.close()


def _release_dead_command_runs() -> None:
    """Runs of an earlier `vigil` process that died (killed, power cut) never finished and
    still hold pool slots, which would block every later run. Holding the run lock, no
    other `vigil` run is alive: mark those runs failed and free their slots."""
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    unfinished = [DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.NOT_STARTED,
                  DagsterRunStatus.CANCELING]
    with DagsterInstance.get() as instance:
        for run in instance.get_runs(RunsFilter(statuses=unfinished)):
            if COMMAND_TAG in run.tags:
                instance.report_run_failed(run, "the vigil process running it ended before the run did")
                instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


def check_day_over(business: clock.BusinessClock, through: date, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    if business.is_over(through, now):
        return
    last = business.last_day_over(now)
    if business.fixed_today is not None:
        raise DayNotOver(f"--through {through} is after VIGIL_TODAY {business.fixed_today}")
    ends = business.end_of(through)
    raise DayNotOver(
        f"--through {through} is not over yet: it ends {ends:%Y-%m-%d %H:%M} UTC "
        f"(midnight in {business.last_zone_of(through)}); the last day over everywhere is {last}"
    )


def check_inputs(inbox: Path, first: date | None, through: date) -> Path:
    """What can be refused before anything starts: the inbox, the dates, the settings."""
    inbox = inbox.expanduser().resolve()
    if not inbox.is_dir():
        raise BadInput(f"inbox {inbox} is not a directory")
    if first is not None and first > through:
        raise BadInput(f"--from {first} is after --through {through}")
    config.payments_mode()
    # Before the data says which zones count: a day that has not ended even where days end
    # first (UTC+14) is not over anywhere.
    earliest_end = clock.BusinessClock("Pacific/Kiritimati", (), clock.vigil_today())
    if not earliest_end.is_over(through, datetime.now(UTC)):
        if earliest_end.fixed_today is not None:
            check_day_over(earliest_end, through)
        raise DayNotOver(f"--through {through} is not over yet in any timezone")
    return inbox


def use_payment_provider() -> str:
    """VIGIL_PAYMENTS: with `local`, start (or reuse) localstripe and point the SDK at it;
    nothing is started for `stripe` or `off`."""
    mode = config.payments_mode()
    if mode == "local":
        from vigil_app.demo.localstripe import ensure_localstripe

        os.environ["STRIPE_API_BASE"] = ensure_localstripe()
    return mode


def definitions_covering(definitions, first_data: date | None, timezone: str):
    """`definitions`, or fresh ones when their partitions start after `first_data` or are in
    another timezone than the company's (the ingest just brought earlier data or a new
    company file)."""
    loaded = importlib.import_module("orchestration.lib.partitions").CALENDAR
    if (first_data is not None and first_data < loaded.first_day) or timezone != loaded.timezone:
        return _definitions(fresh=True)
    return definitions


def _billing_selection(definitions, invoices_only: bool = False) -> list:
    """Everything the daily job runs but the ingest, which has just run on its own; with
    `invoices_only`, not what follows an invoice either (collections, renewals): the demo
    issues its invoices before its clients act on them."""
    import dagster as dg

    selection = dg.AssetSelection.all() - dg.AssetSelection.groups("sources") - dg.AssetSelection.groups("ingest")
    if invoices_only:
        selection = selection - dg.AssetSelection.groups("collections", "renewals")
    return sorted(selection.resolve(definitions.resolve_asset_graph()))


def run_range(inbox: Path, first: date | None, through: date, ingest: bool = True,
              invoices_only: bool = False) -> list[str]:
    """Ingest `inbox` (unless `ingest` is false: it was just ingested), then build, bill,
    deliver and collect every day first..through in one run (`invoices_only`: without
    collections and renewals)."""
    inbox = check_inputs(inbox, first, through)
    services.prepare_instance()
    use_payment_provider()
    with exclusive_run():
        definitions = _definitions()
        runs = []
        if ingest:
            runs.append(_execute(definitions, "ingest_inbox_job", _ingest_config(inbox), {COMMAND_TAG: "run"}))
        with db.transaction() as conn:
            business = clock.read_clock(conn)
            first_data = clock.first_data_day(conn, business.company_timezone)
        check_day_over(business, through)
        definitions = definitions_covering(definitions, first_data, business.company_timezone)
        partitions = importlib.import_module("orchestration.lib.partitions")
        first = max(first or first_data or through, partitions.first_partition_day())
        if first > through:
            raise BadInput(f"--through {through} is before the first day with data ({first})")
        runs.append(
            _execute(
                definitions,
                "daily_billing_job",
                {"loggers": {"console": {"config": {"log_level": "INFO"}}}},
                {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: through.isoformat(), COMMAND_TAG: "run"},
                asset_selection=_billing_selection(definitions, invoices_only),
            )
        )
    return runs
