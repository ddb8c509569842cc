"""Lenel OnGuard exports for the simulated world (connectors/simulator/world.py): OpenAccess
pages as the API returns them.

The world decides which access system a site uses (`Site.access_vendor`); this writer
renders the sites on `lenel`: their panel and door readers (the world's `vendor_ref` is
the OnGuard panel ID or reader ID, `controller_ref` the reader's panel) and every device
event of those devices. The world places door events around each incident (forced or held
door, the responder's badge read, the door closed) and a badge read when a guard arrives,
so the incident's door activity appears here for a Lenel site and in AMAG for an AMAG
one, never in both.

As OnGuard writes them: logged-event timestamps carry the offset of the OnGuard server's
zone (`SERVER_TIMEZONE`, not the site's), and the inventory is a series of dated
`/instances` snapshots (`instances_<type>_<date>.json`, items with their own `type_name`,
no install date: the parser derives first and last seen), one snapshot on each date a
device appeared or left, and one on the last day."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connectors.simulator.exports import planted_record

SOURCE = "lenel"
SERVER_TIMEZONE = "America/Chicago"  # the OnGuard server's zone: every logged event carries its offset
EVENTS_PER_PAGE = 200
SERIAL_BASE = 1_741_000_000

# canonical event -> (event_type, event_subtype, description); parser.EVENT_CODES inverted
CODES = {
    "access_granted": (0, 20, "Access Granted"),
    "access_denied": (0, 21, "Access Denied"),
    "door_forced": (4, 1, "Door Forced Open"),
    "door_held": (4, 2, "Door Held Open"),
    "door_closed": (4, 3, "Door Forced Open Restored"),
    "tamper": (5, 1, "Tamper Alarm"),
    "fire_alarm": (6, 1, "Fire Alarm"),
}
ALARMS = {"door_forced", "door_held", "tamper", "fire_alarm"}


def _panel_of(device: Any) -> int:
    return int(device.controller_ref if device.device_type == "door_reader" else device.vendor_ref)


def _event_items(world: Any) -> list[dict[str, Any]]:
    devices = {d.device_id: d for d in world.access_devices(SOURCE)}
    panels = {_panel_of(d): d for d in devices.values() if d.device_type == "panel"}
    items = []
    for ev in world.device_events:
        device = devices.get(ev.device_id)
        if device is None or ev.event_type not in CODES:
            continue
        event_type, subtype, description = CODES[ev.event_type]
        site = world.site(ev.site_id)
        panel = _panel_of(device)
        guard = world.guard(ev.guard_id) if ev.guard_id else None
        alarm = ev.event_type in ALARMS
        items.append({
            "serial_number": SERIAL_BASE + int(ev.event_id.rsplit("-", 1)[-1]),
            "timestamp": ev.occurred_at.astimezone(ZoneInfo(SERVER_TIMEZONE)).isoformat(timespec="seconds"),
            "description": description,
            "controller_id": panel,
            "device_id": int(device.vendor_ref) if device.device_type == "door_reader" else 0,
            "subdevice_id": 0,
            "segment_id": 0,
            "event_type": event_type,
            "event_subtype": subtype,
            "event_text": None,
            "badge_id": guard.badge_id if guard else None,
            "badge_id_str": str(guard.badge_id) if guard else None,
            "cardholder_key": int(guard.guard_id.split("-")[1]) if guard else None,
            "alarm_priority": 10 if alarm else 0,
            "access_result": 2 if ev.event_type == "access_granted" else 0,
            "duress": False,
            "controller_name": f"{panels[panel].name if panel in panels else 'Panel'} - {site.name}",
            "device_name": device.name,
            "event_source_name": site.name,
            "cardholder_first_name": guard.first_name if guard else None,
            "cardholder_last_name": guard.last_name if guard else None,
            "must_acknowledge": alarm,
            "must_mark_in_progress": alarm,
        })
    return items


def _instances(world: Any, on: date | None = None) -> dict[str, list[dict[str, Any]]]:
    """Readers and panels as `/instances` lists them (on day `on`, or every one): the
    OnGuard properties only, no install date."""
    readers, panels = [], []
    for device in world.access_devices(SOURCE):
        if on is not None and not device.active_on(on):
            continue
        site = world.site(device.site_id)
        if device.device_type == "panel":
            panels.append({"ID": _panel_of(device), "Name": f"{device.name} - {site.name}", "PanelType": "LNL-2220",
                           "IsOnline": True})
        else:
            readers.append({"PanelID": _panel_of(device), "ReaderID": int(device.vendor_ref), "Name": device.name,
                            "HostName": f"lnl-{_panel_of(device)}-{device.vendor_ref}.onguard.example"})
    return {"Lnl_Reader": readers, "Lnl_Panel": panels}


def snapshot_dates(world: Any) -> list[date]:
    """The days the integrator saved an inventory snapshot: each day a device appeared,
    its last day, the day after, and the world's last day, so first and last seen are the
    world's active dates."""
    days = {world.end}
    for device in world.access_devices(SOURCE):
        days.add(device.active_from)
        if device.active_to is not None:
            days.update({device.active_to, device.active_to + timedelta(days=1)})
    return sorted(d for d in days if d <= world.end)


