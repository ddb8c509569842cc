"""AMAG Symmetry exports for the simulated world (connectors/simulator/world.py):
ActivityDataView CSVs in site-local time plus the device export.

The world decides which access system a site uses (`Site.access_vendor`); this writer
renders the sites on `amag`, each one Symmetry company (`Site.amag_company_id`), their
controller and readers (`Device.vendor_ref` is the Symmetry DeviceID) and every device
event of those devices, so an incident's door activity appears here for an AMAG site and
in Lenel for a Lenel one, never in both.

Day files alternate between the two usual extractions of the view: saved from SSMS
(`2025-03-04 02:14:07.000`, empty fields `NULL`) and PowerShell `Export-Csv` (first line
`#TYPE System.Data.DataRow`, every field quoted, en-US culture dates `3/4/2025 2:31:45 AM`,
the card column named `CardID`)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connectors.amag.parser import ACTIVITY_COLUMNS, DEVICE_COLUMNS
from connectors.simulator.exports import planted_record

SOURCE = "amag"
TXN_BASE = 88_000_000
# canonical event -> (TxnConditionName, AlarmPriority); parser.CONDITIONS inverted
CONDITIONS = {
    "access_granted": ("Card Valid", 0),
    "access_denied": ("Card Invalid", 5),
    "door_forced": ("Door Forced Open", 10),
    "door_held": ("Door Open Too Long", 8),
    "door_closed": ("Door Secure", 0),
    "tamper": ("Tamper", 9),
    "fire_alarm": ("Fire Alarm", 10),
}


def culture_text(sql_text: str) -> str:
    """`2025-03-04 14:31:45.000` as PowerShell's en-US culture writes it: `3/4/2025 2:31:45 PM`."""
    at = datetime.strptime(sql_text[:19], "%Y-%m-%d %H:%M:%S")
    hour = at.hour % 12 or 12
    return f"{at.month}/{at.day}/{at.year} {hour}:{at.minute:02d}:{at.second:02d} {'PM' if at.hour >= 12 else 'AM'}"


def powershell_csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """Export-Csv -NoTypeInformation:$false of DataRows: the #TYPE line, every field quoted,
    dates in the culture format, `CardNumber` named `CardID`."""
    out = io.StringIO()
    out.write("#TYPE System.Data.DataRow\r\n")
    named = ["CardID" if c == "CardNumber" else c for c in columns]
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(named)
    for row in rows:
        writer.writerow([culture_text(row[c]) if c == "DateTimeOfTxn" and row.get(c) else (row.get(c) or "")
                         for c in columns])
    return out.getvalue()


def ssms_csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """Results saved from SSMS: plain CSV, empty fields written `NULL`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c) if row.get(c) not in (None, "") else "NULL" for c in columns])
    return out.getvalue()


def sql_local(at: datetime, tz: str) -> str:
    """SQL Server `datetime` text as the view returns it: local wall time, `.000`, no zone."""
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S.000")


def _devices(world: Any) -> list[dict[str, str]]:
    devices = world.access_devices(SOURCE)
    names = {d.vendor_ref: d.name for d in devices if d.device_type == "panel"}
    rows = []
    for d in devices:
        site = world.site(d.site_id)
        controller = names.get(d.controller_ref or d.vendor_ref, "")
        rows.append({
            "DeviceID": d.vendor_ref, "DeviceName": d.name,
            "DeviceType": "Controller" if d.device_type == "panel" else "Reader",
            "CompanyID": str(site.amag_company_id), "ControllerName": f"{controller} - {site.name}",
            "ActiveDateTime": f"{d.active_from.isoformat()} 00:00:00.000",
            "InactiveDateTime": f"{d.active_to.isoformat()} 23:59:59.000" if d.active_to else "",
        })
    return rows


def _transactions(world: Any) -> list[dict[str, str]]:
    devices = {d.device_id: d for d in world.access_devices(SOURCE)}
    rows = []
    for ev in world.device_events:  # the world numbers events in time order: TxnIDs follow it
        device = devices.get(ev.device_id)
        if device is None or ev.event_type not in CONDITIONS:
            continue
        condition, priority = CONDITIONS[ev.event_type]
        site = world.site(ev.site_id)
        guard = world.guard(ev.guard_id) if ev.guard_id else None
        rows.append({
            "TxnID": str(TXN_BASE + int(ev.event_id.rsplit("-", 1)[-1])),
            "DateTimeOfTxn": sql_local(ev.occurred_at, site.timezone),
            "CompanyID": str(site.amag_company_id),
            "CompanyName": world.client(site.client_id).name,
            "WhereName": device.name,
            "TxnConditionName": condition,
            "AlarmPriority": str(priority),
            "FirstName": guard.first_name if guard else "",
            "LastName": guard.last_name if guard else "",
            "CustomerCodeNumber": "117" if guard else "0",
            "CardNumber": str(guard.badge_id) if guard else "0",
        })
    return rows


def records_for_server(world: Any) -> dict[str, Any]:
    """Keyword arguments for FakeSymmetryExport: the world's transactions and devices (clean)."""
    return {"transactions": _transactions(world), "devices": _devices(world)}


