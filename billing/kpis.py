"""Finance KPIs per calendar month (issue 12), computed from the billing tables and the
findings; the console draws them and the Dagster asset kpis/monthly stores them in
billing.monthly_kpis with the same numbers.

- billing accuracy (month of issue): share of invoices (credit notes aside) issued without
  correction: not held before issue, and no difference billed later against them (an
  adjustment or a credit note);
- service to invoice (month of issue): mean days from the end of the service period to the
  issue date, arrears invoices;
- days to pay (month of payment): mean days from issue to the day the last payment or credit
  settled the invoice;
- auto-pay rate (month of payment): share of the payments received that came from an
  auto-pay charge;
- renewal rate (month the contract ends): share of the contracts whose renewal was decided
  (billing.renewals: accepted, auto-renewed, declined or expired, decided by the day) that
  were renewed; the same rule as the renewals asset's KPI (billing/renewals/kpis.py);
- leakage (month of service): records (shifts, incidents, tours) delivered and billed on no
  invoice, among those named by a finding whose record the rules do not bill (missing
  check-out or rate, bad interval, outside or ambiguous contract, unpriced incident, missed
  checkpoints) or that finance excluded; with the guard hours of such shifts.

A month without the events a ratio needs has no value (None), never 0."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal

import psycopg2.extras

# Findings whose record is, by the rules, not billed until (or unless) someone decides.
UNBILLED_TYPES = ("missing_checkout", "bad_interval", "missing_rate", "service_outside_contract", "ambiguous_contract",
                  "unpriced_incident", "missed_checkpoints")


@dataclass(frozen=True)
class MonthKpis:
    month: date
    invoices_issued: int = 0
    invoices_corrected: int = 0
    billing_accuracy: Decimal | None = None
    service_to_invoice_days: Decimal | None = None
    days_to_pay: Decimal | None = None
    payments: int = 0
    autopay_payments: int = 0
    autopay_rate: Decimal | None = None
    contracts_ending: int = 0
    contracts_renewed: int = 0
    renewal_rate: Decimal | None = None
    leakage_records: int = 0
    leakage_hours: Decimal = Decimal("0")


_ISSUED = """
select date_trunc('month', i.issue_date)::date as month,
       count(*) as invoices_issued,
       count(*) filter (where i.issued_at > i.created_at
                        or exists (select 1 from billing.adjustments a where a.original_invoice_id = i.invoice_id)
                        or exists (select 1 from billing.invoices n where n.credit_for = i.invoice_number))
           as invoices_corrected,
       avg(i.issue_date - i.period_end) filter (where i.kind = 'arrears') as service_to_invoice_days
from billing.invoices i
where i.invoice_number like 'INV-%%' and i.credit_for is null and i.status <> 'void'
group by 1
"""

_PAID = """
with settled as (
    select i.invoice_id, i.issue_date, max(e.effective_date) as paid_on
    from billing.invoices i join billing.ledger_entries e using (invoice_id)
    where i.status = 'paid' and i.invoice_number like 'INV-%%' and e.entry_type in ('payment', 'credit')
    group by i.invoice_id, i.issue_date
)
select date_trunc('month', paid_on)::date as month, avg(paid_on - issue_date) as days_to_pay
from settled group by 1
"""

_PAYMENTS = """
select date_trunc('month', effective_date)::date as month, count(*) as payments,
       count(*) filter (where payment_attempt_id is not null) as autopay_payments
from billing.ledger_entries where entry_type = 'payment' group by 1
"""

_RENEWALS = """
select date_trunc('month', end_date)::date as month, count(*) as contracts_ending,
       count(*) filter (where decision in ('accepted', 'auto_renewed')) as contracts_renewed
