"""Invariants finance relies on, checked after every billing run."""

import dagster as dg

from orchestration.defs.billing.assets import INVOICES
from orchestration.lib.resources import WarehouseResource


def _scalar_rows(warehouse: WarehouseResource, sql: str) -> list[tuple]:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


@dg.asset_check(asset=INVOICES, blocking=True, description="Every invoice's totals equal the sum of its rounded lines.")
def invoices_totals_match_lines(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    bad = _scalar_rows(
        warehouse,
        """select coalesce(i.invoice_number, i.invoice_key), i.subtotal, i.tax_total, i.total,
                  sum(l.amount) filter (where l.category <> 'tax'), sum(l.amount) filter (where l.category = 'tax')
           from billing.invoices i join billing.invoice_lines l using (invoice_id)
           group by i.invoice_id
           having i.subtotal <> coalesce(sum(l.amount) filter (where l.category <> 'tax'), 0)
               or i.tax_total <> coalesce(sum(l.amount) filter (where l.category = 'tax'), 0)
               or i.total <> i.subtotal + i.tax_total""",
    )
    return dg.AssetCheckResult(
        passed=not bad,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "mismatched": len(bad),
            "sample": dg.MetadataValue.md("\n".join(f"- {r[0]}" for r in bad[:20]) or "none"),
        },
    )


@dg.asset_check(asset=INVOICES, description="INV and CN numbers run 1..n per prefix and year, no gap, no reuse.")
def invoices_numbers_gap_free(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    rows = _scalar_rows(
        warehouse,
        """select s.prefix, split_part(invoice_number, '-', 2)::int as year, count(*),
                  max(split_part(invoice_number, '-', 3)::int), s.last_value
           from billing.invoices i
           join billing.number_sequences s on s.prefix = split_part(invoice_number, '-', 1)
                                          and s.year = split_part(invoice_number, '-', 2)::int
           where invoice_number like 'INV-%' or invoice_number like 'CN-%'
           group by 1, 2, s.last_value order by 1, 2""",
    )
    gaps = [r for r in rows if not (r[2] == r[3] == r[4])]
    return dg.AssetCheckResult(
        passed=not gaps,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"years": len(rows), "gaps": dg.MetadataValue.md("\n".join(f"- {r}" for r in gaps) or "none")},
    )


@dg.asset_check(asset=INVOICES, description="Invoices held by a blocking finding, for finance to review (WARN).")
def invoices_not_held(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    held = _scalar_rows(
        warehouse,
        """select client_id, period_start, period_end, hold_reasons::text from billing.invoices
           where status = 'held' order by client_id, period_start""",
    )
    return dg.AssetCheckResult(
        passed=not held,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "held": len(held),
            "why": dg.MetadataValue.md("\n".join(f"- {c} {s}..{e}: {r}" for c, s, e, r in held[:20]) or "none"),
        },
    )
