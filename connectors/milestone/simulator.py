"""Milestone XProtect exports for the simulated world (connectors/simulator/world.py).

The world decides which video system a site runs (`Site.video_vendor`); this writer
renders the cameras of Milestone sites, their motion events, and the alarms of incidents
Milestone raised (an incident triggered by a Milestone camera, or with no trigger at a
Milestone site, where the operator raises it on the site's first camera) - the rule the
generic incidents CSV uses for `source_ref`, so each incident appears in one export only.

Derived here (the world has no such thing): one recording server per site, alarm GUIDs
(uuid5 of the world's alarm number, which is also the alarm's `localId`) and users' display
names (the guard's name; a `dispatch` operator when no guard responded)."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from connectors.milestone.parser import CLOSED, EVENT_TYPES, IN_PROGRESS, MAPPING_FILE, SOURCE

NAMESPACE = uuid.UUID("3b8d6c1e-58a4-4b8e-9c1f-2f0e6a7d9b21")
EVENT_GUIDS = {v: k for k, v in EVENT_TYPES.items()}
ALARM_NAMES = {"alarm_response": "Motion alarm", "trespass": "Trespass detected", "medical": "Medical emergency",
               "fire_alarm": "Fire alarm"}
PRIORITIES = {1: "High", 2: "Medium", 3: "Low"}


def mid(kind: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"milestone/{kind}/{key}"))


def ts(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def day_start(day: date) -> str:
    return f"{day.isoformat()}T00:00:00.000Z"


def milestone_cameras(world: Any) -> list[Any]:
    return [d for d in world.devices if d.vendor == SOURCE and d.device_type == "camera"]


def _cameras(world: Any) -> list[dict[str, Any]]:
    return [{"id": d.vendor_ref, "name": d.name, "displayName": f"{world.site(d.site_id).name} - {d.name}",
             "enabled": d.active_to is None, "createdDate": day_start(d.active_from),
             "lastModified": day_start(d.active_to or d.active_from),
             "recordingServer": {"type": "recordingServers", "id": mid("rs", d.site_id)}}
            for d in milestone_cameras(world)]


def _trigger_camera(world: Any, inc: Any) -> Any:
    if inc.trigger_device_id and world.device(inc.trigger_device_id).device_type == "camera":
        return world.device(inc.trigger_device_id)
    day = inc.opened_at.date()
    cams = [d for d in world.devices_at(inc.site_id, "camera") if d.active_on(day)]
    return cams[0] if cams else world.devices_at(inc.site_id, "camera")[0]


def display_name(world: Any, guard_id: str | None) -> str:
    return world.guard(guard_id).name if guard_id else "dispatch"


def _alarms(world: Any) -> list[dict[str, Any]]:
    rows = []
    for inc in world.incidents:
        if world.incident_vendor(inc) != SOURCE:
            continue
        who = {"displayName": display_name(world, inc.responder_guard_id)}
        state = {"name": "Closed", "level": CLOSED}
        rows.append({
            "id": mid("alarm", inc.alarm_ref), "localId": int(inc.alarm_ref), "name": ALARM_NAMES[inc.classification],
            "message": inc.description, "source": f"cameras/{_trigger_camera(world, inc).vendor_ref}",
            "timestamp": ts(inc.opened_at), "modified": ts(inc.response_ended_at), "state": state,
            "priority": {"name": PRIORITIES.get(inc.priority, "Low"), "level": inc.priority}, "assignedTo": who,
            "history": [
                {"time": ts(inc.opened_at), "state": {"name": "New", "level": 1}, "assignedTo": None},
                {"time": ts(inc.response_started_at), "state": {"name": "In progress", "level": IN_PROGRESS},
                 "assignedTo": who},
                {"time": ts(inc.response_ended_at), "state": state, "assignedTo": who},
            ],
        })
    return rows


def _events(world: Any) -> list[dict[str, Any]]:
    cams = {d.device_id: d for d in milestone_cameras(world)}
    return [{"id": mid("event", ev.event_id), "type": EVENT_GUIDS[ev.event_type],
             "source": f"cameras/{cams[ev.device_id].vendor_ref}", "time": ts(ev.occurred_at)}
            for ev in world.device_events if ev.device_id in cams and ev.event_type in EVENT_GUIDS]


def mapping(world: Any) -> dict[str, Any]:
    sites = sorted({d.site_id for d in milestone_cameras(world)})
    return {"sites": {mid("rs", s): s for s in sites}, "guards": {g.name: g.guard_id for g in world.guards}}


def site_map(world: Any):
    from connectors.vendor_parsing import Mapping

    m = mapping(world)
    return Mapping({k.lower(): v for k, v in m["sites"].items()}, {k.lower(): v for k, v in m["guards"].items()})


def records_for_server(world: Any) -> dict[str, Any]:
    """Keyword arguments for FakeApiGateway (clean)."""
    return {"cameras": _cameras(world), "alarms": _alarms(world), "events": _events(world)}


def write_exports(world: Any, folder: Path) -> dict[str, Any]:
    """Write `sites.json`, `cameras.json`, `alarms_<yyyy-mm>.json` and `events_<yyyy-mm>.json`
    (UTC months) into `folder`, planting three bad records in the last month's files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    server = records_for_server(world)
    files = {MAPPING_FILE: json.dumps(mapping(world), indent=1, sort_keys=True),
             "cameras.json": json.dumps({"array": server["cameras"]}, indent=1)}
    months: dict[str, dict[str, list]] = defaultdict(lambda: {"alarms": [], "events": []})
    for row in server["alarms"]:
        months[row["timestamp"][:7]]["alarms"].append(row)
    for row in server["events"]:
        months[row["time"][:7]]["events"].append(row)
    if not months:
        months[world.end.isoformat()[:7]]
    last = max(months)
    planted: list[dict[str, Any]] = []
    if server["alarms"]:
        template = server["alarms"][len(server["alarms"]) // 2]
        alarms = months[last]["alarms"]
        local = dict(template, id=mid("alarm", "planted-local"), localId=template["localId"] + 900000,
                     timestamp=template["timestamp"][:19].replace("T", " "))
        alarms.append(local)
        planted.append(_planted(folder, f"alarms_{last}.json", len(alarms), local["id"], "timestamp",
                                "has no UTC offset", "incidents"))
        stray = dict(template, id=mid("alarm", "planted-stray"), localId=template["localId"] + 900001,
                     source=f"cameras/{mid('camera', 'unconfigured')}")
        alarms.append(stray)
        planted.append(_planted(folder, f"alarms_{last}.json", len(alarms), stray["id"], "source",
                                "unknown site", "incidents"))
    if server["events"]:
        events = months[last]["events"]
        events.append({k: v for k, v in server["events"][-1].items() if k != "id"})
        planted.append(_planted(folder, f"events_{last}.json", len(events), None, "id", "missing id",
                                "device_events"))
    for month, kinds in sorted(months.items()):
        files[f"alarms_{month}.json"] = json.dumps({"array": kinds["alarms"]}, indent=1)
        files[f"events_{month}.json"] = json.dumps({"array": kinds["events"]}, indent=1)
    for old in [*folder.glob("alarms_*.json"), *folder.glob("events_*.json")]:
        if old.name not in files:
            old.unlink()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return {"source": SOURCE, "folder": str(folder), "files": [str(folder / n) for n in sorted(files)],
            "records": {"incidents": len(server["alarms"]), "device_events": len(server["events"]),
                        "devices": len(server["cameras"])},
            "planted": planted}


def _planted(folder: Path, name: str, line: int, record_id: str | None, fld: str, reason: str,
             table: str) -> dict[str, Any]:
    return {"kind": f"{SOURCE}_{fld.lower()}", "source": SOURCE, "record_id": record_id, "expect": "quarantine",
            "note": reason, "file": f"{folder.name}/{name}", "line": line, "path": str(folder / name),
            "field": fld, "reason": reason, "table": table}
