"""Contract files (interfaces.md section 3): one client per YAML file -> one accepted JSON
document in raw.contract_documents, or the whole file refused.

A contract is all-or-nothing: half a contract would bill with a missing rate or
overtime rule and nobody would notice, so any error refuses the file and the client's
earlier accepted version stays in force. Every error is collected (not just the first)
so one round-trip fixes the file; the quarantine row names the first one's field path
(`contracts[0].rates[1].rate`) and YAML line. Unknown keys are errors too: a misspelt
`overtme:` would otherwise silently bill no overtime. The stored document is the YAML as
written (defaults are applied downstream), with dates as ISO strings and money kept as
the quoted strings it must be."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
import yaml

from connectors.base import FileRead, ParseResult, Quarantined, sha256_text
from vigil import currency as currency_table
from vigil.billing_cycles import CYCLES

SOURCE = "contracts"
TABLE = "contract_documents"

CHANNELS = ("email", "sms", "portal")
GROUPINGS = ("consolidated", "per_site")
BASES = ("actual", "scheduled")
STACKING = ("max", "multiply")
OVERTIME_POLICIES = ("none", "weekly", "daily", "daily_and_weekly", "california")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_BOUNDARIES = ("midnight", "shift_start")
TIER_MODES = ("graduated", "volume")
INCIDENT_MODES = ("grace", "dispatch")
RECURRING_CATEGORIES = ("monitoring", "equipment_rental", "service_fee")
DISCOUNT_CATEGORIES = (
    "regular_hours", "overtime_hours", "double_time_hours", "holiday_hours", "holiday_overtime_hours",
    "special_event_hours", "minimum_shift_adjustment", "incident_fee", "incident_extended_time",
    "patrol_visit", "monitoring", "equipment_rental", "service_fee", "device_monitoring",
)

_DECIMAL = re.compile(r"^\d+(\.\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{5,}$")
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str


class _Invalid(Exception):
    """Raised inside a validator to stop checking one value; the problem is already noted."""


class Validator:
    """Walks one parsed document, noting every problem with its field path."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, path: str, reason: str) -> None:
        self.problems.append(Problem(path, reason))

    # --- scalars -----------------------------------------------------------------------------
    def text(self, value: Any, path: str) -> str | None:
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, str):
            self.fail(path, "must not be empty")
        else:
            self.fail(path, f"must be a string, got {_describe(value)} (quote it)")
        return None

    def code(self, value: Any, path: str) -> str | None:
        text = self.text(value, path)
        if text is not None and not _CODE.match(text):
            self.fail(path, f"{text!r} is not a code (lowercase letters, digits and '_')")
            return None
        return text

    def enum(self, value: Any, path: str, choices: tuple[str, ...]) -> str | None:
        if not isinstance(value, str) or value not in choices:
            self.fail(path, f"must be one of {', '.join(choices)}, got {_describe(value)}")
            return None
        return value

    def boolean(self, value: Any, path: str) -> bool | None:
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, got {_describe(value)}")
            return None
        return value

    def integer(self, value: Any, path: str, minimum: int = 0, maximum: int | None = None) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"must be a whole number, got {_describe(value)}")
            return None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            self.fail(path, f"must be {bound}, got {value}")
            return None
        return value

    def decimal(self, value: Any, path: str, *, positive: bool = False, maximum: Decimal | None = None,
                quoted: bool = True) -> Decimal | None:
        """Money, multipliers, percents: a quoted decimal string, so YAML never turns
        `32.10` into a binary float. Hours (`quoted=False`) may also be a plain integer."""
        if not quoted and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            hint = f' (write "{value}")' if isinstance(value, int | float) and not isinstance(value, bool) else ""
            self.fail(path, f"must be a quoted decimal string, got {_describe(value)}{hint}")
            return None
        if not _DECIMAL.match(value.strip()):
            self.fail(path, f"{value!r} is not a non-negative decimal number")
            return None
        number = Decimal(value.strip())
        if positive and number <= 0:
            self.fail(path, f"must be greater than 0, got {value!r}")
            return None
        if maximum is not None and number > maximum:
            self.fail(path, f"must be at most {maximum}, got {value!r}")
            return None
        return number

    def day(self, value: Any, path: str) -> date | None:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str) and _DATE.match(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                self.fail(path, f"{value!r} is not a valid date")
                return None
        self.fail(path, f"must be a date YYYY-MM-DD, got {_describe(value)}")
        return None

    def instant(self, value: Any, path: str) -> datetime | None:
        moment = value
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                self.fail(path, f"{value!r} is not an ISO-8601 timestamp")
                return None
        if not isinstance(moment, datetime):
            self.fail(path, f"must be a timestamp with offset, got {_describe(value)}")
            return None
        if moment.tzinfo is None or moment.utcoffset() is None:
            self.fail(path, f"{_plain(value)!r} has no UTC offset (e.g. 2026-07-04T18:00:00-04:00)")
            return None
        return moment

    def timezone(self, value: Any, path: str) -> str | None:
        name = self.text(value, path)
        if name is None:
            return None
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(path, f"{name!r} is not an IANA timezone (e.g. America/New_York)")
            return None
        return name

    # --- containers --------------------------------------------------------------------------
    def mapping(self, value: Any, path: str, required: tuple[str, ...], optional: tuple[str, ...]) -> dict | None:
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping, got {_describe(value)}")
            return None
        allowed = required + optional
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
                self.fail(_join(path, key), f"unknown key {key!r} ({hint})")
        for key in required:
            if value.get(key) is None:
                self.fail(_join(path, key), "is required")
        return value

    def sequence(self, value: Any, path: str) -> list:
        if not isinstance(value, list):
            self.fail(path, f"must be a list, got {_describe(value)}")
            return []
        return value


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, datetime | date):
        return f"{type(value).__name__} {value.isoformat()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _plain(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime | date) else str(value)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


