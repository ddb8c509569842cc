"""Incidents, patrols, recurring charges, discounts, devices, events, minimum shifts, tiers and
rate changes (billing-rules sections 4-7), with hand-computed numbers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from billing.rating import draft_invoices
from tests.billing.builders import by_cat, contract, device, incident, make_inputs, shift, tax_row, tour

D = Decimal
THROUGH = date(2026, 12, 31)
PRICES = {
    "alarm_response": {"flat_fee": "75.00", "included_minutes": 30, "hourly_rate": "45.00"},
    "medical": {"flat_fee": "50.00", "included_minutes": 0, "hourly_rate": "45.00", "mode": "dispatch"},
}


def qty(invs, category):
    return sum(ln.quantity for i in invs for ln in i.lines if ln.category == category)


def amt(invs, category):
    return sum(ln.amount for i in invs for ln in i.lines if ln.category == category)


def test_incident_grace_within_included_bills_nothing():
    inp = make_inputs(
        [contract(incidents=PRICES)],
        incidents=[incident("I1", "2026-10-06T22:00:00-04:00", "2026-10-06T22:20:00-04:00")],
    )
    assert draft_invoices(inp, THROUGH) == []


def test_incident_grace_extended_without_responder():
    # R = 22:00-22:53 -> 22:00-23:00 (60 min), 30 included -> 30 min extended at 45/h = 22.50, plus 75.00.
    inp = make_inputs(
        [contract(incidents=PRICES)],
        incidents=[incident("I1", "2026-10-06T22:00:00-04:00", "2026-10-06T22:53:00-04:00")],
    )
    (inv,) = draft_invoices(inp, THROUGH)
    c = by_cat(inv)
    assert (c["incident_fee"][0].quantity, c["incident_fee"][0].amount) == (D(1), D("75.00"))
    assert (c["incident_extended_time"][0].quantity, c["incident_extended_time"][0].amount) == (D("0.50"), D("22.50"))
    assert c["incident_fee"][0].source_refs == ("incidents:I1",)


def test_incident_time_inside_responders_shift_is_not_billed_twice():
    # R 22:00-23:30; extended candidate 22:30-23:30; responder on shift at the site until 23:00 -> 30 min.
    shifts = [shift("SH", "2026-10-06T15:00:00-04:00", "2026-10-06T23:00:00-04:00")]
    incs = [
        incident("I1", "2026-10-06T22:00:00-04:00", "2026-10-06T23:30:00-04:00", guard="G-1"),
        incident("I2", "2026-10-06T22:00:00-04:00", "2026-10-06T23:30:00-04:00", guard="G-1", site_id="S-2"),
    ]
    from tests.billing.builders import site

    inp = make_inputs([contract(incidents=PRICES)], shifts, incs, sites=[site("S-1"), site("S-2")])
    (inv,) = draft_invoices(inp, THROUGH)
    ext = {ln.site_id: ln for ln in by_cat(inv)["incident_extended_time"]}
    assert ext["S-1"].amount == D("22.50")  # 30 min
    assert ext["S-2"].amount == D("45.00")  # other site: the shift does not cover it
    assert amt([inv], "regular_hours") == D("256.00")


def test_incident_dispatch_and_unpriced():
    incs = [
        incident("M1", "2026-10-06T10:00:00-04:00", "2026-10-06T10:05:00-04:00", classification="medical"),
        incident("M2", "2026-10-07T10:00:00-04:00", "2026-10-07T10:05:00-04:00", classification="medical"),
        incident("X", "2026-10-07T10:00:00-04:00", "2026-10-07T12:00:00-04:00", classification="fire"),
    ]
    (inv,) = draft_invoices(make_inputs([contract(incidents=PRICES)], incidents=incs), THROUGH)
    fee = by_cat(inv)["incident_fee"]
    assert [(ln.quantity, ln.unit_price, ln.amount) for ln in fee] == [(D(2), D("50.00"), D("100.00"))]
    assert "incident_extended_time" not in by_cat(inv)  # 5 min rounds to 0 with a 15-minute increment
    assert "incidents:X" in inv.covered_refs


def test_patrol_visits_and_patrol_shift_not_billed_hourly():
    tours = [
        tour("T1", "2026-10-06T01:00:00-04:00"),
        tour("T2", "2026-10-06T03:00:00-04:00"),
        tour("T3", "2026-10-06T05:00:00-04:00", scanned=4),
    ]
    shifts = [shift("P", "2026-10-06T00:00:00-04:00", "2026-10-06T08:00:00-04:00", service_type="patrol")]
    (inv,) = draft_invoices(make_inputs([contract(patrol_visit_fee="28.00")], shifts, patrols=tours), THROUGH)
    (ln,) = inv.lines
    assert (ln.category, ln.quantity, ln.unit, ln.amount) == ("patrol_visit", D(2), "visit", D("56.00"))
    assert set(inv.covered_refs) == {"patrols:T1", "patrols:T2", "patrols:T3", "timesheets:P"}


MONITOR = dict(
    cycle="monthly",
    start="2026-03-15",
    end="2027-03-14",
    rates=[],
    recurring=[
        {"code": "MON-GOLD", "category": "monitoring", "site_id": "S-1", "amount": "89.00"},
        {"code": "CAM-RENT", "category": "equipment_rental", "site_id": "S-1", "amount": "35.00"},
    ],
    discounts=[{"percent": "10", "categories": ["monitoring"], "cycles": 3}],
)


def test_recurring_in_advance_with_proration_and_discount():
    tax = [tax_row("US-NY", "0.08875", ["monitoring"])]
    invs = draft_invoices(make_inputs([contract("K-M", **MONITOR)], tax=tax), date(2026, 6, 30))
    assert [(i.kind, i.issue_date, i.due_date) for i in invs] == [
        ("advance", date(2026, 3, 10), date(2026, 3, 15)),
        ("advance", date(2026, 3, 27), date(2026, 4, 1)),
        ("advance", date(2026, 4, 26), date(2026, 5, 1)),
        ("advance", date(2026, 5, 27), date(2026, 6, 1)),
        ("advance", date(2026, 6, 26), date(2026, 7, 1)),
    ]
    first = invs[0]
    assert (first.period_start, first.period_end) == (date(2026, 3, 15), date(2026, 3, 31))
    assert [(ln.category, ln.amount) for ln in first.lines] == [
        ("monitoring", D("48.81")),
        ("discount", D("-4.88")),
        ("equipment_rental", D("19.19")),
        ("tax", D("3.90")),
    ]
    assert first.subtotal == D("63.12") and first.total == D("67.02")
    assert [ln.amount for ln in invs[2].lines] == [D("89.00"), D("-8.90"), D("35.00"), D("7.11")]
    assert "discount" not in by_cat(invs[3])  # 4th cycle: promotion over


def test_recurring_effective_from_change_mid_cycle():
    terms = dict(
        MONITOR,
        discounts=[],
        start="2026-01-01",
        recurring=[
            {"code": "MON", "category": "monitoring", "site_id": "S-1", "amount": "90.00"},
            {
                "code": "MON",
                "category": "monitoring",
                "site_id": "S-1",
                "amount": "120.00",
                "effective_from": "2026-04-16",
            },
        ],
    )
    invs = draft_invoices(make_inputs([contract("K-M", **terms)]), date(2026, 3, 31))
    april = invs[-1]
    assert april.period_start == date(2026, 4, 1)
    assert [ln.amount for ln in april.lines] == [D("45.00"), D("60.00")]


def test_device_monitoring_counts_devices_active_at_cycle_start():
    terms = dict(
        MONITOR,
        recurring=[],
        discounts=[],
        start="2026-10-01",
        per_device=[{"device_type": "camera", "monthly_fee": "10.00"}],
    )
    devs = [
        device("CAM1", "camera", date(2026, 1, 1)),
        device("CAM2", "camera", date(2026, 10, 1)),
        device("CAM3", "camera", date(2026, 10, 2)),
        device("DOOR", "door", date(2026, 1, 1)),
        device("OLD", "camera", date(2025, 1, 1), date(2026, 9, 30)),
    ]
    invs = draft_invoices(make_inputs([contract("K-M", **terms)], devices=devs), date(2026, 10, 31))
    oct_, nov = invs
    assert [(ln.category, ln.quantity, ln.amount, ln.source_refs) for ln in oct_.lines] == [
        ("device_monitoring", D(2), D("20.00"), ("devices:CAM1", "devices:CAM2"))
    ]
    assert nov.lines[0].amount == D("30.00")


def test_special_event_window():
    ev = [
        {
            "name": "Concert",
            "start": "2026-10-06T18:00:00-04:00",
            "end": "2026-10-06T23:00:00-04:00",
            "multiplier": "2.0",
        }
    ]
    (inv,) = draft_invoices(
        make_inputs([contract(events=ev)], [shift("A", "2026-10-06T16:00:00-04:00", "2026-10-06T22:00:00-04:00")]),
        THROUGH,
    )
    c = by_cat(inv)
    assert c["regular_hours"][0].quantity == D("2.00")
    assert (c["special_event_hours"][0].quantity, c["special_event_hours"][0].unit_price) == (D("4.00"), D("64.00"))


def test_minimum_shift_shortfall_not_counted_toward_overtime():
    shifts = [
        shift(f"D{d}", f"2026-10-{d:02d}T06:00:00-04:00", f"2026-10-{d:02d}T19:00:00-04:00") for d in (5, 6, 7)
    ]  # 39 h
    shifts.append(shift("SHORT", "2026-10-08T08:00:00-04:00", "2026-10-08T10:00:00-04:00"))
    inp = make_inputs([contract(minimum_shift_hours=4, overtime={"policy": "weekly"})], shifts)
    (inv,) = draft_invoices(inp, THROUGH)
    c = by_cat(inv)
    assert c["regular_hours"][0].quantity == D("40.00") and c["overtime_hours"][0].quantity == D("1.00")
    adj = c["minimum_shift_adjustment"][0]
    assert (adj.quantity, adj.unit_price, adj.amount, adj.source_refs) == (
        D("2.00"),
        D("32.00"),
        D("64.00"),
        ("timesheets:SHORT",),
    )


def test_hour_tiers_graduated_and_volume():
    tiers = [{"from_hours": 0, "rate": "30.00"}, {"from_hours": 10, "rate": "25.00"}]
    shifts = [
        shift("A", "2026-10-05T08:00:00-04:00", "2026-10-05T16:00:00-04:00"),
        shift("B", "2026-10-06T08:00:00-04:00", "2026-10-06T16:00:00-04:00", guard="G-2"),
    ]
    (inv,) = draft_invoices(make_inputs([contract(hour_tiers={"mode": "graduated", "tiers": tiers})], shifts), THROUGH)
    assert sorted((ln.quantity, ln.unit_price) for ln in inv.lines) == [
        (D("6.00"), D("25.00")),
        (D("10.00"), D("30.00")),
    ]
    assert inv.subtotal == D("450.00")
    (inv,) = draft_invoices(make_inputs([contract(hour_tiers={"mode": "volume", "tiers": tiers})], shifts), THROUGH)
    assert [(ln.quantity, ln.unit_price) for ln in inv.lines] == [(D("16.00"), D("25.00"))]


def test_rate_effective_from_splits_at_site_local_date():
    rates = [
        {"service_type": "unarmed", "rate": "30.00"},
        {"service_type": "unarmed", "rate": "35.00", "effective_from": "2026-10-07"},
    ]
    (inv,) = draft_invoices(
        make_inputs([contract(rates=rates)], [shift("A", "2026-10-06T20:00:00-04:00", "2026-10-07T04:00:00-04:00")]),
        THROUGH,
    )
    assert [(ln.quantity, ln.unit_price, ln.amount) for ln in inv.lines] == [
        (D("4.00"), D("30.00"), D("120.00")),
        (D("4.00"), D("35.00"), D("140.00")),
    ]


def test_discount_on_hours_is_taxed_like_its_line():
    tax = [tax_row("US-NY", "0.10", ["regular_hours"])]
    inp = make_inputs(
        [contract(start="2026-10-05", discounts=[{"percent": "12.5", "categories": ["regular_hours"], "cycles": 1}])],
        [shift("A", "2026-10-06T08:00:00-04:00", "2026-10-06T09:15:00-04:00")],
        tax=tax,
    )
    (inv,) = draft_invoices(inp, THROUGH)
    # 1.25 h x 32 = 40.00; discount -5.00; tax 10% of 35.00 = 3.50
    assert [(ln.category, ln.amount) for ln in inv.lines] == [
        ("regular_hours", D("40.00")),
        ("discount", D("-5.00")),
        ("tax", D("3.50")),
    ]
    assert inv.total == D("38.50")
