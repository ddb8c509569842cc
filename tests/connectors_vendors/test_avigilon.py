"""Avigilon connector: Web Endpoint answers shaped as the public sources show them
(fixtures/avigilon, see its README: cameras without server or date, incidents from the alarm
history, the event stream's quirks), the simulator's exports with planted bad events, and the
Web Endpoint client over real HTTP against the fake (login token, first-page-only continuation
token, retries, cursor across an alarm left open)."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from connectors.avigilon import parser, simulator
from connectors.avigilon.client import AvigilonClient
from connectors.avigilon.fake_server import FakeWebEndpoint
from connectors.base import CANONICAL_COLUMNS
from connectors.http import AuthError, RetryingHttp
from connectors.simulator.world import alarm_definition_id, build_world
from connectors.vendor_parsing import Mapping

FIXTURES = Path(__file__).parent / "fixtures" / "avigilon"
CAM1 = "4xIx1DMwMLSwMDUyMLewSNRLTsw1MBASWFrTcl-dw2XC-okhjeq33H8CAA"
CAM2, CAM3, CAM4, CAM5 = ("Qm9v2LkTz8WbR1yXc4DfGhJ0", "Hn5cV8xZq2WeR7tYu3IoPa6S", "Lp0oKi9JuHy8GtFr7DeSw6Aq",
                          "Mn3bV5cX7zL9kJ1hG2fD4sA8")


def by_table(results):
    return {r.table: r for r in results}


@pytest.fixture(scope="module")
def fixture_results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inbox") / "avigilon"
    shutil.copytree(FIXTURES, folder, ignore=shutil.ignore_patterns("README.md"))
    return by_table(parser.parse_folder(folder))


def test_cameras_get_site_from_their_events_and_dates_from_snapshots(fixture_results):
    devices = fixture_results["devices"]
    assert set(CANONICAL_COLUMNS["devices"]) <= set(devices.rows.columns)
    rows = {r["record_id"]: r for r in devices.rows.iter_rows(named=True)}
    assert set(rows) == {CAM1, CAM2, CAM4}
    assert (rows[CAM1]["site_id"], rows[CAM1]["active_from"], rows[CAM1]["active_to"]) == ("S-1", date(2025, 3, 1),
                                                                                          None)
    assert rows[CAM2]["site_id"] == "S-2"  # placed by sites.json entities
    assert rows[CAM4]["active_to"] == date(2025, 3, 4)  # absent from the snapshot of 2025-03-05
    reasons = {q.record_id: q.reason for q in devices.quarantined}
    assert reasons[CAM3].startswith(f"no site for camera {CAM3}: an Avigilon camera names no server")
    assert "its events come from ACC server Zk8uTq3RbWm0xYvA1cD2eF" in reasons[CAM5]


def test_incidents_come_from_the_alarm_history(fixture_results):
    incidents = fixture_results["incidents"]
    rows = {r["record_id"]: r for r in incidents.rows.iter_rows(named=True)}
    assert set(rows) == {"aLm1PerimMotion@2025-03-04T02:14:07.674Z", "aLm2PanicBtn@2025-03-04T03:00:00.000Z"}
    motion = rows["aLm1PerimMotion@2025-03-04T02:14:07.674Z"]
    assert (motion["site_id"], motion["classification"], motion["responder_guard_id"]) == ("S-1", "alarm_response",
                                                                                           "G-7")
    assert motion["opened_at"] == datetime(2025, 3, 4, 2, 14, 7, 674000, tzinfo=UTC)
    assert motion["response_started_at"] == datetime(2025, 3, 4, 2, 16, 2, 120000, tzinfo=UTC)
    assert motion["response_ended_at"] == datetime(2025, 3, 4, 2, 46, 41, 2000, tzinfo=UTC)
    assert motion["source_ref"] == "avigilon:alarm/aLm1PerimMotion@2025-03-04T02:14:07.674Z"
    assert '"missedTriggers": 1' in motion["extra"]  # a second trigger while the alarm was active
    panic = rows["aLm2PanicBtn@2025-03-04T03:00:00.000Z"]  # no camera: placed by sites.json entities
    assert (panic["site_id"], panic["classification"], panic["responder_guard_id"]) == ("S-1", "medical", "G-7")
    assert panic["response_started_at"] == datetime(2025, 3, 4, 3, 2, tzinfo=UTC)  # the first claim

    refused = {q.record_id: q for q in incidents.quarantined}
    rule9 = refused["aLm4Rule9@2025-03-04T06:00:00.000Z"]
    assert rule9.field == "name" and "'Analytics rule 9'" in rule9.reason
    assert refused["aLm5FireIn"].reason.startswith(f"no site for alarm aLm5FireIn: its camera {CAM3} has no site")
    assert "which the alarms export (alarms*.json) does not list" in refused["aLm9Deleted"].reason

    events = fixture_results["device_events"].rows
    unanswered = {r["record_id"]: r for r in events.iter_rows(named=True) if r["event_type"] == "alarm_triggered"}
    assert set(unanswered) == {"alarm-aLm1PerimMotion@2025-03-06T09:00:00.000Z",  # still open
                               "alarm-aLm3GenericIn@2025-03-04T05:00:00.000Z"}  # acknowledged, never claimed
    assert unanswered["alarm-aLm3GenericIn@2025-03-04T05:00:00.000Z"]["site_id"] == "S-2"


def test_event_stream_quirks(fixture_results):
    events = fixture_results["device_events"]
    kinds = {r["record_id"]: r for r in events.rows.iter_rows(named=True) if r["event_type"] != "alarm_triggered"}
    assert {k: r["event_type"] for k, r in kinds.items()} == {
        "64430": "other", "64227": "motion_start", "64229": "motion_end", "64231": "motion_start", "64232": "other",
        "64233": "other"}
    assert '"clientIp": {"addrIpV4": "10.89.121.200"' in kinds["64430"]["extra"]  # an object here...
    assert '"clientIp": "192.168.56.1"' in kinds["64232"]["extra"]  # ...a string there
    assert kinds["64227"]["occurred_at"] == datetime(2025, 3, 4, 2, 14, 5, 674000, tzinfo=UTC)
    refused = {q.record_id: q.reason for q in events.quarantined}
    assert refused["70001"].startswith("no site mapping for ACC server Zk8uTq3RbWm0xYvA1cD2eF (ANNEX-02)")
    assert "is not UTC" in refused["70002"]


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
    devices = {r["record_id"]: r for r in results["devices"].rows.iter_rows(named=True)}
    for d in (d for d in world.devices if d.vendor == "avigilon"):  # no date added: from the snapshots
        assert (devices[d.vendor_ref]["site_id"], devices[d.vendor_ref]["active_from"],
                devices[d.vendor_ref]["active_to"]) == (d.site_id, d.active_from, d.active_to)


sleeps: list[float] = []


def make_client(wep, world, now=datetime(2026, 11, 2, tzinfo=UTC), **kw) -> AvigilonClient:
    return AvigilonClient(wep.base_url, "vigil", kw.pop("password", "secret"), user_nonce="nonce-123",
                          user_key=kw.pop("user_key", "key-456"), mapping=simulator.site_map(world),
                          limit=kw.pop("limit", 2), first_pull_from=datetime(2026, 1, 1, tzinfo=UTC),
                          now=lambda: now, http=RetryingHttp(sleep=sleeps.append, timeout=5), **kw)


def test_client_login_paging_retries_and_cursor(world):
    server = simulator.records_for_server(world)
    sleeps.clear()
    with FakeWebEndpoint(**server) as wep:
        wep.fail_next(429, retry_after="3")
        wep.fail_next(503)
        client = make_client(wep, world)
        results, cursor = client.pull(None)
        got = by_table(results)
        assert got["incidents"].rows.height == sum(len(h) for h in server["histories"].values()) // 3 > 0
        assert got["device_events"].rows.height == len(server["events"])
        assert got["devices"].rows.height == len(server["cameras"])
        assert set(got["devices"].rows["active_from"]) == {date(2026, 11, 2)}  # first seen by this pull
        assert not any(r.quarantined for r in results)
        assert wep.statuses()[:2] == [429, 503] and sleeps[0] == 3.0
        continued = [p for _, p, s in wep.requests if "queryType=CONTINUE" in p and s == 200]
        assert len(continued) >= 2  # >= 3 pages for at least one server, the token reused
        assert sum(1 for _, p, _ in wep.requests if p.startswith("/mt/api/rest/v1/alarm-history")) >= len(
            server["alarms"])

        again, cursor2 = client.pull(cursor)
        again = by_table(again)
        assert again["incidents"].rows.height == 0 and again["device_events"].rows.height == 0
        assert set(again["devices"].rows["content_hash"]) == set(got["devices"].rows["content_hash"])

        # an alarm triggered now and acknowledged after the next pull saw it open
        site = sorted(simulator.mapping(world)["sites"].values())[0]
        alarm = alarm_definition_id("avigilon", site, "alarm_response")
        wep.add_history(alarm, [{"action": "TRIGGERED", "timestamp": "2026-11-01T10:00:00.000Z"}])
        wep.expire_sessions()  # and the session timed out meanwhile
        third, cursor3 = client.pull(cursor2)
        third = by_table(third)
        assert list(third["device_events"].rows["record_id"]) == [f"alarm-{alarm}@2026-11-01T10:00:00.000Z"]
        assert third["incidents"].rows.height == 0
        who = simulator.user_name(world, world.guards[0].guard_id)
        wep.add_history(alarm, [
            {"action": "CLAIMED", "timestamp": "2026-11-01T10:04:00.000Z", "userName": who},
            {"action": "ACKNOWLEDGED", "timestamp": "2026-11-01T10:30:00.000Z", "userName": who}])
        fourth, cursor4 = client.pull(cursor3)
        fourth = by_table(fourth)
        (row,) = fourth["incidents"].rows.iter_rows(named=True)
        assert row["record_id"] == f"{alarm}@2026-11-01T10:00:00.000Z"
        assert row["responder_guard_id"] == world.guards[0].guard_id
        assert fourth["device_events"].rows.height == 0 and not fourth["incidents"].quarantined
        fifth, _ = client.pull(cursor4)
        assert all(r.rows.height == 0 for r in fifth if r.table != "devices")


def test_a_camera_gone_from_the_list_is_retired_and_keeps_its_site(world):
    server = simulator.records_for_server(world)
    camera = server["cameras"][0]["id"]
    with FakeWebEndpoint(**server) as wep:
        _, cursor = make_client(wep, world, now=datetime(2026, 11, 2, 6, tzinfo=UTC)).pull(None)
        wep.remove_camera(camera)
        results, _ = make_client(wep, world, now=datetime(2026, 11, 20, 6, tzinfo=UTC)).pull(cursor)
        devices = by_table(results)["devices"].rows
        gone = devices.filter(devices["record_id"] == camera).row(0, named=True)
        expected_site = next(d.site_id for d in world.devices if d.vendor_ref == camera)
        assert (gone["active_from"], gone["active_to"], gone["site_id"]) == (date(2026, 11, 2), date(2026, 11, 19),
                                                                            expected_site)


def test_bad_partner_key_is_a_clear_auth_error(world):
    with FakeWebEndpoint(**simulator.records_for_server(world)) as wep:
        with pytest.raises(AuthError) as err:
            make_client(wep, world, user_key="wrong").pull(None)
        assert "HTTP 401" in str(err.value) and f"{wep.base_url}/login" in str(err.value)
        assert "Invalid authorization token" in str(err.value)


def test_authorization_token_shape():
    client = AvigilonClient("http://127.0.0.1:9", "u", "p", user_nonce="N", user_key="K", mapping=Mapping(),
                            integration_id="I", unix_time=lambda: 1700000000)
    nonce, secs, digest, integration = client.authorization_token().split(":")
    assert (nonce, secs, integration) == ("N", "1700000000", "I") and len(digest) == 64
