"""AMAG Symmetry exports -> raw.device_events and raw.devices.

The vendor folder holds CSV exports of the `multiMAXTxn.ActivityDataView` transaction
view and of the device (reader/controller) list, plus `sites.csv` mapping Symmetry
`CompanyID` to our site id and that site's IANA timezone. `DateTimeOfTxn` has no zone:
by our documented convention it is the site's local wall time, converted to UTC here. A
local time that does not exist (spring-forward gap) is refused; an ambiguous one
(fall-back) takes the earlier instant and is flagged in `extra`. Files are recognised by
their header, not their name.

The view is extracted the two usual ways, and both are read: saved from SSMS
(`2025-03-04 02:14:07.000`, empty fields as `NULL`) or through PowerShell `Export-Csv`
(a first line `#TYPE System.Data.DataRow`, every field quoted, dates in the en-US culture
`3/4/2025 2:31:45 AM`). Column names match case-insensitively (`DateTimeofTxn`), and the
card column may be `CardNumber` or `CardID`."""

from __future__ import annotations

import csv
import hashlib
import io
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
ACTIVITY_COLUMNS = ["TxnID", "DateTimeOfTxn", "CompanyID", "CompanyName", "WhereName", "TxnConditionName",
                    "AlarmPriority", "FirstName", "LastName", "CustomerCodeNumber", "CardNumber"]
DEVICE_COLUMNS = ["DeviceID", "DeviceName", "DeviceType", "CompanyID", "ControllerName",
                  "ActiveDateTime", "InactiveDateTime"]

# TxnConditionName (case-insensitive) -> canonical event type. Symmetry lets each site
# rename activities, so this is our table for the default names; anything else is kept as
# `other` with its name in `extra`.
CONDITIONS: dict[str, str] = {
    "card valid": "access_granted",
    "card valid - door not opened": "access_granted",
    "card invalid": "access_denied",
    "card not in database": "access_denied",
    "card expired": "access_denied",
    "invalid time zone": "access_denied",
    "door forced open": "door_forced",
    "door open too long": "door_held",
    "door held open": "door_held",
    "door closed": "door_closed",
    "door secure": "door_closed",
    "request to exit": "request_to_exit",
    "controller offline": "panel_offline",
    "controller online": "panel_online",
    "tamper": "tamper",
    "fire alarm": "fire_alarm",
}
EVENT_TYPES = sorted(set(CONDITIONS.values()) | {"other"})
DEVICE_TYPES = {"reader": "door_reader", "controller": "panel"}

# Personal data the billing pipeline never needs; left out of `extra` on purpose.
PERSONAL_FIELDS = {"firstname", "lastname"}

_LOCAL_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d{1,7})?$")
# PowerShell's en-US culture: month/day/year, 12-hour clock with AM/PM
_CULTURE_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?: ([AP]M))?$", re.IGNORECASE)
TYPE_LINE = "#TYPE"
NULL = "NULL"


