"""Avigilon Control Center (Web Endpoint API) exports -> raw.incidents, raw.device_events,
raw.devices.

The vendor folder holds answers as the WEP returns them (`{"status": "success", "result":
{...}}`), told apart by file name:

- `cameras*.json` `GET /cameras`: `result.cameras` (id, name, model, serial, connected,
  connectionState, ipAddress, location...). A camera carries no date added and no server. A
  file dated in its name (`cameras_2026-03-01.json`) is an inventory snapshot;
- `alarms*.json`  `GET /alarms`: `result.alarms` (id, name, type, state,
  timeOfMostRecentActivation, associatedCameras...);
- `history_<alarm id>.json` `GET /alarm-history?id=<alarm id>`: the alarm's actions
  (TRIGGERED, CLAIMED, UNCLAIMED, ACKNOWLEDGED, PURGED). Alarms are not events: the guide
  delivers alarm objects over Socket.IO only, and claims and acknowledgements in the alarm
  history. A trigger claimed and then acknowledged is an incident; any other trigger is an
  `alarm_triggered` event;
- `events*.json`  `GET /events/search` answers: `result.events` (device events,
  -> device_events) and, on the first page only, the continuation `token`;
- `sites.json`    the deployment's configuration (connectors.vendor_parsing.Mapping). Avigilon
  ids are opaque and case-sensitive: compared exactly.

A camera's site: sites.json `entities` for the camera, else the server its events come from
(`cameraId` + `originatingServerId`) mapped in `sites`. Event ids (`thisId`) are digit strings,
timestamps UTC with milliseconds and a `Z`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
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
    id_text,
    iso_ms,
    latest_listings,
    load_mapping,
    merge,
    parse_utc,
    read_export_folder,
    record,
    refuse,
    required_id,
)

SOURCE = "avigilon"
TRIGGERED, CLAIMED, UNCLAIMED, ACKNOWLEDGED, PURGED = "TRIGGERED", "CLAIMED", "UNCLAIMED", "ACKNOWLEDGED", "PURGED"
# Event `type` -> canonical device event type (types named in the WEP guide); sites.json
# `event_types` adds others; anything else is kept as `other`.
EVENT_TYPES = {
    "DEVICE_MOTION_START": "motion_start",
    "DEVICE_MOTION_STOP": "motion_end",
}
NO_EVENT = "-1"  # `linkedEventId` of an event linked to nothing
KINDS = ("cameras", "alarms", HISTORY, "events")


def result_list(data: Any, path: str, source: str, refused: list[Quarantined], key: str | None) -> list[Any]:
    """`result.<key>` of a success answer (for an alarm history, whichever list `result` holds);
    anything else refuses the file."""
    result = data.get("result") if isinstance(data, dict) and data.get("status") == "success" else None
    if isinstance(result, dict):
        items = result.get(key) if key else next((v for v in result.values() if isinstance(v, list)), None)
        if isinstance(items, list):
            return items
    status = data.get("status") if isinstance(data, dict) else None
    refused.append(Quarantined(source, path, None, None, "status",
                               f"not a success answer with result.{key or '<list>'} (status {status!r})",
                               str(data)[:4000]))
    return []


def camera_servers(events: list[tuple[str, int, Any]]) -> dict[str, str]:
    """camera id -> the ACC server its latest event came from."""
    servers: dict[str, tuple[str, str]] = {}
    for _, _, item in events:
        if not isinstance(item, dict):
            continue
        camera, server = id_text(item.get("cameraId")), id_text(item.get("originatingServerId"))
        at = str(item.get("timestamp") or "")
        if camera and server and (camera not in servers or at >= servers[camera][0]):
            servers[camera] = (at, server)
    return {camera: server for camera, (_, server) in servers.items()}


@dataclass
class Cameras:
    """Each camera's site, once resolved, for the alarms that name them."""

    sites: dict[str, str] = field(default_factory=dict)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)


def camera_site(camera_id: str, mapping: Mapping, servers: dict[str, str],
                remembered: Callable[[str], str | None]) -> str:
    site = mapping.site_of(camera_id)
    server = servers.get(camera_id)
    if site is None and server is not None:
        site = mapping.site_of(server)
        if site is None:
            raise RecordError("id", f"no site for camera {camera_id}: its events come from ACC server {server}, "
                                    f"which {MAPPING_FILE} `sites` does not map")
    site = site or remembered(camera_id)
    if site is None:
        raise RecordError("id", f"no site for camera {camera_id}: an Avigilon camera names no server, no event "
                                f"names it, and {MAPPING_FILE} `entities` does not map it")
    return site