# --- the schema ------------------------------------------------------------------------------

CLIENT_KEYS = ("id", "name"), ("email", "phone", "preferred_channel", "autopay", "payment_method",
                               "grouping", "currency")
SITE_KEYS = ("id", "name", "timezone", "tax_jurisdiction"), ()
CONTRACT_KEYS = ("id", "start_date", "end_date", "billing_cycle"), (
    "cycle_anchor", "timezone", "auto_renew", "payment_terms_days", "issue_lead_days", "increment_minutes",
    "basis", "schedule_tolerance_hours", "rates", "overtime", "holidays", "events", "stacking",
    "minimum_shift_hours", "hour_tiers", "incidents", "patrol_visit_fee", "recurring", "per_device",
    "discounts", "renewal")
# `renewal.upgrade` (docs/renewals.md): the prices a renewal's `upgrade` option sets, each key
# replacing the contract's own.
UPGRADE_KEYS = ("recurring", "per_device", "rates", "incidents", "patrol_visit_fee")


def validate_document(doc: Any) -> list[Problem]:
    """Every problem of one parsed contract document (empty: accepted)."""
    v = Validator()
    top = v.mapping(doc, "", ("client", "sites", "contracts"), ())
    if top is None:
        return v.problems
    _client(v, top.get("client"))
    sites = _sites(v, top.get("sites"))
    _contracts(v, top.get("contracts"), sites)
    return v.problems


