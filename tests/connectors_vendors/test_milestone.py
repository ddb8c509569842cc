"""Milestone connector: API Gateway answers shaped as the public sources show them
(fixtures/milestone, see its README: cameras -> hardware -> recorder, .NET's empty createdDate,
alarm history), the simulator's exports with planted bad records, and the gateway client over
real HTTP against the local fake."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from connectors.base import CANONICAL_COLUMNS
from connectors.http import AuthError, RetryingHttp
from connectors.milestone import parser, simulator
from connectors.milestone.client import MilestoneClient
from connectors.milestone.fake_server import FakeApiGateway
from connectors.simulator.world import build_world

FIXTURES = Path(__file__).parent / "fixtures" / "milestone"
CAM_A, CAM_B, CAM_C, CAM_D, CAM_E = ("a8a8b9dc-3995-49ed-9b00-62caac2ce74a", "d47fa4e9-8171-4cc2-a421-95a3194f6a1d",
                                     "3c5e7a90-1b2d-4f60-8a9b-0c1d2e3f4a5b", "7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e",
                                     "0f1e2d3c-4b5a-4697-8877-665544332211")


def by_table(results):
    return {r.table: r for r in results}


@pytest.fixture(scope="module")
def fixture_results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inbox") / "milestone"
    shutil.copytree(FIXTURES, folder, ignore=shutil.ignore_patterns("README.md"))
    return by_table(parser.parse_folder(folder))


def test_cameras_reach_their_site_through_hardware_and_recorder(fixture_results):
    devices = fixture_results["devices"]
    assert set(CANONICAL_COLUMNS["devices"]) <= set(devices.rows.columns)
    rows = {r["record_id"]: r for r in devices.rows.iter_rows(named=True)}
    assert set(rows) == {CAM_A, CAM_B, CAM_C, CAM_D}
    assert rows[CAM_A]["site_id"] == "S-1"  # camera -> hardware 5a94... -> recorder 9086... mapped
    assert rows[CAM_A]["active_from"] == date(2025, 10, 27)  # createdDate empty: first snapshot listing it
    assert rows[CAM_B]["active_from"] == date(2024, 6, 11) and rows[CAM_B]["active_to"] == date(2025, 11, 2)
    assert (rows[CAM_C]["site_id"], rows[CAM_C]["active_from"]) == ("S-2", date(2025, 11, 3))  # mapped directly
    assert rows[CAM_D]["active_to"] == date(2025, 11, 2)  # disabled: as of its last modification
    (unplaced,) = devices.quarantined
    assert unplaced.record_id == CAM_E and unplaced.reason.startswith(f"no site for camera {CAM_E}: its hardware")


def test_alarms_take_their_response_from_the_alarm_history(fixture_results):
    rows = {r["record_id"]: r for r in fixture_results["incidents"].rows.iter_rows(named=True)}
    assert set(rows) == {"0c6f3a52-1b7e-4d0c-a7a1-5b8f0a2e9c11", "2b3c4d5e-6f70-4182-9394-a5b6c7d8e9f1"}
    breach = rows["0c6f3a52-1b7e-4d0c-a7a1-5b8f0a2e9c11"]
    assert (breach["site_id"], breach["classification"], breach["responder_guard_id"]) == ("S-1", "trespass", "G-7")
    assert breach["opened_at"] == datetime(2025, 11, 4, 2, 14, 7, 123000, tzinfo=UTC)  # 7 digits
    assert breach["response_started_at"] == datetime(2025, 11, 4, 2, 16, 40, 500000, tzinfo=UTC)
    assert breach["response_ended_at"] == datetime(2025, 11, 4, 2, 50, tzinfo=UTC)
    assert breach["source_ref"] == "milestone:alarm/2211"
    medical = rows["2b3c4d5e-6f70-4182-9394-a5b6c7d8e9f1"]  # source as a {type, id} relation, upper case
    assert (medical["site_id"], medical["classification"], medical["responder_guard_id"]) == ("S-2", "medical", None)

    refused = {q.record_id: q for q in fixture_results["incidents"].quarantined}
    assert "closed but its history" in refused["9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"].reason
    unnamed = refused["4a3b2c1d-0e9f-4a8b-9c7d-6e5f4a3b2c1d"]  # its history gave levels 4 and 11
    assert unnamed.field == "name" and "'Generic event 7'" in unnamed.reason and "classifications" in unnamed.reason

    events = fixture_results["device_events"].rows
    (open_alarm,) = events.filter(events["event_type"] == "alarm_triggered").iter_rows(named=True)
    assert open_alarm["record_id"] == "alarm-6e2d1f04-9a3c-4f8e-b2d5-0c7a4e6b1f22"
    assert (open_alarm["site_id"], open_alarm["device_id"]) == ("S-2", CAM_C)


def test_events_map_event_type_guids(fixture_results):
    events = fixture_results["device_events"]
    kinds = {r["record_id"][-2:]: r for r in events.rows.iter_rows(named=True) if r["event_type"] != "alarm_triggered"}
    assert {k: r["event_type"] for k, r in kinds.items()} == {"f8": "motion_start", "f9": "motion_end",
                                                               "fa": "other", "fb": "tamper"}
    assert kinds["f8"]["occurred_at"] == datetime(2025, 11, 4, 2, 13, 58, 442000, tzinfo=UTC)
    assert kinds["f8"]["device_id"] == CAM_A
    reasons = sorted(q.reason for q in events.quarantined)
    assert reasons[0].startswith("camera 99999999-0000-4000-8000-000000000009 is not in the cameras export")
    assert reasons[1].startswith(f"no site for camera {CAM_E}")


@pytest.fixture(scope="module")
def world():
    return build_world(seed=4, days=14)


def test_simulated_exports_parse_with_planted_records_quarantined(world, tmp_path):
    manifest = simulator.write_exports(world, tmp_path / "milestone")
    results = by_table(parser.parse_folder(tmp_path / "milestone"))
    for table, count in manifest["records"].items():
        assert results[table].rows.height == count, table
    assert manifest["records"]["incidents"] > 0
    for planted in manifest["planted"]:
        hits = [q for q in results[planted["table"]].quarantined
                if q.file_path == planted["path"] and q.line == planted["line"]]
        assert hits and hits[0].field == planted["field"] and planted["reason"] in hits[0].reason, planted
    assert sum(len(r.quarantined) for r in results.values()) == len(manifest["planted"])
    expected = {i.alarm_ref: i for i in world.incidents if world.incident_vendor(i) == "milestone"}
    for row in results["incidents"].rows.iter_rows(named=True):
        inc = expected[row["source_ref"].rsplit("/", 1)[1]]
        assert (row["site_id"], row["classification"], row["responder_guard_id"]) == (
            inc.site_id, inc.classification, inc.responder_guard_id)
        assert (row["response_started_at"], row["response_ended_at"]) == (inc.response_started_at,
                                                                          inc.response_ended_at)
    devices = {r["record_id"]: r for r in results["devices"].rows.iter_rows(named=True)}
    for d in (d for d in world.devices if d.vendor == "milestone"):  # empty createdDates from the snapshots
        assert (devices[d.vendor_ref]["site_id"], devices[d.vendor_ref]["active_from"],
                devices[d.vendor_ref]["active_to"]) == (d.site_id, d.active_from, d.active_to)


sleeps: list[float] = []


def make_client(gw, world, now=datetime(2026, 11, 2, tzinfo=UTC), **kw) -> MilestoneClient:
    return MilestoneClient(gw.base_url, "vigil", kw.pop("password", "secret"), mapping=simulator.site_map(world),
                           page_size=kw.pop("page_size", 4), http=RetryingHttp(sleep=sleeps.append, timeout=5),
                           now=lambda: now, **kw)


def test_client_auth_paging_retries_history_and_cursor(world):
    server = simulator.records_for_server(world)
    sleeps.clear()
    with FakeApiGateway(**server) as gw:
        gw.fail_next(429, retry_after="1")
        gw.fail_next(503)
        client = make_client(gw, world)
        results, cursor = client.pull(None)
        got = by_table(results)
        assert got["incidents"].rows.height == len(server["alarms"]) > 0
        assert got["device_events"].rows.height == len(server["events"])
        assert got["devices"].rows.height == len(server["cameras"])
        assert not any(r.quarantined for r in results)
        assert gw.statuses()[:2] == [429, 503] and sleeps[0] == 1.0
        event_pages = [p for _, p, s in gw.requests if "/events?" in p and s == 200]
        assert len(event_pages) >= 3 and "page=0" in event_pages[0]
        assert sum(1 for _, p, _ in gw.requests if p.endswith("/history")) == len(server["alarms"])
        assert any("/hardware?" in p for _, p, _ in gw.requests)
        # createdDate empty on some cameras: installed the day the client first saw them
        assert date(2026, 11, 2) in set(got["devices"].rows["active_from"])

        histories_read = sum(1 for _, p, _ in gw.requests if p.endswith("/history"))
        again, cursor2 = client.pull(cursor)
        again = by_table(again)
        assert again["incidents"].rows.height == 0 and again["device_events"].rows.height == 0
        assert sum(1 for _, p, _ in gw.requests if p.endswith("/history")) == histories_read  # none changed
        assert set(again["devices"].rows["content_hash"]) == set(got["devices"].rows["content_hash"])

        # a gateway recycle: the old token is refused once, a fresh one is fetched
        gw.revoke_tokens()
        before = gw.token_requests
        alarm = dict(server["alarms"][0], id="99999999-0000-4000-8000-000000000001", localId=999001,
                     timestamp="2026-11-01T10:00:00.0000000Z", modified="2026-11-01T10:00:00.0000000Z",
                     state={"name": "New", "level": 1})
        gw.add("alarms", [alarm])
        third, cursor3 = client.pull(cursor2)
        assert gw.token_requests == before + 1
        third = by_table(third)
        assert list(third["device_events"].rows["event_type"]) == ["alarm_triggered"]
        who = world.guards[0].name
        gw.update("alarms", alarm["id"], state={"name": "Closed", "level": 11},
                  modified="2026-11-01T10:40:00.0000000Z")
        gw.add_history(alarm["id"], [
            {"time": "2026-11-01T10:40:00.0000000Z", "key": "StateName", "value": "Closed", "author": who},
            {"time": "2026-11-01T10:03:00.0000000Z", "key": "StateName", "value": "In progress", "author": who}])
        fourth, _ = client.pull(cursor3)
        row = by_table(fourth)["incidents"].rows.row(0, named=True)
        assert row["source_ref"] == "milestone:alarm/999001"
        assert row["responder_guard_id"] == world.guards[0].guard_id
        assert row["response_started_at"] == datetime(2026, 11, 1, 10, 3, tzinfo=UTC)


def test_a_deleted_camera_is_retired_the_day_before_the_pull_that_misses_it(world):
    server = simulator.records_for_server(world)
    camera = server["cameras"][0]
    with FakeApiGateway(**server) as gw:
        _, cursor = make_client(gw, world, now=datetime(2026, 11, 2, 6, tzinfo=UTC)).pull(None)
        gw.remove("cameras", camera["id"])
        results, _ = make_client(gw, world, now=datetime(2026, 11, 9, 6, tzinfo=UTC)).pull(cursor)
        devices = by_table(results)["devices"].rows
        gone = devices.filter(devices["record_id"] == camera["id"].lower()).row(0, named=True)
        assert gone["active_to"] == date(2026, 11, 8)


def test_wrong_password_is_a_clear_auth_error(world):
    with FakeApiGateway(**simulator.records_for_server(world)) as gw:
        with pytest.raises(AuthError) as err:
            make_client(gw, world, password="nope").pull(None)
        assert "/API/IDP/connect/token" in str(err.value) and "invalid_grant" in str(err.value)


def test_401_after_fresh_token_is_a_clear_error(world):
    with FakeApiGateway(**simulator.records_for_server(world), token_lifetime=-100) as gw:
        with pytest.raises(AuthError) as err:
            make_client(gw, world).pull(None)
        assert "HTTP 401" in str(err.value) and f"{gw.base_url}/api/rest/v1/cameras" in str(err.value)
