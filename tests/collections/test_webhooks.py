"""`POST /webhooks/stripe` through the real application: signatures checked by the stripe
SDK (bad, missing or stale: 400 and nothing changes), each event id applied once, an older
event never moves an attempt back, and the ACH late failure that localstripe itself signs
and delivers enters the retry schedule on the day it arrives."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

import pytest
import stripe

pytestmark = pytest.mark.integration

SECRET = "whsec_vigil_test_secret"
D = date(2026, 10, 13)
NUMBER = "INV-2026-000201"


@pytest.fixture
def app(monkeypatch):
    from vigil_app.web.app import create_app

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    return create_app()


@pytest.fixture
def client(app):
    from starlette.testclient import TestClient

    with TestClient(app) as running:
        yield running


def _event(event_id: str, event_type: str, intent: dict, created: int | None = None) -> str:
    return json.dumps({"id": event_id, "object": "event", "type": event_type, "created": created or int(time.time()),
                       "data": {"object": intent}})


def _post(client, payload: str, secret: str = SECRET, timestamp: int | None = None, header: str | None = None):
    signature = header if header is not None else stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp)
    return client.post("/webhooks/stripe", content=payload, headers={"Stripe-Signature": signature,
                                                                     "Content-Type": "application/json"})


def _processing_debit(book, localstripe) -> str:
    book.client("C-201", autopay=True, method="pm_usBankAccount")
    book.invoice(NUMBER, "C-201", "640.00", issued=date(2026, 10, 1), due=D)
    book.run(D)
    [(ref, status)] = book.rows("select provider_ref, status from billing.payment_attempts")
    assert status == "processing"
    return ref


def _intent(ref: str, status: str, **extra) -> dict:
    return {"id": ref, "object": "payment_intent", "status": status,
            "metadata": {"vigil_key": f"vigil:{NUMBER}:1", "invoice_number": NUMBER}, **extra}


def test_bad_missing_or_stale_signature_is_400_and_changes_nothing(book, localstripe, client, monkeypatch):
    monkeypatch.setenv("VIGIL_TODAY", (D + timedelta(days=2)).isoformat())
    ref = _processing_debit(book, localstripe)
    payload = _event("evt_bad_1", "payment_intent.succeeded", _intent(ref, "succeeded"))
    stale = int(time.time()) - 301
    tampered = payload.replace('"succeeded"', '"processing"', 1)
    answers = [_post(client, payload, secret="whsec_someone_else"), _post(client, payload, header=""),
               _post(client, payload, timestamp=stale),
               _post(client, tampered, header=stripe.WebhookSignature.generate_signature_header(payload, SECRET))]
    assert [answer.status_code for answer in answers] == [400, 400, 400, 400]
    assert book.rows("select status from billing.payment_attempts") == [("processing",)]
    assert book.rows("select count(*) from billing.provider_events") == [(0,)]


def test_duplicate_event_is_a_no_op_and_older_events_never_move_back(book, localstripe, client, monkeypatch):
    monkeypatch.setenv("VIGIL_TODAY", (D + timedelta(days=3)).isoformat())
    ref = _processing_debit(book, localstripe)
    succeeded = _event("evt_ok_1", "payment_intent.succeeded", _intent(ref, "succeeded"))
    first, again = _post(client, succeeded), _post(client, succeeded)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["outcome"] == f"vigil:{NUMBER}:1: processing -> succeeded on {D + timedelta(days=3)}"
    assert again.json()["outcome"] == "duplicate: already received"
    older = [_event("evt_old_1", "payment_intent.processing", _intent(ref, "processing")),
             _event("evt_old_2", "payment_intent.payment_failed", _intent(
                 ref, "requires_payment_method", last_payment_error={"code": "insufficient_funds"}))]
    assert ["no change" in _post(client, payload).json()["outcome"] for payload in older] == [True, True]
    assert book.attempts(NUMBER) == [(1, D, "due", "succeeded", None, D + timedelta(days=3))]
    assert book.rows("select count(*), sum(amount) from billing.ledger_entries") == [(1, 640)]
    assert book.rows("select event_id, for_date from billing.provider_events order by provider_event_id") == [
        ("evt_ok_1", D + timedelta(days=3)), ("evt_old_1", D + timedelta(days=3)),
        ("evt_old_2", D + timedelta(days=3))]


def _wait_for(book, sql: str, expected, seconds: float = 15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if book.rows(sql) == expected:
            return
        time.sleep(0.2)
    assert book.rows(sql) == expected


def test_ach_late_failure_from_a_signed_webhook_enters_the_retry_schedule(book, localstripe, app, monkeypatch):
    """D: ACH debit processing. D+2: the bank returns it (insufficient funds); localstripe
    signs and posts payment_intent.payment_failed to the running application, which dates
    it D+2 (VIGIL_TODAY): F = D+2. The run of D+2 sends payment_failed (email, SMS) naming
    the retry on F+1 = D+3; the retry debits again (processing); D+5 the bank pays it: one
    receipt that day; nothing is charged twice."""
    from tests.browser import LiveServer
    from vigil_app.demo.localstripe import send_webhooks_to, settle_debit

    ref = _processing_debit(book, localstripe)
    book.run(D + timedelta(days=1))
    with LiveServer(app) as server:
        send_webhooks_to(localstripe, f"{server.url}/webhooks/stripe", SECRET)
        try:
            monkeypatch.setenv("VIGIL_TODAY", (D + timedelta(days=2)).isoformat())
            settle_debit(localstripe, ref, "failed", "insufficient_funds")
            _wait_for(book, "select status, settled_on from billing.payment_attempts",
                      [("failed", D + timedelta(days=2))])
            book.run(D + timedelta(days=2), D + timedelta(days=4))
            [(retry_ref,)] = book.rows("select provider_ref from billing.payment_attempts where attempt_no = 2")
            monkeypatch.setenv("VIGIL_TODAY", (D + timedelta(days=5)).isoformat())
            settle_debit(localstripe, retry_ref, "succeeded")
            _wait_for(book, "select status from billing.payment_attempts where attempt_no = 2", [("succeeded",)])
        finally:
            send_webhooks_to(localstripe, "http://127.0.0.1:9/nowhere", SECRET)
    book.run(D + timedelta(days=5))
    assert book.attempts(NUMBER) == [
        (1, D, "due", "failed", "soft", D + timedelta(days=2)),
        (2, D + timedelta(days=3), "retry", "succeeded", None, D + timedelta(days=5))]
    assert book.messages(NUMBER) == [
        (f"{NUMBER}:payment_failed:1:email", D + timedelta(days=2)),
        (f"{NUMBER}:payment_failed:1:sms", D + timedelta(days=2)),
        (f"{NUMBER}:receipt:2:email", D + timedelta(days=5))]
    notice = (book.outbox / "sms" / f"{NUMBER}:payment_failed:1:sms.json").read_text()
    assert "insufficient funds" in notice and f"We will try again on {D + timedelta(days=3)}" in notice
    assert book.rows("""select event_type from billing.provider_events where outcome like '%%->%%'
                        order by provider_event_id""") == [
        ("payment_intent.payment_failed",), ("payment_intent.succeeded",)]
    assert book.status(NUMBER) == "paid"

