"""Delivery tracking through the webhooks (interfaces.md section 7) on messages really sent
through the SendGrid and Twilio SDKs to loopback peers: valid events attach to their
message, invalid signatures (wrong key, tampered body, stale timestamp, missing header,
no key configured) answer 400 and change nothing, a repeated event changes nothing, events
out of order never move a state back, and a bounce flags the client's address for finance."""

from __future__ import annotations

import base64
import json
import time
from datetime import date
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from billing.delivery import deliver_invoices
from billing.messaging.channels import Channels, SendGridEmail, TwilioSms
from billing.messaging.tracking import clear_address_flag, delivery_events, open_address_flags
from tests.invoices import scenario
from tests.peers import SendGridPeer, TwilioPeer
from vigil import db
from vigil_app.web.app import create_app

pytestmark = pytest.mark.integration

PUBLIC_URL = "https://portal.northwind.example"
TWILIO_TOKEN = "twilio-auth-token-for-tests"
KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())


def _public(key) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


@pytest.fixture(scope="module")
def sent(warehouse):
    """INV 1 and CN 1 (Harbor) and INV 3 (Cedar's portal pointer) by SendGrid, INV 2 (Birch) by Twilio."""
    conn = db.connect()
    try:
        scenario.build(conn)
        with SendGridPeer() as sendgrid, TwilioPeer() as twilio:
            channels = Channels(email=SendGridEmail("SG.test", "billing@northwind.example", host=sendgrid.url),
                                sms=TwilioSms("AC" + "0" * 32, TWILIO_TOKEN, "+15555550000", api_base=twilio.url))
            deliver_invoices(conn, channels, date(2026, 10, 31), backoff_seconds=0)
        with conn.cursor() as cur:
            cur.execute("select dedupe_key, message_id, provider_message_id from billing.messages")
            messages = {key: (message_id, provider_id) for key, message_id, provider_id in cur.fetchall()}
        conn.commit()
    finally:
        conn.close()
    return messages


@pytest.fixture
def client(sent, monkeypatch):
    monkeypatch.setenv("VIGIL_TODAY", "2026-10-21")
    monkeypatch.setenv("VIGIL_PUBLIC_URL", PUBLIC_URL)
    monkeypatch.setenv("SENDGRID_WEBHOOK_PUBLIC_KEY", _public(KEY))
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TWILIO_TOKEN)
    with TestClient(create_app()) as test_client:
        yield test_client


def _state(conn, key: str) -> tuple:
    with conn.cursor() as cur:
        cur.execute("""select m.delivery_status, count(e.event_no) filter (where e.provider is not null)
                       from billing.messages m left join billing.message_events e using (message_id)
                       where m.dedupe_key = %s group by m.message_id""", (key,))
        found = cur.fetchone()
    conn.commit()
    return found


def _sendgrid_post(client, events: list[dict], key=KEY, timestamp: int | None = None, tamper: bool = False,
                   headers: dict | None = None):
    body = json.dumps(events)
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = base64.b64encode(key.sign((stamp + body).encode(), ec.ECDSA(hashes.SHA256()))).decode()
    sent_body = body.replace("delivered", "open") if tamper else body
    default = {"X-Twilio-Email-Event-Webhook-Signature": signature, "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
               "content-type": "application/json"}
    return client.post("/webhooks/sendgrid", content=sent_body, headers=headers if headers is not None else default)


def _event(event_id: str, kind: str, at: int, key: str = "INV-2026-000001:invoice_issued:email", **extra) -> dict:
    return {"email": "ap@harbor.example", "timestamp": at, "event": kind, "sg_event_id": event_id,
            "sg_message_id": "x.filter0001", "message_key": key, **extra}


INV1 = "INV-2026-000001:invoice_issued:email"
AT_1800 = 1_792_000_800  # 2026-10-14T18:00:00Z


def test_sendgrid_events_attach_to_their_message_in_order_once(client, conn, sent):
    first = _sendgrid_post(client, [_event("ev-open", "open", AT_1800 + 60), _event("ev-processed", "processed",
                                                                                      AT_1800 - 60)])
    assert first.status_code == 200 and first.json()["recorded"] == 1 and first.json()["ignored"] == 1
    assert _state(conn, INV1) == ("opened", 1)
    late = _sendgrid_post(client, [_event("ev-delivered", "delivered", AT_1800)])  # arrives after the open
    assert late.json()["recorded"] == 1 and _state(conn, INV1) == ("opened", 2)  # never moves back
    again = _sendgrid_post(client, [_event("ev-delivered", "delivered", AT_1800)])
    assert again.status_code == 200 and again.json()["duplicates"] == 1 and _state(conn, INV1) == ("opened", 2)
    click = _sendgrid_post(client, [_event("ev-click", "click", AT_1800 + 120, url="https://x.example")])
    assert click.json()["recorded"] == 1 and _state(conn, INV1) == ("clicked", 3)
    events = delivery_events(conn)[sent[INV1][0]]
    assert [event["type"] for event in events] == ["delivered", "opened", "clicked"]  # by the provider's time
    assert [event["at"] for event in events] == [
        "2026-10-14T18:00:00+00:00", "2026-10-14T18:01:00+00:00", "2026-10-14T18:02:00+00:00"]
    stranger = _sendgrid_post(client, [_event("ev-x", "delivered", AT_1800, key="not-ours:invoice_issued:email")])
    assert stranger.status_code == 200 and stranger.json()["unknown_message"] == 1


