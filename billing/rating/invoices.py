"""Assemble draft invoices: one per client, cycle, kind, issue/due date (and site with
grouping per_site), or the one already issued for that cycle; discounts after the lines they
discount, then one tax line per tax row."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import polars as pl

from billing.rating.context import Context
from billing.rating.contracts import parse_contract
from billing.rating.cycles import advance_dates, arrears_dates
from billing.rating.frames import INCIDENTS, PATROLS, SHIFTS, normalize
from billing.rating.hours import HoursResult, rate_hours
from billing.rating.incidents import rate_incidents
from billing.rating.lines import Line
from billing.rating.model import DraftInvoice, DraftLine, IssuedGroup, RatingInputs
from billing.rating.money import ZERO, fmt, price, round_half_up
from billing.rating.patrols import rate_patrols
from billing.rating.recurring import rate_recurring
from billing.rating.refs import RefColumn, unite
from billing.rating.taxes import compute_taxes, parse_tax_rows, tax_explanation

_SITE_ORDER_KEYS = ("site_position", "position", "ordinal", "site_order")


def build_context(inputs: RatingInputs) -> Context:
    """Contracts parsed with their defaults. A contract's default zone is its client's first
    site: the order `sites` arrives in, or a position column when the mart has one."""
    sites = {str(s["site_id"]): dict(s) for s in inputs.sites}
    ordered = list(inputs.sites)
    for k in _SITE_ORDER_KEYS:
        if ordered and all(k in s and s[k] is not None for s in ordered):
            ordered = sorted(ordered, key=lambda s, k=k: s[k])
            break
    first_site: dict[str, str] = {}
    for s in ordered:
        first_site.setdefault(str(s["client_id"]), str(s["site_id"]))
    clients = {str(c["client_id"]): dict(c) for c in inputs.clients}
    contracts = {}
    for row in inputs.contracts:
        terms = row.get("terms") or {}
        declared = [s for s in terms.get("sites") or [] if isinstance(s, str) and s in sites]
        site_id = declared[0] if declared else first_site.get(str(row["client_id"]))
        tz = sites[site_id].get("timezone") if site_id is not None else None
        c = dataclasses.replace(parse_contract(row, tz or "UTC"), first_site_id=site_id)
        contracts[c.contract_id] = c
    return Context(contracts=contracts, sites=sites, clients=clients, excluded=frozenset(inputs.excluded_refs))


def _covered_refs(
    groups: list[tuple[tuple[str, ...], date, str | None]],
    line_refs: list[tuple[int, Sequence[str]]],
    hours: HoursResult,
    covered: list[pl.DataFrame],
    unmatched: list[tuple[int, str]],
) -> RefColumn:
    """Each invoice's covered refs, united in polars: its lines' refs, every covered record of
    its contracts' cycle (of its site when it is per site) and the records no contract claims.
    `groups` holds (contract ids, cycle start, site or None) per invoice. Shift refs stay ranks
    (hours.ref_texts), so a million of them are united and sorted as integers."""
    targets = pl.DataFrame(
        [(owner, cid, start, site) for owner, (cids, start, site) in enumerate(groups) for cid in cids],
        schema={"owner": pl.Int64, "contract_id": pl.String, "cycle_start": pl.Date, "invoice_site": pl.String},
        orient="row",
    )

    def of_invoices(records: pl.DataFrame, *columns: str) -> pl.DataFrame:
        return (
            records.filter(pl.col("source_ref").is_not_null())
            .select("contract_id", "cycle_start", "site_id", *columns)
            .join(targets, on=["contract_id", "cycle_start"])
            .filter(pl.col("invoice_site").is_null() | (pl.col("site_id") == pl.col("invoice_site")))
            .select("owner", *columns)
        )

    ranked = [of_invoices(hours.covered, "ref_rank").rename({"ref_rank": "rank"})] if hours.covered.height else []
    named = [of_invoices(frame, "source_ref").rename({"source_ref": "ref"}) for frame in covered if frame.height]
    named.append(pl.DataFrame(unmatched, schema={"owner": pl.Int64, "ref": pl.String}, orient="row"))
    return unite(hours.ref_texts, ranked, line_refs, named, len(groups))


def _unmatched(ctx: Context, inputs: RatingInputs) -> dict[str, list[tuple[date, str | None, str]]]:
    """Records no contract claims (dbt left contract_id null): they could belong to any of
    their client's arrears invoices covering their date, so each such invoice is held by them."""
    out: dict[str, list[tuple[date, str | None, str]]] = defaultdict(list)
    known = list(ctx.contracts)
    specs = [
        (inputs.shifts, SHIFTS, "check_in_at"),
        (inputs.incidents, INCIDENTS, "response_started_at"),
        (inputs.patrols, PATROLS, "started_at"),
    ]
    for frame, schema, instant in specs:
        x = normalize(frame, schema)
        x = x.filter(pl.col("contract_id").is_null() | ~pl.col("contract_id").is_in(known))
        x = x.with_columns(day=pl.coalesce("service_date", pl.col(instant).dt.date()))
        for client, site, day, ref in x.select("client_id", "site_id", "day", "source_ref").iter_rows():
            if ref is None or ref in ctx.excluded or day is None:
                continue
            if client is None and site in ctx.sites:
                client = ctx.sites[site].get("client_id")
            if client is not None:
                out[str(client)].append((day, site, ref))
    return out


