"""The client portal's invoice pages (interfaces.md section 7) through the ASGI app, on the
hand-written scenario (tests/invoices/scenario.py) delivered once through the file outbox:
the list with status and balance, the document as HTML and PDF, short links, and every
refusal (tampered, expired, another client's, another invoice's link) as a bare 403. The
business clock (VIGIL_TODAY) judges expiry and dates the dismissal of a notice."""

from __future__ import annotations

import subprocess
from datetime import date

import pytest
from starlette.testclient import TestClient

from billing.delivery import deliver_invoices
from billing.links import portal_link, token_for
from billing.messaging.channels import Channels, EmailFileOutbox, SmsFileOutbox
from tests.invoices import scenario
from vigil import config, db
from vigil_app.web import csrf
from vigil_app.web.app import create_app

pytestmark = pytest.mark.integration

TODAY = "2026-10-20"
CLIENT_NAMES = ("Harbor", "Birch", "Cedar")


@pytest.fixture(scope="module")
def delivered(warehouse, tmp_path_factory):
    """The scenario, delivered: PDFs under $VIGIL_HOME/invoices, Cedar's portal notice posted."""
    outbox = tmp_path_factory.mktemp("outbox")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIGIL_PUBLIC_URL", "https://portal.northwind.example")
        conn = db.connect()
        try:
            scenario.build(conn)
            channels = Channels(email=EmailFileOutbox(outbox / "email", "billing@northwind.example"),
                                sms=SmsFileOutbox(outbox / "sms", "+15555550000"))
            summary = deliver_invoices(conn, channels, date(2026, 10, 31), pdf_dir=config.paths().pdfs,
                                       backoff_seconds=0)
        finally:
            conn.close()
    assert summary.sent == 4
    return outbox


@pytest.fixture
def client(delivered, monkeypatch):
    monkeypatch.setenv("VIGIL_TODAY", TODAY)
    with TestClient(create_app()) as test_client:
        yield test_client