def _client(v: Validator, client: Any) -> None:
    if client is None or v.mapping(client, "client", *CLIENT_KEYS) is None:
        return
    for key in ("id", "name"):
        if client.get(key) is not None:
            v.text(client[key], f"client.{key}")
    email, phone = client.get("email"), client.get("phone")
    if email is None and phone is None:
        v.fail("client.email", "one of client.email or client.phone is required")
    if email is not None and v.text(email, "client.email") and not _EMAIL.match(email):
        v.fail("client.email", f"{email!r} is not an email address")
    if phone is not None and v.text(phone, "client.phone") and not _PHONE.match(phone):
        v.fail("client.phone", f"{phone!r} is not a phone number")
    channel = client.get("preferred_channel")
    if channel is not None and v.enum(channel, "client.preferred_channel", CHANNELS):
        needs = {"email": "email", "sms": "phone"}.get(channel)
        if needs and client.get(needs) is None:
            v.fail("client.preferred_channel", f"{channel} needs client.{needs}")
    if client.get("autopay") is not None:
        v.boolean(client["autopay"], "client.autopay")
    # autopay without payment_method is accepted: dbt raises `missing_payment_method`.
    if client.get("payment_method") is not None:
        v.text(client["payment_method"], "client.payment_method")
    if client.get("grouping") is not None:
        v.enum(client["grouping"], "client.grouping", GROUPINGS)
    currency = client.get("currency")
    if currency is not None and v.text(currency, "client.currency") and not currency_table.is_known(currency):
        v.fail("client.currency", f"{currency!r} is not an active ISO 4217 currency code (e.g. USD)")


def _sites(v: Validator, sites: Any) -> set[str]:
    declared: set[str] = set()
    if sites is None:
        v.fail("sites", "is required")
        return declared
    items = v.sequence(sites, "sites")
    if isinstance(sites, list) and not items:
        v.fail("sites", "must declare at least one site")
    for i, site in enumerate(items):
        path = f"sites[{i}]"
        if v.mapping(site, path, *SITE_KEYS) is None:
            continue
        site_id = v.text(site["id"], f"{path}.id") if site.get("id") is not None else None
        if site_id is not None:
            if site_id in declared:
                v.fail(f"{path}.id", f"site id {site_id!r} is declared twice")
            declared.add(site_id)
        if site.get("name") is not None:
            v.text(site["name"], f"{path}.name")
        if site.get("timezone") is not None:
            v.timezone(site["timezone"], f"{path}.timezone")
        if site.get("tax_jurisdiction") is not None:
            v.text(site["tax_jurisdiction"], f"{path}.tax_jurisdiction")
    return declared


def _contracts(v: Validator, contracts: Any, sites: set[str]) -> None:
    if contracts is None:
        v.fail("contracts", "is required")
        return
    seen: set[str] = set()
    for i, contract in enumerate(v.sequence(contracts, "contracts")):
        path = f"contracts[{i}]"
        if v.mapping(contract, path, *CONTRACT_KEYS) is None:
            continue
        contract_id = v.text(contract["id"], f"{path}.id") if contract.get("id") is not None else None
        if contract_id is not None:
            if contract_id in seen:
                v.fail(f"{path}.id", f"contract id {contract_id!r} is declared twice")
            seen.add(contract_id)
        _contract(v, contract, path, sites)


