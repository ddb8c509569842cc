"""Milestone XProtect (API Gateway REST) exports -> raw.incidents, raw.device_events, raw.devices.

The vendor folder holds list answers as the REST API returns them (`{"array": [...]}`; a
single `{"data": {...}}` object is read as a list of one), told apart by file name:

- `cameras*.json` the camera configuration (-> devices), each naming its recording server;
- `alarms*.json`  alarms with their state history (`include=history`, assumed): an alarm
  taken "In progress" and later "Closed" is a guard response (-> incidents), one still
  open is an `alarm_triggered` event;
- `events*.json`  events (`{id, type, source, time}`; type is an event-type GUID);
- `sites.json`    our mapping: recording server id (or a full `type/id` source) -> site id,
  user display name -> guard id.

Milestone ids are GUIDs, compared lower-cased; `source` is a `<resourceType>/<id>` path.
The canonical checks and schemas are shared with Genetec and Avigilon (genetec.parser)."""

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
    merge,
    optional_utc,
    parse_utc,
    read_json,
    record,
    utc_date,
)

SOURCE = "milestone"
# Default alarm state levels (research section 2): 1 New, 4 In progress, 9 On hold, 11 Closed.
IN_PROGRESS, CLOSED = 4, 11
# Built-in event-type GUIDs as listed by `GET /eventTypes` (?) -> canonical event type.
EVENT_TYPES = {
    "6eb95dd6-7ccc-4bce-99f8-af0d0b582d77": "motion_start",  # Motion Started (?)
    "6f55a7a7-d21c-4629-ac18-af1975e395a2": "motion_end",  # Motion Stopped (?)
    "a5ba3bfa-d40c-4fb6-a5a8-1b5c6e0e1d4d": "tamper",  # Tampering (?)
}


def _guid(value: Any) -> str | None:
    text = id_text(value)
    return text.lower() if text else None


def split_source(source: Any) -> tuple[str | None, str | None]:
    """`cameras/7a78f5bb-...` -> ("cameras", "7a78f5bb-...")."""
    text = id_text(source)
    if not text or "/" not in text:
        return None, _guid(text)
    kind, _, ident = text.partition("/")
    return kind.lower(), _guid(ident)


@dataclass
class Cameras:
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)

    def site_of(self, source: Any, mapping: Mapping, fld: str) -> str:
        """A source mapped whole in sites.json wins; a camera maps through its recording server."""
        text = id_text(source)
        if text is None:
            raise RecordError(fld, f"missing {fld}")
        if text.lower() in mapping.sites:
            return mapping.sites[text.lower()]
        kind, ident = split_source(text)
        camera = self.by_id.get(ident or "") if kind == "cameras" else None
        if camera is None:
            raise RecordError(fld, f"unknown site: {fld} {text} is not a camera of the configuration export "
                                   f"nor mapped in {MAPPING_FILE}")
        server = camera.get("recordingServer") if isinstance(camera.get("recordingServer"), dict) else {}
        return mapping.site(server.get("id"), f"recording server of camera {ident}", fld)

    def device_id(self, source: Any) -> str | None:
        kind, ident = split_source(source)
        return ident if kind == "cameras" else None


def list_items(data: Any, path: str, source: str, refused: list[Quarantined]) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get("array"), list):
        return data["array"]
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        return [data["data"]]
    refused.append(Quarantined(source, path, None, None, "array", "not a REST list answer: no array",
                               str(data)[:4000]))
    return []


def parse_folder(folder: Path) -> list[ParseResult]:
    """Every answer in `folder` -> [incidents, device_events, devices]."""
    folder = Path(folder)
    source = folder.name
    mapping = load_mapping(folder / MAPPING_FILE, source)
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
        items = list_items(data, str(path), source, refused)
        read.rows_read = len(items)
        kinds[kind].extend((str(path), n, item) for n, item in enumerate(items, start=1))
    devices, cameras = parse_cameras(kinds["cameras"], mapping, source)
    incidents, alarm_events = parse_alarms(kinds["alarms"], cameras, mapping, source)
    events = parse_events(kinds["events"], cameras, mapping, source)
    devices.files, incidents.files, events.files = files["cameras"], files["alarms"], files["events"]
    events = merge(source, "device_events", [events, alarm_events])
    events.quarantined[:0] = refused
    return [incidents, events, devices]


def parse_cameras(items: list[tuple[str, int, Any]], mapping: Mapping,
                  source: str = SOURCE) -> tuple[ParseResult, Cameras]:
    """A disabled camera is retired as of its last modification."""
    cameras = Cameras({_guid(i.get("id")): i for _, _, i in items if isinstance(i, dict) and _guid(i.get("id"))})
    rows: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for file_path, position, item in items:
        base = record(source, file_path, position, item)
        ident = _guid(item.get("id")) if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict):
                raise RecordError(None, "item is not a JSON object")
            if ident is None:
                raise RecordError("id", "missing id")
            created = parse_utc(item.get("createdDate"), "createdDate")
            retired = None
            if item.get("enabled") is False:
                retired = parse_utc(item.get("lastModified"), "lastModified")
            rows.append({**base, "record_id": ident,
                         "site_id": cameras.site_of(f"cameras/{ident}", mapping, "recordingServer"),
                         "device_type": "camera", "active_from": utc_date(created),
                         "active_to": utc_date(retired) if retired else None, "vendor_ref": str(item["id"]),
                         "extra": extra_json(item, {"id", "createdDate"})})
        except RecordError as exc:
            refused.append(Quarantined(source, file_path, position, ident, exc.field, exc.reason, base["_content"]))
    return finish(source, "devices", rows, refused), cameras


