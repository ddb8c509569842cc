"""Lenel OnGuard OpenAccess exports -> raw.device_events and raw.devices.

The vendor folder holds JSON pages exactly as OpenAccess returns them:
`GET /logged_events` pages (`{version, count, item_list, page_number, ...}`, snake_case
items whose `timestamp` carries the OnGuard server's offset) and `GET /instances` pages
(`{page_number, page_size, total_pages, total_items, count, item_list}`: no page-level
`type_name`; each item is `{type_name, property_value_map}`), plus `sites.csv` mapping
controller (panel) ids to our site ids. The same item functions serve the API client,
so a pulled record and an exported one become the same canonical row.

OnGuard keeps no install date on a reader (`Lnl_Reader`: PanelID, ReaderID, Name,
HostName) or a panel (`Lnl_Panel`: ID, Name, PanelType, ...). Billing's active dates are
derived as an integrator would, from inventory snapshots: each saved `/instances` page
names its snapshot date in its file name (`instances_Lnl_Reader_2026-03-01.json`); a
device is active from the first snapshot that lists it, and until the last one that did
if a later snapshot of its type no longer lists it."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandera.polars as pa

from connectors.base import FileRead, ParseResult, Quarantined, file_refusal
from connectors.vendor_parsing import (
    SITES_CSV,
    DeviceEventSchema,
    RecordError,
    SiteTable,
    extra_json,
    finish,
    iana_zone,
    id_text,
    iso_utc,
    read_file,
    record,
    record_content,
    refuse,
    required_id,
    snapshot_date,
)

# (event_type, event_subtype) -> canonical event type. OpenAccess does not publish the
# integer meanings (research section 4): this is our table, agreed with the simulator and
# documented in docs/connectors/lenel.md. The description fallback covers the rest.
EVENT_CODES: dict[tuple[int, int], str] = {
    (0, 20): "access_granted",
    (0, 21): "access_denied",
    (0, 22): "access_denied",  # badge not in system
    (4, 1): "door_forced",
    (4, 2): "door_held",
    (4, 3): "door_closed",  # forced/held restored
    (4, 4): "request_to_exit",
    (1, 1): "panel_offline",
    (1, 2): "panel_online",
    (5, 1): "tamper",
    (6, 1): "fire_alarm",
}
DESCRIPTION_EVENTS: list[tuple[str, str]] = [
    ("door forced open restored", "door_closed"),
    ("door held open restored", "door_closed"),
    ("access granted", "access_granted"),
    ("access denied", "access_denied"),
    ("invalid badge", "access_denied"),
    ("door forced open", "door_forced"),
    ("door held open", "door_held"),
    ("request to exit", "request_to_exit"),
    ("communications lost", "panel_offline"),
    ("communications restored", "panel_online"),
    ("tamper", "tamper"),
    ("fire alarm", "fire_alarm"),
]
EVENT_TYPES = sorted(set(EVENT_CODES.values()) | {t for _, t in DESCRIPTION_EVENTS} | {"other"})

DEVICE_TYPES = {"lnl_reader": "door_reader", "lnl_panel": "panel"}
TYPE_NAMES = {"lnl_reader": "Lnl_Reader", "lnl_panel": "Lnl_Panel"}

# Personal data the billing pipeline never needs; left out of `extra` on purpose.
PERSONAL_FIELDS = {"cardholder_first_name", "cardholder_last_name"}
# How this connector has always worded a schema refusal (connectors.vendor_parsing.finish).
SCHEMA_REASON = "schema check {column}: failed {check}"


@dataclass(frozen=True)
class Site:
    site_id: str
    timezone: str | None


@dataclass
class SiteMap(SiteTable[Site]):
    """controller_id -> site, from `sites.csv` (columns `controller_id, site_id[, timezone]`)."""

    key_column: str = "controller_id"


class LenelEventSchema(DeviceEventSchema):
    """The canonical device event, with OnGuard's own event types (exit requests, panel
    communication) that the video vendors do not have."""

    event_type: str = pa.Field(nullable=False, isin=EVENT_TYPES)


# --- entry point ----------------------------------------------------------------------------

def parse_folder(folder: Path) -> list[ParseResult]:
    """Every OpenAccess page in `folder` (recursively, `*.json`) -> one ParseResult per table.

    A page whose items carry `property_value_map` is an inventory snapshot, any other a
    logged-events page. A file that is not a readable page, or a snapshot whose name has
    no date, is quarantined whole; it never stops the batch."""
    folder = Path(folder)
    source = folder.name
    sites = load_sites(folder / SITES_CSV, source)
    events: list[tuple[str, int, Any]] = []
    snapshots: list[Snapshot] = []
    file_errors: list[Quarantined] = list(sites.quarantined)
    event_files: list[FileRead] = []
    device_files: list[FileRead] = []
    for path in sorted(folder.rglob("*.json")):
        rel = str(path)
        read, text = read_file(path, source)
        try:
            page = lower_keys(json.loads(text))
            if not isinstance(page, dict) or not isinstance(page.get("item_list"), list):
                raise ValueError("not an OpenAccess page: no item_list")
            inventory = is_inventory(page)
            taken_on = snapshot_date(path, compact=True) if inventory else None
            if inventory and taken_on is None:
                raise ValueError(f"inventory snapshot without a date in its name (e.g. instances_Lnl_Reader_"
                                 f"2026-03-01.json): OnGuard keeps no install date, so a device's first-seen "
                                 f"date cannot be derived from {path.name}")
        except ValueError as exc:
            file_errors.append(file_refusal(source, rel, text, read.sha256, f"unreadable page: {exc}"))
            event_files.append(read)
            continue
        read.rows_read = len(page["item_list"])
        (device_files if inventory else event_files).append(read)
        if inventory:
            snapshots.append(Snapshot(taken_on, rel, page["item_list"], page.get("type_name")))  # type: ignore[arg-type]
        else:
            events.extend((rel, position, item) for position, item in enumerate(page["item_list"], start=1))
    event_result = parse_event_items(events, sites, source)
    event_result.quarantined[:0] = file_errors
    event_result.files = event_files
    device_result = parse_snapshots(snapshots, sites, source)
    device_result.files = device_files
    return [event_result, device_result]


def is_inventory(page: dict[str, Any]) -> bool:
    items = page["item_list"]
    return bool(page.get("type_name")) or any(isinstance(i, dict) and "property_value_map" in i for i in items)


def load_sites(path: Path, source: str) -> SiteMap:
    """Read the controller -> site mapping; a bad row is quarantined, a missing file leaves
    the map empty so every record is quarantined as `unknown site` (not silently dropped)."""
    mapping: dict[str, Site] = {}
    refused: list[Quarantined] = []
    if not path.exists():
        return SiteMap(mapping, refused)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        last = 1
        for row in reader:
            line, last = last + 1, reader.line_num
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            controller, site_id, tz = row.get("controller_id"), row.get("site_id"), row.get("timezone")
            reason = None
            if not controller:
                reason, fld = "missing controller_id", "controller_id"
            elif not site_id:
                reason, fld = "missing site_id", "site_id"
            elif tz and iana_zone(tz) is None:
                reason, fld = f"unknown timezone {tz!r}", "timezone"
            if reason:
                refused.append(Quarantined(source, str(path), line, controller or None, fld, reason,
                                           json.dumps(row, sort_keys=True)))
                continue
            mapping[id_text(controller) or controller] = Site(site_id, tz or None)
    return SiteMap(mapping, refused)


# --- logged events ----------------------------------------------------------------------------

def parse_event_items(items: list[tuple[str, int, Any]], sites: SiteMap, source: str) -> ParseResult:
    """(file or URL, position, OpenAccess logged-event item) -> canonical device_events."""
    rows: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for file_path, position, raw in items:
        item = lower_keys(raw)
        record_id = None
        try:
            serial = required_id(item, "serial_number")
            controller = id_text(item.get("controller_id"))
            record_id = f"{controller}-{serial}" if controller else serial
            site = sites.lookup(item.get("controller_id"))
            occurred = iso_utc(item.get("timestamp"), "timestamp")
            rows.append({
                **record(source, file_path, position, raw),
                "record_id": record_id,
                "site_id": site.site_id,
                "device_id": device_ref(controller, item.get("device_id")),
                "event_type": map_event(item.get("event_type"), item.get("event_subtype"),
                                        item.get("description")),
                "occurred_at": occurred,
                "incident_ref": None,
                "vendor_ref": serial,
                "extra": extra_json(item, {"serial_number", "timestamp", "controller_id"} | PERSONAL_FIELDS),
            })
        except RecordError as exc:
            refused.append(refuse(source, file_path, position, record_id, exc, raw))
    return finish(source, "device_events", rows, refused, schema=LenelEventSchema, reason=SCHEMA_REASON)


def map_event(event_type: Any, subtype: Any, description: Any) -> str:
    """Code table first; then the description text; otherwise `other` (kept, not refused:
    an unmapped event is still evidence, and its codes stay in `extra`)."""
    try:
        code = (int(event_type), int(subtype))
    except (TypeError, ValueError):
        code = None
    if code in EVENT_CODES:
        return EVENT_CODES[code]
    text = str(description or "").strip().lower()
    for needle, canonical in DESCRIPTION_EVENTS:
        if needle in text:
            return canonical
    return "other"


def device_ref(controller: str | None, device_id: Any) -> str | None:
    """Our device id, shared with the inventory: readers are `reader-<panel>-<reader>`, events
    of the panel itself (device 0) `panel-<panel>`."""
    if controller is None:
        return None
    dev = id_text(device_id)
    if dev is None or dev == "0":
        return f"panel-{controller}"
    return f"reader-{controller}-{dev}"


# --- inventory --------------------------------------------------------------------------------

@dataclass
class Snapshot:
    """One saved `/instances` page: when it was taken, where it came from, its items and
    the page's `type_name` (older OpenAccess pages; items name their own)."""

    taken_on: date
    file_path: str
    items: list[Any]
    page_type: str | None = None


