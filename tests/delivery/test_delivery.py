"""Issue 8 point 10: every channel works whatever provider is configured, failed sends are
retried with backoff and end `failed` with the reason, a message a crash left `pending` is
finished or reported and never sent twice, and credit notes read as credit notes. Real
PostgreSQL, the SendGrid and Twilio SDKs against loopback peers, and the file outbox."""

from __future__ import annotations

import email
import json
from datetime import date
from email import policy

import pytest

from billing.delivery import deliver_invoices
from billing.messaging.channels import Channels, EmailFileOutbox, SendGridEmail, SmsFileOutbox, TwilioSms
from tests.invoices import warehouse as wh
from tests.peers import SendGridPeer, TwilioPeer

pytestmark = pytest.mark.integration

CLIENTS = [  # client_id, name, email, phone, preferred channel, autopay, payment method
    ("C-E", "Email Co", "ap@email.example", None, "email", True, "pm_card_visa"),
    ("C-S", "Sms Co", None, "+15555550101", "sms", False, None),
    ("C-P", "Portal Co", "ap@portal.example", None, "portal", False, None),
]


@pytest.fixture
def db(conn):
    wh.reset(conn, company=False)  # the marts the document reads (tests/invoices/warehouse.py), no company file
    for client_id, name, address, phone, channel, autopay, method in CLIENTS:
        wh.add_client(conn, client_id, name, email=address, phone=phone, channel=channel, autopay=autopay,
                      payment_method=method)
    return conn


def _invoice(conn, number: str, client: str, total: str = "100.00", credit_for: str | None = None) -> int:
    with conn, conn.cursor() as cur:
        cur.execute(
            """insert into billing.invoices (invoice_key, invoice_number, status, kind, client_id, contract_ids,
                   currency, period_start, period_end, issue_date, due_date, subtotal, tax_total, total, credit_for)
               values (%s, %s, 'issued', 'arrears', %s, '{K}', 'USD', '2026-10-05', '2026-10-11', '2026-10-12',
                       '2026-11-11', %s, 0, %s, %s) returning invoice_id""",
            (number, number, client, total, total, credit_for),
        )
        invoice_id = cur.fetchone()[0]
        cur.execute("""insert into billing.invoice_lines (invoice_id, line_no, site_id, category, description,
                           quantity, unit, unit_price, amount, tax_jurisdiction, source_refs, explanation)
                       values (%s, 1, 'S-1', 'regular_hours', 'Unarmed officer - regular', 1, 'hour', %s, %s,
                               null, '{timesheets:SH-1}', 'test line')""", (invoice_id, total, total))
    return invoice_id


def _messages(conn):
    with conn.cursor() as cur:
        cur.execute("""select dedupe_key, channel, recipient, status, attempts, coalesce(last_error, ''), subject
                       from billing.messages order by dedupe_key""")
        rows = cur.fetchall()
    conn.commit()
    return rows


def _file_channels(tmp_path):
    return Channels(email=EmailFileOutbox(tmp_path / "email", "billing@vigil.example"),
                    sms=SmsFileOutbox(tmp_path / "sms", "+15555550000"))


def test_every_channel_with_sendgrid_configured_and_sms_in_the_file_outbox(db, tmp_path):
    for number, client in (("INV-2026-000001", "C-E"), ("INV-2026-000002", "C-S"), ("INV-2026-000003", "C-P")):
        _invoice(db, number, client)
    with SendGridPeer() as sendgrid:
        channels = Channels(email=SendGridEmail("SG.test", "billing@vigil.example", host=sendgrid.url),
                            sms=SmsFileOutbox(tmp_path / "sms", "+15555550000"))
        summary = deliver_invoices(db, channels, date(2026, 10, 31), backoff_seconds=0)
    assert (summary.sent, summary.failed, summary.by_channel) == (3, 0, {"email": 1, "sms": 1, "portal": 1})
    rows = _messages(db)
    assert [r[:4] for r in rows] == [
        ("INV-2026-000001:invoice_issued:email", "email", "ap@email.example", "sent"),
        ("INV-2026-000002:invoice_issued:sms", "sms", "+15555550101", "sent"),
        ("INV-2026-000003:invoice_issued:portal", "portal", "ap@portal.example", "sent"),
    ]
    first = sendgrid.mails[0]
    assert first["custom_args"] == {"message_key": "INV-2026-000001:invoice_issued:email"}
    assert first["attachments"][0]["type"] == "application/pdf"
    sms = json.loads((tmp_path / "sms" / "INV-2026-000002:invoice_issued:sms.json").read_text())
    assert sms["to"] == "+15555550101" and "INV-2026-000002" in sms["body"] and "100.00 USD" in sms["body"]