def _contract(v: Validator, c: dict, path: str, sites: set[str]) -> None:
    def p(key: str) -> str:
        return f"{path}.{key}"

    start = v.day(c["start_date"], p("start_date")) if c.get("start_date") is not None else None
    end = v.day(c["end_date"], p("end_date")) if c.get("end_date") is not None else None
    if start and end and end < start:
        v.fail(p("end_date"), f"end_date {end} is before start_date {start}")
    cycle = v.enum(c["billing_cycle"], p("billing_cycle"), CYCLES) if c.get("billing_cycle") is not None else None
    anchor = c.get("cycle_anchor")
    if anchor is not None:
        day = v.day(anchor, p("cycle_anchor"))
        if day is not None and day.weekday() != 0:
            v.fail(p("cycle_anchor"), f"{day} is a {day.strftime('%A')}, not a Monday")
    elif cycle == "biweekly":
        v.fail(p("cycle_anchor"), "is required for a biweekly billing_cycle (a Monday)")
    if c.get("timezone") is not None:
        v.timezone(c["timezone"], p("timezone"))
    if c.get("auto_renew") is not None:
        v.boolean(c["auto_renew"], p("auto_renew"))
    for key in ("payment_terms_days", "issue_lead_days"):
        if c.get(key) is not None:
            v.integer(c[key], p(key), 0, 366)
    if c.get("increment_minutes") is not None:
        minutes = v.integer(c["increment_minutes"], p("increment_minutes"), 1, 60)
        if minutes is not None and 60 % minutes:
            v.fail(p("increment_minutes"),
                   f"{minutes} is not a divisor of 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)")
    if c.get("basis") is not None:
        v.enum(c["basis"], p("basis"), BASES)
    if c.get("schedule_tolerance_hours") is not None:
        v.decimal(c["schedule_tolerance_hours"], p("schedule_tolerance_hours"), quoted=False)
    if c.get("stacking") is not None:
        v.enum(c["stacking"], p("stacking"), STACKING)
    if c.get("minimum_shift_hours") is not None:
        v.decimal(c["minimum_shift_hours"], p("minimum_shift_hours"), positive=True, quoted=False)
    if c.get("patrol_visit_fee") is not None:
        v.decimal(c["patrol_visit_fee"], p("patrol_visit_fee"))
    if c.get("rates") is not None:
        _rates(v, c["rates"], p("rates"), sites)
    if c.get("overtime") is not None:
        _overtime(v, c["overtime"], p("overtime"))
    if c.get("holidays") is not None:
        _holidays(v, c["holidays"], p("holidays"), start, end)
    if c.get("events") is not None:
        _events(v, c["events"], p("events"))
    if c.get("hour_tiers") is not None:
        _tiers(v, c["hour_tiers"], p("hour_tiers"))
    if c.get("incidents") is not None:
        _incidents(v, c["incidents"], p("incidents"))
    if c.get("recurring") is not None:
        _recurring(v, c["recurring"], p("recurring"), sites)
    if c.get("per_device") is not None:
        _per_device(v, c["per_device"], p("per_device"), sites)
    if c.get("discounts") is not None:
        _discounts(v, c["discounts"], p("discounts"))
    if c.get("renewal") is not None:
        _renewal(v, c["renewal"], p("renewal"), sites)


def _site_ref(v: Validator, item: dict, path: str, sites: set[str], required: bool) -> None:
    site_id = item.get("site_id")
    if site_id is None:
        if required:
            v.fail(f"{path}.site_id", "is required")
        return
    if v.text(site_id, f"{path}.site_id") and site_id not in sites:
        v.fail(f"{path}.site_id", f"site {site_id!r} is not declared under sites")


def _rates(v: Validator, rates: Any, path: str, sites: set[str]) -> None:
    keys: dict[tuple, int] = {}
    for i, rate in enumerate(v.sequence(rates, path)):
        at = f"{path}[{i}]"
        if v.mapping(rate, at, ("service_type", "rate"), ("site_id", "effective_from")) is None:
            continue
        service = v.code(rate["service_type"], f"{at}.service_type") if rate.get("service_type") else None
        if rate.get("rate") is not None:
            v.decimal(rate["rate"], f"{at}.rate", positive=True)  # never bill a zero rate
        _site_ref(v, rate, at, sites, required=False)
        effective = v.day(rate["effective_from"], f"{at}.effective_from") if rate.get("effective_from") else None
        key = (service, rate.get("site_id"), effective)
        if service is not None and key in keys:
            v.fail(f"{at}.service_type", f"same service_type, site and effective_from as {path}[{keys[key]}]")
        keys.setdefault(key, i)


def _overtime(v: Validator, overtime: Any, path: str) -> None:
    optional = ("weekly_hours", "daily_hours", "workweek_start", "day_boundary", "multiplier",
                "double_time_multiplier")
    if v.mapping(overtime, path, ("policy",), optional) is None:
        return
    if overtime.get("policy") is not None:
        v.enum(overtime["policy"], f"{path}.policy", OVERTIME_POLICIES)
    for key in ("weekly_hours", "daily_hours"):
        if overtime.get(key) is not None:
            v.decimal(overtime[key], f"{path}.{key}", positive=True, quoted=False)
    if overtime.get("workweek_start") is not None:
        v.enum(overtime["workweek_start"], f"{path}.workweek_start", WEEKDAYS)
    if overtime.get("day_boundary") is not None:
        v.enum(overtime["day_boundary"], f"{path}.day_boundary", DAY_BOUNDARIES)
    for key in ("multiplier", "double_time_multiplier"):
        if overtime.get(key) is not None:
            v.decimal(overtime[key], f"{path}.{key}", positive=True)


