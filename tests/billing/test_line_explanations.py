"""Hour lines' explanations cite their first workweeks and days (billing/rating/hours.py). The
dates go through the lines' group-by as bits of an Int64 when the data spans under 63 days and
as sorted lists otherwise; both must give the same lines."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from billing.rating import draft_invoices, hours
from tests.billing.builders import contract, make_inputs, shift

THROUGH = date(2026, 12, 31)


def _inputs():
    terms = {
        "overtime": {"policy": "weekly", "multiplier": "1.5"},
        "holidays": {"country": "US", "dates": ["2026-10-15"], "multiplier": "2.0"},
        "events": [
            {"name": "Game", "start": "2026-10-10T18:00:00-04:00", "end": "2026-10-10T23:00:00-04:00",
             "multiplier": "3.0"}
        ],
    }
    shifts = []
    for offset in range(31):  # every day of October 2026, 10 hours: weekly overtime each week
        day = date(2026, 10, 1) + timedelta(days=offset)
        shifts.append(shift(f"D{offset}", f"{day}T13:00:00-04:00", f"{day}T23:00:00-04:00"))
    return make_inputs([contract(cycle="monthly", **terms)], shifts)


def _lines(invoices):
    return [
        (ln.category, ln.quantity, ln.amount, ln.explanation, tuple(ln.source_refs)) for i in invoices for ln in i.lines
    ]


def test_explanations_cite_the_first_workweeks_and_days():
    lines = {category: text for category, _, _, text, _ in _lines(draft_invoices(_inputs(), THROUGH))}
    # October 2026 starts on a Thursday: five Monday workweeks, four shown and "..." for more.
    assert "workweek 2026-09-28, 2026-10-05, 2026-10-12, 2026-10-19 ... (monday" in lines["regular_hours"]
    # The first week has 40 hours: overtime starts in the second, four workweeks and no "...".
    assert "workweek 2026-10-05, 2026-10-12, 2026-10-19, 2026-10-26 (monday" in lines["overtime_hours"]
    assert "holiday Columbus Day, Contract holiday on 2026-10-12, 2026-10-15, stacking max" in lines["holiday_hours"]
    assert "special event Game, stacking max" in lines["special_event_hours"]


def test_date_bits_and_sorted_lists_give_the_same_lines(monkeypatch):
    as_bits = _lines(draft_invoices(_inputs(), THROUGH))
    # A one-bit table makes every span too long for bits: the group-by aggregates sorted lists.
    monkeypatch.setattr(hours, "DATE_BIT", pl.Series([1], dtype=pl.Int64))
    as_lists = _lines(draft_invoices(_inputs(), THROUGH))
    assert as_bits == as_lists and len(as_bits) >= 4
