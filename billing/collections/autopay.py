"""Auto-pay on a business day (collections.md sections 2 and 4): the charge on the due date,
the retries after a failure, and the charge of a new payment method, each decided by
schedule.next_charge and made through the attempt state machine (billing/payments.py).

Open attempts are brought up to date first: a `pending` or `unknown` one (a crash, a
timeout) freezes its invoice until it is reconciled, a `processing` ACH debit is asked
about (polling: what the webhook may have missed)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

import psycopg2.extras

from billing.collections import schedule
from billing.collections.methods import methods_in_force
from billing.payments import NOT_SENT, Reconciled, reconcile_open, record_attempt, send, settle


@dataclass
class ChargeSummary:
    attempted: Counter = field(default_factory=Counter)  # reason -> attempts made
    outcomes: Counter = field(default_factory=Counter)  # status -> attempts made
    reconciled: int = 0
    frozen: int = 0  # attempts still pending or unknown after reconciliation


def autopay_history(cur, invoice_ids: list[int]) -> dict[int, list[schedule.Attempt]]:
    """Each invoice's auto-pay attempts as the schedule sees them (never-sent ones left out)."""
    history: dict[int, list[schedule.Attempt]] = {invoice_id: [] for invoice_id in invoice_ids}
    with cur.connection.cursor() as plain:
        plain.execute(
            """select invoice_id, attempt_no, attempt_date, reason, status, payment_method, decline, settled_on
               from billing.payment_attempts
               where channel = 'autopay' and invoice_id = any(%s) and coalesce(failure_code, '') <> %s
               order by invoice_id, attempt_no""",
            (invoice_ids, NOT_SENT),
        )
        for invoice_id, *fields in plain.fetchall():
            history[invoice_id].append(schedule.Attempt(*fields))
    return history


AUTOPAY_INVOICES_SQL = """
    select i.invoice_id, i.invoice_number, i.client_id, i.currency, i.due_date,
           i.total - coalesce(sum(e.amount) filter (where e.entry_type in ('payment', 'credit')), 0) as balance,
           i.total - coalesce(sum(e.amount) filter (where e.entry_type in ('payment', 'credit')
                                                    and e.effective_date <= %(day)s), 0) as balance_on_day
    from billing.invoices i
    join marts.dim_clients c on c.client_id = i.client_id and c.autopay
    left join billing.ledger_entries e on e.invoice_id = i.invoice_id
    where i.invoice_number like 'INV-%%' and i.credit_for is null
      and i.status in ('issued', 'partially_paid', 'delinquent', 'in_collections')
      and i.issue_date <= %(day)s
    group by i.invoice_id
    having i.total - coalesce(sum(e.amount) filter (where e.entry_type in ('payment', 'credit')), 0) > 0
       and i.total - coalesce(sum(e.amount) filter (where e.entry_type in ('payment', 'credit')
                                                    and e.effective_date <= %(day)s), 0) > 0
    order by i.due_date, i.invoice_number
"""


def charge_day(conn, gateway, day: date, now: datetime | None = None, ask_provider: bool = True) -> ChargeSummary:
    """Reconcile open attempts (unless `ask_provider` is false: a replayed day), then make
    every auto-pay charge `day` calls for."""
    summary = ChargeSummary()
    if ask_provider:
        advance = getattr(gateway, "advance_test_clock", None)
        if advance is not None:
            advance(day)
        reconciled: Reconciled = reconcile_open(conn, gateway, day, now)
        summary.reconciled = reconciled.settled
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        methods = methods_in_force(cur, day)
        cur.execute(AUTOPAY_INVOICES_SQL, {"day": day})
        invoices = [dict(row) for row in cur.fetchall()]
        history = autopay_history(cur, [invoice["invoice_id"] for invoice in invoices])
    conn.commit()
    for invoice in invoices:
        method = methods.get(invoice["client_id"])
        reason = schedule.next_charge(invoice["due_date"], history[invoice["invoice_id"]], method, day)
        if reason is None:
            continue
        attempt = record_attempt(conn, invoice_id=invoice["invoice_id"], number=invoice["invoice_number"],
                                 client_id=invoice["client_id"], channel="autopay", reason=reason, day=day,
                                 currency=invoice["currency"], payment_method=method,
                                 method=gateway.method_type(method))
        if attempt is None:
            continue
        summary.attempted[reason] += 1
        outcome = send(gateway, attempt)
        settle(conn, attempt["payment_attempt_id"], outcome, day)
        summary.outcomes[outcome.status] += 1
    with conn.cursor() as cur:
        cur.execute("select count(*) from billing.payment_attempts where status in ('pending', 'unknown')")
        summary.frozen = cur.fetchone()[0]
    conn.commit()
    return summary
