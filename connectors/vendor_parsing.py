"""What the vendor connectors share between reading a vendor's answer and writing canonical rows:
reading a delivered file (JSON, or CSV records with their physical lines), the deployment's
configuration file (`sites.json`), UTC parsing with the quirks vendors really send, the
inventory history that gives a device the dates its vendor does not send, and the pandera
schemas every accepted row must pass (`finish`).

Every vendor connector uses it (Genetec, Milestone, Avigilon, Lenel, AMAG, TrackTik, the CRM);
what only one vendor does stays in its own package. The record functions of each vendor are
used by its API client and its folder parser alike, so a pulled record and an exported one
become the same canonical row."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from connectors.base import (
    CANONICAL_COLUMNS,
    CODE_RE,
    FileRead,
    ParseResult,
    Quarantined,
    content_hash,
    file_refusal,
    with_content_hash,
)

MAPPING_FILE = "sites.json"
SITES_CSV = "sites.csv"
INCIDENT_CLASSES = ("alarm_response", "trespass", "medical", "fire_alarm")
EVENT_TYPES = ("motion_start", "motion_end", "access_granted", "access_denied", "door_forced", "door_held",
               "door_closed", "fire_alarm", "tamper", "alarm_triggered", "other")
DEVICE_TYPES = ("camera", "door_reader", "panel")

# Alarm names are free text set up per installation; these keywords (checked in order, on
# the lower-cased name) classify an alarm that no configured or built-in table classifies.
NAME_KEYWORDS: list[tuple[tuple[str, ...], str]] = [
    (("medical", "first aid", "ems", "injur"), "medical"),
    (("fire", "smoke"), "fire_alarm"),
    (("trespass", "loiter", "line cross", "crossed line"), "trespass"),
    (("intrusion", "forced", "motion", "held open", "tamper", "break-in", "glass break"), "alarm_response"),
]

_OFFSET_RE = re.compile(r"(Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)
_ISO_OFFSET_RE = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_FRACTION_RE = re.compile(r"\.(\d{7,})")
_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
_COMPACT_DATE_IN_NAME = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")
# .NET writes DateTime.MinValue for a date it does not have (Milestone's createdDate, Genetec's
# AckedTime of an alarm nobody acknowledged): it means "no value", never the year 1.
DOTNET_EMPTY_DATE = "0001-01-01"
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"


class RecordError(ValueError):
    def __init__(self, field: str | None, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


# ============================================================================ deployment configuration

@dataclass
class Mapping:
    """`sites.json`, what a deployment must tell us because the vendor does not send it:

    - `sites`: a vendor container (Milestone recorder or hardware, Avigilon ACC server) -> site id;
    - `entities`: one vendor entity (a camera, door, unit or alarm) -> site id, for what no
      container places (Genetec has no area field on a device; an Avigilon camera names no server);
    - `guards`: a vendor user (GUID, display name or user name) -> guard id; others are operators;
    - `classifications`: a vendor alarm key (enum integer or name, event-type GUID, alarm name,
      type or id) -> incident classification, ahead of the connector's built-in table;
    - `event_types`: a vendor event code -> canonical device event type, likewise.

    Keys compare case-insensitively unless `fold_case` is off (Avigilon ids are case-sensitive)."""

    sites: dict[str, str] = field(default_factory=dict)
    entities: dict[str, str] = field(default_factory=dict)
    guards: dict[str, str] = field(default_factory=dict)
    classifications: dict[str, str] = field(default_factory=dict)
    event_types: dict[str, str] = field(default_factory=dict)
    quarantined: list[Quarantined] = field(default_factory=list)
    path: str = MAPPING_FILE
    fold_case: bool = True

    def key(self, value: Any) -> str | None:
        text = id_text(value)
        if text is None:
            return None
        return text.lower() if self.fold_case else text

    def site_of(self, *keys: Any) -> str | None:
        """The first of `keys` that `entities` or `sites` maps (entities win)."""
        for section in (self.entities, self.sites):
            for key in keys:
                found = section.get(self.key(key) or "")
                if found:
                    return found
        return None

    def guard(self, user: Any) -> str | None:
        """A user who is not in the mapping is an operator, not a guard: no responder."""
        return self.guards.get(self.key(user) or "")

    def classification(self, *keys: Any) -> str | None:
        return next((self.classifications[k] for k in map(self.key, keys) if k in self.classifications), None)

    def event_type(self, *keys: Any) -> str | None:
        return next((self.event_types[k] for k in map(self.key, keys) if k in self.event_types), None)


SiteT = TypeVar("SiteT")


@dataclass
class SiteTable(Generic[SiteT]):
    """`sites.csv`, for a vendor whose records name no site of ours, only a key of its own (an
    OnGuard controller, a Symmetry CompanyID): that key -> the site and what the connector
    needs of it (its timezone). Each connector reads its own table (the columns differ); a
    record whose key is missing or unknown is refused the same way, naming `key_column`."""

    by_key: dict[str, SiteT]
    quarantined: list[Quarantined]
    key_column: str

    def lookup(self, key: Any) -> SiteT:
        text = id_text(key)
        if text is None:
            raise RecordError(self.key_column, f"missing {self.key_column}: cannot map the record to a site")
        site = self.by_key.get(text)
        if site is None:
            raise RecordError(self.key_column, f"unknown site: {self.key_column} {text} is not in {SITES_CSV}")
        return site


_SECTIONS: dict[str, tuple[str, ...] | None] = {"sites": None, "entities": None, "guards": None,
                                                "classifications": INCIDENT_CLASSES, "event_types": EVENT_TYPES}


def load_mapping(path: Path, source: str, *, fold_case: bool = True) -> Mapping:
    """A missing file leaves every table empty, so every record that needs one is quarantined
    with the entry it lacks (visible, never dropped); a bad entry is quarantined and skipped."""
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
    for section, allowed in _SECTIONS.items():
        entries = data.get(section) or {}
        target: dict[str, str] = getattr(mapping, section)
        if not isinstance(entries, dict):
            mapping.quarantined.append(Quarantined(source, str(path), None, None, section,
                                                   f"{section} must be an object of key -> value",
                                                   json.dumps(entries)))
            continue
        for position, (key, value) in enumerate(entries.items(), start=1):
            reason = None
            if not isinstance(value, str) or not value.strip() or not str(key).strip():
                reason = f"{section} entry needs a non-empty key and value"
            elif allowed is not None and value.strip() not in allowed:
                reason = f"{section} entry {key!r}: {value!r} is not one of {', '.join(allowed)}"
            if reason:
                mapping.quarantined.append(Quarantined(source, str(path), position, str(key), section, reason,
                                                       json.dumps({key: value}, default=str)))
                continue
            target[mapping.key(key)] = value.strip()  # type: ignore[index]
    return mapping


# ============================================================================ values

def id_text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def required_id(item: Any, fld: str, *, read: Callable[[Any], str | None] = id_text, what: str = "item") -> str:
    """`item[fld]` read as an id (`read`: id_text, guid_text), the first thing every record needs.
    Raises RecordError for an item that is not a JSON object (`what` names it) or has no id."""
    if not isinstance(item, dict):
        raise RecordError(None, f"{what} is not a JSON object")
    ident = read(item.get(fld))
    if ident is None:
        raise RecordError(fld, f"missing {fld}")
    return ident


def guid_text(value: Any) -> str | None:
    """A GUID lower-cased; .NET's empty GUID (a nullable GUID the SDK filled in) is none."""
    text = id_text(value)
    if text is None or text == EMPTY_GUID:
        return None
    return text.lower()