def _discounts(ctx: Context, line: Line, currency: str) -> list[tuple[Line, str]]:
    """Promotional discounts on a line: -round_half_up(amount * percent / 100) of its rounded amount."""
    c = ctx.contracts[line.contract_id]
    out = []
    for d in c.discounts:
        if line.category not in d.categories or line.cycle.index >= d.cycles:
            continue
        off = -round_half_up(line.amount * d.percent / 100, currency)
        if off == 0:
            continue
        out.append(
            (
                Line(
                    contract_id=line.contract_id,
                    kind=line.kind,
                    cycle=line.cycle,
                    site_id=line.site_id,
                    category="discount",
                    description=f"Discount {fmt(d.percent, 0)}% - {line.description}",
                    quantity=Decimal(1),
                    unit="discount",
                    unit_price=off,
                    amount=off,
                    source_refs=line.source_refs,
                    explanation=(
                        f"{fmt(d.percent, 0)}% of {fmt(line.amount)} {line.category}, promotional cycle "
                        f"{line.cycle.index + 1} of {d.cycles}"
                    ),
                    detail=line.detail,
                ),
                line.category,
            )
        )
    return out


def invoice_key(client_id: str, kind: str, cycle_start: date, cycle_end: date, site_id: str | None,
                contract_ids: tuple[str, ...]) -> str:
    """An invoice's identity (billing-rules section 8): client, kind, cycle and site, plus its
    first contract to tell apart the invoices of one cycle whose contracts have other issue or
    due dates. No date of issue or payment is part of it, so editing terms re-issues nothing."""
    return f"{client_id}|{kind}|{cycle_start}|{cycle_end}|{site_id or '*'}|{min(contract_ids)}"


def _pins(issued: tuple[IssuedGroup, ...]) -> dict[tuple[str, str, date], list[IssuedGroup]]:
    out: dict[tuple[str, str, date], list[IssuedGroup]] = defaultdict(list)
    for group in issued:
        out[(group.client_id, group.kind, group.cycle_start)].append(group)
    return out


def _pinned(pins: dict, client_id: str, line: Line) -> IssuedGroup | None:
    """The issued invoice a line of an already issued cycle belongs to: same client, kind and
    cycle, holding the line's contract, and of the line's site unless it is consolidated."""
    for group in pins.get((client_id, line.kind, line.cycle.start), ()):
        if line.contract_id in group.contract_ids and group.site_id in (None, line.site_id):
            return group
    return None


def _open_filter(ctx: Context, open_cycles: frozenset[tuple[str, date, date]] | None):
    """Whether a contract's cycle is drafted: every one, or those `open_cycles` names."""
    if open_cycles is None:
        return lambda contract, cycle: True
    return lambda contract, cycle: (contract.client_id, cycle.start, cycle.end) in open_cycles


