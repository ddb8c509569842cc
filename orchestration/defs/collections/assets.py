"""Collections, day by day, downstream of the invoices (collections.md sections 0-5).

The steps of one business day depend on each other (a check received today is not charged
again today; a charge that fails today sends today's notice), so one op runs the whole
range of days in order, one day after the other (billing/collections/days.py), and reports
each part as its own daily-partitioned asset: auto-pay charges (after the payments
received), recovery (retries, new methods, receipts and failure notices), reminders and
dunning. A backfill writes one materialization per asset and day, so the steps are four
assets, not one per step. The KPIs are an asset of their own, not partitioned, computed
after."""

import dagster as dg

from orchestration.defs.billing.assets import INVOICES
from orchestration.defs.delivery.assets import INVOICE_MESSAGES
from orchestration.lib.partitions import daily_partitions, run_window, single_run, window_dates
from orchestration.lib.resources import MessagingResource, StripeResource, WarehouseResource
from vigil.services import WAREHOUSE_POOL

AUTOPAY_CHARGES = dg.AssetKey(["payments", "autopay_charges"])
PAYMENT_RECOVERY = dg.AssetKey(["collections", "payment_recovery"])
REMINDERS = dg.AssetKey(["collections", "reminders"])
DUNNING = dg.AssetKey(["collections", "dunning"])
KPIS = dg.AssetKey(["collections", "kpis"])


def _spec(key: dg.AssetKey, after: list[dg.AssetKey], kinds: set[str], description: str) -> dg.AssetSpec:
    return dg.AssetSpec(key, deps=[INVOICES, *after], group_name="collections", kinds=kinds, description=description)


