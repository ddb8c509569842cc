"""Payments received outside the provider (interfaces.md section 2a): checks, wires, bank
transfers and lockbox files from `payments/*.csv`, read from marts.fct_payments_received.

Each payment_id is applied once, its first version, on the business day it was received:
to the invoice it names, else the client's oldest open invoices, the rest becoming a
client credit (billing/ledger.py). A payment that cannot be applied is refused with its
file, line, field and reason (billing.payment_refusals, listed by `vigil export
quarantine`): an unknown client, an invoice that does not exist, is another client's or
was not issued yet on that day, an amount finer than the currency's minor unit, or the
same payment_id delivered again with other content. Refusals are judged again every day a
run processes, so a payment whose client arrives later is applied then."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import psycopg2.extras

from billing.ledger import apply_money
from vigil import currency as currency_table


@dataclass
class ReceivedSummary:
    applied: list[str] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)


def _mart_exists(cur) -> bool:
    cur.execute("select to_regclass('marts.fct_payments_received') is not null as found")
    return cur.fetchone()["found"]


def _refusal(payment: dict, cur) -> tuple[str, str] | None:
    """(field, reason) when this version cannot be applied, else None."""
    if not payment["is_first_version"]:
        return "payment_id", (f"payment {payment['payment_id']} was delivered before with other content; "
                              "the first version was applied and this one is not")
    if not payment["is_known_client"]:
        return "client_id", f"unknown client {payment['client_id']!r}"
    code = payment["currency"]
    if not currency_table.is_known(code or ""):
        return "currency", f"currency {code!r} is not an active ISO 4217 code"
    try:
        currency_table.to_minor_units(payment["amount"], code)
    except ValueError:
        return "amount", f"amount {payment['amount']} has more digits than {code} allows"
    number = payment["invoice_number"]
    if number is None:
        return None
    cur.execute("""select client_id, issue_date, status, currency, credit_for from billing.invoices
                   where invoice_number = %s""", (number,))
    invoice = cur.fetchone()
    if invoice is None:
        return "invoice_number", f"unknown invoice {number!r}"
    client_id, issue_date, status, invoice_currency, credit_for = invoice
    if client_id != payment["client_id"]:
        return "invoice_number", f"invoice {number} is not client {payment['client_id']}'s"
    if issue_date > payment["received_on"]:
        return "invoice_number", f"invoice {number} was issued on {issue_date}, after the payment was received"
    if status == "void" or credit_for is not None:
        return "invoice_number", f"invoice {number} is {'a credit note' if credit_for else 'void'}: nothing is due"
    if invoice_currency != code:
        return "currency", f"payment in {code} for invoice {number} in {invoice_currency}"
    return None


def apply_received(conn, day: date) -> ReceivedSummary:
    """Apply every payment received on or before `day` not applied yet."""
    summary = ReceivedSummary()
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        if not _mart_exists(cur):
            conn.commit()
            return summary
        cur.execute(
            """select p.* from marts.fct_payments_received p
               where p.received_on <= %s
                 and not (p.is_first_version and exists (
                     select 1 from billing.received_payments r where r.payment_id = p.payment_id))
                 and not (not p.is_first_version and exists (
                     select 1 from billing.payment_refusals f
                     where f.payment_id = p.payment_id and f.version_number = p.version_number))
               order by p.received_on, p.payment_id, p.version_number""",
            (day,),
        )
        payments = [dict(row) for row in cur.fetchall()]
    conn.commit()
    for payment in payments:
        with conn, conn.cursor() as cur:
            refused = _refusal(payment, cur)
            if refused is not None:
                cur.execute(
                    """insert into billing.payment_refusals (payment_id, version_number, source_file, source_line,
                           field, reason, refused_on) values (%s, %s, %s, %s, %s, %s, %s)
                       on conflict (payment_id, version_number) do update
                           set field = excluded.field, reason = excluded.reason""",
                    (payment["payment_id"], payment["version_number"], payment["source_file"],
                     payment["source_line"], refused[0], refused[1], day),
                )
                summary.refused.add(payment["payment_id"])
                continue
            invoice_id = None
            if payment["invoice_number"]:
                cur.execute("select invoice_id from billing.invoices where invoice_number = %s",
                            (payment["invoice_number"],))
                invoice_id = cur.fetchone()[0]
            cur.execute(
                """insert into billing.received_payments (payment_id, client_id, amount, currency, received_on, method,
                       invoice_number, reference) values (%s, %s, %s, %s, %s, %s, %s, %s)
                   on conflict (payment_id) do nothing returning payment_id""",
                (payment["payment_id"], payment["client_id"], payment["amount"], payment["currency"],
                 payment["received_on"], payment["method"], payment["invoice_number"], payment["reference"]),
            )
            if cur.fetchone() is None:
                continue
            apply_money(cur, client_id=payment["client_id"], currency=payment["currency"],
                        amount=Decimal(payment["amount"]), on=payment["received_on"],
                        reference=f"manual:{payment['payment_id']}", first_invoice_id=invoice_id,
                        received_payment_id=payment["payment_id"])
            cur.execute("delete from billing.payment_refusals where payment_id = %s and version_number = 1",
                        (payment["payment_id"],))
            summary.applied.append(payment["payment_id"])
    return summary