from billing.renewals
where decision is not null and decided_on <= %(through)s
group by 1
"""

_LEAKAGE = """
with cited as (
    select distinct f.service_date, ref
    from marts.fct_findings f
    left join billing.finding_reviews r using (finding_id)
    cross join lateral unnest(f.evidence) as ref
    where f.service_date is not null and (f.type = any(%(unbilled)s) or r.status = 'excluded')
),
-- the cited records no invoice line bills (the lines' refs through their GIN index, and the
-- records by their key: a day's run reads the findings, not every line and record)
unbilled as (
    select cited.*
    from cited
    where not exists (
        select 1 from billing.invoice_lines l join billing.invoices i using (invoice_id)
        where l.source_refs @> array[cited.ref] and i.status <> 'void')
),
records as (
    select source_ref, case when has_valid_interval then extract(epoch from check_out_at - check_in_at) / 3600 end
        as hours
    from marts.fct_guard_shifts where source_ref in (select ref from unbilled)
    union all select source_ref, null from marts.fct_incident_responses where source_ref in (select ref from unbilled)
    union all select source_ref, null from marts.fct_patrol_tours where source_ref in (select ref from unbilled)
)
select date_trunc('month', unbilled.service_date)::date as month, count(*) as leakage_records,
       coalesce(sum(records.hours), 0) as leakage_hours
from unbilled join (select distinct on (source_ref) * from records) as records on records.source_ref = unbilled.ref
group by 1
"""


def _ratio(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / whole).quantize(Decimal("0.0001")) if whole else None


def _days(value) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.1"))


def monthly_kpis(conn, through: date, months_back: int = 12) -> list[MonthKpis]:
    """The months up to the one of `through` (the business date), at most `months_back` of
    them, that any KPI has data for, oldest first. A contract counts for renewals once its
    end date has passed."""
    last = through.replace(day=1)
    first_index = last.year * 12 + last.month - 1 - (months_back - 1)
    first = date(first_index // 12, first_index % 12 + 1, 1)
    months: dict[date, dict] = {}
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        for sql in (_ISSUED, _PAID, _PAYMENTS, _RENEWALS, _LEAKAGE):
            cur.execute(sql, {"unbilled": list(UNBILLED_TYPES), "through": through})
            for row in cur.fetchall():
                if first <= row["month"] <= last:
                    months.setdefault(row.pop("month"), {}).update(row)
    out = []
    for month in sorted(months):
        values = months[month]
        issued, corrected = values.get("invoices_issued", 0), values.get("invoices_corrected", 0)
        payments, autopay = values.get("payments", 0), values.get("autopay_payments", 0)
        ending, renewed = values.get("contracts_ending", 0), values.get("contracts_renewed", 0)
        out.append(MonthKpis(
            month=month, invoices_issued=issued, invoices_corrected=corrected,
            billing_accuracy=_ratio(issued - corrected, issued),
            service_to_invoice_days=_days(values.get("service_to_invoice_days")),
            days_to_pay=_days(values.get("days_to_pay")),
            payments=payments, autopay_payments=autopay, autopay_rate=_ratio(autopay, payments),
            contracts_ending=ending, contracts_renewed=renewed, renewal_rate=_ratio(renewed, ending),
            leakage_records=values.get("leakage_records", 0),
            leakage_hours=Decimal(values.get("leakage_hours") or 0).quantize(Decimal("0.01")),
        ))
    return out


def store(conn, rows: list[MonthKpis]) -> None:
    """Replace billing.monthly_kpis with `rows` (one transaction)."""
    columns = list(asdict(rows[0])) if rows else []
    with conn.cursor() as cur:
        cur.execute("delete from billing.monthly_kpis")
        for row in rows:
            values = asdict(row)
            cur.execute(f"insert into billing.monthly_kpis ({', '.join(columns)}) "
                        f"values ({', '.join(['%s'] * len(columns))})", [values[c] for c in columns])
    conn.commit()


# (field, title, unit) of each chart, in the order the console and the Dagster asset show them
CHARTS = (
    ("billing_accuracy", "Billing accuracy: invoices issued without correction", "%"),
    ("service_to_invoice_days", "Service to invoice: days from period end to issue", " d"),
    ("days_to_pay", "Days to pay: issue to settled", " d"),
    ("autopay_rate", "Auto-pay rate: share of payments", "%"),
    ("renewal_rate", "Renewal rate: contracts ending that were renewed", "%"),
    ("leakage_records", "Leakage: records delivered and not billed", ""),
    ("leakage_hours", "Leakage: guard hours delivered and not billed", " h"),
)


def charts(rows: list[MonthKpis]) -> list[tuple[str, str, str]]:
    """(field, title, SVG) per KPI, one bar per month."""
    from billing.charts import bar_chart

    labels = [row.month.strftime("%b %Y") for row in rows]
    out = []
    for name, title, unit in CHARTS:
        values = [getattr(row, name) for row in rows]
        values = [None if value is None else Decimal(value) for value in values]
        out.append((name, title, bar_chart(title, labels, values, unit)))
    return out
