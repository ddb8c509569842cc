"""Payments and the dunning queue: failed auto-pay attempts, and every open invoice that is
overdue or has a failed attempt, delinquent or in collections, with its next step.

The next step is read off collections.md sections 3 and 4 from what main records today
(payment attempts, messages, invoice statuses): retries on F+1, F+3 and F+7 after the first
failure F (none after a hard decline), reminders on D-3, D, D+5 and D+10 for invoices without
auto-pay, `delinquent` on D+10 and collections on D+30. It is what the schedule says should
come next, shown for finance; the collections workflow decides and records it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from starlette.requests import Request
from starlette.responses import Response

from billing import store
from vigil import db
from vigil_app.web.console.session import signed_in
from vigil_app.web.console.view import business_today, page

RETRY_DAYS = (1, 3, 7)
REMINDERS = (("reminder_before_due", -3), ("reminder_due", 0), ("reminder_overdue", 5), ("reminder_final", 10))
HARD_DECLINES = ("lost_card", "stolen_card", "account_closed", "no_account", "expired_card")
DELINQUENT_AFTER = 10
COLLECTIONS_AFTER = 30


@dataclass(frozen=True)
class NextStep:
    action: str
    on: date


def next_step(invoice: dict, attempts: list[dict], sent: set[str], today: date) -> NextStep | None:
    """The first step the schedule still has for an open invoice, on or after today."""
    due = invoice["due_date"]
    steps: list[NextStep] = []
    failed = [a for a in attempts if a["status"] == "failed"]
    if failed:
        first = min(a["attempt_date"] for a in failed)
        last = max(a["attempt_date"] for a in attempts)
        if not any(a["failure_code"] in HARD_DECLINES for a in failed):
            steps += [NextStep(f"auto-pay retry {number + 2}", first + timedelta(days=offset))
                      for number, offset in enumerate(RETRY_DAYS) if first + timedelta(days=offset) > last]
        else:
            steps.append(NextStep("waiting for a new payment method", today))
    elif not invoice["autopay"]:
        steps += [NextStep(template.replace("_", " "), due + timedelta(days=offset))
                  for template, offset in REMINDERS if template not in sent]
    if invoice["status"] not in ("delinquent", "in_collections"):
        steps.append(NextStep("becomes delinquent", due + timedelta(days=DELINQUENT_AFTER)))
    if invoice["status"] != "in_collections":
        steps.append(NextStep("goes to collections", due + timedelta(days=COLLECTIONS_AFTER)))
    upcoming = sorted((step for step in steps if step.on >= today), key=lambda step: step.on)
    return upcoming[0] if upcoming else None


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
        attempts = store.rows(conn, "select * from billing.payment_attempts order by invoice_id, attempt_no")
        messages = store.rows(conn, """select invoice_id, template, channel, status, business_date from billing.messages
                                       where invoice_id is not null order by business_date, message_id""")
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
                      "last_message": last_message.get(invoice["invoice_id"]),
                      "next": next_step(invoice, mine, sent.get(invoice["invoice_id"], set()), today)})
    counts = {status: sum(1 for row in queue if row["status"] == status) for status in ("delinquent", "in_collections")}
    return page(request, "console/payments.html.j2", active="payments", today=today, failed=failed, queue=queue,
                counts=counts)
