"""The renewal options of an offer (collections.md section 7), computed from the contract's
terms as they stand on its last day. Pure: contract objects (interfaces.md section 3) in,
contract objects and price rows out; money as Decimal, quoted strings in the terms.

- `same`: the terms in force on the contract's last day, for the same length.
- `upgrade`: the contract's documented upgrade (`renewal.upgrade`, docs/renewals.md), else
  the next monitoring tier of each monitoring item: the cheapest plan of the company's
  monitoring ladder priced above the item (`monitoring_ladder`). No documented upgrade and
  no higher tier: no `upgrade` option.
- `longer_term`: twice the length, every recurring amount (`recurring[].amount`,
  `per_device[].monthly_fee`) 5 % lower, rounded half-up per item to the currency's minor
  unit, shown as the new amounts.

A renewed contract is a new version, not a new customer: promotional `discounts` (the first
cycles of a contract) are not carried over, and versioned prices collapse to the one in
force on the last day (later-dated versions are kept)."""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billing.renewals.timeline import Term, term_of
from vigil import currency as currency_table
from vigil.billing_cycles import CYCLE_MONTHS

OPTIONS = ("same", "upgrade", "longer_term")
LONGER_TERM_FACTOR = 2
LONGER_TERM_REDUCTION = Decimal("0.95")
UPGRADE_KEYS = ("recurring", "per_device", "rates", "incidents", "patrol_visit_fee")
# What a renewal copies from the contract object: everything but identity, dates, the
# promotion and the renewal bookkeeping of the old version.
_NOT_CARRIED = ("id", "start_date", "end_date", "discounts", "renewal_of", "origin")
# cycles per month: a recurring amount is per cycle, so its monthly figure is amount x this
CYCLES_PER_MONTH = {"weekly": Decimal(52) / 12, "biweekly": Decimal(26) / 12, "daily": Decimal(365) / 12,
                    **{cycle: Decimal(1) / months for cycle, months in CYCLE_MONTHS.items()}}


def _effective(item: dict) -> date:
    value = item.get("effective_from")
    return date.fromisoformat(str(value)[:10]) if value else date.min


