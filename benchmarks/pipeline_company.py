"""A synthetic security company of size S, M or L, delivered to an inbox in the formats a
real one uses (interfaces.md section 2, AMAG Symmetry for access events), one file per
source per day: what `benchmarks/bench_pipeline.py` feeds `vigil run`.

Only the benchmark uses this (the demo's simulator, connectors/simulator, builds a richer
but slower world of Python objects). Deterministic: the same scale, seed and day give the
same bytes, so a day can be written on its own (`write_day`) after a history was written.

Who works when: a site has posts, a post is three 8-hour slots (06:00, 14:00, 22:00 site
time); each slot has a primary guard (five days a week) and shares a relief guard with two
other slots whose days off do not collide, so reliefs work six days (overtime) and no guard
works two slots at once. Check-in and check-out drift by up to 7 minutes, so billed times
round back onto the slot. Every day's delivery also corrects a few shifts of earlier days
(a later check-out): late corrections the incremental marts must pick up."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
STATE_OF = {"America/New_York": "NY", "America/Chicago": "IL", "America/Denver": "CO", "America/Los_Angeles": "CA"}
SLOT_HOURS = (6, 14, 22)
FIRST_DAY = date(2025, 1, 6)  # a Monday
TAXED = "regular_hours;overtime_hours;holiday_hours;monitoring;device_monitoring;patrol_visit"


@dataclass(frozen=True)
class Scale:
    """Sizes of one company. `events_per_day` are AMAG access transactions."""

    name: str
    clients: int
    sites_per_client: int
    posts_per_site: tuple[int, ...]  # cycled over sites
    devices_per_site: int
    events_per_day: int
    incidents_per_site_day: float
    corrections_per_day: int


SCALES = {
    # the new user: 60 sites, about 300 shifts a day
    "S": Scale("S", clients=20, sites_per_client=3, posts_per_site=(1, 2, 2), devices_per_site=5,
               events_per_day=3_000, incidents_per_site_day=0.05, corrections_per_day=1),
    # 200 sites, about 1,000 shifts a day
    "M": Scale("M", clients=50, sites_per_client=4, posts_per_site=(1, 2, 2), devices_per_site=10,
               events_per_day=20_000, incidents_per_site_day=0.05, corrections_per_day=2),
    # 2,000 sites, about 10,000 guards (7,500 shifts a day), 50,000 monitored devices; the
    # issue's 2M access events a day are scaled to what one 2-core machine stores (see docs)
    "L": Scale("L", clients=400, sites_per_client=5, posts_per_site=(1, 1, 1, 2), devices_per_site=25,
               events_per_day=200_000, incidents_per_site_day=0.05, corrections_per_day=8),
}


@dataclass(frozen=True)
class Slot:
    site_id: str
    company_id: int
    timezone: str
    service_type: str
    hour: int
    primary: str
    relief: str
    offset: int  # days off are those with (weekday + offset) % 7 in (5, 6)


@dataclass
class Company:
    scale: Scale
    first_day: date
    seed: int
    clients: list[dict] = field(default_factory=list)
    sites: list[dict] = field(default_factory=list)
    slots: list[Slot] = field(default_factory=list)
    devices: list[dict] = field(default_factory=list)  # DeviceID, name, type, CompanyID, site

    @property
    def guards(self) -> int:
        return len({s.primary for s in self.slots} | {s.relief for s in self.slots})

    def shifts_per_day(self) -> int:
        return len(self.slots)


def build_company(scale: Scale, first_day: date = FIRST_DAY, seed: int = 14) -> Company:
    rng = random.Random(seed)
    company = Company(scale, first_day, seed)
    guard_no = 0
    device_no = 0
    for c in range(scale.clients):
        client_id = f"C-{c + 1:05d}"
        site_ids = []
        for s in range(scale.sites_per_client):
            n = c * scale.sites_per_client + s
            zone = ZONES[n % len(ZONES)]
            site_id = f"S-{n + 1:05d}"
            site_ids.append(site_id)
            company.sites.append({"id": site_id, "name": f"Site {n + 1}", "timezone": zone,
                                  "tax_jurisdiction": f"US-{STATE_OF[zone]}", "company_id": n + 1,
                                  "client_id": client_id})
            posts = scale.posts_per_site[n % len(scale.posts_per_site)]
            slots = []
            for p in range(posts):
                service = "armed" if (n + p) % 4 == 0 else "patrol" if (n + p) % 13 == 5 else "unarmed"
                for hour in SLOT_HOURS:
                    guard_no += 1
                    slots.append((service, hour, f"G-{guard_no:06d}"))
            # reliefs: one per three slots, whose day-off offsets 0, 2, 4 never collide
            for start in range(0, len(slots), 3):
                guard_no += 1
                relief = f"G-{guard_no:06d}"
                for k, (service, hour, primary) in enumerate(slots[start:start + 3]):
                    company.slots.append(Slot(site_id, n + 1, zone, service, hour, primary, relief, 2 * k))
            for d in range(scale.devices_per_site):
                device_no += 1
                kind = "Controller" if d == 0 else "Reader"
                company.devices.append({"DeviceID": 500000 + device_no, "DeviceName": f"{site_id} door {d}",
                                        "DeviceType": kind, "CompanyID": n + 1, "site_id": site_id})
        company.clients.append({
            "id": client_id,
            "name": f"Client {c + 1}",
            "autopay": c % 2 == 0,
            "grouping": "per_site" if c % 5 == 4 else "consolidated",
            "site_ids": site_ids,
            "rate": 30 + rng.randrange(0, 6),
        })
    return company


def _contract_document(company: Company, client: dict) -> dict:
    start = company.first_day - timedelta(days=company.first_day.weekday())
    end = start + timedelta(days=3 * 365)
    sites = [s for s in company.sites if s["client_id"] == client["id"]]
    guarding = {
        "id": f"K-{client['id'][2:]}-G",
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "billing_cycle": "weekly",
        "payment_terms_days": 30,
        "rates": [
            {"service_type": "unarmed", "rate": f"{client['rate']}.00"},
            {"service_type": "armed", "rate": f"{client['rate'] + 10}.50"},
            {"service_type": "patrol", "rate": f"{client['rate'] - 2}.00"},
        ],
        "overtime": {"policy": "weekly", "weekly_hours": 40, "multiplier": "1.5"},
        "holidays": {"country": "US", "names": ["New Year's Day", "Independence Day", "Thanksgiving Day",
                                                "Christmas Day"], "multiplier": "1.5"},
        "incidents": {"alarm_response": {"flat_fee": "75.00", "included_minutes": 30, "hourly_rate": "45.00"}},
        "patrol_visit_fee": "28.00",
    }
    monitoring = {
        "id": f"K-{client['id'][2:]}-M",
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "billing_cycle": "monthly",
        "per_device": [{"device_type": "door_reader", "monthly_fee": "4.00"},
                       {"device_type": "panel", "monthly_fee": "15.00"}],
        "recurring": [{"code": "MON-BASE", "category": "monitoring", "site_id": sites[0]["id"], "amount": "99.00"}],
    }
    block = {"id": client["id"], "name": client["name"], "email": f"ap@{client['id'].lower()}.example",
             "autopay": client["autopay"], "grouping": client["grouping"]}
    if client["autopay"]:
        block["payment_method"] = "pm_card_visa"
    return {
        "client": block,
        "sites": [{k: s[k] for k in ("id", "name", "timezone", "tax_jurisdiction")} for s in sites],
        "contracts": [guarding, monitoring],
    }


def write_static(company: Company, inbox: Path) -> list[Path]:
    """Company file, contracts, tax table and the AMAG site and device lists: delivered once."""
    written = []

    def put(rel: str, text: str) -> None:
        path = inbox / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)

    put("company.yaml", yaml.safe_dump({
        "name": f"Bench Security {company.scale.name}", "address": ["1 Main St", "Springfield"],
        "email": "billing@bench.example", "phone": "+15555550000", "tax_id": "00-0000000",
        "remit_to": ["Bench Security", "PO Box 1"], "timezone": "America/New_York",
    }, sort_keys=False))
    for client in company.clients:
        put(f"contracts/{client['id']}.yaml", yaml.safe_dump(_contract_document(company, client), sort_keys=False))
    tax = ["code,rate,taxable_categories,name"]
    for state in sorted(set(STATE_OF.values())):
        tax.append(f"US-{state},0.0625,{TAXED},{state} sales tax")
    put("tax/jurisdictions.csv", "\n".join(tax) + "\n")
    put("amag/sites.csv", "CompanyID,site_id,timezone\n" + "".join(
        f"{s['company_id']},{s['id']},{s['timezone']}\n" for s in company.sites))
    active = (company.first_day - timedelta(days=60)).isoformat()
    put("amag/devices.csv", "DeviceID,DeviceName,DeviceType,CompanyID,ControllerName,ActiveDateTime,"
        "InactiveDateTime\n" + "".join(
            f"{d['DeviceID']},{d['DeviceName']},{d['DeviceType']},{d['CompanyID']},ctl-{d['CompanyID']},"
            f"{active} 00:00:00.000,NULL\n" for d in company.devices))
    return written


def _iso(instant: datetime) -> str:
    return instant.isoformat(timespec="seconds")


def _drift(key: str) -> timedelta:
    """A stable drift of -7..+7 minutes and some seconds, from the key."""
    value = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big")
    return timedelta(minutes=value % 15 - 7, seconds=(value >> 8) % 60)


def _shift(company: Company, slot: Slot, number: int, day: date, correction: bool = False) -> dict | None:
    """The shift a slot works on `day` (None on the worker's day off is never: the relief works)."""
    weekday = (day.weekday() + slot.offset) % 7
    guard = slot.relief if weekday >= 5 else slot.primary
    zone = ZoneInfo(slot.timezone)
    start = datetime(day.year, day.month, day.day, slot.hour, tzinfo=zone)
    end = start + timedelta(hours=8)
    shift_id = f"SH-{day:%Y%m%d}-{number:06d}"
    check_in = start + _drift(shift_id + "in")
    check_out = end + _drift(shift_id + "out")
    if correction:
        check_out = end + timedelta(minutes=30)  # the guard stayed on: the supervisor corrects it
    return {
        "shift_id": shift_id, "guard_id": guard, "guard_name": f"Guard {guard[2:]}", "site_id": slot.site_id,
        "service_type": slot.service_type, "post": f"post-{slot.hour:02d}",
        "scheduled_start": _iso(start), "scheduled_end": _iso(end),
        "check_in": _iso(check_in), "check_out": _iso(check_out),
    }


TIMESHEET_COLUMNS = ["shift_id", "guard_id", "guard_name", "site_id", "service_type", "post", "scheduled_start",
                     "scheduled_end", "check_in", "check_out"]


def _csv(columns: list[str], rows: list[dict]) -> str:
    return ",".join(columns) + "\n" + "".join(",".join(str(r[c]) for c in columns) + "\n" for r in rows)


def write_day(company: Company, inbox: Path, day: date) -> list[Path]:
    """The files of one business day: timesheets, patrol tours, incidents, access events,
    plus corrections of a few earlier shifts (in the same timesheet file)."""
    rng = random.Random(f"{company.seed}:{day.isoformat()}")
    shifts = [_shift(company, slot, n, day) for n, slot in enumerate(company.slots)]
    back = (day - company.first_day).days
    if back >= 3:
        for _ in range(company.scale.corrections_per_day):
            earlier = day - timedelta(days=rng.randrange(3, min(back, 10) + 1))
            number = rng.randrange(len(company.slots))
            shifts.append(_shift(company, company.slots[number], number, earlier, correction=True))
    written = []

    def put(rel: str, text: str) -> None:
        path = inbox / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)

    put(f"timesheets/timesheets-{day}.csv", _csv(TIMESHEET_COLUMNS, shifts))
    tours = []
    for shift in shifts[:len(company.slots)]:
        if shift["service_type"] != "patrol":
            continue
        begin = datetime.fromisoformat(shift["scheduled_start"])
        for k in range(2):
            started = begin + timedelta(hours=1 + 4 * k, minutes=5)
            tours.append({"tour_id": f"T-{shift['shift_id'][3:]}-{k}", "site_id": shift["site_id"],
                          "guard_id": shift["guard_id"], "started_at": _iso(started),
                          "completed_at": _iso(started + timedelta(minutes=40)), "checkpoints_required": 8,
                          "checkpoints_scanned": 8})
    put(f"patrols/patrols-{day}.csv", _csv(["tour_id", "site_id", "guard_id", "started_at", "completed_at",
                                            "checkpoints_required", "checkpoints_scanned"], tours))
    incidents = []
    count = round(len(company.sites) * company.scale.incidents_per_site_day)
    day_shifts = [s for s in shifts[:len(company.slots)] if s["post"] == "post-06"]
    for k in range(count):
        shift = day_shifts[rng.randrange(len(day_shifts))]
        started = datetime.fromisoformat(shift["scheduled_start"]) + timedelta(hours=2, minutes=rng.randrange(240))
        incidents.append({"incident_id": f"IN-{day:%Y%m%d}-{k:05d}", "site_id": shift["site_id"],
                          "classification": "alarm_response", "opened_at": _iso(started - timedelta(minutes=3)),
                          "response_started_at": _iso(started),
                          "response_ended_at": _iso(started + timedelta(minutes=20 + rng.randrange(40))),
                          "responder_guard_id": shift["guard_id"], "description": "alarm"})
    put(f"incidents/incidents-{day}.csv", _csv(["incident_id", "site_id", "classification", "opened_at",
                                                "response_started_at", "response_ended_at",
                                                "responder_guard_id", "description"], incidents))
    put(f"amag/ActivityDataView_{day:%Y%m%d}.csv", _access_events(company, day, rng))
    return written


