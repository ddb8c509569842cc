"""The main job, run daily: everything from the inbox to payments for yesterday."""

import dagster as dg

from orchestration.lib.partitions import daily_partitions

daily_billing_job = dg.define_asset_job(
    name="daily_billing_job",
    # Vendor API pulls run on their own sensors, not in the daily run.
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("sources"),
    partitions_def=daily_partitions,
    description="Ingest the inbox, build the dbt models and checks, rate and issue invoices, deliver them "
    "and collect auto-pay. A range of days runs as one backfill run.",
)

# Runs at 02:00 for the partition of the day that just ended.
daily_billing_schedule = dg.build_schedule_from_partitioned_job(
    daily_billing_job, hour_of_day=2, minute_of_hour=0, name="daily_billing_schedule"
)
