"""Crash injection at every step of attempt -> provider -> ledger -> message (collections.md
section 2, issue 8 point 11): never two successful charges for one balance, never two
messages with one key, nothing lost. The provider is localstripe behind a proxy that loses
requests before they arrive or answers after the provider acted; a crash of our process is
a step that stops half-way (the state the database was left in).

Each test was written first against the reconciliation of main at ccfdfef, where it failed:
a processing ACH debit was marked failed, a charge that never reached the provider was
marked `not_found_at_provider` and never made, and the look-up paged through the account."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from billing.collections.autopay import charge_day
from billing.collections.methods import sync_contract_methods
from billing.payments import record_attempt, send, settle

pytestmark = pytest.mark.integration

D = date(2026, 10, 13)
NUMBER = "INV-2026-000101"


def _one_invoice(book, method: str = "pm_card_visa", total: str = "212.50") -> int:
    book.client("C-101", autopay=True, method=method)
    return book.invoice(NUMBER, "C-101", total, issued=date(2026, 10, 1), due=D)


def _intents(book, localstripe) -> list[tuple[str, str]]:
    """(status, vigil_key) of every PaymentIntent localstripe holds for this invoice."""
    query = f"metadata['invoice_number']:'{NUMBER}'"
    found = book.gateway._client.v1.payment_intents.search(params={"query": query})
    return sorted((intent.status, intent.metadata["vigil_key"]) for intent in found.data)


def _receipts(book) -> list[str]:
    return [key for key, _ in book.messages(NUMBER) if ":receipt:" in key]


def _charges_only(book, day: date) -> None:
    """The day's steps up to the charges; the process dies before the day's messages."""
    with book.conn, book.conn.cursor() as cur:
        sync_contract_methods(cur, day)
    charge_day(book.conn, book.gateway, day)


def _record(book, invoice_id: int, day: date = D) -> dict:
    return record_attempt(book.conn, invoice_id=invoice_id, number=NUMBER, client_id="C-101", channel="autopay",
                          reason="due", day=day, currency="USD", payment_method="pm_card_visa", method="card")


@pytest.mark.parametrize("provider_keeps_keys", [True, False])
def test_crash_before_the_provider_call_is_sent_once_on_reconciliation(book, proxy, localstripe, provider_keeps_keys):
    """Attempt recorded, process dies before calling the provider. The next day's run finds it
    pending, the search has nothing, so the same request goes with the same key: one charge."""
    proxy.ignore_idempotency_keys = not provider_keeps_keys
    invoice_id = _one_invoice(book)
    _record(book, invoice_id)
    book.run(D + timedelta(days=1))
    assert [row[:4] for row in book.attempts(NUMBER)] == [(1, D, "due", "succeeded")]
    assert _intents(book, localstripe) == [("succeeded", f"vigil:{NUMBER}:1")]
    assert (book.status(NUMBER), _receipts(book)) == ("paid", [f"{NUMBER}:receipt:1:email"])


def test_after_the_key_window_an_attempt_the_provider_never_saw_allows_a_new_one(book, localstripe):
    """The pending attempt is two days old (past the provider's 24 h of idempotency keys) and
    the search has nothing: it provably never reached the provider. It ends `failed`
    (`not_sent`, no decline, no notice) and attempt 2 charges the balance the same day."""
    invoice_id = _one_invoice(book)
    _record(book, invoice_id)
    with book.conn, book.conn.cursor() as cur:
        cur.execute("update billing.payment_attempts set created_at = now() - interval '2 days'")
    book.run(D + timedelta(days=2))
    assert book.rows("""select attempt_no, attempt_date, status, failure_code, decline from billing.payment_attempts
                        order by attempt_no""") == [
        (1, D, "failed", "not_sent", None), (2, D + timedelta(days=2), "succeeded", None, None)]
    assert _intents(book, localstripe) == [("succeeded", f"vigil:{NUMBER}:2")]
    assert [key for key, _ in book.messages(NUMBER)] == [f"{NUMBER}:receipt:2:email"]


@pytest.mark.parametrize("provider_keeps_keys", [True, False])
def test_request_lost_on_the_way_freezes_the_invoice_until_reconciled(book, proxy, localstripe, provider_keeps_keys):
    """The charge's request never arrives (cut connection): `unknown`, no notice, nothing else
    is charged that day; the next day's reconciliation sends it again with the same key."""
    proxy.ignore_idempotency_keys = not provider_keeps_keys
    _one_invoice(book)
    proxy.lose_next_request(2)  # the method look-up and the charge
    book.run(D)
    assert [row[:4] for row in book.attempts(NUMBER)] == [(1, D, "due", "unknown")]
    assert (_intents(book, localstripe), book.messages(NUMBER)) == ([], [])
    book.run(D + timedelta(days=1))
    assert [row[:4] for row in book.attempts(NUMBER)] == [(1, D, "due", "succeeded")]
    assert _intents(book, localstripe) == [("succeeded", f"vigil:{NUMBER}:1")]


@pytest.mark.parametrize("provider_keeps_keys", [True, False])
def test_answer_lost_after_the_provider_charged_is_found_by_search_not_charged_again(
        book, proxy, localstripe, provider_keeps_keys):
    """The provider charged but the answer is lost: `unknown`. The next day's run finds the
    charge by its metadata (one search, no paging through the account, nothing sent again),
    applies it to the ledger with that day's date and sends the receipt."""
    proxy.ignore_idempotency_keys = not provider_keeps_keys
    _one_invoice(book)
    book.gateway.method_type("pm_card_visa")  # looked up before: only the charge's answer is lost
    proxy.lose_next_answer()
    book.run(D)
    assert [row[:4] for row in book.attempts(NUMBER)] == [(1, D, "due", "unknown")]
    proxy.seen.clear()
    book.run(D + timedelta(days=1))
    assert proxy.paths() == ["/v1/payment_intents/search"]
    assert book.attempts(NUMBER) == [(1, D, "due", "succeeded", None, D + timedelta(days=1))]
    assert _intents(book, localstripe) == [("succeeded", f"vigil:{NUMBER}:1")]
    assert (book.status(NUMBER), _receipts(book)) == ("paid", [f"{NUMBER}:receipt:1:email"])


def test_crash_after_the_answer_before_the_ledger(book, proxy, localstripe):
    """The provider answered `succeeded`, the process died before recording it: the attempt
    is still pending; reconciliation finds the charge and records it once."""
    invoice_id = _one_invoice(book)
    attempt = _record(book, invoice_id)
    assert send(book.gateway, attempt).status == "succeeded"
    book.run(D + timedelta(days=1))
    assert [row[:4] for row in book.attempts(NUMBER)] == [(1, D, "due", "succeeded")]
    assert proxy.charges() == 1
    assert book.rows("select count(*), sum(amount) from billing.ledger_entries") == [(1, 212.5)]


def test_crash_after_the_ledger_before_the_receipt(book):
    """Charged and recorded on D, the process died before the day's messages: the next day's
    run sends the one receipt (dated that day); a third run sends nothing."""
    _one_invoice(book)
    _charges_only(book, D)
    assert (book.status(NUMBER), book.messages(NUMBER)) == ("paid", [])
    book.run(D + timedelta(days=1))
    book.run(D + timedelta(days=1), D + timedelta(days=2))
    assert book.messages(NUMBER) == [(f"{NUMBER}:receipt:1:email", D + timedelta(days=1))]


def test_crash_while_a_message_is_sent(book):
    """The failure notice was recorded `pending` and the process died before the file was
    written (the email) or after (the SMS): the next run sends the first and keeps the
    second, and each key exists once."""
    _one_invoice(book, method="pm_card_chargeDeclined")
    _charges_only(book, D)
    with book.conn, book.conn.cursor() as cur:
        for channel in ("email", "sms"):
            cur.execute("""insert into billing.messages (dedupe_key, client_id, template, channel, recipient, subject,
                               status, business_date) values (%s, 'C-101', 'payment_failed', %s, 'x', 's',
                               'pending', %s)""", (f"{NUMBER}:payment_failed:1:{channel}", channel, D))
    (book.outbox / "sms").mkdir(parents=True)
    (book.outbox / "sms" / f"{NUMBER}:payment_failed:1:sms.json").write_text('{"body": "written before the crash"}')
    book.run(D)
    book.run(D)
    assert book.rows("select dedupe_key, status from billing.messages order by dedupe_key") == [
        (f"{NUMBER}:payment_failed:1:email", "sent"), (f"{NUMBER}:payment_failed:1:sms", "sent")]
    assert (book.outbox / "email" / f"{NUMBER}:payment_failed:1:email.eml").exists()


def test_processing_debit_stays_processing_until_the_bank_answers(book, localstripe):
    """ACH: `processing` on D, asked about each day after (still processing: no second
    attempt, no reminder, no notice), then settled by the bank: succeeded on the day the
    poll learns it, applied to the ledger with that date, one receipt."""
    from vigil_app.demo.localstripe import settle_debit

    _one_invoice(book, method="pm_usBankAccount")
    book.run(D, D + timedelta(days=3))
    assert book.attempts(NUMBER) == [(1, D, "due", "processing", None, None)]
    assert book.messages(NUMBER) == []
    [(ref,)] = book.rows("select provider_ref from billing.payment_attempts")
    settle_debit(localstripe, ref, "succeeded")
    book.run(D + timedelta(days=4))
    assert book.attempts(NUMBER) == [(1, D, "due", "succeeded", None, D + timedelta(days=4))]
    assert book.rows("select effective_date from billing.ledger_entries") == [(D + timedelta(days=4),)]
    assert book.messages(NUMBER) == [(f"{NUMBER}:receipt:1:email", D + timedelta(days=4))]


def test_a_late_or_repeated_answer_never_moves_an_attempt_back(book):
    from billing.payments import Outcome

    invoice_id = _one_invoice(book)
    attempt = _record(book, invoice_id)
    day = D + timedelta(days=1)
    assert settle(book.conn, attempt["payment_attempt_id"], Outcome("processing", "pi_1"), D) == "processing"
    assert settle(book.conn, attempt["payment_attempt_id"], Outcome("succeeded", "pi_1"), day) == "succeeded"
    for late in (Outcome("processing", "pi_1"), Outcome("failed", "pi_1", "card_declined"),
                 Outcome("succeeded", "pi_1"), Outcome("unknown")):
        assert settle(book.conn, attempt["payment_attempt_id"], late, day) is None
    assert book.rows("select status, settled_on from billing.payment_attempts") == [("succeeded", day)]
    assert book.rows("select count(*) from billing.ledger_entries") == [(1,)]
