"""Incremental marts and open-cycle billing (issue 14): after changes of every kind an
incremental build gives what a full build gives, row for row: new days, late corrections that
move a shift to another day or make it overlap another, a billed_as_is review that brings back
a first version, incidents, patrol tours and device events arriving for past days, a record at
an unknown site. The builds are made the way the orchestration makes them
(orchestration/lib/mart_builds.py), and each round also checks that its changes reached the
findings, so a rule both builds got wrong the same way cannot pass unseen.

After each build, invoices are issued reading only the open cycles (billing/open_cycles.py),
then once more reading everything: that second run must change nothing (no invoice, line,
adjustment, credit or pending difference the open-cycle run missed)."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta

import psycopg2
import psycopg2.extras
import pytest

from billing.issuing import issue_invoices
from orchestration.lib import mart_builds
from orchestration.lib.dbt import DBT_PROJECT_DIR
from tests.dbt.test_dbt_build import finding_id, run_dbt

pytestmark = pytest.mark.integration

DOCUMENT = {
    "client": {"id": "C-1", "name": "Harbor", "email": "ap@harbor.example"},
    "sites": [
        {"id": "S-1", "name": "Gate", "timezone": "America/New_York", "tax_jurisdiction": "US-NY"},
        {"id": "S-2", "name": "Yard", "timezone": "America/Chicago", "tax_jurisdiction": "US-IL"},
    ],
    "contracts": [
        {
            "id": "K-G", "start_date": "2026-01-01", "end_date": "2026-12-31", "billing_cycle": "weekly",
            "rates": [{"service_type": "unarmed", "rate": "30.00"}, {"service_type": "patrol", "rate": "25.00"}],
            "patrol_visit_fee": "20.00",
            "overtime": {"policy": "daily_and_weekly", "daily_hours": 8, "weekly_hours": 40},
            "incidents": {"alarm_response": {"flat_fee": "75.00", "included_minutes": 30, "hourly_rate": "45.00"}},
        },
        {
            "id": "K-M", "start_date": "2026-01-01", "end_date": "2026-12-31", "billing_cycle": "monthly",
            "per_device": [{"device_type": "camera", "site_id": "S-1", "monthly_fee": "10.00"}],
        },
    ],
}
FIRST = date(2026, 1, 5)  # a Monday
DAYS = 35

# compared row for row (changed_build says when a row was computed, not what it is)
TABLES = [
    "marts.dim_clients", "marts.dim_sites", "marts.dim_contracts", "marts.fct_guard_shifts",
    "marts.fct_patrol_tours", "marts.fct_incident_responses", "marts.fct_devices", "marts.fct_findings",
    "marts.fct_quarantine", "intermediate.int_shift_versions", "intermediate.int_patrol_tour_versions",
    "intermediate.int_shifts_matched_to_contracts", "intermediate.int_tours_matched_to_contracts",
    "intermediate.int_site_day_hours", "intermediate.int_hours_spike_candidates",
    "intermediate.int_overtime_site_days", "intermediate.int_findings_shifts", "intermediate.int_device_event_days",
]


def _hash(*values) -> str:
    return hashlib.sha256(json.dumps(values, default=str).encode()).hexdigest()


def _at(day: date, hhmm: str, offset: str = "-05:00") -> str:
    return f"{day.isoformat()}T{hhmm}{offset}"


class Raw:
    """Inserts into raw.* as a connector would: ingested now (the build reads what is new)."""

    def __init__(self, conn):
        self.conn = conn
        self.line = 1

    def _next(self) -> int:
        self.line += 1
        return self.line

    def shift(self, record_id, guard, site, service_type, check_in, check_out):
        with self.conn, self.conn.cursor() as cur:
            cur.execute(
                """insert into raw.timesheets (source, record_id, guard_id, guard_name, site_id, service_type,
                       check_in_at, check_out_at, source_file, source_line, content_hash)
                   values ('timesheets', %s, %s, %s, %s, %s, %s, %s, 'timesheets/t.csv', %s, %s)""",
                (record_id, guard, f"Guard {guard}", site, service_type, check_in, check_out, self._next(),
                 _hash(record_id, guard, site, service_type, check_in, check_out)),
            )

    def tour(self, record_id, guard, site, started, completed, required=8, scanned=8):
        with self.conn, self.conn.cursor() as cur:
            cur.execute(
                """insert into raw.patrols (source, record_id, site_id, guard_id, started_at, completed_at,
                       checkpoints_required, checkpoints_scanned, source_file, source_line, content_hash)
                   values ('patrols', %s, %s, %s, %s, %s, %s, %s, 'patrols/p.csv', %s, %s)""",
                (record_id, site, guard, started, completed, required, scanned, self._next(),
                 _hash(record_id, site, guard, started, completed, required, scanned)),
            )

    def incident(self, record_id, site, started, ended, responder):
        with self.conn, self.conn.cursor() as cur:
            cur.execute(
                """insert into raw.incidents (source, record_id, site_id, classification, response_started_at,
                       response_ended_at, responder_guard_id, source_file, source_line, content_hash)
                   values ('incidents', %s, %s, 'alarm_response', %s, %s, %s, 'incidents/i.csv', %s, %s)""",
                (record_id, site, started, ended, responder, self._next(), _hash(record_id, site, started, ended)),
            )

    def event(self, record_id, device, occurred):
        with self.conn, self.conn.cursor() as cur:
            cur.execute(
                """insert into raw.device_events (source, record_id, site_id, device_id, event_type, occurred_at,
                       source_file, source_line, content_hash)
                   values ('devices', %s, 'S-1', %s, 'motion_start', %s, 'events/e.csv', %s, %s)""",
                (record_id, device, occurred, self._next(), _hash(record_id, device, occurred)),
            )

    def review(self, finding, status):
        with self.conn, self.conn.cursor() as cur:
            cur.execute(
                """insert into billing.finding_reviews (finding_id, status, note, reviewed_by)
                   values (%s, %s, 'ok', 'dana')
                   on conflict (finding_id) do update set status = excluded.status, reviewed_at = now()""",
                (finding, status),
            )


def _plant(raw: Raw) -> None:
    with raw.conn, raw.conn.cursor() as cur:
        cur.execute(
            """insert into raw.contract_documents (client_id, source_file, content_hash, document)
               values ('C-1', 'contracts/C-1.yaml', %s, %s)""",
            (_hash(DOCUMENT), psycopg2.extras.Json(DOCUMENT)),
        )
        for line, (rate, cats) in enumerate([("0.04", ["regular_hours"])], start=2):
            cur.execute(
                """insert into raw.tax_rates (jurisdiction_code, rate, taxable_categories, name, source_file,
                       source_line, file_sha256, content_hash) values ('US-NY', %s, %s, 'NY', 'tax/j.csv', %s,
                       'sha-1', 'row-1')""",
                (rate, cats, line),
            )
        for device in ("D-1", "D-2"):
            cur.execute(
                """insert into raw.devices (source, record_id, site_id, device_type, active_from, source_file,
                       source_line, content_hash) values ('devices', %s, 'S-1', 'camera', '2025-12-01', 'devices/d.csv',
                       %s, %s)""",
                (device, raw._next(), _hash(device)),
            )
    raw.event("E1-start", "D-1", _at(date(2025, 12, 31), "12:00"))  # the event feed covers January
    for n in range(DAYS):
        day = FIRST + timedelta(days=n)
        if day.weekday() < 5:  # G-1: 8 h weekdays at S-1, the hours_spike history
            raw.shift(f"A-{day}", "G-1", "S-1", "unarmed", _at(day, "08:00"), _at(day, "16:00"))
        if day.weekday() < 6:  # G-2: 10 h Monday to Saturday: daily and weekly overtime
            raw.shift(f"B-{day}", "G-2", "S-1", "unarmed", _at(day, "07:00"), _at(day, "17:00"))
        # G-3: patrol nights at S-2 with a tour, but not every one
        raw.shift(f"P-{day}", "G-3", "S-2", "patrol", _at(day, "20:00", "-06:00"),
                  _at(day + timedelta(days=1), "04:00", "-06:00"))
        if day.day % 4:
            raw.tour(f"T-{day}", "G-3", "S-2", _at(day, "22:00", "-06:00"), _at(day, "22:40", "-06:00"))
        raw.event(f"E1-{day}", "D-1", _at(day, "12:00"))
    raw.incident("IN-1", "S-1", _at(date(2026, 1, 7), "10:00"), _at(date(2026, 1, 7), "10:40"), "G-2")


def _snapshot(query) -> dict[str, list[tuple]]:
    out = {}
    for table in TABLES:
        schema, name = table.split(".")
        columns = [r["column_name"] for r in query(
            """select column_name from information_schema.columns where table_schema = %s and table_name = %s
               and column_name <> 'changed_build' order by column_name""", schema, name)]
        rows = query(f"select {', '.join(columns)} from {table}")
        out[table] = sorted(tuple(str(r[c]) for c in columns) for r in rows)
    return out


def _differences(before: dict, after: dict) -> dict[str, tuple[list, list]]:
    out = {}
    for table in TABLES:
        old, new = set(before[table]), set(after[table])
        if old != new:
            out[table] = (sorted(old - new)[:5], sorted(new - old)[:5])
    return out


@pytest.fixture(scope="module")
def db(warehouse):
    conn = psycopg2.connect(warehouse.dsn())
    query_conn = psycopg2.connect(warehouse.dsn())
    query_conn.autocommit = True

    def query(sql: str, *args):
        with query_conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(sql, args)
            return [dict(r) for r in cur.fetchall()]

    yield Raw(conn), query
    conn.close()
    query_conn.close()


def _build(warehouse, tmp_path_factory, conn, command="run", full: str | None = None) -> mart_builds.Build:
    """One build as the orchestration makes it: recorded, dbt, finished."""
    build = mart_builds.start_build(conn, DBT_PROJECT_DIR, force_full=full)
    result = run_dbt(warehouse, tmp_path_factory.mktemp("dbt"), command,
                     *(["--full-refresh"] if build.mode == "full" else []), threads=4)
    mart_builds.finish_build(conn, build, result.success)
    assert result.success, [(r.node.name, r.message) for r in result.result if str(r.status) not in ("success", "pass")]
    return build


BILLING = {
    "billing.invoices": "invoice_key, invoice_number, status, kind, client_id, site_id, contract_ids, period_start, "
                        "period_end, issue_date, due_date, subtotal, tax_total, total, hold_reasons::text, void_reason",
    "billing.invoice_lines": "invoice_id, line_no, site_id, category, description, quantity, unit, unit_price, amount, "
                             "source_refs",
    "billing.adjustments": "original_invoice_id, version, category, description, quantity, amount, source_refs, "
                           "billed_invoice_id, billed_line_no",
    "billing.ledger_entries": "invoice_id, client_id, entry_type, amount, reference",
    "billing.rerate_pending": "invoice_id",
    "billing.number_sequences": "prefix, year, last_value",
}


def _billing(query) -> dict[str, list[tuple]]:
    return {table: sorted(tuple(str(v) for v in r.values()) for r in query(f"select {columns} from {table}"))
            for table, columns in BILLING.items()}


def _issue(conn, query, through: date):
    """Issue reading the open cycles, then reading everything: the second changes nothing."""
    summary = issue_invoices(conn, through)
    issued = _billing(query)
    issue_invoices(conn, through, scope="full")
    assert _billing(query) == issued
    return summary


def _findings(query) -> set[tuple]:
    return {(r["type"], tuple(r["evidence"])) for r in query("select type, evidence from marts.fct_findings")}


def test_incremental_builds_equal_full_builds(warehouse, db, tmp_path_factory):
    raw, query = db
    conn = raw.conn
    _plant(raw)
    first = _build(warehouse, tmp_path_factory, conn, "build")
    assert (first.mode, first.reason) == ("full", "first build")
    assert _issue(conn, query, date(2026, 2, 2)).cycles == -1  # the first run reads everything
    before = _findings(query)
    assert ("overtime_without_incident", ("timesheets:B-2026-01-13",)) in before
    assert ("shift_without_patrol_scans", ("timesheets:P-2026-01-08",)) in before
    assert ("device_fee_without_events", ("cycle:K-M/2026-01-01", "devices:D-2")) in before

    # round 1: a new day, late corrections, an overlap, an unknown site, an incident for a past day
    new_day = FIRST + timedelta(days=DAYS)
    raw.shift(f"A-{new_day}", "G-1", "S-1", "unarmed", _at(new_day, "08:00"), _at(new_day, "16:00"))
    raw.event(f"E1-{new_day}", "D-1", _at(new_day, "12:00"))
    spike = date(2026, 1, 28)
    raw.shift(f"A-{spike}", "G-1", "S-1", "unarmed", _at(spike, "08:00"), _at(spike, "23:30"))  # 2nd version
    moved_from, moved_to = date(2026, 1, 14), date(2026, 1, 18)
    raw.shift(f"B-{moved_from}", "G-2", "S-1", "unarmed", _at(moved_to, "07:00"), _at(moved_to, "17:00"))
    overlap = date(2026, 1, 21)
    raw.shift("X-1", "G-1", "S-1", "unarmed", _at(overlap, "12:00"), _at(overlap, "20:00"))
    raw.shift("U-1", "G-9", "S-99", "unarmed", _at(overlap, "08:00"), _at(overlap, "16:00"))
    raw.incident("IN-2", "S-1", _at(date(2026, 1, 13), "09:00"), _at(date(2026, 1, 13), "09:30"), "G-2")
    incremental = _build(warehouse, tmp_path_factory, conn, "build")
    assert incremental.mode == "incremental"
    found = _findings(query)
    assert ("overlapping_shift", ("timesheets:A-2026-01-21", "timesheets:X-1")) in found
    assert ("duplicate_record", (f"timesheets:A-{spike}",)) in found
    assert ("hours_spike", (f"timesheets:A-{spike}", f"timesheets:B-{spike}")) in found
    assert ("overtime_without_incident", ("timesheets:B-2026-01-13",)) not in found
    assert query("select service_date from marts.fct_guard_shifts where source_ref = %s",
                 f"timesheets:B-{moved_from}") == [{"service_date": moved_to}]
    assert query("select record_id from marts.fct_quarantine where source = 'timesheets'") == [{"record_id": "U-1"}]
    opened = _issue(conn, query, date(2026, 2, 9))
    assert 0 < opened.cycles < 10  # the new week, the changed ones, the monthly fee: not all five weeks
    assert opened.adjusted or opened.credit_notes or query("select 1 from billing.rerate_pending")
    incremental_result = _snapshot(query)
    full = _build(warehouse, tmp_path_factory, conn, full="compared in the test")
    assert full.mode == "full"
    assert _differences(incremental_result, _snapshot(query)) == {}

    # round 2, over two incremental builds: a review brings back a first version, tours and
    # device events arrive for past days, a tour moves away from its shift
    raw.review(finding_id("duplicate_record", [f"timesheets:A-{spike}"]), "billed_as_is")
    raw.tour("T-late", "G-3", "S-2", _at(date(2026, 1, 8), "23:00", "-06:00"), _at(date(2026, 1, 8), "23:30", "-06:00"))
    raw.tour("T-2026-01-10", "G-3", "S-2", _at(date(2026, 1, 25), "10:00", "-06:00"),
             _at(date(2026, 1, 25), "10:30", "-06:00"))
    assert _build(warehouse, tmp_path_factory, conn).mode == "incremental"
    raw.event("E2-1", "D-2", _at(date(2026, 1, 15), "09:00"))
    # a shift leaves an issued week nothing else touched: only the invoice citing it says so
    left, joined = date(2026, 2, 4), date(2026, 2, 10)
    raw.shift(f"A-{left}", "G-1", "S-1", "unarmed", _at(joined, "08:00"), _at(joined, "16:00"))
    moved_again = date(2026, 1, 20)  # to the next week: both weeks re-rate
    raw.shift(f"B-{moved_from}", "G-2", "S-1", "unarmed", _at(moved_again, "07:00"), _at(moved_again, "19:00"))
    assert _build(warehouse, tmp_path_factory, conn).mode == "incremental"
    found = _findings(query)
    assert ("hours_spike", (f"timesheets:A-{spike}", f"timesheets:B-{spike}")) not in found  # the first version
    assert ("shift_without_patrol_scans", ("timesheets:P-2026-01-08",)) not in found
    assert ("shift_without_patrol_scans", ("timesheets:P-2026-01-10",)) in found
    assert ("device_fee_without_events", ("cycle:K-M/2026-01-01", "devices:D-2")) not in found
    assert query("select service_date from marts.fct_guard_shifts where source_ref = %s",
                 f"timesheets:B-{moved_from}") == [{"service_date": moved_again}]
    credited = _issue(conn, query, date(2026, 2, 10))
    assert credited.credit_notes  # the week A-2026-02-04 left
    incremental_result = _snapshot(query)
    _build(warehouse, tmp_path_factory, conn, full="compared in the test")
    assert _differences(incremental_result, _snapshot(query)) == {}


def test_a_contract_change_makes_the_next_build_full(warehouse, db, tmp_path_factory):
    raw, query = db
    document = json.loads(json.dumps(DOCUMENT))
    document["contracts"][0]["rates"][0]["rate"] = "31.00"
    with raw.conn, raw.conn.cursor() as cur:
        cur.execute("""insert into raw.contract_documents (client_id, source_file, content_hash, document)
                       values ('C-1', 'contracts/C-1.yaml', %s, %s)""",
                    (_hash(document), psycopg2.extras.Json(document)))
    build = _build(warehouse, tmp_path_factory, raw.conn)
    assert (build.mode, build.reason) == ("full", "contracts changed")
    again = _build(warehouse, tmp_path_factory, raw.conn)
    assert again.mode == "incremental"
    [row] = query("select since, watermark from vigil_meta.mart_builds where build_id = %s", build.build_id)
    assert again.since == row["watermark"]


def test_a_build_of_some_models_only_does_not_move_the_watermark(warehouse, db):
    raw, query = db
    [last] = query("""select watermark from vigil_meta.mart_builds where status = 'succeeded'
                      order by build_id desc limit 1""")
    partial = mart_builds.start_build(raw.conn, DBT_PROJECT_DIR)
    mart_builds.finish_build(raw.conn, partial, succeeded=True, whole=False)
    assert query("select status from vigil_meta.mart_builds where build_id = %s", partial.build_id) == [
        {"status": "partial"}]
    following = mart_builds.start_build(raw.conn, DBT_PROJECT_DIR)
    assert following.since == last["watermark"] == partial.since
    mart_builds.finish_build(raw.conn, following, succeeded=False)
