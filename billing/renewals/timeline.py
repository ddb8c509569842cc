"""The renewal timeline (collections.md section 7) as pure date rules: which step falls on
which business day, what is due on a given day, and how long a renewed contract runs.

Steps are calendar days relative to the contract's `end_date` E: the offer on E - 90, the
reminder on E - 60, the sales alert (or, with `auto_renew`, the auto-renew notice) on
E - 30, the renewal or expiry on E + 1. A day is judged "as if every day ran in order": a
step is due on its own day, or on the first day processed after it (a missed daily run is
caught up), never twice. A step whose reason has gone is skipped: no reminder when the
offer itself went out after E - 60 (it is fresh), no alert on the day of the offer, nothing
before the offer, nothing once the client has decided (as of that day)."""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta

OFFER_DAYS = 90
REMINDER_DAYS = 60
ALERT_DAYS = 30
DECIDED = ("accepted", "declined", "auto_renewed", "expired")


def add_months(day: date, months: int) -> date:
    """`day` moved by whole calendar months, the day clamped to the target month's length."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


@dataclass(frozen=True)
class Term:
    """A contract's length: whole calendar months when it has them, else days."""

    months: int | None = None
    days: int | None = None

    def times(self, factor: int) -> Term:
        return Term(self.months * factor, None) if self.months is not None else Term(None, self.days * factor)

    def period_after(self, end_date: date) -> tuple[date, date]:
        """The renewed contract's first and last day: from the day after `end_date`, this long."""
        start = end_date + timedelta(days=1)
        if self.months is not None:
            return start, add_months(start, self.months) - timedelta(days=1)
        return start, start + timedelta(days=self.days - 1)

    def describe(self) -> str:
        if self.months is not None:
            return f"{self.months} month{'s' if self.months != 1 else ''}"
        return f"{self.days} day{'s' if self.days != 1 else ''}"

    def to_dict(self) -> dict:
        return {"months": self.months} if self.months is not None else {"days": self.days}

    @staticmethod
    def from_dict(data: dict) -> Term:
        return Term(data.get("months"), data.get("days"))


def term_of(start: date, end: date) -> Term:
    """Whole months when the day after `end` is `start` moved by whole months (2026-01-01 ..
    2026-12-31 is 12 months, 2027-03-01 .. 2028-02-29 too), otherwise the count of days."""
    after = end + timedelta(days=1)
    months = (after.year - start.year) * 12 + after.month - start.month
    if months > 0 and add_months(start, months) == after:
        return Term(months=months)
    return Term(days=(end - start).days + 1)


@dataclass(frozen=True)
class Timeline:
    end_date: date

    @property
    def offer_day(self) -> date:
        return self.end_date - timedelta(days=OFFER_DAYS)

    @property
    def reminder_day(self) -> date:
        return self.end_date - timedelta(days=REMINDER_DAYS)

    @property
    def alert_day(self) -> date:
        return self.end_date - timedelta(days=ALERT_DAYS)

    @property
    def final_day(self) -> date:
        return self.end_date + timedelta(days=1)


def offer_due(day: date, start_date: date, end_date: date) -> bool:
    """A contract not offered yet: from its offer day (or its start, for a contract shorter
    than 90 days) through its last day."""
    return max(Timeline(end_date).offer_day, start_date) <= day <= end_date


@dataclass(frozen=True)
class State:
    """What a renewal row records (billing.renewals)."""

    end_date: date
    auto_renew: bool
    offered_on: date
    reminded_on: date | None = None
    sales_alerted_on: date | None = None
    auto_notice_on: date | None = None
    decision: str | None = None
    decided_on: date | None = None
    decision_sent_on: date | None = None

    def decided_by(self, day: date) -> bool:
        """Decided as of `day` (a decision dated later does not exist yet for that day)."""
        return self.decision is not None and self.decided_on is not None and self.decided_on <= day


def steps_due(day: date, state: State) -> list[str]:
    """What `day` does to an offered contract, in order: `reminder`, `sales_alert` or
    `auto_notice`, `auto_renew` or `expire` (E + 1 without a decision), `decision_message`
    (renewal_confirmation or renewal_declined for a decision dated on or before `day`)."""
    timeline = Timeline(state.end_date)
    if state.decided_by(day):
        if state.decision in ("accepted", "declined", "auto_renewed") and state.decision_sent_on is None:
            return ["decision_message"]
        return []
    if day < state.offered_on:
        return []
    if day > state.end_date:
        return ["auto_renew" if state.auto_renew else "expire"]
    due = []
    if (state.reminded_on is None and state.offered_on < timeline.reminder_day <= day):
        due.append("reminder")
    if timeline.alert_day <= day and state.offered_on < day:
        if state.auto_renew and state.auto_notice_on is None:
            due.append("auto_notice")
        elif not state.auto_renew and state.sales_alerted_on is None:
            due.append("sales_alert")
    return due


def status(state: State, as_of: date | None = None) -> str:
    """The export's status (interfaces.md section 5): the decision, else the latest step."""
    if state.decision is not None and (as_of is None or state.decided_by(as_of)):
        return state.decision
    if state.sales_alerted_on is not None and (as_of is None or state.sales_alerted_on <= as_of):
        return "sales_alerted"
    if state.reminded_on is not None and (as_of is None or state.reminded_on <= as_of):
        return "reminded"
    return "offered"
