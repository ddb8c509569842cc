"""Genetec Security Center exports for the simulated world (connectors/simulator/world.py), in the
shapes the Web SDK really answers (see connectors/genetec/parser.py).

The world decides which systems a site runs (`Site.video_vendor`, `Site.access_vendor`);
Genetec is both a video and an access system, so this writer renders every Genetec device
(cameras of Genetec video sites, doors and units of Genetec access sites), their events,
and the alarms of incidents Genetec raised (`World.incident_vendor`), the rule the generic
incidents CSV uses for `source_ref`, so each incident appears in exactly one vendor export.

Derived here (the world has no such thing): Genetec areas (one per site), users (one per
guard plus a dispatch operator), alarm entities and cardholder GUIDs, all uuid5 of our ids
so every run writes the same bytes; the time of day of each device's `CreatedOn`. What a
deployment configures (sites.json): every device GUID's site, user GUIDs of guards, and that
an input alarm (InputAlarmActive) on this company's units is a fire panel."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.genetec.parser import SOURCE, event_record_id
from connectors.simulator.exports import planted_record, write_files
from connectors.vendor_parsing import MAPPING_FILE, Mapping

NAMESPACE = uuid.UUID("6d0f0a8e-3c1b-4f55-9a5e-0b1d2c3e4f50")
ENTITY_TYPES = {"camera": "Camera", "door_reader": "Door", "panel": "Unit"}
# canonical event type -> Genetec EventType integer (CameraMotionOn, CameraMotionOff, AccessGranted,
# AccessRefused, DoorForcedOpen, DoorOpenedForTooLong, DoorClose, InputAlarmActive, DoorTamper)
EVENT_CODES = {"motion_start": 8, "motion_end": 9, "access_granted": 35, "access_denied": 36, "door_forced": 29,
               "door_held": 24, "door_closed": 28, "fire_alarm": 2819, "tamper": 42}
INPUT_ALARM_ACTIVE = 2819
# (classification, trigger device type) -> (TriggerEvent integer, alarm entity name); manual
# alarms have TriggerEvent 0 (None) and are classified by the alarm's name.
ALARM_KINDS = {
    ("alarm_response", "camera"): (1383, "Motion detected"),
    ("alarm_response", "door_reader"): (29, "Forced door"),
    ("trespass", "camera"): (1029, "Perimeter line crossing"),
    ("fire_alarm", "panel"): (INPUT_ALARM_ACTIVE, "Fire panel alarm"),
    ("medical", None): (0, "Medical emergency"),
}
ACKNOWLEDGED_STATE = 2  # AlarmState as the report's byte column; kept in `extra`, never interpreted
WINDOWS_ZONES = {"America/New_York": "Eastern Standard Time", "America/Chicago": "Central Standard Time",
                 "America/Denver": "Mountain Standard Time", "America/Los_Angeles": "Pacific Standard Time",
                 "America/Phoenix": "US Mountain Standard Time"}


def gid(kind: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"genetec/{kind}/{key}"))


def ts(at: datetime) -> str:
    """The SDK's UTC time: `Z`, and the fraction with its trailing zeros trimmed (none at all
    on a whole second)."""
    text = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


def created_on(guid: str, day: date) -> str:
    """A device's CreatedOn: its install day at a time of day that is the GUID's own."""
    seed = uuid.UUID(guid).int
    at = datetime(day.year, day.month, day.day, 8 + seed % 10, seed // 10 % 60, seed // 600 % 60,
                  seed // 36000 % 100 * 10000, tzinfo=UTC)
    return ts(at)


def genetec_devices(world: Any) -> list[Any]:
    return [d for d in world.devices if d.vendor == SOURCE]


def _trigger(world: Any, incident: Any) -> Any:
    if incident.trigger_device_id:
        return world.device(incident.trigger_device_id)
    day = incident.opened_at.date()
    cams = [d for d in world.devices_at(incident.site_id, "camera") if d.active_on(day)]
    return cams[0] if cams else world.devices_at(incident.site_id)[0]


def _entities(world: Any) -> list[dict[str, Any]]:
    """What `/entity` answers for every entity ever configured: GUID, name, type, logical id,
    CreatedOn (areas, users and alarms have no billing dates; their CreatedOn is left out)."""
    devices = genetec_devices(world)
    rows: list[dict[str, Any]] = []
    for sid in sorted({d.site_id for d in devices}):
        rows.append({"Guid": gid("area", sid), "Name": world.site(sid).name, "EntityType": "Area", "LogicalId": None})
    for g in world.guards:
        rows.append({"Guid": gid("user", g.guard_id), "Name": f"{g.first_name[0].lower()}{g.last_name.lower()}",
                     "EntityType": "User", "LogicalId": None})
    rows.append({"Guid": gid("user", "dispatch"), "Name": "dispatch", "EntityType": "User", "LogicalId": None})
    for _, name in sorted(ALARM_KINDS.values()):
        rows.append({"Guid": gid("alarm", name), "Name": name, "EntityType": "Alarm", "LogicalId": None})
    for n, d in enumerate(devices, start=1):
        rows.append({"Guid": d.vendor_ref, "Name": f"{d.name} - {world.site(d.site_id).name}",
                     "EntityType": ENTITY_TYPES[d.device_type], "LogicalId": n,
                     "CreatedOn": created_on(d.vendor_ref, d.active_from)})
    return rows


def _snapshot_days(world: Any) -> list[date]:
    """The days the integrator's daily EntityConfiguration job saw the inventory change (the
    unchanged days' snapshots are not kept): each install and the day after each removal."""
    devices = genetec_devices(world)
    days = {d.active_from for d in devices} | {d.active_to + timedelta(days=1) for d in devices if d.active_to}
    return sorted(day for day in days if day <= world.end + timedelta(days=1))


