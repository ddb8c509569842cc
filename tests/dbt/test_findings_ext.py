"""dbt build on a second hand-made raw data set: records reported by two feeds are one
record, and the [ext] findings of billing-rules section 10 (overtime_without_incident,
device_fee_without_events, incident_response_gap, ambiguous_local_time) as defined in
docs/validation.md."""

from __future__ import annotations

import json

import psycopg2
import psycopg2.extras
import pytest

from tests.dbt.test_dbt_build import _hash, finding_id, run_dbt

pytestmark = pytest.mark.integration

DOCUMENT = {
    "client": {"id": "C-1", "name": "Harbor", "email": "ap@harbor.example"},
    "sites": [
        {"id": "S-1", "name": "Gate", "timezone": "America/New_York", "tax_jurisdiction": "US-NY"},
        {"id": "S-2", "name": "Depot", "timezone": "America/New_York", "tax_jurisdiction": "US-NY"},
    ],
    "contracts": [
        {
            "id": "K-G", "start_date": "2026-01-01", "end_date": "2026-12-31", "billing_cycle": "weekly",
            "rates": [{"service_type": "unarmed", "rate": "30.00"}],
            "overtime": {"policy": "daily_and_weekly", "daily_hours": 8, "weekly_hours": 40},
            "incidents": {"alarm_response": {"flat_fee": "75.00", "included_minutes": 30, "hourly_rate": "45.00"}},
        },
        {
            "id": "K-M", "start_date": "2026-01-01", "end_date": "2026-12-31", "billing_cycle": "monthly",
            "per_device": [{"device_type": "camera", "site_id": "S-1", "monthly_fee": "10.00"}],
        },
    ],
}

# (record_id, guard, site, check_in, check_out)
SHIFTS = [
    # daily overtime: 10 h on Mon 03-02, no incident -> 2 h overtime
    ("SH-1", "G-1", "S-1", "2026-03-02T08:00-05:00", "2026-03-02T18:00-05:00"),
    # 11 h on Tue 03-03, but the (vendor) incident GEN-A1 happened at S-1 that day
    ("SH-2", "G-2", "S-1", "2026-03-03T08:00-05:00", "2026-03-03T19:00-05:00"),
    # weekly overtime: 5 x 8 h, then 4 h on Saturday (after the 40th hour)
    *[(f"SH-3-{d}", "G-3", "S-1", f"2026-03-{d:02d}T08:00-04:00", f"2026-03-{d:02d}T16:00-04:00")
      for d in range(9, 14)],
    ("SH-3-14", "G-3", "S-1", "2026-03-14T08:00-04:00", "2026-03-14T12:00-04:00"),
    # two sites in one day: the day's last 2 h (the overtime) are at S-2
    ("SH-4A", "G-4", "S-1", "2026-03-16T08:00-04:00", "2026-03-16T14:00-04:00"),
    ("SH-4B", "G-4", "S-2", "2026-03-16T14:00-04:00", "2026-03-16T18:00-04:00"),
    # the responder of IN-GAP leaves at 10:15, the response lasts to 11:00
    ("SH-5", "G-5", "S-1", "2026-03-20T06:00-04:00", "2026-03-20T10:15-04:00"),
    # the responder of IN-OK is on shift all along
    ("SH-7", "G-7", "S-1", "2026-03-23T08:00-04:00", "2026-03-23T12:00-04:00"),
]

# (source, record_id, site, classification, started, ended, responder, source_ref column)
INCIDENTS = [
    ("genetec", "A-1", "S-1", "alarm_response", "2026-03-03T09:00-05:00", "2026-03-03T09:20-05:00", "G-2",
     "genetec:alarm/A-1"),
    # the generic feed reports the same alarm: dropped
    ("incidents", "IN-1", "S-1", "alarm_response", "2026-03-03T09:00-05:00", "2026-03-03T09:20-05:00", "G-2",
     "genetec:alarm/A-1"),
    # a generic incident citing an alarm no vendor delivered: kept
    ("incidents", "IN-2", "S-1", "alarm_response", "2026-03-05T09:00-05:00", "2026-03-05T09:10-05:00", None,
     "genetec:alarm/A-404"),
    ("incidents", "IN-GAP", "S-1", "alarm_response", "2026-03-20T10:00-04:00", "2026-03-20T11:00-04:00", "G-5",
     None),
    ("incidents", "IN-OFF", "S-1", "alarm_response", "2026-03-21T10:00-04:00", "2026-03-21T10:10-04:00", "G-6",
     None),
    ("incidents", "IN-OK", "S-1", "alarm_response", "2026-03-23T10:00-04:00", "2026-03-23T11:00-04:00", "G-7",
     None),
]