def is_dotnet_empty(value: Any) -> bool:
    return isinstance(value, str) and value.strip().startswith(DOTNET_EMPTY_DATE)


def parse_utc(value: Any, fld: str, *, require: str = "offset", naive_is_utc: bool = False) -> datetime:
    """An instant. `require="Z"` insists on the UTC designator (Avigilon always sends it);
    `naive_is_utc` accepts a value without zone as UTC where the vendor documents that
    convention (Genetec report times); otherwise a value without zone is refused, never
    guessed. Any number of fractional digits is read (.NET writes 7, Genetec trims trailing
    zeros); digits past the sixth are cut."""
    if value is None or str(value).strip() == "":
        raise RecordError(fld, f"missing {fld}")
    text = str(value).strip()
    if isinstance(value, (int, float)) or text.isdigit():
        raise RecordError(fld, f"{fld} {text!r} is a number, not an ISO-8601 timestamp")
    if is_dotnet_empty(text):
        raise RecordError(fld, f"{fld} is .NET's empty date {text!r}: the source has no value for it")
    has_zone = bool(_OFFSET_RE.search(text))
    if require == "Z" and not text.upper().endswith("Z"):
        raise RecordError(fld, f"{fld} {text!r} is not UTC: the source writes UTC with a 'Z' suffix")
    if not has_zone and not naive_is_utc:
        raise RecordError(fld, f"{fld} {text!r} has no UTC offset")
    text = _FRACTION_RE.sub(lambda m: "." + m.group(1)[:6], text)
    if text.upper().endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise RecordError(fld, f"{fld} {str(value)!r} is not an ISO-8601 timestamp") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def optional_utc(value: Any, fld: str, *, require: str = "offset", naive_is_utc: bool = False) -> datetime | None:
    """Like parse_utc, but nothing, an empty string and .NET's empty date are "no value"."""
    if value is None or str(value).strip() == "" or is_dotnet_empty(value):
        return None
    return parse_utc(value, fld, require=require, naive_is_utc=naive_is_utc)