def sites_rows(world: Any) -> list[dict[str, str]]:
    return [{"CompanyID": str(s.amag_company_id), "site_id": s.site_id, "timezone": s.timezone}
            for s in world.access_sites(SOURCE)]


def site_map(world: Any):
    """The parser's SiteMap for the world, as `sites.csv` gives it (for API pulls)."""
    from connectors.amag.parser import Site, SiteMap

    return SiteMap({r["CompanyID"]: Site(r["site_id"], ZoneInfo(r["timezone"])) for r in sites_rows(world)}, [])


def spring_forward_gap(tz: str, year: int) -> datetime | None:
    """A local wall time inside the zone's spring-forward gap that year (None without DST)."""
    zone, utc = ZoneInfo(tz), ZoneInfo("UTC")
    day = date(year, 1, 1)
    while day.year == year:
        for hour in range(24):
            naive = datetime(day.year, day.month, day.day, hour, 30)
            if naive.replace(tzinfo=zone).astimezone(utc).astimezone(zone).replace(tzinfo=None) != naive:
                return naive
        day += timedelta(days=1)
    return None


def _powershell(day_index: int) -> bool:
    return day_index % 2 == 1


def write_exports(world: Any, folder: Path) -> dict[str, Any]:
    """Write `sites.csv`, `devices.csv` and one `ActivityDataView_<local date>.csv` per day
    into `folder` (the inbox's `amag/`), planting three bad transactions in the last file:
    a local time in a DST gap, a missing TxnID and a CompanyID missing from `sites.csv`.
    Planted records have world.Planted's keys (file relative to the inbox) plus the absolute
    `path`, the `field` and the expected `reason` fragment. Stale day files are removed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    server = records_for_server(world)
    transactions, devices = server["transactions"], server["devices"]
    files: list[str] = []
    planted: list[dict[str, Any]] = []

    def write(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\r\n")
            writer.writeheader()
            writer.writerows(rows)
        files.append(str(path))

    sites = sites_rows(world)
    write(folder / "sites.csv", ["CompanyID", "site_id", "timezone"], sites)
    write(folder / "devices.csv", DEVICE_COLUMNS, devices)

    by_day: dict[str, list[dict[str, Any]]] = {}
    for row in transactions:
        by_day.setdefault(row["DateTimeOfTxn"][:10].replace("-", ""), []).append(row)
    if sites and transactions:
        last_day = max(by_day)
        tail = by_day[last_day]
        template = tail[-1]
        next_id = int(transactions[-1]["TxnID"]) + 1
        unused = max(int(s["CompanyID"]) for s in sites) + 1000
        bad: list[tuple[dict[str, Any], str, str]] = []
        gap = spring_forward_gap(sites[0]["timezone"], world.start.year)
        if gap is not None:
            bad.append((dict(template, TxnID=str(next_id), CompanyID=sites[0]["CompanyID"],
                             DateTimeOfTxn=gap.strftime("%Y-%m-%d %H:%M:%S.000")), "DateTimeOfTxn", "DST gap"))
        bad.append((dict(template, TxnID=""), "TxnID", "missing TxnID"))
        bad.append((dict(template, TxnID=str(next_id + 1), CompanyID=str(unused)), "CompanyID", "unknown site"))
        header_line = 2 if _powershell(sorted(by_day).index(last_day)) else 1
        for row, fld, reason in bad:
            tail.append(row)
            name = f"ActivityDataView_{last_day}.csv"
            planted.append(planted_record(SOURCE, folder, name, len(tail) + header_line, row["TxnID"] or None, fld,
                                          reason, "device_events"))
    for index, day in enumerate(sorted(by_day)):
        path = folder / f"ActivityDataView_{day}.csv"
        text = (powershell_csv if _powershell(index) else ssms_csv)(ACTIVITY_COLUMNS, by_day[day])
        path.write_text(text, encoding="utf-8", newline="")
        files.append(str(path))
    for old in folder.glob("ActivityDataView_*.csv"):
        if str(old) not in files:  # stale days of an earlier simulation
            old.unlink()
    return {"source": SOURCE, "folder": str(folder), "files": files,
            "records": {"device_events": len(transactions), "devices": len(devices)},
            "planted": planted}
