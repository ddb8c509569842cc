"""The review queue as the console shows it: findings (reviews read live, like billing does),
filtered, with what the grouping needs (the guard and classification of their records) and
the held invoices each holds, grouped by billing/finding_groups.py; and per type, how many a
month raised against the rate a normal month raises (docs/validation.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import psycopg2.extras

from billing import source_records
from billing.finding_groups import FindingGroup, group_findings, sort_key
from billing.finding_types import finding_types, group_by

STATUSES = ("open", "excluded", "billed_as_is", "corrected")


@dataclass(frozen=True)
class QueueFilter:
    type: str | None = None
    severity: str | None = None
    client: str | None = None
    site: str | None = None
    status: str | None = "open"  # None: every status
    date_from: date | None = None
    date_to: date | None = None
    finding_ids: tuple[str, ...] | None = None


def _rows(conn, sql: str, params) -> list[dict]:
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(sql, params)
        return [dict(row) for row in cur.fetchall()]


def held_invoices_by_finding(conn) -> dict[str, list[dict]]:
    """finding id -> the held invoices its hold reasons name (as the last run saved them)."""
    out: dict[str, list[dict]] = {}
    for row in _rows(conn, """select invoice_id, invoice_key, client_id, site_id, period_start, period_end, total,
                                     currency, hold_reasons
                              from billing.invoices where status = 'held' order by invoice_id""", ()):
        for reason in row.pop("hold_reasons") or []:
            out.setdefault(reason["finding_id"], []).append(row)
    return out


def load_findings(conn, queue_filter: QueueFilter = QueueFilter()) -> list[dict]:
    """Findings matching the filter, each with `guard_id`, `classification` and `held`."""
    findings = _rows(
        conn,
        """select f.finding_id, f.type, f.severity, coalesce(r.status, 'open') as status, f.client_id, f.site_id,
                  f.contract_id, f.service_date, f.evidence, f.message, r.note as review_note, r.reviewed_by,
                  r.reviewed_on
           from marts.fct_findings f left join billing.finding_reviews r using (finding_id)
           where (%(type)s::text is null or f.type = %(type)s)
             and (%(severity)s::text is null or f.severity = %(severity)s)
             and (%(client)s::text is null or f.client_id = %(client)s)
             and (%(site)s::text is null or f.site_id = %(site)s)
             and (%(status)s::text is null or coalesce(r.status, 'open') = %(status)s)
             and (%(date_from)s::date is null or f.service_date >= %(date_from)s)
             and (%(date_to)s::date is null or f.service_date <= %(date_to)s)
             and (%(ids)s::text[] is null or f.finding_id = any(%(ids)s))
           order by f.service_date nulls first, f.type, f.finding_id""",
        {"type": queue_filter.type, "severity": queue_filter.severity, "client": queue_filter.client,
         "site": queue_filter.site, "status": queue_filter.status, "date_from": queue_filter.date_from,
         "date_to": queue_filter.date_to,
         "ids": list(queue_filter.finding_ids) if queue_filter.finding_ids is not None else None},
    )
    subjects = source_records.subjects(conn, (ref for f in findings for ref in f["evidence"] or []))
    held = held_invoices_by_finding(conn)
    for finding in findings:
        finding["evidence"] = list(finding["evidence"] or [])
        found = [subjects[ref] for ref in finding["evidence"] if ref in subjects]
        finding["guard_id"] = next((s["guard_id"] for s in found if s["guard_id"]), None)
        finding["classification"] = next((s["classification"] for s in found if s["classification"]), None)
        finding["held"] = held.get(finding["finding_id"], []) if finding["status"] == "open" else []
    return findings


def queue(conn, queue_filter: QueueFilter = QueueFilter(), sort: str = "severity") -> list[FindingGroup]:
    return sorted(group_findings(load_findings(conn, queue_filter), group_by()), key=sort_key(sort))


_BASIS_SQL = {
    "shifts": "select count(*) from marts.fct_guard_shifts where service_date between %(first)s and %(last)s",
    "incidents": "select count(*) from marts.fct_incident_responses where service_date between %(first)s and %(last)s",
    "tours": "select count(*) from marts.fct_patrol_tours where service_date between %(first)s and %(last)s",
    "devices": """select count(*) from marts.fct_devices
                  where active_from <= %(last)s and (active_to is null or active_to >= %(first)s)""",
    "device_events": """select count(*) from raw.device_events
                        where occurred_at >= %(first)s::date and occurred_at < %(last)s::date + 1""",
    "clients": "select count(*) from marts.dim_clients",
}


@dataclass(frozen=True)
class TypeRate:
    type: str
    severity: str
    group_by: tuple[str, ...]
    open_findings: int
    open_groups: int
    in_month: int
    basis: str
    basis_count: int
    expected_per_100: Decimal

    @property
    def per_100(self) -> Decimal | None:
        if not self.basis_count:
            return None
        return (Decimal(self.in_month) * 100 / self.basis_count).quantize(Decimal("0.1"))

    @property
    def above_normal(self) -> bool:
        rate = self.per_100
        return rate is not None and rate > self.expected_per_100


def latest_month(conn) -> tuple[date, date] | None:
    """The last month with service (first and last day): the month the rates describe."""
    with conn.cursor() as cur:
        cur.execute("select max(service_date) from marts.fct_guard_shifts")
        last = cur.fetchone()[0]
    if last is None:
        return None
    first = last.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, date.fromordinal(following.toordinal() - 1)


def type_rates(conn) -> tuple[tuple[date, date] | None, list[TypeRate]]:
    """Per finding type: what waits in the queue, and the latest month's count per 100 of its
    basis against the expected rate."""
    month = latest_month(conn)
    findings = load_findings(conn, QueueFilter(status=None))
    groups = group_findings([f for f in findings if f["status"] == "open"], group_by())
    basis_counts: dict[str, int] = {}
    rates = []
    for name, kind in finding_types().items():
        if month is not None and kind.rate_basis not in basis_counts:
            with conn.cursor() as cur:
                cur.execute(_BASIS_SQL[kind.rate_basis], {"first": month[0], "last": month[1]})
                basis_counts[kind.rate_basis] = cur.fetchone()[0]
        mine = [f for f in findings if f["type"] == name]
        # a finding without a date (missing_payment_method) is a standing condition: it counts every month
        in_month = sum(1 for f in mine if f["service_date"] is None
                       or (month is not None and month[0] <= f["service_date"] <= month[1]))
        rates.append(TypeRate(
            type=name, severity=kind.severity, group_by=kind.group_by,
            open_findings=sum(1 for f in mine if f["status"] == "open"),
            open_groups=sum(1 for g in groups if g.type == name), in_month=in_month, basis=kind.rate_basis,
            basis_count=basis_counts.get(kind.rate_basis, 0), expected_per_100=kind.expected_per_100,
        ))
    return month, rates