def iso_utc(value: Any, fld: str) -> datetime:
    """An instant read exactly as an API that always writes its offset sends it (OpenAccess's
    server offset, TrackTik's site offset): `Z` or `+hh:mm` at the end, else refused, never
    guessed (its absence means the export was edited or broken). Unlike parse_utc nothing is
    repaired or diagnosed: these vendors have no .NET dates to recognise."""
    if value is None or str(value).strip() == "":
        raise RecordError(fld, f"missing {fld}")
    text = str(value).strip()
    if not _ISO_OFFSET_RE.search(text):
        raise RecordError(fld, f"{fld} {text!r} has no UTC offset")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(fld, f"{fld} {text!r} is not an ISO-8601 timestamp") from None
    return parsed.astimezone(UTC)


def optional_iso_utc(value: Any, fld: str) -> datetime | None:
    """Like iso_utc, but nothing or an empty string is "no value"."""
    if value is None or str(value).strip() == "":
        return None
    return iso_utc(value, fld)


def iana_zone(name: str) -> ZoneInfo | None:
    """The IANA zone a deployment's table names, or None for a name that is none (ZoneInfo
    raises ValueError, not ZoneInfoNotFoundError, for a name shaped like a path)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def iso_ms(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_date(at: datetime) -> date:
    return at.astimezone(UTC).date()


def check_response(started: datetime, ended: datetime, end_field: str) -> None:
    if ended < started:
        raise RecordError(end_field, f"response ends ({ended.isoformat()}) before it starts ({started.isoformat()})")


def classify_name(name: Any) -> str | None:
    text = str(name or "").lower()
    for needles, classification in NAME_KEYWORDS:
        if any(n in text for n in needles):
            return classification
    return None


def extra_json(item: dict[str, Any], used: set[str], **more: Any) -> str:
    kept = {k: v for k, v in item.items() if k not in used}
    kept.update(more)
    return json.dumps(kept, sort_keys=True, default=str)


def alarm_source_ref(source: str, alarm_id: str) -> str:
    """`<vendor>:alarm/<id>`: the form the generic incidents CSV uses in `source_ref` for the
    same alarm, so downstream can recognise one incident delivered both ways."""
    return f"{source}:alarm/{alarm_id}"


def alarm_triggered(incident_id: str, site_id: str, device_id: str | None, triggered: datetime, incident_ref: str,
                    vendor_ref: str, extra: str) -> dict[str, Any]:
    """An alarm nobody has answered (yet), kept as evidence: an `alarm_triggered` device event
    whose id (`alarm-<incident id>`) and `incident_ref` (the incident's source_ref) name the
    incident it becomes once answered. `extra` should hold only what does not change while the
    alarm is open, so the same open alarm pulled twice is one record, not a new version."""
    return {"record_id": f"alarm-{incident_id}", "site_id": site_id, "device_id": device_id,
            "event_type": "alarm_triggered", "occurred_at": triggered, "incident_ref": incident_ref,
            "vendor_ref": vendor_ref, "extra": extra}


# ============================================================================ inventory history

def snapshot_date(path: Path | str, *, compact: bool = False) -> date | None:
    """The day an inventory snapshot was taken, from its file name (`cameras_2026-03-01.json`);
    None for a file whose name carries no date. `compact` also reads a date written without
    dashes (`instances_Lnl_Reader_20260301.json`), as OnGuard integrators name their saves."""
    stem = Path(path).stem
    match = (_COMPACT_DATE_IN_NAME if compact else _DATE_IN_NAME).search(stem)
    if not match:
        return None
    try:
        if compact:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def latest_listings(items: list[tuple[str, int, Any]], source: str, refused: list[Quarantined], *,
                    read: Callable[[Any], str | None] = id_text) -> dict[str, tuple[str, int, Any]]:
    """Each device by its `id`, from the last listing read: inventory snapshots list a device
    again and again, and the newest is its state. An item with no id is refused."""
    latest: dict[str, tuple[str, int, Any]] = {}
    for file_path, position, item in items:
        try:
            latest[required_id(item, "id", read=read)] = (file_path, position, item)
        except RecordError as exc:
            refused.append(refuse(source, file_path, position, None, exc, item))
    return latest


@dataclass
class Sightings:
    """Which dated inventory snapshots listed which device. A vendor that sends no install or
    removal date (Avigilon cameras, Milestone's empty createdDate, any removed device) gets
    them from here: installed on the first day a snapshot listed it; removed when a later
    snapshot no longer lists it, its last active day being the day before that snapshot.
    That is exact for daily snapshots, and for any series that keeps only the snapshots in
    which something changed."""

    days: set[date] = field(default_factory=set)
    seen: dict[str, set[date]] = field(default_factory=dict)

    def add(self, day: date | None, device_ids: Iterable[str]) -> None:
        if day is None:
            return
        self.days.add(day)
        for device_id in device_ids:
            self.seen.setdefault(device_id, set()).add(day)

    def first_seen(self, device_id: str) -> date | None:
        days = self.seen.get(device_id)
        return min(days) if days else None

    def last_active(self, device_id: str) -> date | None:
        days = self.seen.get(device_id)
        if not days:
            return None
        gone = [d for d in self.days if d > max(days)]
        return min(gone) - timedelta(days=1) if gone else None


@dataclass
class Inventory:
    """An API client's memory of the devices it has pulled, kept in its cursor: the day each was
    first seen (the install date when the vendor sends none) and the row it had, so a device
    that disappears from the vendor's list is delivered once more with its last active day."""

    devices: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def decode(cls, cursor: str | None) -> Inventory:
        if not cursor:
            return cls()
        try:
            data = json.loads(cursor).get("inventory") or {}
        except (ValueError, AttributeError):
            raise ValueError(f"unreadable cursor {cursor!r}: expected the JSON this client writes") from None
        return cls({str(k): dict(v) for k, v in data.items()})

    def encode(self, watermark_json: str) -> str:
        """The cursor: the connectors.http.Watermark's JSON plus `inventory`."""
        data = json.loads(watermark_json)
        data["inventory"] = {k: self.devices[k] for k in sorted(self.devices)}
        return json.dumps(data, separators=(",", ":"))

    def first_seen(self, device_id: str, today: date) -> date:
        known = self.devices.get(device_id)
        return date.fromisoformat(known["first_seen"]) if known else today

    def observe(self, rows: list[dict[str, Any]], today: date) -> list[dict[str, Any]]:
        """Remember the rows of this pull (canonical device rows with `record_id`); return rows
        for the devices seen before that this pull no longer lists, retired yesterday. Each
        removal is returned once (the cursor is stored with the rows, so a failed store
        repeats it); a device listed again is active again. Only what such a row needs is
        remembered (site, type, install date, vendor id), to keep the cursor small."""
        listed = {r["record_id"] for r in rows}
        gone: list[dict[str, Any]] = []
        for device_id, known in self.devices.items():
            if device_id in listed or known.get("active_to") is not None:
                continue
            known["active_to"] = (today - timedelta(days=1)).isoformat()
            gone.append(dict(known["row"], record_id=device_id, active_to=date.fromisoformat(known["active_to"]),
                             extra=json.dumps({"removed": f"not listed by the pull of {today.isoformat()}"})))
        for row in rows:
            kept = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.items()
                    if k in ("site_id", "device_type", "active_from", "vendor_ref")}
            first = self.devices.get(row["record_id"], {}).get("first_seen") or today.isoformat()
            self.devices[row["record_id"]] = {"first_seen": first, "row": kept, "active_to": None}
        return gone


def device_rows_from_memory(gone: list[dict[str, Any]], source: str, url: str) -> list[dict[str, Any]]:
    """Rows of `Inventory.observe` ready for `finish`: dates back to dates, lineage of the pull."""
    rows = []
    for position, row in enumerate(gone, start=1):
        active_from = row.get("active_from")
        rows.append({**row, "active_from": date.fromisoformat(active_from) if isinstance(active_from, str)
                     else active_from, "source_file": url, "source_line": position,
                     "_content": json.dumps(row, sort_keys=True, default=str)})
    return rows


# ============================================================================ schemas and framing

_UTC = pl.Datetime("us", "UTC")


class CanonicalRecord(pa.DataFrameModel):
    """What every raw record carries, whatever its table: its id, the vendor's own reference,
    the columns kept but not used, and the file (or URL) and line it came from."""

    record_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    vendor_ref: str = pa.Field(nullable=False)
    extra: str = pa.Field(nullable=True)
    source_file: str = pa.Field(nullable=False)
    source_line: int = pa.Field(nullable=False, ge=1)

    class Config:
        strict = False


class IncidentSchema(CanonicalRecord):
    site_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    classification: str = pa.Field(nullable=False, isin=list(INCIDENT_CLASSES))
    response_started_at: _UTC = pa.Field(nullable=False)  # type: ignore[valid-type]
    response_ended_at: _UTC = pa.Field(nullable=False)  # type: ignore[valid-type]
    responder_guard_id: str = pa.Field(nullable=True)
    opened_at: _UTC = pa.Field(nullable=True)  # type: ignore[valid-type]

    @pa.dataframe_check
    def response_ends_after_start(cls, data) -> pl.LazyFrame:  # noqa: N805
        return data.lazyframe.select(pl.col("response_ended_at") >= pl.col("response_started_at"))


class DeviceEventSchema(CanonicalRecord):
    site_id: str = pa.Field(nullable=False)
    event_type: str = pa.Field(nullable=False, isin=list(EVENT_TYPES))
    occurred_at: _UTC = pa.Field(nullable=False)  # type: ignore[valid-type]


class DeviceSchema(CanonicalRecord):
    site_id: str = pa.Field(nullable=False)
    device_type: str = pa.Field(nullable=False, isin=list(DEVICE_TYPES))
    active_from: pl.Date = pa.Field(nullable=False)
    active_to: pl.Date = pa.Field(nullable=True)

    @pa.dataframe_check
    def active_to_not_before_from(cls, data) -> pl.LazyFrame:  # noqa: N805
        return data.lazyframe.select(pl.col("active_to").is_null() | (pl.col("active_to") >= pl.col("active_from")))


class TimesheetSchema(CanonicalRecord):
    guard_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    guard_name: str = pa.Field(nullable=True)
    site_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    service_type: str = pa.Field(nullable=False, str_matches=CODE_RE)
    check_in_at: _UTC = pa.Field(nullable=False)  # type: ignore[valid-type]
    check_out_at: _UTC = pa.Field(nullable=True)  # type: ignore[valid-type]
    scheduled_start_at: _UTC = pa.Field(nullable=True)  # type: ignore[valid-type]
    scheduled_end_at: _UTC = pa.Field(nullable=True)  # type: ignore[valid-type]
    post: str = pa.Field(nullable=True)


class PatrolSchema(CanonicalRecord):
    site_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    guard_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    started_at: _UTC = pa.Field(nullable=False)  # type: ignore[valid-type]
    completed_at: _UTC = pa.Field(nullable=True)  # type: ignore[valid-type]
    checkpoints_required: int = pa.Field(nullable=False, ge=0)
    checkpoints_scanned: int = pa.Field(nullable=False, ge=0)

    @pa.dataframe_check
    def scanned_not_above_required(cls, data) -> pl.LazyFrame:  # noqa: N805
        return data.lazyframe.select(pl.col("checkpoints_scanned") <= pl.col("checkpoints_required"))

    @pa.dataframe_check
    def completed_not_before_started(cls, data) -> pl.LazyFrame:  # noqa: N805
        return data.lazyframe.select(pl.col("completed_at").is_null()
                                     | (pl.col("completed_at") >= pl.col("started_at")))


POLARS_TYPES: dict[str, dict[str, pl.DataType]] = {
    "incidents": {"record_id": pl.Utf8, "site_id": pl.Utf8, "classification": pl.Utf8, "response_started_at": _UTC,
                  "response_ended_at": _UTC, "responder_guard_id": pl.Utf8, "opened_at": _UTC,
                  "description": pl.Utf8, "source_ref": pl.Utf8, "vendor_ref": pl.Utf8, "extra": pl.Utf8},
    "device_events": {"record_id": pl.Utf8, "site_id": pl.Utf8, "device_id": pl.Utf8, "event_type": pl.Utf8,
                      "occurred_at": _UTC, "incident_ref": pl.Utf8, "vendor_ref": pl.Utf8, "extra": pl.Utf8},
    "devices": {"record_id": pl.Utf8, "site_id": pl.Utf8, "device_type": pl.Utf8, "active_from": pl.Date,
                "active_to": pl.Date, "vendor_ref": pl.Utf8, "extra": pl.Utf8},
    "timesheets": {"record_id": pl.Utf8, "guard_id": pl.Utf8, "guard_name": pl.Utf8, "site_id": pl.Utf8,
                   "service_type": pl.Utf8, "check_in_at": _UTC, "check_out_at": _UTC, "scheduled_start_at": _UTC,
                   "scheduled_end_at": _UTC, "post": pl.Utf8, "vendor_ref": pl.Utf8, "extra": pl.Utf8},
    "patrols": {"record_id": pl.Utf8, "site_id": pl.Utf8, "guard_id": pl.Utf8, "started_at": _UTC,
                "completed_at": _UTC, "checkpoints_required": pl.Int64, "checkpoints_scanned": pl.Int64,
                "vendor_ref": pl.Utf8, "extra": pl.Utf8},
}
SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    "incidents": IncidentSchema, "device_events": DeviceEventSchema, "devices": DeviceSchema,
    "timesheets": TimesheetSchema, "patrols": PatrolSchema,
}
SCHEMA_REASON = "schema check failed on {column}: {check}"