@lru_cache(maxsize=1)
def _supported_countries() -> dict[str, list[str]]:
    import holidays

    return holidays.list_supported_countries()


@lru_cache(maxsize=256)
def _holiday_names(country: str, subdiv: str | None, years: tuple[int, ...]) -> frozenset[str]:
    import holidays

    calendar = holidays.country_holidays(country, subdiv=subdiv, years=years, observed=True)
    names: set[str] = set()
    for joined in calendar.values():
        for name in joined.split("; "):
            names.add(name.replace(" (observed)", ""))
    return frozenset(names)


def _holidays(v: Validator, block: Any, path: str, start: date | None, end: date | None) -> None:
    if v.mapping(block, path, (), ("country", "subdiv", "names", "dates", "observed", "multiplier")) is None:
        return
    country = v.text(block["country"], f"{path}.country") if block.get("country") is not None else None
    subdiv = v.text(block["subdiv"], f"{path}.subdiv") if block.get("subdiv") is not None else None
    if country is not None and country not in _supported_countries():
        v.fail(f"{path}.country", f"{country!r} is not a country the holidays library knows (ISO 3166 code)")
        country = None
    elif country is not None and subdiv is not None and subdiv not in _supported_countries()[country]:
        v.fail(f"{path}.subdiv", f"{subdiv!r} is not a subdivision of {country}")
        country = None
    if block.get("names") is not None:
        if country is None and block.get("country") is None:
            v.fail(f"{path}.names", "names need a country")
        names = v.sequence(block["names"], f"{path}.names")
        known = (_holiday_names(country, subdiv, tuple(range(start.year, end.year + 1)))
                 if country and start and end and end >= start else None)
        for i, name in enumerate(names):
            if v.text(name, f"{path}.names[{i}]") and known is not None and name not in known:
                v.fail(f"{path}.names[{i}]", f"{name!r} is not a holiday of {country}{'-' + subdiv if subdiv else ''}"
                                             f" as the holidays library spells it")
    if block.get("dates") is not None:
        for i, day in enumerate(v.sequence(block["dates"], f"{path}.dates")):
            v.day(day, f"{path}.dates[{i}]")
    if block.get("observed") is not None:
        v.boolean(block["observed"], f"{path}.observed")
    if block.get("multiplier") is not None:
        v.decimal(block["multiplier"], f"{path}.multiplier", positive=True)
    if block.get("country") is None and block.get("dates") is None:
        v.fail(f"{path}.country", "a holidays block needs a country or dates")


def _events(v: Validator, events: Any, path: str) -> None:
    for i, event in enumerate(v.sequence(events, path)):
        at = f"{path}[{i}]"
        if v.mapping(event, at, ("name", "start", "end", "multiplier"), ()) is None:
            continue
        if event.get("name") is not None:
            v.text(event["name"], f"{at}.name")
        begin = v.instant(event["start"], f"{at}.start") if event.get("start") is not None else None
        finish = v.instant(event["end"], f"{at}.end") if event.get("end") is not None else None
        if begin and finish and finish <= begin:
            v.fail(f"{at}.end", "must be after start")
        if event.get("multiplier") is not None:
            v.decimal(event["multiplier"], f"{at}.multiplier", positive=True)


