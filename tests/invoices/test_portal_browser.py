"""The portal in a real browser (Playwright driving Debian's chromium, tests/browser.py) on
the hand-written scenario delivered once: open a link, see the invoices, open one, download
its PDF, dismiss a notice through the form; a tampered and an expired link show nothing.
Screenshots go to the test's folder, or to VIGIL_DOCS_SCREENSHOTS (docs/images for
docs/invoices.md: `VIGIL_DOCS_SCREENSHOTS=docs/images pytest tests/invoices/test_portal_browser.py`)."""

from __future__ import annotations

import os
import subprocess
from datetime import date
from pathlib import Path

import pytest

from billing.delivery import deliver_invoices
from billing.links import portal_link, token_for
from billing.messaging.channels import Channels, EmailFileOutbox, SmsFileOutbox
from tests.browser import LiveServer, browser, page, screenshot  # noqa: F401 - fixtures
from tests.invoices import scenario
from vigil import config, db
from vigil_app.web.app import create_app

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(warehouse, tmp_path_factory):
    outbox = tmp_path_factory.mktemp("outbox")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIGIL_TODAY", "2026-10-20")
        with LiveServer(create_app()) as live:
            patch.setenv("VIGIL_PUBLIC_URL", live.url)
            conn = db.connect()
            try:
                scenario.build(conn)
                deliver_invoices(conn, Channels(email=EmailFileOutbox(outbox / "email", "billing@northwind.example"),
                                                sms=SmsFileOutbox(outbox / "sms", "+15555550000")),
                                 date(2026, 10, 31), pdf_dir=config.paths().pdfs, backoff_seconds=0)
            finally:
                conn.close()
            yield live


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("VIGIL_DOCS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_open_a_link_see_the_invoices_open_one_and_download_its_pdf(server, page, shots):  # noqa: F811
    page.set_viewport_size({"width": 1100, "height": 800})
    page.goto(portal_link("C-1", "invoices", date(2026, 10, 12)))
    assert page.locator("h1").inner_text() == "Harbor Logistics"
    first = page.locator("tr", has=page.locator("a", has_text="INV-2026-000001"))
    assert "partially paid" in first.inner_text() and "742.31 USD" in first.inner_text()
    assert page.locator("tr", has_text="CN-2026-000001").count() == 1 and "Birch" not in page.content()
    screenshot(page, shots, "portal-invoices")

    page.click("a:text-is('INV-2026-000001')")
    assert page.locator("h1").inner_text() == "Invoice INV-2026-000001"
    pay = page.locator("#pay")
    assert pay.inner_text() == "Pay 742.31 USD" and pay.get_attribute("href").endswith("/invoices/INV-2026-000001/pay")
    assert page.locator("text=Evidence appendix").count() == 1
    screenshot(page, shots, "portal-invoice")

    with page.expect_download() as download:
        page.click("text=Download PDF")
    assert download.value.suggested_filename == "INV-2026-000001.pdf"
    pdf = Path(download.value.path()).read_bytes()
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    assert b"Harbor Logistics" in text and b"742.31" in text
    (shots / "invoice.pdf").write_bytes(pdf)
    for first_page, name in ((1, "invoice-pdf-page1"), (3, "invoice-pdf-evidence")):
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", str(first_page), "-l", str(first_page), "-singlefile",
                        str(shots / "invoice.pdf"), str(shots / name)], check=True)
        assert (shots / f"{name}.png").stat().st_size > 10_000
    (shots / "invoice.pdf").unlink()


def test_a_notice_is_dismissed_through_its_form(server, page, shots):  # noqa: F811
    page.goto(portal_link("C-3", "invoices", date(2026, 10, 12)))
    notice = page.locator(".portal-notice")
    assert "New invoice INV-2026-000003: 108.47 USD, due 2026-11-11" in notice.inner_text()
    page.click(".portal-notice button")
    assert page.locator("h1").inner_text() == "Cedar Offices" and page.locator(".portal-notice").count() == 0


def test_tampered_and_expired_links_show_nothing(server, page, shots, monkeypatch):  # noqa: F811
    good = token_for("C-1", "invoices", date(2026, 11, 11))
    body, mac = good.split(".")
    for token in (f"{body}.{mac[::-1]}", token_for("C-1", "invoices", date(2026, 10, 19))):
        answer = page.goto(f"{server.url}/portal/{token}/invoices/INV-2026-000001")
        assert answer.status == 403 and page.locator("h1").inner_text() == "Not allowed"
        assert "Harbor" not in page.content() and "INV-" not in page.content()
    screenshot(page, shots, "portal-refused")
    monkeypatch.setenv("VIGIL_TODAY", "2026-11-12")  # the business day after the good link's last
    assert page.goto(f"{server.url}/portal/{good}").status == 403
