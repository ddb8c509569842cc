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
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from connectors.base import CANONICAL_COLUMNS, FileRead, ParseResult, Quarantined, content_hash

SITES_FILE = "sites.csv"

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

_OFFSET_RE = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_SNAPSHOT_DATE_RE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")


class RecordError(ValueError):
    def __init__(self, field: str | None, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Site:
    site_id: str
    timezone: str | None


@dataclass
class SiteMap:
    """controller_id -> site, from `sites.csv` (columns `controller_id, site_id[, timezone]`)."""

    by_controller: dict[str, Site]
    quarantined: list[Quarantined]

    def lookup(self, controller_id: Any) -> Site:
        key = _id_text(controller_id)
        if key is None:
            raise RecordError("controller_id", "missing controller_id: cannot map the record to a site")
        site = self.by_controller.get(key)
        if site is None:
            raise RecordError("controller_id", f"unknown site: controller_id {key} is not in {SITES_FILE}")
        return site


# --- pandera schemas: the canonical contract every accepted row meets ----------------------

class DeviceEventSchema(pa.DataFrameModel):
    record_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    site_id: str = pa.Field(nullable=False)
    device_id: str = pa.Field(nullable=True)
    event_type: str = pa.Field(nullable=False, isin=EVENT_TYPES)
    occurred_at: pl.Datetime(time_unit="us", time_zone="UTC") = pa.Field(nullable=False)  # type: ignore[valid-type]
    incident_ref: str = pa.Field(nullable=True)
    vendor_ref: str = pa.Field(nullable=False)
    extra: str = pa.Field(nullable=True)
    source_file: str = pa.Field(nullable=False)
    source_line: int = pa.Field(nullable=False, ge=1)

    class Config:
        strict = False


class DeviceSchema(pa.DataFrameModel):
    record_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    site_id: str = pa.Field(nullable=False)
    device_type: str = pa.Field(nullable=False, isin=sorted(DEVICE_TYPES.values()))
    active_from: pl.Date = pa.Field(nullable=False)
    active_to: pl.Date = pa.Field(nullable=True)
    vendor_ref: str = pa.Field(nullable=False)
    extra: str = pa.Field(nullable=True)
    source_file: str = pa.Field(nullable=False)
    source_line: int = pa.Field(nullable=False, ge=1)

    class Config:
        strict = False

    @pa.dataframe_check
    def active_to_not_before_from(cls, data) -> pl.LazyFrame:  # noqa: N805
        lf = data.lazyframe
        return lf.select(pl.col("active_to").is_null() | (pl.col("active_to") >= pl.col("active_from")))


POLARS_TYPES: dict[str, dict[str, pl.DataType]] = {
    "device_events": {
        "record_id": pl.Utf8, "site_id": pl.Utf8, "device_id": pl.Utf8, "event_type": pl.Utf8,
        "occurred_at": pl.Datetime("us", "UTC"), "incident_ref": pl.Utf8, "vendor_ref": pl.Utf8,
        "extra": pl.Utf8,
    },
    "devices": {
        "record_id": pl.Utf8, "site_id": pl.Utf8, "device_type": pl.Utf8, "active_from": pl.Date,
        "active_to": pl.Date, "vendor_ref": pl.Utf8, "extra": pl.Utf8,
    },
}
SCHEMAS = {"device_events": DeviceEventSchema, "devices": DeviceSchema}


# --- entry point ----------------------------------------------------------------------------

def parse_folder(folder: Path) -> list[ParseResult]:
    """Every OpenAccess page in `folder` (recursively, `*.json`) -> one ParseResult per table.

    A page whose items carry `property_value_map` is an inventory snapshot, any other a
    logged-events page. A file that is not a readable page, or a snapshot whose name has
    no date, is quarantined whole; it never stops the batch."""
    folder = Path(folder)
    source = folder.name
    sites = load_sites(folder / SITES_FILE, source)
    events: list[tuple[str, int, Any]] = []
    snapshots: list[Snapshot] = []
    file_errors: list[Quarantined] = list(sites.quarantined)
    event_files: list[FileRead] = []
    device_files: list[FileRead] = []
    for path in sorted(folder.rglob("*.json")):
        rel = str(path)
        data = path.read_bytes()
        read = FileRead(source, rel, hashlib.sha256(data).hexdigest(), 0)
        text = data.decode("utf-8-sig", errors="replace")
        try:
            page = lower_keys(json.loads(text))
            if not isinstance(page, dict) or not isinstance(page.get("item_list"), list):
                raise ValueError("not an OpenAccess page: no item_list")
            inventory = is_inventory(page)
            taken_on = snapshot_date(path.name) if inventory else None
            if inventory and taken_on is None:
                raise ValueError(f"inventory snapshot without a date in its name (e.g. instances_Lnl_Reader_"
                                 f"2026-03-01.json): OnGuard keeps no install date, so a device's first-seen "
                                 f"date cannot be derived from {path.name}")
        except ValueError as exc:
            file_errors.append(Quarantined(source, rel, None, None, None, f"unreadable page: {exc}",
                                           f"sha256:{read.sha256}\n{text[:4000]}"))
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


def snapshot_date(name: str) -> date | None:
    match = _SNAPSHOT_DATE_RE.search(name)
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


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
            elif tz and not _valid_zone(tz):
                reason, fld = f"unknown timezone {tz!r}", "timezone"
            if reason:
                refused.append(Quarantined(source, str(path), line, controller or None, fld, reason,
                                           json.dumps(row, sort_keys=True)))
                continue
            mapping[_id_text(controller) or controller] = Site(site_id, tz or None)
    return SiteMap(mapping, refused)


# --- logged events ----------------------------------------------------------------------------

def parse_event_items(items: list[tuple[str, int, Any]], sites: SiteMap, source: str) -> ParseResult:
    """(file or URL, position, OpenAccess logged-event item) -> canonical device_events."""
    rows: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for file_path, position, raw in items:
        item = lower_keys(raw)
        content = json.dumps(raw, sort_keys=True, default=str)
        record_id = None
        try:
            if not isinstance(item, dict):
                raise RecordError(None, "item is not a JSON object")
            serial = _id_text(item.get("serial_number"))
            if serial is None:
                raise RecordError("serial_number", "missing serial_number")
            controller = _id_text(item.get("controller_id"))
            record_id = f"{controller}-{serial}" if controller else serial
            site = sites.lookup(item.get("controller_id"))
            occurred = parse_instant(item.get("timestamp"), "timestamp")
            rows.append({
                "record_id": record_id,
                "site_id": site.site_id,
                "device_id": device_ref(controller, item.get("device_id")),
                "event_type": map_event(item.get("event_type"), item.get("event_subtype"),
                                        item.get("description")),
                "occurred_at": occurred,
                "incident_ref": None,
                "vendor_ref": serial,
                "extra": _extra(item, {"serial_number", "timestamp", "controller_id"}),
                "source_file": file_path,
                "source_line": position,
                "_content": content,
            })
        except RecordError as exc:
            refused.append(Quarantined(source, file_path, position, record_id, exc.field, exc.reason, content))
    return finish(source, "device_events", rows, refused)


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
    dev = _id_text(device_id)
    if dev is None or dev == "0":
        return f"panel-{controller}"
    return f"reader-{controller}-{dev}"


def parse_instant(value: Any, field: str) -> datetime:
    """OpenAccess timestamps carry an offset (`+00:00`; `Z` accepted too). One without an
    offset has no documented convention, so it is refused rather than guessed."""
    if value is None or str(value).strip() == "":
        raise RecordError(field, f"missing {field}")
    text = str(value).strip()
    if not _OFFSET_RE.search(text):
        raise RecordError(field, f"{field} {text!r} has no UTC offset")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(field, f"{field} {text!r} is not an ISO-8601 timestamp") from None
    return parsed.astimezone(UTC)


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
        panel, reader = _id_text(props.get("panelid")), _id_text(props.get("readerid"))
        if panel is None or reader is None:
            raise RecordError("ReaderID" if panel else "PanelID", "missing PanelID or ReaderID")
        return type_name.lower(), f"reader-{panel}-{reader}", f"{panel}/{reader}", panel
    panel = _id_text(props.get("id"))
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
            content = json.dumps(raw, sort_keys=True, default=str)
            try:
                type_name, record_id, _, _ = device_identity(item, snap.page_type)
            except RecordError as exc:
                refused.append(Quarantined(source, snap.file_path, position, None, exc.field, exc.reason, content))
                continue
            newest[type_name] = max(newest.get(type_name, snap.taken_on), snap.taken_on)
            first = seen[record_id].first_seen if record_id in seen else snap.taken_on
            seen[record_id] = Sighting(record_id, type_name, first, snap.taken_on, snap.file_path, position, item,
                                       content)
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
                "extra": _extra(props, set(), type_name=TYPE_NAMES[type_name],
                                first_seen=sighting.first_seen.isoformat(), last_seen=sighting.last_seen.isoformat()
                                if gone else None),
                "source_file": sighting.file_path,
                "source_line": sighting.position,
                "_content": sighting.content,
            })
        except RecordError as exc:
            refused.append(Quarantined(source, sighting.file_path, sighting.position, sighting.record_id, exc.field,
                                       exc.reason, sighting.content))
    return finish(source, "devices", rows, refused)


