"""TrackTik exports -> raw.timesheets (work sessions) and raw.patrols (tour sessions).

The vendor folder holds REST pages exactly as `GET /rest/v1/<resource>` returns them
(`{"meta": {count, itemCount, limit, offset}, "data": [...]}`), one resource per file
named by its prefix (`work-sessions*.json`, `shifts*.json`, `employees*.json`,
`positions*.json`, `clients*.json`, `tours*.json`), checkpoint scans as CSV
(`checkpoint-scans*.csv`, the columns proposed in research 6b), and `service_types.csv`,
the deployment's position -> service type table.

What TrackTik sends (its OpenAPI as generated in public client workspaces): a shift is
the schedule (`startDateTime`/`endDateTime`, `status` ACTIVE or CANCELLED,
`attendanceStatus`), with no clock-in or clock-out and often no account; what was worked
are `work-sessions` (`startedOn`, `endedOn`, `shift`, `position`, `account`,
`employee`). A timesheet is therefore one work session, its schedule taken from its
shift. Positions carry no type, so the service type billed comes from
`service_types.csv` (position id or customId -> service type). Our canonical ids are
TrackTik's `customId`s (employees: guards; clients: sites). The same item functions
serve the API client, so a pulled session and an exported one become the same row."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors import vendor_parsing
from connectors.base import CODE_RE, FileRead, ParseResult, Quarantined, file_refusal
from connectors.vendor_parsing import (
    RecordError,
    extra_json,
    iso_utc,
    optional_iso_utc,
    read_file,
    record,
    record_content,
    refuse,
)

SOURCE = "tracktik"
RESOURCES = ("work-sessions", "shifts", "employees", "positions", "clients", "tours")
SERVICE_TYPES_FILE = "service_types.csv"
SCANS_PREFIX = "checkpoint-scans"
SCAN_COLUMNS = ("scan_id", "site_custom_id", "tour_name", "tour_session_id", "checkpoint_id", "checkpoint_name",
                "scan_method", "employee_custom_id", "scanned_at", "status")
SCAN_REQUIRED = ("site_custom_id", "tour_name", "tour_session_id", "checkpoint_id", "employee_custom_id", "status")
SCAN_STATUSES = ("ON_TIME", "EARLY", "LATE", "MISSED")
# How this connector has always worded a schema refusal (connectors.vendor_parsing.finish).
SCHEMA_REASON = "schema check {column}: failed {check}"


# --- lookups ----------------------------------------------------------------------------------

@dataclass
class Lookups:
    """TrackTik's integer ids -> records: employees, positions, shifts (schedules), clients
    (our sites), tour definitions, and the deployment's position -> service type table.
    Bad lookup records are quarantined (they would otherwise surface only as confusing
    "unknown employee" refusals of every session that uses them)."""

    employees: dict[int, dict[str, Any]] = field(default_factory=dict)
    positions: dict[int, dict[str, Any]] = field(default_factory=dict)
    shifts: dict[int, dict[str, Any]] = field(default_factory=dict)
    service_types: dict[str, str] = field(default_factory=dict)  # position id or customId -> service type
    clients: dict[int, dict[str, Any]] = field(default_factory=dict)
    tours: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)  # (file, position, item)
    quarantined: list[Quarantined] = field(default_factory=list)

    def add(self, resource: str, items: list[tuple[str, int, Any]], source: str = SOURCE) -> None:
        if resource == "tours":
            self.tours.extend(items)
            return
        target = getattr(self, resource)
        for file_path, position, item in items:
            content = record_content(item)
            ident = _int_id(item.get("id")) if isinstance(item, dict) else None
            if ident is None:
                self.quarantined.append(Quarantined(source, file_path, position, None, "id",
                                                    f"{resource} item has no integer id", content))
                continue
            if resource in ("employees", "clients") and not _text(item.get("customId")):
                self.quarantined.append(Quarantined(
                    source, file_path, position, str(ident), "customId",
                    f"{resource[:-1]} {ident} has no customId: its records cannot be mapped to our ids", content))
                continue
            target[ident] = item

    def of_session(self, kind: str, session_id: str, item: dict[str, Any],
                   shift: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The work session's `employee` or `position`, else its shift's: (id, record).
        Raises RecordError naming which is missing."""
        ident = _int_id(item.get(kind)) or _int_id(shift.get(kind))
        if ident is None:
            raise RecordError(kind, f"work session {session_id} names no {kind} (nor does its shift)")
        found = getattr(self, f"{kind}s").get(ident)
        if found is None:
            raise RecordError(kind, f"{kind} {ident} is not in the {kind}s export")
        return ident, found

    def site_of_account(self, account: int) -> str:
        client = self.clients.get(account)
        if client is None:
            raise RecordError("account", f"account (site) {account} is not in the clients export")
        return _text(client["customId"])  # type: ignore[return-value]

    def service_type(self, position_id: int, position: dict[str, Any]) -> str:
        """The deployment's table, by position id, then customId: TrackTik positions carry
        no type, so nothing here is guessed from a name."""
        for key in (str(position_id), _text(position.get("customId"))):
            if key and key in self.service_types:
                return self.service_types[key]
        raise RecordError("position", f"position {position_id} ({_text(position.get('name')) or 'no name'}) has no "
                                      f"service type in {SERVICE_TYPES_FILE}: TrackTik positions carry no type, the "
                                      f"deployment maps each one")

    def tour_definitions(self) -> dict[tuple[str, str], dict[str, Any]]:
        """(site customId, tour name) -> tour; a tour whose site is unknown is skipped (its
        sessions are then refused as having no definition, which names the tour)."""
        out = {}
        for _, _, item in self.tours:
            if not isinstance(item, dict):
                continue
            account = _int_id(item.get("account"))
            client = self.clients.get(account) if account is not None else None
            name = _text(item.get("name"))
            if client is not None and name:
                out[(_text(client["customId"]), name)] = item
        return out


