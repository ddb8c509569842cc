"""TrackTik connector: export parsing (work sessions with their shift's schedule, untyped
positions through the deployment's service-type table, patrols, planted bad records) and
the REST client over real HTTP against the local fake (OAuth incl. refresh, paging,
retries, 31-day windows, cursor)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from connectors.base import CANONICAL_COLUMNS
from connectors.simulator.world import build_world
from connectors.tracktik import parser, simulator
from connectors.tracktik.client import Cursor, TrackTikAuthError, TrackTikClient, windows
from connectors.tracktik.fake_server import FakeTrackTik


def _page(items):
    return json.dumps({"meta": {"count": len(items), "itemCount": len(items), "limit": 100, "offset": 0},
                       "data": items})


# Shapes as TrackTik's REST API sends them (fixtures/tracktik/README.md)
EMPLOYEES = [{"id": 4203, "customId": "G-1", "firstName": "Ana", "lastName": "Ruiz", "status": "ACTIVE"},
             {"id": 4567, "customId": "G-2", "firstName": "Tom", "lastName": "Chen", "status": "ACTIVE"},
             {"id": 4600, "customId": "", "firstName": "No", "lastName": "Custom"}]
POSITIONS = [{"id": 8901, "customId": "P-1", "name": "Main Gate", "account": 30100, "status": "ACTIVE"},
             {"id": 8902, "customId": "P-2", "name": "Cash Office", "account": 30100, "status": "ACTIVE"},
             {"id": 8903, "customId": "P-3", "name": "Night Patrol", "account": 30140, "status": "ACTIVE"},
             {"id": 8904, "customId": "P-4", "name": "Armed Lobby", "account": 30140, "status": "ACTIVE"},
             {"id": 8905, "customId": "P-5", "name": "K9 Sweep", "account": 30100, "status": "ACTIVE"},
             {"id": 8906, "customId": "P-6", "name": "Floating", "account": None, "status": "ACTIVE"}]
SERVICE_TYPES = "position,service_type\n8901,unarmed\nP-2,armed\nP-3,patrol\nP-5,k9_unit\nP-6,unarmed\n"
CLIENTS = [{"id": 30100, "customId": "S-101", "name": "Harbor Terminal 4", "timeZone": "America/New_York"},
           {"id": 30140, "customId": "S-202", "name": "Prairie Parking", "timeZone": "America/Chicago"}]


def _shift(id_, employee=4203, position=8901, start="2025-06-01T07:00:00-04:00", end="2025-06-01T15:00:00-04:00",
           status="ACTIVE", **more):
    """A TrackTik shift: the schedule only."""
    return {"id": id_, "employee": employee, "position": position, "account": None, "startDateTime": start,
            "endDateTime": end, "status": status, "attendanceStatus": "ON_TIME", **more}


def _session(id_, shift=1079011, employee=4203, position=8901, started="2025-06-01T06:58:12-04:00",
             ended="2025-06-01T15:04:40-04:00", account=30100, **more):
    """A work session: what was worked."""
    return {"id": id_, "employee": employee, "shift": shift, "position": position, "account": account,
            "startedOn": started, "endedOn": ended, **more}


SHIFTS = [
    _shift(1079011),
    _shift(1079012, employee=4567, position=8902, start="2025-06-01T15:00:00-04:00", end="2025-06-01T23:00:00-04:00"),
    _shift(1079013, position=8903),
    _shift(1079014, position=8904),
    _shift(1079017, status="CANCELLED"),  # never worked: no session, nothing billed
]
SESSIONS = [
    _session(2079011),
    _session(2079012, shift=1079012, employee=4567, position=8902, started="2025-06-01T15:01:00-04:00",
             ended=None),                                                          # running: open
    _session(2079013, shift=1079013, position=8903, account=None, started="2025-06-01T19:55:00Z",
             ended="2025-06-02T04:02:00Z"),                                        # account from the position
    _session(2079015, shift=None, position=8905),                                  # unscheduled
    _session(2079016, shift=None, position=8906, account=30140),                   # position without account
    _session(2079014, shift=1079014, position=8904),                               # position not in the table
    _session(2079018, started="2025-06-01T06:58:12"),                              # no offset
    _session(2079019, employee=9999),                                              # unknown employee
    _session(2079020, shift=1079999),                                              # shift not exported
    _session(2079021, employee=4600),                                              # employee without customId
    _session("abc"),                                                               # id not an integer
]
TOURS = [{"id": 501, "name": "Night Perimeter", "account": 30140,
          "checkpoints": [{"id": f"CP-0{k}", "name": f"Point {k}"} for k in range(1, 5)]}]
SCAN_HEADER = ("scan_id,site_custom_id,tour_name,tour_session_id,checkpoint_id,checkpoint_name,scan_method,"
               "employee_custom_id,scanned_at,status")
SCANS = [
    "S-1,S-202,Night Perimeter,TS-1,CP-01,Point 1,NFC,G-1,2025-06-01T21:10:00-05:00,ON_TIME",
    "S-2,S-202,Night Perimeter,TS-1,CP-02,Point 2,QR,G-1,2025-06-01T21:14:30-05:00,ON_TIME",
    "S-3,S-202,Night Perimeter,TS-1,CP-03,Point 3,NFC,G-1,2025-06-01T21:22:00-05:00,LATE",
    "S-4,S-202,Night Perimeter,TS-1,CP-04,Point 4,NFC,G-1,2025-06-01T21:25:10-05:00,ON_TIME",
    "S-5,S-202,Night Perimeter,TS-2,CP-01,Point 1,NFC,G-1,2025-06-01T23:00:00-05:00,ON_TIME",
    "S-6,S-202,Night Perimeter,TS-2,CP-02,Point 2,,G-1,,MISSED",
    "S-7,S-202,Night Perimeter,TS-2,CP-03,Point 3,NFC,G-1,2025-06-01T23:09:00-05:00,ON_TIME",
    "S-8,S-202,Night Perimeter,TS-3,CP-01,Point 1,NFC,G-1,2025-06-02T01:00:00-05:00,ON_TIME",
    "S-9,S-202,Night Perimeter,TS-3,CP-02,Point 2,NFC,G-1,2025-06-02T25:00:00-05:00,ON_TIME",
    "S-10,S-202,Day Loop,TS-4,CP-01,Point 1,NFC,G-2,2025-06-02T09:00:00-05:00,ON_TIME",
]


def _write_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "tracktik"
    folder.mkdir()
    (folder / "employees.json").write_text(_page(EMPLOYEES))
    (folder / "positions.json").write_text(_page(POSITIONS))
    (folder / "clients.json").write_text(_page(CLIENTS))
    (folder / "tours.json").write_text(_page(TOURS))
    (folder / "service_types.csv").write_text(SERVICE_TYPES)
    (folder / "shifts-2025-06-01.json").write_text(_page(SHIFTS))
    (folder / "work-sessions-2025-06-01.json").write_text(_page(SESSIONS))
    (folder / "checkpoint-scans-2025-06-01.csv").write_text("\n".join([SCAN_HEADER, *SCANS]) + "\n")
    return folder


def _results(folder: Path):
    return {r.table: r for r in parser.parse_folder(folder)}


def test_work_sessions_map_to_canonical_timesheets(tmp_path):
    """A timesheet is a work session (startedOn/endedOn), its schedule its shift's."""
    ts = _results(_write_folder(tmp_path))["timesheets"]
    assert ts.source == "tracktik"
    assert set(CANONICAL_COLUMNS["timesheets"]) <= set(ts.rows.columns)
    rows = {r["record_id"]: r for r in ts.rows.iter_rows(named=True)}
    first = rows["2079011"]
    assert first["guard_id"] == "G-1" and first["guard_name"] == "Ana Ruiz"
    assert first["site_id"] == "S-101"  # the session's account -> customId
    assert first["service_type"] == "unarmed" and first["post"] == "Main Gate"  # by position id
    assert first["check_in_at"] == datetime(2025, 6, 1, 10, 58, 12, tzinfo=UTC)  # -04:00 local -> UTC
    assert first["check_out_at"] == datetime(2025, 6, 1, 19, 4, 40, tzinfo=UTC)
    assert first["scheduled_start_at"] == datetime(2025, 6, 1, 11, tzinfo=UTC)  # the shift's schedule
    assert first["vendor_ref"] == "2079011"
    assert first["source_file"].endswith("work-sessions-2025-06-01.json") and first["source_line"] == 1
    extra = json.loads(first["extra"])
    assert extra["employee_id"] == 4203 and extra["shift"] == 1079011 and extra["attendance_status"] == "ON_TIME"
    # a session with no endedOn is an open shift
    assert rows["2079012"]["check_out_at"] is None and rows["2079012"]["service_type"] == "armed"  # by customId
    assert rows["2079013"]["service_type"] == "patrol" and rows["2079013"]["site_id"] == "S-202"
    assert rows["2079015"]["service_type"] == "k9_unit" and rows["2079015"]["scheduled_start_at"] is None
    assert rows["2079016"]["site_id"] == "S-202"  # position without account: the session's
    assert "1079017" not in rows and len(rows) == 5  # a cancelled shift with no session bills nothing
    assert ts.rows["content_hash"].n_unique() == ts.rows.height