def _tiers(v: Validator, block: Any, path: str) -> None:
    if v.mapping(block, path, ("mode", "tiers"), ()) is None:
        return
    if block.get("mode") is not None:
        v.enum(block["mode"], f"{path}.mode", TIER_MODES)
    if block.get("tiers") is None:
        return
    tiers = v.sequence(block["tiers"], f"{path}.tiers")
    if isinstance(block["tiers"], list) and not tiers:
        v.fail(f"{path}.tiers", "must list at least one tier")
    previous: Decimal | None = None
    for i, tier in enumerate(tiers):
        at = f"{path}.tiers[{i}]"
        if v.mapping(tier, at, ("from_hours", "rate"), ()) is None:
            continue
        low = v.decimal(tier["from_hours"], f"{at}.from_hours", quoted=False) if tier.get("from_hours") is not None \
            else None
        if tier.get("rate") is not None:
            v.decimal(tier["rate"], f"{at}.rate", positive=True)
        if low is not None:
            if i == 0 and low != 0:
                v.fail(f"{at}.from_hours", "the first tier must start at 0 hours")
            if previous is not None and low <= previous:
                v.fail(f"{at}.from_hours", "tiers must be in increasing from_hours")
            previous = low


def _incidents(v: Validator, block: Any, path: str) -> None:
    if not isinstance(block, dict):
        v.fail(path, f"must be a mapping of classification to pricing, got {_describe(block)}")
        return
    for classification, price in block.items():
        at = f"{path}.{classification}"
        if not isinstance(classification, str) or not _CODE.match(classification):
            v.fail(at, f"classification {classification!r} is not a code (lowercase letters, digits and '_')")
        if v.mapping(price, at, ("flat_fee", "hourly_rate"), ("included_minutes", "mode")) is None:
            continue
        for key in ("flat_fee", "hourly_rate"):
            if price.get(key) is not None:
                v.decimal(price[key], f"{at}.{key}")
        if price.get("included_minutes") is not None:
            v.integer(price["included_minutes"], f"{at}.included_minutes", 0)
        if price.get("mode") is not None:
            v.enum(price["mode"], f"{at}.mode", INCIDENT_MODES)


def _recurring(v: Validator, items: Any, path: str, sites: set[str]) -> None:
    """Two items with the same code, site, category and effective date would bill as one
    (the later silently replacing the earlier), so the file is refused instead."""
    seen: dict[tuple, int] = {}
    for i, item in enumerate(v.sequence(items, path)):
        at = f"{path}[{i}]"
        if v.mapping(item, at, ("code", "category", "site_id", "amount"), ("effective_from",)) is None:
            continue
        if item.get("code") is not None:
            v.text(item["code"], f"{at}.code")
        if item.get("category") is not None:
            v.enum(item["category"], f"{at}.category", RECURRING_CATEGORIES)
        _site_ref(v, item, at, sites, required=False)
        if item.get("amount") is not None:
            v.decimal(item["amount"], f"{at}.amount")
        effective = v.day(item["effective_from"], f"{at}.effective_from") if item.get("effective_from") else None
        identity = (str(item.get("code")), item.get("site_id"), item.get("category"), effective)
        if identity in seen:
            v.fail(f"{at}.code", f"same code, site_id, category and effective_from as {path}[{seen[identity]}]: "
                                 "each would bill separately only if they differ")
        seen.setdefault(identity, i)


def _per_device(v: Validator, items: Any, path: str, sites: set[str]) -> None:
    seen: dict[tuple, int] = {}
    for i, item in enumerate(v.sequence(items, path)):
        at = f"{path}[{i}]"
        if v.mapping(item, at, ("device_type", "monthly_fee"), ("site_id",)) is None:
            continue
        if item.get("device_type") is not None:
            v.code(item["device_type"], f"{at}.device_type")
        _site_ref(v, item, at, sites, required=False)
        if item.get("monthly_fee") is not None:
            v.decimal(item["monthly_fee"], f"{at}.monthly_fee")
        identity = (str(item.get("device_type")), item.get("site_id"))
        if identity in seen:
            v.fail(f"{at}.device_type", f"same device_type and site_id as {path}[{seen[identity]}]")
        seen.setdefault(identity, i)