def parse_folder(folder: Path) -> list[ParseResult]:
    """Every answer in `folder` -> [incidents, device_events, devices]."""
    folder = Path(folder)
    source = folder.name
    mapping = load_mapping(folder / MAPPING_FILE, source, fold_case=False)
    refused: list[Quarantined] = list(mapping.quarantined)
    export = read_export_folder(
        folder, source, KINDS, refused, inventory="cameras", device_id=lambda camera: id_text(camera.get("id")),
        items_of=lambda data, path, kind: result_list(data, path, source, refused, None if kind == HISTORY else kind))
    kinds, sightings, files = export.items, export.sightings, export.files
    devices, cameras = parse_cameras(kinds["cameras"], mapping, camera_servers(kinds["events"]), source,
                                     first_seen=sightings.first_seen, last_active=sightings.last_active)
    incidents, alarm_events = parse_alarms(kinds["alarms"], export.histories, cameras, mapping, source)
    events = merge(source, "device_events", [parse_events(kinds["events"], mapping, source), alarm_events])
    devices.files, incidents.files, events.files = files["cameras"], files["alarms"], files["events"]
    events.quarantined[:0] = refused
    return [incidents, events, devices]


def parse_cameras(items: list[tuple[str, int, Any]], mapping: Mapping, servers: dict[str, str],
                  source: str = SOURCE, *, first_seen: Callable[[str], date | None] = lambda _: None,
                  last_active: Callable[[str], date | None] = lambda _: None,
                  remembered: Callable[[str], str | None] = lambda _: None) -> tuple[ParseResult, Cameras]:
    """Cameras -> devices, each from its latest listing. Avigilon sends no date added: a camera
    was installed the first day an inventory snapshot (or pull) listed it, and retired the day
    before the first one that no longer does."""
    refused: list[Quarantined] = []
    latest = latest_listings(items, source, refused)
    cameras = Cameras(items={k: v[2] for k, v in latest.items()})
    rows: list[dict[str, Any]] = []
    for ident, (file_path, position, item) in latest.items():
        try:
            site = camera_site(ident, mapping, servers, remembered)
            cameras.sites[ident] = site
            active_from = first_seen(ident)
            if active_from is None:
                raise RecordError("id", f"no install date for camera {ident}: Avigilon sends none and no dated "
                                        "inventory snapshot (cameras_<yyyy-mm-dd>.json) lists it")
            rows.append({**record(source, file_path, position, item), "record_id": ident, "site_id": site,
                         "device_type": "camera", "active_from": active_from, "active_to": last_active(ident),
                         "vendor_ref": ident, "extra": extra_json(item, {"id"})})
        except RecordError as exc:
            refused.append(refuse(source, file_path, position, ident, exc, item))
    return finish(source, "devices", rows, refused), cameras


def classify(alarm: dict[str, Any], mapping: Mapping) -> str:
    alarm_id, kind, name = id_text(alarm.get("id")), id_text(alarm.get("type")), id_text(alarm.get("name"))
    found = mapping.classification(alarm_id, kind, name) or classify_name(name)
    if found is None:
        raise RecordError("name", f"cannot classify alarm {alarm_id}: neither its id, its type {kind!r} nor its name "
                                  f"{name!r} is in {MAPPING_FILE} `classifications`, and the name matches no keyword")
    return found


def alarm_site(alarm: dict[str, Any], cameras: Cameras, mapping: Mapping) -> tuple[str, str | None]:
    """(site, camera): sites.json `entities` for the alarm, else its first associated camera's site."""
    alarm_id = id_text(alarm.get("id"))
    associated = [c for c in (id_text(c) for c in alarm.get("associatedCameras") or []) if c]
    camera = associated[0] if associated else None
    site = mapping.site_of(alarm_id) or (cameras.sites.get(camera) if camera else None)
    if site is None:
        which = (f"its camera {camera} has no site" if camera else "it has no associated camera")
        raise RecordError("associatedCameras", f"no site for alarm {alarm_id}: {which}, and {MAPPING_FILE} "
                                               "`entities` does not map the alarm")
    return site, camera


@dataclass
class Activation:
    """One trigger of an alarm and what followed it in the alarm's history."""

    triggered: datetime
    position: int
    claimed: datetime | None = None
    claimed_by: str | None = None
    acknowledged: datetime | None = None
    acknowledged_by: str | None = None
    purged: datetime | None = None
    missed: int = 0

    @property
    def closed(self) -> bool:
        return self.acknowledged is not None or self.purged is not None


def activations(history: list[tuple[str, int, Any]]) -> list[Activation]:
    """Walk the actions oldest first (the WEP answers newest first by default): TRIGGERED opens an
    activation (one while the alarm is still active is a missed trigger); the first CLAIMED
    starts the response, the claim held at ACKNOWLEDGED names the responder (UNCLAIMED drops
    it); ACKNOWLEDGED or PURGED closes."""
    entries = []
    for _, position, entry in history:
        if not isinstance(entry, dict):
            raise RecordError("history", f"history entry {position} is not a JSON object")
        at = parse_utc(entry.get("timestamp"), f"history[{position}].timestamp", require="Z")
        entries.append((at, position, str(entry.get("action") or "").upper(), id_text(entry.get("userName"))))
    found: list[Activation] = []
    current: Activation | None = None
    for at, position, action, user in sorted(entries, key=lambda e: (e[0], e[1])):
        if action == TRIGGERED:
            if current is not None and not current.closed:
                current.missed += 1
                continue
            current = Activation(at, position)
            found.append(current)
        elif current is None or current.closed:
            continue
        elif action == CLAIMED:
            current.claimed = current.claimed or at
            current.claimed_by = user
        elif action == UNCLAIMED:
            current.claimed_by = None
        elif action == ACKNOWLEDGED:
            current.acknowledged, current.acknowledged_by = at, user
        elif action == PURGED:
            current.purged = at
    return found