class RecordError(ValueError):
    def __init__(self, field: str | None, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Site:
    site_id: str
    timezone: ZoneInfo


@dataclass
class SiteMap:
    """CompanyID -> site and timezone, from `sites.csv` (`CompanyID, site_id, timezone`)."""

    by_company: dict[str, Site]
    quarantined: list[Quarantined]

    def lookup(self, company_id: str | None) -> Site:
        if not company_id:
            raise RecordError("CompanyID", "missing CompanyID: cannot map the record to a site")
        site = self.by_company.get(company_id)
        if site is None:
            raise RecordError("CompanyID", f"unknown site: CompanyID {company_id} is not in {SITES_FILE}")
        return site


# --- pandera schemas ------------------------------------------------------------------------

class DeviceEventSchema(pa.DataFrameModel):
    record_id: str = pa.Field(nullable=False, str_matches=r"^\d+$")
    site_id: str = pa.Field(nullable=False)
    device_id: str = pa.Field(nullable=True)
    event_type: str = pa.Field(nullable=False, isin=EVENT_TYPES)
    occurred_at: pl.Datetime(time_unit="us", time_zone="UTC") = pa.Field(nullable=False)  # type: ignore[valid-type]
    incident_ref: str = pa.Field(nullable=True)
    vendor_ref: str = pa.Field(nullable=False)
    extra: str = pa.Field(nullable=True)
    source_file: str = pa.Field(nullable=False)
    source_line: int = pa.Field(nullable=False, ge=2)

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
    source_line: int = pa.Field(nullable=False, ge=2)

    class Config:
        strict = False

    @pa.dataframe_check
    def active_to_not_before_from(cls, data) -> pl.LazyFrame:  # noqa: N805
        return data.lazyframe.select(
            pl.col("active_to").is_null() | (pl.col("active_to") >= pl.col("active_from")))


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

def parse_folder(folder: Path, only: set[Path] | None = None) -> list[ParseResult]:
    """Every CSV in `folder` (recursively) but `sites.csv` -> one ParseResult per table.

    Device exports are read first so transactions can name the device they happened at.
    With `only` (files the inbox has not ingested yet, each an activity export: see
    `independent_file`), the transactions of the other activity exports are not read again;
    the site map and the device exports always are, since transactions need them."""
    folder = Path(folder)
    source = folder.name
    sites = load_sites(folder / SITES_FILE, source)
    activity: list[tuple[str, str]] = []
    device_files: list[tuple[str, str]] = []
    unknown: list[Quarantined] = list(sites.quarantined)
    reads: dict[str, list[FileRead]] = {"device_events": [], "devices": []}
    for path in sorted(folder.rglob("*.csv")):
        if path.name.lower() == SITES_FILE:
            continue
        if only is not None and path not in only and independent_file(path):
            continue
        data = path.read_bytes()
        read = FileRead(source, str(path), hashlib.sha256(data).hexdigest(), 0)
        text = data.decode("utf-8-sig", errors="replace")
        header = _header(text)
        reader = csv.reader(io.StringIO(without_type_line(text)))
        read.rows_read = max(sum(1 for row in reader if any(v.strip() for v in row)) - 1, 0)
        if "txnid" in header:
            activity.append((str(path), text))
            reads["device_events"].append(read)
        elif "deviceid" in header:
            device_files.append((str(path), text))
            reads["devices"].append(read)
        else:
            unknown.append(Quarantined(source, str(path), 1, None, None,
                                       "unrecognised export: header has neither TxnID nor DeviceID",
                                       f"sha256:{read.sha256}\n{text[:4000]}"))
            reads["device_events"].append(read)
    devices = parse_device_csvs(device_files, sites, source)
    lookup = device_lookup(devices)
    events = parse_activity_csvs(activity, sites, lookup, source)
    events.quarantined[:0] = unknown
    events.files, devices.files = reads["device_events"], reads["devices"]
    if only is not None and not any(Path(read.path) in only for read in reads["devices"]):
        # the device exports were read for the lookup only: nothing of them is new
        devices = ParseResult(source, "devices", devices.rows.clear(), [], [])
    return [events, devices]


def _header(text: str) -> set[str]:
    """The lower-cased column names of a CSV export (the first non-empty row)."""
    for first in csv.reader(io.StringIO(without_type_line(text))):
        if any(v.strip() for v in first):
            return {h.strip().lower() for h in first}
    return set()


def independent_file(path: Path) -> bool:
    """Whether a file of the folder can be parsed without reading the folder's other
    transaction exports again: an activity export (header with TxnID) needs only the site
    map and the device exports. Anything else (the site map, a device export, an unknown
    file) makes the inbox read the whole folder, so records refused before it arrived are
    judged again."""
    if path.name.lower() == SITES_FILE or path.suffix.lower() != ".csv":
        return False
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        head = handle.read(4096)
    return "txnid" in _header(head.rsplit("\n", 1)[0] if "\n" in head else head)


def load_sites(path: Path, source: str) -> SiteMap:
    """Read the CompanyID -> site mapping. The timezone is required: without it no local
    time of that site could be placed. A missing file leaves the map empty, so every record
    is quarantined as `unknown site` rather than dropped."""
    mapping: dict[str, Site] = {}
    refused: list[Quarantined] = []
    if not path.exists():
        return SiteMap(mapping, refused)
    for line, row in read_csv(path.read_text(encoding="utf-8-sig"), str(path), source, refused):
        company, site_id, tz = row.get("companyid"), row.get("site_id"), row.get("timezone")
        try:
            if not company:
                raise RecordError("CompanyID", "missing CompanyID")
            if not site_id:
                raise RecordError("site_id", "missing site_id")
            if not tz:
                raise RecordError("timezone", "missing timezone")
            try:
                zone = ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise RecordError("timezone", f"unknown timezone {tz!r}") from None
        except RecordError as exc:
            refused.append(Quarantined(source, str(path), line, company or None, exc.field, exc.reason,
                                       json.dumps(row, sort_keys=True)))
            continue
        mapping[company] = Site(site_id, zone)
    return SiteMap(mapping, refused)


def without_type_line(text: str) -> str:
    """The CSV without PowerShell Export-Csv's `#TYPE System.Data.DataRow` first line
    (replaced by an empty line, so physical line numbers stay true)."""
    if text.startswith(TYPE_LINE):
        return "\n" + text.split("\n", 1)[1] if "\n" in text else ""
    return text


def read_csv(text: str, file_path: str, source: str, refused: list[Quarantined]):
    """Yield (physical line of the record's first line, row with lower-cased keys). A row
    with the wrong number of fields is quarantined here; blank lines are skipped; SSMS's
    `NULL` is an empty field."""
    reader = csv.reader(io.StringIO(without_type_line(text)))
    header: list[str] = []
    while not header:
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            return
        if not any(header):
            header = []
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            refused.append(Quarantined(source, file_path, start, None, None, f"unreadable CSV row: {exc}", ""))
            continue
        if not values or all(v.strip() == "" for v in values):
            continue
        if len(values) != len(header):
            refused.append(Quarantined(source, file_path, start, values[0].strip() or None, None,
                                       f"expected {len(header)} fields, got {len(values)}", ",".join(values)))
            continue
        yield start, {k: ("" if v.strip() == NULL else v.strip()) for k, v in zip(header, values, strict=True)}


# --- transactions ---------------------------------------------------------------------------

def parse_activity_csvs(files: list[tuple[str, str]], sites: SiteMap,
                        devices: dict[tuple[str, str], str], source: str) -> ParseResult:
    """(file or URL, CSV text of ActivityDataView rows) -> canonical device_events."""
    rows: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for file_path, text in files:
        for line, row in read_csv(text, file_path, source, refused):
            content = json.dumps(row, sort_keys=True)
            txn = row.get("txnid") or None
            try:
                if txn is None:
                    raise RecordError("TxnID", "missing TxnID")
                if not txn.isdigit():
                    raise RecordError("TxnID", f"TxnID {txn!r} is not an integer")
                company = row.get("companyid") or None
                site = sites.lookup(company)
                occurred, ambiguous = local_to_utc(row.get("datetimeoftxn"), site.timezone, "DateTimeOfTxn")
                condition = row.get("txnconditionname", "")
                where = row.get("wherename", "")
                extra = {k: v for k, v in row.items()
                         if k not in PERSONAL_FIELDS and k not in {"txnid", "datetimeoftxn"}}
                if "cardid" in extra:  # the same column, named CardID in some extractions
                    extra["cardnumber"] = extra.pop("cardid")
                # the wall time as SQL Server writes it, whichever extraction delivered it
                extra["local_time"] = occurred.astimezone(site.timezone).replace(tzinfo=None).isoformat(
                    sep=" ", timespec="milliseconds")
                extra["site_timezone"] = site.timezone.key
                if ambiguous:
                    extra["ambiguous_local_time"] = True
                rows.append({
                    "record_id": txn,
                    "site_id": site.site_id,
                    "device_id": devices.get((company, where.lower())),
                    "event_type": CONDITIONS.get(condition.lower(), "other"),
                    "occurred_at": occurred,
                    "incident_ref": None,
                    "vendor_ref": txn,
                    "extra": json.dumps(extra, sort_keys=True),
                    "source_file": file_path,
                    "source_line": line,
                    "_content": content,
                })
            except RecordError as exc:
                refused.append(Quarantined(source, file_path, line, txn, exc.field, exc.reason, content))
    return finish(source, "device_events", rows, refused)


def local_datetime(text: str, field: str) -> datetime:
    """SQL Server text (`2025-03-04 02:14:07.000`) or PowerShell's en-US culture text
    (`3/4/2025 2:31:45 AM`) -> naive local datetime. A slash date without AM/PM is refused:
    its day/month order depends on a culture the file does not name."""
    match = _LOCAL_RE.match(text)
    if match:
        fraction = (match.group(3) or ".0")[1:7].ljust(6, "0")
        try:
            return datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}").replace(microsecond=int(fraction))
        except ValueError:
            raise RecordError(field, f"{field} {text!r} is not a valid date and time") from None
    culture = _CULTURE_RE.match(text)
    if culture is None:
        raise RecordError(field, f"{field} {text!r} is neither 'YYYY-MM-DD HH:MM:SS[.fff]' (SSMS) nor "
                                 f"'M/D/YYYY h:mm:ss AM' (PowerShell, en-US); no zone expected")
    month, day, year, hour, minute, second, half = culture.groups()
    if half is None:
        raise RecordError(field, f"{field} {text!r} has no AM/PM: a 24-hour slash date's day/month order is "
                                 f"not known (export with the en-US culture or from SSMS)")
    hour_24 = int(hour) % 12 + (12 if half.upper() == "PM" else 0)
    try:
        return datetime(int(year), int(month), int(day), hour_24, int(minute), int(second))
    except ValueError:
        raise RecordError(field, f"{field} {text!r} is not a valid date and time") from None


