"""Each issued invoice sent once through the client's preferred channel."""

import dagster as dg

from orchestration.defs.billing.assets import INVOICES
from orchestration.lib.partitions import daily_partitions, single_run, window_dates
from orchestration.lib.resources import SendGridResource, WarehouseResource
from vigil import config
from vigil.services import WAREHOUSE_POOL


@dg.asset(
    key=dg.AssetKey(["delivery", "invoice_messages"]),
    deps=[INVOICES],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    pool=WAREHOUSE_POOL,
    group_name="delivery",
    kinds={"python", "sendgrid"},
    description="billing.messages: invoice emails (SendGrid, or the file outbox), SMS and portal notices.",
)
def invoice_messages(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                     email: SendGridResource) -> dg.MaterializeResult:
    from billing.delivery import deliver_invoices

    _, through = window_dates(context)
    with warehouse.connection() as conn:
        summary = deliver_invoices(conn, email.sender(), through, pdf_dir=config.paths().pdfs)
    return dg.MaterializeResult(
        metadata={
            "sent": summary.sent,
            "failed": summary.failed,
            "by_channel": dg.MetadataValue.json(summary.by_channel),
        }
    )
