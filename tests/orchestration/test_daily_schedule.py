"""The daily schedule's tick itself (dg.build_schedule_context): it runs a business day only
once that day is over in the company's and every site's timezone, or through VIGIL_TODAY;
each day once (run_key = the day), oldest first, and never a day that has already run."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

pytestmark = pytest.mark.integration

INVOICES = dg.AssetKey(["billing", "invoices"])


def _contract(client: str, site: str, timezone: str) -> str:
    return json.dumps({
        "client": {"id": client, "name": client, "email": f"{client.lower()}@example.com"},
        "sites": [{"id": site, "name": site, "timezone": timezone, "tax_jurisdiction": "US"}],
        "contracts": [{"id": f"K-{client}", "start_date": "2026-01-01", "end_date": "2026-12-31",
                       "billing_cycle": "weekly"}],
    })


def _declare(conn, client: str, site: str, timezone: str) -> None:
    with conn, conn.cursor() as cur:
        cur.execute("""insert into raw.contract_documents (client_id, source_file, content_hash, document)
                       values (%s, 'contracts/test.yaml', %s, %s::jsonb)""",
                    (client, f"{client}-{timezone}", _contract(client, site, timezone)))


@pytest.fixture(scope="module")
def schedule(warehouse):
    """The schedule from definitions loaded on this module's warehouse (first data 2026-01-01)."""
    from vigil import db

    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("truncate raw.contract_documents, raw.company_documents")
    _declare(conn, "C-NY", "S-NY", "America/New_York")
    conn.close()
    from orchestration.definitions import reload

    reload()
    return importlib.import_module("orchestration.defs.billing.schedules").daily_billing_schedule


@pytest.fixture
def instance():
    """A fresh instance in which every day before 2026-10-05 has already been billed."""
    with dg.instance_for_test() as fresh:
        day = date(2026, 9, 20)
        while day < date(2026, 10, 5):
            fresh.report_runless_asset_event(dg.AssetMaterialization(INVOICES, partition=day.isoformat()))
            day += timedelta(days=1)
        yield fresh


def _tick(schedule, instance, when: str):
    from orchestration.lib.resources import WarehouseResource

    # entered and exited: the context enters the instance it is given, and an instance left
    # entered stays the current one for every later definitions load of the session
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime.fromisoformat(when).replace(tzinfo=UTC),
        resources={"warehouse": WarehouseResource()},
    ) as context:
        return schedule(context)


def _days(result) -> list[str]:
    if isinstance(result, dg.SkipReason):
        return []
    assert all(request.run_key == request.partition_key for request in result)
    return [request.partition_key for request in result]


def test_new_york_day_runs_only_after_midnight_in_new_york(schedule, instance):
    early = _tick(schedule, instance, "2026-10-06T02:00:00")  # 22:00 on 10-05 in New York
    assert isinstance(early, dg.SkipReason), early
    assert "2026-10-04 is the last day over" in early.skip_message
    assert _days(_tick(schedule, instance, "2026-10-06T04:10:00")) == ["2026-10-05"]


def test_a_day_already_billed_is_not_requested_again(schedule, instance):
    instance.report_runless_asset_event(dg.AssetMaterialization(INVOICES, partition="2026-10-05"))
    assert _days(_tick(schedule, instance, "2026-10-06T05:10:00")) == []
    assert _days(_tick(schedule, instance, "2026-10-07T05:10:00")) == ["2026-10-06"]


def test_missed_days_run_oldest_first_within_the_look_back(schedule, instance):
    assert _days(_tick(schedule, instance, "2026-10-09T04:10:00")) == [
        "2026-10-05", "2026-10-06", "2026-10-07", "2026-10-08"]
    far_later = _days(_tick(schedule, instance, "2026-10-30T04:10:00"))
    assert far_later == [f"2026-10-{day}" for day in range(23, 30)]  # the last 7 days only


def test_a_los_angeles_site_holds_the_day_until_midnight_there(schedule, instance, warehouse):
    from vigil import db

    conn = db.connect()
    _declare(conn, "C-LA", "S-LA", "America/Los_Angeles")
    try:
        assert _days(_tick(schedule, instance, "2026-10-06T04:10:00")) == []
        assert _days(_tick(schedule, instance, "2026-10-06T06:59:00")) == []
        assert _days(_tick(schedule, instance, "2026-10-06T07:10:00")) == ["2026-10-05"]
    finally:
        with conn, conn.cursor() as cur:
            cur.execute("delete from raw.contract_documents where client_id = 'C-LA'")
        conn.close()


def test_vigil_today_runs_through_that_day(schedule, instance, monkeypatch):
    monkeypatch.setenv("VIGIL_TODAY", "2026-10-07")
    assert _days(_tick(schedule, instance, "2026-10-06T02:00:00")) == ["2026-10-05", "2026-10-06", "2026-10-07"]
