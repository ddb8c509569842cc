"""Invariants finance relies on, checked on what a billing run issued. Totals are asserted
inside the issuing transaction (billing/issuing.py), so a wrong invoice is never committed;
the checks below report on the run's days, so one old problem cannot keep delivery red."""

import dagster as dg

from orchestration.defs.billing.assets import INVOICES
from orchestration.lib.partitions import run_window
from orchestration.lib.resources import WarehouseResource


def _rows(warehouse: WarehouseResource, sql: str, params: dict) -> list[tuple]:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _days(context: dg.AssetCheckExecutionContext) -> dict:
    window = run_window(context.run.tags)
    return {"first": window[0] if window else None, "last": window[1] if window else None}


@dg.asset_check(asset=INVOICES, blocking=True,
                description="Every invoice issued on the run's days totals the sum of its rounded lines.")
def invoices_totals_match_lines(context: dg.AssetCheckExecutionContext,
                                warehouse: WarehouseResource) -> dg.AssetCheckResult:
    days = _days(context)
    bad = _rows(
        warehouse,
        """select coalesce(i.invoice_number, i.invoice_key)
           from billing.invoices i left join billing.invoice_lines l using (invoice_id)
           where %(first)s::date is null or i.issue_date between %(first)s and %(last)s
           group by i.invoice_id
           having i.subtotal <> coalesce(sum(l.amount) filter (where l.category <> 'tax'), 0)
               or i.tax_total <> coalesce(sum(l.amount) filter (where l.category = 'tax'), 0)
               or i.total <> i.subtotal + i.tax_total""",
        days,
    )
    return dg.AssetCheckResult(
        passed=not bad,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"days": f"{days['first']}..{days['last']}", "mismatched": len(bad),
                  "sample": dg.MetadataValue.md("\n".join(f"- {r[0]}" for r in bad[:20]) or "none")},
    )


@dg.asset_check(asset=INVOICES, description="INV and CN numbers run 1..n per prefix and year, no gap, no reuse.")
def invoices_numbers_gap_free(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    rows = _rows(
        warehouse,
        """select s.prefix, split_part(invoice_number, '-', 2)::int as year, count(*),
                  max(split_part(invoice_number, '-', 3)::int), s.last_value
           from billing.invoices i
           join billing.number_sequences s on s.prefix = split_part(invoice_number, '-', 1)
                                          and s.year = split_part(invoice_number, '-', 2)::int
           where invoice_number like 'INV-%%' or invoice_number like 'CN-%%'
           group by 1, 2, s.last_value order by 1, 2""",
        {},
    )
    gaps = [r for r in rows if not (r[2] == r[3] == r[4])]
    return dg.AssetCheckResult(
        passed=not gaps,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"years": len(rows), "gaps": dg.MetadataValue.md("\n".join(f"- {r}" for r in gaps) or "none")},
    )


def held_on_days(conn, first, last) -> list[tuple]:
    """Invoices held by a blocking finding whose issue date lies in first..last (None: all)."""
    with conn.cursor() as cur:
        cur.execute(
            """select client_id, period_start, period_end, hold_reasons::text from billing.invoices
               where status = 'held' and (%(first)s::date is null or issue_date between %(first)s and %(last)s)
               order by client_id, period_start""",
            {"first": first, "last": last},
        )
        return cur.fetchall()


@dg.asset_check(asset=INVOICES, description="Invoices of the run's days held by a blocking finding, for review.")
def invoices_not_held(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    days = _days(context)
    with warehouse.connection() as conn:
        held = held_on_days(conn, days["first"], days["last"])
    return dg.AssetCheckResult(
        passed=not held,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "days": f"{days['first']}..{days['last']}",
            "held": len(held),
            "why": dg.MetadataValue.md("\n".join(f"- {c} {s}..{e}: {r}" for c, s, e, r in held[:20]) or "none"),
        },
    )