def _discounts(v: Validator, items: Any, path: str) -> None:
    for i, item in enumerate(v.sequence(items, path)):
        at = f"{path}[{i}]"
        if v.mapping(item, at, ("percent", "categories", "cycles"), ()) is None:
            continue
        if item.get("percent") is not None:
            v.decimal(item["percent"], f"{at}.percent", positive=True, maximum=Decimal(100))
        if item.get("categories") is not None:
            categories = v.sequence(item["categories"], f"{at}.categories")
            if isinstance(item["categories"], list) and not categories:
                v.fail(f"{at}.categories", "must name at least one category")
            for j, category in enumerate(categories):
                v.enum(category, f"{at}.categories[{j}]", DISCOUNT_CATEGORIES)
        if item.get("cycles") is not None:
            v.integer(item["cycles"], f"{at}.cycles", 1)


def _renewal(v: Validator, block: Any, path: str, sites: set[str]) -> None:
    """The contract's documented upgrade, offered as the renewal option `upgrade`."""
    if v.mapping(block, path, (), ("upgrade",)) is None or block.get("upgrade") is None:
        return
    at = f"{path}.upgrade"
    upgrade = v.mapping(block["upgrade"], at, (), ("description", *UPGRADE_KEYS))
    if upgrade is None:
        return
    if not any(key in upgrade for key in UPGRADE_KEYS):
        v.fail(at, f"must set at least one of {', '.join(UPGRADE_KEYS)}")
    if upgrade.get("description") is not None:
        v.text(upgrade["description"], f"{at}.description")
    if upgrade.get("recurring") is not None:
        _recurring(v, upgrade["recurring"], f"{at}.recurring", sites)
    if upgrade.get("per_device") is not None:
        _per_device(v, upgrade["per_device"], f"{at}.per_device", sites)
    if upgrade.get("rates") is not None:
        _rates(v, upgrade["rates"], f"{at}.rates", sites)
    if upgrade.get("incidents") is not None:
        _incidents(v, upgrade["incidents"], f"{at}.incidents")
    if upgrade.get("patrol_visit_fee") is not None:
        v.decimal(upgrade["patrol_visit_fee"], f"{at}.patrol_visit_fee")


# --- YAML with line numbers -----------------------------------------------------------------

class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates and timestamps as the text written, so an impossible
    date is reported with its field and line instead of failing the whole parse."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_scalar)


def load_yaml(text: str) -> tuple[Any, dict[str, int], list[Problem]]:
    """Parse YAML keeping each value's line (1-based) by field path; duplicate and
    non-string keys are problems (PyYAML would silently keep the last)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    problems: list[Problem] = []

    def walk(n: yaml.Node, path: str) -> None:
        lines.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in n.value:
                key = key_node.value
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                    sub = _join(path, key if isinstance(key, str) else "?")
                    lines.setdefault(sub, key_node.start_mark.line + 1)
                    problems.append(Problem(sub, f"key {key!r} must be a plain name"))
                    continue
                sub = _join(path, key)
                if key in seen:
                    problems.append(Problem(sub, f"key {key!r} appears twice"))
                    lines[sub] = key_node.start_mark.line + 1
                    continue
                seen.add(key)
                lines[sub] = key_node.start_mark.line + 1
                walk(value_node, sub)
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, f"{path}[{i}]")

    if node is not None:
        walk(node, "")
    return data, lines, problems


def line_of(path: str, lines: dict[str, int]) -> int | None:
    """The YAML line of a field, else of its nearest present parent (a missing key)."""
    while True:
        if path in lines:
            return lines[path]
        if not path:
            return None
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""


def to_json(value: Any) -> Any:
    """The document as stored: dates and timestamps as ISO strings, everything else as is."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def canonical_json(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- files -----------------------------------------------------------------------------------

@dataclass
class ContractFile:
    """One contract file's outcome: the accepted document or the refusal."""

    path: str
    sha256: str
    client_id: str | None
    document: dict | None
    refusal: Quarantined | None


def _refuse(path: str, text: str, problems: list[Problem], lines: dict[str, int],
            client_id: str | None) -> Quarantined:
    problems = sorted(problems, key=lambda p: line_of(p.path, lines) or 0)
    first = problems[0]
    reason = f"{first.path}: {first.reason}" if first.path else first.reason
    if len(problems) > 1:
        more = "; ".join(f"{p.path}: {p.reason}" for p in problems[1:10])
        extra = f" and {len(problems) - 10} more" if len(problems) > 10 else ""
        reason = f"{reason} (also {more}{extra})"
    return Quarantined(SOURCE, path, line_of(first.path, lines), client_id, first.path or None,
                       f"contract file rejected: {reason}", text)


