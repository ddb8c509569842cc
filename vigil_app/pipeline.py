"""Run the Dagster jobs the way the command line promises: a range of days as one
single-run backfill on the persistent instance, so every run shows in the UI."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from vigil import db, services

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


class PipelineError(RuntimeError):
    pass


def _definitions():
    from orchestration.definitions import defs

    return defs() if callable(defs) else defs


def _ingest_config(inbox: Path) -> dict:
    """Run config: the inbox to ingest, and a console that shows steps, not every event."""
    return {
        "ops": {"inbox_files": {"config": {"inbox": str(inbox), "only_files": []}}},
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
    }


def _execute(job_name: str, run_config: dict, tags: dict[str, str]) -> str:
    from dagster import DagsterInstance

    definitions = _definitions()
    job = definitions.resolve_job_def(job_name)
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance, run_config=run_config, tags=tags, resources=None, raise_on_error=False
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


def earliest_date() -> date | None:
    """The earliest service or contract start date the raw tables know."""
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute(
            """select min(d) from (
                   select min((c->>'start_date')::date) as d
                   from raw.contract_documents, jsonb_array_elements(document->'contracts') c
                   union all select min(check_in_at)::date from raw.timesheets
                   union all select min(response_started_at)::date from raw.incidents
                   union all select min(started_at)::date from raw.patrols) dates"""
        )
        return cur.fetchone()[0]


def run_range(inbox: Path, first: date | None, through: date) -> list[str]:
    """Ingest `inbox`, then build, bill, deliver and collect every day first..through in one run."""
    from orchestration.lib.partitions import PARTITIONS_START

    services.prepare_instance()
    services.use_local_payment_provider()
    inbox = inbox.resolve()
    if not inbox.is_dir():
        raise PipelineError(f"inbox {inbox} is not a directory")
    if through > date.today() + timedelta(days=1):
        raise PipelineError(f"--through {through} lies in the future; partitions end tomorrow")
    runs = []
    if first is None:
        runs.append(_execute("ingest_inbox_job", _ingest_config(inbox), {"vigil/command": "run"}))
        first = earliest_date() or through
    first = max(first, date.fromisoformat(PARTITIONS_START))
    if first > through:
        raise PipelineError(f"--from {first} is after --through {through}")
    runs.append(
        _execute(
            "daily_billing_job",
            _ingest_config(inbox),
            {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: through.isoformat(), "vigil/command": "run"},
        )
    )
    return runs
