"""Contract terms as delivered (the YAML object, money as strings) parsed with every default
of interfaces.md section 3."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache

import holidays as holidays_lib

from billing.rating.money import ONE, dec
from vigil.billing_cycles import CYCLES

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
POLICIES = ("none", "weekly", "daily", "daily_and_weekly", "california")
RECURRING_CATEGORIES = ("monitoring", "equipment_rental", "service_fee")


@dataclass(frozen=True)
class Rate:
    service_type: str
    site_id: str | None
    rate: Decimal
    effective_from: date | None


@dataclass(frozen=True)
class Overtime:
    policy: str = "none"
    weekly_minutes: int = 40 * 60
    daily_minutes: int = 8 * 60
    workweek_start: int = 0  # 0 = Monday
    day_boundary: str = "midnight"
    multiplier: Decimal = Decimal("1.5")
    double_time_multiplier: Decimal = Decimal("2.0")


@dataclass(frozen=True)
class HolidayCalendar:
    country: str | None
    subdiv: str | None
    names: tuple[str, ...] | None
    dates: tuple[tuple[date, str], ...]
    observed: bool
    multiplier: Decimal


@dataclass(frozen=True)
class Event:
    name: str
    start: datetime
    end: datetime
    multiplier: Decimal


@dataclass(frozen=True)
class IncidentPrice:
    flat_fee: Decimal
    included_minutes: int
    hourly_rate: Decimal
    mode: str = "grace"


@dataclass(frozen=True)
class Recurring:
    code: str
    category: str
    site_id: str | None
    amount: Decimal
    effective_from: date | None


@dataclass(frozen=True)
class PerDevice:
    device_type: str
    site_id: str | None
    monthly_fee: Decimal


@dataclass(frozen=True)
class Discount:
    percent: Decimal
    categories: frozenset[str]
    cycles: int


@dataclass(frozen=True)
class HourTiers:
    mode: str
    tiers: tuple[tuple[int, Decimal], ...]  # (from minute of the cycle, rate), ascending


@dataclass(frozen=True)
class Contract:
    contract_id: str
    client_id: str
    start_date: date
    end_date: date
    billing_cycle: str
    cycle_anchor: date | None
    timezone: str
    auto_renew: bool = False
    payment_terms_days: int = 30
    issue_lead_days: int = 5
    increment_minutes: int = 15
    basis: str = "actual"
    schedule_tolerance_hours: Decimal = ONE
    rates: tuple[Rate, ...] = ()
    overtime: Overtime = field(default_factory=Overtime)
    holidays: HolidayCalendar | None = None
    events: tuple[Event, ...] = ()
    stacking: str = "max"
    minimum_shift_minutes: int = 0
    hour_tiers: HourTiers | None = None
    incidents: dict[str, IncidentPrice] = field(default_factory=dict)
    patrol_visit_fee: Decimal | None = None
    recurring: tuple[Recurring, ...] = ()
    per_device: tuple[PerDevice, ...] = ()
    discounts: tuple[Discount, ...] = ()
    first_site_id: str | None = None  # the client's first site (file order): the default zone and tax place

    def rate_for(self, service_type: str, site_id: str | None, day: date) -> Decimal | None:
        """The hourly rate in force on `day`: a rate for the site before one for any site,
        then the latest `effective_from` not after `day`."""
        best: tuple[int, date] | None = None
        found: Decimal | None = None
        for r in self.rates:
            if r.service_type != service_type or (r.site_id is not None and r.site_id != site_id):
                continue
            eff = r.effective_from or date.min
            if eff > day:
                continue
            rank = (1 if r.site_id is not None else 0, eff)
            if best is None or rank > best:
                best, found = rank, r.rate
        return found

    def has_hourly_rate(self, service_type: str) -> bool:
        return any(r.service_type == service_type for r in self.rates)


def to_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip())


def to_instant(value: object) -> datetime:
    """An absolute instant (UTC) from an ISO-8601 timestamp with offset."""
    ts = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if ts.tzinfo is None:
        raise ValueError(f"timestamp without offset: {value!r}")
    return ts.astimezone(UTC)


def _minutes(hours_value: object) -> int:
    return int(dec(hours_value) * 60)


def _opt_date(value: object) -> date | None:
    return None if value in (None, "") else to_date(value)


def parse_contract(row: dict, default_timezone: str) -> Contract:
    """A `dim_contracts` row (terms = the YAML contract object) as typed terms with defaults."""
    raw = row.get("terms") or {}
    t = dict(json.loads(raw) if isinstance(raw, str) else raw)
    cycle = str(row.get("billing_cycle") or t.get("billing_cycle") or "").strip()
    if cycle not in CYCLES:
        raise ValueError(f"contract {row.get('contract_id')}: unknown billing_cycle {cycle!r}")
    inc = int(t.get("increment_minutes", 15))
    if inc <= 0 or 60 % inc:
        raise ValueError(f"contract {row.get('contract_id')}: increment_minutes {inc} does not divide 60")
    ot = t.get("overtime") or {}
    policy = str(ot.get("policy", "none"))
    if policy not in POLICIES:
        raise ValueError(f"contract {row.get('contract_id')}: unknown overtime policy {policy!r}")
    overtime = Overtime(
        policy=policy,
        weekly_minutes=_minutes(ot.get("weekly_hours", 40)),
        daily_minutes=_minutes(ot.get("daily_hours", 8)),
        workweek_start=WEEKDAYS.index(str(ot.get("workweek_start", "monday")).lower()),
        day_boundary=str(ot.get("day_boundary", "midnight")),
        multiplier=dec(ot.get("multiplier", "1.5")),
        double_time_multiplier=dec(ot.get("double_time_multiplier", "2.0")),
    )
    hol = t.get("holidays")
    calendar = None
    if hol:
        extra = []
        for d in hol.get("dates") or []:
            if isinstance(d, dict):
                extra.append((to_date(d.get("date")), str(d.get("name") or "Holiday")))
            else:
                extra.append((to_date(d), "Contract holiday"))
        names = hol.get("names")
        calendar = HolidayCalendar(
            country=hol.get("country"),
            subdiv=hol.get("subdiv"),
            names=tuple(str(n) for n in names) if names is not None else None,
            dates=tuple(extra),
            observed=bool(hol.get("observed", False)),
            multiplier=dec(hol.get("multiplier", "1.5")),
        )
    tiers = None
    if t.get("hour_tiers"):
        ht = t["hour_tiers"]
        tiers = HourTiers(
            mode=str(ht.get("mode", "graduated")),
            tiers=tuple(sorted((_minutes(x.get("from_hours", 0)), dec(x["rate"])) for x in ht.get("tiers") or [])),
        )
    min_hours = t.get("minimum_shift_hours")
    return Contract(
        contract_id=str(row["contract_id"]),
        client_id=str(row["client_id"]),
        start_date=to_date(row.get("start_date") or t.get("start_date")),
        end_date=to_date(row.get("end_date") or t.get("end_date")),
        billing_cycle=cycle,
        cycle_anchor=_opt_date(t.get("cycle_anchor")),
        timezone=str(t.get("timezone") or default_timezone),
        auto_renew=bool(t.get("auto_renew", False)),
        payment_terms_days=int(t.get("payment_terms_days", 30)),
        issue_lead_days=int(t.get("issue_lead_days", 5)),
        increment_minutes=inc,
        basis=str(t.get("basis", "actual")),
        schedule_tolerance_hours=dec(t.get("schedule_tolerance_hours", 1)),
        rates=tuple(
            Rate(str(r["service_type"]), r.get("site_id"), dec(r["rate"]), _opt_date(r.get("effective_from")))
            for r in t.get("rates") or []
        ),
        overtime=overtime,
        holidays=calendar,
        events=tuple(
            Event(str(e.get("name", "event")), to_instant(e["start"]), to_instant(e["end"]), dec(e["multiplier"]))
            for e in t.get("events") or []
        ),
        stacking=str(t.get("stacking", "max")),
        minimum_shift_minutes=_minutes(min_hours) if min_hours not in (None, "") else 0,
        hour_tiers=tiers,
        incidents={
            str(k): IncidentPrice(
                flat_fee=dec(v.get("flat_fee", 0)),
                included_minutes=int(v.get("included_minutes", 0)),
                hourly_rate=dec(v.get("hourly_rate", 0)),
                mode=str(v.get("mode", "grace")),
            )
            for k, v in (t.get("incidents") or {}).items()
        },
        patrol_visit_fee=dec(t["patrol_visit_fee"]) if t.get("patrol_visit_fee") not in (None, "") else None,
        recurring=tuple(
            Recurring(
                str(r.get("code", r.get("category"))),
                str(r["category"]),
                r.get("site_id"),
                dec(r["amount"]),
                _opt_date(r.get("effective_from")),
            )
            for r in t.get("recurring") or []
        ),
        per_device=tuple(
            PerDevice(str(p["device_type"]), p.get("site_id"), dec(p["monthly_fee"])) for p in t.get("per_device") or []
        ),
        discounts=tuple(
            Discount(dec(d["percent"]), frozenset(d.get("categories") or []), int(d.get("cycles", 1)))
            for d in t.get("discounts") or []
        ),
    )


@lru_cache(maxsize=256)
def _library_days(
    country: str, subdiv: str | None, observed: bool, years: tuple[int, ...]
) -> tuple[tuple[date, str], ...]:
    cal = holidays_lib.country_holidays(country, subdiv=subdiv, years=list(years), observed=observed)
    return tuple(sorted(cal.items()))


def holiday_dates(cal: HolidayCalendar | None, years: tuple[int, ...]) -> dict[date, str]:
    """The contract's holiday dates and names: library days (narrowed to `names`, observed
    days only when `observed`), plus extra `dates`."""
    if cal is None:
        return {}
    out: dict[date, str] = {}
    if cal.country:
        wanted = set(cal.names) if cal.names is not None else None
        for day, name in _library_days(cal.country, cal.subdiv, cal.observed, years):
            kept = set()
            for part in name.split("; "):
                observed_part = part.endswith(" (observed)")
                if observed_part and not cal.observed:
                    continue
                kept.add(part[: -len(" (observed)")] if observed_part else part)
            if kept and (wanted is None or kept & wanted):
                out[day] = name
    for day, name in cal.dates:
        if day.year in years:
            out.setdefault(day, name)
    return out