# --- shared helpers (also used by client.py) --------------------------------------------------

def finish(source: str, table: str, rows: list[dict[str, Any]], refused: list[Quarantined]) -> ParseResult:
    """Build the canonical frame, validate it with the table's pandera schema and move any
    row the schema refuses to quarantine (pandera is the contract; the per-record checks
    above exist to give precise reasons)."""
    columns = CANONICAL_COLUMNS[table]
    schema = {**POLARS_TYPES[table], "source_file": pl.Utf8, "source_line": pl.Int64, "content_hash": pl.Utf8}
    for row in rows:
        row["content_hash"] = content_hash({k: row[k] for k in columns})
    frame = pl.DataFrame([{k: r[k] for k in schema} for r in rows], schema=schema)
    try:
        SCHEMAS[table].validate(frame, lazy=True)
    except SchemaErrors as exc:
        bad: dict[int, str] = {}
        for case in exc.failure_cases.iter_rows(named=True):
            if case["index"] is not None:
                bad.setdefault(int(case["index"]), f"{case['column'] or 'row'}: failed {case['check']}")
        for index, reason in bad.items():
            row = rows[index]
            refused.append(Quarantined(source, row["source_file"], row["source_line"], row["record_id"],
                                       reason.split(":")[0], f"schema check {reason}", row["_content"]))
        keep = [i for i in range(len(rows)) if i not in bad]
        frame = frame[keep] if keep else frame.clear()
    return ParseResult(source=source, table=table, rows=frame, quarantined=refused)


def lower_keys(value: Any) -> Any:
    """OpenAccess returns keys in varying case between calls; compare lower-cased."""
    if isinstance(value, dict):
        return {str(k).lower(): lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_keys(v) for v in value]
    return value


def _extra(item: dict[str, Any], used: set[str], **more: Any) -> str:
    kept = {k: v for k, v in item.items() if k not in used and k not in PERSONAL_FIELDS}
    kept.update(more)
    return json.dumps(kept, sort_keys=True, default=str)


def _id_text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
