"""Collections KPIs (issue 9), as of the last day of a run, for the Dagster asset's metadata:

- days to pay: from issue to the day the balance reached zero, over invoices paid in full
  (median and 90th percentile, nearest rank);
- auto-pay success rate: succeeded auto-pay attempts over those settled (never-sent ones
  left out);
- recovery rate: invoices with a declined auto-pay attempt that are paid in full since;
- amount delinquent and amount in collections: balances of invoices in those states;
- a table per day and a small bar chart (inline SVG) of the money collected each day."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from billing import charts
from vigil import currency


@dataclass
class Kpis:
    through: date
    paid_invoices: int = 0
    days_to_pay_median: Decimal | None = None
    days_to_pay_p90: int | None = None
    autopay_attempts: int = 0
    autopay_success_rate: Decimal | None = None  # a ratio, 4 places
    failed_invoices: int = 0
    recovery_rate: Decimal | None = None
    delinquent: dict[str, Decimal] = field(default_factory=dict)  # currency -> balance
    in_collections: dict[str, Decimal] = field(default_factory=dict)
    days: list[dict] = field(default_factory=list)  # per day of the window


def _median(values: list[int]) -> Decimal | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return Decimal(ordered[middle]) if len(ordered) % 2 else Decimal(ordered[middle - 1] + ordered[middle]) / 2


def _nearest_rank(values: list[int], share: Decimal) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _ratio(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001")) if whole else None


def last_processed_day(conn) -> date | None:
    with conn.cursor() as cur:
        cur.execute("select max(day) from billing.collection_days")
        found = cur.fetchone()[0]
    conn.commit()
    return found


def compute(conn, first: date, through: date, window_days: int = 31) -> Kpis:
    result = Kpis(through)
    with conn.cursor() as cur:
        cur.execute(
            """select i.issue_date, max(e.effective_date)
               from billing.invoices i join billing.ledger_entries e using (invoice_id)
               where i.invoice_number like 'INV-%%' and i.credit_for is null and i.issue_date <= %s
                 and e.entry_type in ('payment', 'credit') and e.effective_date <= %s
               group by i.invoice_id having sum(e.amount) >= i.total""",
            (through, through),
        )
        days_to_pay = [(paid_on - issued).days for issued, paid_on in cur.fetchall()]
        cur.execute(
            """select count(*), count(*) filter (where status = 'succeeded') from billing.payment_attempts
               where channel = 'autopay' and status in ('succeeded', 'failed') and settled_on <= %s
                 and coalesce(failure_code, '') <> 'not_sent'""",
            (through,),
        )
        settled, succeeded = cur.fetchone()
        cur.execute(
            """select count(*), count(*) filter (where paid)
               from (select i.invoice_id, coalesce((select sum(e.amount) from billing.ledger_entries e
                                                   where e.invoice_id = i.invoice_id
                                                     and e.entry_type in ('payment', 'credit')
                                                     and e.effective_date <= %s), 0) >= i.total as paid
                     from billing.invoices i
                     where exists (select 1 from billing.payment_attempts a where a.invoice_id = i.invoice_id
                                   and a.channel = 'autopay' and a.decline is not null and a.settled_on <= %s)) f""",
            (through, through),
        )
        failed, recovered = cur.fetchone()
        cur.execute(
            """select i.status, i.currency, sum(i.total - coalesce(p.paid, 0))
               from billing.invoices i
               left join (select invoice_id, sum(amount) as paid from billing.ledger_entries
                          where entry_type in ('payment', 'credit') group by invoice_id) p using (invoice_id)
               where i.status in ('delinquent', 'in_collections') group by 1, 2 order by 1, 2"""
        )
        for status, code, amount in cur.fetchall():
            (result.delinquent if status == "delinquent" else result.in_collections)[code] = amount
        start = max(first, through - timedelta(days=window_days - 1))
        cur.execute(
            """with days as (select generate_series(%(start)s::date, %(through)s::date, '1 day')::date as day)
               select d.day,
                      (select coalesce(sum(amount), 0) from billing.ledger_entries e
                       where e.effective_date = d.day and e.entry_type = 'payment'
                         and (e.payment_attempt_id is not null or e.received_payment_id is not null)),
                      (select count(*) from billing.payment_attempts a
                       where a.settled_on = d.day and a.status = 'succeeded'),
                      (select count(*) from billing.payment_attempts a
                       where a.settled_on = d.day and a.status = 'failed' and a.decline is not null),
                      (select count(*) from billing.messages m
                       where m.business_date = d.day and m.template like 'reminder%%' and m.status = 'sent'),
                      (select count(*) from billing.dunning_events x where x.for_date = d.day
                         and x.status = 'delinquent'),
                      (select count(*) from billing.dunning_events x where x.for_date = d.day
                         and x.status = 'in_collections')
               from days d order by d.day""",
            {"start": start, "through": through},
        )
        for day, collected, charges_ok, declines, reminders, delinquent, handed_off in cur.fetchall():
            result.days.append({"day": day, "collected": collected, "charges_succeeded": charges_ok,
                                "declines": declines, "reminders": reminders, "delinquent": delinquent,
                                "handed_off": handed_off})
    conn.commit()
    result.paid_invoices = len(days_to_pay)
    result.days_to_pay_median = _median(days_to_pay)
    result.days_to_pay_p90 = _nearest_rank(days_to_pay, Decimal("0.9"))
    result.autopay_attempts = settled
    result.autopay_success_rate = _ratio(succeeded, settled)
    result.failed_invoices = failed
    result.recovery_rate = _ratio(recovered, failed)
    return result


def amounts(by_currency: dict[str, Decimal]) -> str:
    return ", ".join(f"{currency.display(amount, code)} {code}" for code, amount in sorted(by_currency.items())) \
        or "0.00"


def markdown_table(kpis: Kpis) -> str:
    rows = ["| day | collected | charges ok | declines | reminders | delinquent | to collections |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in kpis.days:
        rows.append(f"| {row['day']} | {row['collected']:.2f} | {row['charges_succeeded']} | {row['declines']} | "
                    f"{row['reminders']} | {row['delinquent']} | {row['handed_off']} |")
    return "\n".join(rows)


def bar_chart(kpis: Kpis) -> str:
    """Money collected per day as an inline SVG image (Markdown) for the event log, drawn by
    the one chart module the console and the monthly KPIs use."""
    if not kpis.days:
        return ""
    title = f"Collected per day, {kpis.days[0]['day']} .. {kpis.days[-1]['day']}"
    svg = charts.bar_chart(title, [str(row["day"].day) for row in kpis.days], [row["collected"] for row in kpis.days],
                           value_labels=False)
    return f"![money collected per day]({charts.data_uri(svg)})"