# (source, record_id, site, type, active_from, active_to, vendor_ref)
DEVICES = [
    ("genetec", "GUID-1", "S-1", "camera", "2026-01-01", None, "GUID-1"),
    # the generic inventory lists the same camera (ids compared case-insensitively): dropped
    ("devices", "D-1", "S-1", "camera", "2026-01-01", None, "genetec:guid-1"),
    # a camera with no events, billed in March only
    ("devices", "D-2", "S-1", "camera", "2026-01-01", "2026-03-31", "milestone:CAM-9"),
]


def plant(conn) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(
            """insert into raw.contract_documents (client_id, source_file, content_hash, document, ingested_at)
               values ('C-1', 'contracts/C-1.yaml', %s, %s, '2026-01-01T00:00Z')""",
            (_hash(DOCUMENT), psycopg2.extras.Json(DOCUMENT)),
        )
        for line, (rid, guard, site, cin, cout) in enumerate(SHIFTS, start=2):
            cur.execute(
                """insert into raw.timesheets (source, record_id, guard_id, site_id, service_type, check_in_at,
                       check_out_at, source_file, source_line, content_hash)
                   values ('timesheets', %s, %s, %s, 'unarmed', %s, %s, 't.csv', %s, %s)""",
                (rid, guard, site, cin, cout, line, _hash(rid, guard, site, cin, cout)),
            )
        for line, row in enumerate(INCIDENTS, start=2):
            cur.execute(
                """insert into raw.incidents (source, record_id, site_id, classification, response_started_at,
                       response_ended_at, responder_guard_id, source_ref, source_file, source_line, content_hash)
                   values (%s, %s, %s, %s, %s, %s, %s, %s, 'i.csv', %s, %s)""",
                (*row, line, _hash(*row)),
            )
        for line, row in enumerate(DEVICES, start=2):
            cur.execute(
                """insert into raw.devices (source, record_id, site_id, device_type, active_from, active_to,
                       vendor_ref, source_file, source_line, content_hash)
                   values (%s, %s, %s, %s, %s, %s, %s, 'd.csv', %s, %s)""",
                (*row, line, _hash(*row)),
            )
        # GUID-1 reports an event every day from 2026-02-25 to 2026-11-10
        cur.execute(
            """insert into raw.device_events (source, record_id, site_id, device_id, event_type, occurred_at,
                   source_file, source_line, content_hash)
               select 'genetec', 'EV-' || to_char(d, 'YYYYMMDD'), 'S-1', 'GUID-1', 'motion', d + interval '15 hours',
                      'e.json', row_number() over (order by d), md5(d::text)
               from generate_series('2026-02-25'::timestamptz, '2026-11-10'::timestamptz, interval '1 day') as d"""
        )
        # an AMAG transaction in the fall-back hour, flagged by the connector
        cur.execute(
            """insert into raw.device_events (source, record_id, site_id, device_id, event_type, occurred_at,
                   extra, source_file, source_line, content_hash)
               values ('amag', '88000042', 'S-1', null, 'door_forced', '2026-11-01T05:30Z',
                       '{"ambiguous_local_time": true, "local_time": "2026-11-01 01:30:00.000",
                         "site_timezone": "America/New_York"}', 'amag/a.csv', 2, 'h-amag')"""
        )


@pytest.fixture(scope="module")
def built(warehouse, tmp_path_factory):
    from vigil import db

    conn = db.connect()
    try:
        plant(conn)
    finally:
        conn.close()
    return run_dbt(warehouse, tmp_path_factory.mktemp("dbt"), "build")


@pytest.fixture(scope="module")
def query(built, warehouse):
    conn = psycopg2.connect(warehouse.dsn())
    conn.autocommit = True

    def run(sql: str, *args):
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(sql, args)
            return [dict(r) for r in cur.fetchall()]

    yield run
    conn.close()


