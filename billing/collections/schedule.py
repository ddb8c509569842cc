"""The calendar of collections (collections.md sections 2-4), as pure functions of the
business day: when auto-pay charges, when it retries, which reminder a day sends, when an
invoice becomes delinquent and when it goes to collections. Offsets are calendar days
from the invoice's due date D; F is the day the first failure of a series was learned.

A series of auto-pay attempts starts with the charge on the due date (`due`) or with a new
payment method (`new_method`); after its first failure, retries follow on F+1, F+3 and F+7
(`retry`) unless a decline is hard. A new payment method starts a new series on the next
day that runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

RETRY_OFFSETS = (1, 3, 7)
REMINDERS = {-3: "reminder_before_due", 0: "reminder_due", 5: "reminder_overdue", 10: "reminder_final"}
DELINQUENT_AFTER_DAYS = 10
COLLECTIONS_AFTER_DAYS = 30
SERIES_STARTS = ("due", "new_method")


@dataclass(frozen=True)
class Attempt:
    """An auto-pay attempt as the rules see it on a given day."""

    attempt_no: int
    attempt_date: date
    reason: str  # due | retry | new_method
    status: str  # pending | unknown | processing | succeeded | failed, as of the day judged
    payment_method: str
    decline: str | None = None  # soft | hard, for a failed charge
    settled_on: date | None = None  # the day its outcome was learned

    def as_of(self, day: date) -> Attempt | None:
        """This attempt as day `day` knew it: not yet made, or still processing."""
        if self.attempt_date > day:
            return None
        if self.status in ("succeeded", "failed") and (self.settled_on is None or self.settled_on > day):
            return Attempt(self.attempt_no, self.attempt_date, self.reason, "processing", self.payment_method)
        return self


def known_on(attempts: list[Attempt], day: date) -> list[Attempt]:
    seen = [attempt.as_of(day) for attempt in sorted(attempts, key=lambda a: a.attempt_no)]
    return [attempt for attempt in seen if attempt is not None]


def current_series(attempts: list[Attempt]) -> list[Attempt]:
    """The attempts since the latest series start (attempts in order)."""
    starts = [n for n, attempt in enumerate(attempts) if attempt.reason in SERIES_STARTS]
    return attempts[starts[-1]:] if starts else attempts


def next_charge(due_date: date, attempts: list[Attempt], method_in_force: str | None, day: date) -> str | None:
    """Why auto-pay charges this invoice on `day` (`due`, `retry`, `new_method`), or None.

    `attempts` are the invoice's auto-pay attempts, except those that provably never reached
    the provider; the invoice has a balance on `day`."""
    known = known_on(attempts, day)
    if method_in_force is None or any(attempt.attempt_date == day for attempt in known):
        return None  # no method, or already charged today (at most one attempt a day)
    if any(attempt.status in ("pending", "unknown", "processing") for attempt in known):
        return None  # frozen until reconciled, or the bank has not answered yet
    if not known:
        return "due" if day >= due_date else None
    last = known[-1]
    if last.status != "failed":
        return None
    if last.payment_method != method_in_force:
        return "new_method"
    if last.decline == "hard":
        return None
    series = current_series(known)
    retries = len(series) - 1
    if retries >= len(RETRY_OFFSETS) or series[0].settled_on is None:
        return None
    return "retry" if day >= series[0].settled_on + timedelta(days=RETRY_OFFSETS[retries]) else None


def retries_exhausted_on(attempts: list[Attempt], day: date) -> date | None:
    """The day the last retry of the current series failed, once every retry has."""
    series = current_series(known_on(attempts, day))
    if len(series) - 1 < len(RETRY_OFFSETS) or series[-1].status != "failed":
        return None
    return series[-1].settled_on


def reminder(due_date: date, day: date, autopay: bool) -> str | None:
    """The reminder template for `day`: D-3, D, D+5, D+10 without auto-pay; for an auto-pay
    invoice the failure notices take their place and only `reminder_final` follows on D+10."""
    offset = (day - due_date).days
    if autopay:
        return REMINDERS[offset] if offset == DELINQUENT_AFTER_DAYS else None
    return REMINDERS.get(offset)


def is_delinquent(due_date: date, day: date, exhausted_on: date | None) -> bool:
    """On D+10 with a balance, or once retries are exhausted, whichever comes first."""
    return day >= due_date + timedelta(days=DELINQUENT_AFTER_DAYS) or (
        exhausted_on is not None and exhausted_on <= day)


def goes_to_collections(due_date: date, day: date) -> bool:
    return day >= due_date + timedelta(days=COLLECTIONS_AFTER_DAYS)


@dataclass(frozen=True)
class Step:
    """What the calendar does next for an open invoice, and on which business day."""

    action: str
    on: date


def upcoming_step(due_date: date, attempts: list[Attempt], method_in_force: str | None, autopay: bool,
                  status: str, reminders_sent: set[str], first_day: date) -> Step | None:
    """The first thing the calendar does for an open invoice on or after `first_day` (the
    first business day not run yet), found by asking this module's rules day by day: the
    finance console shows what the next run will do, from the same rules, never a copy."""
    known = known_on(attempts, first_day)
    if any(attempt.status in ("pending", "unknown", "processing") for attempt in known):
        return Step("waiting for the provider's answer", first_day)
    last_day = max(first_day, due_date + timedelta(days=COLLECTIONS_AFTER_DAYS))
    day = first_day
    while day <= last_day:
        if autopay:
            reason = next_charge(due_date, attempts, method_in_force, day)
            if reason is not None:
                return Step(f"auto-pay charge ({reason.replace('_', ' ')})", day)
        template = reminder(due_date, day, autopay)
        if template is not None and template not in reminders_sent:
            return Step(template.replace("_", " "), day)
        if status not in ("delinquent", "in_collections") and is_delinquent(
                due_date, day, retries_exhausted_on(attempts, day)):
            return Step("becomes delinquent", day)
        if status != "in_collections" and goes_to_collections(due_date, day):
            return Step("goes to collections", day)
        day += timedelta(days=1)
    return None
