"""The invoice document (issue 10, point 1) read back from its PDF with pdftotext: seller,
remit-to, client, lines, taxes per jurisdiction, totals, due date and a working pay link;
the evidence appendix cites every ref of every line with what the marts say of it; lines
grouped as the client's `grouping` says; credit notes read as credit notes; without a
company file the seller is "Vigil demo company". Scenario: tests/invoices/scenario.py."""

from __future__ import annotations

import re
import subprocess
from datetime import date

import pytest

from billing import short_links
from billing.documents import load_document, render_html, render_pdf, with_message_links
from billing.links import read_grant
from tests.invoices import scenario

pytestmark = pytest.mark.integration

PUBLIC = "https://portal.northwind.example"


@pytest.fixture
def built(conn, monkeypatch):
    monkeypatch.setenv("VIGIL_PUBLIC_URL", PUBLIC)
    scenario.build(conn)
    return conn


def _pdf_text(conn, number: str, mode: str = "-layout") -> str:
    """The PDF's text: `-layout` keeps a table row on one line, `-raw` keeps a cell's words together."""
    doc, _ = with_message_links(conn, load_document(conn, number))
    pdf = render_pdf(doc)
    assert pdf.startswith(b"%PDF")
    return subprocess.run(["pdftotext", mode, "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def _has(text: str, *words: str) -> bool:
    """The words in this order on one line of the layout (a table row), whatever lies between them."""
    return re.search(r"[^\n]*?".join(re.escape(word) for word in words), text) is not None


def test_the_pdf_shows_seller_remit_to_client_lines_totals_due_date_and_pay_link(built):
    text = _pdf_text(built, "INV-2026-000001")
    for seller in ("Northwind Security Services", "100 Quay Street", "Newark, NJ 07114", "Tax ID EIN 12-3456789",
                   "billing@northwind.example"):
        assert seller in text
    for remit in ("Or remit to:", "PO Box 4410, Newark, NJ 07101", "ACH: First Coastal Bank, routing 021000021",
                  "Please quote invoice number INV-2026-000001 with your payment"):
        assert remit in text
    assert "BILL TO" in text and "Harbor Logistics" in text and "Client C-1" in text and "ap@harbor.example" in text
    assert _has(text, "Invoice", "INV-2026-000001") and _has(text, "Invoice date", "2026-10-12")
    assert _has(text, "Due date", "2026-11-11") and _has(text, "Terms", "Net 30 days")
    assert _has(text, "Unarmed officer - regular", "Harbor - Gate 2 (S-1)", "16.00", "hour", "30.00", "480.00")
    assert _has(text, "Incident response - alarm, panic button", "Harbor - Jersey Yard", "2.00", "incident",
                "75.00", "150.00")
    assert _has(text, "Discount 10% - Device monitoring", "1.00", "discount", "-3.75", "-3.75")
    assert _has(text, "US-NY", "NYC sales tax", "4.5%", "570.00", "25.65") and _has(text, "US-NY tax", "48.45")
    assert _has(text, "US-NJ", "NJ sales tax", "6.625%", "207.75", "13.76") and _has(text, "US-NJ tax", "13.76")
    for label, amount in (("Subtotal", "777.75"), ("Tax", "62.21"), ("Total", "839.96"), ("Amount paid", "97.65"),
                          ("Balance due", "742.31")):
        assert _has(text, label, amount, "USD"), label
    link = re.search(r"Pay online: (https://\S+) \(this link works until 2026-11-11\)", text)
    assert link and link.group(1).startswith(f"{PUBLIC}/portal/s/")
    with built.cursor() as cur:  # the short link opens the pay page under a link for this invoice only
        target = short_links.resolve(cur, link.group(1).rsplit("/", 1)[1])
    token = target.split("/")[2]
    assert target == f"/portal/{token}/invoices/INV-2026-000001/pay"
    grant = read_grant(token, date(2026, 11, 11))
    assert (grant.client_id, grant.scope, grant.expires) == ("C-1", "invoice:INV-2026-000001", date(2026, 11, 11))


def test_the_evidence_appendix_cites_every_ref_of_every_line(built):
    text = _pdf_text(built, "INV-2026-000001")
    body, appendix = text.split("Evidence appendix", 1)
    with built.cursor() as cur:
        cur.execute("""select line_no, description, source_refs from billing.invoice_lines l
                       join billing.invoices i using (invoice_id)
                       where i.invoice_number = 'INV-2026-000001' and category <> 'tax' order by line_no""")
        lines = cur.fetchall()
    assert len(lines) == 6
    for entry, (_, description, refs) in enumerate(lines, start=1):
        assert _has(body, f"evidence E{entry},", f"{len(refs)}", "record"), description
        section = appendix.split(f"E{entry} · {description}", 1)[1].split(f"E{entry + 1} · ", 1)[0]
        for ref in refs:
            assert ref in section, (description, ref)
    raw = " ".join(_pdf_text(built, "INV-2026-000001", "-raw").split("Evidence appendix", 1)[1].split())
    for record in (
        "timesheets:SH-1 Guard G-1 Ann Lee, unarmed in 2026-10-05 07:53 EDT, out 16:07 EDT (8.23 h)",
        "timesheets:SH-2 Guard G-2 Bo Park, unarmed in 2026-10-06 18:00 EDT, out 2026-10-07 04:00 EDT (10.00 h)",
        "genetec:alarm-55 vendor id 55 Alarm, responder G-7 raised 2026-10-07 02:02 EDT, response 02:10 EDT (8 min "
        "after), cleared 02:47 EDT (37 min on scene)",
        "patrols:T-1 Patrol by G-3: 12 of 12 checkpoints scanned 2026-10-07 21:00 EDT to 21:40 EDT",
        "3 devices (2 camera, 1 door) RECORD WHAT WHEN devices:D-1 Camera active from 2026-09-01, still active",
        "lenel:D-3 vendor id SN-99812 Door active from 2026-09-15, still active",
        "The same records as E5: devices:D-1, devices:D-2, lenel:D-3",  # the discount's
    ):
        assert record in raw, record


def _sections(conn, number: str) -> list[str]:
    return re.findall(r"<h2>([^<]+)</h2>", render_html(load_document(conn, number)))


def test_lines_are_grouped_as_the_clients_grouping_says(built):
    assert _sections(built, "INV-2026-000001") == ["Guarding", "Incident response", "Mobile patrol", "Monitoring",
                                                   "Taxes", "Evidence appendix"]
    with built, built.cursor() as cur:
        cur.execute("""update marts.dim_clients set "grouping" = 'per_site' where client_id = 'C-1'""")
    assert _sections(built, "INV-2026-000001") == ["Harbor - Gate 2 (S-1)", "Harbor - Jersey Yard (S-2)", "Taxes",
                                                   "Evidence appendix"]
    html = render_html(load_document(built, "INV-2026-000002"))
    assert "<th>Site</th>" not in html and "<div class=\"label\">Site</div><div>Birch - Dock 4 (S-9)</div>" in html


def test_a_credit_note_reads_as_a_credit_note(built):
    text = _pdf_text(built, "CN-2026-000001")
    assert _has(text, "Credit note", "CN-2026-000001") and _has(text, "Credit note date", "2026-10-19")
    assert _has(text, "Credits invoice", "INV-2026-000001 of 2026-10-12")
    assert "This credit note credits invoice INV-2026-000001" in text and "nothing is" in text
    assert _has(text, "Total credited", "-97.65 USD") and _has(text, "Applied to invoice INV-2026-000001",
                                                                  "2026-10-19", "97.65 USD")
    for invoice_only in ("Invoice CN", "Balance due", "Pay online", "Due date", "remit to"):
        assert invoice_only not in text


def test_without_a_company_file_the_seller_is_vigil_demo_company(conn, monkeypatch):
    monkeypatch.setenv("VIGIL_PUBLIC_URL", PUBLIC)
    scenario.build(conn, company=False)
    text = _pdf_text(conn, "INV-2026-000002")
    assert "Vigil demo company" in text.split("BILL TO")[0]  # the seller, at the top
    assert "Northwind" not in text and "Tax ID" not in text
    assert _has(text, "Or remit to:") and "Vigil demo company" in text.split("Or remit to:", 1)[1]
