"""Avigilon connector: WEP answer parsing (server mapping, alarm lifecycle folded into
incidents, planted bad events) and the Web Endpoint client over real HTTP against the fake
(login token, CONTINUE paging, retries, cursor across an alarm left open)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.avigilon import parser, simulator
from connectors.avigilon.client import AvigilonClient
from connectors.avigilon.fake_server import FakeWebEndpoint
from connectors.base import CANONICAL_COLUMNS
from connectors.http import AuthError, RetryingHttp
from connectors.simulator.world import build_world

SERVER, CAM = "pXyE3ycIRJCvkVSBJ9pH-Q", "4xIx1DMwMLSwMDUyMLewSNRLTsw1MBASWFrTc"


def ok(key, items):
    return json.dumps({"status": "success", "result": {key: items}})


def ev(this, ts, kind, **kw):
    return {"thisId": this, "timestamp": ts, "originatingEventId": this, "originatingServerName": "ACC-SITE-01",
            "originatingServerId": SERVER, "type": kind, **kw}


def sample_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "avigilon"
    folder.mkdir()
    (folder / "sites.json").write_text(json.dumps({"sites": {SERVER: "S-1"}, "guards": {"ana.ruiz": "G-7"}}))
    (folder / "cameras.json").write_text(ok("cameras", [
        {"id": CAM, "name": "Dock", "serverId": SERVER, "dateAdded": "2025-01-15T00:00:00.000Z"},
        {"id": CAM.lower(), "name": "Case twin", "serverId": SERVER.lower(), "dateAdded": "2025-01-15T00:00:00.000Z"},
    ]))
    (folder / "alarms.json").write_text(ok("alarms", [
        {"id": "A1", "name": "Perimeter motion", "type": "MOTION_DETECTED", "associatedCameras": [CAM]},
        {"id": "A2", "name": "Medical emergency", "type": "USER_TRIGGERED", "associatedCameras": [CAM]},
    ]))
    (folder / "events_2025-03.json").write_text(json.dumps({"status": "success", "result": {"events": [
        ev("64227", "2025-03-04T02:14:07.674Z", "DEVICE_MOTION_START", linkedEventId="64229", cameraId=CAM),
        ev("64232", "2025-03-04T02:15:27.037Z", "USER_LOGIN_FAILURE", userName="administrator", clientIp="10.0.0.1"),
        ev("70001", "2025-03-04T03:00:00.000Z", "ALARM_TRIGGERED", alarmId="A2"),
        ev("70002", "2025-03-04T03:02:00.000Z", "ALARM_CLAIMED", linkedEventId="70001", userName="ana.ruiz"),
        ev("70003", "2025-03-04T03:31:00.500Z", "ALARM_ACKNOWLEDGED", linkedEventId="70001", userName="ana.ruiz"),
        ev("70004", "2025-03-04T04:00:00.000Z", "ALARM_TRIGGERED", alarmId="A1", cameraId=CAM),
        ev("70010", "2025-03-04T05:00:00.000Z", "ALARM_ACKNOWLEDGED", linkedEventId="60000", userName="op"),
        ev("70011", "2025-03-04T05:00:00", "DEVICE_MOTION_START", cameraId=CAM),
    ], "token": "abc"}}))
    return folder


def by_table(results):
    return {r.table: r for r in results}


def test_sample_answers_map_to_canonical_rows(tmp_path):
    results = by_table(parser.parse_folder(sample_folder(tmp_path)))
    for table, result in results.items():
        assert result.source == "avigilon"
        assert set(CANONICAL_COLUMNS[table]) <= set(result.rows.columns)
    (inc,) = results["incidents"].rows.iter_rows(named=True)
    assert inc["record_id"] == "70001" and inc["source_ref"] == "avigilon:alarm/70001"
    assert (inc["site_id"], inc["classification"], inc["responder_guard_id"]) == ("S-1", "medical", "G-7")
    assert inc["opened_at"] == datetime(2025, 3, 4, 3, 0, tzinfo=UTC)
    assert inc["response_started_at"] == datetime(2025, 3, 4, 3, 2, tzinfo=UTC)
    assert inc["response_ended_at"] == datetime(2025, 3, 4, 3, 31, 0, 500000, tzinfo=UTC)

    events = results["device_events"]
    kinds = dict(zip(events.rows["record_id"], events.rows["event_type"], strict=True))
    assert kinds == {"64227": "motion_start", "64232": "other", "alarm-70004": "alarm_triggered"}
    motion = events.rows.filter(events.rows["record_id"] == "64227").row(0, named=True)
    assert motion["device_id"] == CAM and motion["occurred_at"] == datetime(2025, 3, 4, 2, 14, 7, 674000, tzinfo=UTC)
    refused = {(q.line, q.field): q.reason for q in events.quarantined}
    assert "not in the export" in refused[(7, "linkedEventId")]  # acknowledgement of an unseen trigger
    assert "no UTC offset" in refused[(8, "timestamp")] or "not UTC" in refused[(8, "timestamp")]

    devices = results["devices"]
    assert list(devices.rows["record_id"]) == [CAM]  # ids are case-sensitive: the lower-cased twin is unmapped
    (twin,) = devices.quarantined
    assert twin.field == "serverId" and "unknown site" in twin.reason


@pytest.fixture(scope="module")
def world():
    return build_world(seed=2, days=14)


def test_simulated_exports_parse_with_planted_records_quarantined(world, tmp_path):
    manifest = simulator.write_exports(world, tmp_path / "avigilon")
    results = by_table(parser.parse_folder(tmp_path / "avigilon"))
    for table, count in manifest["records"].items():
        assert results[table].rows.height == count, table
    assert manifest["records"]["incidents"] > 0
    for planted in manifest["planted"]:
        hits = [q for q in results[planted["table"]].quarantined
                if q.file_path == planted["path"] and q.line == planted["line"]]
        assert hits and hits[0].field == planted["field"] and planted["reason"] in hits[0].reason, planted
    assert sum(len(r.quarantined) for r in results.values()) == len(manifest["planted"])
    expected = {i.alarm_ref: i for i in world.incidents if world.incident_vendor(i) == "avigilon"}
    for row in results["incidents"].rows.iter_rows(named=True):
        inc = expected[row["record_id"]]
        assert (row["site_id"], row["classification"], row["responder_guard_id"]) == (
            inc.site_id, inc.classification, inc.responder_guard_id)
        assert (row["response_started_at"], row["response_ended_at"]) == (inc.response_started_at,
                                                                          inc.response_ended_at)


sleeps: list[float] = []


def make_client(wep, world, **kw) -> AvigilonClient:
    return AvigilonClient(wep.base_url, "vigil", kw.pop("password", "secret"), user_nonce="nonce-123",
                          user_key=kw.pop("user_key", "key-456"), mapping=simulator.site_map(world),
                          limit=kw.pop("limit", 2), first_pull_from=datetime(2026, 1, 1, tzinfo=UTC),
                          now=lambda: datetime(2026, 11, 2, tzinfo=UTC),
                          http=RetryingHttp(sleep=sleeps.append, timeout=5), **kw)


def test_client_login_paging_retries_and_cursor(world):
    server = simulator.records_for_server(world)
    sleeps.clear()
    with FakeWebEndpoint(**server) as wep:
        wep.fail_next(429, retry_after="3")
        wep.fail_next(503)
        client = make_client(wep, world)
        results, cursor = client.pull(None)
        got = by_table(results)
        lifecycle = {parser.TRIGGERED, parser.CLAIMED, parser.ACKNOWLEDGED}
        assert got["incidents"].rows.height == sum(1 for e in server["events"] if e["type"] == parser.TRIGGERED) > 0
        assert got["device_events"].rows.height == sum(1 for e in server["events"] if e["type"] not in lifecycle)
        assert got["devices"].rows.height == len(server["cameras"])
        assert not any(r.quarantined for r in results)
        assert wep.statuses()[:2] == [429, 503] and sleeps[0] == 3.0
        continued = [p for _, p, s in wep.requests if "queryType=CONTINUE" in p and s == 200]
        assert len(continued) >= 2  # >= 3 pages for at least one server

        again, cursor2 = client.pull(cursor)
        again = by_table(again)
        assert again["incidents"].rows.height == 0 and again["device_events"].rows.height == 0

        # an alarm triggered now and acknowledged after the next pull saw it open
        sid = sorted(simulator.mapping(world)["sites"])[0]
        site = simulator.mapping(world)["sites"][sid]
        alarm = simulator._alarm_id(site, "alarm_response")
        base = {"originatingServerId": sid, "originatingServerName": f"ACC-{site}", "alarmId": alarm}
        wep.add_events([{"thisId": "880001", "timestamp": "2026-11-01T10:00:00.000Z", "type": parser.TRIGGERED,
                         **base}])
        wep.expire_sessions()  # and the session timed out meanwhile
        third, cursor3 = client.pull(cursor2)
        third = by_table(third)
        assert list(third["device_events"].rows["record_id"]) == ["alarm-880001"]
        assert third["incidents"].rows.height == 0
        who = simulator.user_name(world, world.guards[0].guard_id)
        wep.add_events([
            {"thisId": "880002", "linkedEventId": "880001", "timestamp": "2026-11-01T10:04:00.000Z",
             "type": parser.CLAIMED, "userName": who, **base},
            {"thisId": "880003", "linkedEventId": "880001", "timestamp": "2026-11-01T10:30:00.000Z",
             "type": parser.ACKNOWLEDGED, "userName": who, **base}])
        fourth, cursor4 = client.pull(cursor3)
        fourth = by_table(fourth)
        (row,) = fourth["incidents"].rows.iter_rows(named=True)
        assert row["record_id"] == "880001" and row["responder_guard_id"] == world.guards[0].guard_id
        assert fourth["device_events"].rows.height == 0 and not fourth["incidents"].quarantined
        fifth, _ = client.pull(cursor4)
        assert all(r.rows.height == 0 for r in fifth if r.table != "devices")


def test_bad_partner_key_is_a_clear_auth_error(world):
    with FakeWebEndpoint(**simulator.records_for_server(world)) as wep:
        with pytest.raises(AuthError) as err:
            make_client(wep, world, user_key="wrong").pull(None)
        assert "HTTP 401" in str(err.value) and f"{wep.base_url}/login" in str(err.value)
        assert "Invalid authorization token" in str(err.value)


def test_authorization_token_shape():
    client = AvigilonClient("http://127.0.0.1:9", "u", "p", user_nonce="N", user_key="K", mapping=parser.Mapping(),
                            integration_id="I", unix_time=lambda: 1700000000)
    nonce, secs, digest, integration = client.authorization_token().split(":")
    assert (nonce, secs, integration) == ("N", "1700000000", "I") and len(digest) == 64