def read_contract(path: Path) -> ContractFile:
    """One contract YAML -> accepted document or whole-file refusal. Pure."""
    path = Path(path)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    file_path = str(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        shown = data.decode("utf-8", errors="replace")
        return ContractFile(file_path, digest, None, None, Quarantined(
            SOURCE, file_path, None, None, None, f"contract file rejected: not UTF-8 ({exc.reason})", shown))
    try:
        doc, lines, problems = load_yaml(text)
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: e.g. `2026-02-30` as an unquoted date
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        return ContractFile(file_path, digest, None, None, Quarantined(
            SOURCE, file_path, line, None, None, f"contract file rejected: not valid YAML: {what}", text))
    problems = problems + validate_document(doc)
    client = doc.get("client") if isinstance(doc, dict) else None
    client_id = client.get("id") if isinstance(client, dict) and isinstance(client.get("id"), str) else None
    if problems:
        return ContractFile(file_path, digest, client_id, None, _refuse(file_path, text, problems, lines, client_id))
    return ContractFile(file_path, digest, client_id, to_json(doc), None)


def _ownership(files: list[ContractFile], in_force: dict[str, dict]) -> None:
    """Refuse a file that declares a site or contract id another client owns: dbt maps
    every record to a client through its site, so an id must have one owner. Owners are
    the documents in force, replaced by this batch's accepted ones."""
    owners = dict(in_force)
    for f in files:
        if f.document is not None:
            owners[f.client_id] = f.document
    claims: dict[tuple[str, str], set[str]] = {}
    for client, doc in owners.items():
        for what in ("site", "contract"):
            for item in doc.get(f"{what}s") or []:
                if isinstance(item, dict) and item.get("id"):
                    claims.setdefault((what, item["id"]), set()).add(client)
    for f in files:
        if f.document is None:
            continue
        problems: list[Problem] = []
        for what, items in (("site", f.document.get("sites", [])), ("contract", f.document.get("contracts", []))):
            for i, item in enumerate(items):
                others = sorted(claims.get((what, item["id"]), set()) - {f.client_id})
                if others:
                    problems.append(Problem(f"{what}s[{i}].id",
                                            f"{what} id {item['id']!r} also belongs to client {', '.join(others)}"))
        if problems:
            text = Path(f.path).read_text(encoding="utf-8-sig")
            _, lines, _ = load_yaml(text)
            f.refusal = _refuse(f.path, text, problems, lines, f.client_id)
            f.document = None


def parse_contracts(paths: list[Path], in_force: dict[str, dict] | None = None) -> ParseResult:
    """Contract files -> ParseResult for raw.contract_documents (`client_id, document`
    (canonical JSON text), `source_file, content_hash`). `in_force` (client -> document)
    lets ownership be checked against clients not in this batch."""
    files = [read_contract(p) for p in sorted(Path(p) for p in paths)]
    _ownership(files, in_force or {})
    rows = [{"client_id": f.client_id, "document": canonical_json(f.document), "source_file": f.path}
            for f in files if f.document is not None]
    for row in rows:
        row["content_hash"] = sha256_text(row["document"])
    frame = pl.DataFrame(rows, schema={"client_id": pl.Utf8, "document": pl.Utf8, "source_file": pl.Utf8,
                                       "content_hash": pl.Utf8})
    return ParseResult(
        source=SOURCE, table=TABLE, rows=frame,
        quarantined=[f.refusal for f in files if f.refusal is not None],
        files=[FileRead(SOURCE, f.path, f.sha256, 1) for f in files],
    )


def parse_contract(path: Path) -> ParseResult:
    """One contract file -> ParseResult (one document or one refusal). Pure."""
    return parse_contracts([path])
