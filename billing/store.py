"""Persistence of the billing layer: what issuing reads from the marts and billing tables
and how it writes invoices, lines, numbers and adjustments. No rule lives here: holds are in
billing/holds.py, differences in billing/adjustments.py, the workflow in billing/issuing.py."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import psycopg2.extensions
import psycopg2.extras

from billing.adjustments import ISSUED_STATUSES, IssuedRecord, Original
from billing.rating import DraftInvoice, RatingInputs
from billing.rating.model import IssuedGroup
from billing.rating.refs import pg_text_array

_FACTS = {
    "shifts": "fct_guard_shifts",
    "incidents": "fct_incident_responses",
    "patrols": "fct_patrol_tours",
    "devices": "fct_devices",
}


def rows(conn, sql: str, params=()) -> list[dict]:
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(sql, params)
        return [dict(r) for r in cur.fetchall()]


def _frame(conn, table: str, windows: dict[str, list[tuple[date, date]]] | None = None) -> pl.DataFrame:
    """A mart as a polars frame, whole or the rows of `windows` (client -> service-date
    ranges); timestamptz columns come back UTC-aware."""
    with conn.cursor() as cur:
        cur.execute("set local timezone = 'UTC'")
        if windows is None:
            cur.execute(f"select * from marts.{table}")
        else:
            ranges = [(client, first, last) for client, spans in windows.items() for first, last in spans]
            cur.execute(
                f"""select * from marts.{table} as fact where exists (
                        select 1 from unnest(%s::text[], %s::date[], %s::date[]) as open (client_id, first, last)
                        where open.client_id = fact.client_id
                          and fact.service_date between open.first and open.last)""",
                ([r[0] for r in ranges], [r[1] for r in ranges], [r[2] for r in ranges]),
            )
        columns = [d.name for d in cur.description]
        data = cur.fetchall()
    return pl.DataFrame(data, schema=columns, orient="row", infer_schema_length=None)


def _unit_of_key(key: str) -> tuple[str, date, date]:
    client_id, _, start, end, _ = parse_key(key)
    return client_id, start, end


def parse_key(key: str) -> tuple[str, str, date, date, str | None]:
    """client, kind, cycle start, cycle end and site of an invoice key (`invoice_key`)."""
    client_id, kind, start, end, site, _ = key.rsplit("|", 5)
    return client_id, kind, date.fromisoformat(start), date.fromisoformat(end), None if site == "*" else site


def issued_groups(conn, clients: set[str] | None = None) -> tuple[IssuedGroup, ...]:
    """Every numbered invoice (credit notes aside), or those of `clients`, as the rating
    engine pins its cycle to it."""
    out = []
    for row in rows(conn, """select invoice_key, contract_ids, issue_date, due_date from billing.invoices
                              where invoice_number like 'INV-%%' and credit_for is null
                                and (%s::text[] is null or client_id = any(%s::text[]))
                              order by invoice_id""",
                    (sorted(clients) if clients is not None else None,) * 2):
        client_id, kind, start, _, site = parse_key(row["invoice_key"])
        out.append(IssuedGroup(key=row["invoice_key"], client_id=client_id, kind=kind, cycle_start=start,
                               site_id=site, contract_ids=tuple(row["contract_ids"]), issue_date=row["issue_date"],
                               due_date=row["due_date"]))
    return tuple(out)


def load_dimensions(conn) -> dict:
    """The small marts every rating reads whole: clients, sites, contracts, tax rates."""
    return {
        "clients": rows(conn, "select * from marts.dim_clients order by client_id"),
        "sites": rows(conn, "select * from marts.dim_sites order by site_id"),
        "contracts": rows(conn, "select * from marts.dim_contracts order by contract_id"),
        "tax_rates": rows(conn, "select * from marts.fct_tax_rates order by jurisdiction_code, name"),
    }


def load_rating_inputs(conn: psycopg2.extensions.connection, dimensions: dict | None = None,
                       open_cycles: frozenset[tuple[str, date, date]] | None = None,
                       windows: dict[str, list[tuple[date, date]]] | None = None) -> RatingInputs:
    """What the rating engine needs: everything, or with `open_cycles` and their `windows`
    (billing/open_cycles.py) only the records of those cycles. A record whose finding
    finance closed as `excluded` is left out of billing (its refs go to `excluded_refs`);
    `billed_as_is` and `corrected` need nothing here: the marts already carry the version to
    bill (billing-rules section 10)."""
    excluded = rows(
        conn,
        """select distinct unnest(f.evidence) as ref from marts.fct_findings f
           join billing.finding_reviews r using (finding_id) where r.status = 'excluded'""",
    )
    return RatingInputs(
        **(dimensions or load_dimensions(conn)),
        excluded_refs=frozenset(r["ref"] for r in excluded),
        issued=issued_groups(conn, set(windows) if windows is not None else None),
        open_cycles=open_cycles,
        **{name: _frame(conn, table, None if name == "devices" else windows) for name, table in _FACTS.items()},
    )


def open_blocking_findings(conn: psycopg2.extensions.connection) -> list[dict]:
    """Blocking findings no one has reviewed yet (reviews are read live, not from the last dbt build)."""
    return rows(
        conn,
        """select f.finding_id, f.type, f.client_id, f.site_id, f.contract_id, f.service_date, f.evidence,
                  f.message
           from marts.fct_findings f left join billing.finding_reviews r using (finding_id)
           where f.severity = 'blocking' and r.finding_id is null
           order by f.finding_id""",
    )


def existing_invoices(cur) -> dict[str, tuple[int, str, str | None]]:
    """invoice key -> (invoice id, status, number)."""
    cur.execute("select invoice_key, invoice_id, status, invoice_number from billing.invoices")
    return {key: (invoice_id, status, number) for key, invoice_id, status, number in cur.fetchall()}


def issued_records(cur, open_cycles: frozenset[tuple[str, date, date]] | None = None) -> list[IssuedRecord]:
    """Every issued invoice (credit notes aside), or those of `open_cycles`, with its lines
    and the adjustments billed since."""
    cur.execute(
        """select invoice_id, invoice_key, invoice_number, kind, client_id, site_id, contract_ids, currency,
                  period_start, period_end, issue_date
           from billing.invoices
           where invoice_number like 'INV-%%' and credit_for is null and status in %s
           order by invoice_number""",
        (ISSUED_STATUSES,),
    )
    records = {row[0]: IssuedRecord(row[0], row[1], row[2], row[3], row[4], row[5], tuple(row[6] or ()), *row[7:])
               for row in cur.fetchall()
               if open_cycles is None or _unit_of_key(row[1]) in open_cycles}
    if not records:
        return []
    ids = sorted(records)
    line_columns = ("site_id", "category", "description", "quantity", "unit", "unit_price", "amount",
                    "tax_jurisdiction", "source_refs")
    cur.execute(
        f"""select l.invoice_id, {', '.join('l.' + c for c in line_columns)}
            from billing.invoice_lines l join billing.invoices i using (invoice_id)
            where i.invoice_number like 'INV-%%' and l.category not in ('tax', 'adjustment')
              and l.invoice_id = any(%s)
            order by l.invoice_id, l.line_no""",
        (ids,),
    )
    for invoice_id, *values in cur.fetchall():
        if invoice_id in records:
            records[invoice_id].lines.append(dict(zip(line_columns, values, strict=True)))
    adjustment_columns = ("site_id", "category", "description", "unit_price", "unit", "tax_category",
                          "tax_jurisdiction", "quantity", "amount", "source_refs", "version")
    cur.execute(f"""select original_invoice_id, {', '.join(adjustment_columns)}
                    from billing.adjustments where original_invoice_id = any(%s) order by adjustment_id""", (ids,))
    for invoice_id, *values in cur.fetchall():
        if invoice_id in records:
            records[invoice_id].adjustments.append(dict(zip(adjustment_columns, values, strict=True)))
    return list(records.values())


def next_number(cur, prefix: str, year: int) -> str:
    """The next gap-free number of a prefix and year, taken inside the issuing transaction."""
    cur.execute(
        """insert into billing.number_sequences (prefix, year, last_value) values (%s, %s, 1)
           on conflict (prefix, year) do update set last_value = billing.number_sequences.last_value + 1
           returning last_value""",
        (prefix, year),
    )
    return f"{prefix}-{year}-{cur.fetchone()[0]:06d}"


def write_lines(cur, invoice_id: int, draft: DraftInvoice) -> None:
    """A line's refs go as one text[] literal made in polars when they are a column's slice
    (rated guard hours), so a million cited shifts never become Python strings here."""
    cur.execute("delete from billing.invoice_lines where invoice_id = %s", (invoice_id,))
    psycopg2.extras.execute_values(
        cur,
        """insert into billing.invoice_lines (invoice_id, line_no, site_id, category, description, quantity,
               unit, unit_price, amount, tax_jurisdiction, source_refs, explanation) values %s""",
        [
            (invoice_id, n, ln.site_id, ln.category, ln.description, ln.quantity, ln.unit, ln.unit_price,
             ln.amount, ln.tax_jurisdiction, pg_text_array(ln.source_refs), ln.explanation)
            for n, ln in enumerate(draft.lines, start=1)
        ],
        template="(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::text[], %s)",
    )


def _hold_json(findings: list[dict]) -> str:
    return json.dumps([{"finding_id": f["finding_id"], "type": f["type"], "message": f["message"]} for f in findings])


def save_held(cur, draft: DraftInvoice, holds: list[dict], invoice_id: int | None) -> int:
    """Insert or refresh a held invoice (no number) with the draft's lines and totals."""
    if invoice_id is None:
        cur.execute(
            """insert into billing.invoices (invoice_key, status, kind, client_id, site_id, contract_ids, currency,
                   period_start, period_end, issue_date, due_date, subtotal, tax_total, total, hold_reasons)
               values (%s, 'held', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               returning invoice_id""",
            (draft.key, draft.kind, draft.client_id, draft.site_id, list(draft.contract_ids), draft.currency,
             draft.period_start, draft.period_end, draft.issue_date, draft.due_date, draft.subtotal,
             draft.tax_total, draft.total, _hold_json(holds)),
        )
        invoice_id = cur.fetchone()[0]
    else:
        cur.execute(
            """update billing.invoices set status = 'held', hold_reasons = %s, void_reason = null, contract_ids = %s,
                   period_start = %s, period_end = %s, issue_date = %s, due_date = %s, subtotal = %s, tax_total = %s,
                   total = %s
               where invoice_id = %s""",
            (_hold_json(holds), list(draft.contract_ids), draft.period_start, draft.period_end, draft.issue_date,
             draft.due_date, draft.subtotal, draft.tax_total, draft.total, invoice_id),
        )
    write_lines(cur, invoice_id, draft)
    return invoice_id