@dataclass
class Sighting:
    """A device across snapshots: first and last seen, and its latest item."""

    record_id: str
    type_name: str
    first_seen: date
    last_seen: date
    file_path: str
    position: int
    item: dict[str, Any]
    content: str


def device_identity(item: Any, page_type: str | None) -> tuple[str, str, str, str]:
    """(type_name, record id, vendor ref, panel) of an `/instances` item. The type is the
    item's `type_name`, else the page's, else what its keys show (a `ReaderID` is a reader,
    a bare `ID` a panel). Raises RecordError."""
    if not isinstance(item, dict):
        raise RecordError(None, "item is not a JSON object")
    props = item.get("property_value_map")
    if not isinstance(props, dict):
        raise RecordError("property_value_map", "item has no property_value_map")
    type_name = str(item.get("type_name") or page_type or ("lnl_reader" if "readerid" in props else "lnl_panel"))
    kind = DEVICE_TYPES.get(type_name.lower())
    if kind is None:
        raise RecordError("type_name", f"unsupported type_name {type_name!r} (Lnl_Reader or Lnl_Panel)")
    if kind == "door_reader":
        panel, reader = id_text(props.get("panelid")), id_text(props.get("readerid"))
        if panel is None or reader is None:
            raise RecordError("ReaderID" if panel else "PanelID", "missing PanelID or ReaderID")
        return type_name.lower(), f"reader-{panel}-{reader}", f"{panel}/{reader}", panel
    panel = id_text(props.get("id"))
    if panel is None:
        raise RecordError("ID", "missing panel ID")
    return type_name.lower(), f"panel-{panel}", panel, panel


