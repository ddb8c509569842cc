"""Genetec connector: Web SDK answers shaped as the public sources show them (fixtures/genetec,
see its README), the simulator's exports with planted bad records, and the Web SDK client over
real HTTP against the local fake (auth, GUID-then-details inventory, retries, cursor)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from connectors.base import CANONICAL_COLUMNS
from connectors.genetec import parser, simulator
from connectors.genetec.client import GenetecClient, GenetecError
from connectors.genetec.fake_server import FakeWebSdk
from connectors.http import AuthError, RetryingHttp
from connectors.simulator.world import build_world

FIXTURES = Path(__file__).parent / "fixtures" / "genetec"
CAM, DOOR, UNIT, YARD = ("00000001-0000-babe-0000-2b2fbe79920b", "5d1a60c4-7a0e-4d9b-9c61-0f2b8e4a7c11",
                         "8e3f0b52-1c4d-4a77-b0e9-6a2d9c5f3e20", "f4e3d2c1-b0a9-4876-9543-210fedcba987")


def by_table(results):
    return {r.table: r for r in results}


@pytest.fixture(scope="module")
def fixture_results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inbox") / "genetec"
    shutil.copytree(FIXTURES, folder, ignore=shutil.ignore_patterns("README.md"))
    return folder, by_table(parser.parse_folder(folder))


def test_real_shapes_become_canonical_rows_with_ids_and_utc_times(fixture_results):
    _, results = fixture_results
    assert {r.source for r in results.values()} == {"genetec"}
    for table, result in results.items():
        assert set(CANONICAL_COLUMNS[table]) <= set(result.rows.columns)

    rows = {r["record_id"]: r for r in results["incidents"].rows.iter_rows(named=True)}
    assert set(rows) == {"10431", "10432", "10434"}
    forced = rows["10431"]  # TriggerEvent 29 = DoorForcedOpen; TriggerEntity in upper case
    assert (forced["site_id"], forced["classification"], forced["responder_guard_id"]) == ("S-1", "alarm_response",
                                                                                           "G-7")
    assert forced["opened_at"] == datetime(2025, 3, 4, 2, 14, 7, 120000, tzinfo=UTC)  # trimmed fraction
    assert forced["response_started_at"] == datetime(2025, 3, 4, 2, 15, 0, 500000, tzinfo=UTC)
    assert forced["response_ended_at"] == datetime(2025, 3, 4, 2, 46, 41, 2123, tzinfo=UTC)  # 7 digits cut
    assert forced["source_ref"] == "genetec:alarm/10431" and forced["description"] == "Medical emergency"
    medical = rows["10432"]  # TriggerEvent 0 (None): by the alarm's name; times without zone are UTC
    assert (medical["classification"], medical["responder_guard_id"]) == ("medical", None)  # Guid.Empty: nobody
    assert medical["opened_at"] == datetime(2025, 3, 4, 3, 1, 55, 400000, tzinfo=UTC)
    assert medical["description"] == "Visitor fainted"
    assert rows["10434"]["classification"] == "fire_alarm"  # InputAlarmActive, classified by sites.json

    reasons = {(q.record_id, q.field): q.reason for q in results["incidents"].quarantined}
    assert "TriggerEvent 2820 (InputAlarmRestored)" in reasons[("10435", "TriggerEvent")]
    assert "classifications" in reasons[("10435", "TriggerEvent")]
    assert reasons[("10436", "TriggerEntity")].startswith(
        "no area mapping for entity 77777777-1111-4222-8333-444444444444")

    events = results["device_events"].rows
    open_alarm = events.filter(events["event_type"] == "alarm_triggered").row(0, named=True)
    assert open_alarm["record_id"] == "alarm-10433"  # AckedTime is .NET's empty date: not acknowledged
    assert open_alarm["incident_ref"] == "genetec:alarm/10433" and open_alarm["site_id"] == "S-1"
    kinds = {r["vendor_ref"].split("|")[1]: r for r in events.iter_rows(named=True)
             if r["event_type"] != "alarm_triggered"}
    assert kinds["29"]["event_type"] == "door_forced" and kinds["29"]["device_id"] == DOOR
    assert kinds["35"]["event_type"] == "access_granted"
    assert kinds["1371"]["event_type"] == "other"  # CameraSignalLost: kept, not refused
    assert kinds["1371"]["occurred_at"] == datetime(2025, 3, 4, 2, 16, 0, 123456, tzinfo=UTC)
    assert kinds["2819"]["event_type"] == "fire_alarm"  # this deployment's input alarms are fire panels
    assert kinds["36"]["site_id"] == "S-1"  # an unmapped door placed through its unit
    refused = {q.field: q.reason for q in results["device_events"].quarantined}
    assert refused["Source"].startswith("no area mapping for entity 99999999-8888-4777-8666-555555555555")
    assert "is a number" in refused["Timestamp"]

    devices = {r["record_id"]: r for r in results["devices"].rows.iter_rows(named=True)}
    assert set(devices) == {CAM, DOOR, UNIT}  # areas, users, alarms, cardholders are not devices
    assert devices[CAM]["active_from"] == date(2025, 1, 15) and devices[CAM]["active_to"] is None
    assert devices[DOOR]["device_type"] == "door_reader"  # EntityType 11 sent as the integer
    assert devices[DOOR]["active_from"] == date(2024, 11, 2)
    assert devices[DOOR]["active_to"] == date(2025, 3, 7)  # absent from the snapshot of 2025-03-08
    assert devices[UNIT]["active_from"] == date(2025, 3, 1)  # CreatedOn empty: first snapshot listing it
    (yard,) = results["devices"].quarantined
    assert yard.record_id == YARD and yard.reason.startswith(f"no area mapping for camera {YARD} (Yard cam)")


def test_without_configuration_every_record_names_the_missing_entry(fixture_results, tmp_path):
    folder = tmp_path / "genetec"
    shutil.copytree(fixture_results[0], folder)
    (folder / "sites.json").unlink()
    results = by_table(parser.parse_folder(folder))
    assert results["incidents"].rows.height == 0 and results["devices"].rows.height == 0
    assert all(q.reason.startswith("no area mapping for ") for q in results["devices"].quarantined)
    assert len(results["devices"].quarantined) == 4


def test_entity_listed_without_details_is_quarantined(tmp_path):
    folder = tmp_path / "genetec"
    folder.mkdir()
    (folder / "entities_2025-03-01.json").write_text(json.dumps({"Rsp": {"Status": "Ok", "Result": [{"Guid": CAM}]}}))
    (folder / "entity_details.json").write_text('{"Rsp":{"Status":"Fail","Result":{"SdkErrorCode":"InvalidEntity",'
                                                '"Message":"not found"}}}')
    results = by_table(parser.parse_folder(folder))
    (missing,) = results["devices"].quarantined
    assert missing.record_id == CAM and "no /entity answer" in missing.reason
    assert any("report failed: SdkErrorCode InvalidEntity" in q.reason for q in results["device_events"].quarantined)


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
    expected = {i.alarm_ref: i for i in world.incidents if world.incident_vendor(i) == "genetec"}
    for row in results["incidents"].rows.iter_rows(named=True):
        inc = expected[row["record_id"]]
        assert (row["site_id"], row["classification"], row["responder_guard_id"]) == (
            inc.site_id, inc.classification, inc.responder_guard_id)
        assert row["response_started_at"] == inc.response_started_at
        assert row["response_ended_at"] == inc.response_ended_at
    devices = {r["record_id"]: r for r in results["devices"].rows.iter_rows(named=True)}
    world_devices = {d.vendor_ref: d for d in world.devices if d.vendor == "genetec"}
    assert set(devices) == set(world_devices)
    for ref, d in world_devices.items():  # install dates from CreatedOn, removals from the snapshots
        assert (devices[ref]["site_id"], devices[ref]["active_from"], devices[ref]["active_to"]) == (
            d.site_id, d.active_from, d.active_to)
    assert set(results["device_events"].rows["device_id"]) <= set(devices)


# --- API client against the fake ------------------------------------------------------------

sleeps: list[float] = []


def make_client(sdk: FakeWebSdk, world, now=datetime(2026, 11, 2, tzinfo=UTC), **kw) -> GenetecClient:
    http = RetryingHttp(sleep=lambda s: sleeps.append(s), timeout=5)
    return GenetecClient(sdk.base_url, kw.pop("user", "vigil"), "VIGIL-APP", kw.pop("password", "secret"),
                         mapping=simulator.site_map(world), page_size=kw.pop("page_size", 5),
                         first_pull_from=datetime(2026, 1, 1, tzinfo=UTC), now=lambda: now, http=http, **kw)


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
        detail_calls = [p for _, p, s in sdk.requests if p.startswith("/WebSdk/entity?") and s == 200]
        assert len(detail_calls) >= 2  # then each entity's details, several per call
        assert sdk.statuses()[:2] == [429, 503]
        assert sleeps[0] == 2.0  # Retry-After honoured
        assert any("AlarmActivity" in p for _, p, _ in sdk.requests)
        assert any("CameraEvent" in p for _, p, _ in sdk.requests)

        again, cursor2 = client.pull(cursor)
        again = by_table(again)
        assert again["incidents"].rows.height == 0 and again["device_events"].rows.height == 0
        assert set(again["devices"].rows["content_hash"]) == set(got["devices"].rows["content_hash"])

        # an alarm raised later and acknowledged after a pull saw it open (.NET's empty dates)
        template = dict(server["alarms"][0])
        late = dict(template, InstanceId=999001, TriggerTime="2026-11-01T10:00:00Z",
                    InvestigatedTime="0001-01-01T00:00:00Z", AckedTime="0001-01-01T00:00:00Z", State=1)
        sdk.add(alarms=[late])
        third, cursor3 = client.pull(cursor2)
        third = by_table(third)
        assert third["incidents"].rows.height == 0
        assert list(third["device_events"].rows["record_id"]) == ["alarm-999001"]
        sdk.update_alarm(999001, InvestigatedTime="2026-11-01T10:05:00.5Z", AckedTime="2026-11-01T10:30:00Z", State=2)
        fourth, _ = client.pull(cursor3)
        fourth = by_table(fourth)
        assert list(fourth["incidents"].rows["record_id"]) == ["999001"]
        assert fourth["device_events"].rows.height == 0


def test_a_device_removed_from_the_configuration_is_retired_the_day_before(world):
    server = simulator.records_for_server(world)
    camera = next(e for e in server["entities"] if e["EntityType"] == "Camera")
    with FakeWebSdk(**server) as sdk:
        _, cursor = make_client(sdk, world, now=datetime(2026, 11, 2, 6, tzinfo=UTC)).pull(None)
        sdk.remove_entity(camera["Guid"])
        results, cursor = make_client(sdk, world, now=datetime(2026, 11, 5, 6, tzinfo=UTC)).pull(cursor)
        devices = by_table(results)["devices"].rows
        gone = devices.filter(devices["record_id"] == camera["Guid"].lower()).row(0, named=True)
        assert gone["active_to"] == date(2026, 11, 4)
        assert gone["active_from"] == datetime.fromisoformat(camera["CreatedOn"].replace("Z", "+00:00")).date()
        later, _ = make_client(sdk, world, now=datetime(2026, 11, 6, 6, tzinfo=UTC)).pull(cursor)
        assert camera["Guid"].lower() not in set(by_table(later)["devices"].rows["record_id"])  # told once


def test_client_splits_window_on_too_many_results(world):
    server = simulator.records_for_server(world)
    with FakeWebSdk(**server, max_results=2) as sdk:
        client = make_client(sdk, world)
        rows = client.activity("CameraEvent", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
        cameras = sdk._events("camera")
        assert len(rows) == len(cameras) and len(cameras) > 2
        assert sum(1 for _, p, _ in sdk.requests if "CameraEvent" in p) > 3


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