def draft_invoices(inputs: RatingInputs, through: date) -> list[DraftInvoice]:
    """Every invoice whose issue date is on or before `through`, deterministic order (issue_date, client_id, kind,
    site_id or '', key). Lines of a cycle already issued go to the invoice that was issued for it."""
    ctx = build_context(inputs)
    pins = _pins(inputs.issued)
    hours = rate_hours(ctx, inputs.shifts)
    inc_lines, inc_cov = rate_incidents(ctx, inputs.incidents, hours.billed)
    pat_lines, pat_cov = rate_patrols(ctx, inputs.patrols)
    wanted = _open_filter(ctx, inputs.open_cycles)
    lines: list[Line] = []
    for line in hours.lines + inc_lines + pat_lines:
        contract = ctx.contracts[line.contract_id]
        if not wanted(contract, line.cycle):
            continue
        if arrears_dates(contract, line.cycle)[0] <= through or _pinned(pins, contract.client_id, line):
            lines.append(line)
    pinned_cycles = {(cid, group.cycle_start) for groups in pins.values() for group in groups
                     if group.kind == "advance" for cid in group.contract_ids}
    lines += rate_recurring(ctx, inputs.devices, through, pinned_cycles, wanted)
    unmatched = _unmatched(ctx, inputs)
    tax_rows = parse_tax_rows(inputs.tax_rates)

    groups: dict[tuple, list[Line]] = defaultdict(list)
    pinned_to: dict[tuple, IssuedGroup] = {}
    for line in lines:
        c = ctx.contracts[line.contract_id]
        client = ctx.clients.get(c.client_id) or {}
        pin = _pinned(pins, c.client_id, line)
        if pin is not None:
            group_key = (c.client_id, line.kind, line.cycle.start, line.cycle.end, pin.issue_date, pin.due_date,
                         pin.site_id, pin.key)
            pinned_to[group_key] = pin
        else:
            issue, due = (arrears_dates if line.kind == "arrears" else advance_dates)(c, line.cycle)
            site = line.site_id if client.get("grouping") == "per_site" else None
            group_key = (c.client_id, line.kind, line.cycle.start, line.cycle.end, issue, due, site, None)
        groups[group_key].append(line)

    taken = {pin.key for pin in pinned_to.values()}
    out: list[DraftInvoice] = []
    covers: list[tuple[tuple[str, ...], date, str | None]] = []
    line_refs: list[tuple[int, Sequence[str]]] = []
    unmatched_refs: list[tuple[int, str]] = []
    for group_key, glines in groups.items():
        client_id, kind, start, end, issue, due, site, _ = group_key
        client = ctx.clients.get(client_id) or {}
        currency = client.get("currency") or "USD"
        per_site = site is not None
        contract_ids = tuple(sorted({ln.contract_id for ln in glines}))
        placed: list[tuple[Line, str]] = []
        for ln in sorted(glines, key=Line.sort_key):
            placed.append((ln, ln.category))
            placed += _discounts(ctx, ln, currency)
        draft_lines = [_draft(ctx, ln) for ln, _ in placed]
        taxes = compute_taxes(
            [(dl.tax_jurisdiction, cat, dl.amount) for dl, (_, cat) in zip(draft_lines, placed, strict=True)],
            tax_rows,
            currency,
        )
        tax_lines = [
            DraftLine(
                site_id=None,
                category="tax",
                description=t.row.name,
                quantity=t.base,
                unit="base",
                unit_price=price(t.row.rate),
                amount=t.tax,
                tax_jurisdiction=t.row.jurisdiction,
                source_refs=(),
                explanation=tax_explanation(t),
            )
            for t in taxes
        ]
        subtotal = sum((dl.amount for dl in draft_lines), ZERO)
        tax_total = sum((t.amount for t in tax_lines), ZERO)
        owner = len(out)
        covers.append((contract_ids, start, site))
        line_refs += [(owner, dl.source_refs) for dl in draft_lines]
        if kind == "arrears":
            for day, ref_site, ref in unmatched.get(client_id, ()):
                if start <= day <= end and (not per_site or ref_site == site):
                    unmatched_refs.append((owner, ref))
        pin = pinned_to.get(group_key)
        if pin is not None:
            key = pin.key
        else:
            key = invoice_key(client_id, kind, start, end, site, contract_ids)
            while key in taken:  # an unpinned group of a cycle whose first contract was issued apart
                key += "+"
        taken.add(key)
        out.append(
            DraftInvoice(
                key=key,
                kind=kind,
                client_id=client_id,
                site_id=site,
                contract_ids=contract_ids,
                currency=currency,
                period_start=min(ln.cycle.active_start for ln in glines),
                period_end=max(ln.cycle.active_end for ln in glines),
                issue_date=issue,
                due_date=due,
                lines=tuple(draft_lines + tax_lines),
                subtotal=subtotal,
                tax_total=tax_total,
                total=subtotal + tax_total,
                covered_refs=(),
            )
        )
    covered_refs = _covered_refs(covers, line_refs, hours, [inc_cov, pat_cov], unmatched_refs)
    out = [dataclasses.replace(draft, covered_refs=covered_refs.refs(n)) for n, draft in enumerate(out)]
    out.sort(key=lambda d: (d.issue_date, d.client_id, d.kind, d.site_id or "", d.key))
    return out


def _draft(ctx: Context, ln: Line) -> DraftLine:
    """A line is taxed where its site is; a line without a site (a recurring item or device
    fee the contract does not tie to one) where the contract's first site is (docs/billing-rules.md)."""
    site_id = ln.site_id if ln.site_id is not None else ctx.contracts[ln.contract_id].first_site_id
    site = ctx.sites.get(site_id) if site_id is not None else None
    return DraftLine(
        site_id=ln.site_id,
        category=ln.category,
        description=ln.description,
        quantity=ln.quantity,
        unit=ln.unit,
        unit_price=price(ln.unit_price),
        amount=ln.amount,
        tax_jurisdiction=(site or {}).get("tax_jurisdiction"),
        source_refs=ln.source_refs,
        explanation=ln.explanation,
    )


__all__ = ["build_context", "draft_invoices", "invoice_key", "round_half_up"]
