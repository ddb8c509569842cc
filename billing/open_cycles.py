"""Which cycles an issuing run reads (issue 14: billing loads only open cycles, not every mart
row since the beginning). A cycle of a client is open when

- its arrears or advance invoice becomes due in this run (issue date after the last run's
  `through`, on or before this one's);
- its invoice is held;
- an issued invoice of it re-rated differently before and its difference is not billed yet
  (billing.rerate_pending);
- a record of it changed since the last run read the marts: a version ingested or a review
  made since the watermark of the marts build that run read (`updated_at`), or a review of a
  finding citing it since that run; with the cycles of the issued invoices citing the record
  (it may have moved out of them).

A record no contract claims opens the cycles of its client's usage contracts on its date; a
changed device opens its client's device-fee cycles from the device's first day. Everything
is read when there is no earlier run, when contracts or tax changed since it, or when the
marts were not built by a recorded build.

The unit is (client, cycle start, cycle end): an invoice groups a client's contracts of one
cycle, so all of them are read. Records are read from a week before a cycle starts (overtime
counts whole workweeks, a night shift crosses into the next cycle) to its end."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from billing.rating.context import Context
from billing.rating.contracts import Contract
from billing.rating.cycles import advance_dates, arrears_dates, cycle_of

MARGIN_DAYS = 7
USAGE_FACTS = ("fct_guard_shifts", "fct_incident_responses", "fct_patrol_tours")

Unit = tuple[str, date, date]  # client, cycle start, cycle end


@dataclass
class OpenCycles:
    units: set[Unit] = field(default_factory=set)
    mart_build: tuple[int, datetime] | None = None  # the marts build read: id, watermark
    reviews_watermark: datetime | None = None
    inputs: dict = field(default_factory=dict)

    def windows(self) -> dict[str, list[tuple[date, date]]]:
        """client -> service-date ranges whose records the units need."""
        out: dict[str, list[tuple[date, date]]] = defaultdict(list)
        for client, start, end in sorted(self.units):
            out[client].append((start - timedelta(days=MARGIN_DAYS), end))
        return dict(out)


def _uses_hours(c: Contract) -> bool:
    return bool(c.rates or c.hour_tiers or c.incidents or c.patrol_visit_fee is not None)


def _bills_in_advance(c: Contract) -> bool:
    return bool(c.recurring or c.per_device)


def _unit(c: Contract, day: date) -> Unit:
    cy = cycle_of(c, day)
    return (c.client_id, cy.start, cy.end)


def _due_between(c: Contract, after: date, through: date) -> list[Unit]:
    """The cycles of `c` whose arrears or advance invoice is issued in (after, through]."""
    out = []
    day = max(c.start_date, after - timedelta(days=MARGIN_DAYS))
    last = min(c.end_date, through + timedelta(days=c.issue_lead_days))
    while day <= last:
        cy = cycle_of(c, day)
        if (_uses_hours(c) and after < arrears_dates(c, cy)[0] <= through) or (
                _bills_in_advance(c) and after < advance_dates(c, cy)[0] <= through):
            out.append((c.client_id, cy.start, cy.end))
        day = cy.end + timedelta(days=1)
    return out


def key_unit(invoice_key: str) -> Unit:
    client_id, _, start, end, _, _ = invoice_key.rsplit("|", 5)
    return client_id, date.fromisoformat(start), date.fromisoformat(end)


def current_inputs(cur) -> dict:
    cur.execute("select coalesce(max(document_id), 0) from raw.contract_documents")
    contracts = cur.fetchone()[0]
    cur.execute("select file_sha256 from raw.tax_rates order by ingested_at desc, file_sha256 desc limit 1")
    tax = cur.fetchone()
    return {"contracts": contracts, "tax": tax[0] if tax else ""}


def watermark(cur) -> datetime:
    """Now, or the start of the oldest transaction open on this database (a review it writes
    is dated then and may commit after this run has read)."""
    cur.execute("""select least(now(), coalesce(min(xact_start), now())) from pg_stat_activity
                   where datname = current_database() and pid <> pg_backend_pid() and xact_start is not null""")
    return cur.fetchone()[0]


def latest_mart_build(cur) -> tuple[int, datetime] | None:
    cur.execute("select to_regclass('vigil_meta.mart_builds')")
    if cur.fetchone()[0] is None:
        return None
    cur.execute("""select build_id, watermark from vigil_meta.mart_builds where status = 'succeeded'
                   order by build_id desc limit 1""")
    row = cur.fetchone()
    return (row[0], row[1]) if row else None


def state(cur) -> OpenCycles:
    """What a run reads, taken before it reads: the marts build, the reviews' watermark, the
    contracts and tax in force (its units are filled by `plan`)."""
    return OpenCycles(mart_build=latest_mart_build(cur), reviews_watermark=watermark(cur), inputs=current_inputs(cur))


def plan(cur, ctx: Context, through: date, state: OpenCycles) -> OpenCycles | None:
    """The open cycles of a run through `through` (filled into `state`), or None: read everything."""
    cur.execute("""select through, mart_build_id, mart_watermark, reviews_watermark, inputs from billing.issue_runs
                   order by run_id desc limit 1""")
    last = cur.fetchone()
    if last is None or state.mart_build is None or last[2] is None:
        return None
    previous_inputs = last[4] if isinstance(last[4], dict) else json.loads(last[4])
    if previous_inputs != state.inputs:
        return None
    cur.execute("select max(through) from billing.issue_runs")
    after = cur.fetchone()[0]
    units = state.units
    for c in ctx.contracts.values():
        units.update(_due_between(c, after, through))
    cur.execute("""select invoice_key from billing.invoices where status = 'held'
                   union select i.invoice_key from billing.rerate_pending p
                   join billing.invoices i using (invoice_id)""")
    units.update(key_unit(key) for (key,) in cur.fetchall())
    _changed_records(cur, ctx, through, last[2], last[3], units)
    return state


def _changed_records(cur, ctx: Context, through: date, mart_watermark: datetime, reviews_watermark: datetime,
                     units: set[Unit]) -> None:
    changed = " union all ".join(
        f"select source_ref, client_id, contract_id, service_date from marts.{table} where updated_at >= %(since)s"
        for table in USAGE_FACTS)
    reviewed = " union all ".join(
        f"select source_ref, client_id, contract_id, service_date from marts.{table} where source_ref in "
        f"(select unnest(f.evidence) from marts.fct_findings f join billing.finding_reviews r using (finding_id) "
        f"where r.reviewed_at >= %(reviewed)s)"
        for table in USAGE_FACTS)
    cur.execute(f"{changed} union all {reviewed}", {"since": mart_watermark, "reviewed": reviews_watermark})
    usage_by_client: dict[str, list[Contract]] = defaultdict(list)
    for c in ctx.contracts.values():
        if _uses_hours(c):
            usage_by_client[c.client_id].append(c)
    refs = []
    for ref, client_id, contract_id, day in cur.fetchall():
        refs.append(ref)
        if day is None:
            continue
        if contract_id in ctx.contracts:
            units.add(_unit(ctx.contracts[contract_id], day))
        else:  # no contract claims it: each usage contract of the client that day may bill it
            for c in usage_by_client.get(client_id, ()):
                if c.start_date <= day <= c.end_date:
                    units.add(_unit(c, day))
    cur.execute("""select client_id, device_type, site_id, active_from from marts.fct_devices
                   where updated_at >= %s""", (mart_watermark,))
    for client_id, device_type, site_id, active_from in cur.fetchall():
        for c in ctx.contracts.values():
            if c.client_id != client_id or not any(
                    p.device_type == device_type and p.site_id in (None, site_id) for p in c.per_device):
                continue
            day = max(c.start_date, active_from if isinstance(active_from, date) else c.start_date)
            while day <= min(c.end_date, through + timedelta(days=c.issue_lead_days)):
                units.add(_unit(c, day))
                day = cycle_of(c, day).end + timedelta(days=1)
    if refs:
        cur.execute("""select distinct i.invoice_key
                       from billing.invoice_lines l join billing.invoices i using (invoice_id)
                       where l.source_refs && %s::text[] and i.credit_for is null""", (refs,))
        units.update(key_unit(key) for (key,) in cur.fetchall() if not key.startswith("CN|"))
