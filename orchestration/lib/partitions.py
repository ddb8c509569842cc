"""The one calendar every partitioned asset shares."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import dagster as dg

PARTITIONS_START = "2024-01-01"

# end_offset=1 makes today's partition available, so a scheduled run can bill yesterday
# and deliver what is due today.
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1)

single_run = dg.BackfillPolicy.single_run()


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
