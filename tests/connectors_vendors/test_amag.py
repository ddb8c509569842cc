"""AMAG Symmetry connector: ActivityDataView parsing (mapping, site-local time across DST
changes, planted bad records) and the TxnID-paged export client over real HTTP."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from connectors.amag import parser, simulator
from connectors.amag.client import AmagAuthError, AmagClient, AmagError
from connectors.amag.fake_server import FakeSymmetryExport
from connectors.base import CANONICAL_COLUMNS
from connectors.simulator.world import build_world

HEADER = ("TxnID,DateTimeOfTxn,CompanyID,CompanyName,WhereName,TxnConditionName,AlarmPriority,"
          "FirstName,LastName,CustomerCodeNumber,CardNumber\n")


def _folder(tmp_path: Path, activity: str) -> Path:
    folder = tmp_path / "amag"
    folder.mkdir()
    (folder / "sites.csv").write_text("CompanyID,site_id,timezone\n3,SITE-B,America/New_York\n"
                                      "4,SITE-C,Europe/Berlin\n")
    (folder / "devices.csv").write_text(
        "DeviceID,DeviceName,DeviceType,CompanyID,ControllerName,ActiveDateTime,InactiveDateTime\n"
        "301,Bldg A Lobby In,Reader,3,M2150 A,2025-01-15 00:00:00.000,\n"
        "300,M2150 A,Controller,3,M2150 A,2025-01-10 09:00:00.000,2025-12-31 23:59:59.000\n")
    (folder / "ActivityDataView_20250304.csv").write_text(HEADER + activity)
    return folder


def _by_table(results):
    return {r.table: r for r in results}


def test_transactions_map_to_canonical_rows(tmp_path):
    folder = _folder(tmp_path, "88412031,2025-03-04 02:14:07.000,3,Acme Logistics,Bldg A Lobby In,Card Valid,0,"
                               "Ana,Ruiz,117,100245\n"
                               "88412044,2025-03-04 02:15:02.000,3,Acme Logistics,Dock Door 2,DOOR FORCED OPEN,10"
                               ",,,0,0\n"
                               "88412050,2025-03-04 02:16:00.000,3,Acme Logistics,Dock Door 2,Custom Thing,1,,,0,0\n")
    results = _by_table(parser.parse_folder(folder))
    events = results["device_events"]
    assert events.source == "amag" and not events.quarantined
    assert set(CANONICAL_COLUMNS["device_events"]) <= set(events.rows.columns)
    rows = {r["record_id"]: r for r in events.rows.iter_rows(named=True)}
    valid = rows["88412031"]
    assert valid["vendor_ref"] == "88412031"
    assert valid["site_id"] == "SITE-B"
    assert valid["device_id"] == "301"  # WhereName matched to the device export
    assert valid["event_type"] == "access_granted"
    assert valid["occurred_at"] == datetime(2025, 3, 4, 7, 14, 7, tzinfo=UTC)  # EST, UTC-5
    assert valid["source_line"] == 2
    extra = json.loads(valid["extra"])
    assert extra["wherename"] == "Bldg A Lobby In" and extra["local_time"] == "2025-03-04 02:14:07.000"
    assert "firstname" not in extra and "lastname" not in extra
    assert rows["88412044"]["event_type"] == "door_forced"
    assert rows["88412044"]["device_id"] is None  # a door not in the device export
    assert rows["88412050"]["event_type"] == "other"

    devices = {r["record_id"]: r for r in results["devices"].rows.iter_rows(named=True)}
    assert devices["301"]["device_type"] == "door_reader" and devices["301"]["active_from"] == date(2025, 1, 15)
    assert devices["300"]["device_type"] == "panel" and devices["300"]["active_to"] == date(2025, 12, 31)


def test_local_time_across_dst_changes(tmp_path):
    folder = _folder(tmp_path, "\n".join([
        "1,2026-03-08 01:59:59.000,3,A,Door,Card Valid,0,,,0,0",   # EST, before the gap
        "2,2026-03-08 02:30:00.000,3,A,Door,Card Valid,0,,,0,0",   # in the gap: does not exist
        "3,2026-03-08 03:00:00.000,3,A,Door,Card Valid,0,,,0,0",   # EDT, after the gap
        "4,2026-11-01 01:30:00.000,3,A,Door,Card Valid,0,,,0,0",   # ambiguous: earlier instant (EDT)
        "5,2026-11-01 02:30:00.000,3,A,Door,Card Valid,0,,,0,0",   # EST after fall-back
        "6,2026-03-29 02:30:00.000,4,B,Door,Card Valid,0,,,0,0",   # Berlin gap, other site
        "7,2026-10-25 02:30:00.000,4,B,Door,Card Valid,0,,,0,0",   # Berlin ambiguous
    ]) + "\n")
    events = _by_table(parser.parse_folder(folder))["device_events"]
    at = {r["record_id"]: r["occurred_at"] for r in events.rows.iter_rows(named=True)}
    assert at["1"] == datetime(2026, 3, 8, 6, 59, 59, tzinfo=UTC)
    assert at["3"] == datetime(2026, 3, 8, 7, 0, 0, tzinfo=UTC)
    assert (at["3"] - at["1"]).total_seconds() == 1  # one real second across the gap
    assert at["4"] == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert at["5"] == datetime(2026, 11, 1, 7, 30, tzinfo=UTC)
    assert at["7"] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # CEST, the earlier of the two
    flagged = {r["record_id"] for r in events.rows.iter_rows(named=True)
               if json.loads(r["extra"]).get("ambiguous_local_time")}
    assert flagged == {"4", "7"}
    refused = {q.record_id: q for q in events.quarantined}
    assert set(refused) == {"2", "6"}
    assert refused["2"].field == "DateTimeOfTxn" and "does not exist in America/New_York" in refused["2"].reason
    assert refused["2"].line == 3 and "Europe/Berlin" in refused["6"].reason


def test_bad_records_are_quarantined_with_line_and_reason(tmp_path):
    folder = _folder(tmp_path, "\n".join([
        ",2025-03-04 02:14:07.000,3,A,Door,Card Valid,0,,,0,0",       # line 2: no TxnID
        "10,2025-03-04T02:14:07-05:00,3,A,Door,Card Valid,0,,,0,0",   # line 3: zone where none is expected
        "11,2025-03-04 02:14:07.000,9,A,Door,Card Valid,0,,,0,0",     # line 4: unknown company
        '12,2025-03-04 02:14:07.000,3,"Multi',                         # line 5-6: a quoted newline ...
        'line",Door,Card Valid,0,,,0,0',
        "13,2025-03-04 02:14:07.000,3,A,Door",                         # line 7: short row
        "14,2025-03-04 02:14:07.000,3,A,Door,Card Valid,0,,,0,0",     # line 8: fine
    ]) + "\n")
    (folder / "notes.csv").write_text("hello,world\n1,2\n")
    events = _by_table(parser.parse_folder(folder))["device_events"]
    refused = {(Path(q.file_path).name, q.line): q for q in events.quarantined}
    assert refused[("ActivityDataView_20250304.csv", 2)].field == "TxnID"
    assert refused[("ActivityDataView_20250304.csv", 3)].field == "DateTimeOfTxn"
    assert "unknown site" in refused[("ActivityDataView_20250304.csv", 4)].reason
    assert "expected 11 fields" in refused[("ActivityDataView_20250304.csv", 7)].reason
    assert "unrecognised export" in refused[("notes.csv", 1)].reason
    lines = dict(zip(events.rows["record_id"], events.rows["source_line"], strict=True))
    assert lines == {"12": 5, "14": 8}  # physical line of the record's start


def test_simulated_exports_plant_quarantined_records(tmp_path):
    world = build_world(days=14, seed=7)
    info = simulator.write_exports(world, tmp_path / "amag")
    results = _by_table(parser.parse_folder(tmp_path / "amag"))
    assert 1 <= len(info["planted"]) <= 3
    for plant in info["planted"]:
        found = [q for q in results[plant["table"]].quarantined
                 if q.file_path == plant["path"] and q.line == plant["line"]]
        assert len(found) == 1, plant
        assert found[0].field == plant["field"] and plant["reason"] in found[0].reason
        assert found[0].record_id == plant["record_id"] and plant["expect"] == "quarantine"
    assert sum(len(r.quarantined) for r in results.values()) == len(info["planted"])
    assert results["device_events"].rows.height == info["records"]["device_events"]
    amag_sites = {s.site_id for s in world.sites if s.access_vendor == "amag"}
    rows = results["device_events"].rows
    assert amag_sites and set(rows["site_id"].unique()) == amag_sites
    assert rows.filter(event_type="door_forced").height == sum(
        1 for e in world.device_events if e.event_type == "door_forced" and e.site_id in amag_sites)
    for incident in (i for i in world.incidents if i.site_id in amag_sites):
        around = rows.filter((pl.col("site_id") == incident.site_id)
                             & pl.col("occurred_at").is_between(incident.opened_at - timedelta(minutes=10),
                                                                incident.response_ended_at + timedelta(minutes=10)))
        assert {"access_granted", "door_closed"} <= set(around["event_type"]), incident.incident_id
    assert rows["device_id"].null_count() == 0
    assert set(rows["device_id"]) <= set(results["devices"].rows["record_id"])


# --- client over HTTP ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world():
    return build_world(days=14, seed=7)


def _client(fake, world, sleeps=None, **kw):
    return AmagClient(fake.base_url, "vigil", "secret", sites=simulator.site_map(world),
                      page_size=kw.pop("page_size", 100), backoff=0.01,
                      sleep=(sleeps.append if sleeps is not None else (lambda s: None)), **kw)


def test_client_pages_retries_and_advances_cursor(world):
    records = simulator.records_for_server(world)
    with FakeSymmetryExport(**records) as fake:
        sleeps: list[float] = []
        client = _client(fake, world, sleeps, page_size=8)
        fake.fail_next(429, 1, retry_after="3")
        fake.fail_next(503, 1)
        results, cursor = client.pull(None)
        events, devices = _by_table(results)["device_events"], _by_table(results)["devices"]
        assert events.rows.height == len(records["transactions"]) and not events.quarantined
        assert devices.rows.height == len(records["devices"])
        assert fake.statuses()[:3] == [429, 503, 200]
        assert sleeps[0] == 3.0
        pages = [p for _, p, s in fake.requests if p.startswith("/export/activity") and s == 200]
        assert len(pages) >= 3
        assert cursor == records["transactions"][-1]["TxnID"]

        again, cursor2 = client.pull(cursor)
        assert _by_table(again)["device_events"].rows.height == 0 and cursor2 == cursor

        late = dict(records["transactions"][-1], TxnID=str(int(cursor) + 5))
        fake.add_transactions([late])
        third, cursor3 = client.pull(cursor2)
        assert third[0].rows["record_id"].to_list() == [late["TxnID"]] and cursor3 == late["TxnID"]


def test_same_record_pulled_or_exported_has_same_hash(world, tmp_path):
    simulator.write_exports(world, tmp_path / "amag")
    exported = _by_table(parser.parse_folder(tmp_path / "amag"))["device_events"]
    with FakeSymmetryExport(**simulator.records_for_server(world)) as fake:
        pulled = _client(fake, world, page_size=30).pull(None)[0][0]
    assert set(pulled.rows["content_hash"]) == set(exported.rows["content_hash"])


def test_bad_credentials_give_a_clear_error(world):
    with FakeSymmetryExport(**simulator.records_for_server(world)) as fake:
        client = AmagClient(fake.base_url, "vigil", "wrong", sites=simulator.site_map(world))
        with pytest.raises(AmagAuthError, match="refused user 'vigil': HTTP 401"):
            client.pull(None)


def test_persistent_outage_and_bad_cursor_give_clear_errors(world):
    with FakeSymmetryExport(**simulator.records_for_server(world)) as fake:
        client = _client(fake, world, max_attempts=3)
        fake.fail_next(503, 10)
        with pytest.raises(AmagError, match=r"HTTP 503: gave up after 3 attempts"):
            client.pull(None)
        with pytest.raises(AmagError, match="cursor must be a TxnID"):
            client.pull("2025-03-04")


@pytest.mark.integration
def test_exports_store_into_raw_tables_once(conn, tmp_path):
    from connectors.store import store_results

    world = build_world(days=7, seed=7)
    info = simulator.write_exports(world, tmp_path / "amag")
    first = store_results(conn, parser.parse_folder(tmp_path / "amag"))
    assert first.tables["device_events"] == info["records"]["device_events"]
    assert first.tables["devices"] == info["records"]["devices"]
    assert first.quarantined["amag"] == len(info["planted"])
    again = store_results(conn, parser.parse_folder(tmp_path / "amag"))
    assert sum(again.tables.values()) == 0
    with conn.cursor() as cur:
        cur.execute("select min(occurred_at) from raw.device_events where source = 'amag'")
        assert cur.fetchone()[0] is not None


def test_powershell_and_ssms_extractions_are_both_read(tmp_path):
    """fixtures/amag/README.md: Export-Csv (#TYPE line, quoted, en-US culture dates, CardID)
    and SSMS (NULL) extractions of ActivityDataView."""
    import shutil

    folder = tmp_path / "amag"
    shutil.copytree(Path(__file__).parent / "fixtures" / "amag", folder, ignore=shutil.ignore_patterns("README.md"))
    events = _by_table(parser.parse_folder(folder))["device_events"]
    assert not events.quarantined
    rows = {r["record_id"]: r for r in events.rows.iter_rows(named=True)}
    assert set(rows) == {"88412031", "88412044", "88412050", "88412051"}
    assert rows["88412031"]["occurred_at"] == datetime(2025, 3, 4, 7, 31, 45, tzinfo=UTC)  # 2:31:45 AM EST
    assert rows["88412044"]["occurred_at"] == datetime(2025, 3, 4, 19, 15, 2, tzinfo=UTC)  # 2:15:02 PM
    assert rows["88412044"]["event_type"] == "door_forced"
    assert rows["88412031"]["source_line"] == 3  # the #TYPE line is line 1, the header line 2
    assert json.loads(rows["88412031"]["extra"])["cardnumber"] == "100245"
    assert json.loads(rows["88412031"]["extra"])["local_time"] == "2025-03-04 02:31:45.000"
    assert json.loads(rows["88412051"]["extra"])["cardnumber"] == ""  # NULL is empty
    assert rows["88412050"]["occurred_at"] == datetime(2025, 3, 4, 7, 14, 7, tzinfo=UTC)


def test_a_24_hour_slash_date_is_refused_naming_the_culture(tmp_path):
    folder = tmp_path / "amag"
    folder.mkdir()
    (folder / "sites.csv").write_text("CompanyID,site_id,timezone\n3,SITE-A,America/New_York\n")
    (folder / "a.csv").write_text('#TYPE System.Data.DataRow\n"TxnID","DateTimeofTxn","CompanyID"\n'
                                  '"1","04/03/2025 14:31:45","3"\n')
    [refused] = _by_table(parser.parse_folder(folder))["device_events"].quarantined
    assert refused.line == 3 and refused.field == "DateTimeOfTxn" and "no AM/PM" in refused.reason
