"""Payments and the dunning queue: failed auto-pay attempts, and every open invoice that is
overdue or has a failed attempt, delinquent or in collections, with its next step.

The next step is what the collections calendar (billing/collections/schedule.py) does next for
the invoice from the first business day not run yet: the same rules the daily run applies,
read from the attempts, payment methods and messages collections recorded."""

from __future__ import annotations

from datetime import timedelta

import psycopg2.extras
from starlette.requests import Request
from starlette.responses import Response

from billing import store
from billing.collections import schedule
from billing.collections.autopay import autopay_history
from billing.collections.days import latest_day
from billing.collections.methods import methods_in_force
from vigil import db
from vigil_app.web.console.session import signed_in
from vigil_app.web.console.view import business_today, page


@signed_in
async def payments_page(request: Request) -> Response:
    with db.transaction() as conn:
        today = business_today(conn)
        failed = store.rows(
            conn,
            """select a.attempt_date, a.attempt_no, a.amount, a.currency, a.payment_method, a.status, a.failure_code,
                      a.failure_message, i.invoice_id, i.invoice_number, i.client_id
               from billing.payment_attempts a join billing.invoices i using (invoice_id)
               where a.status <> 'succeeded' order by a.attempt_date desc, a.payment_attempt_id desc limit 500""",
        )
        open_invoices = store.rows(
            conn,
            """select i.invoice_id, i.invoice_number, i.client_id, c.client_name, coalesce(c.autopay, false) as autopay,
                      i.status, i.due_date, i.total, i.currency,
                      i.total - coalesce((select sum(e.amount) from billing.ledger_entries e
                                          where e.invoice_id = i.invoice_id
                                            and e.entry_type in ('payment', 'credit')), 0) as balance
               from billing.invoices i left join marts.dim_clients c using (client_id)
               where i.invoice_number like 'INV-%%' and i.status not in ('paid', 'void', 'held')
               order by i.due_date, i.invoice_number""",
        )
        open_ids = [invoice["invoice_id"] for invoice in open_invoices]
        attempts = store.rows(conn, """select invoice_id, status from billing.payment_attempts
                                       where invoice_id = any(%s)""", (open_ids,))
        messages = store.rows(conn, """select invoice_id, template, channel, status, business_date from billing.messages
                                       where invoice_id = any(%s) order by business_date, message_id""", (open_ids,))
        processed = latest_day(conn)
        first_day = max(today, processed + timedelta(days=1)) if processed else today
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            methods = methods_in_force(cur, first_day)
            history = autopay_history(cur, open_ids)
    by_invoice: dict[int, list[dict]] = {}
    for attempt in attempts:
        by_invoice.setdefault(attempt["invoice_id"], []).append(attempt)
    last_message: dict[int, dict] = {}
    sent: dict[int, set[str]] = {}
    for message in messages:
        last_message[message["invoice_id"]] = message
        sent.setdefault(message["invoice_id"], set()).add(message["template"])
    queue = []
    for invoice in open_invoices:
        mine = by_invoice.get(invoice["invoice_id"], [])
        overdue = invoice["due_date"] < today
        if invoice["balance"] <= 0 or not (overdue or any(a["status"] == "failed" for a in mine)
                                           or invoice["status"] in ("delinquent", "in_collections")):
            continue
        queue.append({**invoice, "days_overdue": max((today - invoice["due_date"]).days, 0),
                      "failures": sum(1 for a in mine if a["status"] == "failed"),
                      "last_message": last_message.get(invoice["invoice_id"])})
    for row in queue:
        method = methods.get(row["client_id"])
        row["next"] = schedule.upcoming_step(
            row["due_date"], history[row["invoice_id"]], method, bool(row["autopay"] and method), row["status"],
            sent.get(row["invoice_id"], set()), first_day)
    counts = {status: sum(1 for row in queue if row["status"] == status) for status in ("delinquent", "in_collections")}
    return page(request, "console/payments.html.j2", active="payments", today=today, first_day=first_day,
                failed=failed, queue=queue, counts=counts)
