"""Milestone connector: REST list parsing (recording-server mapping, alarm state history,
planted bad records) and the API Gateway client over real HTTP against the local fake."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import CANONICAL_COLUMNS
from connectors.http import AuthError, RetryingHttp
from connectors.milestone import parser, simulator
from connectors.milestone.client import MilestoneClient
from connectors.milestone.fake_server import FakeApiGateway
from connectors.simulator.world import build_world

RS, CAM, CAM_OFF = ("11111111-2222-4333-8444-555555555555", "7a78f5bb-d8c3-4997-89b7-cae72713b7db",
                    "25d08c6a-cc08-4498-8772-242111f9840c")
MOTION = "6eb95dd6-7ccc-4bce-99f8-af0d0b582d77"


def history(*entries):
    return [{"time": t, "state": {"name": n, "level": lvl}, "assignedTo": {"displayName": who} if who else None}
            for t, n, lvl, who in entries]


def sample_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "milestone"
    folder.mkdir()
    (folder / "sites.json").write_text(json.dumps({"sites": {RS: "S-1"}, "guards": {"Ana Ruiz": "G-7"}}))
    (folder / "cameras.json").write_text(json.dumps({"array": [
        {"id": CAM.upper(), "name": "Dock", "enabled": True, "createdDate": "2025-01-15T00:00:00.000Z",
         "lastModified": "2025-02-01T00:00:00.000Z", "recordingServer": {"type": "recordingServers", "id": RS}},
        {"id": CAM_OFF, "name": "Gate", "enabled": False, "createdDate": "2024-06-01T00:00:00Z",
         "lastModified": "2025-03-01T08:00:00Z", "recordingServer": {"type": "recordingServers", "id": RS}},
    ]}))
    (folder / "alarms.json").write_text(json.dumps({"array": [
        {"id": "0c6f3a52-1b7e-4d0c-a7a1-5b8f0a2e9c11", "localId": 2211, "name": "Perimeter intrusion",
         "source": f"cameras/{CAM}", "timestamp": "2025-03-04T02:14:07.000Z", "modified": "2025-03-04T02:50:00.000Z",
         "state": {"name": "Closed", "level": 11}, "priority": {"name": "High", "level": 1},
         "assignedTo": {"displayName": "Ana Ruiz"},
         "history": history(("2025-03-04T02:14:07.000Z", "New", 1, None),
                            ("2025-03-04T02:16:00.000Z", "In progress", 4, "Ana Ruiz"),
                            ("2025-03-04T02:50:00.000Z", "Closed", 11, "Ana Ruiz"))},
        {"id": "6e2d1f04-9a3c-4f8e-b2d5-0c7a4e6b1f22", "localId": 2212, "name": "Door forced",
         "source": f"cameras/{CAM_OFF}", "timestamp": "2025-03-04T02:20:31.000Z",
         "state": {"name": "New", "level": 1}, "priority": {"name": "Medium", "level": 2}, "assignedTo": None},
        {"id": "6e2d1f04-0000-4f8e-b2d5-0c7a4e6b1f23", "localId": 2213, "name": "Camera offline",
         "source": f"cameras/{CAM}", "timestamp": "2025-03-04T03:00:00Z", "state": {"name": "Closed", "level": 11},
         "history": history(("2025-03-04T03:01:00Z", "In progress", 4, "op1"),
                            ("2025-03-04T03:02:00Z", "Closed", 11, "op1"))},
    ]}))
    (folder / "events.json").write_text(json.dumps({"array": [
        {"id": "e0000000-0000-4000-8000-000000000001", "type": MOTION, "source": f"cameras/{CAM}",
         "time": "2025-03-04T02:13:00.000Z"},
        {"id": "e0000000-0000-4000-8000-000000000002", "type": "00000000-0000-0000-0000-00000000abcd",
         "source": "userDefinedEvents/99", "time": "2025-03-04T02:13:30.000Z"},
    ]}))
    return folder


def by_table(results):
    return {r.table: r for r in results}


def test_sample_lists_map_to_canonical_rows(tmp_path):
    results = by_table(parser.parse_folder(sample_folder(tmp_path)))
    for table, result in results.items():
        assert result.source == "milestone"
        assert set(CANONICAL_COLUMNS[table]) <= set(result.rows.columns)
    incidents = results["incidents"]
    assert incidents.rows.height == 1
    row = incidents.rows.row(0, named=True)
    assert row["record_id"] == "0c6f3a52-1b7e-4d0c-a7a1-5b8f0a2e9c11"
    assert (row["site_id"], row["classification"], row["responder_guard_id"]) == ("S-1", "alarm_response", "G-7")
    assert row["response_started_at"] == datetime(2025, 3, 4, 2, 16, tzinfo=UTC)
    assert row["response_ended_at"] == datetime(2025, 3, 4, 2, 50, tzinfo=UTC)
    assert row["opened_at"] == datetime(2025, 3, 4, 2, 14, 7, tzinfo=UTC)
    assert row["source_ref"] == "milestone:alarm/2211"
    (refused,) = incidents.quarantined
    assert (refused.line, refused.field) == (3, "name") and "cannot classify" in refused.reason

    events = results["device_events"]
    kinds = dict(zip(events.rows["record_id"], events.rows["event_type"], strict=True))
    assert kinds["e0000000-0000-4000-8000-000000000001"] == "motion_start"
    assert kinds["alarm-6e2d1f04-9a3c-4f8e-b2d5-0c7a4e6b1f22"] == "alarm_triggered"  # still open
    (unmapped,) = events.quarantined
    assert unmapped.field == "source" and "unknown site" in unmapped.reason and unmapped.line == 2

    devices = {r["record_id"]: r for r in results["devices"].rows.iter_rows(named=True)}
    assert devices[CAM.lower()]["active_to"] is None
    assert str(devices[CAM_OFF]["active_to"]) == "2025-03-01"  # disabled: retired at lastModified


def test_source_mapped_whole_in_sites_json(tmp_path):
    folder = sample_folder(tmp_path)
    (folder / "sites.json").write_text(json.dumps({"sites": {RS: "S-1", "userDefinedEvents/99": "S-2"}}))
    events = by_table(parser.parse_folder(folder))["device_events"]
    assert not events.quarantined
    assert "S-2" in set(events.rows["site_id"])


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


sleeps: list[float] = []


def make_client(gw, world, **kw) -> MilestoneClient:
    return MilestoneClient(gw.base_url, "vigil", kw.pop("password", "secret"), mapping=simulator.site_map(world),
                           page_size=kw.pop("page_size", 4), http=RetryingHttp(sleep=sleeps.append, timeout=5), **kw)


def test_client_auth_paging_retries_and_cursor(world):
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

        again, cursor2 = client.pull(cursor)
        again = by_table(again)
        assert again["incidents"].rows.height == 0 and again["device_events"].rows.height == 0

        # a gateway recycle: the old token is refused once, a fresh one is fetched
        gw.revoke_tokens()
        before = gw.token_requests
        alarm = dict(server["alarms"][0], id="99999999-0000-4000-8000-000000000001", localId=999001,
                     timestamp="2026-11-01T10:00:00.000Z", modified="2026-11-01T10:00:00.000Z",
                     state={"name": "New", "level": 1}, history=[])
        gw.add("alarms", [alarm])
        third, cursor3 = client.pull(cursor2)
        assert gw.token_requests == before + 1
        third = by_table(third)
        assert list(third["device_events"].rows["event_type"]) == ["alarm_triggered"]
        who = {"displayName": world.guards[0].name}
        gw.update("alarms", alarm["id"], state={"name": "Closed", "level": 11}, modified="2026-11-01T10:40:00.000Z",
                  history=[
                      {"time": "2026-11-01T10:03:00.000Z", "state": {"name": "In progress", "level": 4},
                       "assignedTo": who},
                      {"time": "2026-11-01T10:40:00.000Z", "state": {"name": "Closed", "level": 11},
                       "assignedTo": who}])
        fourth, _ = client.pull(cursor3)
        row = by_table(fourth)["incidents"].rows.row(0, named=True)
        assert row["source_ref"] == "milestone:alarm/999001"
        assert row["responder_guard_id"] == world.guards[0].guard_id


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
