"""The next step the console shows for an open invoice (schedule.upcoming_step): read off the
calendar's own rules, day by day. Pure: no warehouse."""

from __future__ import annotations

from datetime import date

from billing.collections.schedule import Attempt, Step, upcoming_step

DUE = date(2026, 10, 20)


def _failed(number: int, on: date, reason: str, decline: str = "soft") -> Attempt:
    return Attempt(number, on, reason, "failed", "pm_card", decline, on)


def test_an_invoice_without_auto_pay_is_reminded_on_d_minus_3_then_on_d():
    assert upcoming_step(DUE, [], None, False, "issued", set(), date(2026, 10, 10)) == Step(
        "reminder before due", date(2026, 10, 17))
    assert upcoming_step(DUE, [], None, False, "issued", {"reminder_before_due"}, date(2026, 10, 18)) == Step(
        "reminder due", date(2026, 10, 20))


def test_auto_pay_charges_on_the_due_date_and_retries_on_f_plus_1():
    assert upcoming_step(DUE, [], "pm_card", True, "issued", set(), date(2026, 10, 15)) == Step(
        "auto-pay charge (due)", DUE)
    failed = [_failed(1, DUE, "due")]
    assert upcoming_step(DUE, failed, "pm_card", True, "issued", set(), date(2026, 10, 21)) == Step(
        "auto-pay charge (retry)", date(2026, 10, 21))


def test_a_hard_decline_waits_for_a_new_method_then_the_final_reminder_on_d_plus_10():
    failed = [_failed(1, DUE, "due", decline="hard")]
    assert upcoming_step(DUE, failed, "pm_card", True, "issued", set(), date(2026, 10, 21)) == Step(
        "reminder final", date(2026, 10, 30))
    assert upcoming_step(DUE, failed, "pm_card_new", True, "issued", set(), date(2026, 10, 21)) == Step(
        "auto-pay charge (new method)", date(2026, 10, 21))


def test_exhausted_retries_make_it_delinquent_the_day_the_last_one_failed():
    attempts = [_failed(1, DUE, "due"), _failed(2, date(2026, 10, 21), "retry"),
                _failed(3, date(2026, 10, 23), "retry"), _failed(4, date(2026, 10, 27), "retry")]
    assert upcoming_step(DUE, attempts, "pm_card", True, "issued", set(), date(2026, 10, 27)) == Step(
        "becomes delinquent", date(2026, 10, 27))
    assert upcoming_step(DUE, attempts, "pm_card", True, "delinquent", {"reminder_final"},
                         date(2026, 10, 31)) == Step("goes to collections", date(2026, 11, 19))


def test_an_attempt_in_flight_waits_for_the_provider_and_collections_is_the_last_step():
    processing = [Attempt(1, DUE, "due", "processing", "pm_bank")]
    assert upcoming_step(DUE, processing, "pm_bank", True, "issued", set(), date(2026, 10, 22)) == Step(
        "waiting for the provider's answer", date(2026, 10, 22))
    assert upcoming_step(DUE, [], None, False, "in_collections", {"reminder_final"}, date(2026, 11, 25)) is None
