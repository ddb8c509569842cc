"""Avigilon Control Center exports for the simulated world (connectors/simulator/world.py), in the
shapes the Web Endpoint API really answers (see connectors/avigilon/parser.py).

The world decides which video system a site runs (`Site.video_vendor`); this writer renders the
cameras of Avigilon sites (no server, no date added), their motion events with the quirks of the
event stream (`linkedEventId` "-1", a login's `clientIp` as an object, a failed login's as a
string), and the alarms of incidents Avigilon raised (`World.incident_vendor`) as alarm objects
with their alarm history: TRIGGERED, CLAIMED by the responder when the response started,
ACKNOWLEDGED when it ended, newest first as the WEP answers by default. An activation's id is
the alarm id and the trigger instant, the world's `alarm_ref` for Avigilon incidents, so
`source_ref` matches the generic incidents CSV.

Derived here (the world has no such thing): one ACC server per site, alarm definitions per
site and kind (ids from `alarm_definition_id`), user names (`first.last`; `dispatch` when no
guard responded), two logins per server, camera hardware details. A deployment configures
(sites.json) each server's site, the site of each camera no event names and of each alarm
with no camera (the medical call button), and guards by ACC user name."""

from __future__ import annotations

import base64
import hashlib
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.avigilon.parser import ACKNOWLEDGED, CLAIMED, EVENT_TYPES, NO_EVENT, SOURCE, TRIGGERED
from connectors.simulator.exports import planted_record, write_files
from connectors.simulator.world import alarm_definition_id
from connectors.vendor_parsing import MAPPING_FILE, Mapping

EVENT_NAMES = {v: k for k, v in EVENT_TYPES.items()}
ALARM_KINDS = {"alarm_response": ("MOTION_DETECTED", "Motion"), "trespass": ("VIDEO_ANALYTICS", "Loitering / trespass"),
               "medical": ("USER_TRIGGERED", "Medical emergency"), "fire_alarm": ("DIGITAL_INPUT", "Fire input")}
LOGIN_IDS = 9_000_000


def opaque(key: str, n: int = 22) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(f"avigilon/{key}".encode()).digest()).decode()[:n]