def _level(entry: Any) -> int | None:
    state = entry.get("state") if isinstance(entry, dict) else None
    try:
        return int(state.get("level")) if isinstance(state, dict) else None
    except (TypeError, ValueError):
        return None


def _user(value: Any) -> str | None:
    return id_text(value.get("displayName")) if isinstance(value, dict) else None


def response_of(item: dict[str, Any]) -> tuple[datetime | None, datetime | None, str | None]:
    """(taken in progress, closed, who took it) from the alarm's state history. A closed
    alarm without a Closed entry closed at `modified`."""
    started = ended = None
    user = None
    history = item.get("history") if isinstance(item.get("history"), list) else []
    for n, entry in enumerate(history, start=1):
        level = _level(entry)
        when = entry.get("time") if isinstance(entry, dict) else None
        if level == IN_PROGRESS and started is None:
            started = parse_utc(when, f"history[{n}].time")
            user = _user(entry.get("assignedTo"))
        elif level == CLOSED and ended is None:
            ended = parse_utc(when, f"history[{n}].time")
    if ended is None and _level(item) == CLOSED:
        ended = parse_utc(item.get("modified"), "modified")
    return started, ended, user or _user(item.get("assignedTo"))


def parse_alarms(items: list[tuple[str, int, Any]], cameras: Cameras, mapping: Mapping,
                 source: str = SOURCE) -> tuple[ParseResult, ParseResult]:
    incidents: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for file_path, position, item in items:
        base = record(source, file_path, position, item)
        record_id = None
        try:
            if not isinstance(item, dict):
                raise RecordError(None, "item is not a JSON object")
            record_id = _guid(item.get("id"))
            if record_id is None:
                raise RecordError("id", "missing id")
            site_id = cameras.site_of(item.get("source"), mapping, "source")
            opened = parse_utc(item.get("timestamp"), "timestamp")
            started, ended, user = response_of(item)
            ref = alarm_source_ref(source, id_text(item.get("localId")) or record_id)
            if started is None or ended is None:
                static = {k: item.get(k) for k in ("localId", "name", "source", "priority")}
                events.append({**base, "record_id": f"alarm-{record_id}", "site_id": site_id,
                               "device_id": cameras.device_id(item.get("source")), "event_type": "alarm_triggered",
                               "occurred_at": opened, "incident_ref": ref, "vendor_ref": str(item["id"]),
                               "extra": extra_json(static, set())})
                continue
            check_response(started, ended, "history")
            classification = classify_name(item.get("name"))
            if classification is None:
                raise RecordError("name", f"cannot classify alarm: name {item.get('name')!r} matches no keyword of "
                                          "the code table")
            incidents.append({
                **base, "record_id": record_id, "site_id": site_id, "classification": classification,
                "response_started_at": started, "response_ended_at": ended, "responder_guard_id": mapping.guard(user),
                "opened_at": opened, "description": id_text(item.get("message")) or id_text(item.get("name")),
                "source_ref": ref, "vendor_ref": str(item["id"]),
                "extra": extra_json(item, {"id", "timestamp", "history"}, respondedBy=user),
            })
        except RecordError as exc:
            refused.append(Quarantined(source, file_path, position, record_id, exc.field, exc.reason, base["_content"]))
    return finish(source, "incidents", incidents, refused), finish(source, "device_events", events, [])


def parse_events(items: list[tuple[str, int, Any]], cameras: Cameras, mapping: Mapping,
                 source: str = SOURCE) -> ParseResult:
    rows: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for file_path, position, item in items:
        base = record(source, file_path, position, item)
        record_id = None
        try:
            if not isinstance(item, dict):
                raise RecordError(None, "item is not a JSON object")
            record_id = _guid(item.get("id"))
            if record_id is None:
                raise RecordError("id", "missing id")
            occurred = parse_utc(item.get("time"), "time")
            site_id = cameras.site_of(item.get("source"), mapping, "source")
            rows.append({**base, "record_id": record_id, "site_id": site_id,
                         "device_id": cameras.device_id(item.get("source")),
                         "event_type": EVENT_TYPES.get(_guid(item.get("type")) or "", "other"),
                         "occurred_at": occurred, "incident_ref": None, "vendor_ref": str(item["id"]),
                         "extra": extra_json(item, {"id", "time"})})
        except RecordError as exc:
            refused.append(Quarantined(source, file_path, position, record_id, exc.field, exc.reason, base["_content"]))
    return finish(source, "device_events", rows, refused)


def record_time(item: Any, fields: tuple[str, ...]) -> datetime | None:
    """Latest readable instant among `fields` and the history entries (for cursors)."""
    if not isinstance(item, dict):
        return None
    values = [item.get(f) for f in fields]
    history = item.get("history") if isinstance(item.get("history"), list) else []
    values += [h.get("time") for h in history if isinstance(h, dict)]
    times = []
    for value in values:
        try:
            at = optional_utc(value, "time")
        except RecordError:
            continue
        if at is not None:
            times.append(at)
    return max(times) if times else None
