"""Messages that follow a payment (collections.md sections 1 and 4): one `receipt` for
every successful payment, whatever its method; for a declined auto-pay charge,
`payment_failed` (soft: it will be retried) or `payment_method_needed` (hard: it will not),
by email and by SMS, with a link to pay or to replace the payment method.

What is owed is found from the ledger and the message log, not from what this run did,
so a message a crash kept from going out goes out on the next day that runs."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import psycopg2.extras

from billing.collections import schedule
from billing.collections.autopay import autopay_history
from billing.collections.messages import METHOD_NAMES, Message, money, reason_text, send
from billing.ledger import balance_on
from billing.links import PAY_LINK_DAYS, portal_link
from billing.messaging.channels import Channels
from billing.messaging.outbox import SendSummary
from vigil.clock import Seconds

CLIENT_COLUMNS = "c.client_id, c.client_name, c.email, c.phone, c.preferred_channel"


def _client(row: dict) -> dict:
    return {k: row[k] for k in ("client_id", "client_name", "email", "phone", "preferred_channel")}


def _applied(cur, column: str, value, code: str) -> tuple[list[tuple[str, str]], Decimal]:
    """Where a payment went: (invoice number, amount) and the part left as client credit."""
    cur.execute(
        f"""select i.invoice_number, e.amount from billing.ledger_entries e
            left join billing.invoices i using (invoice_id)
            where e.{column} = %s and (e.invoice_id is not null or e.entry_type = 'credit')
            order by i.invoice_number nulls last""",
        (value,),
    )
    applied, credit = [], Decimal(0)
    for number, amount in cur.fetchall():
        if number is None:
            credit += amount
        else:
            applied.append((number, money(amount, code)))
    return applied, credit


def send_receipts(conn, channels: Channels, day: date, summary: SendSummary, company: dict,
                  backoff_seconds: Seconds = 1.0) -> int:
    sent = 0
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(
            f"""select a.idempotency_key as ref, a.attempt_no, a.channel, a.method, a.amount, a.currency,
                       a.payment_attempt_id, i.invoice_id, i.invoice_number, {CLIENT_COLUMNS}
                from billing.payment_attempts a join billing.invoices i using (invoice_id)
                join marts.dim_clients c on c.client_id = i.client_id
                where a.status = 'succeeded' and a.settled_on <= %s
                  and not exists (select 1 from billing.messages m
                                  where m.payment_ref = a.idempotency_key and m.template = 'receipt')
                order by a.settled_on, a.payment_attempt_id""",
            (day,),
        )
        attempts = [dict(row) for row in cur.fetchall()]
        cur.execute(
            f"""select 'manual:' || r.payment_id as ref, r.payment_id, r.method, r.amount, r.currency,
                       {CLIENT_COLUMNS}
                from billing.received_payments r join marts.dim_clients c on c.client_id = r.client_id
                where r.received_on <= %s
                  and not exists (select 1 from billing.messages m
                                  where m.payment_ref = 'manual:' || r.payment_id and m.template = 'receipt')
                order by r.received_on, r.payment_id""",
            (day,),
        )
        received = [dict(row) for row in cur.fetchall()]
    conn.commit()
    for row in attempts + received:
        code = row["currency"]
        with conn.cursor() as cur:
            if "payment_attempt_id" in row:
                applied, credit = _applied(cur, "payment_attempt_id", row["payment_attempt_id"], code)
                method = "link" if row["channel"] == "link" else row["method"]
                key_part = str(row["attempt_no"]) if row["channel"] == "autopay" else f"link-{row['attempt_no']}"
                number, invoice_id = row["invoice_number"], row["invoice_id"]
            else:
                applied, credit = _applied(cur, "received_payment_id", row["payment_id"], code)
                method, key_part = row["method"], row["payment_id"]
                number = applied[0][0] if applied else None
                cur.execute("select invoice_id from billing.invoices where invoice_number = %s", (number,))
                found = cur.fetchone()
                invoice_id = found[0] if found else None
            balance = balance_on(cur, invoice_id) if invoice_id else None
        conn.commit()
        facts = {"amount": money(row["amount"], code), "method": METHOD_NAMES.get(method, method), "applied": applied,
                 "credit": money(credit, code) if credit else "", "balance": money(balance, code) if number else ""}
        link = portal_link(row["client_id"], "invoices", day)
        message = Message("receipt", _client(row), number, code, day, facts, link, day + timedelta(days=PAY_LINK_DAYS))
        sent += send(conn, channels, message, key_part=key_part, summary=summary, invoice_id=invoice_id,
                     company_facts=company, payment_ref=row["ref"], backoff_seconds=backoff_seconds)
    return sent


def next_retry(history: list[schedule.Attempt], failed_no: int) -> date | None:
    """When auto-pay tries again after the failure of attempt `failed_no`, if it does."""
    known = [attempt for attempt in history if attempt.attempt_no <= failed_no]
    series = schedule.current_series(known)
    retries = len(series) - 1
    if not series or series[-1].decline == "hard" or retries >= len(schedule.RETRY_OFFSETS):
        return None
    return series[0].settled_on + timedelta(days=schedule.RETRY_OFFSETS[retries])


def send_failure_notices(conn, channels: Channels, day: date, summary: SendSummary, company: dict,
                         backoff_seconds: Seconds = 1.0) -> int:
    sent = 0
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(
            f"""select a.idempotency_key as ref, a.attempt_no, a.amount, a.currency, a.decline, a.failure_code,
                       a.decline_code, a.attempt_date, i.invoice_id, i.invoice_number, i.due_date, {CLIENT_COLUMNS}
                from billing.payment_attempts a join billing.invoices i using (invoice_id)
                join marts.dim_clients c on c.client_id = i.client_id
                where a.channel = 'autopay' and a.status = 'failed' and a.decline is not null
                  and a.settled_on <= %s
                  and (select count(*) from billing.messages m where m.payment_ref = a.idempotency_key)
                      < (c.email is not null)::int + (c.phone is not null)::int
                order by a.settled_on, a.payment_attempt_id""",
            (day,),
        )
        failures = [dict(row) for row in cur.fetchall()]
        history = autopay_history(cur, sorted({row["invoice_id"] for row in failures}))
    conn.commit()
    for row in failures:
        code, number = row["currency"], row["invoice_number"]
        template = "payment_method_needed" if row["decline"] == "hard" else "payment_failed"
        retry_on = next_retry(history[row["invoice_id"]], row["attempt_no"]) if template == "payment_failed" else None
        retry = (f"We will try again on {retry_on}." if retry_on
                 else "This was our last automatic attempt: please pay with the link below.")
        with conn.cursor() as cur:
            balance = balance_on(cur, row["invoice_id"])
        conn.commit()
        facts = {"amount": money(row["amount"], code), "reason": reason_text(row["failure_code"], row["decline_code"]),
                 "retry": retry if template == "payment_failed" else "", "due": row["due_date"].isoformat(),
                 "balance": money(balance, code), "day": row["attempt_date"].isoformat()}
        base = portal_link(row["client_id"], f"invoice:{number}", day)
        link = f"{base}/payment-method" if template == "payment_method_needed" else f"{base}/invoices/{number}/pay"
        message = Message(template, _client(row), number, code, day, facts, link, day + timedelta(days=PAY_LINK_DAYS))
        sent += send(conn, channels, message, key_part=str(row["attempt_no"]), summary=summary,
                     invoice_id=row["invoice_id"], company_facts=company, payment_ref=row["ref"],
                     backoff_seconds=backoff_seconds)
    return sent
