"""What a contract was billed (the offer's summary, collections.md section 7) and what it is
worth per month (sales alerts and the renewal KPIs), from the invoices issued for it.

A line belongs to the contract when its invoice holds only that contract, or when the line
cites the contract (`contracts:<id>`, recurring and discounted recurring lines) or a shift,
incident or tour the marts match to it. A line of an invoice shared with other contracts that
cites none of these (a device fee of a consolidated invoice) is left out rather than guessed.

The window is the 12 months up to the offer day (invoices issued after the same day one year
earlier), or since the contract's first invoice when it is younger. Credit notes count with
their negative amounts; taxes do not count.

Worth per month: the fixed recurring amounts of the terms per month (a weekly amount x 52 /
12), plus what varies, averaged over the days its invoices cover within the contract's dates
and times 365 / 12: usage billed in arrears (guard hours, incidents, patrols) and device
fees. Promotions and adjustments do not recur and do not count. Rounded half-up once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import psycopg2.extras

from billing.renewals.options import recurring_per_month
from billing.renewals.timeline import add_months
from vigil import currency as currency_table

HOURS = ("regular_hours", "overtime_hours", "double_time_hours", "holiday_hours", "holiday_overtime_hours",
         "special_event_hours", "minimum_shift_adjustment")
# (key, label, unit of the count, categories, categories whose quantity is the count)
GROUPS = (
    ("guard_hours", "Guard hours", "h", HOURS, HOURS),
    ("incidents", "Incident responses", "incidents", ("incident_fee", "incident_extended_time"), ("incident_fee",)),
    ("patrols", "Patrol visits", "visits", ("patrol_visit",), ("patrol_visit",)),
    ("monitoring", "Monitoring, rentals and service fees", None, ("monitoring", "equipment_rental", "service_fee"), ()),
    ("devices", "Device monitoring", None, ("device_monitoring",), ()),
    ("other", "Discounts and adjustments", None, ("discount", "adjustment"), ()),
)
USAGE = HOURS + ("incident_fee", "incident_extended_time", "patrol_visit")
DAYS_PER_MONTH = Decimal(365) / 12

_LINES_SQL = """
select i.invoice_id, i.kind, i.period_start, i.period_end, l.category, l.quantity, l.amount
from billing.invoices i
join billing.invoice_lines l using (invoice_id)
where i.client_id = %(client)s
  and %(contract)s = any(i.contract_ids)
  and i.invoice_number is not null and i.status <> 'void'
  and i.issue_date > %(since)s and i.issue_date <= %(through)s
  and l.category <> 'tax'
  and (cardinality(i.contract_ids) = 1
       or 'contracts:' || %(contract)s = any(l.source_refs)
       or exists (select 1 from marts.fct_guard_shifts s
                  where s.contract_id = %(contract)s and s.source_ref = any(l.source_refs))
       or exists (select 1 from marts.fct_incident_responses r
                  where r.contract_id = %(contract)s and r.source_ref = any(l.source_refs))
       or exists (select 1 from marts.fct_patrol_tours t
                  where t.contract_id = %(contract)s and t.source_ref = any(l.source_refs)))
order by i.invoice_id, l.line_no
"""


@dataclass(frozen=True)
class BilledGroup:
    key: str
    label: str
    quantity: Decimal | None
    unit: str | None
    amount: Decimal


@dataclass(frozen=True)
class BilledSummary:
    since: date  # first day of the window
    through: date
    currency: str
    groups: tuple[BilledGroup, ...]
    total: Decimal
    monthly_value: Decimal

    def to_dict(self) -> dict:
        show = lambda amount: currency_table.display(amount, self.currency)  # noqa: E731
        return {
            "since": self.since.isoformat(), "through": self.through.isoformat(), "currency": self.currency,
            "groups": [{"key": g.key, "label": g.label, "unit": g.unit, "amount": show(g.amount),
                        "quantity": _shown(g.quantity, g.unit)}
                       for g in self.groups],
            "total": show(self.total), "monthly_value": show(self.monthly_value),
        }


def _shown(quantity: Decimal | None, unit: str | None) -> str | None:
    """Hours with two decimals (as on invoices), counts as whole numbers."""
    if quantity is None:
        return None
    return f"{quantity:.2f}" if unit == "h" else format(quantity.normalize(), "f")


def _covered_days(periods: list[tuple[date, date]], first: date, last: date) -> int:
    days: set[date] = set()
    for start, end in periods:
        day = max(start, first)
        while day <= min(end, last):
            days.add(day)
            day += timedelta(days=1)
    return len(days)


def monthly_value(lines: list[dict], contract: dict, currency: str) -> Decimal:
    """Fixed recurring amounts per month (from the terms, exact) plus the variable part
    averaged over the days its invoices cover: usage billed in arrears, device fees."""
    fixed = recurring_per_month(contract["terms"] or {}, contract["end_date"], currency)
    per_day = Decimal(0)
    for kind, categories in (("arrears", USAGE), ("advance", ("device_monitoring",))):
        of_kind = [line for line in lines if line["kind"] == kind]
        variable = [line for line in of_kind if line["category"] in categories]
        if not variable:
            continue
        periods = sorted({(line["period_start"], line["period_end"]) for line in of_kind})
        days = _covered_days(periods, contract["start_date"], contract["end_date"])
        if days:
            per_day += sum((line["amount"] for line in variable), Decimal(0)) / days
    return currency_table.round_half_up(fixed + per_day * DAYS_PER_MONTH, currency)


def billed_summary(conn, contract: dict, currency: str, through: date) -> BilledSummary:
    """The summary of `contract` (a dim_contracts row) on business day `through`."""
    since = add_months(through, -12)
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(_LINES_SQL, {"client": contract["client_id"], "contract": contract["contract_id"],
                                 "since": since, "through": through})
        lines = cur.fetchall()
    groups = []
    for key, label, unit, categories, counted in GROUPS:
        mine = [line for line in lines if line["category"] in categories]
        if mine:
            quantity = (sum((line["quantity"] for line in mine if line["category"] in counted), Decimal(0))
                        if counted else None)
            groups.append(BilledGroup(key, label, quantity, unit,
                                      sum((line["amount"] for line in mine), Decimal(0))))
    total = sum((line["amount"] for line in lines), Decimal(0))
    monthly = monthly_value(lines, contract, currency)
    first_day = max(since + timedelta(days=1), contract["start_date"])
    return BilledSummary(first_day, through, currency, tuple(groups), total, monthly)
