"""One consistent simulated security company, independent of any export format.

`build_world(...)` returns a `World`: clients, sites, guards, contracts, devices, guard
shifts, patrol tours with checkpoint scans, incidents with their responders, and the
device events (camera and door) around each incident and each guard's badge-in. Every
entity is a plain frozen dataclass; writers (the generic inbox in `generic.py`, later
Genetec, Milestone, Avigilon, Lenel, AMAG, TrackTik or CRM writers) render the same world
in their own formats, so their outputs agree with each other.

Deterministic: everything comes from one `random.Random(seed)` consumed in a fixed order;
no global state, no wall clock. Instants are timezone-aware `datetime`s in UTC; render
them in a site's zone with `World.local(...)`.

Invariants (tested in tests/simulator):
- a guard's shifts never overlap and check-out is after check-in (the one planted open
  shift has no check-out);
- every patrol shift holds at least one tour by its guard at its site, every scan lies
  inside the tour and the tour inside the shift (except the planted shift without tours);
- an incident's responder is a guard on shift at the incident's site when the response
  starts; every incident has camera and door events around it;
- the first three sites run each video system (Genetec, Milestone, Avigilon) and each
  access system (Lenel, AMAG, Genetec) once, so every vendor export has data.

Planted problems that belong to the world (not to one export format) are listed in
`World.planted`; writers add their own (quarantine rows) on top.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from random import Random
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_END = date(2026, 10, 31)  # the demo's fixed last day, so `vigil demo` is reproducible

TIMEZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]
STATE_OF_TZ = {"America/New_York": "NY", "America/Chicago": "IL", "America/Denver": "CO",
               "America/Los_Angeles": "CA"}
SERVICE_TYPES = ("unarmed", "armed", "patrol")
DEVICE_TYPES = ("camera", "door_reader", "panel")
# Canonical device event types (the Lenel and AMAG connectors use the same door vocabulary).
CAMERA_EVENTS = ("motion_start", "motion_end")
DOOR_EVENTS = ("access_granted", "door_forced", "door_held", "door_closed")
PANEL_EVENTS = ("fire_alarm", "tamper")
INCIDENT_CLASSES = ("alarm_response", "trespass", "medical", "fire_alarm")
VIDEO_VENDORS = ("genetec", "milestone", "avigilon")
ACCESS_VENDORS = ("lenel", "amag", "genetec")
# Planted, not a service any contract prices: parses fine, billing raises missing_rate.
UNKNOWN_SERVICE_TYPE = "k9_unit"


# --------------------------------------------------------------------------- entities


@dataclass(frozen=True)
class Client:
    client_id: str
    name: str
    email: str
    phone: str
    preferred_channel: str  # email | sms | portal
    autopay: bool
    payment_method: str | None
    grouping: str  # consolidated | per_site
    site_ids: tuple[str, ...]
    crm_account_id: str  # a CRM-style account number, for CRM writers


@dataclass(frozen=True)
class Site:
    site_id: str
    client_id: str
    name: str
    timezone: str
    state: str  # US state, e.g. NY
    city: str
    tax_jurisdiction: str
    video_vendor: str
    access_vendor: str
    amag_company_id: int  # AMAG Symmetry CompanyID
    tracktik_site_id: int  # TrackTik client (site) id
    checkpoints: tuple[str, ...]  # patrol route checkpoint names (empty: no patrol)


@dataclass(frozen=True)
class Guard:
    guard_id: str
    first_name: str
    last_name: str
    qualifications: tuple[str, ...]  # service types the guard may work
    role: str  # primary | relief | floater | patrol
    tracktik_employee_id: int
    badge_id: int

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class Rate:
    service_type: str
    rate: Decimal
    site_id: str | None = None


@dataclass(frozen=True)
class IncidentPrice:
    flat_fee: Decimal
    included_minutes: int
    hourly_rate: Decimal


@dataclass(frozen=True)
class RecurringItem:
    code: str
    category: str  # monitoring | equipment_rental | service_fee
    site_id: str
    amount: Decimal


@dataclass(frozen=True)
class Discount:
    percent: Decimal
    categories: tuple[str, ...]
    cycles: int


@dataclass(frozen=True)
class DeviceFee:
    device_type: str
    monthly_fee: Decimal
    site_id: str | None = None


@dataclass(frozen=True)
class Contract:
    contract_id: str
    client_id: str
    kind: str  # guarding | monitoring
    start_date: date
    end_date: date
    billing_cycle: str  # daily | weekly | biweekly | monthly | quarterly | semiannual | annual
    auto_renew: bool = False
    cycle_anchor: date | None = None
    payment_terms_days: int = 30
    issue_lead_days: int | None = None
    increment_minutes: int = 15
    basis: str = "actual"
    rates: tuple[Rate, ...] = ()
    overtime: dict[str, Any] | None = None
    holidays: dict[str, Any] | None = None
    incidents: dict[str, IncidentPrice] = field(default_factory=dict)
    patrol_visit_fee: Decimal | None = None
    recurring: tuple[RecurringItem, ...] = ()
    per_device: tuple[DeviceFee, ...] = ()
    discounts: tuple[Discount, ...] = ()


@dataclass(frozen=True)
class Device:
    device_id: str
    site_id: str
    device_type: str  # camera | door_reader | panel
    name: str
    vendor: str
    vendor_ref: str  # the vendor's own id: GUID, opaque string or integer as text
    controller_ref: str | None  # the panel/controller a reader hangs off (access systems)
    active_from: date
    active_to: date | None = None

    def active_on(self, day: date) -> bool:
        return self.active_from <= day and (self.active_to is None or day <= self.active_to)


@dataclass(frozen=True)
class Shift:
    shift_id: str
    guard_id: str
    site_id: str
    service_type: str
    post: str
    scheduled_start: datetime
    scheduled_end: datetime
    check_in: datetime
    check_out: datetime | None  # None: the guard never checked out (open shift)


@dataclass(frozen=True)
class CheckpointScan:
    scan_id: str
    tour_id: str
    checkpoint: str
    scanned_at: datetime


@dataclass(frozen=True)
class PatrolTour:
    tour_id: str
    site_id: str
    guard_id: str
    shift_id: str
    started_at: datetime
    completed_at: datetime
    checkpoints_required: int
    scans: tuple[CheckpointScan, ...]

    @property
    def checkpoints_scanned(self) -> int:
        return len(self.scans)


@dataclass(frozen=True)
class Incident:
    incident_id: str
    site_id: str
    classification: str
    opened_at: datetime
    response_started_at: datetime
    response_ended_at: datetime
    responder_guard_id: str | None
    responder_shift_id: str | None
    description: str
    trigger_device_id: str | None
    priority: int  # 1 (highest) .. 5
    alarm_ref: str  # the alarm's id in the site's video/access system


@dataclass(frozen=True)
class DeviceEvent:
    event_id: str
    device_id: str
    site_id: str
    event_type: str
    occurred_at: datetime
    incident_id: str | None = None
    guard_id: str | None = None  # the badge holder, for access events


@dataclass(frozen=True)
class Redelivery:
    """A record the source system exported again later, as `record` (same id; same or
    different content). Writers put it in a later file than the original."""

    kind: str  # shift
    record: Shift
    after: date  # deliver in a file later than this site-local date
    changed: bool


@dataclass(frozen=True)
class Planted:
    """A problem put into the data on purpose, with what the pipeline should make of it."""

    kind: str
    source: str
    record_id: str
    expect: str  # the finding type or `quarantine`
    note: str
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class TaxRow:
    code: str
    rate: Decimal
    categories: tuple[str, ...]
    name: str


@dataclass
class World:
    seed: int
    start: date
    end: date
    clients: list[Client]
    sites: list[Site]
    guards: list[Guard]
    contracts: list[Contract]
    devices: list[Device]
    shifts: list[Shift]
    tours: list[PatrolTour]
    incidents: list[Incident]
    device_events: list[DeviceEvent]
    tax_rows: list[TaxRow]
    redeliveries: list[Redelivery]
    planted: list[Planted]

    def site(self, site_id: str) -> Site:
        return self._index("sites", "site_id")[site_id]

    def guard(self, guard_id: str) -> Guard:
        return self._index("guards", "guard_id")[guard_id]

    def client(self, client_id: str) -> Client:
        return self._index("clients", "client_id")[client_id]

    def device(self, device_id: str) -> Device:
        return self._index("devices", "device_id")[device_id]

    def shift(self, shift_id: str) -> Shift:
        return self._index("shifts", "shift_id")[shift_id]

    def zone(self, site_id: str) -> ZoneInfo:
        return ZoneInfo(self.site(site_id).timezone)

    def local(self, instant: datetime, site_id: str) -> datetime:
        """The instant as the site's local time, with its offset."""
        return instant.astimezone(self.zone(site_id))

    def incident_vendor(self, incident: Incident) -> str:
        """The system that raised an incident: its trigger device's, or the site's video system
        when nothing triggered it (an operator raises a medical call on a camera)."""
        if incident.trigger_device_id:
            return self.device(incident.trigger_device_id).vendor
        return self.site(incident.site_id).video_vendor

    def access_sites(self, vendor: str) -> list[Site]:
        """The sites whose access control is `vendor`'s."""
        return [s for s in self.sites if s.access_vendor == vendor]

    def access_devices(self, vendor: str) -> list[Device]:
        """The panels and door readers of `vendor`'s access sites (their cameras belong to the
        video system)."""
        sites = {s.site_id for s in self.access_sites(vendor)}
        return [d for d in self.devices
                if d.site_id in sites and d.vendor == vendor and d.device_type in ("panel", "door_reader")]

    def devices_at(self, site_id: str, device_type: str | None = None) -> list[Device]:
        return [d for d in self.devices
                if d.site_id == site_id and (device_type is None or d.device_type == device_type)]

    def planted_ids(self, kind: str | None = None) -> set[str]:
        return {p.record_id for p in self.planted if kind is None or p.kind == kind}

    def counts(self) -> dict[str, int]:
        return {
            "clients": len(self.clients), "sites": len(self.sites), "guards": len(self.guards),
            "contracts": len(self.contracts), "devices": len(self.devices), "shifts": len(self.shifts),
            "patrol_tours": len(self.tours), "checkpoint_scans": sum(len(t.scans) for t in self.tours),
            "incidents": len(self.incidents), "device_events": len(self.device_events),
        }

    def _index(self, attr: str, key: str) -> dict[str, Any]:
        cache = self.__dict__.setdefault("_cache", {})
        if attr not in cache or len(cache[attr]) != len(getattr(self, attr)):
            cache[attr] = {getattr(x, key): x for x in getattr(self, attr)}
        return cache[attr]


