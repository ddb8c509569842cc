"""Service is never suspended automatically (collections.md section 4): delinquent clients
are flagged here for a person to decide."""

import dagster as dg

from orchestration.defs.collections.assets import DUNNING
from orchestration.lib.resources import WarehouseResource


@dg.asset_check(asset=DUNNING, description="No client has a delinquent invoice or one in collections (WARN: a person "
                "decides what happens to the service; nothing is suspended automatically).")
def delinquent_clients_flagged(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(
            """select i.client_id, count(*) filter (where i.status = 'delinquent'),
                      count(*) filter (where i.status = 'in_collections'), i.currency,
                      sum(i.total - coalesce((select sum(e.amount) from billing.ledger_entries e
                                              where e.invoice_id = i.invoice_id
                                                and e.entry_type in ('payment', 'credit')), 0))
               from billing.invoices i where i.status in ('delinquent', 'in_collections')
               group by i.client_id, i.currency order by i.client_id"""
        )
        rows = cur.fetchall()
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "delinquent_clients": len({row[0] for row in rows}),
            "clients": dg.MetadataValue.md("\n".join(
                f"- {client}: {delinquent} delinquent, {handed_off} in collections, {balance:.2f} {code} owed"
                for client, delinquent, handed_off, code, balance in rows) or "none"),
        },
    )
