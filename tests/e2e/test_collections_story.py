"""One whole `vigil run` story of collections (issue 9), in test mode, end to end: ingest,
dbt, invoices, delivery and every business day of collections through Dagster, then the
exports; the same range run again changes no export.

Four clients, one monthly monitoring contract each from 2026-09-01 (advance invoices,
issued 5 days before the 1st, due on the 1st; monitoring untaxed), run through 2026-11-05.
Numbers go by issue date then client: 08-27 INV-1..4, 09-26 INV-5..8, 10-27 INV-9..12.

- C-1, pm_card_visa, 100.00: paid on 09-01, 10-01, 11-01; three receipts.
- C-2, pm_card_chargeDeclinedInsufficientFunds, 200.00: each month declined on D, D+1, D+3,
  D+7 (notices by email and SMS); INV-2 delinquent 09-08 (retries exhausted), final reminder
  09-11, handed to collections 10-01 (D+30); INV-6 likewise 10-08, 10-11, 10-31; INV-10
  declined 11-01, 11-02, 11-04 (next retry 11-08, after the run).
- C-3, no auto-pay, pays by check late, 300.00: reminders on D (09-01; D-3 was before the
  first day), D+5 (09-06); check P-1 300.00 on 09-08 pays INV-3. INV-7: reminders 09-28, 10-01,
  10-06; check P-2 350.00 on 10-09: 300.00 to INV-7, 50.00 client credit, applied to INV-11
  when it is issued on 10-27 (250.00 left: reminders 10-29 and 11-01 say so).
- C-4, pm_usBankAccount, 400.00: each debit processing on the 1st, paid by the bank on the
  5th (the test clock), receipt that day.
- Refused: P-9 (unknown client C-99), P-1 delivered again with another amount."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.cli import export, vigil

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CLIENTS = {  # client -> (payment method or None, amount)
    "C-1": ("pm_card_visa", "100.00"),
    "C-2": ("pm_card_chargeDeclinedInsufficientFunds", "200.00"),
    "C-3": (None, "300.00"),
    "C-4": ("pm_usBankAccount", "400.00"),
}

PAYMENTS = """\
payment_id,client_id,amount,received_on,method,invoice_number,reference
P-1,C-3,300.00,2026-09-08,check,,check 1001
P-2,C-3,350.00,2026-10-09,check,,check 1002
P-9,C-99,75.00,2026-10-02,wire,,wire 77
P-1,C-3,310.00,2026-09-08,check,,check 1001 corrected
"""


def _contract(client: str, method: str | None, amount: str) -> str:
    n = client.split("-")[1]
    billing = f"  autopay: true\n  payment_method: {method}\n" if method else ""
    return f"""\
client:
  id: {client}
  name: Client {n}
  email: ap@client{n}.example
  phone: "+1555555010{n}"
{billing}sites:
  - id: S-{n}
    name: Site {n}
    timezone: America/New_York
    tax_jurisdiction: US-NY
contracts:
  - id: K-{n}
    start_date: 2026-09-01
    end_date: 2027-08-31
    billing_cycle: monthly
    recurring:
      - {{code: MON-{n}, category: monitoring, site_id: S-{n}, amount: "{amount}"}}
