"""Milestone XProtect exports for the simulated world (connectors/simulator/world.py), in the
shapes the API Gateway really answers (see connectors/milestone/parser.py).

The world decides which video system a site runs (`Site.video_vendor`); this writer renders
the cameras of Milestone sites with their hardware and recorder, their motion events, and the
alarms of incidents Milestone raised (`World.incident_vendor`: triggered by a Milestone camera,
or with no trigger at a Milestone site, where the operator raises it on the site's first
camera) with each alarm's update history - the rule the generic incidents CSV uses for
`source_ref`, so each incident appears in one export only.

Derived here (the world has no such thing): one recorder per site and one hardware per camera,
alarm GUIDs (uuid5 of the world's alarm number, which is also the alarm's `localId`), users'
display names (the guard's name; a `dispatch` operator when no guard responded), and which
cameras show .NET's empty `createdDate` (every other one). A deployment configures (sites.json)
each recorder's site and the display names of guards."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from connectors.milestone.parser import EVENT_TYPES, SOURCE
from connectors.simulator.exports import planted_record, write_files
from connectors.vendor_parsing import DOTNET_EMPTY_DATE, MAPPING_FILE, Mapping

NAMESPACE = uuid.UUID("3b8d6c1e-58a4-4b8e-9c1f-2f0e6a7d9b21")
EVENT_GUIDS = {v: k for k, v in EVENT_TYPES.items()}
ALARM_NAMES = {"alarm_response": "Motion alarm", "trespass": "Trespass detected", "medical": "Medical emergency",
               "fire_alarm": "Fire alarm"}
PRIORITIES = {1: "High", 2: "Medium", 3: "Low"}
EMPTY_CREATED = f"{DOTNET_EMPTY_DATE}T00:00:00.0000000"


def mid(kind: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"milestone/{kind}/{key}"))


def ts(at: datetime) -> str:
    """The gateway's UTC time: `Z` and seven fractional digits."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def on_day(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 17, 31, 250000), tzinfo=UTC)


def milestone_cameras(world: Any) -> list[Any]:
    return [d for d in world.devices if d.vendor == SOURCE and d.device_type == "camera"]


def _camera(world: Any, n: int, d: Any) -> dict[str, Any]:
    site = world.site(d.site_id)
    return {"displayName": f"{site.name} - {d.name}", "enabled": True, "id": d.vendor_ref, "name": d.name,
            "channel": 0, "description": "",
            "createdDate": EMPTY_CREATED if n % 2 else ts(on_day(d.active_from, 9)),
            "lastModified": ts(on_day(d.active_from, 10)), "gisPoint": "POINT EMPTY", "shortName": "",
            "recordingEnabled": True, "recordingFramerate": 5,
            "recordingStorage": {"type": "storages", "id": mid("storage", d.site_id)},
            "relations": {"parent": {"type": "hardware", "id": mid("hardware", d.device_id)},
                          "self": {"type": "cameras", "id": d.vendor_ref}}}


def _hardware(world: Any, n: int, d: Any) -> dict[str, Any]:
    address = f"10.{20 + n // 250}.{n % 250}.{11 + n % 200}"
    ident = mid("hardware", d.device_id)
    return {"displayName": f"AXIS P3245-LVE ({address})", "enabled": True, "id": ident,
            "name": f"AXIS P3245-LVE ({address})", "address": f"http://{address}/", "userName": "root",
            "description": "", "lastModified": ts(on_day(d.active_from, 9)),
            "relations": {"parent": {"type": "recorders", "id": mid("recorder", d.site_id)},
                          "self": {"type": "hardware", "id": ident}}}


def _snapshot_days(world: Any) -> list[date]:
    """The days the integrator's daily camera-list job saw the inventory change (unchanged days'
    snapshots are not kept): each install and the day after each removal."""
    cams = milestone_cameras(world)
    days = {d.active_from for d in cams} | {d.active_to + timedelta(days=1) for d in cams if d.active_to}
    return sorted(day for day in days if day <= world.end + timedelta(days=1))


def _trigger_camera(world: Any, inc: Any) -> Any:
    if inc.trigger_device_id and world.device(inc.trigger_device_id).device_type == "camera":
        return world.device(inc.trigger_device_id)
    day = inc.opened_at.date()
    cams = [d for d in world.devices_at(inc.site_id, "camera") if d.active_on(day)]
    return cams[0] if cams else world.devices_at(inc.site_id, "camera")[0]


def display_name(world: Any, guard_id: str | None) -> str:
    return world.guard(guard_id).name if guard_id else "dispatch"


