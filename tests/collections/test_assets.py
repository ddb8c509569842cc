"""The collections assets run in-process by Dagster over a range of days (one run, days in
order), report each step, compute the KPIs by hand-checkable numbers, flag delinquent
clients without suspending anything; the polling sensor settles what a webhook missed."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import pytest

pytestmark = pytest.mark.integration

D = date(2026, 10, 13)


def _resources(proxy):
    from orchestration.lib.resources import MessagingResource, StripeResource, WarehouseResource

    return {"warehouse": WarehouseResource(), "stripe": StripeResource(api_key="", api_base=proxy.url),
            "messaging": MessagingResource(retry_backoff_seconds=0)}


def _materialize(proxy, first: date, last: date):
    from orchestration.defs.collections.assets import collections_days, collections_kpis
    from orchestration.defs.collections.checks import delinquent_clients_flagged

    return dg.materialize([collections_days, collections_kpis, delinquent_clients_flagged],
                          resources=_resources(proxy),
                          tags={"dagster/asset_partition_range_start": first.isoformat(),
                                "dagster/asset_partition_range_end": last.isoformat()})


def _metadata(result, *path: str) -> dict:
    """The metadata of the asset's materialization (one per day of the range, all alike)."""
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(list(path))]
    return {key: value.value for key, value in events[-1].materialization.metadata.items()}


def test_a_range_runs_day_by_day_with_kpis_and_the_delinquent_flag(book, proxy, localstripe, monkeypatch):
    """INV-A (visa, 100.00) paid on D: 12 days to pay. INV-C (declined once, 50.00) fails on D,
    paid on the retry D+1: 13 days. INV-B (insufficient funds, 410.00) fails D, D+1, D+3, D+7,
    delinquent D+7, in collections D+30. Auto-pay: 2 of 7 settled attempts succeeded; 1 of 2
    invoices with a decline recovered; days to pay median 12.5, p90 13; 410.00 in collections."""
    from vigil_app.demo.localstripe import decline_next_charges

    monkeypatch.setenv("VIGIL_PAYMENTS", "local")
    decline_next_charges(localstripe, 1)
    for client, method in (("C-A", "pm_card_visa"), ("C-B", "pm_card_chargeDeclinedInsufficientFunds"),
                           ("C-C", "pm_card_vigil_declinedThenApproved")):
        book.client(client, autopay=True, method=method)
    for number, client, total in (("INV-2026-000301", "C-A", "100.00"), ("INV-2026-000302", "C-B", "410.00"),
                                  ("INV-2026-000303", "C-C", "50.00")):
        book.invoice(number, client, total, issued=date(2026, 10, 1), due=D)
    result = _materialize(proxy, date(2026, 10, 1), D + timedelta(days=31))
    assert result.success
    assert _metadata(result, "payments", "autopay_charges")["attempted"] == 3
    recovery = _metadata(result, "collections", "payment_recovery")
    assert (recovery["retries"], recovery["receipts"], recovery["failure_notices"]) == (4, 2, 10)
    assert _metadata(result, "collections", "reminders")["sent"] == 1  # INV-B's reminder_final on D+10
    dunning = _metadata(result, "collections", "dunning")
    assert (dunning["delinquent"], dunning["handed_off"]) == (1, 1)
    kpis = _metadata(result, "collections", "kpis")
    assert (kpis["paid_invoices"], kpis["days_to_pay_median"], kpis["days_to_pay_p90"]) == (2, 12.5, 13)
    assert (kpis["autopay_success_rate"], kpis["recovery_rate"]) == (0.2857, 0.5)
    assert (kpis["amount_delinquent"], kpis["amount_in_collections"]) == ("0.00", "410.00 USD")
    assert "| 2026-10-14 | 50.00 | 1 | 1 | 0 | 0 | 0 |" in kpis["per_day"]  # C paid on its retry, B's retry declined
    assert "| 2026-11-12 | 0.00 | 0 | 0 | 0 | 0 | 1 |" in kpis["per_day"]  # B handed off on D+30
    assert kpis["collected_chart"].startswith("![money collected per day](data:image/svg+xml;base64,")
    [check] = result.get_asset_check_evaluations()
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert check.metadata["clients"].value == "- C-B: 0 delinquent, 1 in collections, 410.00 USD owed"
    assert [row[:4] for row in book.attempts("INV-2026-000303")] == [
        (1, D, "due", "failed"), (2, D + timedelta(days=1), "retry", "succeeded")]


def test_with_payments_off_nothing_is_charged_and_the_metadata_says_so(book, proxy, monkeypatch):
    monkeypatch.setenv("VIGIL_PAYMENTS", "off")
    book.client("C-A", autopay=True, method="pm_card_visa")
    book.invoice("INV-2026-000304", "C-A", "100.00", issued=date(2026, 10, 1), due=D)
    result = _materialize(proxy, D, D)
    charges = _metadata(result, "payments", "autopay_charges")
    assert (charges["mode"], charges["auto_pay"], charges["attempted"]) == ("off", "off: nothing charged", 0)
    assert (book.attempts("INV-2026-000304"), book.status("INV-2026-000304")) == ([], "issued")
    assert proxy.seen == []


def test_the_polling_sensor_settles_a_debit_the_webhook_missed(book, proxy, localstripe, monkeypatch):
    """The bank pays the ACH debit, the webhook never arrives (nobody registered): the sensor's
    tick on business day D+3 (VIGIL_TODAY) settles it that day and applies it to the ledger."""
    from orchestration.defs.payments.sensors import payment_events_poll
    from vigil_app.demo.localstripe import send_webhooks_to, settle_debit

    monkeypatch.setenv("VIGIL_PAYMENTS", "local")
    send_webhooks_to(localstripe, "http://127.0.0.1:9/nowhere", "whsec_unused")
    book.client("C-D", autopay=True, method="pm_usBankAccount")
    book.invoice("INV-2026-000305", "C-D", "300.00", issued=date(2026, 10, 1), due=D)
    book.run(D)
    [(ref,)] = book.rows("select provider_ref from billing.payment_attempts")
    settle_debit(localstripe, ref, "succeeded")
    monkeypatch.setenv("VIGIL_TODAY", (D + timedelta(days=3)).isoformat())
    with dg.instance_for_test() as instance:
        tick = payment_events_poll(dg.build_sensor_context(instance=instance, resources=_resources(proxy)))
    assert "1 attempt(s) settled" in tick.skip_message
    assert book.attempts("INV-2026-000305") == [(1, D, "due", "succeeded", None, D + timedelta(days=3))]
    assert book.rows("select effective_date, amount from billing.ledger_entries") == [(D + timedelta(days=3), 300)]
