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
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandera.polars as pa

from connectors.base import FileRead, ParseResult, Quarantined, csv_records, file_refusal
from connectors.vendor_parsing import (
    SITES_CSV,
    DeviceEventSchema,
    RecordError,
    SiteTable,
    finish,
    iana_zone,
    read_file,
    record,
    refuse,
)

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
# How this connector has always worded a schema refusal (connectors.vendor_parsing.finish).
SCHEMA_REASON = "schema check failed: {column} {check}"


@dataclass(frozen=True)
class Site:
    site_id: str
    timezone: ZoneInfo


@dataclass
class SiteMap(SiteTable[Site]):
    """CompanyID -> site and timezone, from `sites.csv` (`CompanyID, site_id, timezone`)."""

    key_column: str = "CompanyID"


class TransactionSchema(DeviceEventSchema):
    """The canonical device event, with Symmetry's own: TxnID is an identity column (the
    client's cursor counts on it), and the default activity names' event types."""

    record_id: str = pa.Field(nullable=False, str_matches=r"^\d+$")
    event_type: str = pa.Field(nullable=False, isin=EVENT_TYPES)


# --- entry point ----------------------------------------------------------------------------

def parse_folder(folder: Path, only: set[Path] | None = None) -> list[ParseResult]:
    """Every CSV in `folder` (recursively) but `sites.csv` -> one ParseResult per table.

    Device exports are read first so transactions can name the device they happened at.
    With `only` (files the inbox has not ingested yet, each an activity export: see
    `independent_file`), the transactions of the other activity exports are not read again;
    the site map and the device exports always are, since transactions need them."""
    folder = Path(folder)
    source = folder.name
    sites = load_sites(folder / SITES_CSV, source)
    activity: list[tuple[str, str]] = []
    device_files: list[tuple[str, str]] = []
    unknown: list[Quarantined] = list(sites.quarantined)
    reads: dict[str, list[FileRead]] = {"device_events": [], "devices": []}
    for path in sorted(folder.rglob("*.csv")):
        if path.name.lower() == SITES_CSV:
            continue
        if only is not None and path not in only and independent_file(path):
            continue
        read, text = read_file(path, source)
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
            unknown.append(file_refusal(source, str(path), text, read.sha256,
                                        "unrecognised export: header has neither TxnID nor DeviceID", 1))
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
    if path.name.lower() == SITES_CSV or path.suffix.lower() != ".csv":
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
            zone = iana_zone(tz)
            if zone is None:
                raise RecordError("timezone", f"unknown timezone {tz!r}")
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

    def unreadable(line: int, exc: csv.Error) -> None:
        refused.append(Quarantined(source, file_path, line, None, None, f"unreadable CSV row: {exc}", ""))

    for start, values in csv_records(reader, unreadable):
        if len(values) != len(header):
            refused.append(Quarantined(source, file_path, start, values[0].strip() or None, None,
                                       f"expected {len(header)} fields, got {len(values)}", ",".join(values)))
            continue
        yield start, {k: ("" if v.strip() == NULL else v.strip()) for k, v in zip(header, values, strict=True)}


def export_rows(files: list[tuple[str, str]], source: str,
                refused: list[Quarantined]) -> Iterator[tuple[str, int, dict[str, str]]]:
    """(file or URL, line, row) of every row of every export page; read_csv's refusals go to
    `refused`."""
    for file_path, text in files:
        for line, row in read_csv(text, file_path, source, refused):
            yield file_path, line, row


# --- transactions ---------------------------------------------------------------------------

def parse_activity_csvs(files: list[tuple[str, str]], sites: SiteMap,
                        devices: dict[tuple[str, str], str], source: str) -> ParseResult:
    """(file or URL, CSV text of ActivityDataView rows) -> canonical device_events."""
    rows: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for file_path, line, row in export_rows(files, source, refused):
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
                **record(source, file_path, line, row),
                "record_id": txn,
                "site_id": site.site_id,
                "device_id": devices.get((company, where.lower())),
                "event_type": CONDITIONS.get(condition.lower(), "other"),
                "occurred_at": occurred,
                "incident_ref": None,
                "vendor_ref": txn,
                "extra": json.dumps(extra, sort_keys=True),
            })
        except RecordError as exc:
            refused.append(refuse(source, file_path, line, txn, exc, row))
    return finish(source, "device_events", rows, refused, schema=TransactionSchema, reason=SCHEMA_REASON)


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
    for file_path, line, row in export_rows(files, source, refused):
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
                **record(source, file_path, line, row),
                "record_id": device_id,
                "site_id": site.site_id,
                "device_type": kind,
                "active_from": active_from,
                "active_to": active_to,
                "vendor_ref": device_id,
                "extra": json.dumps(extra, sort_keys=True),
            })
        except RecordError as exc:
            refused.append(refuse(source, file_path, line, device_id, exc, row))
    return finish(source, "devices", rows, refused, reason=SCHEMA_REASON)


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
