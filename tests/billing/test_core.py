"""Core rating rules with hand-computed numbers (billing-rules sections 1, 3, 4, 8, 9)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing.rating import draft_invoices
from billing.rating.money import round_half_up
from tests.billing.builders import by_cat, contract, make_inputs, shift, site, tax_row

D = Decimal
THROUGH = date(2026, 12, 31)


def one(inputs, through=THROUGH):
    invs = draft_invoices(inputs, through)
    assert len(invs) == 1, [i.key for i in invs]
    return invs[0]


def minutes_of(inv, category):
    return sum(ln.quantity for ln in inv.lines if ln.category == category)


@pytest.mark.parametrize(
    ("check_in", "check_out", "inc", "hours"),
    [
        ("07:07:00", "15:07:59", 15, "8.00"),  # 07:07 -> 07:00; 15:07:59 truncates to 15:07 -> 15:00
        ("07:08:00", "15:00:00", 15, "7.75"),  # 07:08 -> 07:15
        ("07:05:00", "15:00:00", 10, "8.00"),  # tie (5 of 10) rounds up: 07:10... to 15:00 = 7h50 -> see below
        ("07:30:00", "15:00:00", 60, "7.00"),  # tie rounds up to 08:00
        ("07:29:59", "15:00:00", 60, "8.00"),  # 07:29 -> 07:00
    ],
)
def test_rounding_to_increment(check_in, check_out, inc, hours):
    inp = make_inputs(
        [contract(increment_minutes=inc)], [shift("A", f"2026-10-06T{check_in}-04:00", f"2026-10-06T{check_out}-04:00")]
    )
    inv = one(inp)
    expected = D(hours) if inc != 10 else D("7.83")  # 07:10..15:00 = 470 min = 7.83 h
    assert minutes_of(inv, "regular_hours") == expected


def test_rounding_counts_from_local_hour_in_half_hour_zone():
    # Kolkata is UTC+05:30: with a 60-minute increment 09:29 local rounds to 09:00 local (03:30 UTC).
    inp = make_inputs(
        [contract(increment_minutes=60)],
        [shift("A", "2026-10-06T09:29:00+05:30", "2026-10-06T17:31:00+05:30", tz="Asia/Kolkata")],
        sites=[site(tz="Asia/Kolkata", jurisdiction="IN")],
    )
    assert minutes_of(one(inp), "regular_hours") == D("9.00")  # 09:00 .. 18:00


def test_regular_line_amount_and_explanation():
    inp = make_inputs([contract()], [shift("A", "2026-10-06T08:00:00-04:00", "2026-10-06T16:00:00-04:00")])
    inv = one(inp)
    (ln,) = inv.lines
    assert (ln.category, ln.quantity, ln.unit, ln.unit_price, ln.amount) == (
        "regular_hours",
        D("8.00"),
        "hour",
        D("32.00"),
        D("256.00"),
    )
    assert ln.source_refs == ("timesheets:A",)
    assert ln.tax_jurisdiction == "US-NY"
    assert "8.00 h x 32.00" in ln.explanation
    assert (inv.period_start, inv.period_end, inv.issue_date, inv.due_date) == (
        date(2026, 10, 5),
        date(2026, 10, 11),
        date(2026, 10, 12),
        date(2026, 11, 11),
    )
    assert inv.subtotal == inv.total == D("256.00") and inv.tax_total == 0


def test_weekly_overtime_in_time_order_across_sites():
    shifts = [
        shift(
            f"SH-{d}",
            f"2026-10-{d:02d}T07:00:00-04:00",
            f"2026-10-{d:02d}T19:00:00-04:00",
            site_id="S-1" if d % 2 else "S-2",
        )
        for d in range(5, 10)
    ]  # 5 x 12 h = 60 h
    inp = make_inputs(
        [contract(overtime={"policy": "weekly", "multiplier": "1.5"})], shifts, sites=[site("S-1"), site("S-2")]
    )
    inv = one(inp)
    cats = by_cat(inv)
    assert sum(ln.quantity for ln in cats["regular_hours"]) == D("40.00")
    assert sum(ln.quantity for ln in cats["overtime_hours"]) == D("20.00")
    # The 40th hour is reached on Thursday 10/08 after 4 h: 8 h OT that day at S-2, 12 h Friday at S-1.
    ot = {ln.site_id: ln for ln in cats["overtime_hours"]}
    assert ot["S-2"].quantity == D("8.00") and ot["S-1"].quantity == D("12.00")
    assert ot["S-1"].unit_price == D("48.00") and ot["S-1"].amount == D("576.00")
    assert inv.subtotal == D("40") * 32 + D("20") * 48


def test_workweek_start_and_contract_timezone():
    # Workweek starts Sunday 00:00: Sunday 10/04 counts in the week of 10/04 -> no overtime in the
    # week starting 10/11 for the next Sunday shift.
    shifts = [
        shift(f"SH-{d}", f"2026-10-{d:02d}T06:00:00-04:00", f"2026-10-{d:02d}T16:00:00-04:00") for d in range(4, 9)
    ]  # Sun..Thu 5 x 10 h = 50 h in one Sunday-week
    inp = make_inputs([contract(overtime={"policy": "weekly", "workweek_start": "sunday"})], shifts)
    total_ot = sum(minutes_of(i, "overtime_hours") for i in draft_invoices(inp, THROUGH))
    assert total_ot == D("10.00")
    inp = make_inputs([contract(overtime={"policy": "weekly"})], shifts)  # Monday start: 10 h + 40 h
    assert sum(minutes_of(i, "overtime_hours") for i in draft_invoices(inp, THROUGH)) == 0


def test_scheduled_basis_bills_schedule_and_falls_back_to_actuals():
    shifts = [
        shift(
            "A",
            "2026-10-06T07:40:00-04:00",
            "2026-10-06T16:20:00-04:00",
            sched=("2026-10-06T08:00:00-04:00", "2026-10-06T16:00:00-04:00"),
        ),
        shift("B", "2026-10-07T08:00:00-04:00", "2026-10-07T12:00:00-04:00", guard="G-2"),
    ]
    inv = one(make_inputs([contract(basis="scheduled")], shifts))
    assert minutes_of(inv, "regular_hours") == D("12.00")


def test_dst_autumn_shift_is_nine_hours():
    inp = make_inputs(
        [contract(cycle="monthly")], [shift("A", "2026-10-31T22:00:00-04:00", "2026-11-01T06:00:00-05:00")]
    )
    invs = draft_invoices(inp, THROUGH)
    assert [minutes_of(i, "regular_hours") for i in invs] == [D("2.00"), D("7.00")]  # split at local midnight
    assert [i.period_start for i in invs] == [date(2026, 10, 1), date(2026, 11, 1)]


def test_split_at_cycle_boundary_weekly():
    inp = make_inputs([contract()], [shift("A", "2026-10-11T20:00:00-04:00", "2026-10-12T04:00:00-04:00")])
    invs = draft_invoices(inp, THROUGH)
    assert [(i.period_start, minutes_of(i, "regular_hours")) for i in invs] == [
        (date(2026, 10, 5), D("4.00")),
        (date(2026, 10, 12), D("4.00")),
    ]
    # Both invoices cite the shift.
    assert all("timesheets:A" in i.covered_refs for i in invs)


def test_cycle_issued_only_when_closed():
    inp = make_inputs([contract()], [shift("A", "2026-10-06T08:00:00-04:00", "2026-10-06T16:00:00-04:00")])
    assert draft_invoices(inp, date(2026, 10, 11)) == []
    assert len(draft_invoices(inp, date(2026, 10, 12))) == 1


@pytest.mark.parametrize(
    ("cycle", "extra", "period", "issue"),
    [
        ("daily", {}, (date(2026, 10, 6), date(2026, 10, 6)), date(2026, 10, 7)),
        ("weekly", {}, (date(2026, 10, 5), date(2026, 10, 11)), date(2026, 10, 12)),
        ("biweekly", {"cycle_anchor": "2026-09-28"}, (date(2026, 9, 28), date(2026, 10, 11)), date(2026, 10, 12)),
        ("monthly", {}, (date(2026, 10, 1), date(2026, 10, 31)), date(2026, 11, 1)),
    ],
)
def test_cycles(cycle, extra, period, issue):
    inp = make_inputs(
        [contract(cycle=cycle, payment_terms_days=15, **extra)],
        [shift("A", "2026-10-06T08:00:00-04:00", "2026-10-06T16:00:00-04:00")],
    )
    inv = one(inp)
    assert (inv.period_start, inv.period_end, inv.issue_date) == (*period, issue)
    assert (inv.due_date - inv.issue_date).days == 15


def test_period_is_contracts_active_part():
    inp = make_inputs(
        [contract(start="2026-10-07", cycle="monthly")],
        [shift("A", "2026-10-08T08:00:00-04:00", "2026-10-08T16:00:00-04:00")],
    )
    inv = one(inp)
    assert (inv.period_start, inv.period_end) == (date(2026, 10, 7), date(2026, 10, 31))


def test_holiday_names_filter_and_observed():
    hol = {"country": "US", "subdiv": "NY", "names": ["Independence Day", "Christmas Day"], "multiplier": "2.0"}
    shifts = [
        shift("XMAS", "2026-12-25T08:00:00-05:00", "2026-12-25T16:00:00-05:00"),
        shift("OBS", "2026-07-03T08:00:00-04:00", "2026-07-03T16:00:00-04:00", guard="G-2"),  # observed
        shift("THX", "2026-11-26T08:00:00-05:00", "2026-11-26T16:00:00-05:00", guard="G-3"),  # not in names
    ]
    invs = draft_invoices(make_inputs([contract(cycle="monthly", holidays=hol)], shifts), date(2027, 1, 31))
    hol_refs = {r for i in invs for ln in i.lines if ln.category == "holiday_hours" for r in ln.source_refs}
    assert hol_refs == {"timesheets:XMAS"}
    xmas = next(ln for i in invs for ln in i.lines if ln.category == "holiday_hours")
    assert (xmas.unit_price, xmas.amount) == (D("64.00"), D("512.00"))
    invs = draft_invoices(
        make_inputs([contract(cycle="monthly", holidays={**hol, "observed": True})], shifts), date(2027, 1, 31)
    )
    hol_refs = {r for i in invs for ln in i.lines if ln.category == "holiday_hours" for r in ln.source_refs}
    assert hol_refs == {"timesheets:XMAS", "timesheets:OBS"}


def test_holiday_extra_dates_and_midnight_split():
    hol = {"dates": ["2026-10-07"], "multiplier": "1.5"}
    inv = one(
        make_inputs([contract(holidays=hol)], [shift("A", "2026-10-06T20:00:00-04:00", "2026-10-07T04:00:00-04:00")])
    )
    assert minutes_of(inv, "regular_hours") == D("4.00") and minutes_of(inv, "holiday_hours") == D("4.00")


def _holiday_ot_inputs(stacking):
    hol = {"dates": ["2026-10-09"], "multiplier": "1.5"}
    shifts = [
        shift(f"SH-{d}", f"2026-10-{d:02d}T06:00:00-04:00", f"2026-10-{d:02d}T18:00:00-04:00") for d in range(5, 10)
    ]  # 60 h; Friday 10/09 (holiday) is all overtime
    return make_inputs(
        [contract(overtime={"policy": "weekly", "multiplier": "1.5"}, holidays=hol, stacking=stacking)], shifts
    )


def test_stacking_max_tie_goes_to_holiday():
    inv = one(_holiday_ot_inputs("max"))
    assert minutes_of(inv, "holiday_hours") == D("12.00")
    assert minutes_of(inv, "overtime_hours") == D("8.00")
    hol = by_cat(inv)["holiday_hours"][0]
    assert hol.unit_price == D("48.00")


def test_stacking_multiply_holiday_overtime():
    inv = one(_holiday_ot_inputs("multiply"))
    line = by_cat(inv)["holiday_overtime_hours"][0]
    assert line.quantity == D("12.00") and line.unit_price == D("72.00")  # 32 x 1.5 x 1.5
    assert line.amount == D("864.00")


def test_daily_and_weekly_no_pyramiding():
    # 4 x 12 h (Mon-Thu) + 8 h Fri = 56 h. Daily: 4 x 4 h = 16 h OT. Daily-regular: 4 x 8 + 8 = 40 -> no weekly OT.
    shifts = [
        shift(f"SH-{d}", f"2026-10-{d:02d}T06:00:00-04:00", f"2026-10-{d:02d}T18:00:00-04:00") for d in range(5, 9)
    ]
    shifts.append(shift("SH-9", "2026-10-09T06:00:00-04:00", "2026-10-09T14:00:00-04:00"))
    inv = one(make_inputs([contract(overtime={"policy": "daily_and_weekly"})], shifts))
    assert minutes_of(inv, "overtime_hours") == D("16.00")
    assert minutes_of(inv, "regular_hours") == D("40.00")
    # Add Saturday 6 h: daily-regular reaches 46 h -> 6 h weekly OT.
    shifts.append(shift("SH-10", "2026-10-10T06:00:00-04:00", "2026-10-10T12:00:00-04:00"))
    inv = one(make_inputs([contract(overtime={"policy": "daily_and_weekly"})], shifts))
    assert minutes_of(inv, "overtime_hours") == D("22.00")


def test_daily_overtime_day_boundary():
    # 20:00-08:00: midnight boundary -> 4 h + 8 h on two days, no OT; shift_start -> 12 h on one day, 4 h OT.
    shifts = [shift("A", "2026-10-06T20:00:00-04:00", "2026-10-07T08:00:00-04:00")]
    inv = one(make_inputs([contract(overtime={"policy": "daily"})], shifts))
    assert minutes_of(inv, "overtime_hours") == 0
    inv = one(make_inputs([contract(overtime={"policy": "daily", "day_boundary": "shift_start"})], shifts))
    assert minutes_of(inv, "overtime_hours") == D("4.00")


def test_california():
    # Mon 14 h: 8 reg, 4 OT, 2 DT. Tue-Sat 5 x 6 h reg (38 h regular total), Sun (7th day) 10 h: 8 OT, 2 DT.
    shifts = [shift("MON", "2026-10-05T06:00:00-04:00", "2026-10-05T20:00:00-04:00")]
    shifts += [
        shift(f"D{d}", f"2026-10-{d:02d}T08:00:00-04:00", f"2026-10-{d:02d}T14:00:00-04:00") for d in range(6, 11)
    ]
    shifts.append(shift("SUN", "2026-10-11T08:00:00-04:00", "2026-10-11T18:00:00-04:00"))
    inv = one(make_inputs([contract(overtime={"policy": "california"})], shifts))
    assert minutes_of(inv, "regular_hours") == D("38.00")
    assert minutes_of(inv, "overtime_hours") == D("12.00")
    assert minutes_of(inv, "double_time_hours") == D("4.00")
    assert by_cat(inv)["double_time_hours"][0].unit_price == D("64.00")


def test_overlapping_shifts_billed_once():
    shifts = [
        shift("A", "2026-10-06T08:00:00-04:00", "2026-10-06T16:00:00-04:00"),
        shift("B", "2026-10-06T14:00:00-04:00", "2026-10-06T18:00:00-04:00"),
    ]
    assert minutes_of(one(make_inputs([contract()], shifts)), "regular_hours") == D("10.00")


def test_unbillable_records_are_covered_not_billed():
    shifts = [
        shift("OK", "2026-10-06T08:00:00-04:00", "2026-10-06T16:00:00-04:00"),
        shift("OPEN", "2026-10-07T08:00:00-04:00", None, guard="G-2"),
        shift("ARMED", "2026-10-07T08:00:00-04:00", "2026-10-07T16:00:00-04:00", guard="G-3", service_type="armed"),
        shift("NOK", "2026-10-08T08:00:00-04:00", "2026-10-08T16:00:00-04:00", guard="G-4", kid=None),
        shift("EXCL", "2026-10-08T08:00:00-04:00", "2026-10-08T16:00:00-04:00", guard="G-5"),
        shift("ZERO", "2026-10-08T08:00:00-04:00", "2026-10-08T08:05:00-04:00", guard="G-6"),
    ]
    inv = one(make_inputs([contract()], shifts, excluded=frozenset({"timesheets:EXCL"})))
    assert minutes_of(inv, "regular_hours") == D("8.00")
    assert {r for ln in inv.lines for r in ln.source_refs} == {"timesheets:OK"}
    assert set(inv.covered_refs) == {
        "timesheets:OK",
        "timesheets:OPEN",
        "timesheets:ARMED",
        "timesheets:NOK",
        "timesheets:ZERO",
    }


def test_site_rate_before_any_site_rate():
    rates = [{"service_type": "unarmed", "rate": "30.00"}, {"service_type": "unarmed", "site_id": "S-2", "rate": "35"}]
    shifts = [
        shift("A", "2026-10-06T08:00:00-04:00", "2026-10-06T09:00:00-04:00"),
        shift("B", "2026-10-06T08:00:00-04:00", "2026-10-06T09:00:00-04:00", guard="G-2", site_id="S-2"),
    ]
    inv = one(make_inputs([contract(rates=rates)], shifts, sites=[site("S-1"), site("S-2")]))
    assert {ln.site_id: ln.unit_price for ln in inv.lines} == {"S-1": D("30.00"), "S-2": D("35.00")}


def test_per_site_grouping_and_separate_terms():
    shifts = [
        shift("A", "2026-10-06T08:00:00-04:00", "2026-10-06T09:00:00-04:00"),
        shift("B", "2026-10-06T08:00:00-04:00", "2026-10-06T09:00:00-04:00", guard="G-2", site_id="S-2"),
    ]
    sites = [site("S-1"), site("S-2")]
    from tests.billing.builders import client

    invs = draft_invoices(
        make_inputs([contract()], shifts, sites=sites, clients=[client(grouping="per_site")]), THROUGH
    )
    assert [(i.site_id, i.subtotal) for i in invs] == [("S-1", D("32.00")), ("S-2", D("32.00"))]
    assert len({i.key for i in invs}) == 2
    # Two contracts, same cycle and terms: one consolidated invoice; other terms: their own invoice.
    k2 = contract("K-2", rates=[{"service_type": "unarmed", "site_id": "S-2", "rate": "40"}])
    shifts[1]["contract_id"] = "K-2"
    invs = draft_invoices(make_inputs([contract(), k2], shifts, sites=sites), THROUGH)
    assert len(invs) == 1 and invs[0].contract_ids == ("K-1", "K-2") and invs[0].subtotal == D("72.00")
    k2 = contract("K-2", rates=[{"service_type": "unarmed", "rate": "40"}], payment_terms_days=10)
    invs = draft_invoices(make_inputs([contract(), k2], shifts, sites=sites), THROUGH)
    assert sorted(i.contract_ids for i in invs) == [("K-1",), ("K-2",)]


def test_taxes_per_row_and_jurisdiction():
    tax = [
        tax_row("US-NY", "0.04", ["regular_hours"], "NY state"),
        tax_row("US-NY", "0.04875", ["regular_hours", "overtime_hours"], "NYC"),
        tax_row("US-NJ", "0.06625", ["regular_hours"], "NJ"),
    ]
    shifts = [
        shift("A", "2026-10-06T08:00:00-04:00", "2026-10-06T09:00:00-04:00"),
        shift("B", "2026-10-06T08:00:00-04:00", "2026-10-06T09:15:00-04:00", guard="G-2", site_id="S-2"),
    ]
    sites = [site("S-1"), site("S-2", jurisdiction="US-NJ")]
    inv = one(
        make_inputs([contract(rates=[{"service_type": "unarmed", "rate": "33.33"}])], shifts, sites=sites, tax=tax)
    )
    taxes = {ln.description: ln.amount for ln in inv.lines if ln.category == "tax"}
    # S-1: 33.33; S-2: 1.25 h x 33.33 = 41.6625 -> 41.66
    assert taxes == {"NJ": D("2.76"), "NY state": D("1.33"), "NYC": D("1.62")}
    assert inv.subtotal == D("74.99") and inv.tax_total == D("5.71") and inv.total == D("80.70")
    assert [ln.category for ln in inv.lines][-3:] == ["tax", "tax", "tax"]


def test_half_up_at_exactly_half_a_cent():
    assert round_half_up(D("0.005")) == D("0.01")
    assert round_half_up(D("-0.005")) == D("-0.01")
    assert round_half_up(D("2.675")) == D("2.68")
    # 1 minute at 0.30/h = 0.005 -> 0.01
    inp = make_inputs(
        [contract(increment_minutes=1, rates=[{"service_type": "unarmed", "rate": "0.30"}])],
        [shift("A", "2026-10-06T08:00:00-04:00", "2026-10-06T08:01:00-04:00")],
    )
    assert one(inp).lines[0].amount == D("0.01")


def test_deterministic_keys_and_order():
    shifts = [
        shift(f"S{i}", f"2026-10-{d:02d}T08:00:00-04:00", f"2026-10-{d:02d}T17:00:00-04:00", guard=f"G{i % 3}")
        for i, d in enumerate(range(1, 30))
    ]
    a = draft_invoices(make_inputs([contract(overtime={"policy": "weekly"})], shifts), THROUGH)
    b = draft_invoices(make_inputs([contract(overtime={"policy": "weekly"})], list(reversed(shifts))), THROUGH)
    assert a == b
    assert [i.issue_date for i in a] == sorted(i.issue_date for i in a)


def test_empty_and_null_typed_marts():
    import polars as pl

    from billing.rating import RatingInputs
    from tests.billing.builders import client

    cols = ["shift_id", "source_ref", "contract_id", "check_in_at", "has_valid_interval"]
    nulls = pl.DataFrame([], schema=cols, orient="row")  # an empty mart read row-wise: every dtype Null
    empty = pl.DataFrame()
    inp = RatingInputs([client()], [site()], [contract()], [], nulls, empty, empty, empty)
    assert draft_invoices(inp, THROUGH) == []
