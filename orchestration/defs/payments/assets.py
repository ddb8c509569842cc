"""Auto-pay on the due date, against our own ledger."""

import dagster as dg

from orchestration.defs.billing.assets import INVOICES
from orchestration.lib.partitions import daily_partitions, single_run, window_dates
from orchestration.lib.resources import StripeResource, WarehouseResource


@dg.asset(
    key=dg.AssetKey(["payments", "autopay_charges"]),
    deps=[INVOICES],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    group_name="payments",
    kinds={"python", "stripe"},
    description="billing.payment_attempts and ledger entries: one charge per due invoice, never two.",
)
def autopay_charges(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                    stripe: StripeResource) -> dg.MaterializeResult:
    from billing.payments import collect_autopay

    first, last = window_dates(context)
    with warehouse.connection() as conn:
        summary = collect_autopay(conn, stripe.gateway(), first, last)
    context.log.info(f"auto-pay {first}..{last}: {summary}")
    return dg.MaterializeResult(
        metadata={"attempted": summary.attempted, "succeeded": summary.succeeded, "failed": summary.failed,
                  "unknown": summary.unknown, "reconciled": summary.reconciled}
    )
