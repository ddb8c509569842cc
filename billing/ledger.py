"""The ledger (collections.md section 1): money applied to invoices. An invoice's balance is
its total minus the payments and credits applied to it, and its status follows the balance."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

APPLIED = ("payment", "credit")


def refresh_invoice_status(cur, invoice_id: int) -> None:
    """Status follows the balance; held, void and collections stay as they are."""
    cur.execute(
        """update billing.invoices i set status = case
               when paid.amount >= i.total then 'paid'
               when paid.amount > 0 then 'partially_paid'
               else 'issued' end
           from (select coalesce(sum(amount), 0) as amount from billing.ledger_entries
                 where invoice_id = %s and entry_type in ('payment', 'credit')) paid
           where i.invoice_id = %s and i.status in ('issued', 'partially_paid', 'paid')""",
        (invoice_id, invoice_id),
    )


def apply_credit(cur, *, client_id: str, currency: str, credit: Decimal, reference: str, on: date,
                 first_invoice_id: int | None = None) -> None:
    """Apply a credit to the client's open invoices: `first_invoice_id` first (the invoice a
    credit note credits), then the oldest due; what is left is an unapplied client credit
    (invoice_id null)."""
    cur.execute(
        """select i.invoice_id, i.total - coalesce(sum(e.amount), 0) as balance
           from billing.invoices i
           left join billing.ledger_entries e on e.invoice_id = i.invoice_id and e.entry_type in ('payment', 'credit')
           where i.client_id = %s and i.invoice_number like 'INV-%%' and i.status in ('issued', 'partially_paid')
           group by i.invoice_id
           having i.total - coalesce(sum(e.amount), 0) > 0
           order by i.invoice_id is distinct from %s, i.due_date, i.invoice_number""",
        (client_id, first_invoice_id),
    )
    targets: list[int] = []
    for invoice_id, balance in cur.fetchall():
        if credit <= 0:
            break
        amount = min(credit, balance)
        cur.execute(
            """insert into billing.ledger_entries (invoice_id, client_id, entry_type, amount, currency, effective_date,
                   reference) values (%s, %s, 'credit', %s, %s, %s, %s)""",
            (invoice_id, client_id, amount, currency, on, reference),
        )
        targets.append(invoice_id)
        credit -= amount
    if credit > 0:
        cur.execute(
            """insert into billing.ledger_entries (invoice_id, client_id, entry_type, amount, currency, effective_date,
                   reference) values (null, %s, 'credit', %s, %s, %s, %s)""",
            (client_id, credit, currency, on, reference),
        )
    for invoice_id in targets:
        refresh_invoice_status(cur, invoice_id)