# --------------------------------------------------------------------------- reference data

CLIENT_NAMES = [  # (legal name, mail domain, short name used in site names)
    ("Harbor Logistics LLC", "harborlogistics", "Harbor"),
    ("Prairie Medical Center", "prairiemed", "Prairie"),
    ("Front Range Data Centers", "frontrangedc", "Front Range"),
    ("Pacific Crest Retail Group", "pacificcrest", "Pacific Crest"),
    ("Lakeshore Property Management", "lakeshorepm", "Lakeshore"),
    ("Summit Manufacturing Co", "summitmfg", "Summit"),
    ("Bayview Apartments", "bayviewapts", "Bayview"),
    ("Granite Financial Services", "granitefin", "Granite"),
]
CITY_OF_TZ = {"America/New_York": "New York", "America/Chicago": "Chicago", "America/Denver": "Denver",
              "America/Los_Angeles": "Los Angeles"}
SITE_KINDS = ["Terminal", "Distribution Center", "Main Campus", "Parking Structure", "Data Hall", "Flagship Store",
              "Outlet", "Warehouse", "Tower Lobby", "Loading Dock", "Clinic", "Plant"]
FIRST_NAMES = ["Ana", "Marcus", "Dana", "Luis", "Keisha", "Tom", "Priya", "Sam", "Jordan", "Mei", "Omar", "Grace",
               "Victor", "Rosa", "Derek", "Nia", "Ivan", "Leah", "Carlos", "Tanya", "Ben", "Aisha", "Hector", "Erin",
               "Malik", "Sofia", "Wes", "Joy", "Andre", "Kim"]
LAST_NAMES = ["Ruiz", "Okafor", "Kowalski", "Nguyen", "Brooks", "Patel", "Romero", "Fischer", "Haddad", "Chen",
              "Walker", "Silva", "Murphy", "Adeyemi", "Novak", "Garcia", "Lindqvist", "Baptiste", "Ortiz", "Kim"]
