"""dbt build on a small hand-made raw data set: every model and data test passes, the
marts keep the layer contract (docs/architecture.md), and each planted problem shows up
as its finding (billing-rules sections 2, 3 and 10)."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import psycopg2
import psycopg2.extras
import pytest

pytestmark = pytest.mark.integration

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

# ---------------------------------------------------------------------------------------
# the planted data set

C1_SITES = [
    {"id": "S-1", "name": "Harbor - Terminal 4", "timezone": "America/New_York", "tax_jurisdiction": "US-NY"},
    {"id": "S-2", "name": "Harbor - Depot", "timezone": "America/Chicago", "tax_jurisdiction": "US-IL"},
]
C1_GUARDING = {
    "id": "K-1001-G",
    "start_date": "2026-01-01",
    "end_date": "2026-12-31",
    "billing_cycle": "weekly",
    "rates": [
        {"service_type": "unarmed", "rate": "32.00"},
        {"service_type": "armed", "site_id": "S-1", "rate": "41.50"},
    ],
    "incidents": {"alarm_response": {"flat_fee": "75.00", "included_minutes": 30, "hourly_rate": "45.00"}},
    "patrol_visit_fee": "28.00",
}
C1_MONITORING = {
    "id": "K-1001-M",
    "start_date": "2026-03-15",
    "end_date": "2027-03-14",
    "billing_cycle": "monthly",
    "recurring": [{"code": "MON-GOLD", "category": "monitoring", "site_id": "S-1", "amount": "89.00"}],
}


def _c1_document(name: str) -> dict:
    return {
        "client": {"id": "C-1", "name": name, "email": "ap@harbor.example", "autopay": True},
        "sites": C1_SITES,
        "contracts": [C1_GUARDING, C1_MONITORING],
    }


C2_DOCUMENT = {
    "client": {
        "id": "C-2",
        "name": "Mesa Storage",
        "phone": "+15555550101",
        "preferred_channel": "sms",
        "autopay": True,
        "payment_method": "pm_card_visa",
        "grouping": "per_site",
    },
    "sites": [{"id": "S-3", "name": "Mesa - Yard", "timezone": "America/Los_Angeles", "tax_jurisdiction": "US-CA"}],
    "contracts": [
        {
            "id": "K-2002-A",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "billing_cycle": "monthly",
            "rates": [
                {"service_type": "unarmed", "rate": "30.00"},
                {"service_type": "armed", "site_id": "S-3", "rate": "40.00"},
            ],
        },
        {
            "id": "K-2002-B",
            "start_date": "2026-01-01",
            "end_date": "2026-06-30",
            "billing_cycle": "monthly",
            "rates": [
                {"service_type": "unarmed", "rate": "31.00"},
                {"service_type": "armed", "rate": "39.00"},
            ],
        },
    ],
}

def shift(record_id, guard_id, site_id, service_type, check_in, check_out, ingested_on, *,
          name="", scheduled=(None, None)) -> tuple:
    """A raw.timesheets row: (record_id, guard_id, guard_name, site_id, service_type, check_in,
    check_out, scheduled_start, scheduled_end, ingested_at)."""
    return (record_id, guard_id, name or f"Guard {guard_id}", site_id, service_type, check_in, check_out,
            *scheduled, f"{ingested_on}T00:00Z")


SHIFTS = [
    # matched, overlaps SH-3 (same guard)
    shift("SH-1", "G-1", "S-1", "unarmed", "2026-03-02T08:00-05:00", "2026-03-02T16:00-05:00", "2026-03-03"),
    shift("SH-3", "G-1", "S-1", "unarmed", "2026-03-02T12:00-05:00", "2026-03-02T20:00-05:00", "2026-03-03"),
    # open shift
    shift("SH-2", "G-2", "S-1", "unarmed", "2026-03-03T08:00-05:00", None, "2026-03-04"),
    # two versions: the latest (check-out 17:00) is used
    shift("SH-4", "G-4", "S-1", "unarmed", "2026-03-04T08:00-05:00", "2026-03-04T16:00-05:00", "2026-03-05",
          name="Old name"),
    shift("SH-4", "G-4", "S-1", "unarmed", "2026-03-04T08:00-05:00", "2026-03-04T17:00-05:00", "2026-03-06",
          name="New name"),
    # two versions, finding reviewed billed_as_is: the first (check-out 16:00) is used
    shift("SH-12", "G-12", "S-1", "unarmed", "2026-03-04T08:00-05:00", "2026-03-04T16:00-05:00", "2026-03-05"),
    shift("SH-12", "G-12", "S-1", "unarmed", "2026-03-04T08:00-05:00", "2026-03-04T18:00-05:00", "2026-03-06"),
    # check-out before check-in
    shift("SH-5", "G-5", "S-1", "unarmed", "2026-03-05T10:00-05:00", "2026-03-05T09:00-05:00", "2026-03-06"),
    # no contract prices k9
    shift("SH-6", "G-6", "S-1", "k9", "2026-03-05T08:00-05:00", "2026-03-05T16:00-05:00", "2026-03-06"),
    # before every contract
    shift("SH-7", "G-6", "S-1", "unarmed", "2025-06-01T08:00-04:00", "2025-06-01T16:00-04:00", "2026-03-06"),
    # site nobody declares
    shift("SH-8", "G-6", "S-99", "unarmed", "2026-03-06T08:00-05:00", "2026-03-06T16:00-05:00", "2026-03-07"),
    # patrol shift without a tour (priced by the patrol visit fee: no missing_rate)
    shift("SH-9", "G-7", "S-1", "patrol", "2026-03-06T20:00-05:00", "2026-03-07T04:00-05:00", "2026-03-07"),
    # patrol shift with a tour, across the spring-forward night
    shift("SH-10", "G-8", "S-1", "patrol", "2026-03-07T20:00-05:00", "2026-03-08T04:00-04:00", "2026-03-08"),
    # 10 h worked against 8 h scheduled (site-specific armed rate)
    shift("SH-11", "G-11", "S-1", "armed", "2026-03-09T08:00-04:00", "2026-03-09T18:00-04:00", "2026-03-10",
          scheduled=("2026-03-09T08:00-04:00", "2026-03-09T16:00-04:00")),
    # checks in 23:30 New York time = 03:30 UTC the next day: service date is the local one
    shift("SH-LATE", "G-9", "S-1", "unarmed", "2026-03-10T23:30-04:00", "2026-03-11T07:30-04:00", "2026-03-12"),
    # C-2: two contracts with an any-site unarmed rate -> ambiguous
    shift("SH-20", "G-20", "S-3", "unarmed", "2026-03-02T08:00-08:00", "2026-03-02T16:00-08:00", "2026-03-03"),
    # C-2: a rate for the site beats a rate for any site -> K-2002-A
    shift("SH-21", "G-21", "S-3", "armed", "2026-03-02T08:00-08:00", "2026-03-02T16:00-08:00", "2026-03-03"),
]


def _spike_shifts() -> list[tuple]:
    """20 days of 8 h at S-2, then a 20 h day (spike) and a 20 h day with an incident."""
    rows = []
    for day in range(1, 21):
        d = f"2026-02-{day:02d}"
        rows.append(shift(f"SP-{day:02d}", "G-30", "S-2", "unarmed", f"{d}T08:00-06:00", f"{d}T16:00-06:00",
                          "2026-02-28"))
    for day in (21, 22):
        d = f"2026-02-{day:02d}"
        rows.append(shift(f"SP-{day}A", "G-30", "S-2", "unarmed", f"{d}T08:00-06:00", f"{d}T16:00-06:00",
                          "2026-02-28"))
        rows.append(shift(f"SP-{day}B", "G-31", "S-2", "unarmed", f"{d}T06:00-06:00", f"{d}T18:00-06:00",
                          "2026-02-28"))
    return rows


# (record_id, site_id, classification, started, ended, responder)
INCIDENTS = [
    ("IN-1", "S-1", "alarm_response", "2026-03-02T13:00-05:00", "2026-03-02T13:45-05:00", "G-1"),
    ("IN-2", "S-1", "fire", "2026-03-03T02:00-05:00", "2026-03-03T03:00-05:00", None),
    ("IN-3", "S-2", "alarm_response", "2026-02-22T10:00-06:00", "2026-02-22T11:00-06:00", "G-31"),
]

# (record_id, site_id, guard_id, started, completed, required, scanned)
TOURS = [
    ("T-1", "S-1", "G-8", "2026-03-07T22:00-05:00", "2026-03-07T22:40-05:00", 10, 10),
    ("T-2", "S-1", "G-8", "2026-03-07T23:00-05:00", "2026-03-07T23:30-05:00", 10, 8),
]

# (record_id, site_id, device_type, active_from)
DEVICES = [("D-1", "S-1", "camera", "2026-01-01"), ("D-2", "S-99", "camera", "2026-01-01")]


def finding_id(type_: str, evidence: list[str]) -> str:
    """The documented finding id: md5 of type and sorted evidence."""
    return hashlib.md5(f"{type_}:{','.join(evidence)}".encode()).hexdigest()


def _hash(*values) -> str:
    return hashlib.sha256(json.dumps(values, default=str).encode()).hexdigest()


def plant(conn) -> None:
    with conn, conn.cursor() as cur:
        docs = [
            ("C-1", _c1_document("Harbor (superseded)"), "2026-01-01T00:00Z"),
            ("C-1", _c1_document("Harbor Logistics LLC"), "2026-02-01T00:00Z"),
            ("C-2", C2_DOCUMENT, "2026-02-01T00:00Z"),
        ]
        for client_id, document, ingested_at in docs:
            cur.execute(
                """insert into raw.contract_documents (client_id, source_file, content_hash, document, ingested_at)
                   values (%s, %s, %s, %s, %s)""",
                (client_id, f"contracts/{client_id}.yaml", _hash(document), psycopg2.extras.Json(document),
                 ingested_at),
            )
        tax_files = [
            ("tax/old.csv", "sha-old", "2026-01-01T00:00Z", [("US-NY", "0.04", ["regular_hours"], "NY state")]),
            ("tax/jurisdictions.csv", "sha-new", "2026-02-01T00:00Z", [
                ("US-NY", "0.04", ["regular_hours", "monitoring"], "NY state"),
                ("US-NY", "0.045", ["regular_hours"], "NYC"),
            ]),
        ]
        for path, sha, ingested_at, rows in tax_files:
            for line, (code, rate, categories, name) in enumerate(rows, start=2):
                cur.execute(
                    """insert into raw.tax_rates (jurisdiction_code, rate, taxable_categories, name, source_file,
                           source_line, file_sha256, content_hash, ingested_at)
                       values (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                    (code, rate, categories, name, path, line, sha, _hash(code, rate, categories, name), ingested_at),
                )
        for line, row in enumerate(SHIFTS + _spike_shifts(), start=2):
            rid, guard, name, site, stype, cin, cout, sstart, send, ingested_at = row
            cur.execute(
                """insert into raw.timesheets (source, record_id, guard_id, guard_name, site_id, service_type,
                       check_in_at, check_out_at, scheduled_start_at, scheduled_end_at, source_file, source_line,
                       content_hash, ingested_at)
                   values ('timesheets', %s, %s, %s, %s, %s, %s, %s, %s, %s, 'timesheets/t.csv', %s, %s, %s)""",
                (rid, guard, name, site, stype, cin, cout, sstart, send, line, _hash(*row[:9]), ingested_at),
            )
        for line, row in enumerate(INCIDENTS, start=2):
            cur.execute(
                """insert into raw.incidents (source, record_id, site_id, classification, response_started_at,
                       response_ended_at, responder_guard_id, source_file, source_line, content_hash)
                   values ('incidents', %s, %s, %s, %s, %s, %s, 'incidents/i.csv', %s, %s)""",
                (*row, line, _hash(*row)),
            )
        for line, row in enumerate(TOURS, start=2):
            cur.execute(
                """insert into raw.patrols (source, record_id, site_id, guard_id, started_at, completed_at,
                       checkpoints_required, checkpoints_scanned, source_file, source_line, content_hash)
                   values ('patrols', %s, %s, %s, %s, %s, %s, %s, 'patrols/p.csv', %s, %s)""",
                (*row, line, _hash(*row)),
            )
        for line, row in enumerate(DEVICES, start=2):
            cur.execute(
                """insert into raw.devices (source, record_id, site_id, device_type, active_from, source_file,
                       source_line, content_hash)
                   values ('devices', %s, %s, %s, %s, 'devices/d.csv', %s, %s)""",
                (*row, line, _hash(*row)),
            )
        reviews = [
            (finding_id("missing_payment_method", ["contracts:C-1"]), "excluded", "card on file next week", "dana"),
            (finding_id("duplicate_record", ["timesheets:SH-12"]), "billed_as_is", "second file was a test", "dana"),
        ]
        cur.executemany(
            "insert into billing.finding_reviews (finding_id, status, note, reviewed_by) values (%s, %s, %s, %s)",
            reviews,
        )