def records_for_server(world: Any) -> dict[str, Any]:
    """Keyword arguments for FakeOpenAccess: the world's logged events and inventory (clean)."""
    return {"events": _event_items(world), "instances": _instances(world)}


def sites_rows(world: Any) -> list[dict[str, str]]:
    """`sites.csv`: each Lenel panel (controller) and the site it serves."""
    return [{"controller_id": str(_panel_of(d)), "site_id": d.site_id, "timezone": world.site(d.site_id).timezone}
            for d in world.access_devices(SOURCE) if d.device_type == "panel"]


def site_map(world: Any):
    """The parser's SiteMap for the world, as `sites.csv` gives it (for API pulls)."""
    from connectors.lenel.parser import Site, SiteMap

    return SiteMap({r["controller_id"]: Site(r["site_id"], r["timezone"]) for r in sites_rows(world)}, [])


def _page(items: list[dict[str, Any]], number: int, size: int, total: int) -> dict:
    return {"page_number": number, "page_size": size, "total_pages": max(1, -(-total // size)),
            "total_items": total, "count": len(items), "item_list": items, "version": "1.0"}



def write_exports(world: Any, folder: Path) -> dict[str, Any]:
    """Write `sites.csv`, the inventory pages and the logged-event pages into `folder` (the
    inbox's `lenel/`), planting three bad records. Returns the files, the clean record
    counts and the planted records (file, line = position in the page, field, reason).
    Pages left from an earlier simulation with more pages are removed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    server = records_for_server(world)
    events, instances = server["events"], server["instances"]
    files: list[str] = []
    planted: list[dict[str, Any]] = []

    sites_path = folder / "sites.csv"
    with sites_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["controller_id", "site_id", "timezone"])
        writer.writeheader()
        writer.writerows(sites_rows(world))
    files.append(str(sites_path))

    days = snapshot_dates(world)
    bad_reader: dict[str, Any] | None = None
    for day in days:
        listed = _instances(world, day)
        for type_name, items in listed.items():
            wrapped = [{"type_name": type_name, "property_value_map": p} for p in items]
            name = f"instances_{type_name}_{day.isoformat()}.json"
            if type_name == "Lnl_Reader" and day == days[-1] and items:
                # planted: a reader whose panel id was lost in the export
                bad_reader = {k: v for k, v in items[0].items() if k != "PanelID"}
                bad_reader.update(ReaderID=90, Name="Unlabelled reader")
                wrapped.append({"type_name": type_name, "property_value_map": bad_reader})
                planted.append(planted_record(SOURCE, folder, name, len(wrapped), None, "PanelID",
                                              "missing PanelID or ReaderID", "devices"))
            path = folder / name
            path.write_text(json.dumps(_page(wrapped, 1, max(len(wrapped), 1), len(wrapped)), indent=1))
            files.append(str(path))

    rows = list(events)
    bad_events: list[tuple[str, str, str]] = []
    if rows:
        template = rows[len(rows) // 2]
        first, second = SERIAL_BASE - 2, SERIAL_BASE - 1
        rows.append(dict(template, serial_number=first, timestamp=template["timestamp"][:19]))
        rows.append(dict(template, serial_number=second, controller_id=999, controller_name="Unmapped panel"))
        bad_events = [(f"{template['controller_id']}-{first}", "timestamp", "no UTC offset"),
                      (f"999-{second}", "controller_id", "unknown site")]
    pages = [rows[i:i + EVENTS_PER_PAGE] for i in range(0, len(rows), EVENTS_PER_PAGE)] or [[]]
    for number, chunk in enumerate(pages, start=1):
        path = folder / f"logged_events_page_{number:04d}.json"
        if number % 2 == 0:  # OpenAccess key case varies between calls; so do our pages
            chunk = [{k.upper(): v for k, v in item.items()} for item in chunk]
        path.write_text(json.dumps(_page(chunk, number, EVENTS_PER_PAGE, len(rows))))
        files.append(str(path))
    last = f"logged_events_page_{len(pages):04d}.json"
    for offset, (record_id, fld, reason) in enumerate(bad_events):
        planted.append(planted_record(SOURCE, folder, last, len(pages[-1]) - len(bad_events) + offset + 1, record_id,
                                      fld, reason, "device_events"))
    for old in [*folder.glob("logged_events_page_*.json"), *folder.glob("instances_*.json")]:
        if str(old) not in files:  # stale pages of an earlier, longer simulation
            old.unlink()
    return {"source": SOURCE, "folder": str(folder), "files": files,
            "records": {"device_events": len(events), "devices": sum(len(v) for v in instances.values())},
            "planted": planted}
