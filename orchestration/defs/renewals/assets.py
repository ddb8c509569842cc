"""Renewals, day by day: offers, reminders, sales alerts or auto-renew notices, renewals and
expiries, and the messages of the decisions clients made (rules in billing/renewals)."""

import dagster as dg

from orchestration.defs.billing.assets import INVOICES
from orchestration.lib.partitions import daily_partitions, single_run, window_dates
from orchestration.lib.resources import MessagingResource, WarehouseResource
from vigil.services import WAREHOUSE_POOL

RENEWALS = dg.AssetKey(["billing", "renewals"])
STEP_METADATA = {"offer": "offers_sent", "reminder": "reminders_sent", "sales_alert": "sales_alerts_sent",
                 "auto_notice": "auto_renew_notices_sent", "auto_renew": "auto_renewed", "expire": "expired",
                 "decision_message": "decision_messages_sent"}
CONTRACT_INPUTS = [dg.AssetKey(["marts", name]) for name in ("dim_contracts", "dim_clients", "dim_company")]


@dg.asset(
    key=RENEWALS,
    # after the invoices: an offer summarises what was billed through its day
    deps=[*CONTRACT_INPUTS, INVOICES],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    pool=WAREHOUSE_POOL,
    group_name="renewals",
    kinds={"python", "postgres"},
    description="billing.renewals: each contract's offer (end - 90), reminder (end - 60), sales alert or "
    "auto-renew notice (end - 30), renewal or expiry (end + 1), each once, each day of the window in order; "
    "accepted and auto-renewed contracts become new contract versions (raw/contract_documents, source renewals).",
)
def renewals(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
             messaging: MessagingResource) -> dg.MaterializeResult:
    from billing.renewals.daily import run_days
    from billing.renewals.kpis import renewal_kpis

    first, last = window_dates(context)
    with warehouse.connection() as conn:
        summary = run_days(conn, messaging.channels(), first, last, backoff_seconds=messaging.retry_backoff_seconds)
        kpis = renewal_kpis(conn, last)
    steps = {name: summary.count(step) for step, name in STEP_METADATA.items()}
    context.log.info(f"renewals {first}..{last}: {steps}; renewal rate {kpis.renewal_rate}, "
                     f"{kpis.offers_pending} offer(s) pending")
    if summary.without_recipient:
        context.log.warning("sales alerts with no company sales_email or email to send them to: "
                            + ", ".join(summary.without_recipient))
    return dg.MaterializeResult(
        metadata={
            "through": last.isoformat(),
            **steps,
            "messages_sent": summary.messages.sent,
            "messages_failed": summary.messages.failed,
            "renewal_rate": kpis.renewal_rate,
            "offers_pending": kpis.offers_pending,
            "revenue_up_for_renewal_90_days": dg.MetadataValue.json(kpis.up_for_renewal),
            "revenue_lost_to_expiry": dg.MetadataValue.json(kpis.lost_to_expiry),
            "sales_alerts_without_recipient": dg.MetadataValue.md(
                ", ".join(summary.without_recipient) or "none"),
        }
    )