def test_bad_sessions_and_lookups_are_quarantined_with_reasons(tmp_path):
    ts = _results(_write_folder(tmp_path))["timesheets"]
    refused = {q.record_id: q for q in ts.quarantined}
    assert refused["2079014"].field == "position" and "no service type in service_types.csv" in \
        refused["2079014"].reason and "Armed Lobby" in refused["2079014"].reason
    assert refused["2079018"].field == "startedOn" and "no UTC offset" in refused["2079018"].reason
    assert refused["2079018"].line == 7 and refused["2079018"].file_path.endswith("work-sessions-2025-06-01.json")
    assert refused["2079019"].field == "employee" and "9999" in refused["2079019"].reason
    assert refused["2079020"].field == "shift" and "1079999 is not in the shifts export" in refused["2079020"].reason
    assert "2079021" in refused  # its employee has no customId
    assert refused[None].field == "id" and "not an integer" in refused[None].reason
    lookup = [q for q in ts.quarantined if q.record_id == "4600" and q.field == "customId"]
    assert lookup and lookup[0].file_path.endswith("employees.json") and lookup[0].line == 3
    assert json.loads(refused["2079019"].content)["employee"] == 9999  # content as delivered


def test_tour_sessions_become_patrol_records(tmp_path):
    patrols = _results(_write_folder(tmp_path))["patrols"]
    assert set(CANONICAL_COLUMNS["patrols"]) <= set(patrols.rows.columns)
    rows = {r["record_id"]: r for r in patrols.rows.iter_rows(named=True)}
    full = rows["TS-1"]
    assert (full["site_id"], full["guard_id"]) == ("S-202", "G-1")
    assert full["started_at"] == datetime(2025, 6, 2, 2, 10, tzinfo=UTC)
    assert full["completed_at"] == datetime(2025, 6, 2, 2, 25, 10, tzinfo=UTC)
    assert (full["checkpoints_required"], full["checkpoints_scanned"]) == (4, 4)
    assert full["source_line"] == 2 and full["vendor_ref"] == "TS-1"
    assert json.loads(full["extra"])["statuses"] == {"LATE": 1, "ON_TIME": 3}
    partial = rows["TS-2"]  # one MISSED row, one checkpoint not reported at all
    assert (partial["checkpoints_required"], partial["checkpoints_scanned"]) == (4, 2)
    assert json.loads(partial["extra"])["missed"] == ["CP-02", "CP-04"]
    refused = {(q.record_id, q.field): q for q in patrols.quarantined}
    assert refused[("S-9", "scanned_at")].line == 10
    assert "TS-3" in refused[("TS-3", "tour_session_id")].reason and refused[("TS-3", "tour_session_id")].line == 9
    assert "not in the tours export" in refused[("TS-4", "tour_name")].reason
    assert set(rows) == {"TS-1", "TS-2"}


