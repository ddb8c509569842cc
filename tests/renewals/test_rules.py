"""The renewal rules without a database: step days, what a day owes a contract (in order,
once, caught up), contract lengths, and the options' prices (billing/renewals)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing.renewals.options import (
    carried_terms,
    dated_options,
    longer_term,
    monitoring_ladder,
    options_for,
    recurring_per_month,
)
from billing.renewals.timeline import State, Term, Timeline, add_months, offer_due, status, steps_due, term_of


@pytest.mark.parametrize(("end", "offer", "reminder", "alert", "final"), [
    (date(2026, 10, 31), date(2026, 8, 2), date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)),
    (date(2028, 2, 29), date(2027, 12, 1), date(2027, 12, 31), date(2028, 1, 30), date(2028, 3, 1)),
    (date(2026, 3, 1), date(2025, 12, 1), date(2025, 12, 31), date(2026, 1, 30), date(2026, 3, 2)),
])
def test_step_days(end, offer, reminder, alert, final):
    timeline = Timeline(end)
    assert (timeline.offer_day, timeline.reminder_day, timeline.alert_day, timeline.final_day) == (
        offer, reminder, alert, final)


@pytest.mark.parametrize(("start", "end", "term", "renewed", "twice"), [
    (date(2025, 11, 1), date(2026, 10, 31), Term(months=12), (date(2026, 11, 1), date(2027, 10, 31)),
     date(2028, 10, 31)),
    (date(2027, 3, 1), date(2028, 2, 29), Term(months=12), (date(2028, 3, 1), date(2029, 2, 28)), date(2030, 2, 28)),
    (date(2026, 6, 1), date(2026, 8, 31), Term(months=3), (date(2026, 9, 1), date(2026, 11, 30)), date(2027, 2, 28)),
    # 45 days is no whole number of months: the renewal runs 45 days (twice: 90)
    (date(2026, 1, 10), date(2026, 2, 23), Term(days=45), (date(2026, 2, 24), date(2026, 4, 9)), date(2026, 5, 24)),
    # from a leap day, "a year" ends 2025-02-28 and the day after is not 02-29: counted in days
    (date(2024, 2, 29), date(2025, 2, 28), Term(days=366), (date(2025, 3, 1), date(2026, 3, 1)), date(2027, 3, 2)),
])
def test_contract_lengths(start, end, term, renewed, twice):
    assert term_of(start, end) == term
    assert term.period_after(end) == renewed
    assert term.times(2).period_after(end)[1] == twice


def test_add_months_clamps_to_the_month():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2027, 2, 28), 12) == date(2028, 2, 28)
    assert add_months(date(2026, 11, 30), -12) == date(2025, 11, 30)


def test_offer_day_or_start_through_the_end():
    assert not offer_due(date(2026, 8, 1), date(2025, 11, 1), date(2026, 10, 31))
    assert offer_due(date(2026, 8, 2), date(2025, 11, 1), date(2026, 10, 31))
    assert offer_due(date(2026, 10, 31), date(2025, 11, 1), date(2026, 10, 31))
    assert not offer_due(date(2026, 11, 1), date(2025, 11, 1), date(2026, 10, 31))
    # a contract shorter than 90 days is offered from its first day
    assert not offer_due(date(2026, 10, 14), date(2026, 10, 15), date(2026, 12, 31))
    assert offer_due(date(2026, 10, 15), date(2026, 10, 15), date(2026, 12, 31))


END = date(2026, 12, 31)  # offer 10-02, reminder 11-01, alert 12-01, final 2027-01-01


def _days(state: State, first: date, last: date) -> list[tuple[date, list[str]]]:
    out = []
    for ordinal in range(first.toordinal(), last.toordinal() + 1):
        day = date.fromordinal(ordinal)
        due = steps_due(day, state)
        if due:
            out.append((day, due))
            state = _apply(state, day, due)
    return out


def _apply(state: State, day: date, due: list[str]) -> State:
    changes = {"reminder": {"reminded_on": day}, "sales_alert": {"sales_alerted_on": day},
               "auto_notice": {"auto_notice_on": day}, "expire": {"decision": "expired", "decided_on": day},
               "auto_renew": {"decision": "auto_renewed", "decided_on": day},
               "decision_message": {"decision_sent_on": day}}
    values = {**state.__dict__}
    for step in due:
        values.update(changes[step])
    return State(**values)


def test_each_step_once_on_its_day():
    silent = State(END, auto_renew=False, offered_on=date(2026, 10, 2))
    assert _days(silent, date(2026, 10, 2), date(2027, 2, 1)) == [
        (date(2026, 11, 1), ["reminder"]), (date(2026, 12, 1), ["sales_alert"]), (date(2027, 1, 1), ["expire"])]
    auto = State(END, auto_renew=True, offered_on=date(2026, 10, 2))
    assert _days(auto, date(2026, 10, 2), date(2027, 2, 1)) == [
        (date(2026, 11, 1), ["reminder"]), (date(2026, 12, 1), ["auto_notice"]), (date(2027, 1, 1), ["auto_renew"]),
        (date(2027, 1, 2), ["decision_message"])]


def test_a_late_offer_skips_the_reminder_and_alerts_the_next_day():
    late = State(END, auto_renew=False, offered_on=date(2026, 12, 20))
    assert _days(late, date(2026, 12, 20), date(2027, 1, 5)) == [
        (date(2026, 12, 21), ["sales_alert"]), (date(2027, 1, 1), ["expire"])]


def test_missed_days_are_caught_up_once():
    state = State(END, auto_renew=False, offered_on=date(2026, 10, 2))
    assert steps_due(date(2026, 12, 5), state) == ["reminder", "sales_alert"]


def test_a_decision_counts_from_its_own_day():
    declined = State(END, auto_renew=True, offered_on=date(2026, 10, 2), reminded_on=date(2026, 11, 1),
                     auto_notice_on=date(2026, 12, 1), decision="declined", decided_on=date(2026, 12, 10))
    assert steps_due(date(2026, 12, 9), declined) == []  # undecided that day, nothing due either
    assert steps_due(date(2026, 12, 10), declined) == ["decision_message"]
    assert steps_due(date(2027, 1, 1), declined) == ["decision_message"]  # never auto-renewed
    # a range run replayed over days before the decision still owes them their steps
    early = State(END, auto_renew=False, offered_on=date(2026, 10, 2), decision="accepted",
                  decided_on=date(2026, 11, 20))
    assert steps_due(date(2026, 11, 1), early) == ["reminder"]
    assert status(early) == "accepted" and status(early, date(2026, 11, 1)) == "offered"


MONITORING = {
    "id": "K-1", "start_date": "2026-01-01", "end_date": "2026-12-31", "billing_cycle": "monthly", "auto_renew": False,
    "recurring": [
        {"code": "MON-GOLD", "category": "monitoring", "site_id": "S-1", "amount": "90.00"},
        {"code": "MON-GOLD", "category": "monitoring", "site_id": "S-1", "amount": "120.00",
         "effective_from": "2026-04-16"},
        {"code": "CAM-RENT", "category": "equipment_rental", "site_id": "S-1", "amount": "10.01"},
        {"code": "CAM-RENT", "category": "equipment_rental", "site_id": "S-1", "amount": "12.00",
         "effective_from": "2027-03-01"},
    ],
    "per_device": [{"device_type": "door_reader", "monthly_fee": "6.10"}],
    "discounts": [{"percent": "10", "categories": ["monitoring"], "cycles": 3}],
}


def test_carried_terms_take_the_prices_in_force_on_the_last_day():
    carried = carried_terms(MONITORING, date(2026, 12, 31))
    assert carried["recurring"] == [
        {"code": "MON-GOLD", "category": "monitoring", "site_id": "S-1", "amount": "120.00"},
        {"code": "CAM-RENT", "category": "equipment_rental", "site_id": "S-1", "amount": "10.01"},
        {"code": "CAM-RENT", "category": "equipment_rental", "site_id": "S-1", "amount": "12.00",
         "effective_from": "2027-03-01"},  # a price change already agreed for later stays
    ]
    assert "discounts" not in carried and "id" not in carried and "start_date" not in carried
    assert recurring_per_month(MONITORING, date(2026, 12, 31), "USD") == Decimal("130.01")
    quarterly = dict(MONITORING, billing_cycle="quarterly")  # amounts per quarter: 130.01 / 3
    assert recurring_per_month(quarterly, date(2026, 12, 31), "USD") == Decimal("43.34")
    assert recurring_per_month(dict(MONITORING, billing_cycle="annual"), date(2026, 12, 31), "USD") == Decimal("10.83")


def test_longer_term_is_5_percent_off_each_recurring_amount_rounded_half_up():
    reduced = longer_term(carried_terms(MONITORING, date(2026, 12, 31)), "USD")
    # 120.00 x 0.95 = 114.00; 10.01 x 0.95 = 9.5095 -> 9.51; 12.00 -> 11.40; 6.10 x 0.95 = 5.795 -> 5.80
    assert [item["amount"] for item in reduced["recurring"]] == ["114.00", "9.51", "11.40"]
    assert reduced["per_device"] == [{"device_type": "door_reader", "monthly_fee": "5.80"}]
    yen = longer_term({"recurring": [{"code": "MON", "category": "monitoring", "amount": "1234"}]}, "JPY")
    assert yen["recurring"][0]["amount"] == "1172"  # 1172.3, to the yen


def _row(client: str, amount: str, code: str = "MON-GOLD") -> dict:
    return {"client_id": client, "end_date": date(2026, 12, 31), "terms": {
        "billing_cycle": "monthly", "recurring": [{"code": code, "category": "monitoring", "amount": amount}]}}


def test_monitoring_ladder_and_the_next_tier():
    rows = [_row("C-1", "79.00", "MON-STD"), _row("C-2", "89.00"), _row("C-3", "89.00"), _row("C-4", "92.00"),
            _row("C-5", "149.00", "MON-VIDEO"), _row("C-6", "10.00", "MON-EUR")]
    currencies = {"C-6": "EUR"}
    ladder = monitoring_ladder(rows, "USD", currencies)
    assert ladder == [("MON-STD", Decimal("79.00")), ("MON-GOLD", Decimal("89.00")),
                      ("MON-VIDEO", Decimal("149.00"))]  # GOLD at what most charge; EUR plans apart
    terms = {**MONITORING, "recurring": [{"code": "MON-STD", "category": "monitoring", "site_id": "S-1",
                                          "amount": "79.00"}]}
    options = {o.name: o for o in options_for(terms, date(2026, 1, 1), date(2026, 12, 31), "USD", ladder)}
    assert options["upgrade"].terms["recurring"][0] == {"code": "MON-GOLD", "category": "monitoring",
                                                        "site_id": "S-1", "amount": "89.00"}
    top = {**terms, "recurring": [{"code": "MON-VIDEO", "category": "monitoring", "amount": "149.00"}]}
    assert [o.name for o in options_for(top, date(2026, 1, 1), date(2026, 12, 31), "USD", ladder)] == [
        "same", "longer_term"]


def test_documented_upgrade_replaces_the_prices_it_names():
    terms = {**MONITORING, "rates": [{"service_type": "unarmed", "rate": "30.00"}],
             "renewal": {"upgrade": {"description": "Armed response added",
                                     "rates": [{"service_type": "unarmed", "rate": "30.00"},
                                               {"service_type": "armed", "rate": "41.50"}]}}}
    options = {o.name: o for o in options_for(terms, date(2026, 1, 1), date(2026, 12, 31), "USD", [])}
    upgraded = options["upgrade"]
    assert upgraded.description == "Armed response added"
    assert upgraded.terms["rates"][1] == {"service_type": "armed", "rate": "41.50"}
    assert upgraded.terms["recurring"] == options["same"].terms["recurring"] and "renewal" not in upgraded.terms
    assert "renewal" in options["same"].terms  # still documented for the next renewal
    assert options["longer_term"].term == Term(months=24)


def test_options_follow_a_moved_end_date():
    """An undecided renewal follows its contract's end date: the options' dates move with it."""
    options = options_for(MONITORING, date(2026, 1, 1), date(2026, 12, 31), "USD", [])
    offer = {"options": [o.to_dict(date(2026, 12, 31), "USD") for o in options]}
    assert [(o["start_date"], o["end_date"]) for o in offer["options"]] == [
        ("2027-01-01", "2027-12-31"), ("2027-01-01", "2028-12-31")]
    moved = dated_options(offer, date(2027, 1, 31))
    assert [(o["start_date"], o["end_date"]) for o in moved] == [("2027-02-01", "2028-01-31"),
                                                                  ("2027-02-01", "2029-01-31")]
