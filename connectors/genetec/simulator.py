"""Genetec Security Center exports for the simulated world (connectors/simulator/world.py).

The world decides which systems a site runs (`Site.video_vendor`, `Site.access_vendor`);
Genetec is both a video and an access system, so this writer renders every Genetec device
(cameras of Genetec video sites, doors and units of Genetec access sites), their events,
and the alarms of incidents Genetec raised: an incident belongs to the system of its
trigger device, or to the site's video system when nothing triggered it (a medical call
raised by an operator on a camera). That is the rule the generic incidents CSV uses for
`source_ref`, so each incident appears in exactly one vendor export.

Derived here (the world has no such thing): Genetec areas (one per site), users (one per
guard plus a dispatch operator), alarm entities and cardholder GUIDs, all uuid5 of our
ids so every run writes the same bytes."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from connectors.genetec.parser import MAPPING_FILE, SOURCE, event_record_id

NAMESPACE = uuid.UUID("6d0f0a8e-3c1b-4f55-9a5e-0b1d2c3e4f50")
ENTITY_TYPES = {"camera": "Camera", "door_reader": "Door", "panel": "Unit"}
EVENT_NAMES = {"motion_start": "CameraMotion", "motion_end": "CameraMotionOff", "access_granted": "AccessGranted",
               "access_denied": "AccessRefused", "door_forced": "DoorForcedOpen", "door_held": "DoorOpenedTooLong",
               "door_closed": "DoorClosed", "fire_alarm": "FireAlarm", "tamper": "UnitTampered"}
# (classification, trigger device type) -> (TriggerEvent, alarm entity name)
ALARM_KINDS = {
    ("alarm_response", "camera"): ("CameraMotion", "Motion detected"),
    ("alarm_response", "door_reader"): ("DoorForcedOpen", "Forced door"),
    ("trespass", "camera"): ("ObjectCrossedLine", "Perimeter line crossing"),
    ("fire_alarm", "panel"): ("FireAlarm", "Fire panel alarm"),
    ("medical", None): ("None", "Medical emergency"),
}


def gid(kind: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"genetec/{kind}/{key}"))


def ts(at: datetime) -> str:
    """Genetec writes UTC with a `Z` and milliseconds."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def day_start(day: date) -> str:
    return f"{day.isoformat()}T00:00:00.000Z"


def genetec_devices(world: Any) -> list[Any]:
    return [d for d in world.devices if d.vendor == SOURCE]


def incident_vendor(world: Any, incident: Any) -> str:
    if incident.trigger_device_id:
        return world.device(incident.trigger_device_id).vendor
    return world.site(incident.site_id).video_vendor


def _trigger(world: Any, incident: Any) -> Any:
    if incident.trigger_device_id:
        return world.device(incident.trigger_device_id)
    day = incident.opened_at.date()
    cams = [d for d in world.devices_at(incident.site_id, "camera") if d.active_on(day)]
    return cams[0] if cams else world.devices_at(incident.site_id)[0]


def _entities(world: Any) -> list[dict[str, Any]]:
    devices = genetec_devices(world)
    site_ids = sorted({d.site_id for d in devices})
    rows: list[dict[str, Any]] = []
    for sid in site_ids:
        rows.append({"Guid": gid("area", sid), "Name": world.site(sid).name, "EntityType": "Area"})
    for g in world.guards:
        rows.append({"Guid": gid("user", g.guard_id), "Name": f"{g.first_name[0].lower()}{g.last_name.lower()}",
                     "EntityType": "User"})
    rows.append({"Guid": gid("user", "dispatch"), "Name": "dispatch", "EntityType": "User"})
    for _, name in sorted(ALARM_KINDS.values()):
        rows.append({"Guid": gid("alarm", name), "Name": name, "EntityType": "Alarm"})
    for n, d in enumerate(devices, start=1):
        rows.append({"Guid": d.vendor_ref, "Name": f"{d.name} - {world.site(d.site_id).name}",
                     "EntityType": ENTITY_TYPES[d.device_type], "LogicalId": n, "Area": gid("area", d.site_id),
                     "CreatedOn": day_start(d.active_from),
                     "DeletedOn": day_start(d.active_to) if d.active_to else None})
    return rows


def _alarms(world: Any) -> list[dict[str, Any]]:
    rows = []
    for inc in world.incidents:
        if incident_vendor(world, inc) != SOURCE:
            continue
        trigger = _trigger(world, inc)
        kind = ALARM_KINDS.get((inc.classification, trigger.device_type if inc.trigger_device_id else None))
        event, name = kind or ("None", inc.classification.replace("_", " ").title())
        user = gid("user", inc.responder_guard_id or "dispatch")
        rows.append({
            "InstanceId": int(inc.alarm_ref), "Alarm": gid("alarm", name), "TriggerEntity": trigger.vendor_ref.upper(),
            "TriggerEvent": event, "TriggerTime": ts(inc.opened_at), "CreationTime": ts(inc.opened_at),
            "InvestigatedBy": user, "InvestigatedTime": ts(inc.response_started_at),
            "AckedTime": ts(inc.response_ended_at), "AckedBy": user, "AckReason": "Resolved",
            "ExternalInstanceId": None, "State": "Acknowledged", "HasSourceCondition": False,
            "Priority": inc.priority, "DynamicContext": inc.description,
        })
    return rows