# --- entry point ----------------------------------------------------------------------------

def parse_folder(folder: Path) -> list[ParseResult]:
    """Every TrackTik page and scan file in `folder` (recursively) -> [timesheets, patrols].

    A file that is not a readable page or scan export is quarantined whole; it never stops
    the batch. Files are read in name order, so a page delivered again later wins nothing
    and loses nothing: both versions go to raw and dbt judges them."""
    folder = Path(folder)
    source = folder.name or SOURCE
    lookups = Lookups()
    sessions: list[tuple[str, int, Any]] = []
    scan_rows: list[tuple[str, int, dict[str, str]]] = []
    file_errors: list[Quarantined] = []
    shift_files: list[FileRead] = []
    scan_files: list[FileRead] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        rel = str(path)
        read, text = read_file(path, source)
        name = path.name.lower()
        if name == SERVICE_TYPES_FILE:
            shift_files.append(read)
            refused, read.rows_read = load_service_types(rel, text, lookups, source)
            file_errors.extend(refused)
            continue
        if path.suffix.lower() == ".csv" and name.startswith(SCANS_PREFIX):
            scan_files.append(read)
            try:
                rows = read_scan_csv(text)
            except RecordError as exc:
                file_errors.append(Quarantined(source, rel, 1, None, exc.field, exc.reason, text[:4000]))
                continue
            read.rows_read = len(rows)
            scan_rows.extend((rel, line, row) for line, row in rows)
            continue
        shift_files.append(read)
        resource = next((r for r in RESOURCES if name.startswith(r)), None)
        if path.suffix.lower() != ".json" or resource is None:
            file_errors.append(file_refusal(
                source, rel, text, read.sha256,
                f"unexpected file in {source}/ (expected {', '.join(r + '*.json' for r in RESOURCES)}, "
                f"{SCANS_PREFIX}*.csv or {SERVICE_TYPES_FILE})"))
            continue
        try:
            items = page_items(json.loads(text))
        except ValueError as exc:
            file_errors.append(file_refusal(source, rel, text, read.sha256, f"unreadable page: {exc}"))
            continue
        read.rows_read = len(items)
        positioned = [(rel, n, item) for n, item in enumerate(items, start=1)]
        if resource == "work-sessions":
            sessions.extend(positioned)
        else:
            lookups.add(resource, positioned, source)
    timesheets = parse_work_sessions(sessions, lookups, source)
    timesheets.quarantined[:0] = file_errors + lookups.quarantined
    timesheets.files = shift_files
    patrols = parse_scan_rows(scan_rows, lookups, source)
    patrols.files = scan_files
    return [timesheets, patrols]


def page_items(page: Any) -> list[Any]:
    """The `data` list of a TrackTik page; a bare list is accepted too (some exports)."""
    if isinstance(page, list):
        return page
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        raise ValueError("not a TrackTik page: no data list")
    return page["data"]


# --- the deployment's service types ------------------------------------------------------

def load_service_types(file_path: str, text: str, lookups: Lookups, source: str = SOURCE) -> tuple[
        list[Quarantined], int]:
    """`service_types.csv` (`position, service_type`: a TrackTik position id or customId and
    our service type code) into `lookups`; a bad row is quarantined."""
    refused: list[Quarantined] = []
    reader = csv.DictReader(io.StringIO(text))
    fields = {(f or "").strip().lower() for f in reader.fieldnames or []}
    if not {"position", "service_type"} <= fields:
        return [Quarantined(source, file_path, 1, None, None, f"{SERVICE_TYPES_FILE} needs the columns position, "
                                                              f"service_type", text[:4000])], 0
    count = 0
    for row in reader:
        count += 1
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        code = row.get("service_type", "")
        if not row.get("position") or not re.match(CODE_RE, code):
            refused.append(Quarantined(source, file_path, reader.line_num, row.get("position") or None,
                                       "service_type" if row.get("position") else "position",
                                       f"service type {code!r} is not a code (e.g. unarmed)" if row.get("position")
                                       else "missing position", json.dumps(row, sort_keys=True)))
            continue
        lookups.service_types[row["position"]] = code
    return refused, count


