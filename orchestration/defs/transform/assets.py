"""Every dbt model as an asset and every dbt test as an asset check, built in one dbt
invocation per run.

The models are not partitioned: the marts are whole tables, so a per-day partition would
only multiply bookkeeping (a 300-day backfill wrote one materialization per model per day,
some 20,000 events, for one dbt build). The run's partition window still reaches dbt as the
vars `min_date`/`max_date`, read from the run's partition tags."""

import json
import os

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.lib.dbt import ensure_manifest, translator
from orchestration.lib.partitions import run_window
from orchestration.lib.resources import WarehouseResource
from vigil.services import WAREHOUSE_POOL


def dbt_build_args(min_date: str | None, max_date: str | None) -> list[str]:
    """The partition window reaches dbt as vars, inclusive on both ends (null: everything)."""
    return ["build", "--vars", json.dumps({"min_date": min_date, "max_date": max_date})]


@dbt_assets(manifest=ensure_manifest(), dagster_dbt_translator=translator, pool=WAREHOUSE_POOL)
def vigil_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    os.environ.update(warehouse.dbt_env())
    window = run_window(context.run.tags)
    first, last = (window[0].isoformat(), window[1].isoformat()) if window else (None, None)
    yield from dbt.cli(dbt_build_args(first, last), context=context).stream()
