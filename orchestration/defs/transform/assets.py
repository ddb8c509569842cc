"""Every dbt model as an asset and every dbt test as an asset check, built over the
partition window in one dbt invocation (single-run backfills)."""

import json
import os

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.lib.dbt import ensure_manifest, translator
from orchestration.lib.partitions import daily_partitions, single_run, window_dates
from orchestration.lib.resources import WarehouseResource


def dbt_build_args(min_date: str, max_date: str) -> list[str]:
    """The partition window reaches dbt as vars, inclusive on both ends."""
    return ["build", "--vars", json.dumps({"min_date": min_date, "max_date": max_date})]


@dbt_assets(
    manifest=ensure_manifest(),
    dagster_dbt_translator=translator,
    partitions_def=daily_partitions,
    backfill_policy=single_run,
)
def vigil_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    os.environ.update(warehouse.dbt_env())
    first, last = window_dates(context)
    yield from dbt.cli(dbt_build_args(first.isoformat(), last.isoformat()), context=context).stream()