# ---------------------------------------------------------------------------------------
# fixtures


def run_dbt(params, tmp_dir: Path, *args: str, threads: int = 1):
    from dbt.cli.main import dbtRunner

    with pytest.MonkeyPatch.context() as mp:
        for key, value in params.dbt_env().items():
            mp.setenv(key, value)
        return dbtRunner().invoke([
            *args,
            "--project-dir", str(PROJECT_DIR),
            "--profiles-dir", str(PROJECT_DIR),
            "--target-path", str(tmp_dir / "target"),
            "--log-path", str(tmp_dir / "logs"),
            "--threads", str(threads),
        ])


@pytest.fixture(scope="module")
def built(warehouse, tmp_path_factory):
    from vigil import db

    conn = db.connect()
    try:
        plant(conn)
    finally:
        conn.close()
    result = run_dbt(warehouse, tmp_path_factory.mktemp("dbt"), "build")
    return result


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


def columns(query, table: str) -> list[str]:
    schema, name = table.split(".")
    rows = query(
        """select column_name from information_schema.columns
           where table_schema = %s and table_name = %s order by ordinal_position""",
        schema, name,
    )
    return [r["column_name"] for r in rows]


# ---------------------------------------------------------------------------------------
# tests


def test_build_succeeds(built):
    assert built.exception is None, built.exception
    failures = [
        (r.node.name, str(r.status), r.message) for r in built.result if str(r.status) not in ("success", "pass")
    ]
    assert built.success, failures
    assert failures == []