def finish(source: str, table: str, rows: list[dict[str, Any]], refused: list[Quarantined],
           files: list[FileRead] | None = None, *, schema: type[pa.DataFrameModel] | None = None,
           reason: str = SCHEMA_REASON, frame_hash: bool = False) -> ParseResult:
    """Frame the rows, validate them with the table's pandera schema and move any row it
    refuses to quarantine. The per-record checks before this give the precise reasons;
    pandera is the contract that nothing malformed reaches raw.*.

    What a vendor may vary, and why: `schema`, a subclass of the table's for a vendor whose
    rows promise more (its own event types, numeric ids); `reason`, the wording of a refusal
    ({column}, {check}), so each connector's refusals read as they always have; `frame_hash`,
    hash the validated frame at once (connectors.base.with_content_hash) rather than row by
    row: the two hashes differ, and a source keeps the one its stored rows carry (TrackTik's),
    or every stored row would come back as new."""
    columns = CANONICAL_COLUMNS[table]
    types = {**POLARS_TYPES[table], "source_file": pl.Utf8, "source_line": pl.Int64}
    if not frame_hash:
        types["content_hash"] = pl.Utf8
        for row in rows:
            row["content_hash"] = content_hash({k: row[k] for k in columns})
    frame = pl.DataFrame([{k: r[k] for k in types} for r in rows], schema=types)
    try:
        (schema or SCHEMAS[table]).validate(frame, lazy=True)
    except SchemaErrors as exc:
        bad: dict[int, tuple[str, str]] = {}
        for case in exc.failure_cases.iter_rows(named=True):
            if case["index"] is not None:
                bad.setdefault(int(case["index"]), (case["column"] or "row", str(case["check"])))
        for index, (column, check) in sorted(bad.items()):
            row = rows[index]
            refused.append(Quarantined(source, row["source_file"], row["source_line"], row["record_id"], column,
                                       reason.format(column=column, check=check), row["_content"]))
        keep = [i for i in range(len(rows)) if i not in bad]
        frame = frame[keep] if keep else frame.clear()
    if frame_hash:
        frame = with_content_hash(frame, table)
    return ParseResult(source=source, table=table, rows=frame, quarantined=refused, files=list(files or []))