def _snapshot(world: Any, entities: list[dict[str, Any]], day: date) -> list[dict[str, str]]:
    """EntityConfiguration as answered on `day`: the GUIDs of what existed then, nothing else."""
    devices = {d.vendor_ref: d for d in genetec_devices(world)}
    return [{"Guid": e["Guid"]} for e in entities
            if e["Guid"] not in devices or devices[e["Guid"]].active_on(day)]


def _alarms(world: Any) -> list[dict[str, Any]]:
    rows = []
    for inc in world.incidents:
        if world.incident_vendor(inc) != SOURCE:
            continue
        trigger = _trigger(world, inc)
        kind = ALARM_KINDS.get((inc.classification, trigger.device_type if inc.trigger_device_id else None))
        event, name = kind or (0, inc.classification.replace("_", " ").title())
        user = gid("user", inc.responder_guard_id or "dispatch")
        rows.append({
            "InstanceId": int(inc.alarm_ref), "Alarm": gid("alarm", name), "TriggerEntity": trigger.vendor_ref.upper(),
            "TriggerEvent": event, "TriggerTime": ts(inc.opened_at), "CreationTime": ts(inc.opened_at),
            "InvestigatedBy": user, "InvestigatedTime": ts(inc.response_started_at),
            "AckedTime": ts(inc.response_ended_at), "AckedBy": user, "AckReason": 0, "ExternalInstanceId": 0,
            "State": ACKNOWLEDGED_STATE, "HasSourceCondition": False, "Priority": inc.priority,
            "DynamicContext": inc.description, "OfflinePeriod": 0,
        })
    return rows


def _events(world: Any) -> list[dict[str, Any]]:
    devices = {d.device_id: d for d in genetec_devices(world)}
    panels = {d.site_id: d.vendor_ref for d in devices.values() if d.device_type == "panel"}
    rows = []
    for ev in world.device_events:
        d = devices.get(ev.device_id)
        if d is None or ev.event_type not in EVENT_CODES:
            continue
        door = d.device_type == "door_reader"
        zone = world.site(d.site_id).timezone
        rows.append({
            "Timestamp": ts(ev.occurred_at), "EventType": EVENT_CODES[ev.event_type], "Source": d.vendor_ref,
            "Unit": panels.get(d.site_id) if door else None, "AccessPoint": None, "AccessPointGroup": None,
            "Credential": gid("credential", ev.guard_id) if ev.guard_id else None, "Credential2": None,
            "Device": None, "CustomEventMessage": None,
            "Cardholder": gid("cardholder", ev.guard_id) if ev.guard_id else None,
            "TimeZone": WINDOWS_ZONES.get(zone, zone), "OccurrencePeriod": 0,
        })
    return rows


