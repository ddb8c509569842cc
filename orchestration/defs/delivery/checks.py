"""What finance must know about delivery: messages that failed after their last try, and
messages an interrupted run left unconfirmed (never sent twice, so a person checks them)."""

import dagster as dg

from orchestration.defs.delivery.assets import INVOICE_MESSAGES
from orchestration.lib.resources import WarehouseResource


@dg.asset_check(asset=INVOICE_MESSAGES, description="No message is failed or left pending by an interrupted run.")
def messages_delivered(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute("""select dedupe_key, status, coalesce(last_error, '') from billing.messages
                       where status in ('failed', 'pending') order by message_id""")
        rows = cur.fetchall()
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "failed": sum(1 for r in rows if r[1] == "failed"),
            "left_pending": sum(1 for r in rows if r[1] == "pending"),
            "sample": dg.MetadataValue.md("\n".join(f"- {k} ({s}) {e}" for k, s, e in rows[:20]) or "none"),
        },
    )
