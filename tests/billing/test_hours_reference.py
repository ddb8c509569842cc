"""The interval engine against a minute-by-minute reference of billing-rules.md sections 3 and 4.

The engine counts overtime, double time and tiers as running totals over intervals; the
reference below walks every billed minute in time order and applies each rule literally
(rounding, overlap billed once, daily / weekly / california overtime without pyramiding,
holidays, events, stacking, graduated and volume tiers, rate changes, minimum shift). Both
must give the same minutes per (cycle, site, category, unit price) on random inputs.

Tiers are counted across guards in time order; where two guards' intervals interleave, the
engine orders whole intervals by their start. So tier examples use one guard, where time order
is the same minute by minute and interval by interval."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.rating.hours import rate_hours
from billing.rating.invoices import build_context
from tests.billing.builders import contract, make_inputs, shift

NY = ZoneInfo("America/New_York")
BASE = datetime(2026, 10, 26, 4, 0, tzinfo=UTC)  # Monday 00:00 New York; the autumn DST change is in range
MINUTE = timedelta(minutes=1)
REGULAR, OVERTIME, DOUBLE = 0, 1, 2
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _round15(t: datetime) -> datetime:
    """New York offsets are whole hours: the local minute is the UTC minute."""
    t = t.replace(second=0, microsecond=0)
    past = t.minute % 15
    return t + timedelta(minutes=(15 - past) if 2 * past >= 15 else -past)


def _rate(rates: list[tuple[Decimal, date | None]], day: date) -> Decimal | None:
    in_force = [(eff or date.min, rate) for rate, eff in rates if (eff or date.min) <= day]
    return max(in_force)[1] if in_force else None


def _cycle_start(cycle: str, day: date) -> date:
    return day - timedelta(days=day.weekday()) if cycle == "weekly" else day.replace(day=1)


def _stack(stacking: str, ot: int, holiday: bool, event: Decimal | None, terms: dict) -> tuple[str, Decimal]:
    factors = []
    if holiday:
        factors.append(("holiday_hours", Decimal(terms["holiday_multiplier"])))
    if ot == DOUBLE:
        factors.append(("double_time_hours", Decimal("2.0")))
    if ot == OVERTIME:
        factors.append(("overtime_hours", Decimal("1.5")))
    if event is not None:
        factors.append(("special_event_hours", event))
    if not factors:
        return "regular_hours", Decimal(1)
    if stacking == "multiply":
        product = Decimal(1)
        for _, f in factors:
            product *= f
        return ("holiday_overtime_hours" if holiday and ot != REGULAR else factors[0][0]), product
    best = max(f for _, f in factors)
    return next(name for name, f in factors if f == best), best


def reference(rows: list[dict], terms: dict) -> Counter:
    """Minutes per (cycle start, category, unit price), minute by minute."""
    rates = [
        (Decimal(r["rate"]), date.fromisoformat(r["effective_from"]) if "effective_from" in r else None)
        for r in terms["rates"]
    ]
    policy, boundary = terms["policy"], terms["boundary"]
    daily = 8 * 60 if policy in ("daily", "daily_and_weekly", "california") else None
    weekly = 40 * 60 if policy in ("weekly", "daily_and_weekly", "california") else None
    week_start = WEEKDAYS.index(terms["workweek_start"])
    tiers = terms.get("tiers")
    holidays = {date.fromisoformat(d) for d in terms["holiday_dates"]}
    events = [
        (datetime.fromisoformat(e["start"]), datetime.fromisoformat(e["end"]), Decimal(e["multiplier"]))
        for e in terms["events"]
    ]
    # Billed intervals: rounded, each guard's overlap billed once (time order, ties by shift id).
    spans = sorted(
        ((r["guard_id"], _round15(r["check_in_at"]), r["shift_id"], _round15(r["check_out_at"])) for r in rows),
    )
    billed, latest = [], {}
    for guard, start, shift_id, end in spans:
        start = max(start, latest.get(guard, start))
        latest[guard] = max(latest.get(guard, end), end)
        if end > start:
            billed.append((guard, start, end, shift_id))
    # Every rated minute, with the day and workweek overtime counts in.
    minutes = []
    for guard, start, end, shift_id in billed:
        start_day = start.astimezone(NY).date()
        t = start
        while t < end:
            day = t.astimezone(NY).date()
            rate = _rate(rates, day)
            if rate is not None or tiers:
                day_key = start_day if boundary == "shift_start" else day
                week = day_key - timedelta(days=(day_key.weekday() - week_start) % 7)
                minutes.append((guard, t, shift_id, day, day_key, week, rate))
            t += MINUTE
    worked_days = defaultdict(set)
    for guard, _t, _s, _d, day_key, week, _r in minutes:
        worked_days[(guard, week)].add(day_key)
    day_count, week_count = Counter(), Counter()
    labelled = []
    for guard, t, shift_id, day, day_key, week, rate in sorted(minutes, key=lambda m: (m[0], m[1])):
        seventh = policy == "california" and len(worked_days[(guard, week)]) == 7 and day_key == week + timedelta(6)
        position = day_count[(guard, day_key)]
        day_count[(guard, day_key)] += 1
        if daily is None:
            daily_class = REGULAR
        elif seventh:
            daily_class = OVERTIME if position < daily else DOUBLE
        elif position < daily:
            daily_class = REGULAR
        elif policy == "california" and position >= 12 * 60:
            daily_class = DOUBLE
        else:
            daily_class = OVERTIME
        weekly_class = REGULAR
        if daily_class == REGULAR and weekly is not None:
            weekly_class = OVERTIME if week_count[(guard, week)] >= weekly else REGULAR
            week_count[(guard, week)] += 1
        labelled.append((t, shift_id, day, max(daily_class, weekly_class), rate))
    # Tiers: the cycle's running total of minutes in time order.
    cycle_total = Counter(_cycle_start(terms["cycle"], day) for _t, _s, day, _c, _r in labelled)
    seen = Counter()
    out = Counter()
    for t, _shift_id, day, ot, rate in sorted(labelled, key=lambda m: (m[0], m[1])):
        cycle = _cycle_start(terms["cycle"], day)
        if tiers:
            count = seen[cycle] if tiers["mode"] == "graduated" else cycle_total[cycle]
            seen[cycle] += 1
            reached = [Decimal(x["rate"]) for x in tiers["tiers"] if x["from_hours"] * 60 <= count]
            rate = reached[-1] if reached else rate
        if rate is None:
            continue
        inside = [m for s, e, m in events if s <= t < e]
        category, mult = _stack(terms["stacking"], ot, day in holidays, max(inside) if inside else None, terms)
        out[(cycle, category, rate * mult)] += 1
    for _guard, start, end, _shift_id in billed:
        short = terms["minimum_shift_hours"] * 60 - (end - start) // MINUTE
        day = start.astimezone(NY).date()
        rate = _rate(rates, day)
        if rate is None and tiers:
            rate = Decimal(tiers["tiers"][0]["rate"])
        if short > 0 and rate is not None:
            out[(_cycle_start(terms["cycle"], day), "minimum_shift_adjustment", rate)] += short
    return out


def engine(rows: list[dict], terms: dict) -> Counter:
    extra = {}
    if terms.get("tiers"):
        extra["hour_tiers"] = terms["tiers"]
    if terms["minimum_shift_hours"]:
        extra["minimum_shift_hours"] = terms["minimum_shift_hours"]
    k = contract(
        end="2027-12-31",
        cycle=terms["cycle"],
        stacking=terms["stacking"],
        rates=terms["rates"],
        overtime={
            "policy": terms["policy"],
            "day_boundary": terms["boundary"],
            "workweek_start": terms["workweek_start"],
        },
        holidays={"dates": terms["holiday_dates"], "multiplier": terms["holiday_multiplier"]},
        events=terms["events"],
        **extra,
    )
    inputs = make_inputs([k], rows)
    out = Counter()
    for line in rate_hours(build_context(inputs), inputs.shifts).lines:
        minutes = line.quantity * 60  # quarter hours: quantities are exact
        assert minutes == int(minutes)
        out[(line.cycle.start, line.category, line.unit_price)] += int(minutes)
    return out


def _iso(minutes_after_base: int) -> str:
    return (BASE + timedelta(minutes=minutes_after_base)).isoformat()


shift_st = st.tuples(
    st.integers(min_value=0, max_value=16 * 24 * 60),  # start, minutes after BASE
    st.integers(min_value=0, max_value=16 * 60),  # duration in minutes
    st.integers(min_value=0, max_value=59),  # seconds
    st.sampled_from(["G-1", "G-2", "G-3"]),
)
terms_st = st.fixed_dictionaries(
    {
        "cycle": st.sampled_from(["weekly", "monthly"]),
        "policy": st.sampled_from(["none", "weekly", "daily", "daily_and_weekly", "california"]),
        "boundary": st.sampled_from(["midnight", "shift_start"]),
        "workweek_start": st.sampled_from(["monday", "sunday", "wednesday"]),
        "stacking": st.sampled_from(["max", "multiply"]),
        "rate_change_day": st.one_of(st.none(), st.integers(min_value=0, max_value=15)),
        "holiday_days": st.lists(st.integers(min_value=0, max_value=15), max_size=2),
        "holiday_multiplier": st.sampled_from(["1.5", "2.0"]),
        "events": st.lists(
            st.tuples(
                st.integers(min_value=0, max_value=16 * 24 * 4),
                st.integers(min_value=1, max_value=40),
                st.sampled_from(["1.25", "2.0", "3"]),
            ),
            max_size=2,
        ),
        "minimum_shift_hours": st.sampled_from([0, 0, 4]),
        "tiers": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {
                    "mode": st.sampled_from(["graduated", "volume"]),
                    "tiers": st.sampled_from(
                        [
                            [{"from_hours": 0, "rate": "30.00"}, {"from_hours": 10, "rate": "25.00"}],
                            [{"from_hours": 6, "rate": "27.00"}, {"from_hours": 30, "rate": "24.50"}],
                        ]
                    ),
                }
            ),
        ),
    }
)


def _case(raw: list[tuple], terms: dict) -> tuple[list[dict], dict]:
    day0 = BASE.astimezone(NY).date()
    rates = [{"service_type": "unarmed", "rate": "32.00"}]
    if terms["rate_change_day"] is not None:
        changed = day0 + timedelta(days=terms["rate_change_day"])
        rates.append({"service_type": "unarmed", "rate": "35.00", "effective_from": changed.isoformat()})
    spec = {
        **terms,
        "rates": rates,
        "holiday_dates": [(day0 + timedelta(days=d)).isoformat() for d in terms["holiday_days"]],
        "events": [
            {"name": f"E{i}", "start": _iso(q * 15), "end": _iso((q + n) * 15), "multiplier": m}
            for i, (q, n, m) in enumerate(terms["events"])
        ],
    }
    one_guard = terms["tiers"] is not None
    rows = []
    for i, (start, duration, seconds, guard) in enumerate(raw):
        t = BASE + timedelta(minutes=start, seconds=seconds)
        rows.append(
            shift(
                f"S{i:03d}",
                t.isoformat(),
                (t + timedelta(minutes=duration)).isoformat(),
                guard="G-1" if one_guard else guard,
            )
        )
    return rows, spec


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(shift_st, min_size=1, max_size=14), terms_st)
def test_engine_matches_minute_by_minute_reference(raw, terms):
    rows, spec = _case(raw, terms)
    assert engine(rows, spec) == reference(rows, spec)


def test_known_answer_fifty_hours_in_one_workweek():
    """Both sides on a case worked by hand: 50 h in one week is 40 h regular and 10 h overtime."""
    raw = [(d * 24 * 60 + 8 * 60, 10 * 60, 0, "G-1") for d in range(5)]  # 50 h in one workweek
    terms = {
        "cycle": "weekly",
        "policy": "weekly",
        "boundary": "midnight",
        "workweek_start": "monday",
        "stacking": "max",
        "rate_change_day": None,
        "holiday_days": [],
        "holiday_multiplier": "1.5",
        "events": [],
        "minimum_shift_hours": 0,
        "tiers": None,
    }
    rows, spec = _case(raw, terms)
    expected = reference(rows, spec)
    assert expected == Counter(
        {
            (date(2026, 10, 26), "regular_hours", Decimal(32)): 40 * 60,
            (date(2026, 10, 26), "overtime_hours", Decimal(48)): 10 * 60,
        }
    )
    assert engine(rows, spec) == expected