def parse_alarms(items: list[tuple[str, int, Any]], histories: dict[str, list[tuple[str, int, Any]]],
                 cameras: Cameras, mapping: Mapping, source: str = SOURCE) -> tuple[ParseResult, ParseResult]:
    """Alarms and their histories -> (incidents, alarm_triggered events). Each activation is
    identified by the alarm's id and its trigger instant (`<alarm id>@<UTC, ms>`): the alarm
    history gives an activation no id of its own."""
    incidents: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    listed = {id_text(a.get("id")) for _, _, a in items if isinstance(a, dict)}
    for alarm_id, history in histories.items():
        if alarm_id not in listed and history:
            file_path, position, entry = history[0]
            refused.append(refuse(source, file_path, position, alarm_id, RecordError(
                "id", f"history of alarm {alarm_id}, which the alarms export (alarms*.json) does not list: "
                      "no name, camera or site for it"), entry))
    for file_path, position, alarm in items:
        alarm_id = None
        try:
            alarm_id = required_id(alarm, "id", what="alarm")
            history = histories.get(alarm_id, [])
            found = activations(history)
            if not found:
                continue
            site_id, camera = alarm_site(alarm, cameras, mapping)
        except RecordError as exc:
            refused.append(refuse(source, file_path, position, alarm_id, exc, alarm))
            continue
        where = history[0][0] if history else file_path
        for act in found:
            record_id = f"{alarm_id}@{iso_ms(act.triggered)}"
            base = record(source, where, act.position, {"alarm": alarm_id, "triggered": iso_ms(act.triggered)})
            ref = alarm_source_ref(source, record_id)
            if act.claimed is None or act.acknowledged is None:
                static = {"alarmId": alarm_id, "alarmName": alarm.get("name"), "type": alarm.get("type")}
                events.append({**base, **alarm_triggered(record_id, site_id, camera, act.triggered, ref, record_id,
                                                         extra_json(static, set()))})
                continue
            try:
                check_response(act.claimed, act.acknowledged, "ACKNOWLEDGED.timestamp")
                classification = classify(alarm, mapping)
            except RecordError as exc:
                refused.append(refuse(source, where, act.position, record_id, exc, alarm))
                continue
            incidents.append({
                **base, "record_id": record_id, "site_id": site_id, "classification": classification,
                "response_started_at": act.claimed, "response_ended_at": act.acknowledged,
                "responder_guard_id": mapping.guard(act.claimed_by or act.acknowledged_by),
                "opened_at": act.triggered, "description": id_text(alarm.get("name")), "source_ref": ref,
                "vendor_ref": record_id,
                "extra": extra_json({"alarmId": alarm_id, "type": alarm.get("type"),
                                     "associatedCameras": alarm.get("associatedCameras")}, set(),
                                    claimedBy=act.claimed_by, acknowledgedBy=act.acknowledged_by,
                                    missedTriggers=act.missed),
            })
    return finish(source, "incidents", incidents, refused), finish(source, "device_events", events, [])


def parse_events(items: list[tuple[str, int, Any]], mapping: Mapping, source: str = SOURCE) -> ParseResult:
    """Events -> device_events. `clientIp` is an object in some event types and a string in
    others; both are kept as sent in `extra`."""
    rows: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for file_path, position, item in items:
        record_id = None
        try:
            record_id = required_id(item, "thisId", what="event")
            occurred = parse_utc(item.get("timestamp"), "timestamp", require="Z")
            server = id_text(item.get("originatingServerId"))
            site_id = mapping.site_of(server) if server else None
            if site_id is None:
                raise RecordError("originatingServerId", f"no site mapping for ACC server {server} "
                                                         f"({item.get('originatingServerName')}) in {MAPPING_FILE}")
            kind = str(item.get("type") or "")
            rows.append({**record(source, file_path, position, item), "record_id": record_id, "site_id": site_id,
                         "device_id": id_text(item.get("cameraId")),
                         "event_type": mapping.event_type(kind) or EVENT_TYPES.get(kind, "other"),
                         "occurred_at": occurred, "incident_ref": None, "vendor_ref": record_id,
                         "extra": extra_json(item, {"thisId", "timestamp"})})
        except RecordError as exc:
            refused.append(refuse(source, file_path, position, record_id, exc, item))
    return finish(source, "device_events", rows, refused)


def event_time(item: Any) -> tuple[datetime | None, str | None]:
    if not isinstance(item, dict):
        return None, None
    try:
        at = parse_utc(item.get("timestamp"), "timestamp", require="Z")
    except RecordError:
        at = None
    return at, id_text(item.get("thisId"))
