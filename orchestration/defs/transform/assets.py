"""Every dbt model as an asset and every dbt test as an asset check, built in one dbt
invocation per run.

The models are not partitioned: the marts are whole tables, so a per-day partition would
only multiply bookkeeping (a 300-day backfill wrote one materialization per model per day,
some 20,000 events, for one dbt build). They are built incrementally: the run records a
build (orchestration/lib/mart_builds.py) and the models recompute what was ingested or
reviewed since the last successful one; contracts, tax or the dbt project changed, or the
periodic check, make it a full build (`--full-refresh`). No var is passed (a var that changes
makes dbt parse the whole project again), and dbt writes into one target folder per
VIGIL_HOME, where its partial parse is kept from run to run."""

import os

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.lib import mart_builds
from orchestration.lib.dbt import DBT_PROJECT_DIR, dbt_target_path, ensure_manifest, translator
from orchestration.lib.resources import WarehouseResource
from vigil.services import WAREHOUSE_POOL


def dbt_build_args(build: mart_builds.Build) -> list[str]:
    return ["build", "--full-refresh"] if build.mode == "full" else ["build"]


@dbt_assets(manifest=ensure_manifest(), dagster_dbt_translator=translator, pool=WAREHOUSE_POOL)
def vigil_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    os.environ.update(warehouse.dbt_env())
    with warehouse.connection() as conn:
        build = mart_builds.start_build(conn, DBT_PROJECT_DIR)
    whole = set(context.selected_asset_keys) == set(context.assets_def.keys)
    context.log.info(f"dbt build {build.build_id}: {build.mode}, {build.reason}"
                     + ("" if whole else "; some models only: the next build reads the same changes again"))
    succeeded = False
    try:
        yield from dbt.cli(dbt_build_args(build), context=context, target_path=dbt_target_path()).stream()
        succeeded = True
    finally:
        with warehouse.connection() as conn:
            mart_builds.finish_build(conn, build, succeeded, whole)