CONTRACT = {
    "marts.dim_clients": "client_id, client_name, email, phone, preferred_channel, autopay, payment_method, "
    "grouping, currency",
    "marts.dim_sites": "site_id, client_id, site_name, timezone, tax_jurisdiction, site_position",
    "marts.dim_contracts": "contract_id, client_id, start_date, end_date, billing_cycle, terms",
    "marts.fct_tax_rates": "jurisdiction_code, rate, taxable_categories, name",
    "marts.fct_guard_shifts": "shift_id, source, source_ref, guard_id, guard_name, site_id, client_id, contract_id, "
    "service_type, check_in_at, check_out_at, scheduled_start_at, scheduled_end_at, service_date, site_timezone, "
    "has_valid_interval, vendor_ref, updated_at",
    "marts.fct_incident_responses": "incident_id, source, source_ref, site_id, client_id, contract_id, classification, "
    "response_started_at, response_ended_at, responder_guard_id, service_date, opened_at, vendor_ref, updated_at",
    "marts.fct_patrol_tours": "tour_id, source, source_ref, site_id, client_id, contract_id, guard_id, started_at, "
    "completed_at, checkpoints_required, checkpoints_scanned, service_date, vendor_ref, updated_at",
    "marts.fct_devices": "device_id, source, source_ref, site_id, client_id, device_type, active_from, active_to, "
    "vendor_ref, updated_at",
    "marts.fct_findings": "finding_id, type, severity, client_id, site_id, contract_id, service_date, evidence, "
    "message, status, reviewed_by, review_note",
}


