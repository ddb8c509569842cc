"""Billing cycles: daily, weekly (Monday-Sunday), biweekly (from cycle_anchor), and the calendar
cycles monthly, quarterly (Jan-Mar, Apr-Jun, Jul-Sep, Oct-Dec), semiannual (Jan-Jun, Jul-Dec)
and annual (the calendar year); the last three are an extension of billing-rules section 8."""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta

from billing.rating.contracts import Contract
from vigil.billing_cycles import CYCLE_MONTHS


@dataclass(frozen=True)
class Cycle:
    start: date  # S, inclusive
    end: date  # inclusive (the cycle is [S, end + 1 day))
    active_start: date  # the contract's active part of the cycle
    active_end: date
    index: int  # 0 = the cycle holding the contract's start date (a partial first cycle counts)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def active_days(self) -> int:
        return (self.active_end - self.active_start).days + 1


def _anchor(c: Contract) -> date:
    """Biweekly anchor; without one, the Monday on or before the contract start (documented)."""
    if c.cycle_anchor is not None:
        return c.cycle_anchor
    return c.start_date - timedelta(days=c.start_date.weekday())


def cycle_bounds(c: Contract, day: date) -> tuple[date, date]:
    if c.billing_cycle == "daily":
        return day, day
    if c.billing_cycle == "weekly":
        s = day - timedelta(days=day.weekday())
        return s, s + timedelta(days=6)
    if c.billing_cycle == "biweekly":
        a = _anchor(c)
        s = a + timedelta(days=14 * ((day - a).days // 14))
        return s, s + timedelta(days=13)
    months = CYCLE_MONTHS[c.billing_cycle]
    s = day.replace(month=1 + (day.month - 1) // months * months, day=1)
    last_month = s.month + months - 1
    return s, date(s.year, last_month, monthrange(s.year, last_month)[1])


def _index(c: Contract, start: date) -> int:
    first, _ = cycle_bounds(c, c.start_date)
    if c.billing_cycle in CYCLE_MONTHS:
        months = (start.year - first.year) * 12 + start.month - first.month
        return months // CYCLE_MONTHS[c.billing_cycle]
    return (start - first).days // {"daily": 1, "weekly": 7, "biweekly": 14}[c.billing_cycle]


def cycle_of(c: Contract, day: date) -> Cycle:
    """The contract's cycle holding `day`; a day outside the contract is clamped to its first
    or last cycle (minutes after midnight of the last day bill with the last cycle)."""
    day = min(max(day, c.start_date), c.end_date)
    s, e = cycle_bounds(c, day)
    return Cycle(s, e, max(s, c.start_date), min(e, c.end_date), _index(c, s))


def cycles_of(c: Contract, until: date) -> list[Cycle]:
    """Every cycle of the contract starting on or before `until`."""
    out = []
    day = c.start_date
    while day <= min(c.end_date, until):
        cy = cycle_of(c, day)
        out.append(cy)
        day = cy.end + timedelta(days=1)
    return out


def arrears_dates(c: Contract, cy: Cycle) -> tuple[date, date]:
    """Issued the day after the cycle ends (not after the contract's last day: the cycle is
    still the cycle), due payment_terms_days later."""
    issue = cy.end + timedelta(days=1)
    return issue, issue + timedelta(days=c.payment_terms_days)


def advance_dates(c: Contract, cy: Cycle) -> tuple[date, date]:
    """Issued issue_lead_days before A (the later of S and the contract start), due on A."""
    a = cy.active_start
    return a - timedelta(days=c.issue_lead_days), a
