"""Generic record CSVs parsed without a database: what is accepted, what is refused and
where (physical line, field, reason)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from connectors.inbox import parse_file
from connectors.inbox.records import parse_incidents, parse_patrols, parse_timesheets
from tests.connectors.helpers import TIMESHEET_HEADER, write


def _by_line(result):
    return {q.line: q for q in result.quarantined}


def test_good_timesheets_to_utc_with_extra_columns_and_open_shift(tmp_path):
    path = write(tmp_path, "timesheets/a.csv", (
        "check_out,post,shift_id,site_id,guard_id,service_type,check_in,badge_color\n"
        "2026-10-05T18:07:00-04:00,Gate 2,SH-1,S-1,G-1,unarmed,2026-10-05T07:53:00-04:00,red\n"
        ",,SH-2,S-1,G-1,armed,2026-10-06T08:00:00Z,\n"
        "2026-10-07 18:00+05:30,,SH-3,S-1,G-2,unarmed,2026-10-07T08:00:00.250+0530,blue\n"
    ))
    result = parse_timesheets(path)
    assert result.quarantined == []
    rows = {r["record_id"]: r for r in result.rows.iter_rows(named=True)}
    assert rows["SH-1"]["check_in_at"] == datetime(2026, 10, 5, 11, 53, tzinfo=UTC)
    assert rows["SH-1"]["check_out_at"] == datetime(2026, 10, 5, 22, 7, tzinfo=UTC)
    assert rows["SH-1"]["post"] == "Gate 2"
    assert json.loads(rows["SH-1"]["extra"]) == {"badge_color": "red"}
    assert rows["SH-2"]["check_out_at"] is None  # open shift accepted: dbt raises missing_checkout
    assert rows["SH-3"]["check_in_at"] == datetime(2026, 10, 7, 2, 30, 0, 250000, tzinfo=UTC)
    assert rows["SH-3"]["check_out_at"] == datetime(2026, 10, 7, 12, 30, tzinfo=UTC)
    assert [r["source_line"] for r in result.rows.iter_rows(named=True)] == [2, 3, 4]
    assert result.rows["source_file"].to_list() == [str(path)] * 3
    assert result.files[0].rows_read == 3


def test_each_kind_of_bad_row_is_quarantined_and_the_rest_goes_on(tmp_path):
    path = write(tmp_path, "timesheets/bad.csv", "\n".join([
        TIMESHEET_HEADER,
        "SH-1,G-1,S-1,unarmed,2026-10-05T08:00:00-04:00,2026-10-05T16:00:00-04:00",
        "SH-2,,S-1,unarmed,2026-10-05T08:00:00-04:00,2026-10-05T16:00:00-04:00",      # missing field
        "SH-3,G-1,S-1,unarmed,yesterday at 8,2026-10-05T16:00:00-04:00",              # bad timestamp
        "SH-4,G-1,S-1,unarmed,2026-10-07T08:00:00,2026-10-07T16:00:00-04:00",          # no offset
        "SH-5,G-1,S-1,Armed Guard,2026-10-05T08:00:00-04:00,2026-10-05T16:00:00-04:00",  # bad code
        "SH-6,G-1,S-1,unarmed,2026-02-30T08:00:00Z,2026-10-05T16:00:00-04:00",         # no such day
        "SH-7,G-1,S-1,unarmed,2026-10-05T08:00:00-04:00",                              # short row
        "SH-8,G-1,S-1,unarmed,2026-10-08T08:00:00-04:00,2026-10-08T16:00:00-04:00",
    ]) + "\n")
    result = parse_timesheets(path)
    assert result.rows["record_id"].to_list() == ["SH-1", "SH-8"]
    refused = _by_line(result)
    assert sorted(refused) == [3, 4, 5, 6, 7, 8]
    assert (refused[3].record_id, refused[3].field) == ("SH-2", "guard_id")
    assert "required field guard_id is empty" in refused[3].reason
    assert refused[4].field == "check_in" and "not an ISO-8601 timestamp" in refused[4].reason
    assert refused[5].field == "check_in" and "has no UTC offset" in refused[5].reason
    assert "'2026-10-07T08:00:00'" in refused[5].reason
    assert refused[6].field == "service_type" and "'Armed Guard' is not a code" in refused[6].reason
    assert refused[7].field == "check_in" and "not a valid date and time" in refused[7].reason
    assert refused[8].field is None and "expected 6 fields" in refused[8].reason
    assert all(q.source == "timesheets" and q.file_path == str(path) for q in result.quarantined)
    assert json.loads(refused[3].content)["shift_id"] == "SH-2"


def test_physical_lines_count_quoted_multiline_fields(tmp_path):
    path = write(tmp_path, "incidents/i.csv", (
        "incident_id,site_id,classification,response_started_at,response_ended_at,description\n"
        'I-1,S-1,alarm_response,2026-10-05T01:00:00Z,2026-10-05T01:40:00Z,"door forced\n'
        'guard attended\n'
        'all clear"\n'
        "I-2,S-1,alarm_response,2026-10-05T03:00:00,2026-10-05T03:40:00Z,\n"
        '"I-3",S-1,medical,2026-10-05T05:00:00Z,2026-10-05T05:20:00Z,"one ""quoted"" line"\n'
        "I-4,S-1,medical,2026-10-05T06:00:00Z,bad,\n"
    ))
    result = parse_incidents(path)
    assert result.rows["record_id"].to_list() == ["I-1", "I-3"]
    assert result.rows["source_line"].to_list() == [2, 6]
    assert result.rows["description"].to_list()[0] == "door forced\nguard attended\nall clear"
    assert {q.record_id: q.line for q in result.quarantined} == {"I-2": 5, "I-4": 7}


def test_a_row_with_a_bad_and_a_missing_field_is_one_quarantine_row(tmp_path):
    path = write(tmp_path, "timesheets/t.csv",
                 TIMESHEET_HEADER + "\nSH-1,G-1,,unarmed,2026-10-05T08:00:00,2026-10-05T16:00:00-04:00\n")
    result = parse_timesheets(path)
    assert result.rows.height == 0
    [q] = result.quarantined
    assert q.line == 2 and q.field == "site_id"
    assert "required field site_id is empty" in q.reason and "check_in" in q.reason


def test_patrol_numbers(tmp_path):
    path = write(tmp_path, "patrols/p.csv", (
        "tour_id,site_id,guard_id,started_at,completed_at,checkpoints_required,checkpoints_scanned\n"
        "T-1,S-1,G-1,2026-10-05T01:00:00Z,2026-10-05T01:30:00Z,10,10\n"
        "T-2,S-1,G-1,2026-10-05T02:00:00Z,,10,7\n"
        "T-3,S-1,G-1,2026-10-05T03:00:00Z,,ten,7\n"
        "T-4,S-1,G-1,2026-10-05T04:00:00Z,,10,-1\n"
        "T-5,S-1,G-1,2026-10-05T05:00:00Z,,4,6\n"
        "T-6,S-1,G-1,2026-10-05T06:00:00Z,,2.5,1\n"
    ))
    result = parse_patrols(path)
    rows = {r["record_id"]: r for r in result.rows.iter_rows(named=True)}
    assert set(rows) == {"T-1", "T-2"}
    assert (rows["T-2"]["checkpoints_required"], rows["T-2"]["checkpoints_scanned"]) == (10, 7)
    assert rows["T-2"]["completed_at"] is None
    refused = {q.record_id: q for q in result.quarantined}
    assert refused["T-3"].field == "checkpoints_required" and "'ten' is not a whole number" in refused["T-3"].reason
    assert refused["T-4"].field == "checkpoints_scanned"
    assert refused["T-5"].field == "checkpoints_scanned" and "exceeds" in refused["T-5"].reason
    assert refused["T-6"].line == 7


def test_devices_dates(tmp_path):
    path = write(tmp_path, "devices/d.csv", (
        "device_id,site_id,device_type,active_from,active_to,vendor_ref\n"
        "D-1,S-1,camera,2026-01-01,,GEN-1\n"
        "D-2,S-1,camera,2026-01-01,2025-12-31,\n"
        "D-3,S-1,camera,01/02/2026,,\n"
    ))
    result = parse_file(path, "devices")
    [row] = result.rows.iter_rows(named=True)
    assert (row["active_from"], row["active_to"], row["vendor_ref"]) == (date(2026, 1, 1), None, "GEN-1")
    refused = {q.record_id: q for q in result.quarantined}
    assert refused["D-2"].field == "active_to" and "before active_from" in refused["D-2"].reason
    assert refused["D-3"].field == "active_from" and "YYYY-MM-DD" in refused["D-3"].reason


def test_whole_file_refusals(tmp_path):
    empty = parse_timesheets(write(tmp_path, "timesheets/empty.csv", ""))
    assert empty.rows.height == 0
    [q] = empty.quarantined
    assert q.line is None and "empty file" in q.reason

    missing = parse_timesheets(write(tmp_path, "timesheets/missing.csv",
                                     "shift_id,guard_id,site_id,check_in\nSH-1,G-1,S-1,2026-10-05T08:00:00Z\n"))
    [q] = missing.quarantined
    assert missing.rows.height == 0 and q.line == 1
    assert "missing required column(s): service_type, check_out" in q.reason

    header_only = parse_timesheets(write(tmp_path, "timesheets/none.csv", TIMESHEET_HEADER + "\n"))
    assert header_only.rows.height == 0 and header_only.quarantined == []

    latin = tmp_path / "timesheets" / "latin1.csv"
    latin.write_bytes((TIMESHEET_HEADER + "\nSH-1,G-1,S-1,unarmed,caf\xe9,\n").encode("latin-1"))
    [q] = parse_timesheets(latin).quarantined
    assert "not UTF-8" in q.reason


def test_bom_and_crlf_and_header_case(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(("\ufeffShift_ID,guard_id,site_id,service_type,check_in,check_out\r\n"
                      "SH-1,G-1,S-1,unarmed,2026-10-05T08:00:00Z,2026-10-05T16:00:00Z\r\n"
                      "\r\n"
                      "SH-2,G-1,S-1,unarmed,2026-10-06T08:00:00,\r\n").encode())
    result = parse_timesheets(path)
    assert result.rows["record_id"].to_list() == ["SH-1"]
    assert [q.line for q in result.quarantined] == [4]


def test_same_instant_in_another_offset_hashes_the_same(tmp_path):
    a = parse_timesheets(write(tmp_path, "a.csv", TIMESHEET_HEADER + "\nSH-1,G-1,S-1,unarmed,"
                               "2026-10-05T08:00:00-04:00,2026-10-05T16:00:00-04:00\n"))
    b = parse_timesheets(write(tmp_path, "b.csv", TIMESHEET_HEADER + "\nSH-1,G-1,S-1,unarmed,"
                               "2026-10-05T12:00:00Z,2026-10-05T20:00:00Z\n"))
    assert a.rows["content_hash"].to_list() == b.rows["content_hash"].to_list()
