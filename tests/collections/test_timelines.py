"""The timelines of collections.md, day by day, each computed by hand, through the billing
functions against localstripe and a real database (tests/collections/book.py).

Dates: every invoice is issued 2026-10-01 and due D = 2026-10-13 unless a test says."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

pytestmark = pytest.mark.integration

ISSUED, D = date(2026, 10, 1), date(2026, 10, 13)


def day(offset: int) -> date:
    return D + timedelta(days=offset)


def test_soft_decline_recovered_on_f_plus_3(book, localstripe):
    """D: declined (insufficient funds) -> F = D; F+1 declined; F+2 nothing; F+3 approved.
    Messages: payment_failed after attempts 1 and 2 (email and SMS), one receipt after 3."""
    from vigil_app.demo.localstripe import decline_next_charges

    decline_next_charges(localstripe, 2)
    book.client("C-1", autopay=True, method="pm_card_vigil_declinedThenApproved")
    book.invoice("INV-2026-000001", "C-1", "250.00", issued=ISSUED, due=D)
    book.run(day(-1), day(4))
    assert book.attempts("INV-2026-000001") == [
        (1, day(0), "due", "failed", "soft", day(0)),
        (2, day(1), "retry", "failed", "soft", day(1)),
        (3, day(3), "retry", "succeeded", None, day(3)),
    ]
    assert book.status("INV-2026-000001") == "paid"
    assert book.messages("INV-2026-000001") == [
        ("INV-2026-000001:payment_failed:1:email", day(0)), ("INV-2026-000001:payment_failed:1:sms", day(0)),
        ("INV-2026-000001:payment_failed:2:email", day(1)), ("INV-2026-000001:payment_failed:2:sms", day(1)),
        ("INV-2026-000001:receipt:3:email", day(3)),
    ]
    assert book.dunning("INV-2026-000001") == []


def test_exhausted_retries_make_it_delinquent_then_collections_on_d_plus_30(book):
    """Insufficient funds every time: D (F), F+1, F+3, F+7 all declined -> retries exhausted and
    delinquent on F+7 = D+7 (before D+10); reminder_final on D+10 (auto-pay, balance left);
    in_collections on D+30 with one hand-off record: 4 attempts, 9 messages sent by then."""
    book.client("C-2", autopay=True, method="pm_card_chargeDeclinedInsufficientFunds")
    book.invoice("INV-2026-000002", "C-2", "410.00", issued=ISSUED, due=D)
    book.run(day(0), day(31))
    assert [(no, on, reason, status, decline) for no, on, reason, status, decline, _ in
            book.attempts("INV-2026-000002")] == [
        (1, day(0), "due", "failed", "soft"), (2, day(1), "retry", "failed", "soft"),
        (3, day(3), "retry", "failed", "soft"), (4, day(7), "retry", "failed", "soft")]
    assert book.dunning("INV-2026-000002") == [("delinquent", day(7)), ("in_collections", day(30))]
    assert book.status("INV-2026-000002") == "in_collections"
    keys = book.messages("INV-2026-000002")
    assert keys == [(f"INV-2026-000002:payment_failed:{n}:{channel}", day(offset))
                    for n, offset in ((1, 0), (2, 1), (3, 3), (4, 7)) for channel in ("email", "sms")] + [
        ("INV-2026-000002:reminder_final:email", day(10))]
    handoff = book.rows("""select handed_off_on, amount_due, due_date, days_past_due, attempts, messages, email
                           from billing.collection_handoffs""")
    assert handoff == [(day(30), 410, D, 30, 4, 9, "ap@client.example")]
    last_notice = (book.outbox / "email" / "INV-2026-000002:payment_failed:4:email.eml").read_text()
    assert "This was our last automatic attempt" in last_notice
    first_notice = (book.outbox / "sms" / "INV-2026-000002:payment_failed:1:sms.json").read_text()
    assert "We will try again on 2026-10-14" in first_notice


def test_hard_decline_stops_retries_and_a_new_method_is_charged_the_next_day(book):
    """Lost card on D: hard, no retry, payment_method_needed by email and SMS. The client sets
    pm_card_visa in the portal on D+4: charged on D+4 (the day's run comes after), paid,
    one receipt. A second invoice of a client whose card is stolen and never replaced is not
    delinquent before D+10 and gets reminder_final on D+10."""
    book.client("C-3", autopay=True, method="pm_card_chargeDeclinedLostCard")
    book.client("C-4", autopay=True, method="pm_card_chargeDeclinedStolenCard", phone=None)
    book.invoice("INV-2026-000003", "C-3", "99.95", issued=ISSUED, due=D)
    book.invoice("INV-2026-000004", "C-4", "120.00", issued=ISSUED, due=D)
    book.run(day(0), day(3))
    book.set_method("C-3", "pm_card_visa", day(4))
    book.run(day(4), day(11))
    assert [(no, on, reason, status, decline) for no, on, reason, status, decline, _ in
            book.attempts("INV-2026-000003")] == [
        (1, day(0), "due", "failed", "hard"), (2, day(4), "new_method", "succeeded", None)]
    assert book.messages("INV-2026-000003") == [
        ("INV-2026-000003:payment_method_needed:1:email", day(0)),
        ("INV-2026-000003:payment_method_needed:1:sms", day(0)),
        ("INV-2026-000003:receipt:2:email", day(4))]
    assert book.status("INV-2026-000003") == "paid"
    assert [row[:5] for row in book.attempts("INV-2026-000004")] == [(1, day(0), "due", "failed", "hard")]
    assert book.dunning("INV-2026-000004") == [("delinquent", day(10))]
    assert book.messages("INV-2026-000004") == [
        ("INV-2026-000004:payment_method_needed:1:email", day(0)), ("INV-2026-000004:reminder_final:email", day(10))]


def test_a_changed_method_in_the_contract_file_is_charged_on_the_next_day_that_runs(book):
    """Expired card on D (hard). The contract file is corrected to pm_card_mastercard before
    the run of D+2: that run charges it on D+2."""
    book.client("C-5", autopay=True, method="pm_card_chargeDeclinedExpiredCard")
    book.invoice("INV-2026-000005", "C-5", "75.00", issued=ISSUED, due=D)
    book.run(day(0), day(1))
    book.client("C-5", autopay=True, method="pm_card_mastercard")
    book.run(day(2), day(3))
    assert [row[:5] for row in book.attempts("INV-2026-000005")] == [
        (1, day(0), "due", "failed", "hard"), (2, day(2), "new_method", "succeeded", None)]


def test_reminders_on_d_minus_3_d_d_plus_5_d_plus_10_and_none_after_payment(book):
    """No auto-pay. INV-6 is never paid: reminders on exactly D-3, D, D+5, D+10 (and
    delinquent on D+10). INV-7 is paid by check on D+2: reminders on D-3 and D only, then a
    receipt; nothing after."""
    book.client("C-6", channel="email")
    book.client("C-7", channel="sms")
    book.invoice("INV-2026-000006", "C-6", "500.00", issued=ISSUED, due=D)
    book.invoice("INV-2026-000007", "C-7", "60.00", issued=ISSUED, due=D)
    book.payment("P-1", "C-7", "60.00", day(2), invoice="INV-2026-000007")
    book.run(ISSUED, day(14))
    assert book.messages("INV-2026-000006") == [
        ("INV-2026-000006:reminder_before_due:email", day(-3)), ("INV-2026-000006:reminder_due:email", day(0)),
        ("INV-2026-000006:reminder_overdue:email", day(5)), ("INV-2026-000006:reminder_final:email", day(10))]
    assert book.dunning("INV-2026-000006") == [("delinquent", day(10))]
    assert book.messages("INV-2026-000007") == [
        ("INV-2026-000007:reminder_before_due:sms", day(-3)), ("INV-2026-000007:reminder_due:sms", day(0)),
        ("INV-2026-000007:receipt:P-1:sms", day(2))]
    assert book.status("INV-2026-000007") == "paid"
    sms = json.loads((book.outbox / "sms" / "INV-2026-000007:reminder_due:sms.json").read_text())["body"]
    code = sms.split("/portal/s/", 1)[1].split()[0]  # an SMS carries a short link to the pay page
    [(target,)] = book.rows("select target from billing.short_links where code = %s", (code,))
    assert target.startswith("/portal/") and target.endswith("/invoices/INV-2026-000007/pay")


def test_partial_payment_states_the_remaining_balance_and_overpayment_credits_the_next_invoice(book):
    """250.00 due D. Check of 100.00 on D+1 -> partially_paid, 150.00 left; the D+5 reminder
    says so. Check of 200.00 on D+6 naming the invoice -> 150.00 to it (paid), 50.00 client
    credit. INV-9 (80.00) issued on D+8: the credit is applied to it that day -> 30.00 left."""
    book.client("C-8")
    book.invoice("INV-2026-000008", "C-8", "250.00", issued=ISSUED, due=D)
    book.invoice("INV-2026-000009", "C-8", "80.00", issued=day(8), due=day(38))
    book.payment("P-2", "C-8", "100.00", day(1))
    book.payment("P-3", "C-8", "200.00", day(6), invoice="INV-2026-000008")
    book.run(day(0), day(5))
    assert (book.status("INV-2026-000008"), book.balance("INV-2026-000008")) == ("partially_paid", 150)
    overdue = (book.outbox / "email" / "INV-2026-000008:reminder_overdue:email.eml").read_text()
    assert "Paid so far: 100.00 USD" in overdue and "Remaining balance: 150.00 USD" in overdue
    book.run(day(6), day(9))
    assert (book.status("INV-2026-000008"), book.balance("INV-2026-000008")) == ("paid", 0)
    assert (book.status("INV-2026-000009"), book.balance("INV-2026-000009")) == ("partially_paid", 30)
    entries = book.rows("""select coalesce(i.invoice_number, '-'), e.entry_type, e.amount, e.effective_date, e.reference
                           from billing.ledger_entries e left join billing.invoices i using (invoice_id)
                           order by e.entry_id""")
    assert entries == [
        ("INV-2026-000008", "payment", 100, day(1), "manual:P-2"),
        ("INV-2026-000008", "payment", 150, day(6), "manual:P-3"),
        ("-", "credit", 50, day(6), "manual:P-3"),
        ("INV-2026-000009", "credit", 50, day(8), "credit:INV-2026-000009:1"),
        ("-", "credit", -50, day(8), "credit:INV-2026-000009:1"),
    ]
    receipt = (book.outbox / "email" / "INV-2026-000008:receipt:P-3:email.eml").read_text()
    assert "Credit for your next invoice: 50.00 USD" in receipt


def test_a_debit_settles_four_days_later_on_the_test_clock(book, proxy):
    """Test mode advances localstripe's test clock to each business day: the ACH debit of D
    is paid by the bank on D+4, learned by that day's poll, receipt the same day."""
    from billing.payments import StripeGateway

    book.gateway = StripeGateway(api_key="sk_test_vigil", api_base=proxy.url, test_clock=True)
    book.client("C-9", autopay=True, method="pm_usBankAccount")
    book.invoice("INV-2026-000010", "C-9", "330.00", issued=ISSUED, due=D)
    book.run(day(0), day(6))
    assert book.attempts("INV-2026-000010") == [(1, day(0), "due", "succeeded", None, day(4))]
    assert book.messages("INV-2026-000010") == [("INV-2026-000010:receipt:1:email", day(4))]


def test_a_range_run_again_asks_nobody_about_its_past_days(book, localstripe):
    """Days D..D+3 ran (the debit still processing). The bank pays meanwhile; the range
    D..D+5 runs again: D..D+2 are replays (nobody is asked), the payment is learned on D+3,
    the latest day processed before, and dated so; running it a third time changes nothing."""
    from vigil_app.demo.localstripe import settle_debit

    book.client("C-10", autopay=True, method="pm_usBankAccount")
    book.invoice("INV-2026-000011", "C-10", "90.00", issued=ISSUED, due=D)
    book.run(day(0), day(3))
    [(ref,)] = book.rows("select provider_ref from billing.payment_attempts")
    settle_debit(localstripe, ref, "succeeded")
    book.run(day(0), day(5))
    assert book.attempts("INV-2026-000011") == [(1, day(0), "due", "succeeded", None, day(3))]
    before = (book.rows("select * from billing.ledger_entries order by entry_id"), book.messages())
    book.run(day(0), day(5))
    assert (book.rows("select * from billing.ledger_entries order by entry_id"), book.messages()) == before
