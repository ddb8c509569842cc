"""Rating and issuing: the invoices of every cycle whose issue date falls in the window."""

import dagster as dg

from orchestration.lib.partitions import daily_partitions, single_run, window_dates
from orchestration.lib.resources import WarehouseResource
from vigil.services import WAREHOUSE_POOL

MART_INPUTS = [
    dg.AssetKey(["marts", name])
    for name in ("dim_clients", "dim_sites", "dim_contracts", "fct_tax_rates", "fct_guard_shifts",
                 "fct_incident_responses", "fct_patrol_tours", "fct_devices", "fct_findings")
]

INVOICES = dg.AssetKey(["billing", "invoices"])


@dg.asset(
    key=INVOICES,
    deps=MART_INPUTS,
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    pool=WAREHOUSE_POOL,
    group_name="billing",
    kinds={"python", "polars", "postgres"},
    description="billing.invoices and their lines: rated, held or numbered, never changed once issued.",
)
def invoices(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from billing.issuing import issue_invoices

    _, through = window_dates(context)
    with warehouse.connection() as conn:
        summary = issue_invoices(conn, through)
    context.log.info(
        f"through {through}: issued {len(summary.issued)}, released {len(summary.released)}, "
        f"held {summary.held}, already issued {summary.unchanged}"
    )
    return dg.MaterializeResult(
        metadata={
            "through": through.isoformat(),
            "issued": len(summary.issued),
            "released": len(summary.released),
            "held": summary.held,
            "numbers": dg.MetadataValue.md(", ".join(summary.issued + summary.released) or "none"),
            "cycles_read": dg.MetadataValue.text(str(summary.cycles) if summary.cycles >= 0 else "all"),
            **{f"{part}_seconds": dg.MetadataValue.float(round(value, 3)) for part, value in summary.seconds.items()},
        }
    )