def test_build_succeeds(built):
    assert built.exception is None, built.exception
    failures = [(r.node.name, str(r.status), r.message) for r in built.result
                if str(r.status) not in ("success", "pass")]
    assert built.success and failures == [], failures


def test_incident_reported_by_two_feeds_is_one(query):
    refs = {r["source_ref"] for r in query("select source_ref from marts.fct_incident_responses")}
    assert "genetec:A-1" in refs and "incidents:IN-1" not in refs
    assert "incidents:IN-2" in refs  # cites an alarm no vendor delivered


def test_device_reported_by_two_feeds_is_one(query):
    refs = {r["source_ref"] for r in query("select source_ref from marts.fct_devices")}
    assert refs == {"genetec:GUID-1", "devices:D-2"}
    pairs = query("select * from intermediate.int_cross_feed_duplicates order by record_type")
    assert [(p["record_type"], p["dropped_source_ref"], p["kept_source_ref"]) for p in pairs] == [
        ("device", "devices:D-1", "genetec:GUID-1"),
        ("incident", "incidents:IN-1", "genetec:A-1"),
    ]


EXT_TYPES = ("overtime_without_incident", "device_fee_without_events", "incident_response_gap",
             "ambiguous_local_time")


def _found(query) -> dict:
    rows = query("select * from marts.fct_findings where type = any(%s)", list(EXT_TYPES))
    return {(r["type"], tuple(r["evidence"])): r for r in rows}


def test_ext_findings_are_exactly_the_planted_ones(query):
    found = _found(query)
    assert set(found) == {
        ("overtime_without_incident", ("timesheets:SH-1",)),
        ("overtime_without_incident", ("timesheets:SH-3-14",)),
        ("overtime_without_incident", ("timesheets:SH-4B",)),
        ("device_fee_without_events", tuple(sorted(["cycle:K-M/2026-03-01", "devices:D-2"]))),
        ("incident_response_gap", ("incidents:IN-GAP", "timesheets:SH-5")),
        ("incident_response_gap", ("incidents:IN-OFF",)),
        ("ambiguous_local_time", ("amag:88000042",)),
    }
    for (type_, evidence), r in found.items():
        assert r["severity"] == "warning"
        assert r["finding_id"] == finding_id(type_, list(evidence))
        assert r["message"]


def test_ext_findings_carry_context(query):
    found = _found(query)
    daily = found[("overtime_without_incident", ("timesheets:SH-1",))]
    assert (daily["site_id"], str(daily["service_date"]), daily["contract_id"]) == ("S-1", "2026-03-02", "K-G")
    assert "2.00 h of overtime" in daily["message"]
    weekly = found[("overtime_without_incident", ("timesheets:SH-3-14",))]
    assert "4.00 h" in weekly["message"]
    split = found[("overtime_without_incident", ("timesheets:SH-4B",))]
    assert split["site_id"] == "S-2" and "2.00 h" in split["message"]
    device = found[("device_fee_without_events", tuple(sorted(["cycle:K-M/2026-03-01", "devices:D-2"])))]
    assert (device["contract_id"], str(device["service_date"])) == ("K-M", "2026-03-01")
    gap = found[("incident_response_gap", ("incidents:IN-GAP", "timesheets:SH-5"))]
    assert "45 of the 60" in gap["message"]
    local = found[("ambiguous_local_time", ("amag:88000042",))]
    assert (local["client_id"], local["site_id"], str(local["service_date"])) == ("C-1", "S-1", "2026-11-01")


def test_window_vars_give_the_full_build(built, warehouse, query, tmp_path_factory):
    """The marts are tables rebuilt whole (docs/validation.md, "Incremental models"): a run
    over a partition window must equal the full build."""
    tables = ["fct_guard_shifts", "fct_incident_responses", "fct_devices", "fct_findings"]
    snapshot = lambda: {t: query(f"select * from marts.{t} order by 1, 2, 3") for t in tables}  # noqa: E731
    before = snapshot()
    result = run_dbt(warehouse, tmp_path_factory.mktemp("dbt-window"), "run",
                     "--vars", json.dumps({"min_date": "2026-03-16", "max_date": "2026-03-16"}))
    assert result.success
    assert snapshot() == before
