"""The whole inbox into raw.* on a real PostgreSQL: counts, idempotence, duplicates and
versions, quarantine rows with file and physical line."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from connectors.inbox import ingest_inbox, parse_file, raw_counts
from connectors.store import store
from tests.connectors.helpers import SMALL_CONTRACT, SPEC_CONTRACT, TIMESHEET_HEADER, write
from tests.e2e.inbox_fixture import write_inbox

INCIDENTS = (
    "incident_id,site_id,classification,response_started_at,response_ended_at,responder_guard_id,note\n"
    'I-1,S-1,alarm_response,2026-10-05T01:00:00Z,2026-10-05T01:40:00Z,G-1,"two\nlines"\n'
    "I-2,S-1,medical,2026-10-05T03:00:00,2026-10-05T03:40:00Z,,\n"
)
PATROLS = (
    "tour_id,site_id,guard_id,started_at,checkpoints_required,checkpoints_scanned,completed_at\n"
    "T-1,S-1,G-1,2026-10-05T01:00:00Z,10,10,2026-10-05T01:30:00Z\n"
    "T-2,S-1,G-1,2026-10-05T02:00:00Z,10,x,\n"
)
DEVICES = "device_id,site_id,device_type,active_from\nD-1,S-1,camera,2026-01-01\nD-2,S-1,Camera!,2026-01-01\n"
TAX = "code,rate,taxable_categories,name\nUS-NY,0.04,regular_hours;monitoring,NY\nUS-NY,4,regular_hours,NYC\n"


def _full_inbox(root):
    write_inbox(root)  # the e2e inbox: 2 contracts, 3 tax rows, 9 good shifts + 1 without offset
    write(root, "incidents/2026-10.csv", INCIDENTS)
    write(root, "patrols/2026-10.csv", PATROLS)
    write(root, "devices/inventory.csv", DEVICES)
    write(root, "tax/jurisdictions.csv", TAX)
    return root


def _query(conn, sql, args=()):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        rows = cur.fetchall()
    conn.commit()
    return rows


def _wipe(conn):
    with conn, conn.cursor() as cur:
        cur.execute("""truncate raw.timesheets, raw.incidents, raw.patrols, raw.devices, raw.device_events,
                       raw.quarantine, raw.contract_documents, raw.tax_rates, raw.ingested_files""")


def test_inbox_ingested_once_then_nothing_new(conn, tmp_path):
    _wipe(conn)
    inbox = _full_inbox(tmp_path / "inbox")
    first = ingest_inbox(conn, inbox)
    assert first.ingested == {"contracts": 2, "tax": 1, "timesheets": 9, "incidents": 1, "patrols": 1, "devices": 1}
    assert first.quarantined == {"tax": 1, "timesheets": 1, "incidents": 1, "patrols": 1, "devices": 1}
    assert first.new_rows("quarantine") == 5 and first.new_rows("timesheets") == 9
    assert "timesheets 9" in first.summary()

    counts = raw_counts(conn)
    assert counts == {"ingested": first.ingested, "quarantined": first.quarantined}

    second = ingest_inbox(conn, inbox)  # every file is the version ingested: none is read
    assert second.ingested == {} and second.quarantined == {} and second.quarantined_records() == []
    assert (second.files, second.skipped) == (0, 7)
    assert raw_counts(conn) == counts
    assert _query(conn, "select count(*) from raw.ingested_files")[0][0] == 7


def test_rows_land_typed_with_file_and_physical_line(conn, tmp_path):
    _wipe(conn)
    inbox = _full_inbox(tmp_path / "inbox")
    ingest_inbox(conn, inbox)
    [(check_in, check_out, line, source_file)] = _query(
        conn, "select check_in_at, check_out_at, source_line, source_file from raw.timesheets where record_id = 'SH-1'")
    assert check_in == datetime(2026, 10, 5, 11, 53, tzinfo=UTC)
    assert check_out == datetime(2026, 10, 5, 22, 7, tzinfo=UTC)
    assert (line, source_file) == (2, str(inbox / "timesheets/2026-10.csv"))

    [(extra, line)] = _query(conn, "select extra, source_line from raw.incidents where record_id = 'I-1'")
    assert extra == {"note": "two\nlines"} and line == 2

    quarantine = {r[0]: r[1:] for r in _query(
        conn, "select record_id, source, file_path, line, field, reason from raw.quarantine")}
    assert quarantine["SH-99"][:4] == ("timesheets", str(inbox / "timesheets/2026-10.csv"), 11, "check_in")
    assert "no UTC offset" in quarantine["SH-99"][4]
    assert quarantine["I-2"][2:4] == (4, "response_started_at")  # after a two-line record
    assert quarantine["T-2"][2:4] == (3, "checkpoints_scanned")
    assert quarantine["D-2"][3] == "device_type"
    assert quarantine["US-NY"][2:4] == (3, "rate")

    taxes = _query(conn, "select jurisdiction_code, rate, taxable_categories, name from raw.tax_rates")
    assert taxes == [("US-NY", Decimal("0.04"), ["regular_hours", "monitoring"], "NY")]
    [(read, ingested, refused)] = _query(
        conn, "select rows_read, rows_ingested, rows_quarantined from raw.ingested_files where source = 'timesheets'")
    assert (read, ingested, refused) == (10, 9, 1)


def test_duplicate_stored_once_changed_content_stored_again(conn, tmp_path):
    _wipe(conn)
    row = "SH-1,G-1,S-1,unarmed,2026-10-05T08:00:00-04:00,2026-10-05T16:00:00-04:00"
    inbox = tmp_path / "inbox"
    write(inbox, "timesheets/a.csv", f"{TIMESHEET_HEADER}\n{row}\n{row}\n")
    assert ingest_inbox(conn, inbox).ingested == {"timesheets": 1}

    # the same record in another file, with the same instant written in UTC: nothing new
    write(inbox, "timesheets/b.csv",
          f"{TIMESHEET_HEADER}\nSH-1,G-1,S-1,unarmed,2026-10-05T12:00:00Z,2026-10-05T20:00:00Z\n")
    assert ingest_inbox(conn, inbox).ingested == {"timesheets": 0}

    # a corrected check-out: a second version (dbt raises duplicate_record)
    write(inbox, "timesheets/c.csv",
          f"{TIMESHEET_HEADER}\nSH-1,G-1,S-1,unarmed,2026-10-05T08:00:00-04:00,2026-10-05T17:00:00-04:00\n")
    assert ingest_inbox(conn, inbox).ingested == {"timesheets": 1}
    assert _query(conn, "select count(*), count(distinct content_hash) from raw.timesheets "
                        "where record_id = 'SH-1'") == [(2, 2)]


def test_quarantined_record_delivered_again_adds_no_row(conn, tmp_path):
    _wipe(conn)
    bad = "SH-9,G-1,S-1,unarmed,2026-10-05T08:00:00,2026-10-05T16:00:00-04:00"
    inbox = tmp_path / "inbox"
    write(inbox, "timesheets/a.csv", f"{TIMESHEET_HEADER}\n{bad}\n")
    assert ingest_inbox(conn, inbox).quarantined == {"timesheets": 1}
    write(inbox, "timesheets/b.csv", f"{TIMESHEET_HEADER}\n{bad}\n")
    assert ingest_inbox(conn, inbox).quarantined == {}
    assert raw_counts(conn)["quarantined"] == {"timesheets": 1}


def test_only_files_and_unknown_vendor_folder(conn, tmp_path):
    _wipe(conn)
    inbox = tmp_path / "inbox"
    write(inbox, "contracts/C-1001.yaml", SPEC_CONTRACT)
    write(inbox, "contracts/C-2.yaml", SMALL_CONTRACT)
    write(inbox, "acme_guard_pro/export.csv", "a,b\n1,2\n")
    report = ingest_inbox(conn, inbox, only_files=["contracts/C-2.yaml"])
    assert report.ingested == {"contracts": 1} and report.quarantined == {}

    report = ingest_inbox(conn, inbox)
    assert report.ingested["contracts"] == 1
    assert report.quarantined == {"acme_guard_pro": 1}
    [refusal] = report.quarantined_records()
    assert "no connector for inbox folder 'acme_guard_pro'" in refusal.reason


def test_store_returns_new_rows_per_source(conn, tmp_path):
    _wipe(conn)
    path = write(tmp_path, "timesheets/a.csv", f"{TIMESHEET_HEADER}\n"
                 "SH-1,G-1,S-1,unarmed,2026-10-05T08:00:00Z,\nSH-2,G-1,S-1,unarmed,2026-10-06T08:00:00Z,\n")
    result = parse_file(path, "timesheets")
    assert store(conn, [result]) == {"timesheets": 2}
    assert store(conn, [result]) == {"timesheets": 0}
    assert _query(conn, "select count(*) from raw.timesheets where check_out_at is null")[0][0] == 2


def test_large_file_goes_in_with_copy(conn, tmp_path):
    _wipe(conn)
    lines = [TIMESHEET_HEADER] + [
        f"SH-{i},G-{i % 50},S-1,unarmed,2026-10-05T08:{i % 60:02d}:00Z,2026-10-05T16:00:00Z" for i in range(50_000)]
    lines[25_001] = lines[25_001].replace("Z,", ",", 1)  # one bad row in the middle
    path = write(tmp_path, "timesheets/big.csv", "\n".join(lines) + "\n")
    result = parse_file(path, "timesheets")
    assert result.rows.height == 49_999 and [q.line for q in result.quarantined] == [25_002]
    assert store(conn, [result]) == {"timesheets": 49_999}


def test_store_takes_a_vendor_style_result(conn, tmp_path):
    """No `files`, no `content_hash`: the store hashes rows and derives ingested_files."""
    import json

    import polars as pl

    from connectors.base import ParseResult, Quarantined

    _wipe(conn)
    rows = pl.DataFrame({
        "record_id": ["9001"], "site_id": ["S-1"], "device_id": ["D-1"], "event_type": ["door_forced"],
        "occurred_at": [datetime(2026, 10, 5, 6, 0, tzinfo=UTC)], "incident_ref": [None], "vendor_ref": ["9001"],
        "extra": [json.dumps({"WhereName": "Door 1"})], "source_file": ["https://api.example/events?page=1"],
        "source_line": [1],
    }, schema_overrides={"occurred_at": pl.Datetime("us", "UTC"), "incident_ref": pl.Utf8})
    refused = [Quarantined("acme", "https://api.example/events?page=1", 2, "9002", "occurred_at", "bad", "{}")]
    result = ParseResult("acme", "device_events", rows, refused)
    assert store(conn, [result]) == {"acme": 1}
    assert store(conn, [result]) == {"acme": 0}
    assert _query(conn, "select extra->>'WhereName', occurred_at from raw.device_events") == [
        ("Door 1", datetime(2026, 10, 5, 6, 0, tzinfo=UTC))]
    assert _query(conn, "select rows_read, rows_ingested, rows_quarantined from raw.ingested_files") == [(2, 1, 1)]
    assert raw_counts(conn) == {"ingested": {"acme": 1}, "quarantined": {"acme": 1}}


def test_a_stray_file_in_a_generic_folder_is_quarantined_not_ignored(conn, tmp_path):
    _wipe(conn)
    inbox = tmp_path / "inbox"
    write(inbox, "timesheets/notes.txt", "call the client\n")
    write(inbox, "timesheets/.hidden.csv", "ignored\n")
    report = ingest_inbox(conn, inbox)
    [refusal] = report.quarantined_records()
    assert refusal.source == "timesheets" and "unexpected file in timesheets/" in refusal.reason


# ---------------------------------------------------------------------------------------
# ingest once (issue 14)

AMAG_HEADER = ("TxnID,DateTimeOfTxn,CompanyID,CompanyName,WhereName,TxnConditionName,AlarmPriority,"
               "FirstName,LastName,CustomerCodeNumber,CardNumber\n")


def _amag(inbox, day: int, bad_company: str = "9") -> None:
    """An AMAG activity export of day `day`: one good transaction, one at an unknown company."""
    write(inbox, f"amag/ActivityDataView_202503{day:02d}.csv", AMAG_HEADER
          + f"{day}001,2025-03-{day:02d} 10:00:00.000,3,Acme,Door 1,Card Valid,0,,,0,0\n"
          + f"{day}002,2025-03-{day:02d} 11:00:00.000,{bad_company},Acme,Door 1,Card Valid,0,,,0,0\n")


def _amag_folder(inbox) -> None:
    write(inbox, "amag/sites.csv", "CompanyID,site_id,timezone\n3,S-1,America/New_York\n")
    write(inbox, "amag/devices.csv", "DeviceID,DeviceName,DeviceType,CompanyID,ControllerName,ActiveDateTime,"
                                     "InactiveDateTime\n301,Door 1,Reader,3,C1,2025-01-15 00:00:00.000,\n")


def test_a_file_ingested_is_not_read_again_until_its_content_changes(conn, tmp_path):
    _wipe(conn)
    inbox = tmp_path / "inbox"
    version_a = f"{TIMESHEET_HEADER}\nSH-1,G-1,S-1,unarmed,2026-10-05T08:00:00Z,2026-10-05T16:00:00Z\n"
    version_b = version_a.replace("16:00:00Z", "17:00:00Z")
    path = write(inbox, "timesheets/day.csv", version_a)
    assert ingest_inbox(conn, inbox).files == 1

    path.write_text(version_a)  # written again, same bytes: recognised by its hash, not read
    touched = ingest_inbox(conn, inbox)
    assert (touched.files, touched.skipped) == (0, 1)

    path.write_text(version_b)
    changed = ingest_inbox(conn, inbox)
    assert (changed.files, changed.ingested) == (1, {"timesheets": 1})

    path.write_text(version_a)  # A, B, then A again: A is what the path holds now, so it is read
    again = ingest_inbox(conn, inbox)
    assert (again.files, again.ingested) == (1, {"timesheets": 0})
    assert ingest_inbox(conn, inbox).files == 0
    assert _query(conn, "select count(*) from raw.timesheets") == [(2,)]


def test_a_file_changed_within_the_settle_time_waits(conn, tmp_path):
    _wipe(conn)
    inbox = tmp_path / "inbox"
    write(inbox, "timesheets/day.csv", f"{TIMESHEET_HEADER}\nSH-1,G-1,S-1,unarmed,2026-10-05T08:00:00Z,\n")
    waiting = ingest_inbox(conn, inbox, settle_seconds=3600)
    assert waiting.waiting == ["timesheets/day.csv"] and waiting.files == 0
    assert _query(conn, "select count(*) from raw.timesheets, raw.ingested_files") == [(0,)]
    assert ingest_inbox(conn, inbox, settle_seconds=0).ingested == {"timesheets": 1}


def test_a_vendor_folder_reads_its_new_exports_only(conn, tmp_path):
    _wipe(conn)
    inbox = tmp_path / "inbox"
    _amag_folder(inbox)
    _amag(inbox, 4)
    first = ingest_inbox(conn, inbox)
    assert first.ingested == {"amag": 2} and first.quarantined == {"amag": 1}  # device + event; unknown company

    _amag(inbox, 5)
    second = ingest_inbox(conn, inbox)
    assert (second.files, second.skipped) == (1, 3)
    assert second.ingested == {"amag": 1}
    # only the new export was parsed: day 4's refused transaction is not refused again
    assert [q.record_id for q in second.quarantined_records()] == ["5002"]

    # a new site map changes how every export reads: the whole folder is read again
    write(inbox, "amag/sites.csv", "CompanyID,site_id,timezone\n3,S-1,America/New_York\n9,S-9,UTC\n")
    third = ingest_inbox(conn, inbox)
    assert third.files == 1 and third.ingested == {"amag": 2}  # day 4's and day 5's second rows now map
    assert ingest_inbox(conn, inbox).files == 0
    assert _query(conn, "select count(*) from raw.device_events") == [(4,)]
    assert _query(conn, "select count(*) from raw.quarantine") == [(2,)]


def test_ingested_record_exports_can_be_archived(conn, tmp_path):
    _wipe(conn)
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    write(inbox, "contracts/C-2.yaml", SMALL_CONTRACT)
    write(inbox, "timesheets/day.csv", f"{TIMESHEET_HEADER}\nSH-1,G-1,S-1,unarmed,2026-10-05T08:00:00Z,\n")
    _amag_folder(inbox)
    _amag(inbox, 4)
    report = ingest_inbox(conn, inbox, archive_dir=archive)
    assert report.archived == 2
    moved = sorted(p.relative_to(archive).as_posix().split("/", 1)[1] for p in archive.rglob("*") if p.is_file())
    assert moved == ["amag/ActivityDataView_20250304.csv", "timesheets/day.csv"]
    left = sorted(p.relative_to(inbox).as_posix() for p in inbox.rglob("*") if p.is_file())
    assert left == ["amag/devices.csv", "amag/sites.csv", "contracts/C-2.yaml"]
    assert _query(conn, "select count(*) from raw.timesheets") == [(1,)]
    assert ingest_inbox(conn, inbox, archive_dir=archive).files == 0



def test_a_large_inbox_goes_in_batches_with_the_same_result(conn, tmp_path, monkeypatch):
    import connectors.inbox as inbox_module

    _wipe(conn)
    inbox = _full_inbox(tmp_path / "inbox")
    _amag_folder(inbox)
    _amag(inbox, 4)
    _amag(inbox, 5)
    monkeypatch.setattr(inbox_module, "BATCH_BYTES", 1)  # every record export its own batch
    report = ingest_inbox(conn, inbox)
    assert report.files == 11
    assert report.ingested == {"contracts": 2, "tax": 1, "timesheets": 9, "incidents": 1, "patrols": 1, "devices": 1,
                               "amag": 3}
    assert report.quarantined == {"tax": 1, "timesheets": 1, "incidents": 1, "patrols": 1, "devices": 1, "amag": 2}
    assert _query(conn, "select count(*) from raw.ingested_files")[0][0] == 11
    assert ingest_inbox(conn, inbox).files == 0