# --- work sessions ------------------------------------------------------------------------------

def parse_work_sessions(items: list[tuple[str, int, Any]], lookups: Lookups, source: str = SOURCE) -> ParseResult:
    """(file or URL, position, work-session item) -> canonical timesheets."""
    rows: list[dict[str, Any]] = []
    refused: list[Quarantined] = []
    for file_path, position, item in items:
        record_id = None
        try:
            record_id = work_session_id(item)
            rows.append({**map_work_session(item, lookups), **record(source, file_path, position, item)})
        except RecordError as exc:
            refused.append(refuse(source, file_path, position, record_id, exc, item))
    return finish(source, "timesheets", rows, refused)


def work_session_id(item: Any) -> str:
    """The session's integer id as our record id. Raises RecordError."""
    if not isinstance(item, dict):
        raise RecordError(None, "work session item is not a JSON object")
    session_id = _int_id(item.get("id"))
    if session_id is None:
        raise RecordError("id", f"work session id {item.get('id')!r} is not an integer")
    return str(session_id)


def map_work_session(item: dict[str, Any], lookups: Lookups) -> dict[str, Any]:
    """One work session -> canonical timesheet columns. The employee, position and account
    are the session's, else its shift's (else the position's account). Raises RecordError."""
    session_id = work_session_id(item)
    shift_id = _int_id(item.get("shift"))
    shift = lookups.shifts.get(shift_id) if shift_id is not None else None
    if shift_id is not None and shift is None:
        raise RecordError("shift", f"shift {shift_id} is not in the shifts export: its schedule is unknown")
    shift = shift or {}
    employee_id, employee = lookups.of_session("employee", session_id, item, shift)
    position_id, position = lookups.of_session("position", session_id, item, shift)
    account = _int_id(item.get("account")) or _int_id(position.get("account")) or _int_id(shift.get("account"))
    if account is None:
        raise RecordError("account", f"work session {session_id}: neither it, its position nor its shift names "
                                     f"an account (site)")
    site_id = lookups.site_of_account(account)
    check_in = iso_utc(item.get("startedOn"), "startedOn")
    check_out = optional_iso_utc(item.get("endedOn"), "endedOn")
    scheduled_start = optional_iso_utc(shift.get("startDateTime"), "startDateTime")
    scheduled_end = optional_iso_utc(shift.get("endDateTime"), "endDateTime")
    name = " ".join(x for x in (_text(employee.get("firstName")), _text(employee.get("lastName"))) if x) or None
    used = {"id", "startedOn", "endedOn"}
    return {
        "record_id": session_id,
        "guard_id": _text(employee["customId"]),
        "guard_name": name,
        "site_id": site_id,
        "service_type": lookups.service_type(position_id, position),
        "check_in_at": check_in,
        "check_out_at": check_out,
        "scheduled_start_at": scheduled_start,
        "scheduled_end_at": scheduled_end,
        "post": _text(position.get("name")),
        "vendor_ref": session_id,
        "extra": extra_json(item, used, employee_id=employee_id, account_id=account,
                            shift_status=shift.get("status"), attendance_status=shift.get("attendanceStatus")),
    }


# --- patrol scans -----------------------------------------------------------------------------