def local_to_utc(value: str | None, zone: ZoneInfo, field: str) -> tuple[datetime, bool]:
    """Site-local wall time (SQL Server `datetime`, e.g. `2025-03-04 02:14:07.000`) -> UTC.

    Returns (instant, ambiguous). A nonexistent time is refused; an ambiguous one takes the
    earlier instant (fold=0), as billing-rules section 1 asks for a start."""
    if not value:
        raise RecordError(field, f"missing {field}")
    naive = local_datetime(value.strip(), field)
    earlier = naive.replace(tzinfo=zone, fold=0)
    later = naive.replace(tzinfo=zone, fold=1)
    if earlier.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise RecordError(field, f"{field} {value!r} does not exist in {zone.key} (DST gap)")
    ambiguous = earlier.utcoffset() != later.utcoffset()
    return earlier.astimezone(UTC), ambiguous


# --- devices --------------------------------------------------------------------------------

def parse_device_csvs(files: list[tuple[str, str]], sites: SiteMap, source: str) -> ParseResult:
    """(file or URL, CSV text of the device export) -> canonical devices. Dates are the
    site-local date part of Active/InactiveDateTime (already local: no conversion)."""
    rows: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for file_path, text in files:
        for line, row in read_csv(text, file_path, source, refused):
            content = json.dumps(row, sort_keys=True)
            device_id = row.get("deviceid") or None
            try:
                if device_id is None:
                    raise RecordError("DeviceID", "missing DeviceID")
                kind = DEVICE_TYPES.get(row.get("devicetype", "").lower())
                if kind is None:
                    raise RecordError("DeviceType", f"unknown DeviceType {row.get('devicetype')!r}")
                site = sites.lookup(row.get("companyid") or None)
                active_from = _local_date(row.get("activedatetime"), "ActiveDateTime", required=True)
                active_to = _local_date(row.get("inactivedatetime"), "InactiveDateTime", required=False)
                if active_to is not None and active_to < active_from:
                    raise RecordError("InactiveDateTime",
                                      f"InactiveDateTime {active_to} is before ActiveDateTime {active_from}")
                extra = {k: v for k, v in row.items() if k not in {"deviceid", "activedatetime", "inactivedatetime"}}
                rows.append({
                    "record_id": device_id,
                    "site_id": site.site_id,
                    "device_type": kind,
                    "active_from": active_from,
                    "active_to": active_to,
                    "vendor_ref": device_id,
                    "extra": json.dumps(extra, sort_keys=True),
                    "source_file": file_path,
                    "source_line": line,
                    "_content": content,
                    "_key": (row.get("companyid"), row.get("devicename", "").lower()),
                })
            except RecordError as exc:
                refused.append(Quarantined(source, file_path, line, device_id, exc.field, exc.reason, content))
    return finish(source, "devices", rows, refused)


