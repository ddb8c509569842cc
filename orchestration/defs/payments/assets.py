"""Auto-pay on the due date, against our own ledger."""

import dagster as dg

from orchestration.defs.billing.assets import INVOICES
from orchestration.lib.partitions import daily_partitions, single_run, window_dates
from orchestration.lib.resources import StripeResource, WarehouseResource
from vigil.services import WAREHOUSE_POOL


@dg.asset(
    key=dg.AssetKey(["payments", "autopay_charges"]),
    deps=[INVOICES],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    pool=WAREHOUSE_POOL,
    group_name="payments",
    kinds={"python", "stripe"},
    description="billing.payment_attempts and ledger entries: one charge per due invoice, never two. "
    "With VIGIL_PAYMENTS=off nothing is charged and the metadata says auto-pay is off.",
)
def autopay_charges(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                    stripe: StripeResource) -> dg.MaterializeResult:
    from billing.payments import collect_autopay

    first, last = window_dates(context)
    mode = stripe.mode()
    gateway = stripe.gateway()
    if gateway is None:
        context.log.info(f"auto-pay is off (VIGIL_PAYMENTS={mode}): nothing charged for {first}..{last}")
        return dg.MaterializeResult(
            metadata={"mode": mode, "auto_pay": "off: nothing charged", "attempted": 0, "succeeded": 0,
                      "failed": 0, "unknown": 0, "reconciled": 0}
        )
    with warehouse.connection() as conn:
        summary = collect_autopay(conn, gateway, first, last)
    context.log.info(f"auto-pay {first}..{last} ({mode}): {summary}")
    return dg.MaterializeResult(
        metadata={"mode": mode, "attempted": summary.attempted, "succeeded": summary.succeeded,
                  "failed": summary.failed, "unknown": summary.unknown, "reconciled": summary.reconciled}
    )