@pytest.mark.parametrize("table", sorted(CONTRACT))
def test_marts_have_the_contract_columns(query, table):
    assert columns(query, table) == [c.strip() for c in CONTRACT[table].split(",")]


def test_dimensions_come_from_the_newest_document(query):
    clients = {r["client_id"]: r for r in query("select * from marts.dim_clients")}
    assert clients["C-1"]["client_name"] == "Harbor Logistics LLC"
    assert clients["C-1"]["preferred_channel"] == "email" and clients["C-1"]["currency"] == "USD"
    assert clients["C-2"]["grouping"] == "per_site" and clients["C-2"]["payment_method"] == "pm_card_visa"
    sites = {r["site_id"]: r["client_id"] for r in query("select * from marts.dim_sites")}
    assert sites == {"S-1": "C-1", "S-2": "C-1", "S-3": "C-2"}
    contracts = {r["contract_id"]: r for r in query("select * from marts.dim_contracts")}
    assert set(contracts) == {"K-1001-G", "K-1001-M", "K-2002-A", "K-2002-B"}
    assert contracts["K-1001-G"]["start_date"] == date(2026, 1, 1)
    assert contracts["K-1001-G"]["terms"] == C1_GUARDING


def test_tax_rates_are_the_latest_file(query):
    rows = query("select * from marts.fct_tax_rates order by rate")
    assert [(r["jurisdiction_code"], str(r["rate"]), r["name"]) for r in rows] == [
        ("US-NY", "0.04", "NY state"), ("US-NY", "0.045", "NYC"),
    ]
    assert rows[0]["taxable_categories"] == ["regular_hours", "monitoring"]


