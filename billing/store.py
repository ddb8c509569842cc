"""Issue invoices: rate what the marts hold, hold what a blocking finding touches, number
the rest gap-free, and persist. Issued invoices never change; re-running any day finds
every invoice key already present and writes nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import polars as pl
import psycopg2.extensions
import psycopg2.extras

from billing.rating import DraftInvoice, RatingInputs, draft_invoices

_FACTS = {
    "shifts": "fct_guard_shifts",
    "incidents": "fct_incident_responses",
    "patrols": "fct_patrol_tours",
    "devices": "fct_devices",
}


def _rows(conn, sql: str, params=()) -> list[dict]:
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(sql, params)
        return [dict(r) for r in cur.fetchall()]


def _frame(conn, table: str) -> pl.DataFrame:
    """A mart as a polars frame; timestamptz columns come back UTC-aware."""
    with conn.cursor() as cur:
        cur.execute("set local timezone = 'UTC'")
        cur.execute(f"select * from marts.{table}")
        columns = [d.name for d in cur.description]
        data = cur.fetchall()
    return pl.DataFrame(data, schema=columns, orient="row", infer_schema_length=None)


def load_rating_inputs(conn: psycopg2.extensions.connection) -> RatingInputs:
    excluded = _rows(
        conn,
        """select unnest(f.evidence) as ref from marts.fct_findings f
           join billing.finding_reviews r using (finding_id) where r.status = 'excluded'""",
    )
    return RatingInputs(
        clients=_rows(conn, "select * from marts.dim_clients order by client_id"),
        sites=_rows(conn, "select * from marts.dim_sites order by site_id"),
        contracts=_rows(conn, "select * from marts.dim_contracts order by contract_id"),
        tax_rates=_rows(conn, "select * from marts.fct_tax_rates order by jurisdiction_code, name"),
        excluded_refs=frozenset(r["ref"] for r in excluded),
        **{name: _frame(conn, table) for name, table in _FACTS.items()},
    )


def open_blocking_findings(conn: psycopg2.extensions.connection) -> list[dict]:
    """Blocking findings no one has reviewed yet (reviews are read live, not from the last dbt build)."""
    return _rows(
        conn,
        """select f.finding_id, f.type, f.client_id, f.site_id, f.contract_id, f.service_date, f.evidence,
                  f.message
           from marts.fct_findings f left join billing.finding_reviews r using (finding_id)
           where f.severity = 'blocking' and r.finding_id is null
           order by f.finding_id""",
    )


def holds_for(draft: DraftInvoice, findings: list[dict]) -> list[dict]:
    """The blocking findings that hold this invoice: those citing a record it bills or would
    bill, else those of its client, site and period that no record ties to another invoice."""
    covered = set(draft.covered_refs)
    reasons = []
    for finding in findings:
        evidence = set(finding["evidence"] or [])
        if evidence & covered:
            reasons.append(finding)
            continue
        if (
            draft.kind == "arrears"
            and finding["client_id"] == draft.client_id
            and finding["service_date"] is not None
            and draft.period_start <= finding["service_date"] <= draft.period_end
            and (draft.site_id is None or finding["site_id"] in (None, draft.site_id))
            and (finding["contract_id"] is None or finding["contract_id"] in draft.contract_ids)
            and not evidence
        ):
            reasons.append(finding)
    return reasons


@dataclass
class IssueSummary:
    issued: list[str] = field(default_factory=list)
    held: int = 0
    released: list[str] = field(default_factory=list)
    unchanged: int = 0


def _next_number(cur, prefix: str, year: int) -> str:
    cur.execute(
        """insert into billing.number_sequences (prefix, year, last_value) values (%s, %s, 1)
           on conflict (prefix, year) do update set last_value = billing.number_sequences.last_value + 1
           returning last_value""",
        (prefix, year),
    )
    return f"{prefix}-{year}-{cur.fetchone()[0]:06d}"


def _write_lines(cur, invoice_id: int, draft: DraftInvoice) -> None:
    cur.execute("delete from billing.invoice_lines where invoice_id = %s", (invoice_id,))
    psycopg2.extras.execute_values(
        cur,
        """insert into billing.invoice_lines (invoice_id, line_no, site_id, category, description, quantity,
               unit, unit_price, amount, tax_jurisdiction, source_refs, explanation) values %s""",
        [
            (invoice_id, n, ln.site_id, ln.category, ln.description, ln.quantity, ln.unit, ln.unit_price,
             ln.amount, ln.tax_jurisdiction, list(ln.source_refs), ln.explanation)
            for n, ln in enumerate(draft.lines, start=1)
        ],
    )


def _hold_json(findings: list[dict]) -> str:
    return json.dumps([{"finding_id": f["finding_id"], "type": f["type"], "message": f["message"]} for f in findings])


def issue_invoices(conn: psycopg2.extensions.connection, through: date) -> IssueSummary:
    """Persist every invoice whose issue date is on or before `through`, in one transaction.

    Numbers go in the order (issue date, client id, kind, site id), so rebuilding from the
    same inputs gives the same numbers; a held invoice released now is issued on `through`."""
    summary = IssueSummary()
    inputs = load_rating_inputs(conn)
    drafts = draft_invoices(inputs, through)
    findings = open_blocking_findings(conn)
    with conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('vigil.issue_invoices'))")
        cur.execute("select invoice_key, invoice_id, status from billing.invoices")
        existing = {key: (invoice_id, status) for key, invoice_id, status in cur.fetchall()}
        to_number: list[tuple[date, DraftInvoice, date, int | None]] = []
        for draft in drafts:
            holds = holds_for(draft, findings)
            known = existing.get(draft.key)
            if known is not None and known[1] != "held":
                summary.unchanged += 1
                continue
            if holds:
                summary.held += 1
                if known is None:
                    cur.execute(
                        """insert into billing.invoices (invoice_key, status, kind, client_id, site_id, contract_ids,
                               currency, period_start, period_end, issue_date, due_date, subtotal, tax_total, total,
                               hold_reasons)
                           values (%s, 'held', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                           returning invoice_id""",
                        (draft.key, draft.kind, draft.client_id, draft.site_id, list(draft.contract_ids),
                         draft.currency, draft.period_start, draft.period_end, draft.issue_date, draft.due_date,
                         draft.subtotal, draft.tax_total, draft.total, _hold_json(holds)),
                    )
                    invoice_id = cur.fetchone()[0]
                else:
                    invoice_id = known[0]
                    cur.execute(
                        """update billing.invoices set hold_reasons = %s, subtotal = %s, tax_total = %s, total = %s
                           where invoice_id = %s""",
                        (_hold_json(holds), draft.subtotal, draft.tax_total, draft.total, invoice_id),
                    )
                _write_lines(cur, invoice_id, draft)
                continue
            if known is None:
                to_number.append((draft.issue_date, draft, draft.due_date, None))
            else:
                # Released: issued today with the next number, due the usual term after today.
                terms = draft.due_date - draft.issue_date
                due = max(draft.due_date, through) if draft.kind == "advance" else through + terms
                to_number.append((through, draft, due, known[0]))
        to_number.sort(key=lambda t: (t[0], t[1].client_id, t[1].kind, t[1].site_id or "", t[1].key))
        for issue_date, draft, due_date, invoice_id in to_number:
            number = _next_number(cur, "INV", issue_date.year)
            if invoice_id is None:
                cur.execute(
                    """insert into billing.invoices (invoice_key, invoice_number, status, kind, client_id, site_id,
                           contract_ids, currency, period_start, period_end, issue_date, due_date, subtotal,
                           tax_total, total, issued_at)
                       values (%s, %s, 'issued', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
                       returning invoice_id""",
                    (draft.key, number, draft.kind, draft.client_id, draft.site_id, list(draft.contract_ids),
                     draft.currency, draft.period_start, draft.period_end, issue_date, due_date, draft.subtotal,
                     draft.tax_total, draft.total),
                )
                invoice_id = cur.fetchone()[0]
                summary.issued.append(number)
            else:
                cur.execute(
                    """update billing.invoices set invoice_number = %s, status = 'issued', issue_date = %s,
                           due_date = %s, subtotal = %s, tax_total = %s, total = %s, hold_reasons = null,
                           issued_at = now()
                       where invoice_id = %s""",
                    (number, issue_date, due_date, draft.subtotal, draft.tax_total, draft.total, invoice_id),
                )
                summary.released.append(number)
            _write_lines(cur, invoice_id, draft)
    return summary
