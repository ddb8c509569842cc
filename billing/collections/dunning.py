"""Dunning (collections.md section 4): an invoice with a balance becomes `delinquent` on D+10
or once its auto-pay retries are exhausted, whichever comes first (a hard decline alone
does not), and goes to collections on D+30 (`in_collections`, one hand-off record for the
agency, `vigil export collections`). Each change is recorded once with its business day.
Nothing here suspends service: delinquent clients are flagged for a person to decide (the
Dagster asset check on collections/dunning, the console)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import psycopg2.extras

from billing.collections import schedule
from billing.collections.autopay import autopay_history
from billing.ledger import refresh_invoice_status


@dataclass
class DunningSummary:
    delinquent: list[str] = field(default_factory=list)
    handed_off: list[str] = field(default_factory=list)


CANDIDATES_SQL = """
    select i.invoice_id, i.invoice_number, i.client_id, i.currency, i.due_date,
           i.total - coalesce(sum(e.amount) filter (where e.entry_type in ('payment', 'credit')
                                                    and e.effective_date <= %(day)s), 0) as balance,
           exists (select 1 from billing.dunning_events d
                   where d.invoice_id = i.invoice_id and d.status = 'delinquent') as delinquent,
           exists (select 1 from billing.dunning_events d
                   where d.invoice_id = i.invoice_id and d.status = 'in_collections') as handed_off
    from billing.invoices i
    left join billing.ledger_entries e on e.invoice_id = i.invoice_id
    where i.invoice_number like 'INV-%%' and i.credit_for is null and i.issue_date <= %(day)s
      and i.status in ('issued', 'partially_paid', 'delinquent', 'in_collections', 'paid')
      and (i.due_date <= %(delinquent_due)s
           or exists (select 1 from billing.payment_attempts a where a.invoice_id = i.invoice_id
                      and a.channel = 'autopay' and a.status = 'failed' and a.settled_on <= %(day)s))
    group by i.invoice_id
    having i.total - coalesce(sum(e.amount) filter (where e.entry_type in ('payment', 'credit')
                                                    and e.effective_date <= %(day)s), 0) > 0
    order by i.due_date, i.invoice_number
"""


def update_dunning(conn, day: date) -> DunningSummary:
    summary = DunningSummary()
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(CANDIDATES_SQL, {"day": day, "delinquent_due": day - timedelta(
            days=schedule.DELINQUENT_AFTER_DAYS)})
        invoices = [dict(row) for row in cur.fetchall() if not (row["delinquent"] and row["handed_off"])]
        history = autopay_history(cur, [invoice["invoice_id"] for invoice in invoices])
    conn.commit()
    for invoice in invoices:
        exhausted_on = schedule.retries_exhausted_on(history[invoice["invoice_id"]], day)
        with conn, conn.cursor() as cur:
            if not invoice["delinquent"] and schedule.is_delinquent(invoice["due_date"], day, exhausted_on):
                by_retries = exhausted_on is not None and day < invoice["due_date"] + timedelta(
                    days=schedule.DELINQUENT_AFTER_DAYS)
                reason = (f"auto-pay retries exhausted on {exhausted_on}" if by_retries
                          else f"balance {invoice['balance']} {invoice['currency']} on D+10")
                cur.execute("""insert into billing.dunning_events (invoice_id, status, for_date, reason)
                               values (%s, 'delinquent', %s, %s) on conflict do nothing""",
                            (invoice["invoice_id"], day, reason))
                if cur.rowcount:
                    summary.delinquent.append(invoice["invoice_number"])
            if not invoice["handed_off"] and schedule.goes_to_collections(invoice["due_date"], day):
                cur.execute("""insert into billing.dunning_events (invoice_id, status, for_date, reason)
                               values (%s, 'in_collections', %s, %s) on conflict do nothing""",
                            (invoice["invoice_id"], day, f"balance {invoice['balance']} {invoice['currency']} "
                                                           "on D+30"))
                if cur.rowcount:
                    _hand_off(cur, invoice, day)
                    summary.handed_off.append(invoice["invoice_number"])
            refresh_invoice_status(cur, invoice["invoice_id"])
    return summary


def _hand_off(cur, invoice: dict, day: date) -> None:
    """The agency's record: who owes what since when, and what was tried."""
    cur.execute(
        """insert into billing.collection_handoffs (invoice_id, handed_off_on, client_id, client_name, email, phone,
               currency, amount_due, due_date, days_past_due, attempts, messages)
           select %(invoice_id)s, %(day)s, c.client_id, c.client_name, c.email, c.phone, %(currency)s, %(balance)s,
                  %(due_date)s, %(day)s::date - %(due_date)s::date,
                  (select count(*) from billing.payment_attempts a
                   where a.invoice_id = %(invoice_id)s and a.attempt_date <= %(day)s),
                  (select count(*) from billing.messages m
                   where m.invoice_id = %(invoice_id)s and m.status = 'sent' and m.business_date <= %(day)s)
           from marts.dim_clients c where c.client_id = %(client_id)s""",
        {**invoice, "day": day},
    )