def test_shifts_are_matched_to_contracts(query):
    shifts = {r["shift_id"]: r for r in query("select * from marts.fct_guard_shifts")}
    assert "SH-8" not in shifts  # unknown site: quarantined
    assert shifts["SH-1"]["contract_id"] == "K-1001-G" and shifts["SH-1"]["client_id"] == "C-1"
    assert shifts["SH-1"]["source_ref"] == "timesheets:SH-1"
    assert shifts["SH-9"]["contract_id"] == "K-1001-G"  # patrol visit fee prices a patrol shift
    assert shifts["SH-11"]["contract_id"] == "K-1001-G"
    assert shifts["SH-6"]["contract_id"] is None  # missing rate
    assert shifts["SH-7"]["contract_id"] is None  # outside every contract
    assert shifts["SH-20"]["contract_id"] is None  # ambiguous
    assert shifts["SH-21"]["contract_id"] == "K-2002-A"  # site rate beats any-site rate
    assert shifts["SH-LATE"]["service_date"] == date(2026, 3, 10)
    assert shifts["SH-LATE"]["site_timezone"] == "America/New_York"
    assert shifts["SH-2"]["has_valid_interval"] is False
    assert shifts["SH-5"]["has_valid_interval"] is False
    assert shifts["SH-1"]["has_valid_interval"] is True


def test_versions_latest_unless_reviewed_billed_as_is(query):
    shifts = {r["shift_id"]: r for r in query("select * from marts.fct_guard_shifts")}
    assert shifts["SH-4"]["guard_name"] == "New name"
    assert shifts["SH-4"]["check_out_at"].hour == 22  # 17:00 -05:00, in UTC
    assert shifts["SH-12"]["check_out_at"].hour == 21  # the first version: 16:00 -05:00
    assert query("select count(*) as n from marts.fct_guard_shifts where shift_id in ('SH-4', 'SH-12')")[0]["n"] == 2


