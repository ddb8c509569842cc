"""Genetec Security Center (Web SDK) exports -> raw.incidents, raw.device_events, raw.devices.

The vendor folder holds Web SDK answers exactly as the SDK returns them
(`{"Rsp": {"Status", "Result"}}`), told apart by file name:

- `entities*.json`  `report/EntityConfiguration` answers: entity GUIDs only (`[{"Guid": ...}]`,
  Genetec/DAP wiki "web-sdk-referencing-entities"). A file dated in its name
  (`entities_2026-03-01.json`) is an inventory snapshot: it tells which devices existed that day;
- `entity*.json`    `/entity?q=entity=<guid>,Guid,Name,EntityType,LogicalId,CreatedOn,...`
  answers: the details of each entity (a list, or one object for a single entity);
- `alarms*.json`    `report/AlarmActivity` rows (columns of Genetec/DAP AlarmActivityQuerySample):
  an alarm investigated and acknowledged is a guard response (-> incidents); one not yet
  responded to is an `alarm_triggered` event;
- `events*.json`    `report/DoorActivity`, `CameraEvent` and `AccessControlUnitActivity` rows
  (columns of Genetec/DAP AccessControlReportQuerySample) (-> device_events);
- `sites.json`      the deployment's configuration (connectors.vendor_parsing.Mapping).

Report rows carry enums as integers (`TriggerEvent`, `EventType`, `State`) and times in UTC,
with `Z` and trimmed fractions (`...33.96Z`) or, as the SDK's DataTable has them, without zone
(the samples read them as UTC: `DateTime.SpecifyKind(..., Utc)`). A device carries no area:
its site comes from the `entities` table of sites.json (or, for an access event, its unit's)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from connectors.base import ParseResult, Quarantined
from connectors.vendor_parsing import (
    MAPPING_FILE,
    Mapping,
    RecordError,
    alarm_source_ref,
    alarm_triggered,
    check_response,
    classify_name,
    extra_json,
    finish,
    guid_text,
    id_text,
    load_mapping,
    merge,
    optional_utc,
    parse_utc,
    read_export_folder,
    record,
    refuse,
    required_id,
    utc_date,
)

SOURCE = "genetec"

# Genetec's EventType enum, the values billing meets (as published in the SDK's enum; a public
# copy: lucasquintanilla/Genetec.WebSdk Enums/EventType.cs). Report rows send the integer.
EVENT_TYPE_NAMES = {
    0: "None", 2: "AlarmTriggered", 8: "CameraMotionOn", 9: "CameraMotionOff", 20: "UserLoggedOn",
    24: "DoorOpenedForTooLong", 27: "DoorOpen", 28: "DoorClose", 29: "DoorForcedOpen", 35: "AccessGranted",
    36: "AccessRefused", 42: "DoorTamper", 514: "IntrusionAreaAlarmActivated", 1029: "VideoAnalyticsObjectCrossedLine",
    1036: "VideoAnalyticsObjectLoitering", 1044: "VideoAnalyticsTampering", 1383: "CameraMotion",
    2563: "IntrusionUnitTamper", 2819: "InputAlarmActive", 2820: "InputAlarmRestored",
}
# Genetec's EntityType enum (same source), for an /entity answer that sends the integer.
ENTITY_TYPE_NAMES = {3: "Alarm", 5: "Area", 6: "Camera", 11: "Door", 19: "Unit", 20: "User"}
ENTITY_DEVICE_TYPES = {"camera": "camera", "door": "door_reader", "unit": "panel"}

# TriggerEvent name -> classification. What is not here (a manual alarm's `None`, an input
# alarm whose meaning depends on what is wired to it) goes by sites.json `classifications`
# (keyed by the integer, the name, the alarm GUID or the alarm's name), then by the alarm
# entity's name (NAME_KEYWORDS); an alarm none of these classifies is refused.
TRIGGER_EVENTS = {
    "DoorForcedOpen": "alarm_response",
    "DoorOpenedForTooLong": "alarm_response",
    "CameraMotion": "alarm_response",
    "CameraMotionOn": "alarm_response",
    "IntrusionAreaAlarmActivated": "alarm_response",
    "VideoAnalyticsObjectCrossedLine": "trespass",
    "VideoAnalyticsObjectLoitering": "trespass",
}
# EventType name -> canonical device event type; anything else (after sites.json
# `event_types`) is kept as `other`.
EVENT_CODES = {
    "AccessGranted": "access_granted",
    "AccessRefused": "access_denied",
    "DoorForcedOpen": "door_forced",
    "DoorOpenedForTooLong": "door_held",
    "DoorClose": "door_closed",
    "CameraMotionOn": "motion_start",
    "CameraMotion": "motion_start",
    "CameraMotionOff": "motion_end",
    "DoorTamper": "tamper",
    "IntrusionUnitTamper": "tamper",
    "VideoAnalyticsTampering": "tamper",
}
KINDS = ("entities", "entity", "alarms", "events")


def enum_name(value: Any, names: dict[int, str]) -> str | None:
    """An enum as the SDK sends it (integer, digit string or name) -> its name; an integer
    not in the table stays its digits."""
    text = id_text(value)
    if text is None:
        return None
    if text.lstrip("-").isdigit():
        return names.get(int(text), text)
    return text


def utc(value: Any, fld: str):
    return parse_utc(value, fld, naive_is_utc=True)


def optional(value: Any, fld: str):
    return optional_utc(value, fld, naive_is_utc=True)


def report_rows(data: Any, path: str, source: str, refused: list[Quarantined]) -> list[Any]:
    """The rows of one `{"Rsp": ...}` answer (an /entity answer for one entity is an object: a
    list of one). `Fail` refuses the file; `TooManyResults` keeps the rows and records that
    the report was cut short, so nobody takes a truncated export for a complete one."""
    rsp = data.get("Rsp") if isinstance(data, dict) else None
    if not isinstance(rsp, dict):
        refused.append(Quarantined(source, path, None, None, "Rsp", "not a Web SDK answer: no Rsp",
                                   json.dumps(data, default=str)[:4000]))
        return []
    status = str(rsp.get("Status") or "")
    result = rsp.get("Result")
    if status == "Fail":
        err = result if isinstance(result, dict) else {}
        refused.append(Quarantined(source, path, None, None, "Status",
                                   f"report failed: SdkErrorCode {err.get('SdkErrorCode')} {err.get('Message', '')}",
                                   json.dumps(rsp, default=str)[:4000]))
        return []
    if isinstance(result, dict):
        result = [result]
    if not isinstance(result, list):
        refused.append(Quarantined(source, path, None, None, "Result", "answer Result is not a list",
                                   json.dumps(rsp, default=str)[:4000]))
        return []
    if status == "TooManyResults":
        refused.append(Quarantined(source, path, None, None, "Status",
                                   "report truncated (TooManyResults): rows kept, re-export a shorter TimeRange "
                                   "for the rest", json.dumps({"Status": status, "rows": len(result)})))
    return result


@dataclass
class Entities:
    """The details of every entity (from /entity answers) by lower-cased GUID."""

    by_guid: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, item: Any) -> None:
        guid = guid_text(item.get("Guid")) if isinstance(item, dict) else None
        if guid and len(item) > 1:  # a bare {"Guid"} row of EntityConfiguration has no details
            self.by_guid.setdefault(guid, {}).update(item)

    def name(self, guid: Any) -> str | None:
        entity = self.by_guid.get(guid_text(guid) or "")
        return entity.get("Name") if entity else None

    def kind(self, guid: Any) -> str | None:
        entity = self.by_guid.get(guid_text(guid) or "")
        return enum_name(entity.get("EntityType"), ENTITY_TYPE_NAMES) if entity else None

    def describe(self, guid: str) -> str:
        kind, name = self.kind(guid), self.name(guid)
        return f"{(kind or 'entity').lower()} {guid}" + (f" ({name})" if name else "")


def site_of(guid: Any, mapping: Mapping, entities: Entities, fld: str, *also: Any) -> str:
    """An entity's site: sites.json `entities` (or `sites`) for the entity, else for the
    related entities in `also` (an access event's unit)."""
    key = guid_text(guid)
    if key is None:
        raise RecordError(fld, f"missing {fld}")
    site = mapping.site_of(key, *[guid_text(a) for a in also if guid_text(a)])
    if site is None:
        related = "".join(f" nor its unit {guid_text(a)}" for a in also if guid_text(a))
        raise RecordError(fld, f"no area mapping for {entities.describe(key)}{related}: Genetec sends no area on "
                               f"an entity; map it in {MAPPING_FILE} `entities`")
    return site


def parse_folder(folder: Path) -> list[ParseResult]:
    """Every answer in `folder` -> [incidents, device_events, devices]."""
    folder = Path(folder)
    source = folder.name
    mapping = load_mapping(folder / MAPPING_FILE, source)
    refused: list[Quarantined] = list(mapping.quarantined)
    export = read_export_folder(folder, source, KINDS, refused, inventory="entities",
                                device_id=lambda entity: guid_text(entity.get("Guid")),
                                items_of=lambda data, path, _: report_rows(data, path, source, refused))
    kinds, sightings, files = export.items, export.sightings, export.files
    devices, entities = parse_entities(kinds["entities"] + kinds["entity"], mapping, source,
                                       first_seen=sightings.first_seen, last_active=sightings.last_active)
    incidents, alarm_events = parse_alarms(kinds["alarms"], entities, mapping, source)
    events = parse_events(kinds["events"], entities, mapping, source)
    devices.files = files["entities"] + files["entity"]
    incidents.files, events.files = files["alarms"], files["events"]
    events = merge(source, "device_events", [events, alarm_events])
    events.quarantined[:0] = refused
    return [incidents, events, devices]


def parse_entities(items: list[tuple[str, int, Any]], mapping: Mapping, source: str = SOURCE, *,
                   first_seen: Callable[[str], date | None] = lambda _: None,
                   last_active: Callable[[str], date | None] = lambda _: None) -> tuple[ParseResult, Entities]:
    """Entity rows (EntityConfiguration GUIDs and /entity details alike) -> devices for the
    cameras, doors and units; areas, alarms and users only feed lookups, other types are not
    billing data. Installed: `CreatedOn` (a property of every entity), else the first inventory
    snapshot that listed it; removed: the day before the first snapshot that no longer does."""
    entities = Entities()
    for _, _, item in items:
        entities.add(item)
    rows: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    done: set[str] = set()
    for file_path, position, item in items:
        guid = None
        try:
            guid = required_id(item, "Guid", read=guid_text, what="row")
            if guid in done:
                continue
            details = entities.by_guid.get(guid)
            if details is None:
                done.add(guid)
                raise RecordError("Guid", f"entity {guid} is listed by EntityConfiguration but no /entity answer "
                                          "(entity*.json) gives its details: type and site unknown")
            if len(item) == 1:
                continue
            kind = ENTITY_DEVICE_TYPES.get(str(entities.kind(guid) or "").lower())
            if kind is None:
                continue
            done.add(guid)
            created = optional(details.get("CreatedOn"), "CreatedOn")
            active_from = utc_date(created) if created else first_seen(guid)
            if active_from is None:
                raise RecordError("CreatedOn", f"no install date for {entities.describe(guid)}: no CreatedOn and no "
                                               "dated inventory snapshot (entities_<yyyy-mm-dd>.json) lists it")
            rows.append({**record(source, file_path, position, details), "record_id": guid,
                         "site_id": site_of(guid, mapping, entities, "Guid"), "device_type": kind,
                         "active_from": active_from, "active_to": last_active(guid),
                         "vendor_ref": str(details["Guid"]), "extra": extra_json(details, {"Guid", "CreatedOn"})})
        except RecordError as exc:
            refused.append(refuse(source, file_path, position, guid, exc, item))
    return finish(source, "devices", rows, refused), entities


def classify_alarm(item: dict[str, Any], entities: Entities, mapping: Mapping) -> str:
    code = id_text(item.get("TriggerEvent"))
    trigger = enum_name(code, EVENT_TYPE_NAMES)
    name = entities.name(item.get("Alarm"))
    found = (mapping.classification(code, trigger, guid_text(item.get("Alarm")), name)
             or TRIGGER_EVENTS.get(trigger or "") or classify_name(name))
    if found:
        return found
    raise RecordError("TriggerEvent", f"cannot classify alarm: TriggerEvent {code} ({trigger}) is in no "
                                      f"classification table and alarm {guid_text(item.get('Alarm'))} ({name!r}) "
                                      f"matches no keyword; add it to {MAPPING_FILE} `classifications`")


def parse_alarms(items: list[tuple[str, int, Any]], entities: Entities, mapping: Mapping,
                 source: str = SOURCE) -> tuple[ParseResult, ParseResult]:
    """Alarm activity rows -> (incidents, alarm_triggered events). A response runs from
    InvestigatedTime (someone took the alarm) to AckedTime (closed); an alarm without both
    (nulls, or .NET's empty 0001-01-01 as the SDK fills them) has no response yet and is
    kept as evidence only."""
    incidents: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for file_path, position, item in items:
        base = record(source, file_path, position, item)
        record_id = None
        try:
            record_id = required_id(item, "InstanceId", what="row")
            opened = utc(item.get("TriggerTime"), "TriggerTime")
            site_id = site_of(item.get("TriggerEntity"), mapping, entities, "TriggerEntity")
            investigated = optional(item.get("InvestigatedTime"), "InvestigatedTime")
            acked = optional(item.get("AckedTime"), "AckedTime")
            alarm_name = entities.name(item.get("Alarm"))
            if investigated is None or acked is None:
                # only what never changes while the alarm is open, so the same open alarm
                # pulled twice is the same record, not a new version
                static = {k: item.get(k) for k in ("Alarm", "TriggerEntity", "TriggerEvent", "Priority")}
                events.append({**base, **alarm_triggered(
                    record_id, site_id, guid_text(item.get("TriggerEntity")), opened,
                    alarm_source_ref(source, record_id), record_id, extra_json(static, set(), AlarmName=alarm_name))})
                continue
            check_response(investigated, acked, "AckedTime")
            incidents.append({
                **base, "record_id": record_id, "site_id": site_id,
                "classification": classify_alarm(item, entities, mapping),
                "response_started_at": investigated, "response_ended_at": acked,
                "responder_guard_id": mapping.guard(guid_text(item.get("InvestigatedBy"))), "opened_at": opened,
                "description": id_text(item.get("DynamicContext")) or alarm_name,
                "source_ref": alarm_source_ref(source, record_id), "vendor_ref": record_id,
                "extra": extra_json(item, {"InstanceId", "TriggerTime", "InvestigatedTime", "AckedTime"},
                                    AlarmName=alarm_name,
                                    TriggerEventName=enum_name(item.get("TriggerEvent"), EVENT_TYPE_NAMES)),
            })
        except RecordError as exc:
            refused.append(refuse(source, file_path, position, record_id, exc, item))
    return finish(source, "incidents", incidents, refused), finish(source, "device_events", events, [])


def event_key(item: dict[str, Any]) -> str:
    """Activity rows carry no id of their own: the natural key is what happened where and
    when, so the same row exported twice gets the same record id."""
    return "|".join(str(item.get(k) or "") for k in ("Timestamp", "EventType", "Source", "Cardholder", "Credential"))


def event_record_id(item: dict[str, Any]) -> str:
    return "ev-" + hashlib.sha256(event_key(item).encode()).hexdigest()[:24]


def event_type_of(item: dict[str, Any], mapping: Mapping) -> str:
    code = id_text(item.get("EventType"))
    name = enum_name(code, EVENT_TYPE_NAMES)
    return mapping.event_type(code, name) or EVENT_CODES.get(name or "", "other")


def parse_events(items: list[tuple[str, int, Any]], entities: Entities, mapping: Mapping,
                 source: str = SOURCE) -> ParseResult:
    rows: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for file_path, position, item in items:
        record_id = None
        try:
            if not isinstance(item, dict):
                raise RecordError(None, "row is not a JSON object")
            record_id = event_record_id(item)
            occurred = utc(item.get("Timestamp"), "Timestamp")
            site_id = site_of(item.get("Source"), mapping, entities, "Source", item.get("Unit"))
            rows.append({**record(source, file_path, position, item), "record_id": record_id, "site_id": site_id,
                         "device_id": guid_text(item.get("Source")), "event_type": event_type_of(item, mapping),
                         "occurred_at": occurred, "incident_ref": None, "vendor_ref": event_key(item),
                         "extra": extra_json(item, {"Timestamp", "Source"},
                                             EventTypeName=enum_name(item.get("EventType"), EVENT_TYPE_NAMES))})
        except RecordError as exc:
            refused.append(refuse(source, file_path, position, record_id, exc, item))
    return finish(source, "device_events", rows, refused)
