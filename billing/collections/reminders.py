"""Reminders (collections.md section 3): on D-3, D, D+5 and D+10 for an invoice with a
balance whose client has no auto-pay; `reminder_final` on D+10 for an auto-pay invoice
still unpaid (its failure notices took the other reminders' place). None once the invoice
is paid, none while a payment of it is in flight; a partly paid invoice's reminder states
the remaining balance. Each carries a signed pay link that expires after 30 days."""

from __future__ import annotations

from datetime import date, timedelta

import psycopg2.extras

from billing.collections import schedule
from billing.collections.messages import Message, money, send
from billing.collections.methods import methods_in_force
from billing.links import PAY_LINK_DAYS, portal_link
from billing.messaging.channels import Channels
from billing.messaging.outbox import SendSummary
from vigil.clock import Seconds

DUE_OFFSETS = sorted(schedule.REMINDERS)


def send_reminders(conn, channels: Channels, day: date, summary: SendSummary, company: dict,
                   backoff_seconds: Seconds = 1.0) -> int:
    due_dates = [day - timedelta(days=offset) for offset in DUE_OFFSETS]
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        methods = methods_in_force(cur, day)
        cur.execute(
            """select i.invoice_id, i.invoice_number, i.due_date, i.total, i.currency, c.client_id, c.client_name,
                      c.email, c.phone, c.preferred_channel, c.autopay,
                      coalesce(sum(e.amount) filter (where e.entry_type in ('payment', 'credit')
                                                     and e.effective_date <= %(day)s), 0) as paid
               from billing.invoices i
               join marts.dim_clients c on c.client_id = i.client_id
               left join billing.ledger_entries e on e.invoice_id = i.invoice_id
               where i.invoice_number like 'INV-%%' and i.credit_for is null and i.issue_date <= %(day)s
                 and i.status in ('issued', 'partially_paid', 'delinquent', 'in_collections', 'paid')
                 and i.due_date = any(%(due_dates)s)
                 and not exists (select 1 from billing.payment_attempts a
                                 where a.invoice_id = i.invoice_id and a.attempt_date <= %(day)s
                                   and (a.status in ('pending', 'unknown', 'processing')
                                        or (a.status in ('succeeded', 'failed') and a.settled_on > %(day)s)))
               group by i.invoice_id, c.client_id, c.client_name, c.email, c.phone, c.preferred_channel, c.autopay
               having i.total - coalesce(sum(e.amount) filter (where e.entry_type in ('payment', 'credit')
                                                               and e.effective_date <= %(day)s), 0) > 0
               order by i.due_date, i.invoice_number""",
            {"day": day, "due_dates": due_dates},
        )
        invoices = [dict(row) for row in cur.fetchall()]
    conn.commit()
    sent = 0
    for invoice in invoices:
        autopay = bool(invoice["autopay"] and methods.get(invoice["client_id"]))
        template = schedule.reminder(invoice["due_date"], day, autopay)
        if template is None:
            continue
        code, number = invoice["currency"], invoice["invoice_number"]
        facts = {"due": invoice["due_date"].isoformat(), "total": money(invoice["total"], code),
                 "paid": money(invoice["paid"], code), "balance": money(invoice["total"] - invoice["paid"], code)}
        link = f"{portal_link(invoice['client_id'], f'invoice:{number}', day)}/invoices/{number}/pay"
        client = {k: invoice[k] for k in ("client_id", "client_name", "email", "phone", "preferred_channel")}
        message = Message(template, client, number, code, day, facts, link, day + timedelta(days=PAY_LINK_DAYS))
        sent += send(conn, channels, message, key_part=None, summary=summary, invoice_id=invoice["invoice_id"],
                     company_facts=company, backoff_seconds=backoff_seconds)
    return sent