def _access_events(company: Company, day: date, rng: random.Random) -> str:
    """AMAG ActivityDataView rows as SSMS saves them: site-local wall time, NULL for empty."""
    devices = company.devices
    base = (day - company.first_day).days * company.scale.events_per_day
    lines = ["TxnID,DateTimeOfTxn,CompanyID,CompanyName,WhereName,TxnConditionName,AlarmPriority,FirstName,"
             "LastName,CustomerCodeNumber,CardNumber\n"]
    conditions = ("Card Valid", "Card Valid", "Card Valid", "Door Secure", "Door Held Open", "Card Invalid")
    for k in range(company.scale.events_per_day):
        device = devices[(k * 7919 + base) % len(devices)]
        second = rng.randrange(86400)
        # 01:00-02:59 is skipped: the DST changes' missing and repeated hours are not this benchmark's subject
        hour = 3 + second // 3600 % 21
        lines.append(f"{900000000 + base + k},{day} {hour:02d}:{second // 60 % 60:02d}:{second % 60:02d}.000,"
                     f"{device['CompanyID']},Company {device['CompanyID']},{device['DeviceName']},"
                     f"{conditions[k % len(conditions)]},0,NULL,NULL,NULL,{100000 + k % 5000}\n")
    return "".join(lines)


def write_history(company: Company, inbox: Path, days: int) -> list[Path]:
    """Everything delivered on the company's first `days` days."""
    written = write_static(company, inbox)
    for n in range(days):
        written += write_day(company, inbox, company.first_day + timedelta(days=n))
    return written


def main() -> None:
    """`python benchmarks/pipeline_company.py --scale M --days 30 --out INBOX`: write a company's inbox."""
    import argparse
    from dataclasses import replace

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="S")
    parser.add_argument("--days", type=int, default=30, help="days of history from the first day")
    parser.add_argument("--first-day", type=date.fromisoformat, default=FIRST_DAY)
    parser.add_argument("--events-per-day", type=int, default=None)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    scale = SCALES[args.scale] if args.events_per_day is None else replace(SCALES[args.scale],
                                                                          events_per_day=args.events_per_day)
    company = build_company(scale, args.first_day)
    files = write_history(company, args.out, args.days)
    print(f"{len(files)} files for {len(company.sites)} sites, {company.guards} guards, "
          f"{company.shifts_per_day()} shifts a day, {len(company.devices)} devices, "
          f"{scale.events_per_day} access events a day, {args.first_day} .. "
          f"{args.first_day + timedelta(days=args.days - 1)}")


if __name__ == "__main__":
    main()