def sightings(snapshots: list[Snapshot], source: str) -> tuple[dict[str, Sighting], dict[str, date],
                                                               list[Quarantined]]:
    """Devices seen across the snapshots, the newest snapshot date per type, and the items
    that name no device (quarantined at their file and position)."""
    seen: dict[str, Sighting] = {}
    newest: dict[str, date] = {}
    refused: list[Quarantined] = []
    for snap in sorted(snapshots, key=lambda s: (s.taken_on, s.file_path)):
        for position, raw in enumerate(snap.items, start=1):
            item = lower_keys(raw)
            try:
                type_name, record_id, _, _ = device_identity(item, snap.page_type)
            except RecordError as exc:
                refused.append(refuse(source, snap.file_path, position, None, exc, raw))
                continue
            newest[type_name] = max(newest.get(type_name, snap.taken_on), snap.taken_on)
            first = seen[record_id].first_seen if record_id in seen else snap.taken_on
            seen[record_id] = Sighting(record_id, type_name, first, snap.taken_on, snap.file_path, position, item,
                                       record_content(raw))
    return seen, newest, refused


def parse_snapshots(snapshots: list[Snapshot], sites: SiteMap, source: str) -> ParseResult:
    """Inventory snapshots -> canonical devices: active from the first snapshot listing a
    device, until the last one that did when a newer snapshot of its type lacks it."""
    seen, newest, refused = sightings(snapshots, source)
    return devices_from_sightings(list(seen.values()), newest, sites, source, refused)


def devices_from_sightings(found: list[Sighting], newest: dict[str, date], sites: SiteMap, source: str,
                           refused: list[Quarantined] | None = None) -> ParseResult:
    rows: list[dict[str, Any]] = []
    refused = list(refused or [])
    for sighting in found:
        try:
            type_name, record_id, vendor_ref, panel = device_identity(sighting.item, sighting.type_name)
            site = sites.lookup(panel)
            gone = sighting.last_seen < newest.get(type_name, sighting.last_seen)
            props = sighting.item["property_value_map"]
            rows.append({
                "record_id": record_id,
                "site_id": site.site_id,
                "device_type": DEVICE_TYPES[type_name],
                "active_from": sighting.first_seen,
                "active_to": sighting.last_seen if gone else None,
                "vendor_ref": vendor_ref,
                "extra": extra_json(props, PERSONAL_FIELDS, type_name=TYPE_NAMES[type_name],
                                    first_seen=sighting.first_seen.isoformat(),
                                    last_seen=sighting.last_seen.isoformat() if gone else None),
                "source_file": sighting.file_path,
                "source_line": sighting.position,
                "_content": sighting.content,
            })
        except RecordError as exc:
            refused.append(Quarantined(source, sighting.file_path, sighting.position, sighting.record_id, exc.field,
                                       exc.reason, sighting.content))
    return finish(source, "devices", rows, refused, reason=SCHEMA_REASON)


# --- OpenAccess's key case (also used by client.py) ---------------------------------------------

def lower_keys(value: Any) -> Any:
    """OpenAccess returns keys in varying case between calls; compare lower-cased."""
    if isinstance(value, dict):
        return {str(k).lower(): lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_keys(v) for v in value]
    return value