def test_transient_failures_are_retried_then_failed_with_the_reason(db, tmp_path):
    for n in (1, 2, 3):
        _invoice(db, f"INV-2026-00000{n}", "C-E")
    with SendGridPeer() as sendgrid:
        channels = Channels(email=SendGridEmail("SG.test", "b@vigil.example", host=sendgrid.url),
                            sms=SmsFileOutbox(tmp_path, "+1"))
        sendgrid.fail_next(503, times=2)  # INV 1: two 503s, then accepted on the third try
        deliver_invoices(db, channels, date(2026, 10, 31), backoff_seconds=0)
        assert sendgrid.statuses()[:3] == [503, 503, 202]
    rows = {r[0]: r for r in _messages(db)}
    assert rows["INV-2026-000001:invoice_issued:email"][3:5] == ("sent", 3)

    with db, db.cursor() as cur:
        cur.execute("truncate billing.message_events, billing.messages")
    with SendGridPeer() as sendgrid:
        channels = Channels(email=SendGridEmail("SG.test", "b@vigil.example", host=sendgrid.url),
                            sms=SmsFileOutbox(tmp_path, "+1"))
        sendgrid.fail_next(503, times=3)  # INV 1: three 503s: failed after the last try
        sendgrid.fail_next(400, times=1)  # INV 2: a 400 is not retried
        summary = deliver_invoices(db, channels, date(2026, 10, 31), backoff_seconds=0)
        second = deliver_invoices(db, channels, date(2026, 10, 31), backoff_seconds=0)
    rows = {r[0]: r for r in _messages(db)}
    assert (summary.sent, summary.failed) == (1, 2) and second.sent == second.failed == 0
    failed_503, failed_400 = rows["INV-2026-000001:invoice_issued:email"], rows["INV-2026-000002:invoice_issued:email"]
    assert failed_503[3:5] == ("failed", 3) and "503" in failed_503[5] and "after 3 tries" in failed_503[5]
    assert failed_400[3:5] == ("failed", 1) and "400" in failed_400[5]


def test_sms_through_twilio(db, tmp_path):
    _invoice(db, "INV-2026-000002", "C-S")
    with TwilioPeer() as twilio:
        channels = Channels(email=EmailFileOutbox(tmp_path, "b@vigil.example"),
                            sms=TwilioSms("AC" + "0" * 32, "token", "+15555550000", api_base=twilio.url))
        summary = deliver_invoices(db, channels, date(2026, 10, 31), backoff_seconds=0)
    assert summary.by_channel == {"sms": 1}
    assert twilio.sms[0]["To"] == "+15555550101" and "INV-2026-000002" in twilio.sms[0]["Body"]
    with db.cursor() as cur:
        cur.execute("select provider_message_id from billing.messages")
        assert cur.fetchone()[0].startswith("SM")


