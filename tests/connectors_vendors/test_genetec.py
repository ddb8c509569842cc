"""Genetec connector: report parsing (mapping, code tables, planted bad records) and the Web
SDK client over real HTTP against the local fake (auth, paging, retries, cursor)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import CANONICAL_COLUMNS
from connectors.genetec import parser, simulator
from connectors.genetec.client import GenetecClient, GenetecError
from connectors.genetec.fake_server import FakeWebSdk
from connectors.http import AuthError, RetryingHttp
from connectors.simulator.world import build_world

AREA, CAM, DOOR, ALARM_MED, USER = (
    "a0000000-0000-4000-8000-000000000001", "00000001-0000-babe-0000-080023e940c7",
    "00000001-0000-babe-0000-080023e940c6", "5c1a0c2e-7f0b-4a5e-9d0e-2b7f3c1d9a10",
    "9a1e6c55-3b2d-4e61-8f0c-7d2a6b9e4c31")


def rsp(rows, status="Ok"):
    return json.dumps({"Rsp": {"Status": status, "Result": rows}})


def sample_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "genetec"
    folder.mkdir()
    (folder / "sites.json").write_text(json.dumps({"sites": {AREA.upper(): "S-1"}, "guards": {USER: "G-7"}}))
    (folder / "entities.json").write_text(rsp([
        {"Guid": AREA, "Name": "Terminal 4", "EntityType": "Area"},
        {"Guid": ALARM_MED, "Name": "Medical emergency", "EntityType": "Alarm"},
        {"Guid": CAM, "Name": "Dock cam", "EntityType": "Camera", "Area": AREA, "CreatedOn": "2025-01-15T00:00:00Z"},
        {"Guid": DOOR, "Name": "Dock door", "EntityType": "Door", "Area": AREA, "CreatedOn": "2025-01-10T00:00:00Z",
         "DeletedOn": "2025-12-31T00:00:00Z"},
        {"Guid": "c0000000-0000-4000-8000-000000000009", "Name": "Ana Ruiz", "EntityType": "Cardholder"},
    ]))
    (folder / "alarms_2025-03.json").write_text(rsp([
        {"InstanceId": 10431, "Alarm": "5c1a0c2e-0000-0000-0000-000000000000", "TriggerEntity": DOOR.upper(),
         "TriggerEvent": "DoorForcedOpen", "TriggerTime": "2025-03-04T02:14:07.123Z",
         "InvestigatedTime": "2025-03-04T02:15:00.5000000Z", "InvestigatedBy": USER,
         "AckedTime": "2025-03-04T02:46:41.002Z", "AckedBy": USER, "State": "Acknowledged", "Priority": 1},
        {"InstanceId": 10432, "Alarm": ALARM_MED, "TriggerEntity": CAM, "TriggerEvent": "None",
         "TriggerTime": "2025-03-04T03:01:55.400Z", "InvestigatedTime": "2025-03-04T03:05:00Z",
         "InvestigatedBy": "ffffffff-0000-0000-0000-000000000000", "AckedTime": "2025-03-04T03:20:00Z",
         "State": "Acknowledged", "Priority": 1, "DynamicContext": "Visitor fainted"},
        {"InstanceId": 10433, "Alarm": ALARM_MED, "TriggerEntity": CAM, "TriggerEvent": "CameraMotion",
         "TriggerTime": "2025-03-04T04:00:00.000Z", "AckedTime": None, "State": "Active", "Priority": 5},
        {"InstanceId": 10434, "Alarm": "5c1a0c2e-0000-0000-0000-000000000000", "TriggerEntity": CAM,
         "TriggerEvent": "SomethingOdd", "TriggerTime": "2025-03-04T05:00:00Z",
         "InvestigatedTime": "2025-03-04T05:01:00Z",
         "AckedTime": "2025-03-04T05:02:00Z"},
        {"InstanceId": 10435, "TriggerEntity": CAM, "TriggerEvent": "CameraMotion",
         "TriggerTime": "2025-03-04T06:00:00Z", "InvestigatedTime": "2025-03-04T06:10:00Z",
         "AckedTime": "2025-03-04T06:05:00Z"},
    ]))
    (folder / "events_2025-03.json").write_text(rsp([
        {"Timestamp": "2025-03-04T02:14:06.900Z", "EventType": "DoorForcedOpen", "Source": DOOR},
        {"Timestamp": "2025-03-04T02:15:30.000Z", "EventType": "AccessGranted", "Source": DOOR,
         "Cardholder": "c0000000-0000-4000-8000-000000000009"},
        {"Timestamp": "2025-03-04T02:16:00.000Z", "EventType": "CameraRecordingStarted", "Source": CAM},
        {"Timestamp": "1741054447", "EventType": "CameraMotion", "Source": CAM},
    ], status="TooManyResults"))
    (folder / "notes.json").write_text("{}")
    return folder


def by_table(results):
    return {r.table: r for r in results}


def test_sample_report_maps_to_canonical_rows(tmp_path):
    results = by_table(parser.parse_folder(sample_folder(tmp_path)))
    incidents, events, devices = results["incidents"], results["device_events"], results["devices"]
    assert {r.source for r in results.values()} == {"genetec"}
    for table, result in results.items():
        assert set(CANONICAL_COLUMNS[table]) <= set(result.rows.columns)

    rows = {r["record_id"]: r for r in incidents.rows.iter_rows(named=True)}
    assert set(rows) == {"10431", "10432"}
    forced = rows["10431"]
    assert forced["site_id"] == "S-1" and forced["classification"] == "alarm_response"
    assert forced["opened_at"] == datetime(2025, 3, 4, 2, 14, 7, 123000, tzinfo=UTC)
    assert forced["response_started_at"] == datetime(2025, 3, 4, 2, 15, 0, 500000, tzinfo=UTC)  # 7 digits read
    assert forced["response_ended_at"] == datetime(2025, 3, 4, 2, 46, 41, 2000, tzinfo=UTC)
    assert forced["responder_guard_id"] == "G-7"
    assert forced["vendor_ref"] == "10431" and forced["source_ref"] == "genetec:alarm/10431"
    medical = rows["10432"]
    assert medical["classification"] == "medical"  # TriggerEvent None: by the alarm entity's name
    assert medical["responder_guard_id"] is None  # an operator who is not a guard
    assert medical["description"] == "Visitor fainted"

    reasons = {(q.line, q.field): q.reason for q in incidents.quarantined}
    assert "cannot classify alarm" in reasons[(4, "TriggerEvent")]
    assert "before it starts" in reasons[(5, "AckedTime")]

    ev = {r["vendor_ref"].split("|")[1]: r for r in events.rows.iter_rows(named=True)
          if r["event_type"] != "alarm_triggered"}
    assert ev["DoorForcedOpen"]["event_type"] == "door_forced"
    assert ev["DoorForcedOpen"]["device_id"] == DOOR and ev["DoorForcedOpen"]["site_id"] == "S-1"
    assert ev["AccessGranted"]["event_type"] == "access_granted"
    assert ev["CameraRecordingStarted"]["event_type"] == "other"  # unknown type kept, not refused
    open_alarm = events.rows.filter(events.rows["event_type"] == "alarm_triggered").row(0, named=True)
    assert open_alarm["record_id"] == "alarm-10433" and open_alarm["incident_ref"] == "genetec:alarm/10433"
    refused = [(Path(q.file_path).name, q.line, q.field) for q in events.quarantined]
    assert ("events_2025-03.json", 4, "Timestamp") in refused
    assert ("events_2025-03.json", None, "Status") in refused  # truncated report made visible
    assert ("notes.json", None, None) in refused  # unrecognised file is reported, not skipped

    dev = {r["record_id"]: r for r in devices.rows.iter_rows(named=True)}
    assert set(dev) == {CAM, DOOR}  # areas, alarms, cardholders are not devices
    assert dev[DOOR]["device_type"] == "door_reader"
    assert str(dev[DOOR]["active_to"]) == "2025-12-31"


def test_unknown_site_and_missing_mapping_quarantine(tmp_path):
    folder = sample_folder(tmp_path)
    (folder / "sites.json").unlink()
    results = by_table(parser.parse_folder(folder))
    assert results["incidents"].rows.height == 0 and results["devices"].rows.height == 0
    assert all("unknown site" in q.reason for q in results["devices"].quarantined)


@pytest.fixture(scope="module")
def world():
    return build_world(seed=4, days=14)


def test_simulated_exports_parse_with_planted_records_quarantined(world, tmp_path):
    manifest = simulator.write_exports(world, tmp_path / "genetec")
    results = by_table(parser.parse_folder(tmp_path / "genetec"))
    for table, count in manifest["records"].items():
        assert results[table].rows.height == count, table
    assert manifest["records"]["incidents"] > 0 and manifest["records"]["device_events"] > 0
    for planted in manifest["planted"]:
        hits = [q for q in results[planted["table"]].quarantined
                if q.file_path == planted["path"] and q.line == planted["line"]]
        assert hits, planted
        assert hits[0].field == planted["field"] and planted["reason"] in hits[0].reason
    assert sum(len(r.quarantined) for r in results.values()) == len(manifest["planted"])

    # the same incidents as the world, with the world's times, sites and responders
    expected = {i.alarm_ref: i for i in world.incidents if simulator.incident_vendor(world, i) == "genetec"}
    for row in results["incidents"].rows.iter_rows(named=True):
        inc = expected[row["record_id"]]
        assert (row["site_id"], row["classification"], row["responder_guard_id"]) == (
            inc.site_id, inc.classification, inc.responder_guard_id)
        assert row["response_started_at"] == inc.response_started_at
        assert row["response_ended_at"] == inc.response_ended_at
    devices = results["devices"].rows
    assert set(devices["record_id"]) == {d.vendor_ref for d in world.devices if d.vendor == "genetec"}
    # every event names a device of the inventory
    assert set(results["device_events"].rows["device_id"]) <= set(devices["record_id"])


# --- API client against the fake ------------------------------------------------------------

def make_client(sdk: FakeWebSdk, world, **kw) -> GenetecClient:
    http = RetryingHttp(sleep=lambda s: sleeps.append(s), timeout=5)
    return GenetecClient(sdk.base_url, kw.pop("user", "vigil"), "VIGIL-APP", kw.pop("password", "secret"),
                         mapping=simulator.site_map(world), page_size=kw.pop("page_size", 5),
                         first_pull_from=datetime(2026, 1, 1, tzinfo=UTC),
                         now=lambda: datetime(2026, 11, 2, tzinfo=UTC), http=http, **kw)


sleeps: list[float] = []


def test_client_pages_retries_and_advances_cursor(world):
    server = simulator.records_for_server(world)
    sleeps.clear()
    with FakeWebSdk(**server, max_results=4) as sdk:
        sdk.fail_next(429, retry_after="2")
        sdk.fail_next(503)
        client = make_client(sdk, world)
        results, cursor = client.pull(None)
        got = by_table(results)
        assert got["incidents"].rows.height == len(server["alarms"])
        assert got["device_events"].rows.height == len(server["events"])
        n_devices = sum(1 for e in server["entities"] if e["EntityType"] in ("Camera", "Door", "Unit"))
        assert got["devices"].rows.height == n_devices
        assert not any(r.quarantined for r in results)
        entity_pages = [p for _, p, s in sdk.requests if "EntityConfiguration" in p and s == 200]
        assert len(entity_pages) >= 3  # paged with the one-extra-item rule
        assert sdk.statuses()[:2] == [429, 503]
        assert sleeps[0] == 2.0  # Retry-After honoured
        assert any("AlarmActivity" in p for _, p, _ in sdk.requests)

        again, cursor2 = client.pull(cursor)
        again = by_table(again)
        assert again["incidents"].rows.height == 0 and again["device_events"].rows.height == 0
        assert set(again["devices"].rows["content_hash"]) == set(got["devices"].rows["content_hash"])

        # an alarm raised later and acknowledged after a pull saw it open
        template = dict(server["alarms"][0])
        late = dict(template, InstanceId=999001, TriggerTime="2026-11-01T10:00:00.000Z",
                    InvestigatedTime=None, AckedTime=None, State="Active")
        sdk.add(alarms=[late])
        third, cursor3 = client.pull(cursor2)
        third = by_table(third)
        assert third["incidents"].rows.height == 0
        assert list(third["device_events"].rows["record_id"]) == ["alarm-999001"]
        sdk.update_alarm(999001, InvestigatedTime="2026-11-01T10:05:00.000Z", AckedTime="2026-11-01T10:30:00.000Z",
                         State="Acknowledged")
        fourth, _ = client.pull(cursor3)
        fourth = by_table(fourth)
        assert list(fourth["incidents"].rows["record_id"]) == ["999001"]
        assert fourth["device_events"].rows.height == 0


def test_client_splits_window_on_too_many_results(world):
    server = simulator.records_for_server(world)
    with FakeWebSdk(**server, max_results=2) as sdk:
        client = make_client(sdk, world)
        rows = client.activity("CameraActivity", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
        cameras = sdk._events(False)
        assert len(rows) == len(cameras) and len(cameras) > 2
        assert sum(1 for _, p, _ in sdk.requests if "CameraActivity" in p) > 3


def test_client_names_url_and_status_on_401(world):
    with FakeWebSdk(**simulator.records_for_server(world)) as sdk:
        client = make_client(sdk, world, password="wrong")
        with pytest.raises(AuthError) as err:
            client.pull(None)
        assert "401" in str(err.value) and sdk.base_url in str(err.value)


def test_client_gives_up_with_clear_error_after_repeated_5xx(world):
    with FakeWebSdk(**simulator.records_for_server(world)) as sdk:
        sdk.fail_next(503, times=10)
        client = make_client(sdk, world)
        with pytest.raises(GenetecError.__mro__[1]) as err:
            client.pull(None)
        assert "503" in str(err.value) and "gave up after 5 attempts" in str(err.value)