def _alarms(world: Any) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Alarms as `/alarms` lists them, and each one's updates as `/alarms/{id}/history` answers
    them (newest first): assigned and taken in progress when the response started, closed
    with a reason code when it ended."""
    rows, histories = [], {}
    for inc in world.incidents:
        if world.incident_vendor(inc) != SOURCE:
            continue
        who = display_name(world, inc.responder_guard_id)
        ident = mid("alarm", inc.alarm_ref)
        rows.append({
            "id": ident, "localId": int(inc.alarm_ref), "name": ALARM_NAMES[inc.classification],
            "message": inc.description, "source": f"cameras/{_trigger_camera(world, inc).vendor_ref}",
            "timestamp": ts(inc.opened_at), "modified": ts(inc.response_ended_at),
            "state": {"name": "Closed", "level": 11},
            "priority": {"name": PRIORITIES.get(inc.priority, "Low"), "level": inc.priority},
            "assignedTo": {"displayName": who},
        })
        started, ended = ts(inc.response_started_at), ts(inc.response_ended_at)
        histories[ident] = [
            {"time": ended, "key": "ReasonCode", "value": "Resolved", "author": who},
            {"time": ended, "key": "StateName", "value": "Closed", "author": who},
            {"time": started, "key": "StateName", "value": "In progress", "author": who},
            {"time": started, "key": "AssignedTo", "value": who, "author": who},
        ]
    return rows, histories


def _events(world: Any) -> list[dict[str, Any]]:
    cams = {d.device_id: d for d in milestone_cameras(world)}
    return [{"id": mid("event", ev.event_id), "type": EVENT_GUIDS[ev.event_type],
             "source": f"cameras/{cams[ev.device_id].vendor_ref}", "time": ts(ev.occurred_at)}
            for ev in world.device_events if ev.device_id in cams and ev.event_type in EVENT_GUIDS]


def mapping(world: Any) -> dict[str, Any]:
    """`sites.json`: each recorder's site (a camera reaches it through its hardware) and guards
    by Milestone display name."""
    sites = sorted({d.site_id for d in milestone_cameras(world)})
    return {"sites": {mid("recorder", s): s for s in sites}, "guards": {g.name: g.guard_id for g in world.guards}}


def site_map(world: Any) -> Mapping:
    m = mapping(world)
    return Mapping(sites={k.lower(): v for k, v in m["sites"].items()},
                   guards={k.lower(): v for k, v in m["guards"].items()})


def _inventory(world: Any, day: date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Cameras and hardware as configured on `day`."""
    listed = [(n, d) for n, d in enumerate(milestone_cameras(world)) if d.active_on(day)]
    return [_camera(world, n, d) for n, d in listed], [_hardware(world, n, d) for n, d in listed]


def records_for_server(world: Any) -> dict[str, Any]:
    """Keyword arguments for FakeApiGateway (clean): the configuration as it stands at the
    world's end, alarms with their histories, events."""
    cameras, hardware = _inventory(world, world.end)
    alarms, histories = _alarms(world)
    return {"cameras": cameras, "hardware": hardware, "alarms": alarms, "events": _events(world),
            "histories": histories}


def _array(items: list[dict[str, Any]]) -> str:
    return json.dumps({"array": items}, indent=1)


def write_exports(world: Any, folder: Path) -> dict[str, Any]:
    """Write `sites.json`, `cameras_<yyyy-mm-dd>.json` (inventory snapshots), `hardware.json`,
    `alarms_<yyyy-mm>.json`, `history_<alarm id>.json` and `events_<yyyy-mm>.json` (UTC months)
    into `folder`, planting three bad records in the last month's files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    alarms, histories = _alarms(world)
    events = _events(world)
    every = list(enumerate(milestone_cameras(world)))
    files = {MAPPING_FILE: json.dumps(mapping(world), indent=1, sort_keys=True),
             "hardware.json": _array([_hardware(world, n, d) for n, d in every])}
    for day in _snapshot_days(world):
        files[f"cameras_{day.isoformat()}.json"] = _array(_inventory(world, day)[0])
    for ident, entries in histories.items():
        files[f"history_{ident}.json"] = _array(entries)
    months: dict[str, dict[str, list]] = defaultdict(lambda: {"alarms": [], "events": []})
    for row in alarms:
        months[row["timestamp"][:7]]["alarms"].append(row)
    for row in events:
        months[row["time"][:7]]["events"].append(row)
    if not months:
        months[world.end.isoformat()[:7]]
    last = max(months)
    planted: list[dict[str, Any]] = []
    if alarms:
        template = alarms[len(alarms) // 2]
        rows = months[last]["alarms"]
        local = dict(template, id=mid("alarm", "planted-local"), localId=template["localId"] + 900000,
                     timestamp=template["timestamp"][:19].replace("T", " "))
        rows.append(local)
        planted.append(planted_record(SOURCE, folder, f"alarms_{last}.json", len(rows), local["id"], "timestamp",
                                      "has no UTC offset", "incidents"))
        stray = dict(template, id=mid("alarm", "planted-stray"), localId=template["localId"] + 900001,
                     source=f"cameras/{mid('camera', 'unconfigured')}")
        rows.append(stray)
        planted.append(planted_record(SOURCE, folder, f"alarms_{last}.json", len(rows), stray["id"], "source",
                                      "is not in the cameras export", "incidents"))
    if events:
        rows = months[last]["events"]
        rows.append({k: v for k, v in events[-1].items() if k != "id"})
        planted.append(planted_record(SOURCE, folder, f"events_{last}.json", len(rows), None, "id", "missing id",
                                      "device_events"))
    for month, kinds in sorted(months.items()):
        files[f"alarms_{month}.json"] = _array(kinds["alarms"])
        files[f"events_{month}.json"] = _array(kinds["events"])
    written = write_files(folder, files, ("alarms_*.json", "events_*.json", "cameras*.json", "history_*.json"))
    return {"source": SOURCE, "folder": str(folder), "files": written,
            "records": {"incidents": len(alarms), "device_events": len(events), "devices": len(every)},
            "planted": planted}