def test_unknown_and_unreadable_files_are_quarantined(tmp_path):
    folder = _write_folder(tmp_path)
    (folder / "notes.txt").write_text("hello")
    (folder / "shifts-broken.json").write_text("{not json")
    (folder / "checkpoint-scans-bad.csv").write_text("scan_id,foo\n1,2\n")
    results = parser.parse_folder(folder)
    reasons = [q.reason for r in results for q in r.quarantined if q.record_id is None and q.field != "id"]
    assert any("unexpected file" in r for r in reasons)
    assert any("unreadable page" in r for r in reasons)
    assert any("lacks column" in r for r in reasons)


def test_simulated_exports_round_trip_with_planted_records(tmp_path):
    world = build_world(days=21, clients=4, seed=11)
    manifest = simulator.write_exports(world, tmp_path / "tracktik")
    ts, patrols = parser.parse_folder(tmp_path / "tracktik")
    refused = ts.quarantined + patrols.quarantined
    assert len(refused) == manifest["quarantine_expected"] == 4
    where = {(Path(q.file_path).name, q.line, q.record_id) for q in refused}
    for p in manifest["planted"]:
        assert (p["file"], p["line"], p["record_id"]) in where, p
    redelivered = sum(1 for r in world.redeliveries)
    assert ts.rows.height == len(world.shifts) + redelivered - 1  # one planted shift refused
    assert patrols.rows.height == len(world.tours) - 1
    planted = {p["kind"]: p["record_id"] for p in manifest["world_planted"]}
    rows = {r["record_id"]: r for r in ts.rows.iter_rows(named=True)}
    assert rows[planted["open_shift"]]["check_out_at"] is None
    assert rows[planted["unknown_service_type"]]["service_type"] == next(
        x.service_type for x in world.shifts if x.shift_id == next(
            p.record_id for p in world.planted if p.kind == "unknown_service_type"))
    shift = world.shifts[0]
    mapped = rows[str(simulator.session_number(shift.shift_id))]
    assert (mapped["guard_id"], mapped["site_id"], mapped["service_type"]) == (shift.guard_id, shift.site_id,
                                                                             shift.service_type)
    assert mapped["check_in_at"] == shift.check_in.replace(microsecond=0)
    tours = {r["record_id"]: r for r in patrols.rows.iter_rows(named=True)}
    missed = tours[planted["missed_checkpoints"]]
    assert missed["checkpoints_scanned"] < missed["checkpoints_required"]
    tour = world.tours[0]
    got = tours[simulator.session_id(tour.tour_id)]
    assert (got["checkpoints_required"], got["checkpoints_scanned"]) == (tour.checkpoints_required,
                                                                         tour.checkpoints_scanned)
    assert got["started_at"] == tour.scans[0].scanned_at.replace(microsecond=0)
    # writing again changes nothing
    again = simulator.write_exports(world, tmp_path / "tracktik")
    assert again["files"] == manifest["files"]


