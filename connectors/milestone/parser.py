"""Milestone XProtect (API Gateway REST) exports -> raw.incidents, raw.device_events, raw.devices.

The vendor folder holds answers as the REST API returns them (`{"array": [...]}`; a single
`{"data": {...}}` object is read as a list of one), told apart by file name:

- `cameras*.json`  `GET /api/rest/v1/cameras`: no recording server on a camera;
  `relations.parent` is its hardware. `createdDate` may be .NET's empty
  `0001-01-01T00:00:00.0000000`. A file dated in its name (`cameras_2026-03-01.json`) is an
  inventory snapshot;
- `hardware*.json` `GET /api/rest/v1/hardware`: `relations.parent` is the recorder;
- `alarms*.json`   `GET /api/rest/v1/alarms`: alarms with their current state;
- `history_<alarm id>.json` `GET /api/rest/v1/alarms/{id}/history`: the alarm's updates. An
  alarm taken "In progress" and later "Closed" is a guard response (-> incidents), one still
  open is an `alarm_triggered` event;
- `events*.json`   `GET /api/rest/v1/events`: `{id, type (event-type GUID), source
  ("cameras/<id>"), time}`;
- `sites.json`     the deployment's configuration (connectors.vendor_parsing.Mapping).

A camera's site follows the relation chain camera -> hardware -> recorder: sites.json maps the
camera itself (`entities`), its hardware or its recorder (`sites`). Ids are GUIDs, compared
lower-cased; times are UTC with `Z` and seven fractional digits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.base import ParseResult, Quarantined
from connectors.vendor_parsing import (
    HISTORY,
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
    is_dotnet_empty,
    latest_listings,
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

SOURCE = "milestone"
# Default alarm states (Milestone's Alarms REST API doc: New, In progress, On hold, Closed, each
# with an integer level; the defaults' levels as the Management Client ships them). A custom
# state between In progress and Closed counts as in progress.
STATE_LEVELS = {"new": 1, "in progress": 4, "on hold": 9, "closed": 11}
IN_PROGRESS, CLOSED = 4, 11
# Built-in event-type GUIDs (milestonesys/mipsdk-samples-protocol
# EventsAndStateWebSocketApiPython/event_types.py); sites.json `event_types` adds others.
EVENT_TYPES = {
    "6eb95dd6-7ccc-4bce-99f8-af0d0b582d77": "motion_start",  # Motion Started
    "6f55a7a7-d21c-4629-ac18-af1975e395a2": "motion_end",  # Motion Stopped
}
KINDS = ("cameras", "hardware", "alarms", HISTORY, "events")


def split_source(source: Any) -> tuple[str | None, str | None]:
    """`cameras/7a78...` -> ("cameras", "7a78..."); `{"type": "cameras", "id": ...}` likewise; a
    bare GUID -> (None, guid)."""
    if isinstance(source, dict):
        return id_text(source.get("type")), guid_text(source.get("id"))
    text = id_text(source)
    if not text or "/" not in text:
        return None, guid_text(text)
    kind, _, ident = text.partition("/")
    return kind.lower(), guid_text(ident)


def parent(item: Any) -> str | None:
    relations = item.get("relations") if isinstance(item, dict) else None
    link = relations.get("parent") if isinstance(relations, dict) else None
    return guid_text(link.get("id")) if isinstance(link, dict) else None


@dataclass
class Configuration:
    """Cameras and hardware of the configuration, by lower-cased id."""

    cameras: dict[str, dict[str, Any]] = field(default_factory=dict)
    hardware: dict[str, dict[str, Any]] = field(default_factory=dict)

    def camera_site(self, camera_id: str, mapping: Mapping, fld: str) -> str:
        """camera -> hardware -> recorder, the first that sites.json maps."""
        camera = self.cameras.get(camera_id)
        if camera is None:
            raise RecordError(fld, f"camera {camera_id} is not in the cameras export (cameras*.json)")
        hardware_id = parent(camera)
        if hardware_id is None:
            raise RecordError(fld, f"camera {camera_id} names no parent hardware (relations.parent)")
        recorder_id = parent(self.hardware.get(hardware_id))
        site = mapping.site_of(camera_id, hardware_id, recorder_id)
        if site:
            return site
        if recorder_id is None and hardware_id not in self.hardware:
            raise RecordError(fld, f"no site for camera {camera_id}: its hardware {hardware_id} is not in the "
                                   f"hardware export (hardware*.json), so its recorder is unknown, and {MAPPING_FILE} "
                                   "maps neither")
        raise RecordError(fld, f"no site for camera {camera_id}: {MAPPING_FILE} maps neither it, its hardware "
                               f"{hardware_id} nor its recorder {recorder_id}")

    def source_site(self, source: Any, mapping: Mapping, fld: str) -> str:
        """A source mapped whole in sites.json wins (`userDefinedEvents/<id>`); a camera maps
        through its relation chain."""
        text = id_text(source) if not isinstance(source, dict) else None
        if text is None and not isinstance(source, dict):
            raise RecordError(fld, f"missing {fld}")
        whole = mapping.site_of(text) if text else None
        if whole:
            return whole
        kind, ident = split_source(source)
        if ident and (kind == "cameras" or (kind is None and ident in self.cameras)):
            return self.camera_site(ident, mapping, fld)
        raise RecordError(fld, f"no site for {fld} {text or source}: not a camera of the configuration export "
                               f"nor mapped in {MAPPING_FILE}")

    def device_id(self, source: Any) -> str | None:
        kind, ident = split_source(source)
        return ident if kind == "cameras" or (kind is None and ident in self.cameras) else None


def list_items(data: Any, path: str, source: str, refused: list[Quarantined]) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get("array"), list):
        return data["array"]
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        return [data["data"]]
    refused.append(Quarantined(source, path, None, None, "array", "not a REST list answer: no array",
                               str(data)[:4000]))
    return []


def history_alarm_id(path: Path) -> str | None:
    return guid_text(path.stem[len(HISTORY):])


def parse_folder(folder: Path) -> list[ParseResult]:
    """Every answer in `folder` -> [incidents, device_events, devices]."""
    folder = Path(folder)
    source = folder.name
    mapping = load_mapping(folder / MAPPING_FILE, source)
    refused: list[Quarantined] = list(mapping.quarantined)
    export = read_export_folder(folder, source, KINDS, refused, inventory="cameras",
                                device_id=lambda camera: guid_text(camera.get("id")),
                                items_of=lambda data, path, _: list_items(data, path, source, refused),
                                history_id=lambda path: history_alarm_id(path) or "")
    kinds, sightings, files = export.items, export.sightings, export.files
    devices, configuration = parse_cameras(kinds["cameras"], kinds["hardware"], mapping, source,
                                           first_seen=sightings.first_seen, last_active=sightings.last_active)
    incidents, alarm_events = parse_alarms(kinds["alarms"], export.histories, configuration, mapping, source)
    events = parse_events(kinds["events"], configuration, mapping, source)
    devices.files = files["cameras"] + files["hardware"]
    incidents.files, events.files = files["alarms"], files["events"]
    events = merge(source, "device_events", [events, alarm_events])
    events.quarantined[:0] = refused
    return [incidents, events, devices]


def parse_cameras(cameras: list[tuple[str, int, Any]], hardware: list[tuple[str, int, Any]], mapping: Mapping,
                  source: str = SOURCE, *, first_seen=lambda _: None,
                  last_active=lambda _: None) -> tuple[ParseResult, Configuration]:
    """Cameras -> devices, each from its latest listing. Installed: `createdDate`, else (.NET's
    empty date) the first inventory snapshot that listed it. Retired: a disabled camera as of
    its last modification; a deleted one the day before the first snapshot without it."""
    configuration = Configuration(
        cameras={guid_text(i.get("id")): i for _, _, i in cameras if isinstance(i, dict) and guid_text(i.get("id"))},
        hardware={guid_text(i.get("id")): i for _, _, i in hardware if isinstance(i, dict) and guid_text(i.get("id"))})
    rows: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    latest = latest_listings(cameras, source, refused, read=guid_text)
    for ident, (file_path, position, item) in latest.items():
        try:
            created = optional_utc(item.get("createdDate"), "createdDate")
            active_from = utc_date(created) if created else first_seen(ident)
            if active_from is None:
                empty = "is .NET's empty date" if is_dotnet_empty(item.get("createdDate")) else "is missing"
                raise RecordError("createdDate", f"no install date for camera {ident}: createdDate {empty} and no "
                                                 "dated inventory snapshot (cameras_<yyyy-mm-dd>.json) lists it")
            retired = last_active(ident)
            if item.get("enabled") is False:
                retired = utc_date(parse_utc(item.get("lastModified"), "lastModified"))
            rows.append({**record(source, file_path, position, item), "record_id": ident,
                         "site_id": configuration.camera_site(ident, mapping, "relations"), "device_type": "camera",
                         "active_from": active_from, "active_to": retired, "vendor_ref": str(item["id"]),
                         "extra": extra_json(item, {"id", "createdDate"})})
        except RecordError as exc:
            refused.append(refuse(source, file_path, position, ident, exc, item))
    return finish(source, "devices", rows, refused), configuration


def _level(entry: dict[str, Any]) -> int | None:
    """The state level an update sets: `{"key": "State"|"StateLevel", "value": "4"}`,
    `{"key": "StateName", "value": "In progress"}` or an embedded `{"state": {"level": 4}}`;
    None for an update of anything else (assignee, comment, priority...)."""
    state = entry.get("state")
    if isinstance(state, dict):
        level, name = state.get("level"), state.get("name")
    else:
        key, value = str(entry.get("key") or ""), id_text(entry.get("value"))
        if key in ("State", "StateLevel"):
            level, name = value, None
        elif key == "StateName":
            level, name = None, value
        else:
            return None
    try:
        return int(level) if level is not None else STATE_LEVELS.get(str(name or "").lower())
    except (TypeError, ValueError):
        return STATE_LEVELS.get(str(name or "").lower())


def _who(entry: dict[str, Any]) -> str | None:
    assigned = entry.get("assignedTo")
    if isinstance(assigned, dict):
        return id_text(assigned.get("displayName"))
    return id_text(entry.get("author")) or (id_text(entry.get("value")) if entry.get("key") == "AssignedTo" else None)


def response_of(item: dict[str, Any], history: list[tuple[str, int, Any]]) -> tuple[datetime | None,
                                                                                    datetime | None, str | None]:
    """(taken in progress, closed, who took it) from the alarm's updates, oldest first: the
    response starts at the first update to an in-progress level and ends at the first update
    to Closed (or the closing `ReasonCode` update, as MilestonePSTools reads it). A closed
    alarm without a closing update closed at `modified`."""
    entries = [e for _, _, e in history if isinstance(e, dict)]
    embedded = item.get("history")
    entries += [e for e in embedded if isinstance(e, dict)] if isinstance(embedded, list) else []
    dated = sorted(((parse_utc(e.get("time"), "history.time"), n, e) for n, e in enumerate(entries)),
                   key=lambda t: (t[0], t[1]))
    started = ended = None
    user = None
    for at, _, entry in dated:
        level = _level(entry)
        if started is None and level is not None and IN_PROGRESS <= level < CLOSED:
            started, user = at, _who(entry)
        elif started is not None and ended is None and ((level or 0) >= CLOSED or entry.get("key") == "ReasonCode"):
            ended = at
    state = item.get("state") if isinstance(item.get("state"), dict) else {}
    if started is not None and ended is None and _level({"state": state}) == CLOSED:
        ended = parse_utc(item.get("modified"), "modified")
    assigned = item.get("assignedTo")
    return started, ended, user or (id_text(assigned.get("displayName")) if isinstance(assigned, dict) else None)


def classify(item: dict[str, Any], mapping: Mapping) -> str:
    name = id_text(item.get("name"))
    found = mapping.classification(guid_text(item.get("id")), name) or classify_name(name)
    if found is None:
        raise RecordError("name", f"cannot classify alarm: name {name!r} is not in {MAPPING_FILE} "
                                  "`classifications` and matches no keyword")
    return found


def parse_alarms(items: list[tuple[str, int, Any]], histories: dict[str, list[tuple[str, int, Any]]],
                 configuration: Configuration, mapping: Mapping,
                 source: str = SOURCE) -> tuple[ParseResult, ParseResult]:
    incidents: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for file_path, position, item in items:
        base = record(source, file_path, position, item)
        record_id = None
        try:
            record_id = required_id(item, "id", read=guid_text)
            opened = parse_utc(item.get("timestamp"), "timestamp")
            site_id = configuration.source_site(item.get("source"), mapping, "source")
            history = histories.get(record_id, [])
            try:
                started, ended, user = response_of(item, history)
            except RecordError as exc:
                raise RecordError(f"history.{exc.field}", f"alarm {record_id}: {exc.reason}") from None
            ref = alarm_source_ref(source, id_text(item.get("localId")) or record_id)
            if started is None or ended is None:
                if not history and _level({"state": item.get("state") or {}}) == CLOSED:
                    raise RecordError("history", f"alarm {record_id} is closed but its history "
                                                 f"(history_{record_id}.json, /alarms/{{id}}/history) is not in the "
                                                 "export: no response times")
                static = {k: item.get(k) for k in ("localId", "name", "source", "priority")}
                events.append({**base, **alarm_triggered(
                    record_id, site_id, configuration.device_id(item.get("source")), opened, ref, str(item["id"]),
                    extra_json(static, set()))})
                continue
            check_response(started, ended, "history")
            incidents.append({
                **base, "record_id": record_id, "site_id": site_id, "classification": classify(item, mapping),
                "response_started_at": started, "response_ended_at": ended, "responder_guard_id": mapping.guard(user),
                "opened_at": opened, "description": id_text(item.get("message")) or id_text(item.get("name")),
                "source_ref": ref, "vendor_ref": str(item["id"]),
                "extra": extra_json(item, {"id", "timestamp", "history"}, respondedBy=user),
            })
        except RecordError as exc:
            refused.append(refuse(source, file_path, position, record_id, exc, item))
    return finish(source, "incidents", incidents, refused), finish(source, "device_events", events, [])


def parse_events(items: list[tuple[str, int, Any]], configuration: Configuration, mapping: Mapping,
                 source: str = SOURCE) -> ParseResult:
    rows: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for file_path, position, item in items:
        record_id = None
        try:
            record_id = required_id(item, "id", read=guid_text)
            occurred = parse_utc(item.get("time"), "time")
            site_id = configuration.source_site(item.get("source"), mapping, "source")
            kind = guid_text(item.get("type"))
            rows.append({**record(source, file_path, position, item), "record_id": record_id, "site_id": site_id,
                         "device_id": configuration.device_id(item.get("source")),
                         "event_type": mapping.event_type(kind) or EVENT_TYPES.get(kind or "", "other"),
                         "occurred_at": occurred, "incident_ref": None, "vendor_ref": str(item["id"]),
                         "extra": extra_json(item, {"id", "time"})})
        except RecordError as exc:
            refused.append(refuse(source, file_path, position, record_id, exc, item))
    return finish(source, "device_events", rows, refused)


def record_time(item: Any, fields: tuple[str, ...]) -> datetime | None:
    """Latest readable instant among `fields` (for cursors)."""
    if not isinstance(item, dict):
        return None
    times = []
    for value in (item.get(f) for f in fields):
        try:
            at = optional_utc(value, "time")
        except RecordError:
            continue
        if at is not None:
            times.append(at)
    return max(times) if times else None