CHECKPOINT_NAMES = ["North Gate", "Loading Dock A", "Loading Dock B", "Generator Room", "Roof Access", "Stairwell 3",
                    "Parking Level 2", "Parking Level 3", "East Fence", "West Fence", "Trash Compactor", "Lobby Rear",
                    "Fuel Depot", "Guard Booth"]
HOLIDAY_NAMES = {
    "NY": ["New Year's Day", "Memorial Day", "Independence Day", "Labor Day", "Columbus Day", "Thanksgiving Day",
           "Christmas Day"],
    "IL": ["New Year's Day", "Memorial Day", "Independence Day", "Labor Day", "Columbus Day", "Thanksgiving Day",
           "Christmas Day"],
    "CO": ["New Year's Day", "Memorial Day", "Independence Day", "Labor Day", "Thanksgiving Day", "Christmas Day"],
    "CA": ["New Year's Day", "Memorial Day", "Independence Day", "Labor Day", "Thanksgiving Day",
           "Day After Thanksgiving", "Christmas Day"],
}
INCIDENT_TEXT = {
    "alarm_response": ["Door forced open alarm at {door}", "Intrusion alarm, zone {zone}", "Motion alarm on {camera}"],
    "trespass": ["Trespasser observed near {camera}", "Unauthorized vehicle in lot, {camera}"],
    "medical": ["Employee slip and fall, first aid given", "Visitor felt faint in lobby, EMS called"],
    "fire_alarm": ["Fire panel trouble signal, zone {zone}", "Smoke detector activation, zone {zone}"],
}

# Tax table: NY taxes protective and monitoring services (state + NYC); the others tax
# only equipment rental (tangible property), not guard hours.
ALL_TAXABLE = ("regular_hours", "overtime_hours", "double_time_hours", "holiday_hours", "holiday_overtime_hours",
               "special_event_hours", "minimum_shift_adjustment", "incident_fee", "incident_extended_time",
               "patrol_visit", "monitoring", "equipment_rental", "service_fee", "device_monitoring")
TAX_ROWS = [
    TaxRow("US-NY", Decimal("0.04"), ALL_TAXABLE, "New York State sales tax"),
    TaxRow("US-NY", Decimal("0.04875"), ALL_TAXABLE, "New York City sales tax"),
    TaxRow("US-IL", Decimal("0.0625"), ("equipment_rental",), "Illinois state sales tax"),
    TaxRow("US-IL", Decimal("0.09"), ("equipment_rental",), "Chicago personal property lease tax"),
    TaxRow("US-CO", Decimal("0.029"), ("equipment_rental",), "Colorado state sales tax"),
    TaxRow("US-CO", Decimal("0.01"), ("equipment_rental",), "Regional Transportation District tax"),
    TaxRow("US-CA", Decimal("0.0725"), ("equipment_rental",), "California state sales tax"),
]

# Post templates: (post name, service type, start HH:MM, hours, weekdays (0=Mon)).
ALL_WEEK = (0, 1, 2, 3, 4, 5, 6)
WEEKDAYS = (0, 1, 2, 3, 4)
SITE_PROFILES: dict[str, list[tuple[str, str, str, int, tuple[int, ...]]]] = {
    "24x7-8": [("Main Gate - Day", "unarmed", "07:00", 8, ALL_WEEK),
               ("Main Gate - Swing", "unarmed", "15:00", 8, ALL_WEEK),
               ("Main Gate - Night", "unarmed", "23:00", 8, ALL_WEEK)],
    "24x7-12": [("Console - Day", "unarmed", "06:00", 12, ALL_WEEK),
                ("Console - Night", "unarmed", "18:00", 12, ALL_WEEK)],
    "24x7-12-armed": [("Armed Post - Day", "armed", "06:00", 12, ALL_WEEK),
                      ("Armed Post - Night", "armed", "18:00", 12, ALL_WEEK)],
    "business": [("Lobby Desk", "unarmed", "08:00", 10, WEEKDAYS)],
    "business-armed": [("Cash Office", "armed", "08:00", 10, WEEKDAYS)],
    "retail-7": [("Store Entrance", "unarmed", "09:00", 10, ALL_WEEK)],
    "short-day": [("Reception", "unarmed", "09:00", 8, WEEKDAYS)],
    "patrol": [("Mobile Patrol", "patrol", "20:00", 8, ALL_WEEK)],
}


@dataclass(frozen=True)
class _SiteSpec:
    tz: str
    kind: str
    profiles: tuple[str, ...]


@dataclass(frozen=True)
class _ClientSpec:
    sites: tuple[_SiteSpec, ...]
    cycle: str
    overtime: dict[str, Any]
    rates: dict[str, str]
    incidents: dict[str, tuple[str, int, str]]
    patrol_visit_fee: str | None
    autopay: bool
    payment_method: str | None
    grouping: str
    channel: str
    increment: int
    monitoring_discount: tuple[str, tuple[str, ...], int] | None
    per_device: tuple[tuple[str, str], ...]
    guard_months_before: int
    monitoring_months_before: int


WEEKLY_OT = {"policy": "weekly", "weekly_hours": 40, "multiplier": "1.5"}
DAILY_OT = {"policy": "daily", "daily_hours": 8, "multiplier": "1.5"}