def device_lookup(devices: ParseResult) -> dict[tuple[str, str], str]:
    """(CompanyID, lower-cased device name) -> DeviceID, for naming a transaction's device
    from its `WhereName`. Built from accepted devices only."""
    lookup: dict[tuple[str, str], str] = {}
    for extra, record_id in zip(devices.rows["extra"].to_list(), devices.rows["record_id"].to_list(),
                                strict=True):
        info = json.loads(extra)
        lookup[(info.get("companyid"), str(info.get("devicename", "")).lower())] = record_id
    return lookup


def _local_date(value: str | None, field: str, required: bool) -> date | None:
    if not value:
        if required:
            raise RecordError(field, f"missing {field}")
        return None
    return local_datetime(value.strip(), field).date()


def finish(source: str, table: str, rows: list[dict[str, Any]], refused: list[Quarantined]) -> ParseResult:
    """Build the canonical frame, validate it with the pandera schema and quarantine any
    row the schema refuses (the per-record checks above exist to give precise reasons)."""
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
        for index, (column, check) in bad.items():
            row = rows[index]
            refused.append(Quarantined(source, row["source_file"], row["source_line"], row["record_id"],
                                       column, f"schema check failed: {column} {check}", row["_content"]))
        keep = [i for i in range(len(rows)) if i not in bad]
        frame = frame[keep] if keep else frame.clear()
    return ParseResult(source=source, table=table, rows=frame, quarantined=refused)
