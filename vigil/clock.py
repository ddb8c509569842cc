"""The business clock (collections.md section 0): which business day it is, and which days
are over.

Day D is over when it has ended in the company's timezone (`company.yaml`, default UTC) and
in the timezone of every site: only then may anything be issued, charged or sent for it.
`VIGIL_TODAY` (interfaces.md section 8) replaces the wall clock the way a payment provider's
test clock does: it is today's business date, and every day up to and including it counts
as over.

The zones are read from the raw documents in force (the newest company file, the newest
contract document per client), not from the dbt marts, so the answer is current right after
an ingest and before dbt has built anything: a site that has just arrived already counts.

The calendar the daily partitions use (first day, timezone) is read here too: Dagster needs
it when the code location loads, so it comes from the warehouse only when that is reachable
without starting anything, otherwise from what the last load saw, otherwise a fixed early
date that holds every plausible day."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vigil import config, db

# A duration in seconds (waits, retry backoff, timings): never an amount of money, which is
# Decimal everywhere (billing/rating/money.py).
Seconds = float

DEFAULT_TIMEZONE = "UTC"
# Partitions start here when nothing better is known: early enough for any data a fresh
# deployment may hold, so no run ever asks for a day the definitions do not have.
FALLBACK_FIRST_DAY = date(2024, 1, 1)


def vigil_today() -> date | None:
    """``VIGIL_TODAY`` as a date, or None when unset."""
    text = os.environ.get("VIGIL_TODAY", "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise config.ConfigError(f"VIGIL_TODAY={text!r} is not a YYYY-MM-DD date") from None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise config.ConfigError(f"{name!r} is not an IANA timezone") from None


@dataclass(frozen=True)
class BusinessClock:
    company_timezone: str = DEFAULT_TIMEZONE
    site_timezones: tuple[str, ...] = ()
    fixed_today: date | None = None

    @property
    def timezones(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.company_timezone, *sorted(self.site_timezones))))

    def end_of(self, day: date) -> datetime:
        """The instant (UTC) day `day` has ended everywhere: the latest local midnight after it."""
        next_day = day + timedelta(days=1)
        return max(datetime.combine(next_day, time(0), tzinfo=_zone(name)).astimezone(UTC)
                   for name in self.timezones)

    def last_zone_of(self, day: date) -> str:
        """The zone where `day` ends last (for messages)."""
        next_day = day + timedelta(days=1)
        return max(self.timezones,
                   key=lambda name: datetime.combine(next_day, time(0), tzinfo=_zone(name)).astimezone(UTC))

    def is_over(self, day: date, now: datetime) -> bool:
        if self.fixed_today is not None:
            return day <= self.fixed_today
        return now >= self.end_of(day)

    def today(self, now: datetime) -> date:
        """The business date: VIGIL_TODAY, or the date in the company's timezone."""
        if self.fixed_today is not None:
            return self.fixed_today
        return now.astimezone(_zone(self.company_timezone)).date()

    def last_day_over(self, now: datetime) -> date:
        """The latest day a scheduled run may process."""
        if self.fixed_today is not None:
            return self.fixed_today
        day = now.astimezone(UTC).date() + timedelta(days=1)  # no zone is more than a day ahead of UTC
        while not self.is_over(day, now):
            day -= timedelta(days=1)
        return day


_ZONES_SQL = """
with company as (
    select document ->> 'timezone' as timezone
    from raw.company_documents
    order by ingested_at desc, document_id desc
    limit 1
),
documents_in_force as (
    select distinct on (client_id, source) document
    from raw.contract_documents
    order by client_id, source, ingested_at desc, document_id desc
)
select
    (select timezone from company),
    array(
        select distinct site ->> 'timezone'
        from documents_in_force
        cross join lateral jsonb_array_elements(coalesce(document -> 'sites', '[]'::jsonb)) as site
        where site ->> 'timezone' is not null
        order by 1
    )
"""


def read_clock(conn) -> BusinessClock:
    """The clock of the data in the warehouse (VIGIL_TODAY applied)."""
    with conn.cursor() as cur:
        cur.execute(_ZONES_SQL)
        company_timezone, site_timezones = cur.fetchone()
    conn.commit()
    return BusinessClock(company_timezone or DEFAULT_TIMEZONE, tuple(site_timezones or ()), vigil_today())


def company_timezone(conn) -> str:
    return read_clock(conn).company_timezone


def first_data_day(conn, timezone: str) -> date | None:
    """The earliest contract start or service date the raw tables know, in `timezone`."""
    with conn.cursor() as cur:
        cur.execute(
            """select least(
                   (select min((contract ->> 'start_date')::date)
                    from raw.contract_documents
                    cross join lateral jsonb_array_elements(coalesce(document -> 'contracts', '[]'::jsonb))
                        as contract),
                   (select (min(check_in_at) at time zone %(tz)s)::date from raw.timesheets),
                   (select (min(response_started_at) at time zone %(tz)s)::date from raw.incidents),
                   (select (min(started_at) at time zone %(tz)s)::date from raw.patrols))""",
            {"tz": timezone},
        )
        first = cur.fetchone()[0]
    conn.commit()
    return first


@dataclass(frozen=True)
class Calendar:
    """What the daily partitions need: the first day and the company's timezone."""

    first_day: date
    timezone: str
    source: str  # warehouse | saved | fallback | empty warehouse

    def end_offset(self, now: datetime | None = None) -> int:
        """Partitions end with the last day over in the company's zone (offset 0); with
        VIGIL_TODAY ahead of that, far enough to include VIGIL_TODAY."""
        fixed = vigil_today()
        if fixed is None:
            return 0
        real_today = (now or datetime.now(UTC)).astimezone(_zone(self.timezone)).date()
        return max(0, (fixed - real_today).days + 1)


def calendar_from(conn) -> Calendar:
    timezone = company_timezone(conn)
    first = first_data_day(conn, timezone)
    if first is None:
        # No data yet: whatever arrives before the next load must find its days.
        return Calendar(FALLBACK_FIRST_DAY, timezone, "empty warehouse")
    return Calendar(first, timezone, "warehouse")


def _saved_path():
    return config.paths().home / "calendar.json"


def load_calendar() -> Calendar:
    """The calendar for loading the code location; never starts a server."""
    params = db.reachable_params()
    if params is not None:
        try:
            import psycopg2

            conn = psycopg2.connect(params.dsn(), connect_timeout=5)
        except psycopg2.Error:
            conn = None
        if conn is not None:
            try:
                calendar = calendar_from(conn)
            except psycopg2.Error:  # not migrated yet
                calendar = None
            finally:
                conn.close()
            if calendar is not None:
                if calendar.source == "warehouse":
                    save_calendar(calendar)
                return calendar
    saved = _saved_path()
    if saved.exists():
        try:
            data = json.loads(saved.read_text())
            return Calendar(date.fromisoformat(data["first_day"]), data["timezone"], "saved")
        except (ValueError, KeyError, TypeError):
            pass
    return Calendar(FALLBACK_FIRST_DAY, DEFAULT_TIMEZONE, "fallback")


def save_calendar(calendar: Calendar) -> None:
    path = _saved_path()
    if not path.parent.exists():
        return
    data = {**asdict(calendar), "first_day": calendar.first_day.isoformat()}
    data.pop("source")
    path.write_text(json.dumps(data))