def merge(source: str, table: str, parts: list[ParseResult]) -> ParseResult:
    frames = [p.rows for p in parts if p.rows.height]
    rows = pl.concat(frames) if frames else parts[0].rows.clear()
    return ParseResult(source, table, rows, [q for p in parts for q in p.quarantined],
                       [f for p in parts for f in p.files])


def read_file(path: Path, source: str) -> tuple[FileRead, str]:
    """A delivered file as raw.ingested_files records it (the digest of its bytes; rows are
    counted by the caller) and its text. Bytes that are not UTF-8 are replaced rather than
    refused: the records of a damaged file are still read, and each judged on its own."""
    data = path.read_bytes()
    return FileRead(source, str(path), hashlib.sha256(data).hexdigest(), 0), data.decode("utf-8-sig", errors="replace")


def read_json(path: Path, source: str, refused: list[Quarantined]) -> tuple[Any, FileRead]:
    """Load one export file; an unreadable one is quarantined whole (returns None)."""
    read, text = read_file(path, source)
    try:
        return json.loads(text), read
    except ValueError as exc:
        refused.append(file_refusal(source, read.path, text, read.sha256, f"unreadable JSON: {exc}"))
        return None, read


def record_content(raw: Any) -> str:
    """A record as delivered, for raw.quarantine's `content` (the store keeps one quarantine
    row per content, so the same refused record delivered again is not a new one)."""
    return json.dumps(raw, sort_keys=True, default=str)


