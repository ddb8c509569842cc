"""Render a `World` as the generic inbox (interfaces.md sections 2-3).

Layout written under `out_dir`:

    contracts/<client_id>.yaml           one per client, money as quoted strings
    tax/jurisdictions.csv                state and city rows per jurisdiction
    timesheets/timesheets-<monday>.csv   one file per site-local week of check-in
    incidents/incidents-<yyyy-mm>.csv    one file per site-local month of opening
    patrols/patrols-<monday>.csv         one file per site-local week of tour start
    devices/devices.csv                  the whole inventory

Timestamps are ISO-8601 with the site's local offset, in whole seconds. On top of the
world's own planted problems (`World.planted`) this writer plants exactly three rows that
must be quarantined, all listed in the manifest with file and line:

- timesheets: one `check_in` without a UTC offset;
- patrols: one `checkpoints_scanned` that is not a number (`8/8`);
- incidents: one row with the required `classification` empty.

Re-deliveries (`World.redeliveries`) are appended to the first file of a later week.

`write_generic` can leave parts of the world to other feeds (the demo, vigil_app/demo/inbox.py):
`skip_guarding_sites` leaves those sites' shifts and patrol tours out (a guard-management
system such as TrackTik reports them), and `contract_kinds=("guarding",)` leaves the
monitoring contracts out of the YAML (the CRM export holds them).
`simulate` owns the files matching its own names in those folders: stale ones from an
earlier simulation are removed, anything else is left alone.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from connectors.simulator.world import Contract, Device, PatrolTour, Planted, Shift, World, build_world

TIMESHEET_COLUMNS = ["shift_id", "guard_id", "guard_name", "site_id", "service_type", "post", "scheduled_start",
                     "scheduled_end", "check_in", "check_out"]
INCIDENT_COLUMNS = ["incident_id", "site_id", "classification", "opened_at", "response_started_at",
                    "response_ended_at", "responder_guard_id", "description", "source_ref"]
PATROL_COLUMNS = ["tour_id", "site_id", "guard_id", "started_at", "completed_at", "checkpoints_required",
                  "checkpoints_scanned"]
DEVICE_COLUMNS = ["device_id", "site_id", "device_type", "active_from", "active_to", "vendor_ref", "name"]
TAX_COLUMNS = ["code", "rate", "taxable_categories", "name"]

# name patterns simulate() owns, per folder
OWNED = {"contracts": "C-*.yaml", "tax": "jurisdictions.csv", "timesheets": "timesheets-*.csv",
         "incidents": "incidents-*.csv", "patrols": "patrols-*.csv", "devices": "devices.csv"}


@dataclass
class Manifest:
    """What `simulate` wrote: the window, every file (relative to `out_dir`), data rows per
    source, the world's entity counts and every planted problem with its expected outcome."""

    out_dir: Path
    seed: int
    start: date
    end: date
    files: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    world: dict[str, int] = field(default_factory=dict)
    planted: list[Planted] = field(default_factory=list)

    @property
    def quarantine_expected(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for p in self.planted:
            if p.expect == "quarantine":
                out[p.source] += 1
        return dict(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir), "seed": self.seed, "start": self.start.isoformat(),
            "end": self.end.isoformat(), "files": list(self.files), "counts": dict(self.counts),
            "world": dict(self.world), "quarantine_expected": self.quarantine_expected,
            "planted": [asdict(p) for p in self.planted],
        }


def simulate(out_dir: Path, *, days: int = 35, clients: int = 4, seed: int = 7, end: date | None = None) -> Manifest:
    """Simulate `days` days ending on `end` (default 2026-10-31, see world.DEFAULT_END) for
    `clients` clients and write the generic inbox under `out_dir`. Same arguments, same
    bytes."""
    world = build_world(days=days, clients=clients, seed=seed, end=end)
    return write_generic(world, Path(out_dir))


def write_generic(world: World, out_dir: Path, *, skip_guarding_sites: Iterable[str] = (),
                  contract_kinds: Iterable[str] = ("guarding", "monitoring")) -> Manifest:
    """Write the generic inbox for `world`; see the module docstring for what the keyword
    arguments leave to other feeds."""
    writer = _Writer(world, frozenset(skip_guarding_sites), frozenset(contract_kinds))
    files = writer.render()
    out_dir.mkdir(parents=True, exist_ok=True)
    for folder, pattern in OWNED.items():
        for old in sorted((out_dir / folder).glob(pattern)):
            if f"{folder}/{old.name}" not in files:
                old.unlink()
    for rel, text in files.items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8", newline="")
    return Manifest(out_dir=out_dir, seed=world.seed, start=world.start, end=world.end, files=sorted(files),
                    counts=writer.counts, world=world.counts(),
                    planted=[writer.placed(p) for p in world.planted] + writer.planted)


