"""Lenel OnGuard connector: export parsing (mapping, key case, planted bad records) and the
OpenAccess client over real HTTP against the local fake (auth, paging, retries, cursor)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from connectors.base import CANONICAL_COLUMNS
from connectors.http import Watermark
from connectors.lenel import parser, simulator
from connectors.lenel.client import LenelAuthError, LenelClient, LenelError
from connectors.lenel.fake_server import FakeOpenAccess
from connectors.simulator.world import build_world

FIXTURES = Path(__file__).parent / "fixtures" / "lenel"
SAMPLE_PAGE = json.loads((FIXTURES / "logged_events_page_0001.json").read_text())


def _write_folder(tmp_path: Path) -> Path:
    """The fixtures (fixtures/lenel/README.md): real OpenAccess page shapes."""
    folder = tmp_path / "lenel"
    shutil.copytree(FIXTURES, folder, ignore=shutil.ignore_patterns("README.md"))
    return folder


def _by_table(results):
    return {r.table: r for r in results}


def test_logged_events_map_to_canonical_rows(tmp_path):
    results = _by_table(parser.parse_folder(_write_folder(tmp_path)))
    events = results["device_events"]
    assert events.source == "lenel"
    assert not events.quarantined
    assert set(CANONICAL_COLUMNS["device_events"]) <= set(events.rows.columns)
    rows = {r["vendor_ref"]: r for r in events.rows.iter_rows(named=True)}
    granted = rows["1741054447"]
    assert granted["record_id"] == "3-1741054447"
    assert granted["site_id"] == "SITE-A"
    assert granted["device_id"] == "reader-3-12"
    assert granted["event_type"] == "access_granted"
    assert granted["occurred_at"] == datetime(2025, 3, 4, 7, 14, 7, tzinfo=UTC)  # the server's -05:00
    assert granted["source_line"] == 1 and granted["source_file"].endswith("logged_events_page_0001.json")
    extra = json.loads(granted["extra"])
    assert extra["device_name"] == "Lobby In" and extra["event_subtype"] == 20
    assert "cardholder_last_name" not in extra  # personal data is not kept
    # upper-case keys are read; unknown codes fall back to the description
    assert rows["1741054502"]["event_type"] == "door_forced"
    assert rows["1741054502"]["device_id"] == "reader-3-14"
    # code table; device 0 is the panel itself
    assert rows["1741054510"]["event_type"] == "panel_offline"
    assert rows["1741054510"]["occurred_at"] == datetime(2025, 3, 4, 7, 20, tzinfo=UTC)
    assert rows["1741054510"]["device_id"] == "panel-3"
    assert events.rows["content_hash"].n_unique() == 3


def test_inventory_snapshots_give_first_and_last_seen(tmp_path):
    """Items carry their own type_name (no page-level one); no install date: active from
    the first snapshot listing a device, until the last one that did once it is gone."""
    devices = _by_table(parser.parse_folder(_write_folder(tmp_path)))["devices"]
    assert not devices.quarantined
    rows = {r["record_id"]: r for r in devices.rows.iter_rows(named=True)}
    assert set(rows) == {"reader-3-12", "reader-3-14", "panel-3"}
    assert rows["reader-3-12"]["device_type"] == "door_reader"
    assert (rows["reader-3-12"]["active_from"], rows["reader-3-12"]["active_to"]) == (date(2025, 1, 15), None)
    assert (rows["reader-3-14"]["active_from"], rows["reader-3-14"]["active_to"]) == (date(2025, 2, 1),
                                                                                      date(2025, 2, 1))
    assert rows["reader-3-14"]["vendor_ref"] == "3/14"
    assert json.loads(rows["reader-3-12"]["extra"])["hostname"] == "lnl-3-12.bldg-a.example"
    assert rows["panel-3"]["device_type"] == "panel" and rows["panel-3"]["site_id"] == "SITE-A"
    assert rows["panel-3"]["active_from"] == date(2025, 1, 10)


def test_a_new_snapshot_of_unchanged_devices_stores_nothing_new(tmp_path):
    folder = _write_folder(tmp_path)
    before = set(_by_table(parser.parse_folder(folder))["devices"].rows["content_hash"])
    (folder / "instances_Lnl_Panel_2025-04-01.json").write_text(
        (folder / "instances_Lnl_Panel_2025-01-10.json").read_text())
    assert set(_by_table(parser.parse_folder(folder))["devices"].rows["content_hash"]) == before


def test_undated_snapshot_and_unknown_type_are_quarantined(tmp_path):
    folder = _write_folder(tmp_path)
    (folder / "instances_Lnl_Reader.json").write_text((folder / "instances_Lnl_Reader_2025-01-15.json").read_text())
    page = json.loads((folder / "instances_Lnl_Panel_2025-01-10.json").read_text())
    page["item_list"].append({"type_name": "Lnl_Camera", "property_value_map": {"ID": 9}})
    (folder / "instances_Lnl_Panel_2025-01-10.json").write_text(json.dumps(page))
    results = _by_table(parser.parse_folder(folder))
    [undated] = [q for q in results["device_events"].quarantined if q.file_path.endswith("instances_Lnl_Reader.json")]
    assert "without a date in its name" in undated.reason and "no install date" in undated.reason
    [camera] = results["devices"].quarantined
    assert camera.field == "type_name" and "Lnl_Camera" in camera.reason and camera.line == 2


def test_bad_records_and_files_are_quarantined_not_dropped(tmp_path):
    folder = _write_folder(tmp_path)
    page = json.loads(json.dumps(SAMPLE_PAGE))
    page["item_list"] = [
        {"timestamp": "2025-03-04T07:15:02+00:00", "controller_id": 3},  # no serial
        {"serial_number": 5, "timestamp": "2025-03-04 07:15:02", "controller_id": 3},  # no offset
        {"serial_number": 6, "timestamp": "2025-03-04T07:15:02+00:00", "controller_id": 77},  # unmapped panel
        {"serial_number": 7, "timestamp": "yesterday+01:00", "controller_id": 3},
        {"serial_number": 8, "timestamp": "2025-03-04T07:16:00+00:00", "controller_id": 3, "device_id": 12},
    ]
    (folder / "bad.json").write_text(json.dumps(page))
    (folder / "broken.json").write_text("{not json")
    events = _by_table(parser.parse_folder(folder))["device_events"]
    refused = {(Path(q.file_path).name, q.line): q for q in events.quarantined}
    assert refused[("bad.json", 1)].field == "serial_number"
    assert refused[("bad.json", 2)].field == "timestamp" and "no UTC offset" in refused[("bad.json", 2)].reason
    assert refused[("bad.json", 3)].field == "controller_id" and "unknown site" in refused[("bad.json", 3)].reason
    assert refused[("bad.json", 3)].record_id == "77-6"
    assert "not an ISO-8601" in refused[("bad.json", 4)].reason
    assert refused[("broken.json", None)].reason.startswith("unreadable page")
    assert "8" in events.rows["vendor_ref"].to_list()  # the good record of the same page is kept
    assert events.rows.height == 4


def test_simulated_exports_plant_quarantined_records(tmp_path):
    world = build_world(days=14, seed=7)
    info = simulator.write_exports(world, tmp_path / "lenel")
    results = _by_table(parser.parse_folder(tmp_path / "lenel"))
    assert 1 <= len(info["planted"]) <= 3
    for plant in info["planted"]:
        found = [q for q in results[plant["table"]].quarantined
                 if q.file_path == plant["path"] and q.line == plant["line"]]
        assert len(found) == 1, plant
        assert found[0].field == plant["field"] and plant["reason"] in found[0].reason
        assert found[0].record_id == plant["record_id"] and plant["expect"] == "quarantine"
    assert results["device_events"].rows.height == info["records"]["device_events"]
    assert results["devices"].rows.height == info["records"]["devices"]
    assert sum(len(r.quarantined) for r in results.values()) == len(info["planted"])
    # the world's Lenel sites, their door events around every incident there, and nothing else
    lenel_sites = {s.site_id for s in world.sites if s.access_vendor == "lenel"}
    rows = results["device_events"].rows
    assert lenel_sites and set(rows["site_id"].unique()) == lenel_sites
    assert rows.filter(event_type="door_forced").height == sum(
        1 for e in world.device_events if e.event_type == "door_forced" and e.site_id in lenel_sites)
    for incident in (i for i in world.incidents if i.site_id in lenel_sites):
        around = rows.filter((pl.col("site_id") == incident.site_id)
                             & pl.col("occurred_at").is_between(incident.opened_at - timedelta(minutes=10),
                                                                incident.response_ended_at + timedelta(minutes=10)))
        assert {"access_granted", "door_closed"} <= set(around["event_type"]), incident.incident_id
    # events name devices of the inventory
    assert set(rows["device_id"]) <= set(results["devices"].rows["record_id"])


# --- client over HTTP ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world():
    return build_world(days=14, seed=7)


def _events_mark(cursor: str) -> Watermark:
    return Watermark.decode(json.dumps(json.loads(cursor)["events"]))


def _client(fake, world, sleeps=None, **kw):
    return LenelClient(fake.base_url, "admin", "secret", "VIGIL-APP", sites=simulator.site_map(world),
                       page_size=kw.pop("page_size", 100), backoff=0.01,
                       sleep=(sleeps.append if sleeps is not None else (lambda s: None)), **kw)


def test_client_pages_retries_and_advances_cursor(world):
    records = simulator.records_for_server(world)
    with FakeOpenAccess(**records) as fake:
        sleeps: list[float] = []
        client = _client(fake, world, sleeps, page_size=20)
        fake.fail_next(429, 1, retry_after="2")
        fake.fail_next(503, 1)
        results, cursor = client.pull(None)
        events, devices = _by_table(results)["device_events"], _by_table(results)["devices"]
        assert events.rows.height == len(records["events"]) and not events.quarantined
        assert devices.rows.height == sum(len(v) for v in records["instances"].values())
        assert fake.statuses()[:3] == [429, 503, 200]
        assert sleeps[0] == 2.0  # Retry-After honoured
        event_calls = [p for _, p, s in fake.requests if "/logged_events" in p and s == 200]
        assert len(event_calls) >= 3 and all("version=1.0" in p for p in event_calls)
        assert _events_mark(cursor).high_water == events.rows["occurred_at"].max()

        again, cursor2 = client.pull(cursor)
        assert _by_table(again)["device_events"].rows.height == 0
        assert cursor2 == cursor
        assert 'timestamp+%3E%3D+%22' in [p for _, p, _ in fake.requests if "/logged_events" in p][-1]

        late = dict(records["events"][-1], serial_number=1_999_000_001, timestamp="2030-01-01T00:00:00+00:00")
        fake.add_events([late])
        third, cursor3 = client.pull(cursor2, include_inventory=False)
        assert third[0].rows["vendor_ref"].to_list() == ["1999000001"]
        assert _events_mark(cursor3).high_water == datetime(2030, 1, 1, tzinfo=UTC)


def test_pulls_are_inventory_snapshots_first_and_last_seen(world):
    records = simulator.records_for_server(world)
    with FakeOpenAccess(**records) as fake:
        client = _client(fake, world)
        results, cursor = client.pull(None, today=date(2026, 11, 2))
        first = {r["record_id"]: r for r in _by_table(results)["devices"].rows.iter_rows(named=True)}
        assert {r["active_from"] for r in first.values()} == {date(2026, 11, 2)} and \
            {r["active_to"] for r in first.values()} == {None}
        gone = records["instances"]["Lnl_Reader"][0]
        fake.instances["lnl_reader"] = records["instances"]["Lnl_Reader"][1:]
        results, cursor = client.pull(cursor, today=date(2026, 11, 3))
        later = {r["record_id"]: r for r in _by_table(results)["devices"].rows.iter_rows(named=True)}
        key = f"reader-{gone['PanelID']}-{gone['ReaderID']}"
        assert (later[key]["active_from"], later[key]["active_to"]) == (date(2026, 11, 2), date(2026, 11, 2))
        others = {k: (r["active_from"], r["active_to"]) for k, r in later.items() if k != key}
        assert set(others.values()) == {(date(2026, 11, 2), None)}
        assert {k: first[k]["content_hash"] for k in others} == {k: later[k]["content_hash"] for k in others}


def test_same_record_pulled_or_exported_has_same_hash(world, tmp_path):
    simulator.write_exports(world, tmp_path / "lenel")
    exported = _by_table(parser.parse_folder(tmp_path / "lenel"))["device_events"]
    with FakeOpenAccess(**simulator.records_for_server(world)) as fake:
        pulled = _client(fake, world, page_size=30).pull(None, include_inventory=False)[0][0]
    assert set(pulled.rows["content_hash"]) == set(exported.rows["content_hash"])


def test_client_reauthenticates_after_session_timeout(world):
    with FakeOpenAccess(**simulator.records_for_server(world)) as fake:
        client = _client(fake, world, page_size=50)
        client.authenticate()
        first = client.token
        fake.expire_sessions()
        results, _ = client.pull(None, include_inventory=False)
        assert results[0].rows.height > 0
        assert client.token != first
        assert 401 in fake.statuses()


def test_bad_credentials_give_a_clear_error(world):
    with FakeOpenAccess(**simulator.records_for_server(world)) as fake:
        client = LenelClient(fake.base_url, "admin", "wrong", "VIGIL-APP", sites=simulator.site_map(world))
        with pytest.raises(LenelAuthError, match="refused authentication for user 'admin'.*invalidcredentials"):
            client.pull(None)


def test_persistent_outage_gives_a_clear_error(world):
    with FakeOpenAccess(**simulator.records_for_server(world)) as fake:
        client = _client(fake, world, max_attempts=3)
        fake.fail_next(503, 10)
        with pytest.raises(LenelError, match=r"HTTP 503: gave up after 3 attempts"):
            client.pull(None)


@pytest.mark.integration
def test_exports_store_into_raw_tables_once(conn, tmp_path):
    from connectors.store import store_results

    world = build_world(days=7, seed=7)
    info = simulator.write_exports(world, tmp_path / "lenel")
    first = store_results(conn, parser.parse_folder(tmp_path / "lenel"))
    assert first.tables["device_events"] == info["records"]["device_events"]
    assert first.tables["devices"] == info["records"]["devices"]
    assert first.quarantined["lenel"] == len(info["planted"])
    again = store_results(conn, parser.parse_folder(tmp_path / "lenel"))
    assert sum(again.tables.values()) == 0
    with conn.cursor() as cur:
        cur.execute("select count(*) from raw.device_events where source = 'lenel' and extra ? 'device_name'")
        assert cur.fetchone()[0] == info["records"]["device_events"]