def test_inbox_hands_the_tracktik_folder_to_this_parser(tmp_path):
    from connectors.inbox import parse_inbox

    _write_folder(tmp_path)
    results = [r for r in parse_inbox(tmp_path) if r.source == "tracktik"]
    assert {r.table for r in results} == {"timesheets", "patrols"}


# --- API client -------------------------------------------------------------------------------

CREDS = ("vigil", "vigil-secret", "api-user", "api-pass")
UNTIL = datetime(2026, 11, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def world():
    return build_world(days=40, clients=3, seed=5)


@pytest.fixture(scope="module")
def service_types(world, tmp_path_factory):
    path = tmp_path_factory.mktemp("tracktik") / "service_types.csv"
    path.write_text(simulator.service_types_csv(world))
    return path


def _client(fake, service_types, **kw) -> TrackTikClient:
    kw.setdefault("sleep", lambda s: None)
    return TrackTikClient(fake.base_url, *CREDS, service_types=service_types, **kw)


def test_windows_are_split_at_31_days():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    parts = windows(start, start + timedelta(days=70))
    assert [b - a for a, b in parts] == [timedelta(days=31), timedelta(days=31), timedelta(days=8)]
    assert all(parts[i][1] == parts[i + 1][0] for i in range(len(parts) - 1))


def test_pull_pages_retries_splits_windows_and_advances(world, service_types):
    records = simulator.records_for_server(world)
    with FakeTrackTik(records) as fake:
        client = _client(fake, service_types, limit=25, backfill=timedelta(days=45))
        fake.fail_next(429, 1, retry_after="0")
        fake.fail_next(503, 2)
        results, cursor = client.pull(None, UNTIL)
        [ts] = results
        assert ts.table == "timesheets" and not ts.quarantined
        assert ts.rows.height == len(world.shifts)
        assert sorted(ts.rows["record_id"].to_list()) == sorted(str(s["id"]) for s in records["work-sessions"])
        assert ts.rows["scheduled_start_at"].null_count() == 0  # every session found its shift
        statuses = fake.statuses()
        assert statuses[:3] == [429, 503, 503] and statuses.count(200) == len(statuses) - 3
        session_queries = fake.data_requests("work-sessions")
        assert len(session_queries) >= 3  # >= 3 pages
        spans = {q.split("startedOn%3Abetween=")[1].split("&")[0] for q in session_queries}
        assert len(spans) == 2  # 45 days: two windows, each within 31 days
        assert Cursor.decode(cursor).start == UNTIL
        again, cursor2 = client.pull(cursor, UNTIL + timedelta(hours=2))
        assert again[0].rows.height == 0 and not again[0].quarantined
        assert Cursor.decode(cursor2).start == UNTIL + timedelta(hours=2)
        assert fake.grants == ["password"]  # one token for the whole session


def test_pulled_and_exported_shift_have_the_same_hash(world, tmp_path, service_types):
    simulator.write_exports(world, tmp_path / "tracktik")
    exported, _ = parser.parse_folder(tmp_path / "tracktik")
    with FakeTrackTik(simulator.records_for_server(world)) as fake:
        [pulled], _ = _client(fake, service_types, backfill=timedelta(days=45)).pull(None, _after_end(world))
    common = set(exported.rows["content_hash"]) & set(pulled.rows["content_hash"])
    assert len(common) >= len(world.shifts) - 3


def _after_end(world):  # noqa: N802
    return datetime.combine(world.end + timedelta(days=2), datetime.min.time(), tzinfo=UTC)


def test_token_refresh_on_expiry_and_on_401(world, service_types):
    now = [1_000.0]
    with FakeTrackTik(simulator.records_for_server(world), token_ttl=600, clock=lambda: now[0]) as fake:
        client = _client(fake, service_types, limit=100, backfill=timedelta(days=10), clock=lambda: now[0])
        _, cursor = client.pull(None, UNTIL - timedelta(days=10))
        assert fake.grants == ["password"]
        now[0] += 700  # the token has expired: refreshed before the next call
        _, cursor = client.pull(cursor, UNTIL - timedelta(days=5))
        assert fake.grants == ["password", "refresh_token"]
        fake.expire_tokens()  # revoked server-side: 401, refresh, repeat
        results, _ = client.pull(cursor, UNTIL)
        assert fake.grants == ["password", "refresh_token", "refresh_token"]
        assert 401 in fake.statuses() and results[0].rows.height > 0


def test_bad_credentials_raise_a_clear_error(world):
    with FakeTrackTik(simulator.records_for_server(world)) as fake:
        client = TrackTikClient(fake.base_url, "vigil", "vigil-secret", "api-user", "wrong", sleep=lambda s: None)
        with pytest.raises(TrackTikAuthError, match=r"refused the password grant.*api-user.*HTTP 401"):
            client.pull(None, UNTIL)


def test_fake_enforces_page_ban_31_days_and_auth(world):
    with FakeTrackTik(simulator.records_for_server(world)) as fake:
        base = f"{fake.base_url}/rest/v1/shifts"
        assert requests.get(base, params={"limit": 5}, timeout=5).status_code == 401
        token = requests.post(f"{fake.base_url}/rest/oauth2/access_token", timeout=5, data={
            "grant_type": "password", "client_id": "vigil", "client_secret": "vigil-secret",
            "username": "api-user", "password": "api-pass"}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        ok = "2026-10-01T00:00:00+00:00|2026-10-31T00:00:00+00:00"
        too_long = "2026-09-01T00:00:00+00:00|2026-10-31T00:00:00+00:00"
        assert requests.get(base, params={"startDateTime:between": ok}, headers=auth, timeout=5).status_code == 200
        r = requests.get(base, params={"startDateTime:between": too_long}, headers=auth, timeout=5)
        assert r.status_code == 400 and "31 days" in r.json()["message"]
        r = requests.get(base, params={"startDateTime:between": ok, "page": 2}, headers=auth, timeout=5)
        assert r.status_code == 400 and "page" in r.json()["message"]
        assert requests.get(base, headers=auth, timeout=5).status_code == 400  # shifts need the filter
        sessions = f"{fake.base_url}/rest/v1/work-sessions"
        assert requests.get(sessions, headers=auth, timeout=5).status_code == 400  # startedOn:between needed
        assert requests.get(sessions, params={"startedOn:between": ok}, headers=auth, timeout=5).status_code == 200


def test_running_shift_is_held_until_it_ends(world, service_types):
    records = simulator.records_for_server(world)
    start = UNTIL - timedelta(hours=2)
    running = dict(records["work-sessions"][-1])
    running.update({"id": 3_000_001, "startedOn": start.isoformat(), "endedOn": None})
    later = dict(records["work-sessions"][-1])
    later.update({"id": 3_000_002, "startedOn": (start + timedelta(hours=1)).isoformat(),
                  "endedOn": (start + timedelta(hours=3)).isoformat()})
    records["work-sessions"] = [running, later]
    with FakeTrackTik(records) as fake:
        client = _client(fake, service_types, backfill=timedelta(days=1))
        [first], cursor = client.pull(None, UNTIL + timedelta(hours=2))
        assert first.rows["record_id"].to_list() == ["3000002"]  # the running one is held back
        held = Cursor.decode(cursor)
        assert held.start == start and held.seen == {"3000002"}
        [second], cursor = client.pull(cursor, UNTIL + timedelta(hours=3))
        assert second.rows.height == 0  # still running, the other already delivered
        done = dict(running, endedOn=(start + timedelta(hours=8)).isoformat())
        fake.records["work-sessions"] = [done, later]
        [third], cursor = client.pull(cursor, UNTIL + timedelta(hours=9))
        assert third.rows["record_id"].to_list() == ["3000001"]
        assert third.rows["check_out_at"][0] is not None
        assert Cursor.decode(cursor).start == UNTIL + timedelta(hours=9)


def test_exports_store_into_raw_tables_once(conn, tmp_path):
    from connectors.store import store_results

    _write_folder(tmp_path)
    first = store_results(conn, parser.parse_folder(tmp_path / "tracktik"))
    assert first.tables["timesheets"] == 5 and first.tables["patrols"] == 2
    again = store_results(conn, parser.parse_folder(tmp_path / "tracktik"))
    assert again.tables["timesheets"] == 0 and again.tables["patrols"] == 0 and again.tables["quarantine"] == 0
    with conn.cursor() as cur:
        cur.execute("select check_out_at is null, extra->>'shift_status' from raw.timesheets "
                    "where source = 'tracktik' and record_id = '2079012'")
        assert cur.fetchone() == (True, "ACTIVE")
    conn.commit()