def test_incidents_tours_devices(query):
    incidents = {r["incident_id"]: r for r in query("select * from marts.fct_incident_responses")}
    assert incidents["IN-1"]["contract_id"] == "K-1001-G"
    assert incidents["IN-2"]["contract_id"] is None
    assert incidents["IN-1"]["service_date"] == date(2026, 3, 2)
    tours = {r["tour_id"]: r for r in query("select * from marts.fct_patrol_tours")}
    assert tours["T-1"]["contract_id"] == "K-1001-G" and tours["T-1"]["checkpoints_scanned"] == 10
    devices = {r["device_id"]: r for r in query("select * from marts.fct_devices")}
    assert set(devices) == {"D-1"} and devices["D-1"]["client_id"] == "C-1"


def test_unknown_sites_are_quarantined(query):
    rows = query("select record_type, source_ref, reason from marts.fct_quarantine_unknown_sites order by 1, 2")
    assert rows == [
        {"record_type": "device", "source_ref": "devices:D-2", "reason": "unknown_site"},
        {"record_type": "shift", "source_ref": "timesheets:SH-8", "reason": "unknown_site"},
    ]


EXPECTED_FINDINGS = {
    ("missing_checkout", "blocking", ("timesheets:SH-2",)),
    ("bad_interval", "blocking", ("timesheets:SH-5",)),
    ("overlapping_shift", "blocking", ("timesheets:SH-1", "timesheets:SH-3")),
    ("duplicate_record", "blocking", ("timesheets:SH-4",)),
    ("duplicate_record", "blocking", ("timesheets:SH-12",)),
    ("missing_rate", "blocking", ("timesheets:SH-6",)),
    ("service_outside_contract", "blocking", ("timesheets:SH-7",)),
    ("ambiguous_contract", "blocking", ("timesheets:SH-20",)),
    ("shift_without_patrol_scans", "warning", ("timesheets:SH-9",)),
    ("schedule_deviation", "warning", ("timesheets:SH-11",)),
    ("unpriced_incident", "info", ("incidents:IN-2",)),
    ("missed_checkpoints", "warning", ("patrols:T-2",)),
    ("missing_payment_method", "warning", ("contracts:C-1",)),
    ("hours_spike", "warning", ("timesheets:SP-21A", "timesheets:SP-21B")),
}


def test_findings_are_exactly_the_planted_ones(query):
    rows = query("select * from marts.fct_findings")
    found = {(r["type"], r["severity"], tuple(r["evidence"])) for r in rows}
    assert found == EXPECTED_FINDINGS
    for r in rows:
        assert r["finding_id"] == finding_id(r["type"], r["evidence"])
        assert r["message"]


def test_findings_carry_context_and_reviews(query):
    rows = {(r["type"], tuple(r["evidence"])): r for r in query("select * from marts.fct_findings")}
    spike = rows[("hours_spike", ("timesheets:SP-21A", "timesheets:SP-21B"))]
    assert (spike["client_id"], spike["site_id"], spike["service_date"]) == ("C-1", "S-2", date(2026, 2, 21))
    ambiguous = rows[("ambiguous_contract", ("timesheets:SH-20",))]
    assert ambiguous["client_id"] == "C-2" and "K-2002-A, K-2002-B" in ambiguous["message"]
    payment = rows[("missing_payment_method", ("contracts:C-1",))]
    assert (payment["status"], payment["reviewed_by"], payment["review_note"]) == (
        "excluded", "dana", "card on file next week",
    )
    assert rows[("duplicate_record", ("timesheets:SH-12",))]["status"] == "billed_as_is"
    assert rows[("missing_checkout", ("timesheets:SH-2",))]["status"] == "open"
    assert rows[("missing_checkout", ("timesheets:SH-2",))]["service_date"] == date(2026, 3, 3)


