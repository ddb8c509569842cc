"""TrackTik exports for the simulated world (connectors/simulator/world.py).

TrackTik sees the world's guards as employees (integer id, `customId` = our guard id),
sites as "clients" (integer id = `Site.tracktik_site_id`, `customId` = our site id), each
post at a site as a position (no type: `service_types.csv` is the deployment's table),
each shift as a TrackTik shift (the schedule only: `startDateTime`/`endDateTime`,
`status` ACTIVE, `attendanceStatus`, no account) and what was worked as a work session
(`startedOn`, `endedOn`, `shift`, `position`, `account`, `employee`), in site-local time
with offset; one tour definition per patrol site and the checkpoint scans of every tour.
Ids derived here are deterministic: shift `SH-100001` is TrackTik shift 1079001 and work
session 2079001, tour `PT-200001` is session `TS-200001`.

On top of the world's own planted problems this writer plants three records that must
be quarantined, listed in the returned manifest with file and position/line:
- a work session whose startedOn lost its offset;
- a work session for an employee id that is not in the employees export;
- a checkpoint scan with an impossible time (its whole tour session is refused with it)."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

SOURCE = "tracktik"
SHIFT_ID_OFFSET = 979_000
SESSION_ID_OFFSET = 1_979_000
PAGE_SIZE = 100
POSITION_BASE = 8_900
TOUR_BASE = 500
UNKNOWN_EMPLOYEE = 9_999
SCAN_COLUMNS = ["scan_id", "site_custom_id", "tour_name", "tour_session_id", "checkpoint_id", "checkpoint_name",
                "scan_method", "employee_custom_id", "scanned_at", "status"]
SCAN_METHODS = ("NFC", "QR", "NFC", "BARCODE")


def shift_number(shift_id: str) -> int:
    return SHIFT_ID_OFFSET + int(shift_id.split("-")[-1])


def session_number(shift_id: str) -> int:
    """The work session of a world shift (one session per shift)."""
    return SESSION_ID_OFFSET + int(shift_id.split("-")[-1])


def session_id(tour_id: str) -> str:
    return f"TS-{tour_id.split('-')[-1]}"


def _ts(world: Any, instant: datetime | None, site_id: str) -> str | None:
    if instant is None:
        return None
    return world.local(instant, site_id).replace(microsecond=0).isoformat()


def _page(items: list[dict[str, Any]], offset: int, total: int, limit: int = PAGE_SIZE) -> dict[str, Any]:
    return {"meta": {"count": total, "itemCount": len(items), "limit": limit, "offset": offset}, "data": items}


def _week(day: date) -> date:
    return day - timedelta(days=day.weekday())


class _Render:
    def __init__(self, world: Any, site_ids: set[str] | None):
        self.w = world
        self.site_ids = site_ids if site_ids is not None else {s.site_id for s in world.sites}
        self.sites = [s for s in world.sites if s.site_id in self.site_ids]
        self.shifts = [x for x in world.shifts if x.site_id in self.site_ids]
        # one TrackTik position per post and service type (an armed and an unarmed post at
        # one gate are two positions); the service type itself is the deployment's table
        self.positions: dict[tuple[str, str, str], dict[str, Any]] = {}
        for x in sorted(self.shifts, key=lambda x: (x.site_id, x.post, x.service_type)):
            key = (x.site_id, x.post, x.service_type)
            if key not in self.positions:
                n = len(self.positions) + 1
                self.positions[key] = {
                    "id": POSITION_BASE + n, "customId": f"P-{x.site_id[2:]}-{n:02d}", "name": x.post,
                    "account": world.site(x.site_id).tracktik_site_id, "status": "ACTIVE",
                    "_service_type": x.service_type}
        guard_ids = sorted({x.guard_id for x in self.shifts}
                           | {t.guard_id for t in world.tours if t.site_id in self.site_ids})
        self.guards = [world.guard(g) for g in guard_ids]

    # ---- lookups
    def clients(self) -> list[dict[str, Any]]:
        return [{"id": s.tracktik_site_id, "customId": s.site_id, "name": s.name,
                 "company": self.w.client(s.client_id).name, "region": None, "timeZone": s.timezone,
                 "city": s.city, "state": s.state, "status": "ACTIVE"} for s in self.sites]

    def employees(self) -> list[dict[str, Any]]:
        return [{"id": g.tracktik_employee_id, "customId": g.guard_id, "firstName": g.first_name,
                 "lastName": g.last_name, "email": f"{g.first_name.lower()}.{g.last_name.lower()}@guards.example",
                 "primaryPhone": None, "status": "ACTIVE", "region": None} for g in self.guards]

    def tours(self) -> list[dict[str, Any]]:
        out = []
        for n, s in enumerate(x for x in self.sites if x.checkpoints):
            out.append({"id": TOUR_BASE + n + 1, "name": tour_name(s), "account": s.tracktik_site_id,
                        "checkpoints": [{"id": f"CP-{k + 1:02d}", "name": cp, "type": "NFC"}
                                        for k, cp in enumerate(s.checkpoints)]})
        return out

    def position_items(self) -> list[dict[str, Any]]:
        """Positions as TrackTik lists them: no type."""
        return [{k: v for k, v in p.items() if not k.startswith("_")} for p in self.positions.values()]

    def service_type_rows(self) -> list[dict[str, str]]:
        """The deployment's table: each position's customId -> service type."""
        return [{"position": p["customId"], "service_type": p["_service_type"]} for p in self.positions.values()]

    def shift_item(self, x: Any) -> dict[str, Any]:
        """The schedule: no clock-in or clock-out, no account."""
        late = x.check_in > x.scheduled_start + timedelta(minutes=10)
        return {
            "id": shift_number(x.shift_id), "employee": self.w.guard(x.guard_id).tracktik_employee_id,
            "position": self.positions[(x.site_id, x.post, x.service_type)]["id"], "account": None,
            "startDateTime": _ts(self.w, x.scheduled_start, x.site_id),
            "endDateTime": _ts(self.w, x.scheduled_end, x.site_id),
            "status": "ACTIVE", "attendanceStatus": "LATE" if late else "ON_TIME",
        }

    def session_item(self, x: Any) -> dict[str, Any]:
        """What was worked: the punches of one shift."""
        position = self.positions[(x.site_id, x.post, x.service_type)]
        return {
            "id": session_number(x.shift_id), "employee": self.w.guard(x.guard_id).tracktik_employee_id,
            "shift": shift_number(x.shift_id), "position": position["id"], "account": position["account"],
            "startedOn": _ts(self.w, x.check_in, x.site_id), "endedOn": _ts(self.w, x.check_out, x.site_id),
        }

    def scan_rows(self, tour: Any) -> list[dict[str, Any]]:
        site = self.w.site(tour.site_id)
        index = {cp: k for k, cp in enumerate(site.checkpoints)}
        rows = []
        previous = tour.started_at
        for scan in tour.scans:
            late = (scan.scanned_at - previous) > timedelta(minutes=6, seconds=30)
            previous = scan.scanned_at
            k = index[scan.checkpoint]
            rows.append({"scan_id": f"S-{scan.scan_id.split('-', 1)[1]}", "site_custom_id": site.site_id,
                         "tour_name": tour_name(site), "tour_session_id": session_id(tour.tour_id),
                         "checkpoint_id": f"CP-{k + 1:02d}", "checkpoint_name": scan.checkpoint,
                         "scan_method": SCAN_METHODS[k % len(SCAN_METHODS)], "employee_custom_id": tour.guard_id,
                         "scanned_at": _ts(self.w, scan.scanned_at, site.site_id),
                         "status": "LATE" if late else "ON_TIME"})
        done = {s.checkpoint for s in tour.scans}
        for k, cp in enumerate(site.checkpoints):
            if cp not in done:  # TrackTik reports the checkpoints a tour missed
                rows.append({"scan_id": f"S-{tour.tour_id.split('-')[-1]}-M{k + 1:02d}",
                             "site_custom_id": site.site_id, "tour_name": tour_name(site),
                             "tour_session_id": session_id(tour.tour_id), "checkpoint_id": f"CP-{k + 1:02d}",
                             "checkpoint_name": cp, "scan_method": "", "employee_custom_id": tour.guard_id,
                             "scanned_at": "", "status": "MISSED"})
        return rows


def tour_name(site: Any) -> str:
    return f"{site.name} Night Patrol"


def records_for_server(world: Any, site_ids: set[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """The world as TrackTik's API serves it (no planted format problems): shifts,
    employees, positions and clients, each a list of items."""
    r = _Render(world, site_ids)
    ordered = sorted(r.shifts, key=lambda x: x.shift_id)
    return {"work-sessions": [r.session_item(x) for x in ordered], "shifts": [r.shift_item(x) for x in ordered],
            "employees": r.employees(), "positions": r.position_items(), "clients": r.clients()}


def service_types_csv(world: Any, site_ids: set[str] | None = None) -> str:
    return _csv(["position", "service_type"], _Render(world, site_ids).service_type_rows())


def write_exports(world: Any, folder: Path, site_ids: set[str] | None = None) -> dict[str, Any]:
    """Write the world's TrackTik export under `folder` (the inbox's `tracktik/`), for all
    sites or only `site_ids` (a site whose guarding another system reports must not be
    rendered twice). Returns a manifest: files, counts, planted problems."""
    folder = Path(folder)
    r = _Render(world, site_ids)
    files: dict[str, str] = {}
    planted: list[dict[str, Any]] = []
    dump = {"indent": 1, "sort_keys": False}

    def lookup_file(name: str, items: list[dict[str, Any]]) -> None:
        files[name] = json.dumps(_page(items, 0, len(items), max(len(items), 1)), **dump)

    lookup_file("employees.json", r.employees())
    lookup_file("positions.json", r.position_items())
    files["service_types.csv"] = _csv(["position", "service_type"], r.service_type_rows())
    lookup_file("clients.json", r.clients())
    lookup_file("tours.json", r.tours())

    # --- shifts (the schedule) and work sessions: pages per site-local week of clock-in;
    # re-deliveries of a session in a later week
    ordered = sorted(r.shifts, key=lambda x: (x.check_in, x.shift_id))
    lookup_file("shifts.json", [r.shift_item(x) for x in ordered])
    weeks: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for x in ordered:
        weeks[_week(world.local(x.check_in, x.site_id).date())].append(r.session_item(x))
    taken = world.planted_ids()
    last_client = r.sites[-1].client_id if r.sites else None
    candidates = [x for x in r.shifts if world.site(x.site_id).client_id == last_client and x.shift_id not in taken
                  and x.service_type != "patrol" and x.check_out is not None]
    bad_offset = session_number(candidates[len(candidates) // 2].shift_id) if candidates else None
    for again in world.redeliveries:
        if again.record.site_id not in r.site_ids or not weeks:
            continue
        target = _week(again.after) + timedelta(days=7)
        while target not in weeks and target <= max(weeks):
            target += timedelta(days=7)
        weeks[target].append(r.session_item(again.record))
    if weeks and r.shifts:
        stray = r.session_item(r.shifts[0])
        stray.update({"id": 990_001, "employee": UNKNOWN_EMPLOYEE})
        weeks[max(weeks)].append(stray)
    n_shifts = 0
    for week in sorted(weeks):
        items = weeks[week]
        for start in range(0, len(items), PAGE_SIZE):
            chunk = items[start:start + PAGE_SIZE]
            name = f"work-sessions-{week.isoformat()}-p{start // PAGE_SIZE + 1:02d}.json"
            for position, item in enumerate(chunk, start=1):
                if item["id"] == bad_offset and item["startedOn"]:
                    item["startedOn"] = item["startedOn"][:19]
                    planted.append({"kind": "timestamp_without_offset", "record_id": str(item["id"]),
                                    "file": name, "line": position, "expect": "quarantine",
                                    "note": "startedOn has no UTC offset"})
                    bad_offset = None
                if item["employee"] == UNKNOWN_EMPLOYEE:
                    planted.append({"kind": "unknown_employee", "record_id": str(item["id"]), "file": name,
                                    "line": position, "expect": "quarantine",
                                    "note": f"employee {UNKNOWN_EMPLOYEE} is not in employees.json"})
            files[name] = json.dumps(_page(chunk, start, len(items)), **dump)
            n_shifts += len(chunk)

    # --- checkpoint scans: one CSV per site-local week of tour start
    tours = [t for t in world.tours if t.site_id in r.site_ids]
    per_shift: dict[str, list[Any]] = defaultdict(list)
    for t in tours:
        per_shift[t.shift_id].append(t)
    choices = [ts[-1] for ts in per_shift.values() if len(ts) >= 2 and not any(t.tour_id in taken for t in ts)]
    bad_tour = choices[len(choices) // 2].tour_id if choices else None
    scan_weeks: dict[date, list[Any]] = defaultdict(list)
    for t in tours:
        scan_weeks[_week(world.local(t.started_at, t.site_id).date())].append(t)
    n_scans = 0
    for week in sorted(scan_weeks):
        name = f"checkpoint-scans-{week.isoformat()}.csv"
        rows: list[dict[str, Any]] = []
        for t in sorted(scan_weeks[week], key=lambda t: (t.started_at, t.tour_id)):
            tour_rows = r.scan_rows(t)
            if t.tour_id == bad_tour:
                good = tour_rows[1]["scanned_at"]
                tour_rows[1]["scanned_at"] = good[:11] + "24:61:00" + good[19:]
                planted.append({"kind": "bad_scan_time", "record_id": tour_rows[1]["scan_id"], "file": name,
                                "line": len(rows) + 3, "expect": "quarantine",
                                "note": "scanned_at is not a time; the scan and its session "
                                        f"{session_id(t.tour_id)} are quarantined"})
                planted.append({"kind": "session_with_bad_scan", "record_id": session_id(t.tour_id), "file": name,
                                "line": len(rows) + 2, "expect": "quarantine",
                                "note": "tour session refused because one of its scans is"})
            rows.extend(tour_rows)
        files[name] = _csv(SCAN_COLUMNS, rows)
        n_scans += len(rows)

    folder.mkdir(parents=True, exist_ok=True)
    for old in sorted(folder.glob("shifts-*.json")) + sorted(folder.glob("work-sessions-*.json")) \
            + sorted(folder.glob("checkpoint-scans-*.csv")):
        if old.name not in files:
            old.unlink()
    for name, text in files.items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8", newline="")
    world_planted = [{"kind": p.kind, "record_id": _vendor_id(p.record_id), "expect": p.expect, "note": p.note}
                     for p in world.planted if p.source in ("timesheets", "patrols")]
    return {
        "source": SOURCE, "folder": str(folder), "files": sorted(files),
        "counts": {"shift_items": n_shifts, "scan_rows": n_scans, "tour_sessions": len(tours),
                   "employees": len(r.guards), "positions": len(r.positions), "clients": len(r.sites)},
        "planted": planted, "world_planted": world_planted,
        "quarantine_expected": sum(1 for p in planted if p["expect"] == "quarantine"),
    }


def _vendor_id(world_id: str) -> str:
    """A world shift or tour id as TrackTik shows it."""
    if world_id.startswith("SH-"):
        return str(session_number(world_id))
    if world_id.startswith("PT-"):
        return session_id(world_id)
    return world_id


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in columns})
    return buf.getvalue()