def record(source: str, file_path: str, position: int, raw: Any) -> dict[str, Any]:
    return {"source_file": file_path, "source_line": position, "_content": record_content(raw)}


def refuse(source: str, file_path: str, position: int | None, record_id: str | None, exc: RecordError,
           raw: Any) -> Quarantined:
    return Quarantined(source, file_path, position, record_id, exc.field, exc.reason, record_content(raw))


def file_kind(path: Path, kinds: Iterable[str]) -> str | None:
    """The first of `kinds` the file name starts with (order matters: `entities` before `entity`)."""
    name = path.name.lower()
    return next((k for k in kinds if name.startswith(k)), None)


HISTORY = "history_"  # `history_<alarm id>.json`: one alarm's history (Milestone, Avigilon)


@dataclass
class ExportFolder:
    """A video vendor's export folder as read: the positioned items of each kind of answer,
    each alarm's history by alarm id, the files read (by the kind whose table they feed), and
    the devices each dated inventory snapshot listed."""

    items: dict[str, list[tuple[str, int, Any]]]
    histories: dict[str, list[tuple[str, int, Any]]]
    files: dict[str, list[FileRead]]
    sightings: Sightings


def read_export_folder(folder: Path, source: str, kinds: tuple[str, ...], refused: list[Quarantined], *,
                       items_of: Callable[[Any, str, str], list[Any]], inventory: str,
                       device_id: Callable[[dict[str, Any]], str | None],
                       history_id: Callable[[Path], str] = lambda path: path.stem[len(HISTORY):]) -> ExportFolder:
    """Every JSON answer in `folder` but the mapping file, told apart by how its name starts
    (`kinds`, which name `alarms` and `events`; HISTORY files are alarm histories, keyed by
    `history_id`). `items_of(data, path, kind)` lists an answer's items, refusing into `refused`
    an answer that is none; an unreadable file, or one of no kind, is refused whole (and
    counted with the events). The items of the `inventory` kind are sighted on the date their
    file's name carries (by `device_id`)."""
    read_folder = ExportFolder({k: [] for k in kinds}, {}, {k: [] for k in kinds}, Sightings())
    expected = [f"{kind}<alarm id>*" if kind == HISTORY else f"{kind}*" for kind in kinds]
    for path in sorted(folder.rglob("*.json")):
        if path.name == MAPPING_FILE:
            continue
        kind = file_kind(path, kinds)
        data, read = read_json(path, source, refused)
        read_folder.files["events" if kind is None else "alarms" if kind == HISTORY else kind].append(read)
        if kind is None:
            refused.append(Quarantined(source, str(path), None, None, None,
                                       f"unrecognised export file: expected {', '.join(expected[:-1])} or "
                                       f"{expected[-1]}.json", f"sha256:{read.sha256}"))
            continue
        if data is None:
            continue
        items = items_of(data, str(path), kind)
        read.rows_read = len(items)
        rows = [(str(path), n, item) for n, item in enumerate(items, start=1)]
        if kind == HISTORY:
            read_folder.histories.setdefault(history_id(path), []).extend(rows)
            continue
        read_folder.items[kind].extend(rows)
        if kind == inventory:
            read_folder.sightings.add(snapshot_date(path), [ident for ident in (device_id(item) for item in items
                                                                                if isinstance(item, dict)) if ident])
    return read_folder