def _path(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def _shows_nothing(answer) -> None:
    assert answer.status_code == 403
    assert not any(name in answer.text for name in CLIENT_NAMES)
    assert "INV-" not in answer.text and "CN-" not in answer.text and "pdf" not in answer.headers["content-type"]


def test_the_list_shows_the_clients_invoices_with_status_and_balance(client):
    page = client.get(_path(portal_link("C-1", "invoices", date(2026, 10, 12))))
    assert page.status_code == 200
    assert "Harbor Logistics" in page.text and "Northwind Security Services" in page.text
    row = page.text.split("INV-2026-000001</a>", 1)[1].split("</tr>", 1)[0]
    assert "partially paid" in row and "839.96 USD" in row and "97.65 USD" in row and "742.31 USD" in row
    assert "credit note for INV-2026-000001" in page.text
    assert "INV-2026-000002" not in page.text and "Birch" not in page.text and "Cedar" not in page.text


def test_an_invoice_as_html_with_its_pay_link_and_pdf(client):
    token = token_for("C-1", "invoices", date(2026, 11, 11))
    page = client.get(f"/portal/{token}/invoices/INV-2026-000001")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Invoice INV-2026-000001</h1>" in html and "Evidence appendix" in html
    assert f'id="pay" href="/portal/{token}/invoices/INV-2026-000001/pay"' in html
    assert "Pay 742.31 USD" in html and f'href="/portal/{token}/invoices/INV-2026-000001/pdf"' in html
    assert "PO Box 4410, Newark, NJ 07101" in html and "timesheets:SH-1" in html
    pdf = client.get(f"/portal/{token}/invoices/INV-2026-000001/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == 'attachment; filename="INV-2026-000001.pdf"'
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf.content, capture_output=True,
                          check=True).stdout.decode()
    assert "Invoice INV-2026-000001" in text and "Harbor Logistics" in text and "742.31" in text


def test_a_credit_note_has_no_pay_button(client):
    token = token_for("C-1", "invoice:CN-2026-000001", date(2026, 11, 18))
    page = client.get(f"/portal/{token}/invoices/CN-2026-000001")
    assert page.status_code == 200 and "<h1>Credit note CN-2026-000001</h1>" in page.text
    assert 'id="pay"' not in page.text and "Pay online" not in page.text
    assert "All invoices" not in page.text  # a link for one document opens that document only


def test_tampered_expired_and_foreign_links_answer_403_showing_nothing(client):
    good = token_for("C-1", "invoices", date(2026, 11, 11))
    body, mac = good.split(".")
    tampered = token_for("C-2", "invoices", date(2026, 11, 11)).split(".")[0] + "." + mac
    expired = token_for("C-1", "invoices", date(2026, 10, 19))  # the business day is 10-20
    birch = token_for("C-2", "invoices", date(2026, 11, 11))
    only_first = token_for("C-1", "invoice:INV-2026-000001", date(2026, 11, 11))
    renewal = token_for("C-1", "renewal:K-1-G", date(2026, 11, 11))
    refused = [
        f"/portal/{tampered}", f"/portal/{body}.{mac[:-2]}AA/invoices/INV-2026-000001", f"/portal/{expired}",
        f"/portal/{expired}/invoices/INV-2026-000001", f"/portal/{expired}/invoices/INV-2026-000001/pdf",
        f"/portal/{birch}/invoices/INV-2026-000001", f"/portal/{birch}/invoices/INV-2026-000001/pdf",
        f"/portal/{only_first}/invoices/CN-2026-000001", f"/portal/{only_first}/invoices/CN-2026-000001/pdf",
        f"/portal/{renewal}/invoices/INV-2026-000001", f"/portal/{good}/invoices/INV-2099-999999",
        f"/portal/{good}/invoices/INV-2026-000002/pdf", "/portal/garbage/invoices/INV-2026-000001",
    ]
    for path in refused:
        _shows_nothing(client.get(path))
    assert client.get(f"/portal/{good}/invoices/INV-2026-000001").status_code == 200


def test_expiry_is_judged_by_the_business_clock(client, monkeypatch):
    token = token_for("C-1", "invoices", date(2026, 10, 25))
    monkeypatch.setenv("VIGIL_TODAY", "2026-10-25")
    assert client.get(f"/portal/{token}/invoices/INV-2026-000001").status_code == 200
    monkeypatch.setenv("VIGIL_TODAY", "2026-10-26")
    _shows_nothing(client.get(f"/portal/{token}/invoices/INV-2026-000001"))


def test_short_links_open_their_signed_page(client, delivered):
    import json

    sms = json.loads((delivered / "sms" / "INV-2026-000002:invoice_issued:sms.json").read_text())
    short = sms["body"].rsplit(" ", 1)[1]
    assert short.startswith("https://portal.northwind.example/portal/s/") and len(short.rsplit("/", 1)[1]) == 12
    hop = client.get(_path(short), follow_redirects=False)
    assert hop.status_code == 303 and hop.headers["location"].endswith("/invoices/INV-2026-000002")
    page = client.get(hop.headers["location"])
    assert page.status_code == 200 and "Birch Warehousing" in page.text and "Harbor" not in page.text
    _shows_nothing(client.get("/portal/s/AAAAAAAAAAAA"))


def _notice(conn) -> tuple[int, date | None]:
    with conn.cursor() as cur:
        cur.execute("select notice_id, dismissed_on from billing.portal_notices where client_id = 'C-3'")
        found = cur.fetchone()
    conn.commit()
    return found


def test_dismissing_a_notice_needs_the_forms_csrf_token(client, conn):
    token = token_for("C-3", "invoices", date(2026, 11, 11))
    page = client.get(f"/portal/{token}")
    assert "New invoice INV-2026-000003: 108.47 USD, due 2026-11-11" in page.text
    notice_id, dismissed = _notice(conn)
    assert dismissed is None
    action = f"/portal/{token}/notices/{notice_id}/dismiss"
    other_link = csrf.token(token_for("C-1", "invoices", date(2026, 11, 11)), "dismiss-notice")
    other_form = csrf.token(token, "pay")
    good = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    for form, headers in (({}, {}), ({"csrf_token": "forged"}, {}), ({"csrf_token": other_link}, {}),
                          ({"csrf_token": other_form}, {}),
                          ({"csrf_token": good}, {"origin": "https://evil.example"})):
        answer = client.post(action, data=form, headers=headers, follow_redirects=False)
        assert answer.status_code == 403, form
        assert _notice(conn)[1] is None
    answer = client.post(action, data={"csrf_token": good}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/portal/{token}"
    assert _notice(conn)[1] == date(2026, 10, 20)  # the business day, not the wall clock
    assert "New invoice INV-2026-000003" not in client.get(f"/portal/{token}").text