def test_rebuild_keeps_finding_ids(built, warehouse, query, tmp_path_factory):
    before = {r["finding_id"] for r in query("select finding_id from marts.fct_findings")}
    result = run_dbt(warehouse, tmp_path_factory.mktemp("dbt-again"), "run", "--select", "+fct_findings",
                     "--vars", json.dumps({"min_date": "2026-03-01", "max_date": "2026-03-31"}))
    assert result.success
    after = {r["finding_id"] for r in query("select finding_id from marts.fct_findings")}
    assert after == before



def test_unknown_site_is_readmitted_once_a_contract_declares_it(built, warehouse, query, tmp_path_factory):
    """Runs last: it changes the data set (a newer C-1 document declares S-99)."""
    document = _c1_document("Harbor Logistics LLC")
    document["sites"] = [*C1_SITES, {"id": "S-99", "name": "Harbor - Annex", "timezone": "America/New_York",
                                     "tax_jurisdiction": "US-NY"}]
    query(
        """insert into raw.contract_documents (client_id, source_file, content_hash, document, ingested_at)
           values ('C-1', 'contracts/C-1.yaml', %s, %s, '2026-03-10T00:00Z') returning document_id""",
        _hash(document), psycopg2.extras.Json(document),
    )
    result = run_dbt(warehouse, tmp_path_factory.mktemp("dbt-readmit"), "run", "--select",
                     "+fct_guard_shifts", "+fct_devices", "+fct_quarantine_unknown_sites")
    assert result.success
    assert query("select * from marts.fct_quarantine_unknown_sites") == []
    shift = query("select * from marts.fct_guard_shifts where source_ref = 'timesheets:SH-8'")[0]
    assert (shift["client_id"], shift["contract_id"], shift["service_date"]) == ("C-1", "K-1001-G", date(2026, 3, 6))
    assert query("select client_id from marts.fct_devices where device_id = 'D-2'") == [{"client_id": "C-1"}]


# ---------------------------------------------------------------------------------------
# issue 8 point 16: the contracts in force do not depend on the order the contract YAML and
# the CRM are ingested in (each source keeps its own newest document; dbt merges them)


def _yaml_document(client_id: str, number: str, rate: str) -> dict:
    return {
        "client": {"id": client_id, "name": f"Client {number} (YAML)", "email": f"ap@c{number}.example"},
        "sites": [{"id": f"S-{number}1", "name": "Main gate", "timezone": "America/New_York",
                   "tax_jurisdiction": "US-NY"}],
        "contracts": [{"id": f"K-{number}-G", "start_date": "2026-01-01", "end_date": "2026-12-31",
                       "billing_cycle": "weekly", "rates": [{"service_type": "unarmed", "rate": rate}]}],
    }


def _crm_page(client_id: str, number: str) -> tuple[dict, dict]:
    """Salesforce query results: the account and its monitoring contract, which covers a
    second site the YAML does not declare."""
    account_id = f"001Dn0000000{number}00IAK"
    accounts = {"totalSize": 1, "done": True, "records": [{
        "attributes": {"type": "Account"}, "Id": account_id, "Name": f"Client {number} (CRM)",
        "Vigil_Client_Id__c": client_id, "Phone": "+15555550123", "LastModifiedDate": "2026-01-02T00:00:00.000+0000",
    }]}
    contracts = {"totalSize": 1, "done": True, "records": [{
        "attributes": {"type": "Contract"}, "Id": f"800Dn0000000{number}00IAK", "AccountId": account_id,
        "ContractNumber": f"K-{number}-M", "Status": "Activated", "StartDate": "2026-01-01", "EndDate": "2026-12-31",
        "Billing_Cycle__c": "Monthly",
        "Contract_Lines__r": {"totalSize": 1, "done": True, "records": [{
            "attributes": {"type": "Contract_Line__c"}, "Item_Code__c": "MON-STD", "Family__c": "Monitoring",
            "Site_Id__c": f"S-{number}2", "Monthly_Amount__c": 79.0, "Bill_Cycle__c": "M",
            "Is_Cancelled__c": False}]},
    }]}
    return accounts, contracts