def _events(world: Any) -> list[dict[str, Any]]:
    devices = {d.device_id: d for d in genetec_devices(world)}
    panels = {d.site_id: d.vendor_ref for d in devices.values() if d.device_type == "panel"}
    rows = []
    for ev in world.device_events:
        d = devices.get(ev.device_id)
        if d is None or ev.event_type not in EVENT_NAMES:
            continue
        rows.append({
            "Timestamp": ts(ev.occurred_at), "EventType": EVENT_NAMES[ev.event_type], "Source": d.vendor_ref,
            "Unit": panels.get(d.site_id) if d.device_type == "door_reader" else None,
            "AccessPoint": d.vendor_ref if d.device_type == "door_reader" else None,
            "Cardholder": gid("cardholder", ev.guard_id) if ev.guard_id else None,
            "TimeZone": world.site(d.site_id).timezone, "OccurrencePeriod": "None",
        })
    return rows


def mapping(world: Any) -> dict[str, Any]:
    """`sites.json`: area GUID -> site id, user GUID -> guard id (the dispatch operator is
    deliberately absent: an alarm it handled has no responding guard)."""
    sites = sorted({d.site_id for d in genetec_devices(world)})
    return {"sites": {gid("area", s): s for s in sites},
            "guards": {gid("user", g.guard_id): g.guard_id for g in world.guards}}


def site_map(world: Any):
    from connectors.genetec.parser import Mapping

    m = mapping(world)
    return Mapping({k.lower(): v for k, v in m["sites"].items()}, {k.lower(): v for k, v in m["guards"].items()})


def records_for_server(world: Any) -> dict[str, Any]:
    """Keyword arguments for FakeWebSdk: entities, alarm activity and events (clean)."""
    return {"entities": _entities(world), "alarms": _alarms(world), "events": _events(world)}


def _rsp(rows: list[dict[str, Any]]) -> str:
    return json.dumps({"Rsp": {"Status": "Ok", "Result": rows}}, indent=1)


def write_exports(world: Any, folder: Path) -> dict[str, Any]:
    """Write `sites.json`, `entities.json`, `alarms_<yyyy-mm>.json` and `events_<yyyy-mm>.json`
    (UTC months) into `folder`, planting three bad records appended to the last month's
    files. Returns files, clean record counts and the planted records (file, line =
    position in the Result list, field, reason fragment)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    server = records_for_server(world)
    files: dict[str, str] = {MAPPING_FILE: json.dumps(mapping(world), indent=1, sort_keys=True),
                             "entities.json": _rsp(server["entities"])}
    months: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: {"alarms": [], "events": []})
    for row in server["alarms"]:
        months[row["TriggerTime"][:7]]["alarms"].append(row)
    for row in server["events"]:
        months[row["Timestamp"][:7]]["events"].append(row)
    if not months:
        months[world.end.isoformat()[:7]]
    last = max(months)
    planted: list[dict[str, Any]] = []
    template = (server["alarms"] or [None])[len(server["alarms"]) // 2]
    if template is not None:
        alarms = months[last]["alarms"]
        no_zone = dict(template, InstanceId=template["InstanceId"] + 900000,
                       TriggerTime=template["TriggerTime"].rstrip("Z"))
        alarms.append(no_zone)
        planted.append(_planted(folder, f"alarms_{last}.json", len(alarms), str(no_zone["InstanceId"]),
                                "TriggerTime", "is not UTC", "incidents"))
        no_id = {k: v for k, v in template.items() if k != "InstanceId"}
        alarms.append(no_id)
        planted.append(_planted(folder, f"alarms_{last}.json", len(alarms), None, "InstanceId",
                                "missing InstanceId", "incidents"))
    if server["events"]:
        events = months[last]["events"]
        stray = dict(server["events"][-1], Source=gid("camera", "decommissioned"))
        events.append(stray)
        planted.append(_planted(folder, f"events_{last}.json", len(events), event_record_id(stray), "Source",
                                "unknown site", "device_events"))
    for month, kinds in sorted(months.items()):
        files[f"alarms_{month}.json"] = _rsp(kinds["alarms"])
        files[f"events_{month}.json"] = _rsp(kinds["events"])
    for old in [*folder.glob("alarms_*.json"), *folder.glob("events_*.json")]:
        if old.name not in files:
            old.unlink()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    devices = [r for r in server["entities"] if r["EntityType"] in ENTITY_TYPES.values()]
    return {"source": SOURCE, "folder": str(folder), "files": [str(folder / n) for n in sorted(files)],
            "records": {"incidents": len(server["alarms"]), "device_events": len(server["events"]),
                        "devices": len(devices)},
            "planted": planted}


def _planted(folder: Path, name: str, line: int, record_id: str | None, fld: str, reason: str,
             table: str) -> dict[str, Any]:
    return {"kind": f"{SOURCE}_{fld.lower()}", "source": SOURCE, "record_id": record_id, "expect": "quarantine",
            "note": reason, "file": f"{folder.name}/{name}", "line": line, "path": str(folder / name),
            "field": fld, "reason": reason, "table": table}
