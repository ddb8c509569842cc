"""Auto-pay against a real localstripe and a real database: one charge per balance, even
across a crash or a timeout (the day's charges of billing/collections/autopay.py; the whole
day, timelines and crash injection are in tests/collections)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing.collections.autopay import ChargeSummary, charge_day
from billing.collections.methods import sync_contract_methods
from billing.payments import Outcome, StripeGateway, to_minor_units
from vigil_app.demo.localstripe import ensure_localstripe, forget_everything

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gateway(warehouse):
    base = ensure_localstripe()
    forget_everything(base)
    return StripeGateway(api_key="sk_test_vigil", api_base=base)


def collect_autopay(conn, gateway, first: date, last: date):
    """Each day first..last: the contract files' methods, then the day's charges (all added up)."""
    total = ChargeSummary()
    for ordinal in range(first.toordinal(), last.toordinal() + 1):
        with conn, conn.cursor() as cur:
            sync_contract_methods(cur, date.fromordinal(ordinal))
        day = charge_day(conn, gateway, date.fromordinal(ordinal))
        total.attempted.update(day.attempted)
        total.outcomes.update(day.outcomes)
        total.reconciled += day.reconciled
    return total


@pytest.fixture
def ledger(conn):
    """An issued invoice of an auto-pay client; marts.dim_clients stands as dbt would build it."""
    with conn, conn.cursor() as cur:
        cur.execute("create schema if not exists marts")
        cur.execute("""create table if not exists marts.dim_clients (client_id text primary key, autopay boolean,
                       payment_method text)""")
        cur.execute("truncate billing.ledger_entries, billing.payment_attempts, billing.messages, "
                    "billing.payment_methods cascade")
        cur.execute("truncate billing.invoices cascade")
        cur.execute("delete from marts.dim_clients")
    return conn


def _invoice(conn, number: str, total: str, method: str, due: date = date(2026, 10, 13)) -> int:
    client = "C-" + number
    with conn, conn.cursor() as cur:
        cur.execute("insert into marts.dim_clients values (%s, true, %s)", (client, method))
        cur.execute(
            """insert into billing.invoices (invoice_key, invoice_number, status, kind, client_id, contract_ids,
                   currency, period_start, period_end, issue_date, due_date, subtotal, tax_total, total)
               values (%s, %s, 'issued', 'arrears', %s, '{K}', 'USD', '2026-10-05', '2026-10-11', '2026-10-12',
                       %s, %s, 0, %s) returning invoice_id""",
            (number, number, client, due, total, total),
        )
        return cur.fetchone()[0]


def _intents_with_key(gateway, key: str) -> int:
    page = gateway._client.v1.payment_intents.list(params={"limit": 100})
    return sum(1 for i in page.data if i.metadata.to_dict().get("vigil_key") == key)


def _attempts(conn, invoice_id):
    with conn.cursor() as cur:
        cur.execute("select attempt_no, status, amount_minor from billing.payment_attempts where invoice_id = %s"
                    " order by attempt_no", (invoice_id,))
        return cur.fetchall()


def _status(conn, invoice_id):
    with conn.cursor() as cur:
        cur.execute("select status from billing.invoices where invoice_id = %s", (invoice_id,))
        return cur.fetchone()[0]


def test_minor_units_are_exact():
    assert to_minor_units(Decimal("212.50"), "USD") == 21250
    assert to_minor_units(Decimal("1000"), "JPY") == 1000
    with pytest.raises(ValueError):
        to_minor_units(Decimal("1.005"), "USD")


def test_due_invoice_charged_once_and_paid(ledger, gateway):
    inv = _invoice(ledger, "INV-T-1", "212.50", "pm_card_visa")
    first = collect_autopay(ledger, gateway, date(2026, 10, 13), date(2026, 10, 13))
    again = collect_autopay(ledger, gateway, date(2026, 10, 13), date(2026, 10, 20))
    assert (first.outcomes["succeeded"], sum(again.attempted.values())) == (1, 0)
    assert _attempts(ledger, inv) == [(1, "succeeded", 21250)]
    assert _status(ledger, inv) == "paid"
    assert _intents_with_key(gateway, "vigil:INV-T-1:1") == 1


def test_not_charged_before_due_date(ledger, gateway):
    inv = _invoice(ledger, "INV-T-2", "50.00", "pm_card_visa", due=date(2026, 10, 20))
    assert sum(collect_autopay(ledger, gateway, date(2026, 10, 13), date(2026, 10, 19)).attempted.values()) == 0
    assert _attempts(ledger, inv) == []


def test_crash_after_provider_charged_is_reconciled_not_recharged(ledger, gateway):
    inv = _invoice(ledger, "INV-T-3", "99.99", "pm_card_visa")
    key = "vigil:INV-T-3:1"
    with ledger, ledger.cursor() as cur:  # the attempt was recorded, then the process died mid-call
        cur.execute("""insert into billing.payment_attempts (invoice_id, attempt_no, idempotency_key, attempt_date,
                       amount, amount_minor, currency, payment_method, status)
                       values (%s, 1, %s, '2026-10-13', 99.99, 9999, 'USD', 'pm_card_visa', 'pending')""", (inv, key))
    gateway.charge(amount_minor=9999, currency="USD", payment_method="pm_card_visa", method="card", key=key,
                   metadata={})
    summary = collect_autopay(ledger, gateway, date(2026, 10, 14), date(2026, 10, 14))
    assert (summary.reconciled, sum(summary.attempted.values())) == (1, 0)
    assert _attempts(ledger, inv) == [(1, "succeeded", 9999)]
    assert _status(ledger, inv) == "paid"
    assert _intents_with_key(gateway, key) == 1


class _TimesOutAfterCharging:
    """The provider charged, but the answer never came back."""

    def __init__(self, inner):
        self.inner = inner

    def method_type(self, payment_method):
        return self.inner.method_type(payment_method)

    def charge(self, **kwargs):
        self.inner.charge(**kwargs)
        return Outcome("unknown", message="read timed out")

    def find(self, key):
        return self.inner.find(key)


def test_timeout_freezes_invoice_until_reconciled(ledger, gateway):
    inv = _invoice(ledger, "INV-T-4", "10.00", "pm_card_visa")
    first = collect_autopay(ledger, _TimesOutAfterCharging(gateway), date(2026, 10, 13), date(2026, 10, 13))
    assert first.outcomes["unknown"] == 1
    assert _attempts(ledger, inv) == [(1, "unknown", 1000)]
    second = collect_autopay(ledger, gateway, date(2026, 10, 14), date(2026, 10, 14))
    assert (second.reconciled, sum(second.attempted.values())) == (1, 0)
    assert _attempts(ledger, inv) == [(1, "succeeded", 1000)]
    assert _intents_with_key(gateway, "vigil:INV-T-4:1") == 1


def test_declined_card_recorded_failed_and_invoice_stays_open(ledger, gateway):
    inv = _invoice(ledger, "INV-T-5", "75.00", "pm_card_chargeCustomerFail")
    summary = collect_autopay(ledger, gateway, date(2026, 10, 13), date(2026, 10, 13))
    assert summary.outcomes["failed"] == 1
    assert _attempts(ledger, inv) == [(1, "failed", 7500)]
    assert _status(ledger, inv) == "issued"
