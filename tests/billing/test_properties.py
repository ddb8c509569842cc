"""Property tests: conservation of billed minutes, determinism, DST, half-up rounding."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.rating import RatingInputs, draft_invoices
from billing.rating.money import round_half_up
from tests.billing.builders import contract, make_inputs, shift

HOUR_CATEGORIES = {
    "regular_hours",
    "overtime_hours",
    "double_time_hours",
    "holiday_hours",
    "holiday_overtime_hours",
    "special_event_hours",
}
BASE = datetime(2026, 10, 20, 0, 0, tzinfo=UTC)  # spans the US autumn DST change (2026-11-01)
THROUGH = date(2027, 1, 31)


def _round(t: datetime) -> datetime:
    """Reference rounding for a whole-hour-offset zone: 15-minute increments, tie up."""
    t = t.replace(second=0, microsecond=0)
    r = t.minute % 15
    return t + timedelta(minutes=(15 - r) if 2 * r >= 15 else -r)


def _expected_minutes(rows: list[dict]) -> int:
    total = 0
    by_guard: dict[str, list[tuple[datetime, datetime]]] = {}
    for r in rows:
        s, e = _round(r["check_in_at"]), _round(r["check_out_at"])
        if e > s:
            by_guard.setdefault(r["guard_id"], []).append((s, e))
    for spans in by_guard.values():
        spans.sort()
        cur_s, cur_e = spans[0]
        for s, e in spans[1:]:
            if s > cur_e:
                total += int((cur_e - cur_s).total_seconds() // 60)
                cur_s, cur_e = s, e
            else:
                cur_e = max(cur_e, e)
        total += int((cur_e - cur_s).total_seconds() // 60)
    return total


shift_st = st.tuples(
    st.sampled_from(["G-1", "G-2", "G-3"]),
    st.integers(min_value=0, max_value=20 * 24 * 60),  # start, minutes after BASE
    st.integers(min_value=0, max_value=18 * 60),  # duration in minutes
    st.integers(min_value=0, max_value=59),  # seconds
)
terms_st = st.fixed_dictionaries(
    {
        "cycle": st.sampled_from(["daily", "weekly", "biweekly", "monthly"]),
        "policy": st.sampled_from(["none", "weekly", "daily", "daily_and_weekly", "california"]),
        "stacking": st.sampled_from(["max", "multiply"]),
        "holiday": st.booleans(),
        "boundary": st.sampled_from(["midnight", "shift_start"]),
    }
)


def _inputs(raw, terms) -> tuple[RatingInputs, list[dict]]:
    rows = []
    for i, (guard, start, dur, sec) in enumerate(raw):
        s = BASE + timedelta(minutes=start, seconds=sec)
        rows.append(shift(f"S{i:03d}", s.isoformat(), (s + timedelta(minutes=dur)).isoformat(), guard=guard))
    extra = {"cycle_anchor": "2026-10-19"} if terms["cycle"] == "biweekly" else {}
    if terms["holiday"]:
        extra["holidays"] = {
            "country": "US",
            "subdiv": "NY",
            "names": ["Veterans Day"],
            "dates": ["2026-10-31"],
            "multiplier": "1.5",
        }
    k = contract(
        cycle=terms["cycle"],
        stacking=terms["stacking"],
        overtime={"policy": terms["policy"], "day_boundary": terms["boundary"]},
        **extra,
    )
    return make_inputs([k], rows), rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(shift_st, min_size=1, max_size=25), terms_st)
def test_billed_minutes_conserved_across_categories(raw, terms):
    inputs, rows = _inputs(raw, terms)
    invs = draft_invoices(inputs, THROUGH)
    billed = sum(ln.quantity for i in invs for ln in i.lines if ln.category in HOUR_CATEGORIES)
    assert billed * 60 == _expected_minutes(rows)
    for inv in invs:
        assert inv.subtotal == sum(ln.amount for ln in inv.lines if ln.category != "tax")
        assert inv.total == inv.subtotal + inv.tax_total
        assert all(ln.amount == ln.amount.quantize(Decimal("0.01")) for ln in inv.lines)
        for ln in inv.lines:
            exact = ln.unit_price * ln.quantity  # quarter hours: quantity is exact
            assert ln.amount == exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(shift_st, min_size=1, max_size=25), terms_st, st.randoms(use_true_random=False))
def test_deterministic_and_order_independent(raw, terms, rnd: random.Random):
    inputs, rows = _inputs(raw, terms)
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    other = RatingInputs(**{**inputs.__dict__, "shifts": pl.DataFrame(shuffled, schema=inputs.shifts.schema)})
    first = draft_invoices(inputs, THROUGH)
    assert first == draft_invoices(other, THROUGH)
    assert first == draft_invoices(inputs, THROUGH)
    assert len({i.key for i in first}) == len(first)


@given(st.integers(min_value=0, max_value=23 * 60), st.integers(min_value=15, max_value=20 * 60))
@settings(max_examples=50, deadline=None)
def test_elapsed_time_across_dst_changes(start_min, dur):
    # Local times around both 2026 US changes; billed hours are real elapsed time.
    for day in ("2026-03-07", "2026-10-31"):
        s = datetime.fromisoformat(f"{day}T00:00:00").replace(tzinfo=None)
        from zoneinfo import ZoneInfo

        local = (s + timedelta(minutes=start_min)).replace(tzinfo=ZoneInfo("America/New_York"))
        start = _round(local.astimezone(UTC))
        end = start + timedelta(minutes=(dur // 15) * 15)
        inp = make_inputs([contract(cycle="monthly")], [shift("A", start.isoformat(), end.isoformat())])
        invs = draft_invoices(inp, THROUGH)
        assert sum(ln.quantity for i in invs for ln in i.lines) * 60 == (dur // 15) * 15


def test_autumn_dst_22_to_06_is_nine_hours():
    inp = make_inputs(
        [contract(cycle="monthly")], [shift("A", "2026-10-31T22:00:00-04:00", "2026-11-01T06:00:00-05:00")]
    )
    assert sum(ln.quantity for i in draft_invoices(inp, THROUGH) for ln in i.lines) == Decimal("9.00")
    # and spring forward: 22:00 -> 06:00 is 7 hours
    inp = make_inputs(
        [contract(cycle="monthly")], [shift("A", "2026-03-07T22:00:00-05:00", "2026-03-08T06:00:00-04:00")]
    )
    assert sum(ln.quantity for i in draft_invoices(inp, THROUGH) for ln in i.lines) == Decimal("7.00")


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_half_up_at_exactly_half_a_cent(n):
    value = Decimal(n) / 100 + Decimal("0.005") * (1 if n >= 0 else -1)
    rounded = round_half_up(value)
    assert abs(rounded) == abs(Decimal(n) / 100) + Decimal("0.01")  # away from zero
    assert round_half_up(Decimal(n) / 1000) == (Decimal(n) / 1000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