def _collapse(items: list[dict], identity: tuple[str, ...], on: date) -> list[dict]:
    """Versioned items (same identity, other `effective_from`): the version in force on `on`
    without its date, plus every version dated after `on`, in the contract's order."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for item in items:
        groups[tuple(item.get(key) for key in identity)].append(item)
    kept: list[dict] = []
    for item in items:
        versions = groups[tuple(item.get(key) for key in identity)]
        in_force = [v for v in versions if _effective(v) <= on]
        current = max(in_force, key=_effective) if in_force else None
        if item is current:
            kept.append({k: v for k, v in item.items() if k != "effective_from"})
        elif _effective(item) > on:
            kept.append(dict(item))
    return kept


def carried_terms(terms: dict, last_day: date) -> dict:
    """The contract object a renewal starts from: the terms in force on `last_day`."""
    carried = {k: copy.deepcopy(v) for k, v in terms.items() if k not in _NOT_CARRIED}
    if carried.get("recurring"):
        carried["recurring"] = _collapse(carried["recurring"], ("code", "site_id", "category"), last_day)
    if carried.get("rates"):
        carried["rates"] = _collapse(carried["rates"], ("service_type", "site_id"), last_day)
    return carried


def monitoring_ladder(contracts: list[dict], currency: str, currencies: dict[str, str]) -> list[tuple[str, Decimal]]:
    """The company's monitoring plans in `currency`, cheapest first: each code of a
    `monitoring` recurring item in force, at the amount most contracts charge for it (the
    lower on a tie). `contracts` are dim_contracts rows; `currencies` maps client -> currency."""
    amounts: dict[str, Counter] = defaultdict(Counter)
    for row in contracts:
        if (currencies.get(row["client_id"]) or "USD") != currency:
            continue
        terms = row["terms"] or {}
        for item in carried_terms(terms, row["end_date"]).get("recurring") or []:
            if item.get("category") == "monitoring" and not item.get("effective_from"):
                amounts[str(item["code"])][Decimal(str(item["amount"]))] += 1
    ladder = []
    for code, counts in amounts.items():
        best = max(counts.values())
        ladder.append((code, min(amount for amount, n in counts.items() if n == best)))
    return sorted(ladder, key=lambda entry: (entry[1], entry[0]))


def _next_tier(code: str, amount: Decimal, ladder: list[tuple[str, Decimal]]) -> tuple[str, Decimal] | None:
    for other, price in ladder:
        if other != code and price > amount:
            return other, price
    return None


def upgrade(terms: dict, carried: dict, ladder: list[tuple[str, Decimal]], currency: str) -> tuple[dict, str] | None:
    """The upgraded terms and what the upgrade is, or None when there is none."""
    documented = (terms.get("renewal") or {}).get("upgrade")
    if documented:
        upgraded = copy.deepcopy(carried)
        for key in UPGRADE_KEYS:
            if key in documented:
                upgraded[key] = copy.deepcopy(documented[key])
        upgraded.pop("renewal", None)  # the documented upgrade is used up once taken
        return upgraded, str(documented.get("description") or "the upgrade documented in your contract")
    changes = []
    upgraded = copy.deepcopy(carried)
    for item in upgraded.get("recurring") or []:
        if item.get("category") != "monitoring" or item.get("effective_from"):
            continue
        current = Decimal(str(item["amount"]))
        found = _next_tier(str(item["code"]), current, ladder)
        if found is None:
            continue
        code, price = found
        changes.append(f"{item['code']} to {code}" + (f" at {item['site_id']}" if item.get("site_id") else ""))
        item["code"], item["amount"] = code, currency_table.display(price, currency)
    if not changes:
        return None
    return upgraded, "next monitoring tier: " + ", ".join(changes)


def longer_term(carried: dict, currency: str) -> dict:
    """Every recurring amount 5 % lower, rounded half-up per item (shown as new amounts)."""
    reduced = copy.deepcopy(carried)
    for item in reduced.get("recurring") or []:
        item["amount"] = currency_table.display(
            currency_table.round_half_up(Decimal(str(item["amount"])) * LONGER_TERM_REDUCTION, currency), currency)
    for item in reduced.get("per_device") or []:
        item["monthly_fee"] = currency_table.display(
            currency_table.round_half_up(Decimal(str(item["monthly_fee"])) * LONGER_TERM_REDUCTION, currency),
            currency)
    return reduced


@dataclass(frozen=True)
class PriceRow:
    what: str
    unit: str
    amount: str

    def to_dict(self) -> dict:
        return {"what": self.what, "unit": self.unit, "amount": self.amount}


def price_rows(terms: dict, currency: str) -> list[PriceRow]:
    """The prices a contract object sets, one row each, for the offer and the portal."""
    cycle = terms.get("billing_cycle", "monthly")
    rows = []
    for item in terms.get("recurring") or []:
        site = f" at {item['site_id']}" if item.get("site_id") else ""
        since = f" from {item['effective_from']}" if item.get("effective_from") else ""
        label = str(item.get("category", "")).replace("_", " ").capitalize()
        rows.append(PriceRow(f"{label} {item['code']}{site}{since}", f"per {cycle} cycle",
                             currency_table.display(Decimal(str(item["amount"])), currency)))
    for item in terms.get("per_device") or []:
        site = f" at {item['site_id']}" if item.get("site_id") else ""
        rows.append(PriceRow(f"Device monitoring, {str(item['device_type']).replace('_', ' ')}{site}",
                             "per device per month", currency_table.display(Decimal(str(item["monthly_fee"])),
                                                                            currency)))
    for rate in terms.get("rates") or []:
        site = f" at {rate['site_id']}" if rate.get("site_id") else ""
        since = f" from {rate['effective_from']}" if rate.get("effective_from") else ""
        rows.append(PriceRow(f"{str(rate['service_type']).replace('_', ' ').capitalize()} officer{site}{since}",
                             "per hour", currency_table.display(Decimal(str(rate["rate"])), currency)))
    for name, price in sorted((terms.get("incidents") or {}).items()):
        label = name.replace("_", " ").capitalize()
        included = int(price.get("included_minutes", 0) or 0)
        rows.append(PriceRow(f"Incident response, {label}" + (f" ({included} min included)" if included else ""),
                             "per incident", currency_table.display(Decimal(str(price.get("flat_fee", "0"))),
                                                                    currency)))
        if price.get("hourly_rate") is not None:
            rows.append(PriceRow(f"Incident response, {label}, extended time", "per hour",
                                 currency_table.display(Decimal(str(price["hourly_rate"])), currency)))
    if terms.get("patrol_visit_fee") is not None:
        rows.append(PriceRow("Patrol visit", "per visit",
                             currency_table.display(Decimal(str(terms["patrol_visit_fee"])), currency)))
    return rows


def recurring_per_month(terms: dict, on: date, currency: str) -> Decimal:
    """The fixed recurring amounts in force on `on`, per month (a weekly amount x 52 / 12, a
    quarterly one / 3)."""
    factor = CYCLES_PER_MONTH.get(terms.get("billing_cycle", "monthly"), Decimal(1))
    total = sum((Decimal(str(item["amount"])) for item in carried_terms(terms, on).get("recurring") or []
                 if not item.get("effective_from")), Decimal(0))
    return currency_table.round_half_up(total * factor, currency)


@dataclass(frozen=True)
class Option:
    name: str  # same | upgrade | longer_term
    term: Term
    terms: dict  # the contract object without id and dates
    description: str

    def period(self, end_date: date) -> tuple[date, date]:
        return self.term.period_after(end_date)

    def to_dict(self, end_date: date, currency: str) -> dict:
        start, end = self.period(end_date)
        return {"name": self.name, "term": self.term.to_dict(), "length": self.term.describe(),
                "start_date": start.isoformat(), "end_date": end.isoformat(), "description": self.description,
                "prices": [row.to_dict() for row in price_rows(self.terms, currency)], "terms": self.terms}


def dated_options(offer: dict, end_date: date) -> list[dict]:
    """The offer's options with their dates from `end_date`: an undecided renewal follows its
    contract's end date (the contract file may move it after the offer went out)."""
    dated = []
    for option in offer["options"]:
        start, end = Term.from_dict(option["term"]).period_after(end_date)
        dated.append({**option, "start_date": start.isoformat(), "end_date": end.isoformat()})
    return dated


def options_for(terms: dict, start_date: date, end_date: date, currency: str,
                ladder: list[tuple[str, Decimal]]) -> list[Option]:
    """The options offered for a contract running start_date..end_date."""
    term = term_of(start_date, end_date)
    carried = carried_terms(terms, end_date)
    options = [Option("same", term, carried, f"the same terms for {term.describe()}")]
    upgraded = upgrade(terms, carried, ladder, currency)
    if upgraded is not None:
        options.append(Option("upgrade", term, upgraded[0], upgraded[1]))
    longer = term.times(LONGER_TERM_FACTOR)
    options.append(Option("longer_term", longer, longer_term(carried, currency),
                          f"{longer.describe()} with every recurring amount 5% lower"))
    return options