def save_issued(cur, draft: DraftInvoice, number: str, issue_date: date, due_date: date,
                invoice_id: int | None, credit_for: str | None = None) -> int:
    """Number an invoice: a new row, or a held (or voided unnumbered) one released now."""
    if invoice_id is None:
        cur.execute(
            """insert into billing.invoices (invoice_key, invoice_number, status, kind, client_id, site_id,
                   contract_ids, currency, period_start, period_end, issue_date, due_date, subtotal, tax_total,
                   total, issued_at, credit_for)
               values (%s, %s, 'issued', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now(), %s)
               returning invoice_id""",
            (draft.key, number, draft.kind, draft.client_id, draft.site_id, list(draft.contract_ids), draft.currency,
             draft.period_start, draft.period_end, issue_date, due_date, draft.subtotal, draft.tax_total,
             draft.total, credit_for),
        )
        invoice_id = cur.fetchone()[0]
    else:
        cur.execute(
            """update billing.invoices set invoice_number = %s, status = 'issued', contract_ids = %s,
                   period_start = %s, period_end = %s, issue_date = %s, due_date = %s, subtotal = %s,
                   tax_total = %s, total = %s, hold_reasons = null, void_reason = null, issued_at = now()
               where invoice_id = %s""",
            (number, list(draft.contract_ids), draft.period_start, draft.period_end, issue_date, due_date,
             draft.subtotal, draft.tax_total, draft.total, invoice_id),
        )
    write_lines(cur, invoice_id, draft)
    return invoice_id