def test_bad_sendgrid_signatures_answer_400_and_change_nothing(client, conn, monkeypatch):
    key = "CN-2026-000001:credit_note_issued:email"
    delivered = [_event("ev-cn-1", "delivered", AT_1800, key=key)]
    for answer in (_sendgrid_post(client, delivered, key=OTHER_KEY),
                   _sendgrid_post(client, delivered, tamper=True),
                   _sendgrid_post(client, delivered, timestamp=int(time.time()) - 301),
                   _sendgrid_post(client, delivered, timestamp=int(time.time()) + 301),
                   _sendgrid_post(client, delivered, headers={"content-type": "application/json"}),
                   client.post("/webhooks/sendgrid", content=b"[]", headers={
                       "X-Twilio-Email-Event-Webhook-Signature": "bm90IGEgc2lnbmF0dXJl",
                       "X-Twilio-Email-Event-Webhook-Timestamp": str(int(time.time()))})):
        assert answer.status_code == 400
    monkeypatch.delenv("SENDGRID_WEBHOOK_PUBLIC_KEY")
    assert _sendgrid_post(client, delivered).status_code == 400
    assert _state(conn, key) == (None, 0)
    monkeypatch.setenv("SENDGRID_WEBHOOK_PUBLIC_KEY", _public(KEY))
    assert _sendgrid_post(client, delivered).status_code == 200 and _state(conn, key) == ("delivered", 1)


def test_a_bounce_flags_the_clients_address_for_finance(client, conn):
    key = "INV-2026-000003:invoice_issued:portal"
    blocked = _event("ev-b1", "bounce", AT_1800, key=key, type="blocked", reason="IP blocked")
    assert _sendgrid_post(client, [blocked]).json()["flagged"] == 0  # a blocked IP says nothing of the address
    bounce = _event("ev-b2", "bounce", AT_1800 + 60, key=key, type="bounce", reason="550 5.1.1 no such user")
    assert _sendgrid_post(client, [bounce]).json() == {"recorded": 1, "duplicates": 0, "unknown_message": 0,
                                                       "ignored": 0, "flagged": 1}
    assert _sendgrid_post(client, [{**bounce, "sg_event_id": "ev-b3"}]).json()["flagged"] == 0  # one open flag
    flags = open_address_flags(conn)
    assert [(f["client_id"], f["channel"], f["address"], f["flagged_on"]) for f in flags] == [
        ("C-3", "email", "ap@cedar.example", date(2026, 10, 21))]
    assert "550 5.1.1 no such user" in flags[0]["reason"]
    assert _state(conn, key) == ("bounced", 3)
    assert clear_address_flag(conn, flags[0]["flag_id"], "finance@northwind", "fixed in the contract file",
                              date(2026, 10, 22))
    assert open_address_flags(conn) == []


def _twilio_post(client, form: dict, url: str = f"{PUBLIC_URL}/webhooks/twilio", token: str = TWILIO_TOKEN,
                 signature: str | None = None):
    signed = signature if signature is not None else RequestValidator(token).compute_signature(url, form)
    return client.post("/webhooks/twilio", content=urlencode(form),
                       headers={"X-Twilio-Signature": signed, "content-type": "application/x-www-form-urlencoded"})


def test_twilio_callbacks_valid_invalid_duplicate_and_out_of_order(client, conn, sent, monkeypatch):
    key = "INV-2026-000002:invoice_issued:sms"
    sid = sent[key][1]
    assert sid.startswith("SM")
    base = {"MessageSid": sid, "AccountSid": "AC" + "0" * 32, "To": "+15555550101", "From": "+15555550000"}
    for bad in (_twilio_post(client, {**base, "MessageStatus": "delivered"}, token="another-token"),
                _twilio_post(client, {**base, "MessageStatus": "delivered"}, url="https://elsewhere.example/webhooks/"
                             "twilio"),
                _twilio_post(client, {**base, "MessageStatus": "delivered"}, signature="")):
        assert bad.status_code == 400
    assert _state(conn, key) == (None, 0)
    assert _twilio_post(client, {**base, "MessageStatus": "sent"}).json()["ignored"] == 1
    assert _twilio_post(client, {**base, "MessageStatus": "read"}).json()["recorded"] == 1
    assert _twilio_post(client, {**base, "MessageStatus": "delivered"}).json()["recorded"] == 1
    assert _state(conn, key) == ("opened", 2)  # "delivered" arrived after "read": no step back
    assert _twilio_post(client, {**base, "MessageStatus": "delivered"}).json()["duplicates"] == 1
    assert _state(conn, key) == ("opened", 2)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    assert _twilio_post(client, {**base, "MessageStatus": "failed"}).status_code == 400


def test_an_sms_to_a_landline_flags_the_number(client, conn, sent):
    with conn, conn.cursor() as cur:  # a second SMS to Birch, sent through Twilio, then undeliverable
        cur.execute("""insert into billing.messages (dedupe_key, client_id, template, channel, recipient, subject,
                           status, business_date, provider_message_id)
                       values ('INV-2026-000002:reminder_due:sms', 'C-2', 'reminder_due', 'sms', '+15555550101', 's',
                               'sent', '2026-10-13', 'SM-landline')""")
    form = {"MessageSid": "SM-landline", "MessageStatus": "undelivered", "ErrorCode": "30006"}
    assert _twilio_post(client, form).json()["flagged"] == 1
    assert [(f["client_id"], f["channel"], f["address"]) for f in open_address_flags(conn)
            if f["channel"] == "sms"] == [("C-2", "sms", "+15555550101")]
    assert _state(conn, "INV-2026-000002:reminder_due:sms") == ("failed", 1)
