"""Avigilon Control Center exports for the simulated world (connectors/simulator/world.py).

The world decides which video system a site runs (`Site.video_vendor`); this writer renders
the cameras of Avigilon sites, their motion events, and the alarms of incidents Avigilon
raised (triggered by an Avigilon camera, or with no trigger at an Avigilon site) as the
event stream's alarm lifecycle: ALARM_TRIGGERED (its `thisId` is the world's alarm number,
so `source_ref` matches the generic incidents CSV), ALARM_CLAIMED by the responder and
ALARM_ACKNOWLEDGED when the response ended.

Derived here (the world has no such thing): one ACC server per site, alarm definitions per
site and kind, user names (`first.last`; `dispatch` when no guard responded), and event
ids for claims and acknowledgements (5,000,000 + 2 x alarm number, + 1)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from connectors.avigilon.parser import ACKNOWLEDGED, CLAIMED, EVENT_TYPES, MAPPING_FILE, SOURCE, TRIGGERED

EVENT_NAMES = {v: k for k, v in EVENT_TYPES.items()}
ALARM_KINDS = {"alarm_response": ("MOTION_DETECTED", "Motion"), "trespass": ("VIDEO_ANALYTICS", "Loitering / trespass"),
               "medical": ("USER_TRIGGERED", "Medical emergency"), "fire_alarm": ("DIGITAL_INPUT", "Fire input")}


def opaque(key: str, n: int = 22) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(f"avigilon/{key}".encode()).digest()).decode()[:n]


def ts(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def day_start(day: date) -> str:
    return f"{day.isoformat()}T00:00:00.000Z"


def server_id(site_id: str) -> str:
    return opaque(f"server/{site_id}")


def user_name(world: Any, guard_id: str | None) -> str:
    if not guard_id:
        return "dispatch"
    g = world.guard(guard_id)
    return f"{g.first_name}.{g.last_name}".lower()


def avigilon_cameras(world: Any) -> list[Any]:
    return [d for d in world.devices if d.vendor == SOURCE and d.device_type == "camera"]


def _cameras(world: Any) -> list[dict[str, Any]]:
    return [{"id": d.vendor_ref, "name": d.name, "serverId": server_id(d.site_id),
             "location": world.site(d.site_id).name, "model": "H5A-BO-IR", "connected": d.active_to is None,
             "dateAdded": day_start(d.active_from),
             "dateRemoved": day_start(d.active_to) if d.active_to else None} for d in avigilon_cameras(world)]


def _alarm_id(site_id: str, classification: str) -> str:
    return opaque(f"alarm/{site_id}/{classification}", 16)


def _alarms(world: Any) -> list[dict[str, Any]]:
    sites = sorted({d.site_id for d in avigilon_cameras(world)})
    out = []
    for sid in sites:
        cams = [d.vendor_ref for d in world.devices_at(sid, "camera") if d.vendor == SOURCE]
        for cls, (kind, name) in ALARM_KINDS.items():
            out.append({"id": _alarm_id(sid, cls), "name": f"{name} - {world.site(sid).name}", "type": kind,
                        "state": "ACTIVE", "associatedCameras": cams[:1], "isNoteRequired": False})
    return out


def _server(world: Any, site_id: str) -> dict[str, str]:
    return {"originatingServerName": f"ACC-{site_id}", "originatingServerId": server_id(site_id)}


def _events(world: Any) -> list[dict[str, Any]]:
    cams = {d.device_id: d for d in avigilon_cameras(world)}
    rows = []
    for ev in world.device_events:
        d = cams.get(ev.device_id)
        if d is None or ev.event_type not in EVENT_NAMES:
            continue
        this = ev.event_id.split("-")[1]
        rows.append({"thisId": this, "linkedEventId": None, "timestamp": ts(ev.occurred_at), "originatingEventId": this,
                     **_server(world, d.site_id), "type": EVENT_NAMES[ev.event_type], "cameraId": d.vendor_ref})
    for inc in world.incidents:
        if world.incident_vendor(inc) != SOURCE:
            continue
        trigger = inc.alarm_ref
        claim, ack = str(5_000_000 + 2 * int(trigger)), str(5_000_001 + 2 * int(trigger))
        camera = world.device(inc.trigger_device_id).vendor_ref if inc.trigger_device_id else None
        common = {**_server(world, inc.site_id), "alarmId": _alarm_id(inc.site_id, inc.classification)}
        who = user_name(world, inc.responder_guard_id)
        rows.append({"thisId": trigger, "linkedEventId": None, "timestamp": ts(inc.opened_at),
                     "originatingEventId": trigger, "type": TRIGGERED, "cameraId": camera, **common})
        rows.append({"thisId": claim, "linkedEventId": trigger, "timestamp": ts(inc.response_started_at),
                     "originatingEventId": claim, "type": CLAIMED, "userName": who, **common})
        rows.append({"thisId": ack, "linkedEventId": trigger, "timestamp": ts(inc.response_ended_at),
                     "originatingEventId": ack, "type": ACKNOWLEDGED, "userName": who, **common})
    rows.sort(key=lambda r: (r["timestamp"], int(r["thisId"])))
    return rows


def mapping(world: Any) -> dict[str, Any]:
    sites = sorted({d.site_id for d in avigilon_cameras(world)})
    return {"sites": {server_id(s): s for s in sites},
            "guards": {user_name(world, g.guard_id): g.guard_id for g in world.guards}}


def site_map(world: Any):
    from connectors.vendor_parsing import Mapping

    m = mapping(world)
    return Mapping(dict(m["sites"]), dict(m["guards"]), fold_case=False)


def records_for_server(world: Any) -> dict[str, Any]:
    """Keyword arguments for FakeWebEndpoint (clean)."""
    return {"cameras": _cameras(world), "alarms": _alarms(world), "events": _events(world)}


def _answer(key: str, items: list[dict[str, Any]]) -> str:
    return json.dumps({"status": "success", "result": {key: items}}, indent=1)


def write_exports(world: Any, folder: Path) -> dict[str, Any]:
    """Write `sites.json`, `cameras.json`, `alarms.json` and `events_<yyyy-mm>.json` (UTC
    months of the event) into `folder`, planting three bad events in the last month."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    server = records_for_server(world)
    files = {MAPPING_FILE: json.dumps(mapping(world), indent=1, sort_keys=True),
             "cameras.json": _answer("cameras", server["cameras"]), "alarms.json": _answer("alarms", server["alarms"])}
    months: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in server["events"]:
        months[row["timestamp"][:7]].append(row)
    if not months:
        months[world.end.isoformat()[:7]]
    last = max(months)
    planted: list[dict[str, Any]] = []
    motion = [r for r in server["events"] if r["type"] in EVENT_TYPES]
    if motion:
        template = motion[len(motion) // 2]
        rows = months[last]
        epoch = int(datetime.fromisoformat(template["timestamp"].replace("Z", "+00:00")).timestamp() * 1000)
        bad_time = dict(template, thisId="990000001", originatingEventId="990000001", timestamp=epoch)
        rows.append(bad_time)
        planted.append(_planted(folder, f"events_{last}.json", len(rows), "990000001", "timestamp",
                                "is a number", "device_events"))
        stray = dict(template, thisId="990000002", originatingEventId="990000002",
                     originatingServerId=opaque("server/unregistered"), originatingServerName="ACC-LAB")
        rows.append(stray)
        planted.append(_planted(folder, f"events_{last}.json", len(rows), "990000002", "originatingServerId",
                                "unknown site", "device_events"))
        no_id = {k: v for k, v in template.items() if k != "thisId"}
        rows.append(no_id)
        planted.append(_planted(folder, f"events_{last}.json", len(rows), None, "thisId", "missing thisId",
                                "device_events"))
    for month, rows in sorted(months.items()):
        files[f"events_{month}.json"] = json.dumps({"status": "success", "result": {"events": rows, "token": None}},
                                                   indent=1)
    for old in folder.glob("events_*.json"):
        if old.name not in files:
            old.unlink()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    n_incidents = sum(1 for r in server["events"] if r["type"] == TRIGGERED)
    n_events = sum(1 for r in server["events"] if r["type"] not in (TRIGGERED, CLAIMED, ACKNOWLEDGED))
    return {"source": SOURCE, "folder": str(folder), "files": [str(folder / n) for n in sorted(files)],
            "records": {"incidents": n_incidents, "device_events": n_events, "devices": len(server["cameras"])},
            "planted": planted}


def _planted(folder: Path, name: str, line: int, record_id: str | None, fld: str, reason: str,
             table: str) -> dict[str, Any]:
    return {"kind": f"{SOURCE}_{fld.lower()}", "source": SOURCE, "record_id": record_id, "expect": "quarantine",
            "note": reason, "file": f"{folder.name}/{name}", "line": line, "path": str(folder / name),
            "field": fld, "reason": reason, "table": table}
