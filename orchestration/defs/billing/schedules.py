"""The main job and its schedule: every business day, once it is over everywhere.

The schedule ticks every hour (UTC) and asks the business clock (vigil.clock) for the latest
day that has ended in the company's timezone and in every site's, or VIGIL_TODAY. It
requests that day and any earlier day of the look-back that has not run yet, oldest first,
with run_key = the day; the runs carry the warehouse tag, which the instance's queue runs
one at a time, so days run once and in order. A fixed-hour UTC schedule would bill a day
that is still evening in America (issue 8, point 1)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg

from orchestration.defs.billing.assets import INVOICES
from orchestration.lib.partitions import daily_partitions, first_partition_day
from orchestration.lib.resources import WarehouseResource
from vigil import clock, services

# Days older than this are not caught up by the schedule (a daemon that was off for longer
# needs `vigil run --from`); it bounds what one tick can request.
LOOKBACK_DAYS = 7
BUSINESS_DAY_TAG = "vigil/business_day"

daily_billing_job = dg.define_asset_job(
    name="daily_billing_job",
    # Vendor API pulls run on their own sensors, not in the daily run.
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("sources"),
    partitions_def=daily_partitions,
    tags={services.WAREHOUSE_RUN_TAG: "daily_billing"},
    description="Ingest the inbox, build the dbt models and checks, rate and issue invoices, deliver them "
    "and collect auto-pay. A range of days runs as one backfill run.",
)


def days_due(business: clock.BusinessClock, now: datetime, first_day: date, last_partition: date,
             handled: set[date], lookback_days: int = LOOKBACK_DAYS) -> list[date]:
    """The days a tick at `now` should run, oldest first: over everywhere, within the
    look-back and the partitions, not handled yet."""
    last = min(business.last_day_over(now), last_partition)
    first = max(first_day, last - timedelta(days=lookback_days - 1))
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    return [day for day in days if day not in handled]


def _handled(instance: dg.DagsterInstance, candidates: list[date]) -> set[date]:
    """Days whose invoices partition is materialized (by any run, `vigil run` ranges too) or
    that a run of this job was already launched for (whatever became of it: a failed day
    is re-run by a person, not every hour)."""
    materialized = instance.get_materialized_partitions(INVOICES)
    handled = {day for day in candidates if day.isoformat() in materialized}
    for day in candidates:
        if day in handled:
            continue
        runs = instance.get_runs(
            dg.RunsFilter(job_name=daily_billing_job.name, tags={"dagster/partition": day.isoformat()}), limit=1)
        if runs:
            handled.add(day)
    return handled


@dg.schedule(
    name="daily_billing_schedule",
    job=daily_billing_job,
    cron_schedule="10 * * * *",
    execution_timezone="UTC",
    description="Hourly: run each business day once it is over in the company's and every site's timezone "
    f"(or through VIGIL_TODAY), catching up missed days of the last {LOOKBACK_DAYS}, oldest first.",
)
def daily_billing_schedule(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource):
    now = context.scheduled_execution_time or datetime.now(UTC)
    with warehouse.connection() as conn:
        business = clock.read_clock(conn)
    last_partition = date.fromisoformat(daily_partitions.get_last_partition_key() or "0001-01-01")
    candidates = days_due(business, now, first_partition_day(), last_partition, handled=set())
    handled = _handled(context.instance, candidates)
    due = [day for day in candidates if day not in handled]
    if not due:
        return dg.SkipReason(
            f"nothing to run at {now:%Y-%m-%d %H:%M} UTC: {business.last_day_over(now)} is the last day over in "
            f"{', '.join(business.timezones)}{' (VIGIL_TODAY)' if business.fixed_today else ''} and it has run")
    return [
        dg.RunRequest(run_key=day.isoformat(), partition_key=day.isoformat(),
                      tags={BUSINESS_DAY_TAG: day.isoformat()})
        for day in due
    ]