def void_unnumbered(cur, invoice_id: int, reason: str) -> None:
    """A held invoice with nothing left to bill: void, no lines, zero totals, and why."""
    cur.execute("delete from billing.invoice_lines where invoice_id = %s", (invoice_id,))
    cur.execute(
        """update billing.invoices set status = 'void', void_reason = %s, subtotal = 0, tax_total = 0, total = 0
           where invoice_id = %s and invoice_number is null""",
        (reason, invoice_id),
    )


def record_adjustments(cur, orig: Original, billed_invoice_id: int, first_line_no: int) -> None:
    psycopg2.extras.execute_values(
        cur,
        """insert into billing.adjustments (original_invoice_id, version, site_id, category, description, unit_price,
               unit, tax_category, tax_jurisdiction, quantity, amount, source_refs, billed_invoice_id, billed_line_no)
           values %s""",
        [
            (orig.invoice_id, orig.version, d.site_id, d.category, d.description, d.unit_price, d.unit,
             d.tax_category, d.tax_jurisdiction, d.quantity, d.amount, list(d.refs), billed_invoice_id, n)
            for n, d in enumerate(orig.deltas, start=first_line_no)
        ],
    )


def totals_mismatches(cur, invoice_ids: list[int]) -> list[str]:
    """Invoices among `invoice_ids` whose totals are not the sums of their rounded lines."""
    if not invoice_ids:
        return []
    cur.execute(
        """select coalesce(i.invoice_number, i.invoice_key)
           from billing.invoices i left join billing.invoice_lines l using (invoice_id)
           where i.invoice_id = any(%s)
           group by i.invoice_id
           having i.subtotal <> coalesce(sum(l.amount) filter (where l.category <> 'tax'), 0)
               or i.tax_total <> coalesce(sum(l.amount) filter (where l.category = 'tax'), 0)
               or i.total <> i.subtotal + i.tax_total""",
        (invoice_ids,),
    )
    return [row[0] for row in cur.fetchall()]


def record_issue_run(cur, through: date, scope: str, plan, cycles: int) -> None:
    """The run, for the next one to know what it has read (billing/open_cycles.py)."""
    build = plan.mart_build if plan is not None else None
    cur.execute(
        """insert into billing.issue_runs (through, scope, mart_build_id, mart_watermark, reviews_watermark, inputs,
                                          cycles)
           values (%s, %s, %s, %s, %s, %s, %s)""",
        (through, scope, build[0] if build else None, build[1] if build else None, plan.reviews_watermark,
         json.dumps(plan.inputs), cycles),
    )


def set_pending(cur, compared: set[int], pending: set[int], on: date) -> None:
    """Issued invoices compared this run: those whose difference is not billed yet stay (or
    become) pending, the others are settled."""
    if compared:
        cur.execute("delete from billing.rerate_pending where invoice_id = any(%s)", (sorted(compared - pending),))
    if pending:
        psycopg2.extras.execute_values(
            cur, "insert into billing.rerate_pending (invoice_id, noted_on) values %s on conflict do nothing",
            [(invoice_id, on) for invoice_id in sorted(pending)])