"""


def _inbox(root: Path) -> Path:
    files = {f"contracts/{client}.yaml": _contract(client, *terms) for client, terms in CLIENTS.items()}
    files["tax/jurisdictions.csv"] = "code,rate,taxable_categories,name\nUS-NY,0.04,regular_hours,NY state\n"
    files["payments/lockbox-2026.csv"] = PAYMENTS
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


EXPORTS = ("invoices", "payments", "messages", "collections", "quarantine")


@pytest.fixture(scope="module")
def story(warehouse, tmp_path_factory):
    import os

    from vigil_app.demo.localstripe import ensure_localstripe, forget_everything

    saved = os.environ.get("VIGIL_PAYMENTS")
    os.environ["VIGIL_PAYMENTS"] = "local"
    try:
        forget_everything(ensure_localstripe())
        inbox = _inbox(tmp_path_factory.mktemp("inbox"))
        runs = []
        for attempt in (1, 2):
            summary = json.loads(vigil("run", "--inbox", inbox, "--through", "2026-11-05", "--json")
                                 .strip().splitlines()[-1])
            folder = tmp_path_factory.mktemp(f"exports-{attempt}")
            runs.append({"summary": summary, **{what: export(what, folder) for what in EXPORTS}})
        vigil("export", "collections", "--out", folder / "collections.csv", "--format", "csv")
        runs[-1]["collections_csv"] = (folder / "collections.csv").read_text()
        return runs
    finally:
        if saved is None:
            os.environ.pop("VIGIL_PAYMENTS", None)
        else:
            os.environ["VIGIL_PAYMENTS"] = saved


def _invoices(run) -> dict[str, tuple]:
    return {inv["invoice_number"]: (inv["client_id"], inv["status"], inv["total"], inv["amount_paid"], inv["balance"])
            for inv in run["invoices"]}


def test_invoices_end_with_the_hand_computed_statuses_and_balances(story):
    assert _invoices(story[0]) == {
        "INV-2026-000001": ("C-1", "paid", "100.00", "100.00", "0.00"),
        "INV-2026-000002": ("C-2", "in_collections", "200.00", "0.00", "200.00"),
        "INV-2026-000003": ("C-3", "paid", "300.00", "300.00", "0.00"),
        "INV-2026-000004": ("C-4", "paid", "400.00", "400.00", "0.00"),
        "INV-2026-000005": ("C-1", "paid", "100.00", "100.00", "0.00"),
        "INV-2026-000006": ("C-2", "in_collections", "200.00", "0.00", "200.00"),
        "INV-2026-000007": ("C-3", "paid", "300.00", "300.00", "0.00"),
        "INV-2026-000008": ("C-4", "paid", "400.00", "400.00", "0.00"),
        "INV-2026-000009": ("C-1", "paid", "100.00", "100.00", "0.00"),
        "INV-2026-000010": ("C-2", "issued", "200.00", "0.00", "200.00"),
        "INV-2026-000011": ("C-3", "partially_paid", "300.00", "50.00", "250.00"),
        "INV-2026-000012": ("C-4", "paid", "400.00", "400.00", "0.00"),
    }


def test_summary_counts_reminders_retries_receipts_and_dunning(story):
    summary = story[0]["summary"]
    assert summary["collections"] == {"reminders": 9, "retries": 8, "receipts": 8, "delinquent": 2,
                                      "in_collections": 2}
    assert summary["payments"] == {"succeeded": 6, "failed": 11, "amount": "1500.00", "mode": "local"}
    assert summary["quarantined"] == {"payments": 2}


def test_the_payments_export_tells_each_payment(story):
    rows = story[0]["payments"]
    by_key = {}
    for row in rows:
        by_key.setdefault(row["attempt_key"], []).append(
            (row["invoice_number"], row["for_date"], row["method"], row["amount"], row["status"], row["decline"]))
    assert by_key["vigil:INV-2026-000002:4"] == [("INV-2026-000002", "2026-09-08", "card", "200.00", "failed", "soft")]
    assert by_key["vigil:INV-2026-000008:1"] == [
        ("INV-2026-000008", "2026-10-01", "us_bank_account", "400.00", "succeeded", None)]
    assert by_key["manual:P-1"] == [("INV-2026-000003", "2026-09-08", "manual", "300.00", "succeeded", None)]
    assert by_key["manual:P-2"] == [("INV-2026-000007", "2026-10-09", "manual", "300.00", "succeeded", None),
                                    (None, "2026-10-09", "manual", "50.00", "succeeded", None)]
    assert by_key["credit:INV-2026-000011:1"] == [
        ("INV-2026-000011", "2026-10-27", "credit", "50.00", "succeeded", None)]
    assert sorted(key for key in by_key if key.startswith("vigil:INV-2026-000010")) == [
        "vigil:INV-2026-000010:1", "vigil:INV-2026-000010:2", "vigil:INV-2026-000010:3"]


def test_messages_go_out_on_their_days_once(story):
    messages = {row["message_key"]: (row["for_date"], row["template"], row["status"]) for row in story[0]["messages"]}
    assert len(messages) == len(story[0]["messages"])
    c3 = sorted((date, key) for key, (date, _, _) in messages.items() if key.split(":")[0] in (
        "INV-2026-000003", "INV-2026-000007", "INV-2026-000011") and "reminder" in key)
    assert c3 == [
        ("2026-09-01", "INV-2026-000003:reminder_due:email"),
        ("2026-09-06", "INV-2026-000003:reminder_overdue:email"),
        ("2026-09-28", "INV-2026-000007:reminder_before_due:email"),
        ("2026-10-01", "INV-2026-000007:reminder_due:email"),
        ("2026-10-06", "INV-2026-000007:reminder_overdue:email"),
        ("2026-10-29", "INV-2026-000011:reminder_before_due:email"),
        ("2026-11-01", "INV-2026-000011:reminder_due:email"),
    ]
    assert messages["INV-2026-000002:payment_failed:4:sms"][:2] == ("2026-09-08", "payment_failed")
    assert messages["INV-2026-000002:reminder_final:email"][0] == "2026-09-11"
    assert messages["INV-2026-000004:receipt:1:email"][0] == "2026-09-05"
    assert messages["INV-2026-000007:receipt:P-2:email"][0] == "2026-10-09"
    assert {status for _, _, status in messages.values()} == {"sent"}


def test_the_collections_export_is_the_agency_hand_off(story):
    assert story[0]["collections"] == [
        {"invoice_number": "INV-2026-000002", "client_id": "C-2", "client_name": "Client 2",
         "email": "ap@client2.example", "phone": "+15555550102", "currency": "USD", "amount_due": "200.00",
         "due_date": "2026-09-01", "days_past_due": 30, "handed_off_on": "2026-10-01", "attempts": 4, "messages": 10},
        {"invoice_number": "INV-2026-000006", "client_id": "C-2", "client_name": "Client 2",
         "email": "ap@client2.example", "phone": "+15555550102", "currency": "USD", "amount_due": "200.00",
         "due_date": "2026-10-01", "days_past_due": 30, "handed_off_on": "2026-10-31", "attempts": 4, "messages": 10},
    ]
    assert story[1]["collections_csv"].splitlines()[0] == (
        "invoice_number,client_id,client_name,email,phone,currency,amount_due,due_date,days_past_due,handed_off_on,"
        "attempts,messages")


def test_refused_payments_are_quarantined_with_file_line_and_field(story):
    refused = [(row["record_id"], row["line"], row["field"]) for row in story[0]["quarantine"]
               if row["source"] == "payments"]
    assert refused == [("P-9", 4, "client_id"), ("P-1", 5, "payment_id")]


def test_running_the_same_range_again_changes_no_export(story):
    first, second = story
    for what in ("summary", *EXPORTS):
        assert second[what] == first[what], what