def ts(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def server_id(site_id: str) -> str:
    return opaque(f"server/{site_id}")


def user_name(world: Any, guard_id: str | None) -> str:
    if not guard_id:
        return "dispatch"
    g = world.guard(guard_id)
    return f"{g.first_name}.{g.last_name}".lower()


def avigilon_cameras(world: Any) -> list[Any]:
    return [d for d in world.devices if d.vendor == SOURCE and d.device_type == "camera"]


def _camera(world: Any, n: int, d: Any) -> dict[str, Any]:
    mac = hashlib.sha256(d.vendor_ref.encode()).hexdigest()[:10]
    return {"id": d.vendor_ref, "name": d.name, "model": "H5A-BO-IR", "serial": f"2309{n:06d}",
            "manufacturer": "Avigilon", "connected": True, "active": True, "connectionState": "CONNECTED",
            "firmwareVersion": 4280226, "operatingPriority": 1, "physicalAddress": f"00:18:85:{mac[:2]}:{mac[2:4]}:"
            f"{mac[4:6]}", "ipAddress": f"10.60.{n // 250}.{10 + n % 240}", "logicalId": n + 1,
            "recordedData": True, "defaultWidth": 2592, "defaultHeight": 1944,
            "location": world.site(d.site_id).name}


def _snapshot_days(world: Any) -> list[date]:
    """The days the integrator's daily camera-list job saw the inventory change (unchanged days'
    snapshots are not kept): each install and the day after each removal."""
    cams = avigilon_cameras(world)
    days = {d.active_from for d in cams} | {d.active_to + timedelta(days=1) for d in cams if d.active_to}
    return sorted(day for day in days if day <= world.end + timedelta(days=1))


def _cameras_on(world: Any, day: date) -> list[dict[str, Any]]:
    return [_camera(world, n, d) for n, d in enumerate(avigilon_cameras(world)) if d.active_on(day)]


def _sites(world: Any) -> list[str]:
    return sorted({d.site_id for d in avigilon_cameras(world)})


def _alarms(world: Any, histories: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """`GET /alarms`: one alarm per Avigilon site and kind; the medical call button has no camera."""
    out = []
    for sid in _sites(world):
        cams = [d.vendor_ref for d in world.devices_at(sid, "camera") if d.vendor == SOURCE]
        for cls, (kind, name) in ALARM_KINDS.items():
            ident = alarm_definition_id(SOURCE, sid, cls)
            triggers = [e["timestamp"] for e in histories.get(ident, []) if e["action"] == TRIGGERED]
            out.append({"id": ident, "name": f"{name} - {world.site(sid).name}", "state": "ACTIVE", "type": kind,
                        "timeOfMostRecentActivation": max(triggers) if triggers else None,
                        "associatedCameras": [] if cls == "medical" else cams[:1],
                        "isAssignedToCurrentUser": False, "isNoteRequired": False, "missedTriggers": 0})
    return out


def _histories(world: Any) -> dict[str, list[dict[str, Any]]]:
    """`GET /alarm-history?id=` per alarm, oldest first (the writer reverses them)."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for inc in world.incidents:
        if world.incident_vendor(inc) != SOURCE:
            continue
        ident, _, triggered = inc.alarm_ref.partition("@")
        who = user_name(world, inc.responder_guard_id)
        out[ident] += [{"action": TRIGGERED, "timestamp": triggered},
                       {"action": CLAIMED, "timestamp": ts(inc.response_started_at), "userName": who},
                       {"action": ACKNOWLEDGED, "timestamp": ts(inc.response_ended_at), "userName": who,
                        "note": "Resolved on site"}]
    return dict(out)


def _server(world: Any, site_id: str) -> dict[str, str]:
    return {"originatingServerName": f"ACC-{site_id}", "originatingServerId": server_id(site_id)}


def _events(world: Any) -> list[dict[str, Any]]:
    cams = {d.device_id: d for d in avigilon_cameras(world)}
    rows = []
    starts: dict[str, dict[str, Any]] = {}
    for ev in sorted(world.device_events, key=lambda e: e.occurred_at):
        d = cams.get(ev.device_id)
        if d is None or ev.event_type not in EVENT_NAMES:
            continue
        this = ev.event_id.split("-")[1]
        row = {"thisId": this, "linkedEventId": NO_EVENT, "timestamp": ts(ev.occurred_at), "originatingEventId": this,
               **_server(world, d.site_id), "type": EVENT_NAMES[ev.event_type], "cameraId": d.vendor_ref}
        if ev.event_type == "motion_start":
            row["recordTriggerParams"] = {"prePostRecordTime": "1970-01-01T00:00:05.000Z", "isPrePost": True}
            starts[d.vendor_ref] = row
        elif d.vendor_ref in starts:  # a motion start links to the stop that ends it
            starts.pop(d.vendor_ref)["linkedEventId"] = this
        rows.append(row)
    for n, sid in enumerate(_sites(world)):
        at = datetime.combine(world.start, datetime.min.time(), tzinfo=UTC) + timedelta(hours=13, minutes=n)
        base = {"linkedEventId": NO_EVENT, **_server(world, sid)}
        login = str(LOGIN_IDS + 2 * n)
        rows.append({"thisId": login, "timestamp": ts(at), "originatingEventId": login,
                     "type": "USER_LOGIN", "userName": "administrator", "clientId": opaque(f"client/{sid}"),
                     "clientName": "ACC Client", "clientType": 9,
                     "clientIp": {"addrType": "ADDR_IP_V4", "addrIpV4": f"10.89.{n}.200"}, **base})
        rows.append({"thisId": str(LOGIN_IDS + 2 * n + 1), "timestamp": ts(at + timedelta(seconds=42)),
                     "originatingEventId": str(LOGIN_IDS + 2 * n + 1), "type": "USER_LOGIN_FAILURE",
                     "userName": "administrator", "clientIp": f"192.168.56.{n + 1}", **base})
    rows.sort(key=lambda r: (r["timestamp"], int(r["thisId"])))
    return rows


def mapping(world: Any) -> dict[str, Any]:
    """`sites.json`: server -> site; the cameras no event names and the alarms with no camera,
    placed directly (`entities`); guards by ACC user name."""
    named = {e["cameraId"] for e in _events(world) if e.get("cameraId")}
    unplaced = {d.vendor_ref: d.site_id for d in avigilon_cameras(world) if d.vendor_ref not in named}
    buttons = {alarm_definition_id(SOURCE, sid, "medical"): sid for sid in _sites(world)}
    return {"sites": {server_id(s): s for s in _sites(world)}, "entities": {**unplaced, **buttons},
            "guards": {user_name(world, g.guard_id): g.guard_id for g in world.guards}}


def site_map(world: Any) -> Mapping:
    m = mapping(world)
    return Mapping(sites=dict(m["sites"]), entities=dict(m["entities"]), guards=dict(m["guards"]), fold_case=False)


def records_for_server(world: Any) -> dict[str, Any]:
    """Keyword arguments for FakeWebEndpoint (clean): cameras as configured at the world's end,
    alarms with their histories, events."""
    histories = _histories(world)
    return {"cameras": _cameras_on(world, world.end), "alarms": _alarms(world, histories), "events": _events(world),
            "histories": histories}


def _answer(key: str, items: list[dict[str, Any]]) -> str:
    return json.dumps({"status": "success", "result": {key: items}}, indent=1)


def write_exports(world: Any, folder: Path) -> dict[str, Any]:
    """Write `sites.json`, `cameras_<yyyy-mm-dd>.json` (inventory snapshots), `alarms.json`,
    `history_<alarm id>.json` (newest first) and `events_<yyyy-mm>.json` (UTC months of the
    event) into `folder`, planting three bad events in the last month."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    histories = _histories(world)
    events = _events(world)
    files = {MAPPING_FILE: json.dumps(mapping(world), indent=1, sort_keys=True),
             "alarms.json": _answer("alarms", _alarms(world, histories))}
    for day in _snapshot_days(world):
        files[f"cameras_{day.isoformat()}.json"] = _answer("cameras", _cameras_on(world, day))
    for ident, entries in histories.items():
        files[f"history_{ident}.json"] = _answer("history", entries[::-1])
    months: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in events:
        months[row["timestamp"][:7]].append(row)
    if not months:
        months[world.end.isoformat()[:7]]
    last = max(months)
    planted: list[dict[str, Any]] = []
    motion = [r for r in events if r["type"] in EVENT_TYPES]
    if motion:
        template = motion[len(motion) // 2]
        rows = months[last]
        epoch = int(datetime.fromisoformat(template["timestamp"].replace("Z", "+00:00")).timestamp() * 1000)
        bad_time = dict(template, thisId="990000001", originatingEventId="990000001", timestamp=epoch)
        rows.append(bad_time)
        planted.append(planted_record(SOURCE, folder, f"events_{last}.json", len(rows), "990000001", "timestamp",
                                      "is a number", "device_events"))
        stray = dict(template, thisId="990000002", originatingEventId="990000002",
                     originatingServerId=opaque("server/unregistered"), originatingServerName="ACC-LAB",
                     cameraId=opaque("camera/lab", 40))
        rows.append(stray)
        planted.append(planted_record(SOURCE, folder, f"events_{last}.json", len(rows), "990000002",
                                      "originatingServerId", "no site mapping for ACC server", "device_events"))
        no_id = {k: v for k, v in template.items() if k != "thisId"}
        rows.append(no_id)
        planted.append(planted_record(SOURCE, folder, f"events_{last}.json", len(rows), None, "thisId",
                                      "missing thisId", "device_events"))
    for month, rows in sorted(months.items()):
        files[f"events_{month}.json"] = _answer("events", rows)
    written = write_files(folder, files, ("events_*.json", "cameras*.json", "history_*.json"))
    return {"source": SOURCE, "folder": str(folder), "files": written,
            "records": {"incidents": sum(len(h) // 3 for h in histories.values()), "device_events": len(events),
                        "devices": len(avigilon_cameras(world))},
            "planted": planted}

