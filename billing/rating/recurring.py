"""Recurring charges billed in advance (section 7): fixed items and per-device monitoring,
prorated by the contract's active days in the cycle."""

from __future__ import annotations

from calendar import monthrange
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import polars as pl

from billing.rating.context import Context
from billing.rating.contracts import Contract, Recurring
from billing.rating.cycles import Cycle, advance_dates, cycles_of
from billing.rating.lines import Line
from billing.rating.money import fmt, round_half_up
from vigil.billing_cycles import CYCLE_MONTHS

CATEGORY_TEXT = {"monitoring": "Monitoring", "equipment_rental": "Equipment rental", "service_fee": "Service fee"}


def _in_force(versions: list[Recurring], day: date) -> Recurring | None:
    """The version of an item in force on `day`: the latest effective_from not after it."""
    best = None
    for v in versions:
        eff = v.effective_from or date.min
        if eff <= day and (best is None or eff >= (best.effective_from or date.min)):
            best = v
    return best


def _items(ctx: Context, c: Contract, cy: Cycle, currency: str) -> list[Line]:
    groups: dict[tuple, list[Recurring]] = defaultdict(list)
    for item in c.recurring:
        groups[(item.code, item.site_id, item.category)].append(item)
    out = []
    for (code, site, category), versions in sorted(groups.items(), key=lambda kv: (kv[0][1] or "", kv[0][0], kv[0][2])):
        days: dict[Recurring, int] = defaultdict(int)
        d = cy.active_start
        while d <= cy.active_end:
            v = _in_force(versions, d)
            if v is not None:
                days[v] += 1
            d += timedelta(days=1)
        for v, n in sorted(days.items(), key=lambda kv: kv[0].effective_from or date.min):
            amount = round_half_up(v.amount * n / cy.days, currency)
            full = n == cy.days
            out.append(
                Line(
                    contract_id=c.contract_id,
                    kind="advance",
                    cycle=cy,
                    site_id=site,
                    category=category,
                    description=f"{CATEGORY_TEXT.get(category, category)} - {code}",
                    quantity=Decimal(1),
                    unit="cycle",
                    unit_price=amount,
                    amount=amount,
                    source_refs=(f"contracts:{c.contract_id}",),
                    explanation=(
                        f"{fmt(v.amount)} per {c.billing_cycle} cycle {cy.start}..{cy.end}"
                        + ("" if full else f", prorated {n}/{cy.days} active days")
                    ),
                    detail=code,
                )
            )
    return out


def _local_day(value: object, tz: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.date()
        return value.astimezone(ZoneInfo(tz)).date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _devices(ctx: Context, c: Contract, cy: Cycle, devices: list[dict], currency: str) -> list[Line]:
    """Per-device monitoring: the fee times the devices of that type active on A (the first
    active day of the cycle; A = S unless the contract starts mid-cycle). A monthly fee on a
    calendar cycle of several months (quarterly, semiannual, annual) is the fee times the
    months of the cycle; on a shorter cycle it is scaled by cycle days / days of S's month."""
    out = []
    for pd in sorted(c.per_device, key=lambda p: (p.site_id or "", p.device_type)):
        by_site: dict[str, list[str]] = defaultdict(list)
        for dev in devices:
            if dev.get("client_id") != c.client_id or dev.get("device_type") != pd.device_type:
                continue
            if pd.site_id is not None and dev.get("site_id") != pd.site_id:
                continue
            tz = ctx.site_tz(dev.get("site_id")) or "UTC"
            start, end = _local_day(dev.get("active_from"), tz), _local_day(dev.get("active_to"), tz)
            if start is not None and start <= cy.active_start and (end is None or end >= cy.active_start):
                by_site[dev.get("site_id")].append(dev.get("source_ref"))
        months = CYCLE_MONTHS.get(c.billing_cycle)
        if months is not None:
            per_cycle = pd.monthly_fee * months
            scaling = "" if months == 1 else f" x {months} months of the {c.billing_cycle} cycle"
        else:
            per_cycle = pd.monthly_fee * cy.days / monthrange(cy.start.year, cy.start.month)[1]
            scaling = f", scaled to a {cy.days}-day cycle"
        for site, refs in sorted(by_site.items(), key=lambda kv: kv[0] or ""):
            n = len(refs)
            amount = round_half_up(per_cycle * n * cy.active_days / cy.days, currency)
            out.append(
                Line(
                    contract_id=c.contract_id,
                    kind="advance",
                    cycle=cy,
                    site_id=site,
                    category="device_monitoring",
                    description=f"Device monitoring - {pd.device_type.replace('_', ' ')}",
                    quantity=Decimal(n),
                    unit="device",
                    unit_price=per_cycle,
                    amount=amount,
                    source_refs=tuple(sorted(refs)),
                    explanation=(
                        f"{n} x {fmt(pd.monthly_fee)} monthly fee per {pd.device_type} active on {cy.active_start}"
                        + scaling
                        + ("" if cy.active_days == cy.days else f", prorated {cy.active_days}/{cy.days} days")
                    ),
                    detail=pd.device_type,
                )
            )
    return out


def rate_recurring(ctx: Context, devices: pl.DataFrame | None, through: date,
                   issued_cycles: set[tuple[str, date]] = frozenset(), wanted=None) -> list[Line]:
    """Every advance line of a cycle whose advance invoice is issued on or before `through`,
    or was issued already ((contract id, cycle start) in `issued_cycles`) whatever the lead
    days or start date say today; with `wanted` (contract, cycle) -> bool, of those cycles only."""
    dev_rows = devices.to_dicts() if devices is not None and devices.height else []
    by_client: dict[str, list[dict]] = defaultdict(list)
    for d in dev_rows:
        if d.get("source_ref") not in ctx.excluded:
            by_client[d.get("client_id")].append(d)
    out: list[Line] = []
    for cid in sorted(ctx.contracts):
        c = ctx.contracts[cid]
        if not c.recurring and not c.per_device:
            continue
        currency = (ctx.clients.get(c.client_id) or {}).get("currency") or "USD"
        until = max([through + timedelta(days=c.issue_lead_days)]
                    + [start for contract_id, start in issued_cycles if contract_id == cid])
        for cy in cycles_of(c, until):
            if advance_dates(c, cy)[0] > through and (cid, cy.start) not in issued_cycles:
                continue
            if wanted is not None and not wanted(c, cy):
                continue
            out += _items(ctx, c, cy, currency)
            out += _devices(ctx, c, cy, by_client.get(c.client_id, []), currency)
    return out