# --------------------------------------------------------------------------- rendering


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="raise")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r[k]) for k in columns})
    return buf.getvalue()


def _week(day: date) -> date:
    return day - timedelta(days=day.weekday())


class _Writer:
    def __init__(self, world: World, skip_sites: frozenset[str] = frozenset(),
                 contract_kinds: frozenset[str] = frozenset({"guarding", "monitoring"})):
        self.w = world
        self.skip_sites, self.contract_kinds = skip_sites, contract_kinds
        self.shifts = [x for x in world.shifts if x.site_id not in skip_sites]
        self.tours = [t for t in world.tours if t.site_id not in skip_sites]
        self.counts: dict[str, int] = {}
        self.planted: list[Planted] = []
        self.where: dict[tuple[str, str], tuple[str, int]] = {}  # (source, id) -> file, line
        self.again: dict[tuple[str, str], tuple[str, int]] = {}  # where a re-delivery landed

    def locate(self, source: str, record_id: str, rel: str, line: int, again: bool = False) -> None:
        (self.again if again else self.where)[(source, record_id)] = (rel, line)

    def placed(self, p: Planted) -> Planted:
        """A world-level planted problem with the file and line that carries it."""
        source = "timesheets" if p.record_id.startswith("SH-") else p.source
        table = self.again if p.kind.startswith("redelivered") else self.where
        at = table.get((source, p.record_id))
        return replace(p, file=at[0], line=at[1]) if at else p

    def ts(self, instant: datetime | None, site_id: str) -> str | None:
        if instant is None:
            return None
        return self.w.local(instant, site_id).replace(microsecond=0).isoformat()

    def render(self) -> dict[str, str]:
        files: dict[str, str] = {}
        for c in self.w.clients:
            files[f"contracts/{c.client_id}.yaml"] = self.contract_yaml(c.client_id)
        self.counts["contracts"] = len(self.w.clients)
        files["tax/jurisdictions.csv"] = _csv(TAX_COLUMNS, [
            {"code": t.code, "rate": str(t.rate), "taxable_categories": ";".join(t.categories), "name": t.name}
            for t in self.w.tax_rows])
        self.counts["tax"] = len(self.w.tax_rows)
        files.update(self.timesheets())
        files.update(self.incidents())
        files.update(self.patrols())
        files.update(self.devices())
        return files

    # ---- contracts
    def contract_yaml(self, client_id: str) -> str:
        w = self.w
        c = w.client(client_id)
        client: dict[str, Any] = {"id": c.client_id, "name": c.name, "email": c.email, "phone": c.phone,
                                  "preferred_channel": c.preferred_channel, "autopay": c.autopay}
        if c.payment_method:
            client["payment_method"] = c.payment_method
        client["grouping"] = c.grouping
        sites = [{"id": s.site_id, "name": s.name, "timezone": s.timezone, "tax_jurisdiction": s.tax_jurisdiction}
                 for s in (w.site(sid) for sid in c.site_ids)]
        contracts = [self.contract_doc(k) for k in w.contracts
                     if k.client_id == client_id and k.kind in self.contract_kinds]
        header = (f"# {c.name}: contracts as agreed. Simulated by connectors.simulator "
                  f"(seed {w.seed}, {w.start.isoformat()}..{w.end.isoformat()}).\n")
        dump = {"sort_keys": False, "allow_unicode": True, "width": 120}
        return (header + yaml.safe_dump({"client": client}, default_flow_style=False, **dump)
                + yaml.safe_dump({"sites": sites, "contracts": contracts}, default_flow_style=None, **dump))

    def contract_doc(self, k: Contract) -> dict[str, Any]:
        d: dict[str, Any] = {"id": k.contract_id, "start_date": k.start_date, "end_date": k.end_date,
                             "auto_renew": k.auto_renew, "billing_cycle": k.billing_cycle}
        if k.cycle_anchor:
            d["cycle_anchor"] = k.cycle_anchor
        if k.kind == "guarding":
            d["payment_terms_days"] = k.payment_terms_days
            d["increment_minutes"] = k.increment_minutes
            d["basis"] = k.basis
            d["rates"] = [{"service_type": r.service_type, **({"site_id": r.site_id} if r.site_id else {}),
                           "rate": _money(r.rate)} for r in k.rates]
            if k.overtime:
                d["overtime"] = dict(k.overtime)
            if k.holidays:
                d["holidays"] = {key: (list(v) if isinstance(v, (list, tuple)) else v) for key, v in k.holidays.items()}
            d["stacking"] = "max"
            if k.incidents:
                d["incidents"] = {cls: {"flat_fee": _money(p.flat_fee), "included_minutes": p.included_minutes,
                                        "hourly_rate": _money(p.hourly_rate)} for cls, p in k.incidents.items()}
            if k.patrol_visit_fee is not None:
                d["patrol_visit_fee"] = _money(k.patrol_visit_fee)
        else:
            d["issue_lead_days"] = k.issue_lead_days if k.issue_lead_days is not None else 5
            d["recurring"] = [{"code": r.code, "category": r.category, "site_id": r.site_id,
                               "amount": _money(r.amount)} for r in k.recurring]
            if k.per_device:
                d["per_device"] = [{"device_type": f.device_type, **({"site_id": f.site_id} if f.site_id else {}),
                                    "monthly_fee": _money(f.monthly_fee)} for f in k.per_device]
            if k.discounts:
                d["discounts"] = [{"percent": str(x.percent), "categories": list(x.categories), "cycles": x.cycles}
                                  for x in k.discounts]
        return d

    # ---- timesheets
    def shift_row(self, x: Shift) -> dict[str, Any]:
        return {"shift_id": x.shift_id, "guard_id": x.guard_id, "guard_name": self.w.guard(x.guard_id).name,
                "site_id": x.site_id, "service_type": x.service_type, "post": x.post,
                "scheduled_start": self.ts(x.scheduled_start, x.site_id),
                "scheduled_end": self.ts(x.scheduled_end, x.site_id),
                "check_in": self.ts(x.check_in, x.site_id), "check_out": self.ts(x.check_out, x.site_id)}

    def local_week(self, instant: datetime, site_id: str) -> date:
        return _week(self.w.local(instant, site_id).date())

    def timesheets(self) -> dict[str, str]:
        w = self.w
        weeks: dict[date, list[Shift]] = defaultdict(list)
        for x in self.shifts:
            weeks[self.local_week(x.check_in, x.site_id)].append(x)
        # the bad row: a check-in without offset, on an ordinary shift of the last client
        # whose shifts this inbox holds
        taken = w.planted_ids()
        written = {w.site(x.site_id).client_id for x in self.shifts}
        last = next((c.client_id for c in reversed(w.clients) if c.client_id in written), None)
        candidates = [x for x in self.shifts if w.site(x.site_id).client_id == last and x.shift_id not in taken
                      and x.service_type != "patrol" and x.check_out is not None]
        bad = candidates[len(candidates) // 2].shift_id if candidates else None
        later: dict[date, list[Shift]] = defaultdict(list)
        for r in w.redeliveries:
            if r.record.site_id in self.skip_sites or not weeks:
                continue
            target = _week(r.after) + timedelta(days=7)
            while target not in weeks and target <= max(weeks):
                target += timedelta(days=7)
            later[target].append(r.record)
        files = {}
        rows_total = 0
        for week in sorted(set(weeks) | set(later)):
            rel = f"timesheets/timesheets-{week.isoformat()}.csv"
            rows = []
            batch = [(x, False) for x in sorted(weeks.get(week, []), key=lambda s: (s.check_in, s.shift_id))]
            batch += [(x, True) for x in later.get(week, [])]
            for x, again in batch:
                row = self.shift_row(x)
                self.locate("timesheets", x.shift_id, rel, len(rows) + 2, again)
                if x.shift_id == bad and not again:
                    row["check_in"] = w.local(x.check_in, x.site_id).replace(tzinfo=None, microsecond=0).isoformat()
                    self.planted.append(Planted("timestamp_without_offset", "timesheets", x.shift_id, "quarantine",
                                                "check_in has no UTC offset", rel, len(rows) + 2))
                rows.append(row)
            files[rel] = _csv(TIMESHEET_COLUMNS, rows)
            rows_total += len(rows)
        self.counts["timesheets"] = rows_total
        return files

    # ---- incidents
    def incidents(self) -> dict[str, str]:
        w = self.w
        months: dict[str, list[dict[str, Any]]] = defaultdict(list)
        bad = w.incidents[len(w.incidents) // 2].incident_id if w.incidents else None
        for i in w.incidents:
            month = w.local(i.opened_at, i.site_id).strftime("%Y-%m")
            site = w.site(i.site_id)
            trigger = w.device(i.trigger_device_id) if i.trigger_device_id else None
            vendor = trigger.vendor if trigger else site.video_vendor
            row = {"incident_id": i.incident_id, "site_id": i.site_id, "classification": i.classification,
                   "opened_at": self.ts(i.opened_at, i.site_id),
                   "response_started_at": self.ts(i.response_started_at, i.site_id),
                   "response_ended_at": self.ts(i.response_ended_at, i.site_id),
                   "responder_guard_id": i.responder_guard_id, "description": i.description,
                   "source_ref": f"{vendor}:alarm/{i.alarm_ref}"}
            self.locate("incidents", i.incident_id, f"incidents/incidents-{month}.csv", len(months[month]) + 2)
            if i.incident_id == bad:
                row["classification"] = ""
                self.planted.append(Planted("missing_required_field", "incidents", i.incident_id, "quarantine",
                                            "required field classification is empty",
                                            f"incidents/incidents-{month}.csv", len(months[month]) + 2))
            months[month].append(row)
        self.counts["incidents"] = len(w.incidents)
        return {f"incidents/incidents-{m}.csv": _csv(INCIDENT_COLUMNS, rows) for m, rows in sorted(months.items())}

    # ---- patrols
    def patrols(self) -> dict[str, str]:
        w = self.w
        per_shift: dict[str, list[PatrolTour]] = defaultdict(list)
        for t in self.tours:
            per_shift[t.shift_id].append(t)
        taken = w.planted_ids()
        candidates = [ts[-1] for ts in per_shift.values() if len(ts) >= 2 and not any(t.tour_id in taken for t in ts)]
        bad = candidates[len(candidates) // 2].tour_id if candidates else None
        weeks: dict[date, list[PatrolTour]] = defaultdict(list)
        for t in self.tours:
            weeks[self.local_week(t.started_at, t.site_id)].append(t)
        files = {}
        for week in sorted(weeks):
            rel = f"patrols/patrols-{week.isoformat()}.csv"
            rows = []
            for t in sorted(weeks[week], key=lambda t: (t.started_at, t.tour_id)):
                row = {"tour_id": t.tour_id, "site_id": t.site_id, "guard_id": t.guard_id,
                       "started_at": self.ts(t.started_at, t.site_id),
                       "completed_at": self.ts(t.completed_at, t.site_id),
                       "checkpoints_required": t.checkpoints_required, "checkpoints_scanned": t.checkpoints_scanned}
                self.locate("patrols", t.tour_id, rel, len(rows) + 2)
                if t.tour_id == bad:
                    row["checkpoints_scanned"] = f"{t.checkpoints_scanned}/{t.checkpoints_required}"
                    self.planted.append(Planted("non_numeric_checkpoints", "patrols", t.tour_id, "quarantine",
                                                "checkpoints_scanned is not a number", rel, len(rows) + 2))
                rows.append(row)
            files[rel] = _csv(PATROL_COLUMNS, rows)
        self.counts["patrols"] = len(self.tours)
        return files

    # ---- devices
    def devices(self) -> dict[str, str]:
        rows = [{"device_id": d.device_id, "site_id": d.site_id, "device_type": d.device_type,
                 "active_from": d.active_from.isoformat(),
                 "active_to": d.active_to.isoformat() if d.active_to else None,
                 "vendor_ref": f"{d.vendor}:{_vendor_id(d)}", "name": d.name} for d in self.w.devices]
        self.counts["devices"] = len(rows)
        return {"devices/devices.csv": _csv(DEVICE_COLUMNS, rows)}


def _vendor_id(d: Device) -> str:
    """The device's id as its vendor's connector reports it (`vendor_ref` of the vendor's
    rows), so dbt can tell a generic device and the vendor's are one device. A Lenel reader
    is numbered per panel: `<panel>/<reader>`."""
    if d.vendor == "lenel" and d.device_type == "door_reader" and d.controller_ref:
        return f"{d.controller_ref}/{d.vendor_ref}"
    return d.vendor_ref