def test_a_message_left_pending_is_finished_or_reported_never_sent_twice(db, tmp_path):
    for n in (1, 2, 3):
        _invoice(db, f"INV-2026-00000{n}", "C-E")
    channels = _file_channels(tmp_path)
    with db, db.cursor() as cur:
        for n in (1, 2):  # both were claimed, then the process died; only INV 1's file was written
            cur.execute("""insert into billing.messages (dedupe_key, client_id, invoice_id, template, channel,
                               recipient, subject, status, business_date)
                           select %s, 'C-E', invoice_id, 'invoice_issued', 'email', 'ap@email.example', 's',
                                  'pending', '2026-10-12' from billing.invoices where invoice_number = %s""",
                        (f"INV-2026-00000{n}:invoice_issued:email", f"INV-2026-00000{n}"))
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "INV-2026-000001:invoice_issued:email.eml").write_text("written before the crash")
    summary = deliver_invoices(db, channels, date(2026, 10, 31), backoff_seconds=0)
    assert summary.finished_after_crash == 1 and summary.sent == 2  # INV 2 (no file: never sent) and INV 3
    assert [r[3] for r in _messages(db)] == ["sent", "sent", "sent"]
    assert (tmp_path / "email" / "INV-2026-000001:invoice_issued:email.eml").read_text() == "written before the crash"

    # Through a provider nobody can tell whether it went out: reported, never sent again.
    with db, db.cursor() as cur:
        cur.execute("update billing.messages set status = 'pending' where dedupe_key like 'INV-2026-000003%'")
    with SendGridPeer() as sendgrid:
        provider = Channels(email=SendGridEmail("SG.test", "b@vigil.example", host=sendgrid.url),
                            sms=SmsFileOutbox(tmp_path, "+1"))
        first = deliver_invoices(db, provider, date(2026, 10, 31), backoff_seconds=0)
        again = deliver_invoices(db, provider, date(2026, 10, 31), backoff_seconds=0)
        assert sendgrid.mails == []
    assert first.interrupted == again.interrupted == ["INV-2026-000003:invoice_issued:email"]
    with db.cursor() as cur:
        cur.execute("select count(*) from billing.message_events where event = 'interrupted'")
        assert cur.fetchone()[0] == 1


def test_eml_is_complete_mime_and_credit_notes_read_as_credit_notes(db, tmp_path):
    _invoice(db, "INV-2026-000001", "C-E", total="260.40")
    _invoice(db, "CN-2026-000001", "C-E", total="-130.20", credit_for="INV-2026-000001")
    deliver_invoices(db, _file_channels(tmp_path), date(2026, 10, 31), backoff_seconds=0)
    invoice = email.message_from_bytes((tmp_path / "email" / "INV-2026-000001:invoice_issued:email.eml").read_bytes(),
                                       policy=policy.default)
    assert invoice["Subject"].startswith("Invoice INV-2026-000001")
    parts = {part.get_content_type(): part for part in invoice.walk()}
    assert {"text/plain", "text/html", "application/pdf"} <= set(parts)
    assert parts["application/pdf"].get_filename() == "INV-2026-000001.pdf"
    assert parts["application/pdf"].get_payload(decode=True).startswith(b"%PDF")
    assert "will be charged" in parts["text/html"].get_content()

    note = email.message_from_bytes((tmp_path / "email" / "CN-2026-000001:credit_note_issued:email.eml").read_bytes(),
                                    policy=policy.default)
    assert note["Subject"].startswith("Credit note CN-2026-000001 for invoice INV-2026-000001")
    html = next(p for p in note.walk() if p.get_content_type() == "text/html").get_content()
    assert "<h1>Credit note CN-2026-000001</h1>" in html and "credits invoice INV-2026-000001" in html
    assert "Invoice CN" not in html and "charged on the due date" not in html
    assert "-130.20 USD" in next(p for p in note.walk() if p.get_content_type() == "text/plain").get_content()


