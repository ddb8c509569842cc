"""Genetec Security Center (Web SDK) exports -> raw.incidents, raw.device_events, raw.devices.

The vendor folder holds report answers exactly as the Web SDK returns them
(`{"Rsp": {"Status", "Result": [...]}}`), told apart by file name:

- `entities*.json`  EntityConfiguration report: cameras, doors, units (-> devices) plus the
  areas, alarms and users the other files refer to by GUID;
- `alarms*.json`    alarm activity: an alarm put under investigation and acknowledged is a
  guard response (-> incidents); one not yet responded to is an `alarm_triggered` event;
- `events*.json`    door and camera activity (-> device_events);
- `sites.json`      our mapping: Genetec area GUID -> site id, user GUID -> guard id.

The first half of this module is the canonical layer the three video connectors share
(Milestone and Avigilon import it): mapping file, UTC parsing, classification keywords and
the pandera schemas every accepted row must pass. The record functions are used by the API
client too, so a pulled record and an exported one become the same canonical row."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from connectors.base import CANONICAL_COLUMNS, FileRead, ParseResult, Quarantined, content_hash

# ============================================================================ shared canonical layer

MAPPING_FILE = "sites.json"
INCIDENT_CLASSES = ("alarm_response", "trespass", "medical", "fire_alarm")
EVENT_TYPES = ("motion_start", "motion_end", "access_granted", "access_denied", "door_forced", "door_held",
               "door_closed", "fire_alarm", "tamper", "alarm_triggered", "other")
DEVICE_TYPES = ("camera", "door_reader", "panel")

# Alarm names are free text set up per installation; these keywords (checked in order, on
# the lower-cased name) are how an alarm without a tabled trigger type is classified.
NAME_KEYWORDS: list[tuple[tuple[str, ...], str]] = [
    (("medical", "first aid", "ems", "injur"), "medical"),
    (("fire", "smoke"), "fire_alarm"),
    (("trespass", "loiter", "line cross", "crossed line"), "trespass"),
    (("intrusion", "forced", "motion", "held open", "tamper", "break-in", "glass break"), "alarm_response"),
]

_OFFSET_RE = re.compile(r"(Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)
_FRACTION_RE = re.compile(r"\.(\d{7,})")


class RecordError(ValueError):
    def __init__(self, field: str | None, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


@dataclass
class Mapping:
    """`sites.json`: `{"sites": {vendor key: site id}, "guards": {vendor user: guard id}}`.
    Keys compare case-insensitively (GUID case varies between Genetec and Milestone tools)."""

    sites: dict[str, str] = field(default_factory=dict)
    guards: dict[str, str] = field(default_factory=dict)
    quarantined: list[Quarantined] = field(default_factory=list)
    path: str = MAPPING_FILE
    fold_case: bool = True

    def _key(self, text: str) -> str:
        return text.lower() if self.fold_case else text

    def site(self, key: Any, what: str, fld: str) -> str:
        text = id_text(key)
        if text is None:
            raise RecordError(fld, f"missing {fld}: cannot map the record to a site")
        site = self.sites.get(self._key(text))
        if site is None:
            raise RecordError(fld, f"unknown site: {what} {text} is not in {self.path}")
        return site

    def guard(self, user: Any) -> str | None:
        """A user who is not in the mapping is an operator, not a guard: no responder."""
        text = id_text(user)
        return self.guards.get(self._key(text)) if text else None


def load_mapping(path: Path, source: str, *, fold_case: bool = True) -> Mapping:
    """A missing file leaves the map empty, so every record is quarantined as `unknown site`
    (visible, never dropped); a bad entry is quarantined and skipped."""
    mapping = Mapping(path=str(path), fold_case=fold_case)
    if not path.exists():
        return mapping
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        mapping.quarantined.append(Quarantined(source, str(path), None, None, None,
                                               f"unreadable mapping file: {exc}", text[:4000]))
        return mapping
    for section, target in (("sites", mapping.sites), ("guards", mapping.guards)):
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            mapping.quarantined.append(Quarantined(source, str(path), None, None, section,
                                                   f"{section} must be an object of key -> id", json.dumps(entries)))
            continue
        for position, (key, value) in enumerate(entries.items(), start=1):
            if not isinstance(value, str) or not value.strip() or not str(key).strip():
                mapping.quarantined.append(Quarantined(
                    source, str(path), position, str(key), section, f"{section} entry needs a non-empty id",
                    json.dumps({key: value}, default=str)))
                continue
            target[mapping._key(str(key).strip())] = value.strip()
    return mapping


def parse_utc(value: Any, fld: str, *, require: str = "offset") -> datetime:
    """An instant with an explicit zone. `require="Z"` insists on the UTC designator (Genetec
    and Avigilon always send it); a value without any zone is refused, never guessed.
    .NET writes 7 fractional digits: they are cut to microseconds."""
    if value is None or str(value).strip() == "":
        raise RecordError(fld, f"missing {fld}")
    text = str(value).strip()
    if isinstance(value, (int, float)) or text.isdigit():
        raise RecordError(fld, f"{fld} {text!r} is a number, not an ISO-8601 timestamp")
    if require == "Z" and not text.upper().endswith("Z"):
        raise RecordError(fld, f"{fld} {text!r} is not UTC: the export writes UTC with a 'Z' suffix")
    if not _OFFSET_RE.search(text):
        raise RecordError(fld, f"{fld} {text!r} has no UTC offset")
    text = _FRACTION_RE.sub(lambda m: "." + m.group(1)[:6], text)
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.upper().endswith("Z") else text)
    except ValueError:
        raise RecordError(fld, f"{fld} {str(value)!r} is not an ISO-8601 timestamp") from None
    return parsed.astimezone(UTC)


def optional_utc(value: Any, fld: str, *, require: str = "offset") -> datetime | None:
    if value is None or str(value).strip() == "":
        return None
    return parse_utc(value, fld, require=require)


def check_response(started: datetime, ended: datetime, end_field: str) -> None:
    if ended < started:
        raise RecordError(end_field, f"response ends ({ended.isoformat()}) before it starts ({started.isoformat()})")


def classify_name(name: Any) -> str | None:
    text = str(name or "").lower()
    for needles, classification in NAME_KEYWORDS:
        if any(n in text for n in needles):
            return classification
    return None


def id_text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def extra_json(item: dict[str, Any], used: set[str], **more: Any) -> str:
    kept = {k: v for k, v in item.items() if k not in used}
    kept.update(more)
    return json.dumps(kept, sort_keys=True, default=str)


def alarm_source_ref(source: str, alarm_id: str) -> str:
    """`<vendor>:alarm/<id>`: the form the generic incidents CSV uses in `source_ref` for the
    same alarm, so downstream can recognise one incident delivered both ways."""
    return f"{source}:alarm/{alarm_id}"


class IncidentSchema(pa.DataFrameModel):
    record_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    site_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    classification: str = pa.Field(nullable=False, isin=list(INCIDENT_CLASSES))
    response_started_at: pl.Datetime(time_unit="us", time_zone="UTC") = pa.Field(nullable=False)  # type: ignore[valid-type]
    response_ended_at: pl.Datetime(time_unit="us", time_zone="UTC") = pa.Field(nullable=False)  # type: ignore[valid-type]
    responder_guard_id: str = pa.Field(nullable=True)
    opened_at: pl.Datetime(time_unit="us", time_zone="UTC") = pa.Field(nullable=True)  # type: ignore[valid-type]
    vendor_ref: str = pa.Field(nullable=False)
    source_line: int = pa.Field(nullable=False, ge=1)

    class Config:
        strict = False

    @pa.dataframe_check
    def response_ends_after_start(cls, data) -> pl.LazyFrame:  # noqa: N805
        return data.lazyframe.select(pl.col("response_ended_at") >= pl.col("response_started_at"))


class DeviceEventSchema(pa.DataFrameModel):
    record_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    site_id: str = pa.Field(nullable=False)
    event_type: str = pa.Field(nullable=False, isin=list(EVENT_TYPES))
    occurred_at: pl.Datetime(time_unit="us", time_zone="UTC") = pa.Field(nullable=False)  # type: ignore[valid-type]
    vendor_ref: str = pa.Field(nullable=False)
    source_line: int = pa.Field(nullable=False, ge=1)

    class Config:
        strict = False


class DeviceSchema(pa.DataFrameModel):
    record_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    site_id: str = pa.Field(nullable=False)
    device_type: str = pa.Field(nullable=False, isin=list(DEVICE_TYPES))
    active_from: pl.Date = pa.Field(nullable=False)
    active_to: pl.Date = pa.Field(nullable=True)
    vendor_ref: str = pa.Field(nullable=False)
    source_line: int = pa.Field(nullable=False, ge=1)

    class Config:
        strict = False

    @pa.dataframe_check
    def active_to_not_before_from(cls, data) -> pl.LazyFrame:  # noqa: N805
        return data.lazyframe.select(pl.col("active_to").is_null() | (pl.col("active_to") >= pl.col("active_from")))


_UTC = pl.Datetime("us", "UTC")
POLARS_TYPES: dict[str, dict[str, pl.DataType]] = {
    "incidents": {"record_id": pl.Utf8, "site_id": pl.Utf8, "classification": pl.Utf8, "response_started_at": _UTC,
                  "response_ended_at": _UTC, "responder_guard_id": pl.Utf8, "opened_at": _UTC,
                  "description": pl.Utf8, "source_ref": pl.Utf8, "vendor_ref": pl.Utf8, "extra": pl.Utf8},
    "device_events": {"record_id": pl.Utf8, "site_id": pl.Utf8, "device_id": pl.Utf8, "event_type": pl.Utf8,
                      "occurred_at": _UTC, "incident_ref": pl.Utf8, "vendor_ref": pl.Utf8, "extra": pl.Utf8},
    "devices": {"record_id": pl.Utf8, "site_id": pl.Utf8, "device_type": pl.Utf8, "active_from": pl.Date,
                "active_to": pl.Date, "vendor_ref": pl.Utf8, "extra": pl.Utf8},
}
SCHEMAS = {"incidents": IncidentSchema, "device_events": DeviceEventSchema, "devices": DeviceSchema}


def finish(source: str, table: str, rows: list[dict[str, Any]], refused: list[Quarantined],
           files: list[FileRead] | None = None) -> ParseResult:
    """Frame the rows, validate them with the table's pandera schema and move any row it
    refuses to quarantine. The per-record checks before this give the precise reasons;
    pandera is the contract that nothing malformed reaches raw.*."""
    columns = CANONICAL_COLUMNS[table]
    schema = {**POLARS_TYPES[table], "source_file": pl.Utf8, "source_line": pl.Int64, "content_hash": pl.Utf8}
    for row in rows:
        row["content_hash"] = content_hash({k: row[k] for k in columns})
    frame = pl.DataFrame([{k: r[k] for k in schema} for r in rows], schema=schema)
    try:
        SCHEMAS[table].validate(frame, lazy=True)
    except SchemaErrors as exc:
        bad: dict[int, tuple[str, str]] = {}
        for case in exc.failure_cases.iter_rows(named=True):
            if case["index"] is not None:
                bad.setdefault(int(case["index"]), (case["column"] or "row", str(case["check"])))
        for index, (column, check) in sorted(bad.items()):
            row = rows[index]
            refused.append(Quarantined(source, row["source_file"], row["source_line"], row["record_id"], column,
                                       f"schema check failed on {column}: {check}", row["_content"]))
        keep = [i for i in range(len(rows)) if i not in bad]
        frame = frame[keep] if keep else frame.clear()
    return ParseResult(source=source, table=table, rows=frame, quarantined=refused, files=list(files or []))


def merge(source: str, table: str, parts: list[ParseResult]) -> ParseResult:
    frames = [p.rows for p in parts if p.rows.height]
    rows = pl.concat(frames) if frames else parts[0].rows.clear()
    return ParseResult(source, table, rows, [q for p in parts for q in p.quarantined],
                       [f for p in parts for f in p.files])


def read_json(path: Path, source: str, refused: list[Quarantined]) -> tuple[Any, FileRead]:
    """Load one export file; an unreadable one is quarantined whole (returns None)."""
    data = path.read_bytes()
    read = FileRead(source, str(path), hashlib.sha256(data).hexdigest(), 0)
    text = data.decode("utf-8-sig", errors="replace")
    try:
        return json.loads(text), read
    except ValueError as exc:
        refused.append(Quarantined(source, str(path), None, None, None, f"unreadable JSON: {exc}",
                                   f"sha256:{read.sha256}\n{text[:4000]}"))
        return None, read


def record(source: str, file_path: str, position: int, raw: Any) -> dict[str, Any]:
    return {"source_file": file_path, "source_line": position, "_content": json.dumps(raw, sort_keys=True, default=str)}


def utc_date(at: datetime) -> date:
    return at.astimezone(UTC).date()


# ============================================================================ Genetec

SOURCE = "genetec"

# Genetec TriggerEvent (EventType name) -> our classification. Names marked (?) in
# docs/connectors/genetec.md are assumed. Manual alarms (`None`) and anything else fall
# back to the alarm entity's name (NAME_KEYWORDS); an alarm neither classifies is refused.
TRIGGER_EVENTS = {
    "DoorForcedOpen": "alarm_response",
    "DoorOpenedTooLong": "alarm_response",
    "CameraMotion": "alarm_response",
    "IntrusionDetected": "alarm_response",
    "ObjectCrossedLine": "trespass",
    "FireAlarm": "fire_alarm",
}
# Genetec EventType name -> canonical device event type; unknown names are kept as `other`.
EVENT_CODES = {
    "AccessGranted": "access_granted",
    "AccessRefused": "access_denied",
    "DoorForcedOpen": "door_forced",
    "DoorOpenedTooLong": "door_held",
    "DoorClosed": "door_closed",
    "CameraMotion": "motion_start",
    "CameraMotionOff": "motion_end",
    "FireAlarm": "fire_alarm",
    "UnitTampered": "tamper",
}
ENTITY_DEVICE_TYPES = {"camera": "camera", "door": "door_reader", "unit": "panel"}


def _guid(value: Any) -> str | None:
    text = id_text(value)
    return text.lower() if text else None


def report_rows(data: Any, path: str, source: str, refused: list[Quarantined]) -> list[Any]:
    """The rows of one `{"Rsp": ...}` answer. `Fail` refuses the file; `TooManyResults`
    keeps the rows and records that the report was cut short, so nobody takes a truncated
    export for a complete one."""
    rsp = data.get("Rsp") if isinstance(data, dict) else None
    if not isinstance(rsp, dict):
        refused.append(Quarantined(source, path, None, None, "Rsp", "not a Web SDK report answer: no Rsp",
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
    if not isinstance(result, list):
        refused.append(Quarantined(source, path, None, None, "Result", "report Result is not a list",
                                   json.dumps(rsp, default=str)[:4000]))
        return []
    if status == "TooManyResults":
        refused.append(Quarantined(source, path, None, None, "Status",
                                   "report truncated (TooManyResults): rows kept, re-export a shorter TimeRange "
                                   "for the rest", json.dumps({"Status": status, "rows": len(result)})))
    return result


@dataclass
class Entities:
    """Every entity of the EntityConfiguration report by lower-cased GUID."""

    by_guid: dict[str, dict[str, Any]] = field(default_factory=dict)

    def site_of(self, guid: Any, mapping: Mapping, fld: str) -> str:
        key = _guid(guid)
        if key is None:
            raise RecordError(fld, f"missing {fld}")
        entity = self.by_guid.get(key)
        if entity is None:
            raise RecordError(fld, f"unknown site: entity {key} is not in the entity configuration export")
        return mapping.site(entity.get("Area"), f"area of entity {key}", fld)

    def name(self, guid: Any) -> str | None:
        entity = self.by_guid.get(_guid(guid) or "")
        return entity.get("Name") if entity else None


def parse_folder(folder: Path) -> list[ParseResult]:
    """Every report answer in `folder` -> [incidents, device_events, devices]."""
    folder = Path(folder)
    source = folder.name
    mapping = load_mapping(folder / MAPPING_FILE, source)
    refused: list[Quarantined] = list(mapping.quarantined)
    kinds: dict[str, list[tuple[str, int, Any]]] = {"entities": [], "alarms": [], "events": []}
    files: dict[str, list[FileRead]] = {"entities": [], "alarms": [], "events": []}
    for path in sorted(folder.rglob("*.json")):
        if path.name == MAPPING_FILE:
            continue
        kind = next((k for k in kinds if path.name.lower().startswith(k)), None)
        data, read = read_json(path, source, refused)
        if kind is None:
            refused.append(Quarantined(source, str(path), None, None, None,
                                       "unrecognised export file: expected entities*, alarms* or events*.json",
                                       f"sha256:{read.sha256}"))
            files["events"].append(read)
            continue
        files[kind].append(read)
        if data is None:
            continue
        rows = report_rows(data, str(path), source, refused)
        read.rows_read = len(rows)
        kinds[kind].extend((str(path), n, item) for n, item in enumerate(rows, start=1))
    devices, entities = parse_entities(kinds["entities"], mapping, source)
    incidents, alarm_events = parse_alarms(kinds["alarms"], entities, mapping, source)
    events = parse_events(kinds["events"], entities, mapping, source)
    devices.files, incidents.files, events.files = files["entities"], files["alarms"], files["events"]
    events = merge(source, "device_events", [events, alarm_events])
    events.quarantined[:0] = refused
    return [incidents, events, devices]


def parse_entities(items: list[tuple[str, int, Any]], mapping: Mapping,
                   source: str = SOURCE) -> tuple[ParseResult, Entities]:
    """Cameras, doors and units become devices; areas, alarms and users only feed lookups.
    Other entity types (cardholders, partitions...) are not billing data and are skipped."""
    entities = Entities()
    for _, _, item in items:
        if isinstance(item, dict) and _guid(item.get("Guid")):
            entities.by_guid[_guid(item.get("Guid"))] = item  # type: ignore[index]
    rows: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for file_path, position, item in items:
        base = record(source, file_path, position, item)
        guid = _guid(item.get("Guid")) if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict):
                raise RecordError(None, "row is not a JSON object")
            kind = ENTITY_DEVICE_TYPES.get(str(item.get("EntityType") or "").lower())
            if kind is None:
                continue
            if guid is None:
                raise RecordError("Guid", "missing Guid")
            created = parse_utc(item.get("CreatedOn"), "CreatedOn", require="Z")
            removed = optional_utc(item.get("DeletedOn"), "DeletedOn", require="Z")
            rows.append({**base, "record_id": guid, "site_id": entities.site_of(guid, mapping, "Area"),
                         "device_type": kind, "active_from": utc_date(created),
                         "active_to": utc_date(removed) if removed else None, "vendor_ref": str(item["Guid"]),
                         "extra": extra_json(item, {"Guid", "CreatedOn", "DeletedOn"})})
        except RecordError as exc:
            refused.append(Quarantined(source, file_path, position, guid, exc.field, exc.reason, base["_content"]))
    return finish(source, "devices", rows, refused), entities


def classify_alarm(item: dict[str, Any], entities: Entities) -> str:
    trigger = str(item.get("TriggerEvent") or "")
    if trigger in TRIGGER_EVENTS:
        return TRIGGER_EVENTS[trigger]
    name = entities.name(item.get("Alarm"))
    by_name = classify_name(name)
    if by_name:
        return by_name
    raise RecordError("TriggerEvent", f"cannot classify alarm: TriggerEvent {trigger or None!r} is not in the code "
                                      f"table and alarm name {name!r} matches no keyword")


def parse_alarms(items: list[tuple[str, int, Any]], entities: Entities, mapping: Mapping,
                 source: str = SOURCE) -> tuple[ParseResult, ParseResult]:
    """Alarm activity rows -> (incidents, alarm_triggered events). A response runs from
    InvestigatedTime (a guard took the alarm) to AckedTime (closed); an alarm without both
    has no response yet and is kept as evidence only."""
    incidents: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for file_path, position, item in items:
        base = record(source, file_path, position, item)
        record_id = None
        try:
            if not isinstance(item, dict):
                raise RecordError(None, "row is not a JSON object")
            record_id = id_text(item.get("InstanceId"))
            if record_id is None:
                raise RecordError("InstanceId", "missing InstanceId")
            site_id = entities.site_of(item.get("TriggerEntity"), mapping, "TriggerEntity")
            opened = parse_utc(item.get("TriggerTime"), "TriggerTime", require="Z")
            investigated = optional_utc(item.get("InvestigatedTime"), "InvestigatedTime", require="Z")
            acked = optional_utc(item.get("AckedTime"), "AckedTime", require="Z")
            used = {"InstanceId", "TriggerTime", "InvestigatedTime", "AckedTime"}
            if investigated is None or acked is None:
                # only what never changes while the alarm is open, so the same open alarm
                # pulled twice is the same record, not a new version
                static = {k: item.get(k) for k in ("Alarm", "TriggerEntity", "TriggerEvent", "Priority")}
                events.append({**base, "record_id": f"alarm-{record_id}", "site_id": site_id,
                               "device_id": _guid(item.get("TriggerEntity")), "event_type": "alarm_triggered",
                               "occurred_at": opened, "incident_ref": alarm_source_ref(source, record_id),
                               "vendor_ref": record_id,
                               "extra": extra_json(static, set(), AlarmName=entities.name(item.get("Alarm")))})
                continue
            check_response(investigated, acked, "AckedTime")
            incidents.append({
                **base, "record_id": record_id, "site_id": site_id, "classification": classify_alarm(item, entities),
                "response_started_at": investigated, "response_ended_at": acked,
                "responder_guard_id": mapping.guard(item.get("InvestigatedBy")), "opened_at": opened,
                "description": id_text(item.get("DynamicContext")) or entities.name(item.get("Alarm")),
                "source_ref": alarm_source_ref(source, record_id), "vendor_ref": record_id,
                "extra": extra_json(item, used, AlarmName=entities.name(item.get("Alarm"))),
            })
        except RecordError as exc:
            refused.append(Quarantined(source, file_path, position, record_id, exc.field, exc.reason, base["_content"]))
    return finish(source, "incidents", incidents, refused), finish(source, "device_events", events, [])


def event_key(item: dict[str, Any]) -> str:
    """Activity rows carry no id of their own: the natural key is what happened where and
    when, so the same row exported twice gets the same record id."""
    return "|".join(str(item.get(k) or "") for k in ("Timestamp", "EventType", "Source", "Cardholder", "Credential"))


def event_record_id(item: dict[str, Any]) -> str:
    return "ev-" + hashlib.sha256(event_key(item).encode()).hexdigest()[:24]


def parse_events(items: list[tuple[str, int, Any]], entities: Entities, mapping: Mapping,
                 source: str = SOURCE) -> ParseResult:
    rows: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for file_path, position, item in items:
        base = record(source, file_path, position, item)
        record_id = None
        try:
            if not isinstance(item, dict):
                raise RecordError(None, "row is not a JSON object")
            record_id = event_record_id(item)
            occurred = parse_utc(item.get("Timestamp"), "Timestamp", require="Z")
            site_id = entities.site_of(item.get("Source"), mapping, "Source")
            rows.append({**base, "record_id": record_id, "site_id": site_id, "device_id": _guid(item.get("Source")),
                         "event_type": EVENT_CODES.get(str(item.get("EventType") or ""), "other"),
                         "occurred_at": occurred, "incident_ref": None, "vendor_ref": event_key(item),
                         "extra": extra_json(item, {"Timestamp", "Source"})})
        except RecordError as exc:
            refused.append(Quarantined(source, file_path, position, record_id, exc.field, exc.reason, base["_content"]))
    return finish(source, "device_events", rows, refused)
