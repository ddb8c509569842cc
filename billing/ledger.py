"""The ledger (collections.md section 1): money applied to invoices. An invoice's balance is
its total minus the payments and credits applied to it, and its status follows the balance
(`issued`, `partially_paid`, `paid`), except that a delinquent or handed-off invoice keeps
saying so until it is paid in full.

Entries: `payment` and `credit` rows on an invoice are money applied to it; rows without an
invoice are the client's credit, positive when money was left over (an overpayment, the
rest of a credit note), negative when that credit was applied to an invoice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

APPLIED = ("payment", "credit")
OPEN_STATUSES = ("issued", "partially_paid", "delinquent", "in_collections")


def refresh_invoice_status(cur, invoice_id: int) -> None:
    """Status follows the balance; held and void stay as they are, dunning stays until paid."""
    cur.execute(
        """update billing.invoices i set status = case
               when paid.amount >= i.total then 'paid'
               when exists (select 1 from billing.dunning_events d
                            where d.invoice_id = i.invoice_id and d.status = 'in_collections') then 'in_collections'
               when exists (select 1 from billing.dunning_events d
                            where d.invoice_id = i.invoice_id and d.status = 'delinquent') then 'delinquent'
               when paid.amount > 0 then 'partially_paid'
               else 'issued' end
           from (select coalesce(sum(amount), 0) as amount from billing.ledger_entries
                 where invoice_id = %s and entry_type in ('payment', 'credit')) paid
           where i.invoice_id = %s
             and i.status in ('issued', 'partially_paid', 'paid', 'delinquent', 'in_collections')""",
        (invoice_id, invoice_id),
    )


def balance_on(cur, invoice_id: int, day: date | None = None) -> Decimal:
    """Total minus what was applied (on or before `day`, when given)."""
    with cur.connection.cursor() as plain:
        return _fetch(plain, """select i.total - coalesce(sum(e.amount) filter (
                   where e.entry_type in ('payment', 'credit') and (%s::date is null or e.effective_date <= %s)), 0)
           from billing.invoices i left join billing.ledger_entries e using (invoice_id)
           where i.invoice_id = %s group by i.invoice_id""", (day, day, invoice_id))[0][0]


OPEN_INVOICES_SQL = """
    select i.invoice_id, i.total - coalesce(sum(e.amount), 0) as balance
    from billing.invoices i
    left join billing.ledger_entries e on e.invoice_id = i.invoice_id and e.entry_type in ('payment', 'credit')
    where i.client_id = %s and i.currency = %s and i.invoice_number like 'INV-%%'
      and i.status in ('issued', 'partially_paid', 'delinquent', 'in_collections') and i.issue_date <= %s
    group by i.invoice_id
    having i.total - coalesce(sum(e.amount), 0) > 0
    order by i.invoice_id is distinct from %s, i.due_date, i.invoice_number
"""


def lock_client(cur, client_id: str) -> None:
    """One writer of a client's ledger at a time (the daily run, a webhook, the portal),
    until the transaction ends: balances read under it stay true."""
    cur.execute("select pg_advisory_xact_lock(hashtext('vigil.ledger'), hashtext(%s))", (client_id,))


def _open_invoices(cur, client_id: str, currency: str, on: date, first_invoice_id: int | None) -> list[tuple]:
    """The client's invoices with a balance, issued by `on`: `first_invoice_id` first, then
    the oldest due (collections.md section 1)."""
    lock_client(cur, client_id)
    with cur.connection.cursor() as plain:  # the caller's cursor may hand out dicts
        return _fetch(plain, OPEN_INVOICES_SQL, (client_id, currency, on, first_invoice_id))


def _fetch(cur, sql: str, params) -> list[tuple]:
    cur.execute(sql, params)
    return cur.fetchall()


@dataclass
class Applied:
    """Where one amount went: (invoice id, amount) per invoice, and what became client credit."""

    invoices: list[tuple[int, Decimal]]
    credit: Decimal


def apply_money(cur, *, client_id: str, currency: str, amount: Decimal, on: date, reference: str,
                entry_type: str = "payment", first_invoice_id: int | None = None,
                payment_attempt_id: int | None = None, received_payment_id: str | None = None) -> Applied:
    """Apply `amount` received on `on`: to `first_invoice_id` (the invoice the payment names),
    then the client's oldest open invoices; what is left becomes a client credit."""
    left = amount
    placed: list[tuple[int, Decimal]] = []
    for invoice_id, balance in _open_invoices(cur, client_id, currency, on, first_invoice_id):
        if left <= 0:
            break
        part = min(left, balance)
        placed.append((invoice_id, part))
        left -= part
    rows = [(invoice_id, part, entry_type) for invoice_id, part in placed]
    if left > 0:
        rows.append((None, left, "credit"))
    for invoice_id, part, kind in rows:
        cur.execute(
            """insert into billing.ledger_entries (invoice_id, client_id, entry_type, amount, currency, effective_date,
                   payment_attempt_id, received_payment_id, reference)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (invoice_id, client_id, kind, part, currency, on, payment_attempt_id, received_payment_id, reference),
        )
    for invoice_id, _ in placed:
        refresh_invoice_status(cur, invoice_id)
    return Applied(placed, max(left, Decimal(0)))


def apply_credit(cur, *, client_id: str, currency: str, credit: Decimal, reference: str, on: date,
                 first_invoice_id: int | None = None) -> None:
    """Apply a credit note's amount: to `first_invoice_id` (the invoice it credits) first,
    then the oldest due; what is left is an unapplied client credit."""
    apply_money(cur, client_id=client_id, currency=currency, amount=credit, on=on, reference=reference,
                entry_type="credit", first_invoice_id=first_invoice_id)


def apply_client_credits(cur, on: date) -> list[tuple[str, int, Decimal]]:
    """Client credit (overpayments, the rest of credit notes) available on `on`, applied to
    the client's open invoices issued by then, oldest first: the next invoice when it is
    issued. Returns (client, invoice id, amount) per application."""
    with cur.connection.cursor() as plain:
        return _apply_client_credits(plain, on)


def _apply_client_credits(cur, on: date) -> list[tuple[str, int, Decimal]]:
    cur.execute(
        """select client_id, currency, sum(amount) from billing.ledger_entries
           where invoice_id is null and effective_date <= %s
           group by client_id, currency having sum(amount) > 0 order by client_id, currency""",
        (on,),
    )
    applications: list[tuple[str, int, Decimal]] = []
    for client_id, currency, available in cur.fetchall():
        left = available
        for invoice_id, balance in _open_invoices(cur, client_id, currency, on, None):
            if left <= 0:
                break
            part = min(left, balance)
            cur.execute("select invoice_number from billing.invoices where invoice_id = %s", (invoice_id,))
            number = cur.fetchone()[0]
            cur.execute("""select count(*) from billing.ledger_entries
                           where invoice_id = %s and reference like 'credit:%%'""", (invoice_id,))
            reference = f"credit:{number}:{cur.fetchone()[0] + 1}"
            cur.execute(
                """insert into billing.ledger_entries (invoice_id, client_id, entry_type, amount, currency,
                       effective_date, reference)
                   values (%s, %s, 'credit', %s, %s, %s, %s), (null, %s, 'credit', %s, %s, %s, %s)""",
                (invoice_id, client_id, part, currency, on, reference, client_id, -part, currency, on, reference),
            )
            refresh_invoice_status(cur, invoice_id)
            applications.append((client_id, invoice_id, part))
            left -= part
    return applications
