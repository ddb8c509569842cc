"""The one calendar every partitioned asset shares."""

from __future__ import annotations

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
