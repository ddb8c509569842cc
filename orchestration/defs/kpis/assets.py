"""Finance KPIs per month (billing/kpis.py holds the rules): stored in billing.monthly_kpis,
with the latest month's values as numeric metadata (the UI plots them across
materializations) and the monthly charts as SVG images in Markdown metadata."""

import dagster as dg

from orchestration.defs.billing.assets import INVOICES
from orchestration.lib.partitions import daily_partitions, single_run, window_dates
from orchestration.lib.resources import WarehouseResource
from vigil.services import WAREHOUSE_POOL

MONTHLY_KPIS = dg.AssetKey(["kpis", "monthly"])


@dg.asset(
    key=MONTHLY_KPIS,
    deps=[INVOICES, dg.AssetKey(["payments", "autopay_charges"]), dg.AssetKey(["marts", "fct_findings"]),
          dg.AssetKey(["marts", "dim_contracts"])],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    pool=WAREHOUSE_POOL,
    group_name="kpis",
    kinds={"python", "postgres"},
    description="billing.monthly_kpis: billing accuracy, service-to-invoice time, days to pay, auto-pay rate, "
    "renewal rate and leakage per month (billing/kpis.py), the same numbers the finance console charts.",
)
def monthly_kpis(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from billing.charts import data_uri
    from billing.kpis import charts, store
    from billing.kpis import monthly_kpis as compute

    _, through = window_dates(context)
    with warehouse.connection() as conn:
        rows = compute(conn, through)
        store(conn, rows)
    metadata: dict = {"through": through.isoformat(), "months": len(rows)}
    if rows:
        latest = rows[-1]
        metadata["month"] = latest.month.strftime("%Y-%m")
        for name in ("billing_accuracy", "service_to_invoice_days", "days_to_pay", "autopay_rate", "renewal_rate",
                     "leakage_hours"):
            value = getattr(latest, name)
            if value is not None:
                metadata[name] = dg.MetadataValue.float(float(value))
        metadata["leakage_records"] = dg.MetadataValue.int(latest.leakage_records)
        metadata["charts"] = dg.MetadataValue.md(
            "\n\n".join(f"![{title}]({data_uri(svg)})" for _, title, svg in charts(rows)))
    context.log.info(f"KPIs of {len(rows)} month(s) through {through}")
    return dg.MaterializeResult(metadata=metadata)
