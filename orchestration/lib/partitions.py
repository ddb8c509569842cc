"""The one calendar every partitioned asset shares: one partition per business day in the
company's timezone, from the first day of data (vigil.clock.load_calendar) to the last day
over there (or through VIGIL_TODAY). Dagster needs the partitions when the code location
loads, so a load that finds other data than the last one (e.g. `vigil run` after ingesting
earlier records) must load the definitions again: orchestration.definitions.reload()."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import dagster as dg

from vigil import clock

CALENDAR = clock.load_calendar()

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=CALENDAR.first_day.isoformat(),
    timezone=CALENDAR.timezone,
    end_offset=CALENDAR.end_offset(),
)

single_run = dg.BackfillPolicy.single_run()


def first_partition_day() -> date:
    return CALENDAR.first_day


def window_dates(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """First and last day (inclusive) of the partition range this run covers."""
    window = context.partition_time_window
    return window.start.date(), (window.end - timedelta(days=1)).date()


def run_window(tags: Mapping[str, str]) -> tuple[date, date] | None:
    """The day range a run covers, from its partition tags (a single day or a range);
    None for a run that is not about particular days."""
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    if start and end:
        return date.fromisoformat(start), date.fromisoformat(end)
    day = tags.get("dagster/partition")
    if day:
        return date.fromisoformat(day), date.fromisoformat(day)
    return None
