"""Quarterly, semiannual and annual cycles (calendar quarters, half-years and years, as monthly
is a calendar month; an extension of billing-rules section 8), with hand-computed numbers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from billing.rating import draft_invoices
from billing.rating.contracts import parse_contract
from billing.rating.cycles import cycles_of
from tests.billing.builders import by_cat, contract, device, make_inputs, shift

D = Decimal
CAMERA_FEE = [{"device_type": "camera", "monthly_fee": "10.00"}]


def _monitoring(kid: str, cycle: str, start: str, end: str, **terms) -> dict:
    return contract(kid, cycle=cycle, start=start, end=end, rates=[], issue_lead_days=5, **terms)


def test_cycle_bounds_are_calendar_quarters_halves_and_years():
    def bounds(cycle: str, start: str, end: str) -> list[tuple[date, date, date, date, int]]:
        terms = parse_contract(_monitoring("K-Q", cycle, start, end), "UTC")
        return [(cy.start, cy.end, cy.active_start, cy.active_end, cy.index)
                for cy in cycles_of(terms, terms.end_date)]

    assert bounds("quarterly", "2026-02-10", "2026-11-15") == [
        (date(2026, 1, 1), date(2026, 3, 31), date(2026, 2, 10), date(2026, 3, 31), 0),
        (date(2026, 4, 1), date(2026, 6, 30), date(2026, 4, 1), date(2026, 6, 30), 1),
        (date(2026, 7, 1), date(2026, 9, 30), date(2026, 7, 1), date(2026, 9, 30), 2),
        (date(2026, 10, 1), date(2026, 12, 31), date(2026, 10, 1), date(2026, 11, 15), 3),
    ]
    assert bounds("semiannual", "2027-12-01", "2028-12-31") == [
        (date(2027, 7, 1), date(2027, 12, 31), date(2027, 12, 1), date(2027, 12, 31), 0),
        (date(2028, 1, 1), date(2028, 6, 30), date(2028, 1, 1), date(2028, 6, 30), 1),
        (date(2028, 7, 1), date(2028, 12, 31), date(2028, 7, 1), date(2028, 12, 31), 2),
    ]
    assert bounds("annual", "2026-06-01", "2028-01-31") == [
        (date(2026, 1, 1), date(2026, 12, 31), date(2026, 6, 1), date(2026, 12, 31), 0),
        (date(2027, 1, 1), date(2027, 12, 31), date(2027, 1, 1), date(2027, 12, 31), 1),
        (date(2028, 1, 1), date(2028, 12, 31), date(2028, 1, 1), date(2028, 1, 31), 2),
    ]


def test_quarterly_recurring_item_billed_per_quarter_in_advance_first_quarter_prorated():
    # Q1 2026 has 90 days; the contract is active 2026-02-10..03-31 = 50 of them:
    # 300.00 x 50 / 90 = 166.666... -> 166.67. Each advance invoice is issued 5 days before A, due on A.
    terms = _monitoring("K-Q", "quarterly", "2026-02-10", "2027-02-09",
                        recurring=[{"code": "MON-STD", "category": "monitoring", "site_id": "S-1",
                                    "amount": "300.00"}])
    invs = draft_invoices(make_inputs([terms]), date(2026, 7, 1))
    assert [(i.kind, i.period_start, i.period_end, i.issue_date, i.due_date) for i in invs] == [
        ("advance", date(2026, 2, 10), date(2026, 3, 31), date(2026, 2, 5), date(2026, 2, 10)),
        ("advance", date(2026, 4, 1), date(2026, 6, 30), date(2026, 3, 27), date(2026, 4, 1)),
        ("advance", date(2026, 7, 1), date(2026, 9, 30), date(2026, 6, 26), date(2026, 7, 1)),
    ]
    first, second, _ = invs
    [partial] = first.lines
    assert partial.amount == D("166.67")
    assert partial.explanation == "300.00 per quarterly cycle 2026-01-01..2026-03-31, prorated 50/90 active days"
    [full] = second.lines
    assert full.amount == D("300.00") and "prorated" not in full.explanation


def test_quarterly_device_fee_is_the_monthly_fee_times_three():
    # 2 cameras x 10.00 monthly = 30.00 per camera per quarter; Q1 prorated 50/90 days: 60.00 x 50 / 90 = 33.33.
    terms = _monitoring("K-Q", "quarterly", "2026-02-10", "2027-02-09", per_device=CAMERA_FEE)
    devs = [device("CAM1", "camera", date(2026, 1, 1)), device("CAM2", "camera", date(2026, 2, 1))]
    first, second = draft_invoices(make_inputs([terms], devices=devs), date(2026, 3, 31))
    [partial] = by_cat(first)["device_monitoring"]
    assert (partial.quantity, partial.unit_price, partial.amount) == (D(2), D("30.00"), D("33.33"))
    [full] = by_cat(second)["device_monitoring"]
    assert (full.quantity, full.unit_price, full.amount) == (D(2), D("30.00"), D("60.00"))
    assert full.explanation == ("2 x 10.00 monthly fee per camera active on 2026-04-01 "
                                "x 3 months of the quarterly cycle")


def test_annual_device_fee_is_the_monthly_fee_times_twelve():
    terms = _monitoring("K-A", "annual", "2026-01-01", "2027-12-31", per_device=CAMERA_FEE)
    devs = [device("CAM1", "camera", date(2025, 6, 1))]
    invs = draft_invoices(make_inputs([terms], devices=devs), date(2026, 12, 31))
    assert [(i.period_start, i.period_end, i.issue_date, i.due_date) for i in invs] == [
        (date(2026, 1, 1), date(2026, 12, 31), date(2025, 12, 27), date(2026, 1, 1)),
        (date(2027, 1, 1), date(2027, 12, 31), date(2026, 12, 27), date(2027, 1, 1)),
    ]
    [line] = invs[0].lines
    assert (line.quantity, line.unit_price, line.amount) == (D(1), D("120.00"), D("120.00"))
    assert "x 12 months of the annual cycle" in line.explanation


def test_guard_hours_on_a_quarterly_contract_are_billed_in_arrears_the_day_after_the_quarter():
    terms = contract("K-G", cycle="quarterly", start="2026-01-01", end="2026-12-31")
    shifts = [shift("A", "2026-05-05T08:00:00-04:00", "2026-05-05T16:00:00-04:00", kid="K-G")]
    assert draft_invoices(make_inputs([terms], shifts), date(2026, 6, 30)) == []
    (inv,) = draft_invoices(make_inputs([terms], shifts), date(2026, 7, 1))
    assert (inv.kind, inv.period_start, inv.period_end) == ("arrears", date(2026, 4, 1), date(2026, 6, 30))
    assert (inv.issue_date, inv.due_date) == (date(2026, 7, 1), date(2026, 7, 31))
    [hours] = by_cat(inv)["regular_hours"]
    assert (hours.quantity, hours.amount) == (D("8.00"), D("256.00"))