def read_scan_csv(text: str) -> list[tuple[int, dict[str, str]]]:
    """(physical line, row) for each data row; header names are trimmed and lower-cased."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise RecordError(None, "empty file: no header") from None
    missing = [c for c in SCAN_REQUIRED + ("scanned_at",) if c not in header]
    if missing:
        raise RecordError(missing[0], f"checkpoint scan file lacks column(s) {', '.join(missing)}")
    out = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            row = {"_raw": ",".join(values), "_width": str(len(values))}
        else:
            row = {h: v.strip() for h, v in zip(header, values, strict=True)}
        out.append((line, row))
    return out


@dataclass
class _Session:
    session_id: str
    scans: list[tuple[str, int, dict[str, str], datetime | None]] = field(default_factory=list)
    refused_scans: list[str] = field(default_factory=list)  # "file:line" of refused scans


def parse_scan_rows(rows: list[tuple[str, int, dict[str, str]]], lookups: Lookups,
                    source: str = SOURCE) -> ParseResult:
    """Checkpoint scans -> one patrol record per tour session: started/completed at its
    first/last scan, required = the tour definition's checkpoints, scanned = distinct
    checkpoints of the definition actually scanned (MISSED rows do not count).

    A bad scan is quarantined at its line and its whole session with it: a session with a
    scan missing would look like missed checkpoints and be refused billing for the wrong
    reason."""
    refused: list[Quarantined] = []
    sessions: dict[str, _Session] = {}
    for file_path, line, row in rows:
        session_id = _text(row.get("tour_session_id"))
        try:
            if "_raw" in row:
                raise RecordError(None, f"row has {row['_width']} fields, the header has {len(SCAN_COLUMNS)}")
            for column in SCAN_REQUIRED:
                if not _text(row.get(column)):
                    raise RecordError(column, f"missing {column}")
            status = row["status"].upper()
            if status not in SCAN_STATUSES:
                raise RecordError("status", f"status {row['status']!r} is not one of {', '.join(SCAN_STATUSES)}")
            at = None
            if status != "MISSED" or _text(row.get("scanned_at")):
                at = iso_utc(row.get("scanned_at"), "scanned_at")
        except RecordError as exc:
            refused.append(refuse(source, file_path, line, _text(row.get("scan_id")), exc, row))
            if session_id:
                sessions.setdefault(session_id, _Session(session_id)).refused_scans.append(f"{file_path}:{line}")
            continue
        sessions.setdefault(session_id, _Session(session_id)).scans.append((file_path, line, row, at))  # type: ignore[arg-type]
    tours = lookups.tour_definitions()
    out: list[dict[str, Any]] = []
    for session in sessions.values():
        if not session.scans:
            continue  # every scan refused: each is quarantined already
        file_path, line, first, _ = session.scans[0]
        scans = [s[2] for s in session.scans]
        try:
            out.append({**map_session(session, tours), **record(source, file_path, line, scans)})
        except RecordError as exc:
            refused.append(refuse(source, file_path, line, session.session_id, exc, scans))
    return finish(source, "patrols", out, refused)


def map_session(session: _Session, tours: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    sid = session.session_id
    if session.refused_scans:
        raise RecordError("tour_session_id", f"tour session {sid} has refused scan(s) at "
                                             f"{', '.join(session.refused_scans)}: not counted with scans missing")
    for column in ("site_custom_id", "tour_name", "employee_custom_id"):
        values = sorted({s[2][column] for s in session.scans})
        if len(values) > 1:
            raise RecordError(column, f"tour session {sid} has scans with different {column}: {', '.join(values)}")
    first = session.scans[0][2]
    site_id, tour_name = first["site_custom_id"], first["tour_name"]
    tour = tours.get((site_id, tour_name))
    if tour is None:
        raise RecordError("tour_name", f"tour {tour_name!r} at site {site_id} is not in the tours export "
                                       f"(checkpoints required unknown)")
    checkpoints = [c for c in tour.get("checkpoints") or [] if isinstance(c, dict)]
    defined = {_text(c.get("id")) for c in checkpoints} - {None}
    times = sorted(s[3] for s in session.scans if s[3] is not None)
    if not times:
        raise RecordError("scanned_at", f"tour session {sid} has no scanned checkpoint: no start time")
    scanned = {s[2]["checkpoint_id"] for s in session.scans if s[3] is not None and s[2]["status"].upper() != "MISSED"}
    statuses: dict[str, int] = {}
    for s in session.scans:
        statuses[s[2]["status"].upper()] = statuses.get(s[2]["status"].upper(), 0) + 1
    extra = {"tour_name": tour_name, "tour_id": tour.get("id"), "scans": len(session.scans), "statuses": statuses,
             "missed": sorted(defined - scanned)}
    unknown = sorted(scanned - defined)
    if unknown:
        extra["not_on_tour"] = unknown
    return {
        "record_id": sid,
        "site_id": site_id,
        "guard_id": first["employee_custom_id"],
        "started_at": times[0],
        "completed_at": times[-1],
        "checkpoints_required": len(defined),
        "checkpoints_scanned": len(scanned & defined),
        "vendor_ref": sid,
        "extra": json.dumps(extra, sort_keys=True, default=str),
    }


# --- helpers (also used by client.py) ----------------------------------------------------------

def finish(source: str, table: str, rows: list[dict[str, Any]], refused: list[Quarantined]) -> ParseResult:
    """connectors.vendor_parsing.finish as TrackTik's rows have always been finished: hashed as a
    frame (the hash its stored rows carry) and refused in its own wording."""
    return vendor_parsing.finish(source, table, rows, refused, reason=SCHEMA_REASON, frame_hash=True)


def _int_id(value: Any) -> int | None:
    """TrackTik ids are integers; digit strings are accepted (some exports quote them)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text or None