# The first four clients are fixed so the demo always shows every feature; more are drawn.
FIXED_CLIENTS = [
    _ClientSpec(
        sites=(_SiteSpec("America/New_York", "Terminal 4", ("24x7-8", "business-armed")),
               _SiteSpec("America/New_York", "Distribution Center", ("business",))),
        cycle="weekly", overtime=WEEKLY_OT, rates={"unarmed": "32.00", "armed": "41.50"},
        incidents={"alarm_response": ("75.00", 30, "45.00"), "medical": ("50.00", 0, "45.00")},
        patrol_visit_fee=None, autopay=True, payment_method="pm_card_visa", grouping="consolidated",
        channel="email", increment=15, monitoring_discount=("10", ("monitoring",), 3),
        per_device=(("door_reader", "6.00"),), guard_months_before=9, monitoring_months_before=0),
    _ClientSpec(
        sites=(_SiteSpec("America/Chicago", "Main Campus", ("24x7-12",)),
               _SiteSpec("America/Chicago", "Parking Structure", ("patrol",))),
        cycle="biweekly", overtime=WEEKLY_OT, rates={"unarmed": "29.00", "armed": "38.00"},
        incidents={"alarm_response": ("65.00", 30, "42.00"), "trespass": ("40.00", 15, "42.00")},
        patrol_visit_fee="28.00", autopay=True, payment_method="pm_card_chargeCustomerFail",
        grouping="consolidated", channel="portal", increment=15, monitoring_discount=None, per_device=(),
        guard_months_before=4, monitoring_months_before=6),
    _ClientSpec(
        sites=(_SiteSpec("America/Denver", "Data Hall", ("24x7-12-armed",)),),
        cycle="monthly", overtime=WEEKLY_OT, rates={"armed": "44.00", "unarmed": "33.00"},
        incidents={}, patrol_visit_fee=None, autopay=True, payment_method=None, grouping="consolidated",
        channel="sms", increment=30, monitoring_discount=("15", ("equipment_rental",), 2), per_device=(),
        guard_months_before=2, monitoring_months_before=1),
    _ClientSpec(
        sites=(_SiteSpec("America/Los_Angeles", "Flagship Store", ("retail-7",)),
               _SiteSpec("America/Los_Angeles", "Outlet", ("business", "patrol")),
               _SiteSpec("America/Denver", "Boulder Store", ("short-day",))),
        cycle="weekly", overtime=DAILY_OT, rates={"unarmed": "30.00", "armed": "39.00"},
        incidents={"alarm_response": ("70.00", 30, "40.00"), "medical": ("45.00", 0, "40.00"),
                   "trespass": ("35.00", 15, "40.00")},
        patrol_visit_fee="24.00", autopay=True, payment_method="pm_card_visa", grouping="per_site",
        channel="email", increment=15, monitoring_discount=None, per_device=(("camera", "4.50"),),
        guard_months_before=7, monitoring_months_before=3),
]


# --------------------------------------------------------------------------- helpers


def _guid(rng: Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _opaque(rng: Random, n: int = 35) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(n))


