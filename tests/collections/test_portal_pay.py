"""The portal's Pay button and payment-method replacement in a real browser (Playwright and
Debian's chromium) against the real application, localstripe and the database: a link is
opened, paid with pm_card_visa and the invoice shows paid (one receipt follows); a card is
replaced by a SetupIntent and charged on the next day that runs; a POST without its CSRF
token is refused and changes nothing; a second payment of one balance cannot be made."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import requests

from billing.links import portal_link
from tests.browser import LiveServer, browser, page, screenshot  # noqa: F401 - fixtures
from vigil_app.web.app import create_app

pytestmark = pytest.mark.integration

D = date(2026, 10, 13)
NUMBER = "INV-2026-000401"


@pytest.fixture
def server(book, localstripe, monkeypatch):
    monkeypatch.setenv("VIGIL_PAYMENTS", "local")
    monkeypatch.setenv("STRIPE_API_BASE", localstripe)
    monkeypatch.setenv("VIGIL_TODAY", (D + timedelta(days=1)).isoformat())
    with LiveServer(create_app()) as running:
        monkeypatch.setenv("VIGIL_PUBLIC_URL", running.url)
        yield running


def _pay_link(client_id: str = "C-401") -> str:
    return f"{portal_link(client_id, f'invoice:{NUMBER}', D)}/invoices/{NUMBER}/pay"


def test_a_pay_link_is_paid_with_pm_card_visa_and_the_invoice_shows_paid(book, server, page, tmp_path):  # noqa: F811
    book.client("C-401")
    book.invoice(NUMBER, "C-401", "318.40", issued=date(2026, 10, 1), due=D)
    page.goto(_pay_link())
    assert page.locator("#balance").inner_text() == "318.40 USD"
    screenshot(page, tmp_path, "portal-pay")
    page.select_option("#payment_method", "pm_card_visa")
    page.click("#pay")
    assert page.locator("#note").inner_text() == "Thank you: your payment was received."
    assert (page.locator("#status").inner_text(), page.locator("#balance").inner_text()) == ("paid", "0.00 USD")
    assert page.locator("#pay").count() == 0
    assert book.rows("""select idempotency_key, channel, attempt_date, status from billing.payment_attempts""") == [
        (f"vigil:{NUMBER}:link:1", "link", D + timedelta(days=1), "succeeded")]
    book.run(D + timedelta(days=1))
    assert book.messages(NUMBER) == [(f"{NUMBER}:receipt:link-1:email", D + timedelta(days=1))]


def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(book, server):
    book.client("C-401")
    book.invoice(NUMBER, "C-401", "50.00", issued=date(2026, 10, 1), due=D)
    url = _pay_link().replace("http://127.0.0.1:8080", server.url)
    other_form = requests.get(f"{server.url}{url.split(server.url)[-1].rsplit('/invoices/', 1)[0]}/payment-method",
                              timeout=10)
    stolen = other_form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]  # a token of another form
    answers = [requests.post(url, data={"payment_method": "pm_card_visa"}, timeout=10, allow_redirects=False),
               requests.post(url, data={"payment_method": "pm_card_visa", "csrf_token": "forged"}, timeout=10,
                             allow_redirects=False),
               requests.post(url, data={"payment_method": "pm_card_visa", "csrf_token": stolen}, timeout=10,
                             allow_redirects=False)]
    assert [answer.status_code for answer in answers] == [403, 403, 403]
    assert book.rows("select count(*) from billing.payment_attempts") == [(0,)]
    assert book.status(NUMBER) == "issued"


def test_a_balance_is_never_paid_twice(book, server, page):  # noqa: F811
    """An ACH debit of the invoice is on its way: the page says so and a POST made with a
    valid token (a second tab) records nothing. After it, a declined card leaves the balance."""
    book.client("C-401", autopay=True, method="pm_usBankAccount")
    book.invoice(NUMBER, "C-401", "75.00", issued=date(2026, 10, 1), due=D)
    page.goto(_pay_link())
    token = page.locator("input[name=csrf_token]").get_attribute("value")
    book.run(D)
    page.reload()
    assert "on its way" in page.content() and page.locator("#pay").count() == 0
    answer = requests.post(page.url, data={"payment_method": "pm_card_visa", "csrf_token": token}, timeout=10,
                           allow_redirects=False)
    assert (answer.status_code, answer.headers["location"].endswith("?outcome=busy")) == (303, True)
    assert book.rows("select idempotency_key, status from billing.payment_attempts") == [
        (f"vigil:{NUMBER}:1", "processing")]


def test_a_declined_link_payment_leaves_the_balance_and_sends_no_notice(book, server, page):  # noqa: F811
    book.client("C-401")
    book.invoice(NUMBER, "C-401", "40.00", issued=date(2026, 10, 1), due=D)
    page.goto(_pay_link())
    page.select_option("#payment_method", "pm_card_chargeDeclinedInsufficientFunds")
    page.click("#pay")
    assert page.locator("#note").inner_text() == "The payment did not go through."
    assert page.locator("#balance").inner_text() == "40.00 USD"
    book.run(D + timedelta(days=1))
    assert [key for key, _ in book.messages(NUMBER)] == []


def test_a_replaced_payment_method_is_charged_on_the_next_day_that_runs(book, server, page, tmp_path):  # noqa: F811
    """Lost card declined on D (hard). On D+1 the client saves pm_card_mastercard through a
    SetupIntent; the run of D+1 charges it (new_method) and the invoice is paid. A card that
    declines when it is set up is refused and nothing changes."""
    book.client("C-401", autopay=True, method="pm_card_chargeDeclinedLostCard")
    book.invoice(NUMBER, "C-401", "120.00", issued=date(2026, 10, 1), due=D)
    book.run(D)
    page.goto(f"{portal_link('C-401', f'invoice:{NUMBER}', D)}/payment-method")
    page.select_option("#payment_method", "pm_card_chargeDeclinedLostCard")
    page.click("#save")
    assert "was refused" in page.locator("#error").inner_text()
    page.select_option("#payment_method", "pm_card_mastercard")
    page.click("#save")
    assert page.locator("#note").inner_text().startswith("Your new payment method is saved")
    screenshot(page, tmp_path, "portal-payment-method")
    assert book.rows("select source, effective_on from billing.payment_methods order by payment_method_id") == [
        ("contract", date(1, 1, 1)), ("portal", D + timedelta(days=1))]
    book.run(D + timedelta(days=1))
    assert [row[:4] for row in book.attempts(NUMBER)] == [
        (1, D, "due", "failed"), (2, D + timedelta(days=1), "new_method", "succeeded")]
    assert book.status(NUMBER) == "paid"
