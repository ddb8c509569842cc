"""Avigilon Control Center (Web Endpoint API) exports -> raw.incidents, raw.device_events,
raw.devices.

The vendor folder holds answers as the WEP returns them (`{"status": "success", "result":
{...}}`), told apart by file name:

- `cameras*.json` `result.cameras` (-> devices), each naming its ACC server (`serverId`);
- `alarms*.json`  `result.alarms`: alarm definitions (name, type), for classification only;
- `events*.json`  `result.events` from `/events/search`: device events (-> device_events)
  and the alarm lifecycle: `ALARM_TRIGGERED`, `ALARM_CLAIMED` (a guard took it),
  `ALARM_ACKNOWLEDGED` (closed), the latter two pointing at the trigger by `linkedEventId`.
  A trigger that was claimed and acknowledged is an incident; one still open is an
  `alarm_triggered` event;
- `sites.json`    our mapping: ACC server id (`originatingServerId`) -> site id, ACC user
  name -> guard id. Avigilon ids are opaque and case-sensitive: compared exactly.

Event ids (`thisId`) are digit strings, timestamps UTC with milliseconds and a `Z`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.base import ParseResult, Quarantined
from connectors.vendor_parsing import (
    MAPPING_FILE,
    Mapping,
    RecordError,
    alarm_source_ref,
    check_response,
    classify_name,
    extra_json,
    finish,
    id_text,
    load_mapping,
    parse_utc,
    read_json,
    record,
    utc_date,
)

SOURCE = "avigilon"
TRIGGERED, CLAIMED, ACKNOWLEDGED = "ALARM_TRIGGERED", "ALARM_CLAIMED", "ALARM_ACKNOWLEDGED"
# Event `type` -> canonical device event type; unknown types are kept as `other`.
EVENT_TYPES = {
    "DEVICE_MOTION_START": "motion_start",
    "DEVICE_MOTION_STOP": "motion_end",
    "DEVICE_TAMPERING_DETECTED": "tamper",
}
# Alarm definition `type` -> classification; other types go by the alarm's name (NAME_KEYWORDS).
ALARM_TYPES = {"MOTION_DETECTED": "alarm_response", "TAMPERING_DETECTED": "alarm_response"}


def result_list(data: Any, key: str, path: str, source: str, refused: list[Quarantined]) -> list[Any]:
    """`result.<key>` of a success answer; anything else refuses the file."""
    if isinstance(data, dict) and data.get("status") == "success" and isinstance(data.get("result"), dict):
        items = data["result"].get(key)
        if isinstance(items, list):
            return items
    status = data.get("status") if isinstance(data, dict) else None
    refused.append(Quarantined(source, path, None, None, "status",
                               f"not a success answer with result.{key} (status {status!r})", str(data)[:4000]))
    return []


@dataclass
class Lookups:
    cameras: dict[str, dict[str, Any]] = field(default_factory=dict)
    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)


def parse_folder(folder: Path) -> list[ParseResult]:
    """Every answer in `folder` -> [incidents, device_events, devices]."""
    folder = Path(folder)
    source = folder.name
    mapping = load_mapping(folder / MAPPING_FILE, source, fold_case=False)
    refused: list[Quarantined] = list(mapping.quarantined)
    kinds: dict[str, list[tuple[str, int, Any]]] = {"cameras": [], "alarms": [], "events": []}
    files: dict[str, list] = {k: [] for k in kinds}
    for path in sorted(folder.rglob("*.json")):
        if path.name == MAPPING_FILE:
            continue
        kind = next((k for k in kinds if path.name.lower().startswith(k)), None)
        data, read = read_json(path, source, refused)
        files[kind or "events"].append(read)
        if kind is None:
            refused.append(Quarantined(source, str(path), None, None, None,
                                       "unrecognised export file: expected cameras*, alarms* or events*.json",
                                       f"sha256:{read.sha256}"))
            continue
        if data is None:
            continue
        items = result_list(data, kind, str(path), source, refused)
        read.rows_read = len(items)
        kinds[kind].extend((str(path), n, item) for n, item in enumerate(items, start=1))
    lookups = Lookups(alarms={str(a["id"]): a for _, _, a in kinds["alarms"] if isinstance(a, dict) and a.get("id")})
    devices = parse_cameras(kinds["cameras"], mapping, lookups, source)
    incidents, events = parse_events(kinds["events"], lookups, mapping, source)
    devices.files, incidents.files, events.files = files["cameras"], files["alarms"], files["events"]
    events.quarantined[:0] = refused
    return [incidents, events, devices]


def parse_cameras(items: list[tuple[str, int, Any]], mapping: Mapping, lookups: Lookups,
                  source: str = SOURCE) -> ParseResult:
    """Cameras -> devices; also fills `lookups.cameras`."""
    rows: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for file_path, position, item in items:
        base = record(source, file_path, position, item)
        ident = id_text(item.get("id")) if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict):
                raise RecordError(None, "item is not a JSON object")
            if ident is None:
                raise RecordError("id", "missing id")
            lookups.cameras[ident] = item
            added = parse_utc(item.get("dateAdded"), "dateAdded", require="Z")
            removed_raw = item.get("dateRemoved")
            removed = parse_utc(removed_raw, "dateRemoved", require="Z") if removed_raw else None
            rows.append({**base, "record_id": ident,
                         "site_id": mapping.site(item.get("serverId"), "ACC server", "serverId"),
                         "device_type": "camera", "active_from": utc_date(added),
                         "active_to": utc_date(removed) if removed else None, "vendor_ref": ident,
                         "extra": extra_json(item, {"id", "dateAdded", "dateRemoved"})})
        except RecordError as exc:
            refused.append(Quarantined(source, file_path, position, ident, exc.field, exc.reason, base["_content"]))
    return finish(source, "devices", rows, refused)


def classify(alarm: dict[str, Any] | None, alarm_id: str | None) -> str:
    if alarm is None:
        raise RecordError("alarmId", f"cannot classify: alarm {alarm_id!r} is not in the alarms export")
    kind = ALARM_TYPES.get(str(alarm.get("type") or ""))
    kind = kind or classify_name(alarm.get("name"))
    if kind is None:
        raise RecordError("alarmId", f"cannot classify alarm {alarm_id!r}: type {alarm.get('type')!r} is not in the "
                                     f"code table and name {alarm.get('name')!r} matches no keyword")
    return kind


def parse_events(items: list[tuple[str, int, Any]], lookups: Lookups, mapping: Mapping,
                 source: str = SOURCE) -> tuple[ParseResult, ParseResult]:
    """Events -> (incidents, device_events). Claims and acknowledgements are folded into the
    incident of the trigger they link to; one whose trigger is not among `items` is refused
    (the export or pull window starts after the alarm was raised)."""
    incidents: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    refused: list[Quarantined] = []  # event-level problems: device_events
    refused_incidents: list[Quarantined] = []
    triggers: dict[str, tuple[str, int, dict[str, Any], datetime]] = {}
    followups: dict[str, dict[str, tuple[str, int, dict[str, Any], datetime]]] = {}
    for file_path, position, item in items:
        base = record(source, file_path, position, item)
        record_id = None
        try:
            if not isinstance(item, dict):
                raise RecordError(None, "event is not a JSON object")
            record_id = id_text(item.get("thisId"))
            if record_id is None:
                raise RecordError("thisId", "missing thisId")
            occurred = parse_utc(item.get("timestamp"), "timestamp", require="Z")
            site_id = mapping.site(item.get("originatingServerId"), "ACC server", "originatingServerId")
            kind = str(item.get("type") or "")
            if kind == TRIGGERED:
                triggers[record_id] = (file_path, position, item, occurred)
                continue
            if kind in (CLAIMED, ACKNOWLEDGED):
                linked = id_text(item.get("linkedEventId"))
                if linked is None:
                    raise RecordError("linkedEventId", f"{kind} without linkedEventId")
                followups.setdefault(linked, {})[kind] = (file_path, position, item, occurred)
                continue
            events.append({**base, "record_id": record_id, "site_id": site_id,
                           "device_id": id_text(item.get("cameraId")), "event_type": EVENT_TYPES.get(kind, "other"),
                           "occurred_at": occurred, "incident_ref": None, "vendor_ref": record_id,
                           "extra": extra_json(item, {"thisId", "timestamp"})})
        except RecordError as exc:
            refused.append(Quarantined(source, file_path, position, record_id, exc.field, exc.reason, base["_content"]))

    for linked, steps in followups.items():
        if linked not in triggers:
            for kind, (file_path, position, item, _) in steps.items():
                refused.append(Quarantined(source, file_path, position, id_text(item.get("thisId")), "linkedEventId",
                                           f"{kind} links to alarm event {linked}, which is not in the export",
                                           record(source, file_path, position, item)["_content"]))
    for trigger_id, (file_path, position, item, opened) in triggers.items():
        base = record(source, file_path, position, item)
        steps = followups.get(trigger_id, {})
        alarm_id = id_text(item.get("alarmId"))
        alarm = lookups.alarms.get(alarm_id or "")
        cameras = (alarm or {}).get("associatedCameras") or []
        device = id_text(item.get("cameraId")) or (id_text(cameras[0]) if cameras else None)
        site_id = mapping.site(item.get("originatingServerId"), "ACC server", "originatingServerId")
        ref = alarm_source_ref(source, trigger_id)
        try:
            if CLAIMED not in steps or ACKNOWLEDGED not in steps:
                static = {k: item.get(k) for k in ("alarmId", "originatingServerId", "type")}
                events.append({**base, "record_id": f"alarm-{trigger_id}", "site_id": site_id, "device_id": device,
                               "event_type": "alarm_triggered", "occurred_at": opened, "incident_ref": ref,
                               "vendor_ref": trigger_id,
                               "extra": extra_json(static, set(), alarmName=(alarm or {}).get("name"))})
                continue
            claim, ack = steps[CLAIMED][2], steps[ACKNOWLEDGED][2]
            started, ended = steps[CLAIMED][3], steps[ACKNOWLEDGED][3]
            check_response(started, ended, "ALARM_ACKNOWLEDGED.timestamp")
            incidents.append({
                **base, "record_id": trigger_id, "site_id": site_id, "classification": classify(alarm, alarm_id),
                "response_started_at": started, "response_ended_at": ended,
                "responder_guard_id": mapping.guard(claim.get("userName")), "opened_at": opened,
                "description": (alarm or {}).get("name"), "source_ref": ref, "vendor_ref": trigger_id,
                "extra": extra_json(item, {"thisId", "timestamp"}, claimedBy=claim.get("userName"),
                                    claimEventId=claim.get("thisId"), ackEventId=ack.get("thisId"),
                                    acknowledgedBy=ack.get("userName"), alarmName=(alarm or {}).get("name")),
            })
        except RecordError as exc:
            refused_incidents.append(Quarantined(source, file_path, position, trigger_id, exc.field, exc.reason,
                                                 base["_content"]))
    return finish(source, "incidents", incidents, refused_incidents), finish(source, "device_events", events, refused)


def event_time(item: Any) -> tuple[datetime | None, str | None]:
    if not isinstance(item, dict):
        return None, None
    try:
        at = parse_utc(item.get("timestamp"), "timestamp", require="Z")
    except RecordError:
        at = None
    return at, id_text(item.get("thisId"))