def alarm_definition_id(vendor: str, site_id: str, classification: str) -> str:
    """The id a video system gives the alarm (definition) that raises `classification` alarms at a
    site: an opaque string, as Avigilon's are. Derived from the names, so it draws nothing from
    the world's random stream."""
    digest = hashlib.sha256(f"{vendor}/alarm/{site_id}/{classification}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


def alarm_ref(vendor: str, site_id: str, classification: str, opened: datetime, number: int) -> str:
    """The alarm's id in the system that raised it: a number for Genetec (InstanceId), Milestone
    (localId) and the access systems; for Avigilon, whose alarm history gives an activation no
    id of its own, the alarm's id and the trigger instant (`<alarm id>@<UTC, ms>`)."""
    if vendor == "avigilon":
        at = opened.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return f"{alarm_definition_id(vendor, site_id, classification)}@{at}"
    return str(number)


def _months_before(day: date, months: int) -> date:
    """The first of the month `months` before `day`'s month."""
    y, m = day.year, day.month - months
    while m <= 0:
        m += 12
        y -= 1
    return date(y, m, 1)


def _term_end(start: date, must_cover: date) -> date:
    years = 1
    while True:
        end = date(start.year + years, start.month, start.day) - timedelta(days=1)
        if end >= must_cover:
            return end
        years += 1


def _local(day: date, hhmm: str, tz: str) -> datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, time(h, m), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def _jitter_in(rng: Random) -> timedelta:
    r = rng.random()
    if r < 0.7:
        minutes = rng.randint(-6, 6)
    elif r < 0.85:
        minutes = rng.randint(-20, -8)  # early: rounds to the earlier quarter or not, depending
    else:
        minutes = rng.randint(8, 22)  # late
    return timedelta(minutes=minutes, seconds=rng.randint(0, 59))


def _jitter_out(rng: Random) -> timedelta:
    r = rng.random()
    if r < 0.75:
        minutes = rng.randint(-3, 10)
    elif r < 0.85:
        minutes = rng.randint(-15, -8)
    else:
        minutes = rng.randint(8, 25)
    return timedelta(minutes=minutes, seconds=rng.randint(0, 59))


def _local_date(instant: datetime, tz: str) -> date:
    return instant.astimezone(ZoneInfo(tz)).date()


# --------------------------------------------------------------------------- builder


def build_world(*, days: int = 35, clients: int = 4, seed: int = 7, end: date | None = None) -> World:
    """The simulated company for the `days` days ending on `end` (default DEFAULT_END)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    if clients < 1:
        raise ValueError("clients must be at least 1")
    end = end or DEFAULT_END
    start = end - timedelta(days=days - 1)
    return _Builder(Random(seed), seed, start, end, clients).build()


class _Builder:
    def __init__(self, rng: Random, seed: int, start: date, end: date, n_clients: int):
        self.rng, self.seed, self.start, self.end, self.n_clients = rng, seed, start, end, n_clients
        self.clients: list[Client] = []
        self.sites: list[Site] = []
        self.guards: list[Guard] = []
        self.contracts: list[Contract] = []
        self.devices: list[Device] = []
        self.planted: list[Planted] = []
        self.redeliveries: list[Redelivery] = []
        self.lines: list[tuple[Site, tuple[str, str, str, int, tuple[int, ...]], dict[int, str]]] = []
        self.floaters: dict[str, list[str]] = {}  # client_id -> guard ids
        self._names: set[tuple[str, str]] = set()
        self._amag_company = 2
        self._tracktik_site = 30100
        self._lenel_panel = 1
        self._amag_device = 5000

    # ---- entities
    def build(self) -> World:
        for i in range(self.n_clients):
            self._client(i)
        self._device_changes()
        shifts = self._schedule()
        shifts = self._plant_shifts(shifts)
        tours = self._tours(shifts)
        incidents, events = self._incidents(shifts)
        events += self._badge_events(shifts)
        events.sort(key=lambda e: (e.occurred_at, e.device_id, e.event_type))
        events = [replace(e, event_id=f"EV-{700001 + n}") for n, e in enumerate(events)]
        return World(
            seed=self.seed, start=self.start, end=self.end, clients=self.clients, sites=self.sites,
            guards=self.guards, contracts=self.contracts, devices=self.devices, shifts=shifts, tours=tours,
            incidents=incidents, device_events=events, tax_rows=list(TAX_ROWS), redeliveries=self.redeliveries,
            planted=self.planted,
        )

    def _spec(self, i: int) -> _ClientSpec:
        if i < len(FIXED_CLIENTS):
            return FIXED_CLIENTS[i]
        rng = self.rng
        tz = TIMEZONES[i % len(TIMEZONES)]
        n_sites = rng.randint(1, 3)
        sites = tuple(
            _SiteSpec(tz, rng.choice(SITE_KINDS),
                      (rng.choice(["24x7-8", "24x7-12", "business", "retail-7", "short-day"]),)
                      + (("patrol",) if rng.random() < 0.3 else ()))
            for _ in range(n_sites)
        )
        has_patrol = any("patrol" in s.profiles for s in sites)
        base = Decimal(rng.choice(["28.00", "30.00", "31.50", "34.00"]))
        return _ClientSpec(
            sites=sites, cycle=rng.choice(["weekly", "biweekly", "monthly"]),
            overtime=DAILY_OT if STATE_OF_TZ[tz] == "CA" else WEEKLY_OT,
            rates={"unarmed": str(base), "armed": str(base + Decimal("9.00"))},
            incidents={"alarm_response": ("70.00", 30, "42.00")} if rng.random() < 0.6 else {},
            patrol_visit_fee="26.00" if has_patrol else None,
            autopay=(autopay := rng.random() < 0.5),
            payment_method="pm_card_visa" if autopay or rng.random() < 0.3 else None,
            grouping=rng.choice(["consolidated", "per_site"]), channel=rng.choice(["email", "sms", "portal"]),
            increment=15, monitoring_discount=None, per_device=(),
            guard_months_before=rng.randint(1, 11), monitoring_months_before=rng.randint(0, 11),
        )

    def _client(self, i: int) -> None:
        rng = self.rng
        spec = self._spec(i)
        cid = f"C-{1001 + i}"
        base_name, domain, brand = CLIENT_NAMES[i % len(CLIENT_NAMES)]
        name = base_name if i < len(CLIENT_NAMES) else f"{base_name} {i // len(CLIENT_NAMES) + 1}"
        site_ids = []
        client_sites = []
        for j, s in enumerate(spec.sites):
            sid = f"S-{(i + 1) * 100 + j + 1}"
            site_ids.append(sid)
            state = STATE_OF_TZ[s.tz]
            patrol = "patrol" in s.profiles
            video_vendor, access_vendor = self._vendors()
            site = Site(
                site_id=sid, client_id=cid, name=f"{brand} {s.kind}", timezone=s.tz, state=state,
                city=CITY_OF_TZ[s.tz] if s.kind != "Boulder Store" else "Boulder", tax_jurisdiction=f"US-{state}",
                video_vendor=video_vendor, access_vendor=access_vendor,
                amag_company_id=self._amag_company, tracktik_site_id=self._tracktik_site,
                checkpoints=tuple(rng.sample(CHECKPOINT_NAMES, rng.randint(6, 9))) if patrol else (),
            )
            self._amag_company += 1
            self._tracktik_site += rng.randint(3, 40)
            self.sites.append(site)
            client_sites.append(site)
            self._devices(site, spec)
            for profile in s.profiles:
                for template in SITE_PROFILES[profile]:
                    self._line(site, template)
        self.clients.append(Client(
            client_id=cid, name=name, email=f"ap@{domain}.example", phone=f"+1555555{100 + i:04d}",
            preferred_channel=spec.channel, autopay=spec.autopay,
            payment_method=spec.payment_method,
            grouping=spec.grouping, site_ids=tuple(site_ids), crm_account_id=f"ACCT-{40000 + rng.randint(100, 999)}",
        ))
        if spec.autopay and not spec.payment_method:
            self.planted.append(Planted("autopay_without_payment_method", "contracts", cid, "missing_payment_method",
                                        "client has autopay: true and no payment_method"))
        # floater: covers call-outs at this client's sites, qualified for everything posted there
        quals = sorted({t[1] for s in spec.sites for p in s.profiles for t in SITE_PROFILES[p]} | {"unarmed"})
        self.floaters[cid] = [self._guard(tuple(quals), "floater").guard_id]
        self._contracts(cid, spec, client_sites)

    def _vendors(self) -> tuple[str, str]:
        """The video and access systems of the next site: drawn, except that the first sites
        run each system in turn, so any world of three or more sites (the demo's has eight)
        holds every video vendor and every access vendor at least once."""
        video, access = self.rng.choice(VIDEO_VENDORS), self.rng.choice(ACCESS_VENDORS)
        n = len(self.sites)
        if n < len(VIDEO_VENDORS):
            video = VIDEO_VENDORS[n]
        if n < len(ACCESS_VENDORS):
            access = ACCESS_VENDORS[n]
        return video, access

    def _guard(self, quals: tuple[str, ...], role: str) -> Guard:
        rng = self.rng
        while True:
            name = (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
            if name not in self._names:
                break
        self._names.add(name)
        g = Guard(guard_id=f"G-{1001 + len(self.guards)}", first_name=name[0], last_name=name[1],
                  qualifications=quals, role=role, tracktik_employee_id=4200 + len(self.guards) * 7 + rng.randint(0, 6),
                  badge_id=100200 + rng.randint(0, 899) + len(self.guards) * 1000)
        self.guards.append(g)
        return g

    def _line(self, site: Site, template: tuple[str, str, str, int, tuple[int, ...]]) -> None:
        """One post slot and the guards who cover it: a primary and, for 7-day posts, a relief.
        12 h and 10 h primaries work 4-5 days, so they pass 40 h a week: overtime happens."""
        _, service, _, hours, weekdays = template
        quals = (service,) if service != "armed" else ("armed", "unarmed")
        role = "patrol" if service == "patrol" else "primary"
        primary = self._guard(quals, role)
        if weekdays == WEEKDAYS:
            by_day = {d: primary.guard_id for d in weekdays}
        else:
            relief = self._guard(quals, "relief" if service != "patrol" else "patrol")
            primary_days = (0, 1, 2, 3) if hours >= 10 else (0, 1, 2, 3, 4)
            by_day = {d: (primary.guard_id if d in primary_days else relief.guard_id) for d in weekdays}
        self.lines.append((site, template, by_day))

    def _devices(self, site: Site, spec: _ClientSpec) -> None:
        rng = self.rng
        installed = self._months_before_start(max(spec.monitoring_months_before, 1) + 6)
        n = len([d for d in self.devices if d.site_id == site.site_id])

        def add(kind: str, name: str, vendor: str, ref: str, controller: str | None) -> Device:
            nonlocal n
            n += 1
            d = Device(device_id=f"D-{site.site_id[2:]}-{n:02d}", site_id=site.site_id, device_type=kind, name=name,
                       vendor=vendor, vendor_ref=ref, controller_ref=controller, active_from=installed)
            self.devices.append(d)
            return d

        def ref(vendor: str, kind: str) -> str:
            if vendor in ("genetec", "milestone"):
                return _guid(rng)
            if vendor == "avigilon":
                return _opaque(rng)
            if vendor == "amag":
                self._amag_device += rng.randint(1, 9)
                return str(self._amag_device)
            return ""  # lenel: set below

        for c in range(rng.randint(2, 6)):
            add("camera", f"Camera {c + 1:02d}", site.video_vendor, ref(site.video_vendor, "camera"), None)
        panel_ref = str(self._lenel_panel) if site.access_vendor == "lenel" else ref(site.access_vendor, "panel")
        panel = add("panel", "Main Panel", site.access_vendor, panel_ref, None)
        if site.access_vendor == "lenel":
            self._lenel_panel += 1
        for r in range(rng.randint(1, 3)):
            door = ["Main Entrance", "Loading Dock Door", "Server Room", "Rear Exit"][r]
            rref = str(10 + r) if site.access_vendor == "lenel" else ref(site.access_vendor, "door_reader")
            add("door_reader", door, site.access_vendor, rref, panel.vendor_ref)

    def _device_changes(self) -> None:
        """Inventory moves inside the window: a camera installed at the first site, one
        retired at the second (device counts at a cycle's start differ from its end)."""
        if (self.end - self.start).days < 4:
            return
        mid = self.start + timedelta(days=(self.end - self.start).days // 3)
        late = self.start + timedelta(days=(2 * (self.end - self.start).days) // 3)
        for k, site in enumerate(self.sites[:2]):
            cams = [n for n, d in enumerate(self.devices) if d.site_id == site.site_id and d.device_type == "camera"]
            n = cams[-1]
            self.devices[n] = replace(self.devices[n], active_from=mid) if k == 0 else \
                replace(self.devices[n], active_to=late)

    def _months_before_start(self, months: int) -> date:
        return _months_before(self.start, months)

    def _contracts(self, cid: str, spec: _ClientSpec, sites: list[Site]) -> None:
        rng = self.rng
        g_start = self._months_before_start(spec.guard_months_before)
        services = sorted({t[1] for s in spec.sites for p in s.profiles for t in SITE_PROFILES[p]})
        rates = []
        for st in ("unarmed", "armed"):
            if st in spec.rates:
                rates.append(Rate(st, Decimal(spec.rates[st])))
        # a site-specific armed rate where armed work is posted at the first site
        if "armed" in services and cid == "C-1001":
            rates.append(Rate("armed", Decimal(spec.rates["armed"]) + Decimal("2.50"), sites[0].site_id))
        if "patrol" in services and spec.patrol_visit_fee is None:
            rates.append(Rate("patrol", Decimal(spec.rates["unarmed"]) + Decimal("4.00")))
        first_state = sites[0].state
        anchor = None
        if spec.cycle == "biweekly":
            anchor = g_start - timedelta(days=g_start.weekday())
        self.contracts.append(Contract(
            contract_id=f"K-{cid[2:]}-G", client_id=cid, kind="guarding", start_date=g_start,
            end_date=_term_end(g_start, self.end), billing_cycle=spec.cycle, auto_renew=rng.random() < 0.5,
            cycle_anchor=anchor, payment_terms_days=rng.choice([15, 30, 30, 45]), increment_minutes=spec.increment,
            basis="actual", rates=tuple(rates), overtime=dict(spec.overtime),
            holidays={"country": "US", "subdiv": first_state, "names": HOLIDAY_NAMES[first_state], "multiplier": "1.5"},
            incidents={k: IncidentPrice(Decimal(f), m, Decimal(h)) for k, (f, m, h) in spec.incidents.items()},
            patrol_visit_fee=Decimal(spec.patrol_visit_fee) if spec.patrol_visit_fee else None,
        ))
        m_start = self._months_before_start(spec.monitoring_months_before)
        recurring = []
        for s in sites:
            cams = len([d for d in self.devices if d.site_id == s.site_id and d.device_type == "camera"])
            plan, amount = rng.choice([("MON-STD", "79.00"), ("MON-GOLD", "89.00"), ("MON-VIDEO", "149.00")])
            recurring.append(RecurringItem(plan, "monitoring", s.site_id, Decimal(amount)))
            if rng.random() < 0.75:
                recurring.append(RecurringItem("CAM-RENT", "equipment_rental", s.site_id,
                                               Decimal("12.50") * cams))
        discounts = ()
        if spec.monitoring_discount:
            pct, cats, cycles = spec.monitoring_discount
            if "equipment_rental" in cats and not any(r.category == "equipment_rental" for r in recurring):
                recurring.append(RecurringItem("CAM-RENT", "equipment_rental", sites[0].site_id, Decimal("25.00")))
            discounts = (Discount(Decimal(pct), cats, cycles),)
        self.contracts.append(Contract(
            contract_id=f"K-{cid[2:]}-M", client_id=cid, kind="monitoring", start_date=m_start,
            end_date=_term_end(m_start, self.end), billing_cycle="monthly", auto_renew=True, issue_lead_days=5,
            recurring=tuple(recurring), discounts=discounts,
            per_device=tuple(DeviceFee(t, Decimal(f)) for t, f in spec.per_device),
        ))

    # ---- shifts
    def _schedule(self) -> list[Shift]:
        """Every post slot of every day, worked by its line's guard or, on a call-out, by the
        client's floater when the floater has 8 h rest on both sides."""
        rng = self.rng
        slots = []
        day = self.start
        while day <= self.end:
            for site, (post, service, hhmm, hours, weekdays), by_day in self.lines:
                if day.weekday() in weekdays:
                    s = _local(day, hhmm, site.timezone)
                    slots.append((s, s + timedelta(hours=hours), site, post, service, by_day[day.weekday()]))
            day += timedelta(days=1)
        slots.sort(key=lambda x: (x[0], x[2].site_id, x[3]))
        busy: dict[str, list[tuple[datetime, datetime]]] = {}
        for *_, gid in slots:
            busy.setdefault(gid, [])
        for s, e, _, _, _, gid in slots:
            busy[gid].append((s, e))
        shifts = []
        rest = timedelta(hours=8)
        for s, e, site, post, service, gid in slots:
            if rng.random() < 0.05:  # call-out
                floater = self.floaters[site.client_id][0]
                fb = busy.setdefault(floater, [])
                if service in self.guard_by_id(floater).qualifications and all(
                    e + rest <= bs or be + rest <= s for bs, be in fb
                ):
                    busy[gid].remove((s, e))
                    fb.append((s, e))
                    gid = floater
            shifts.append((s, e, site, post, service, gid))
        out = []
        for s, e, site, post, service, gid in shifts:
            check_in = s + _jitter_in(rng)
            check_out = e + _jitter_out(rng)
            out.append(Shift("", gid, site.site_id, service, post, s, e, check_in, check_out))
        return out

    def guard_by_id(self, gid: str) -> Guard:
        return next(g for g in self.guards if g.guard_id == gid)

    def _renumber(self, shifts: list[Shift]) -> list[Shift]:
        shifts.sort(key=lambda x: (x.scheduled_start, x.site_id, x.post, x.guard_id))
        return [replace(sh, shift_id=f"SH-{100001 + n}") for n, sh in enumerate(shifts)]

    def _free(self, shifts: list[Shift], gid: str, s: datetime, e: datetime, rest: timedelta) -> bool:
        return all(e + rest <= x.scheduled_start or x.scheduled_end + rest <= s for x in shifts if x.guard_id == gid)

    def _plant_shifts(self, shifts: list[Shift]) -> list[Shift]:
        """World-level planted problems on shifts; ids are final after this."""
        first = self.sites[0]
        # an extra service no contract prices, worked by the first client's floater
        floater = self.floaters[first.client_id][0]
        day = self.start + timedelta(days=min(12, (self.end - self.start).days))
        while True:
            s = _local(day, "10:00", first.timezone)
            e = s + timedelta(hours=6)
            if self._free(shifts, floater, s, e, timedelta(hours=8)) or day >= self.end:
                break
            day += timedelta(days=1)
        k9 = Shift("", floater, first.site_id, UNKNOWN_SERVICE_TYPE, "K9 Sweep", s, e,
                   s + timedelta(minutes=2, seconds=11), e + timedelta(minutes=4, seconds=40))
        shifts.append(k9)
        shifts = self._renumber(shifts)
        k9 = next(x for x in shifts if x.service_type == UNKNOWN_SERVICE_TYPE)
        self.planted.append(Planted("unknown_service_type", "timesheets", k9.shift_id, "missing_rate",
                                    f"service_type {UNKNOWN_SERVICE_TYPE!r} has no rate; parses fine, not billed"))

        def pick(pred, frac: float) -> int | None:
            idx = [n for n, x in enumerate(shifts) if pred(x)]
            return idx[min(len(idx) - 1, int(len(idx) * frac))] if idx else None

        client_of = {s.site_id: s.client_id for s in self.sites}
        second_client = self.clients[min(1, len(self.clients) - 1)].client_id
        # 1. the guard never checked out
        n = pick(lambda x: client_of[x.site_id] == second_client and x.service_type != "patrol", 0.45)
        if n is not None:
            shifts[n] = replace(shifts[n], check_out=None)
            self.planted.append(Planted("open_shift", "timesheets", shifts[n].shift_id, "missing_checkout",
                                        "check_out empty: the guard never checked out"))
        # 2. held over 2.5 h past the schedule (actual vs scheduled beyond tolerance)
        gap = timedelta(hours=6)

        def next_start(x: Shift) -> datetime | None:
            later = [y.check_in for y in shifts if y.guard_id == x.guard_id and y.check_in > x.check_in]
            return min(later) if later else None

        def can_hold(x: Shift) -> bool:
            nxt = next_start(x)
            return (client_of[x.site_id] == first.client_id and x.service_type in ("unarmed", "armed")
                    and x.check_out is not None and (nxt is None or nxt - x.scheduled_end > gap))

        n = pick(can_hold, 0.6)
        if n is not None:
            shifts[n] = replace(shifts[n], check_out=shifts[n].scheduled_end + timedelta(minutes=150, seconds=17))
            self.planted.append(Planted("held_over", "timesheets", shifts[n].shift_id, "schedule_deviation",
                                        "checked out 2.5 h after the scheduled end (may also show as hours_spike)"))
        # 3. re-delivered later with a corrected check-out (same id, different content)
        n = pick(lambda x: client_of[x.site_id] == first.client_id and x.service_type == "unarmed"
                 and x.shift_id not in self.planted_ids() and (next_start(x) is None
                 or next_start(x) - x.scheduled_end > timedelta(hours=3)), 0.3)
        if n is not None:
            orig = shifts[n]
            revised = replace(orig, check_out=orig.check_out + timedelta(minutes=45))
            self.redeliveries.append(Redelivery("shift", revised, _local_date(orig.check_in, self.site_tz(orig)), True))
            self.planted.append(Planted("redelivered_changed", "timesheets", orig.shift_id, "duplicate_record",
                                        "delivered again in a later file with check_out 45 min later"))
        # 4. re-delivered later unchanged: ingested once, no finding
        n = pick(lambda x: x.service_type != "patrol" and x.shift_id not in self.planted_ids(), 0.35)
        if n is not None:
            again = shifts[n]
            after = _local_date(again.check_in, self.site_tz(again))
            self.redeliveries.append(Redelivery("shift", again, after, False))
            self.planted.append(Planted("redelivered_same", "timesheets", again.shift_id, "none",
                                        "delivered again unchanged in a later file: stored once, no finding"))
        return shifts

    def planted_ids(self) -> set[str]:
        return {p.record_id for p in self.planted}

    def site_tz(self, x: Shift) -> str:
        return next(s.timezone for s in self.sites if s.site_id == x.site_id)

    # ---- patrols
    def _tours(self, shifts: list[Shift]) -> list[PatrolTour]:
        rng = self.rng
        patrol = [x for x in shifts if x.service_type == "patrol" and x.check_out is not None]
        no_tour = patrol[len(patrol) // 3].shift_id if len(patrol) >= 3 else None
        if no_tour:
            self.planted.append(Planted("patrol_shift_without_tours", "timesheets", no_tour,
                                        "shift_without_patrol_scans", "patrol shift with no tour (phone not synced)"))
        short_tour_shift = patrol[(2 * len(patrol)) // 3].shift_id if len(patrol) >= 3 else None
        tours = []
        for x in patrol:
            if x.shift_id == no_tour:
                continue
            site = next(s for s in self.sites if s.site_id == x.site_id)
            t = x.check_in + timedelta(minutes=rng.randint(10, 25), seconds=rng.randint(0, 59))
            planned = rng.randint(2, 3)
            for k in range(planned):
                required = len(site.checkpoints)
                scans = []
                at = t
                for cp in site.checkpoints:
                    at = at + timedelta(minutes=rng.randint(2, 7), seconds=rng.randint(0, 59))
                    scans.append((cp, at))
                done = at + timedelta(minutes=rng.randint(1, 4), seconds=rng.randint(0, 59))
                if done >= x.check_out - timedelta(minutes=5):
                    break
                if x.shift_id == short_tour_shift and k == 0:
                    drop = {1, len(scans) - 2}
                    scans = [sc for i, sc in enumerate(scans) if i not in drop]
                tid = f"PT-{200001 + len(tours)}"
                tours.append(PatrolTour(
                    tour_id=tid, site_id=x.site_id, guard_id=x.guard_id, shift_id=x.shift_id, started_at=t,
                    completed_at=done, checkpoints_required=required,
                    scans=tuple(CheckpointScan(f"{tid}-{i + 1:02d}", tid, cp, when) for i, (cp, when) in
                                enumerate(scans)),
                ))
                if x.shift_id == short_tour_shift and k == 0:
                    self.planted.append(Planted("missed_checkpoints", "patrols", tid, "missed_checkpoints",
                                                f"{len(scans)} of {required} checkpoints scanned"))
                t = done + timedelta(minutes=rng.randint(60, 110), seconds=rng.randint(0, 59))
        return tours

    # ---- incidents and device events
    def _incidents(self, shifts: list[Shift]) -> tuple[list[Incident], list[DeviceEvent]]:
        rng = self.rng
        planted = self.planted_ids()
        by_site: dict[str, list[Shift]] = {}
        for x in shifts:
            if x.check_out is not None and x.shift_id not in planted:
                by_site.setdefault(x.site_id, []).append(x)
        incidents: list[Incident] = []
        events: list[DeviceEvent] = []
        alarm_seq = 10400 + rng.randint(0, 99)
        day = self.start
        while day <= self.end:
            for site in self.sites:
                if rng.random() >= 0.12:
                    continue
                cls = rng.choices(INCIDENT_CLASSES, weights=[55, 20, 10, 15])[0]
                hour = rng.choices(range(24), weights=[3] * 6 + [1] * 12 + [2] * 6)[0]
                opened = datetime.combine(day, time(hour, rng.randint(0, 59), rng.randint(0, 59)),
                                          tzinfo=ZoneInfo(site.timezone)).astimezone(UTC)
                on_shift = [x for x in by_site.get(site.site_id, []) if x.check_in <= opened and
                            opened + timedelta(minutes=10) < x.check_out]
                responder = rng.choice(on_shift) if on_shift else None
                started = opened + timedelta(minutes=rng.randint(1, 8) if responder else rng.randint(15, 40),
                                             seconds=rng.randint(0, 59))
                if responder and started >= responder.check_out:
                    started = responder.check_out - timedelta(minutes=2)
                ended = started + timedelta(minutes=rng.choice([8, 12, 20, 25, 35, 45, 60, 90]) + rng.randint(0, 9),
                                            seconds=rng.randint(0, 59))
                cams = [d for d in self.devices if d.site_id == site.site_id and d.device_type == "camera"
                        and d.active_on(day)]
                doors = [d for d in self.devices if d.site_id == site.site_id and d.device_type == "door_reader"
                         and d.active_on(day)]
                panel = next(d for d in self.devices if d.site_id == site.site_id and d.device_type == "panel")
                cam, door = rng.choice(cams), rng.choice(doors)
                trigger = {"alarm_response": rng.choice([cam, door]), "trespass": cam, "medical": None,
                           "fire_alarm": panel}[cls]
                text = rng.choice(INCIDENT_TEXT[cls]).format(door=door.name, camera=cam.name, zone=rng.randint(1, 12))
                alarm_seq += rng.randint(1, 30)
                iid = f"INC-{300001 + len(incidents)}"
                incidents.append(Incident(
                    incident_id=iid, site_id=site.site_id, classification=cls, opened_at=opened,
                    response_started_at=started, response_ended_at=ended,
                    responder_guard_id=responder.guard_id if responder else None,
                    responder_shift_id=responder.shift_id if responder else None, description=text,
                    trigger_device_id=trigger.device_id if trigger else None,
                    priority={"alarm_response": 1, "trespass": 2, "medical": 1, "fire_alarm": 1}[cls],
                    alarm_ref=alarm_ref(trigger.vendor if trigger else site.video_vendor, site.site_id, cls, opened,
                                        alarm_seq),
                ))

                def ev(dev: Device, kind: str, at: datetime, guard: str | None = None, iid: str = iid) -> None:
                    events.append(DeviceEvent("", dev.device_id, dev.site_id, kind, at, iid, guard))

                lead = timedelta(minutes=rng.randint(1, 3), seconds=rng.randint(0, 59))
                ev(cam, "motion_start", opened - lead)
                if trigger is door:
                    ev(door, "door_forced", opened - timedelta(seconds=rng.randint(5, 50)))
                elif trigger is panel:
                    ev(panel, "fire_alarm", opened - timedelta(seconds=rng.randint(5, 50)))
                elif rng.random() < 0.3:
                    ev(door, "door_held", opened + timedelta(minutes=rng.randint(1, 4)))
                ev(door, "access_granted", started + timedelta(seconds=rng.randint(5, 90)),
                   responder.guard_id if responder else None)
                ev(cam, "motion_end", ended - timedelta(minutes=rng.randint(0, 4), seconds=rng.randint(0, 59)))
                ev(door, "door_closed", ended + timedelta(seconds=rng.randint(10, 120)))
            day += timedelta(days=1)
        return incidents, events

    def _badge_events(self, shifts: list[Shift]) -> list[DeviceEvent]:
        """Each guard badges in at a door of the site when arriving: evidence that devices
        report events even on quiet days."""
        rng = self.rng
        out = []
        for x in shifts:
            doors = [d for d in self.devices if d.site_id == x.site_id and d.device_type == "door_reader"
                     and d.active_on(_local_date(x.check_in, self.site_tz(x)))]
            if not doors or rng.random() < 0.1:
                continue
            at = x.check_in - timedelta(minutes=rng.randint(0, 3), seconds=rng.randint(1, 59))
            out.append(DeviceEvent("", doors[0].device_id, x.site_id, "access_granted", at, None, x.guard_id))
        return out
