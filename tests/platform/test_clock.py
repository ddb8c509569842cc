"""The business clock (vigil/clock.py, collections.md section 0): a day is over when it has
ended in the company's timezone and in every site's; VIGIL_TODAY replaces the wall clock."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from vigil import clock, config

NY = "America/New_York"
LA = "America/Los_Angeles"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_day_is_over_only_when_it_has_ended_in_every_zone():
    business = clock.BusinessClock("UTC", (NY, LA))
    assert business.end_of(date(2026, 10, 5)) == at("2026-10-06T07:00:00")  # midnight in Los Angeles (PDT)
    assert not business.is_over(date(2026, 10, 5), at("2026-10-06T06:59:59"))
    assert business.is_over(date(2026, 10, 5), at("2026-10-06T07:00:00"))
    assert business.last_day_over(at("2026-10-06T02:00:00")) == date(2026, 10, 4)
    assert business.last_day_over(at("2026-10-06T07:00:00")) == date(2026, 10, 5)
    assert business.last_zone_of(date(2026, 10, 5)) == LA


def test_the_company_zone_counts_even_without_sites():
    tokyo_company = clock.BusinessClock("Asia/Tokyo")
    assert tokyo_company.end_of(date(2026, 10, 5)) == at("2026-10-05T15:00:00")
    assert tokyo_company.today(at("2026-10-05T16:00:00")) == date(2026, 10, 6)
    assert clock.BusinessClock().today(at("2026-10-05T16:00:00")) == date(2026, 10, 5)  # default UTC


def test_daylight_saving_changes_when_the_day_ends():
    business = clock.BusinessClock("UTC", (NY,))
    assert business.end_of(date(2026, 10, 31)) == at("2026-11-01T04:00:00")  # EDT
    assert business.end_of(date(2026, 11, 1)) == at("2026-11-02T05:00:00")  # EST


def test_vigil_today_is_the_test_clock(monkeypatch):
    monkeypatch.setenv("VIGIL_TODAY", "2026-10-07")
    assert clock.vigil_today() == date(2026, 10, 7)
    business = clock.BusinessClock("UTC", (LA,), clock.vigil_today())
    now = at("2026-10-06T02:00:00")  # the wall clock no longer matters
    assert business.today(now) == date(2026, 10, 7)
    assert business.last_day_over(now) == date(2026, 10, 7)
    assert business.is_over(date(2026, 10, 7), now) and not business.is_over(date(2026, 10, 8), now)


def test_a_bad_vigil_today_names_the_variable(monkeypatch):
    monkeypatch.setenv("VIGIL_TODAY", "7 Oct")
    with pytest.raises(config.ConfigError, match="VIGIL_TODAY='7 Oct'"):
        clock.vigil_today()


def test_partitions_reach_vigil_today_when_it_is_ahead(monkeypatch):
    calendar = clock.Calendar(date(2026, 1, 1), NY, "warehouse")
    now = at("2026-11-29T12:00:00")
    assert calendar.end_offset(now) == 0
    monkeypatch.setenv("VIGIL_TODAY", "2026-12-03")
    assert calendar.end_offset(now) == 5  # 11-29 is today in New York: 11-29 .. 12-03
