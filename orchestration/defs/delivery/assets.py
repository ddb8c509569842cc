"""Each issued invoice and credit note sent once through the client's preferred channel."""

import dagster as dg

from orchestration.defs.billing.assets import INVOICES
from orchestration.lib.partitions import daily_partitions, single_run, window_dates
from orchestration.lib.resources import MessagingResource, WarehouseResource
from vigil import config
from vigil.services import WAREHOUSE_POOL

INVOICE_MESSAGES = dg.AssetKey(["delivery", "invoice_messages"])


@dg.asset(
    key=INVOICE_MESSAGES,
    deps=[INVOICES],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    pool=WAREHOUSE_POOL,
    group_name="delivery",
    kinds={"python", "sendgrid", "twilio"},
    description="billing.messages: invoices and credit notes by email (SendGrid or .eml files), SMS (Twilio or "
    "JSON files) and portal notices; each at most once, retried with backoff, failures with their reason.",
)
def invoice_messages(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                     messaging: MessagingResource) -> dg.MaterializeResult:
    from billing.delivery import deliver_invoices

    _, through = window_dates(context)
    with warehouse.connection() as conn:
        summary = deliver_invoices(conn, messaging.channels(), through, pdf_dir=config.paths().pdfs,
                                   backoff_seconds=messaging.retry_backoff_seconds)
    if summary.interrupted:
        context.log.warning(f"{len(summary.interrupted)} message(s) left pending by an interrupted run were not "
                            f"sent again: {', '.join(summary.interrupted[:10])}")
    return dg.MaterializeResult(
        metadata={
            "sent": summary.sent,
            "failed": summary.failed,
            "by_channel": dg.MetadataValue.json(summary.by_channel),
            "finished_after_crash": summary.finished_after_crash,
            "interrupted_unconfirmed": dg.MetadataValue.md(
                "\n".join(f"- {key}" for key in summary.interrupted) or "none"),
        }
    )