def _write_inbox(inbox: Path, client_id: str, number: str) -> None:
    import yaml

    (inbox / "contracts").mkdir(parents=True)
    (inbox / "crm").mkdir()
    (inbox / "contracts" / f"{client_id}.yaml").write_text(yaml.safe_dump(_yaml_document(client_id, number, "30.00")))
    accounts, contracts = _crm_page(client_id, number)
    (inbox / "crm" / "accounts.json").write_text(json.dumps(accounts))
    (inbox / "crm" / "contracts.json").write_text(json.dumps(contracts))
    (inbox / "crm" / "sites.csv").write_text(
        "SiteId,AccountId,SiteName,TimeZone,TaxJurisdiction\n"
        f"S-{number}2,{accounts['records'][0]['Id']},Back lot,America/Chicago,US-IL\n")


def _in_force(query, client_id: str) -> tuple[dict, dict, str]:
    contracts = {r["contract_id"]: r["terms"] for r in query(
        "select contract_id, terms from marts.dim_contracts where client_id = %s", client_id)}
    sites = {r["site_id"]: r["timezone"] for r in query(
        "select site_id, timezone from marts.dim_sites where client_id = %s", client_id)}
    [client] = query("select client_name from marts.dim_clients where client_id = %s", client_id)
    return contracts, sites, client["client_name"]


@pytest.mark.parametrize(("client_id", "number", "first", "second"), [
    ("C-7", "7", ["contracts", "crm"], ["contracts"]),  # contracts/ + crm/, then a lone edited YAML
    ("C-8", "8", ["crm"], ["contracts"]),  # the reverse: the CRM first, the YAML after it
])
def test_crm_contracts_stay_in_force_whatever_the_ingest_order(built, warehouse, query, tmp_path, client_id, number,
                                                                first, second):
    """Runs after the others: it adds its own client (its ids overlap no planted one)."""
    from connectors.inbox import ingest_inbox
    from vigil import db

    inbox = tmp_path / "inbox"
    _write_inbox(inbox, client_id, number)

    def files(folders: list[str]) -> list[str]:
        return [p.relative_to(inbox).as_posix() for f in folders for p in sorted((inbox / f).iterdir())]

    conn = db.connect()
    try:
        ingest_inbox(conn, inbox, only_files=files(first))
        path = inbox / "contracts" / f"{client_id}.yaml"
        path.write_text(path.read_text().replace("30.00", "33.00"))  # the YAML is edited
        report = ingest_inbox(conn, inbox, only_files=files(second))
        assert report.tables.get("contract_documents") == 1
        with conn.cursor() as cur:  # the newest raw document is the YAML's, with no CRM contract in it
            cur.execute("""select source, document from raw.contract_documents where client_id = %s
                           order by document_id desc limit 1""", (client_id,))
            source, document = cur.fetchone()
        conn.commit()
        assert source == "contracts" and f"K-{number}-M" not in json.dumps(document)
    finally:
        conn.close()
    result = run_dbt(warehouse, tmp_path / "dbt", "run", "--select", "+dim_contracts", "+dim_sites", "+dim_clients")
    assert result.success
    contracts, sites, name = _in_force(query, client_id)
    assert set(contracts) == {f"K-{number}-G", f"K-{number}-M"}  # the CRM's monitoring contract is in force
    assert contracts[f"K-{number}-G"]["rates"] == [{"service_type": "unarmed", "rate": "33.00"}]  # the edit too
    assert contracts[f"K-{number}-M"]["recurring"][0]["amount"] == "79.00"
    assert sites == {f"S-{number}1": "America/New_York", f"S-{number}2": "America/Chicago"}
    assert name == f"Client {number} (YAML)"  # the YAML is authoritative for the client block