def mapping(world: Any) -> dict[str, Any]:
    """`sites.json`: each device GUID's site (Genetec sends no area on a device), user GUID ->
    guard id (the dispatch operator is deliberately absent: an alarm it handled has no
    responding guard), and this deployment's meaning of an input alarm on a unit."""
    return {"entities": {d.vendor_ref: d.site_id for d in genetec_devices(world)},
            "guards": {gid("user", g.guard_id): g.guard_id for g in world.guards},
            "event_types": {str(INPUT_ALARM_ACTIVE): "fire_alarm"}}


def site_map(world: Any) -> Mapping:
    m = mapping(world)
    return Mapping(entities={k.lower(): v for k, v in m["entities"].items()},
                   guards={k.lower(): v for k, v in m["guards"].items()},
                   event_types=dict(m["event_types"]))


def records_for_server(world: Any) -> dict[str, Any]:
    """Keyword arguments for FakeWebSdk: the configuration as it stands at the world's end
    (devices removed before then are gone), alarm activity and events (clean)."""
    entities = _entities(world)
    current = {e["Guid"] for e in _snapshot(world, entities, world.end)}
    return {"entities": [e for e in entities if e["Guid"] in current], "alarms": _alarms(world),
            "events": _events(world)}


def _rsp(rows: Any) -> str:
    return json.dumps({"Rsp": {"Status": "Ok", "Result": rows}}, indent=1)


def write_exports(world: Any, folder: Path) -> dict[str, Any]:
    """Write `sites.json`, `entities_<yyyy-mm-dd>.json` (GUID snapshots), `entity_details.json`
    (the /entity answer for every entity), `alarms_<yyyy-mm>.json` and `events_<yyyy-mm>.json`
    (UTC months) into `folder`, planting three bad records appended to the last month's
    files. Returns files, clean record counts and the planted records (file, line =
    position in the Result list, field, reason fragment)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entities = _entities(world)
    alarms, events = _alarms(world), _events(world)
    files: dict[str, str] = {MAPPING_FILE: json.dumps(mapping(world), indent=1, sort_keys=True),
                             "entity_details.json": _rsp(entities)}
    for day in _snapshot_days(world):
        files[f"entities_{day.isoformat()}.json"] = _rsp(_snapshot(world, entities, day))
    months: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: {"alarms": [], "events": []})
    for row in alarms:
        months[row["TriggerTime"][:7]]["alarms"].append(row)
    for row in events:
        months[row["Timestamp"][:7]]["events"].append(row)
    if not months:
        months[world.end.isoformat()[:7]]
    last = max(months)
    planted: list[dict[str, Any]] = []
    template = (alarms or [None])[len(alarms) // 2]
    if template is not None:
        rows = months[last]["alarms"]
        empty = dict(template, InstanceId=template["InstanceId"] + 900000, TriggerTime="0001-01-01T00:00:00Z")
        rows.append(empty)
        planted.append(planted_record(SOURCE, folder, f"alarms_{last}.json", len(rows), str(empty["InstanceId"]),
                                      "TriggerTime", ".NET's empty date", "incidents"))
        no_id = {k: v for k, v in template.items() if k != "InstanceId"}
        rows.append(no_id)
        planted.append(planted_record(SOURCE, folder, f"alarms_{last}.json", len(rows), None, "InstanceId",
                                      "missing InstanceId", "incidents"))
    if events:
        rows = months[last]["events"]
        stray = dict(events[-1], Source=gid("camera", "decommissioned"), Unit=None)
        rows.append(stray)
        planted.append(planted_record(SOURCE, folder, f"events_{last}.json", len(rows), event_record_id(stray),
                                      "Source", "no area mapping for entity", "device_events"))
    for month, kinds in sorted(months.items()):
        files[f"alarms_{month}.json"] = _rsp(kinds["alarms"])
        files[f"events_{month}.json"] = _rsp(kinds["events"])
    written = write_files(folder, files, ("alarms_*.json", "events_*.json", "entit*.json"))
    return {"source": SOURCE, "folder": str(folder), "files": written,
            "records": {"incidents": len(alarms), "device_events": len(events),
                        "devices": len(genetec_devices(world))},
            "planted": planted}

