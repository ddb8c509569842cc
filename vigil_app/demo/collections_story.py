"""The demo's collections story (issue 9): what the simulated clients do about their
invoices over the simulated days, so that `vigil demo` shows every path of collections.

| client | pays | what happens |
| --- | --- | --- |
| C-1001 | card (pm_card_visa) | charged on each due date |
| C-1002 | card that is always declined (pm_card_chargeCustomerFail) | retries, delinquent, collections |
| C-1003 | by check, late (auto-pay without a payment method) | reminders, then a check a week after D |
| C-1004 | expired card (pm_card_chargeDeclinedExpiredCard) | hard decline; a new card set in the portal 2 days later |
| C-1005 | ACH Direct Debit (pm_usBankAccount) | processing, paid by the bank four days later |
| C-1006 | card short of funds once (pm_card_vigil_declinedThenApproved) | declined on D, paid on the retry D+1 |

The invoices of cycles before the simulated days (the contracts started months earlier)
were paid before Vigil: an opening-balances file in `payments/` says so, received on their
due dates. The demo issues the invoices first (a run without collections), writes what the
clients did from them (the opening balances, C-1003's checks, C-1004's new card dated two
days after its first decline), then runs every day with collections."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

from billing.collections.methods import set_from_portal

# client index -> (autopay, payment method) where the story differs from the simulated world
PAYMENT_METHODS = {
    3: (True, "pm_card_chargeDeclinedExpiredCard"),
    4: (True, "pm_usBankAccount"),
    5: (True, "pm_card_vigil_declinedThenApproved"),
}
ROLES = {0: "pays by card", 1: "card always declined: ends in collections", 2: "pays by check, late",
         3: "card hard-declined, replaced in the portal", 4: "pays by ACH Direct Debit",
         5: "card declined once, paid on the retry"}
CHECK_PAYER = "C-1003"
REPLACING_CLIENT = "C-1004"
NEW_CARD = "pm_card_visa"
CHECK_DAYS_LATE = 7
REPLACED_AFTER_DAYS = 2


def client_id(index: int) -> str:
    return f"C-{1001 + index}"


def story_methods(clients: int) -> dict[str, tuple[bool, str | None]]:
    """The payment methods the story gives the simulated clients (by client id)."""
    return {client_id(index): terms for index, terms in PAYMENT_METHODS.items() if index < clients}


def _invoices(conn, where: str, params: tuple) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(f"""select invoice_number, client_id, total, currency, due_date from billing.invoices
                        where invoice_number like 'INV-%%' and credit_for is null and status <> 'void' and {where}
                        order by due_date, invoice_number""", params)
        rows = cur.fetchall()
    conn.commit()
    return rows


def _write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ["payment_id", "client_id", "amount", "received_on", "method", "invoice_number", "reference"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write_payments(conn, inbox: Path, start: date, end: date) -> None:
    """`payments/opening-balances.csv` (every invoice due before `start`, paid on its due date
    before Vigil) and `payments/lockbox-checks.csv` (C-1003's checks, a week after each due
    date that falls in the simulated days). Same invoices, same bytes."""
    opening = [{"payment_id": f"OPEN-{number}", "client_id": client, "amount": str(total),
                "received_on": due.isoformat(), "method": "ach", "invoice_number": number,
                "reference": "balance brought forward"}
               for number, client, total, _, due in _invoices(conn, "due_date < %s", (start,))]
    checks = [{"payment_id": f"CHK-{number}", "client_id": client, "amount": str(total),
               "received_on": (due + timedelta(days=CHECK_DAYS_LATE)).isoformat(), "method": "check",
               "invoice_number": number, "reference": f"check for {number}"}
              for number, client, total, _, due in _invoices(
                  conn, "client_id = %s and due_date between %s and %s",
                  (CHECK_PAYER, start, end - timedelta(days=CHECK_DAYS_LATE)))]
    _write_csv(inbox / "payments" / "opening-balances.csv", opening)
    _write_csv(inbox / "payments" / "lockbox-checks.csv", checks)


def replace_card(conn, gateway, start: date, end: date) -> date | None:
    """C-1004 sets a new card in the portal two days after its first auto-pay charge of the
    simulated days (declined: the card has expired): a SetupIntent at the provider, in force
    from that day. Done once."""
    due = [row[4] for row in _invoices(conn, "client_id = %s and due_date between %s and %s",
                                       (REPLACING_CLIENT, start, end))]
    if not due or gateway is None:
        return None
    day = due[0] + timedelta(days=REPLACED_AFTER_DAYS)
    with conn.cursor() as cur:
        cur.execute("select 1 from billing.payment_methods where client_id = %s and source = 'portal'",
                    (REPLACING_CLIENT,))
        done = cur.fetchone() is not None
    conn.commit()
    if not done:
        saved, refused = gateway.save_method(NEW_CARD, {"vigil_client": REPLACING_CLIENT})
        if saved is None:
            raise RuntimeError(f"the demo's new card was refused: {refused}")
        with conn, conn.cursor() as cur:
            set_from_portal(cur, REPLACING_CLIENT, saved, day)
    return day


def summary(conn, clients: int) -> dict[str, dict]:
    """Per client: its role and what happened (for the demo's summary)."""
    with conn.cursor() as cur:
        cur.execute(
            """select c.client_id, c.client_name,
                      (select count(*) from billing.invoices i where i.client_id = c.client_id
                         and i.invoice_number like 'INV-%%') as invoices,
                      (select count(*) from billing.payment_attempts a join billing.invoices i using (invoice_id)
                       where i.client_id = c.client_id and a.status = 'succeeded') as charged,
                      (select count(*) from billing.payment_attempts a join billing.invoices i using (invoice_id)
                       where i.client_id = c.client_id and a.status = 'failed' and a.decline = 'soft') as soft,
                      (select count(*) from billing.payment_attempts a join billing.invoices i using (invoice_id)
                       where i.client_id = c.client_id and a.status = 'failed' and a.decline = 'hard') as hard,
                      (select count(*) from billing.payment_attempts a join billing.invoices i using (invoice_id)
                       where i.client_id = c.client_id and a.reason = 'retry' and a.status = 'succeeded')
                          as recovered,
                      (select count(*) from billing.payment_attempts a join billing.invoices i using (invoice_id)
                       where i.client_id = c.client_id and a.method = 'us_bank_account'
                         and a.status = 'succeeded') as ach,
                      (select count(*) from billing.payment_methods m where m.client_id = c.client_id
                         and m.source = 'portal') as replaced,
                      (select count(*) from billing.received_payments r where r.client_id = c.client_id
                         and r.method = 'check') as checks,
                      (select count(*) from billing.messages m where m.client_id = c.client_id
                         and m.template like 'reminder%%' and m.status = 'sent') as reminders,
                      (select count(*) from billing.dunning_events d join billing.invoices i using (invoice_id)
                       where i.client_id = c.client_id and d.status = 'delinquent') as delinquent,
                      (select count(*) from billing.collection_handoffs h where h.client_id = c.client_id)
                          as in_collections
               from marts.dim_clients c order by c.client_id"""
        )
        columns = [column.name for column in cur.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
    conn.commit()
    roles = {client_id(index): role for index, role in ROLES.items() if index < clients}
    return {row["client_id"]: {"role": roles.get(row["client_id"], "simulated"),
                               **{k: v for k, v in row.items() if k != "client_id"}} for row in rows}