def test_every_issued_invoice_has_its_pdf_and_each_channel_its_form(db, tmp_path, monkeypatch):
    monkeypatch.setenv("VIGIL_PUBLIC_URL", "https://pay.vigil.example")
    for number, client in (("INV-2026-000001", "C-E"), ("INV-2026-000002", "C-S"), ("INV-2026-000003", "C-P")):
        _invoice(db, number, client)
    _invoice(db, "CN-2026-000001", "C-S", total="-40.00", credit_for="INV-2026-000002")
    summary = deliver_invoices(db, _file_channels(tmp_path), date(2026, 10, 31), pdf_dir=tmp_path / "pdfs",
                               backoff_seconds=0)
    assert summary.by_channel == {"email": 1, "sms": 2, "portal": 1}
    for number in ("INV-2026-000001", "INV-2026-000002", "INV-2026-000003", "CN-2026-000001"):  # whatever the channel
        assert (tmp_path / "pdfs" / f"{number}.pdf").read_bytes().startswith(b"%PDF")

    sms = json.loads((tmp_path / "sms" / "INV-2026-000002:invoice_issued:sms.json").read_text())
    short = sms["body"].rsplit(" ", 1)[1]
    assert sms["body"] == ("Vigil demo company: invoice INV-2026-000002, 100.00 USD due 2026-11-11. "
                           f"View and pay: {short}")
    assert len(sms["body"]) <= 1600 and short.startswith("https://pay.vigil.example/portal/s/") and len(short) == 47
    credit = json.loads((tmp_path / "sms" / "CN-2026-000001:credit_note_issued:sms.json").read_text())["body"]
    assert credit.startswith("Vigil demo company: credit note CN-2026-000001 of -40.00 USD for invoice INV-2026-000002")

    pointer = email.message_from_bytes((tmp_path / "email" / "INV-2026-000003:invoice_issued:portal.eml").read_bytes(),
                                       policy=policy.default)
    assert pointer["Subject"] == "Invoice INV-2026-000003 from Vigil demo company is in your portal"
    assert "application/pdf" not in {part.get_content_type() for part in pointer.walk()}  # the PDF is in the portal
    text = next(p for p in pointer.walk() if p.get_content_type() == "text/plain").get_content()
    assert "is in your portal: https://pay.vigil.example/portal/s/" in text
    with db.cursor() as cur:
        cur.execute("select client_id, title, posted_on, message_key from billing.portal_notices")
        assert cur.fetchall() == [("C-P", "New invoice INV-2026-000003: 100.00 USD, due 2026-11-11", date(2026, 10, 12),
                                   "INV-2026-000003:invoice_issued:portal")]
        cur.execute("select dedupe_key, link from billing.messages order by dedupe_key")
        links = dict(cur.fetchall())
    assert links["INV-2026-000002:invoice_issued:sms"].endswith("/invoices/INV-2026-000002/pay")  # the signed link
    assert links["CN-2026-000001:credit_note_issued:sms"].endswith("/invoices/CN-2026-000001")  # nothing to pay


def test_many_documents_render_on_worker_processes_and_go_out_once_in_number_order(db, tmp_path, monkeypatch):
    """Past POOL_FROM documents, PDFs are rendered by worker processes in batches; each batch
    is then sent in invoice-number order, each document once, its own PDF kept."""
    import subprocess

    from billing import delivery

    monkeypatch.setattr(delivery, "POOL_FROM", 2)
    monkeypatch.setattr(delivery, "RENDER_BATCH", 3)  # three batches for seven documents
    numbers = [f"INV-2026-00000{n}" for n in range(1, 8)]
    for number, client in zip(numbers, ["C-E", "C-S", "C-P"] * 3, strict=False):
        _invoice(db, number, client)
    summary = deliver_invoices(db, _file_channels(tmp_path), date(2026, 10, 31), pdf_dir=tmp_path / "pdfs",
                               backoff_seconds=0)
    assert sum(summary.by_channel.values()) == 7
    for number in numbers:
        text = subprocess.run(["pdftotext", str(tmp_path / "pdfs" / f"{number}.pdf"), "-"], capture_output=True,
                              text=True, check=True).stdout
        assert number in text
        assert not any(other in text for other in numbers if other != number)
    with db.cursor() as cur:
        cur.execute("""select i.invoice_number from billing.messages m join billing.invoices i using (invoice_id)
                       order by m.message_id""")
        sent = [row[0] for row in cur.fetchall()]
    db.commit()
    assert sent == numbers
    again = deliver_invoices(db, _file_channels(tmp_path), date(2026, 10, 31), pdf_dir=tmp_path / "pdfs",
                             backoff_seconds=0)
    assert sum(again.by_channel.values()) == 0
