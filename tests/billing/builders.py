"""Small builders for rating inputs: marts rows as the dbt layer delivers them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import polars as pl

from billing.rating import RatingInputs
from billing.rating.frames import INCIDENTS, PATROLS, SHIFTS

NY = "America/New_York"


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def client(cid: str = "C-1", **kw) -> dict:
    row = {
        "client_id": cid,
        "client_name": cid,
        "email": "ap@example.com",
        "phone": None,
        "preferred_channel": "email",
        "autopay": False,
        "payment_method": None,
        "grouping": "consolidated",
        "currency": "USD",
    }
    row.update(kw)
    return row


def site(sid: str = "S-1", cid: str = "C-1", tz: str = NY, jurisdiction: str = "US-NY") -> dict:
    return {"site_id": sid, "client_id": cid, "site_name": sid, "timezone": tz, "tax_jurisdiction": jurisdiction}


def contract(
    kid: str = "K-1",
    cid: str = "C-1",
    start: str = "2026-01-01",
    end: str = "2026-12-31",
    cycle: str = "weekly",
    **terms,
) -> dict:
    t = {"id": kid, "start_date": start, "end_date": end, "billing_cycle": cycle}
    t.setdefault("rates", [{"service_type": "unarmed", "rate": "32.00"}])
    t.update(terms)
    if "rates" in terms:
        t["rates"] = terms["rates"]
    return {
        "contract_id": kid,
        "client_id": cid,
        "start_date": date.fromisoformat(start),
        "end_date": date.fromisoformat(end),
        "billing_cycle": cycle,
        "terms": t,
    }


def shift(
    ref: str,
    start: str,
    end: str | None,
    guard: str = "G-1",
    site_id: str = "S-1",
    kid: str | None = "K-1",
    cid: str = "C-1",
    service_type: str = "unarmed",
    tz: str = NY,
    sched: tuple[str, str] | None = None,
    valid: bool | None = None,
) -> dict:
    s = ts(start)
    e = ts(end) if end else None
    return {
        "shift_id": ref,
        "source": "timesheets",
        "source_ref": f"timesheets:{ref}",
        "guard_id": guard,
        "site_id": site_id,
        "client_id": cid,
        "contract_id": kid,
        "service_type": service_type,
        "check_in_at": s,
        "check_out_at": e,
        "scheduled_start_at": ts(sched[0]) if sched else None,
        "scheduled_end_at": ts(sched[1]) if sched else None,
        "service_date": s.astimezone(ZoneInfo(tz)).date(),
        "site_timezone": tz,
        "has_valid_interval": (e is not None and e > s) if valid is None else valid,
    }


def incident(
    ref: str,
    start: str,
    end: str | None,
    classification: str = "alarm_response",
    guard: str | None = None,
    site_id: str = "S-1",
    kid: str | None = "K-1",
    cid: str = "C-1",
    tz: str = NY,
) -> dict:
    s = ts(start)
    return {
        "incident_id": ref,
        "source_ref": f"incidents:{ref}",
        "site_id": site_id,
        "client_id": cid,
        "contract_id": kid,
        "classification": classification,
        "response_started_at": s,
        "response_ended_at": ts(end) if end else None,
        "responder_guard_id": guard,
        "service_date": s.astimezone(ZoneInfo(tz)).date(),
    }


def tour(
    ref: str,
    start: str,
    required: int = 5,
    scanned: int = 5,
    guard: str = "G-1",
    site_id: str = "S-1",
    kid: str | None = "K-1",
    cid: str = "C-1",
    tz: str = NY,
) -> dict:
    s = ts(start)
    return {
        "tour_id": ref,
        "source_ref": f"patrols:{ref}",
        "site_id": site_id,
        "client_id": cid,
        "contract_id": kid,
        "guard_id": guard,
        "started_at": s,
        "completed_at": s,
        "checkpoints_required": required,
        "checkpoints_scanned": scanned,
        "service_date": s.astimezone(ZoneInfo(tz)).date(),
    }


def device(
    ref: str, device_type: str, active_from: date, active_to: date | None = None, site_id: str = "S-1", cid: str = "C-1"
) -> dict:
    return {
        "device_id": ref,
        "source_ref": f"devices:{ref}",
        "site_id": site_id,
        "client_id": cid,
        "device_type": device_type,
        "active_from": active_from,
        "active_to": active_to,
    }


def frame(rows: list[dict], schema: dict) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(rows, schema=schema)


def make_inputs(
    contracts: list[dict],
    shifts: list[dict] = (),
    incidents: list[dict] = (),
    patrols: list[dict] = (),
    devices: list[dict] = (),
    sites: list[dict] | None = None,
    clients: list[dict] | None = None,
    tax: list[dict] | None = None,
    excluded: frozenset[str] = frozenset(),
) -> RatingInputs:
    return RatingInputs(
        clients=clients if clients is not None else [client()],
        sites=sites if sites is not None else [site()],
        contracts=contracts,
        tax_rates=tax if tax is not None else [],
        shifts=frame(list(shifts), SHIFTS),
        incidents=frame(list(incidents), INCIDENTS),
        patrols=frame(list(patrols), PATROLS),
        devices=pl.DataFrame(list(devices)) if devices else pl.DataFrame(),
        excluded_refs=excluded,
    )


def tax_row(code: str, rate: str, cats: list[str], name: str | None = None) -> dict:
    return {"jurisdiction_code": code, "rate": Decimal(rate), "taxable_categories": cats, "name": name or code}


def by_cat(inv) -> dict[str, list]:
    out: dict[str, list] = {}
    for ln in inv.lines:
        out.setdefault(ln.category, []).append(ln)
    return out