@dg.multi_asset(
    specs=[
        # after the invoices went out: a reminder never precedes its invoice, a hand-off counts it
        _spec(AUTOPAY_CHARGES, [INVOICE_MESSAGES, dg.AssetKey(["marts", "fct_payments_received"]),
                                dg.AssetKey(["marts", "dim_clients"])],
              {"python", "stripe", "postgres"},
              "billing.received_payments, billing.payment_attempts and the ledger: payments/*.csv applied on the day "
              "received (the named invoice, else oldest first, the rest a client credit; refusals with their "
              "reason), client credits applied to new invoices, open attempts reconciled with the provider (search "
              "by key, same-key resend, polling of processing debits), then one charge per invoice on its due date. "
              "With VIGIL_PAYMENTS=off nothing is charged and the metadata says auto-pay is off."),
        _spec(PAYMENT_RECOVERY, [AUTOPAY_CHARGES], {"python", "stripe", "sendgrid", "twilio"},
              "Retries on F+1, F+3 and F+7 after a soft decline, the charge of a new payment method on the next day "
              "that runs, and the messages that follow every payment: a receipt for each success, payment_failed or "
              "payment_method_needed (email and SMS) for each decline."),
        _spec(REMINDERS, [PAYMENT_RECOVERY], {"python", "sendgrid", "twilio"},
              "Reminders on D-3, D, D+5 and D+10 with a signed pay link; none once paid; a partly paid invoice's "
              "state the remaining balance."),
        _spec(DUNNING, [REMINDERS, PAYMENT_RECOVERY], {"python", "postgres"},
              "billing.dunning_events and billing.collection_handoffs: delinquent on D+10 or when retries are "
              "exhausted, in collections on D+30. Service is never suspended: the check flags delinquent clients."),
    ],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def collections_days(context: dg.AssetExecutionContext, warehouse: WarehouseResource, stripe: StripeResource,
                     messaging: MessagingResource):
    from billing.collections.days import run_days

    first, last = window_dates(context)
    mode = stripe.mode()
    gateway = stripe.gateway()
    with warehouse.connection() as conn:
        summary = run_days(conn, first, last, gateway=gateway, channels=messaging.channels(), payments_mode=mode,
                           backoff_seconds=messaging.retry_backoff_seconds)
    days = f"{first}..{last}"
    context.log.info(f"collections {days} (VIGIL_PAYMENTS={mode}): received {len(summary.received)}, "
                     f"charged {dict(summary.attempted)}, outcomes {dict(summary.outcomes)}, "
                     f"receipts {summary.receipts}, notices {summary.failure_notices}, reminders {summary.reminders}, "
                     f"delinquent {len(summary.delinquent)}, handed off {len(summary.handed_off)}")
    off = {"auto_pay": "off: nothing charged"} if gateway is None else {}
    yield dg.MaterializeResult(asset_key=AUTOPAY_CHARGES, metadata={
        "days": days, "mode": mode, **off, "payments_received": len(summary.received),
        "payments_refused": len(summary.refused), "credits_applied": summary.credits_applied,
        "attempted": summary.attempted["due"], "succeeded": summary.outcomes["succeeded"],
        "failed": summary.outcomes["failed"], "processing": summary.outcomes["processing"],
        "unknown": summary.outcomes["unknown"], "reconciled": summary.reconciled,
        "frozen_until_reconciled": summary.frozen,
        "refused_payments": dg.MetadataValue.md(", ".join(sorted(summary.refused)) or "none")})
    yield dg.MaterializeResult(asset_key=PAYMENT_RECOVERY, metadata={
        "days": days, "mode": mode, **off, "retries": summary.attempted["retry"],
        "new_methods_charged": summary.attempted["new_method"], "receipts": summary.receipts,
        "failure_notices": summary.failure_notices})
    yield dg.MaterializeResult(asset_key=REMINDERS, metadata={"days": days, "sent": summary.reminders})
    yield dg.MaterializeResult(asset_key=DUNNING, metadata={
        "days": days, "delinquent": len(summary.delinquent), "handed_off": len(summary.handed_off),
        "invoices": dg.MetadataValue.md(
            "\n".join([f"- {n} delinquent" for n in summary.delinquent]
                      + [f"- {n} handed to collections" for n in summary.handed_off]) or "none")})


@dg.asset(
    key=KPIS,
    deps=[DUNNING],
    pool=WAREHOUSE_POOL,
    group_name="collections",
    kinds={"python", "postgres"},
    description="Collections KPIs as of the last day a run processed: days to pay (median, p90), auto-pay success "
    "rate, recovery rate after a failure, amounts delinquent and in collections, a table and a chart per day. Not "
    "partitioned: one set of figures per run, whatever the number of days.",
)
def collections_kpis(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from billing.collections import kpis

    window = run_window(context.run.tags)
    with warehouse.connection() as conn:
        last = window[1] if window else kpis.last_processed_day(conn)
        if last is None:
            return dg.MaterializeResult(metadata={"through": "no day processed yet"})
        found = kpis.compute(conn, window[0] if window else last, last)
    return dg.MaterializeResult(metadata={
        "through": last.isoformat(),
        "paid_invoices": found.paid_invoices,
        "days_to_pay_median": dg.MetadataValue.float(float(found.days_to_pay_median))
        if found.days_to_pay_median is not None else "no invoice paid yet",
        "days_to_pay_p90": found.days_to_pay_p90 if found.days_to_pay_p90 is not None else "no invoice paid yet",
        "autopay_success_rate": dg.MetadataValue.float(float(found.autopay_success_rate))
        if found.autopay_success_rate is not None else "no auto-pay attempt yet",
        "recovery_rate": dg.MetadataValue.float(float(found.recovery_rate))
        if found.recovery_rate is not None else "no failed auto-pay yet",
        "amount_delinquent": kpis.amounts(found.delinquent),
        "amount_in_collections": kpis.amounts(found.in_collections),
        "per_day": dg.MetadataValue.md(kpis.markdown_table(found)),
        "collected_chart": dg.MetadataValue.md(kpis.bar_chart(found) or "no day"),
    })
