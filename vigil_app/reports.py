"""What the command line prints and exports, read straight from the warehouse."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import psycopg2.extras

from vigil import currency

INVOICE_FIELDS = ("invoice_number", "status", "kind", "client_id", "contract_ids", "currency", "period_start",
                  "period_end", "issue_date", "due_date")
LINE_FIELDS = ("site_id", "category", "description", "quantity", "unit", "unit_price", "amount",
               "tax_jurisdiction", "source_refs", "explanation")


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _unit_price(value: Decimal) -> str:
    """Exact, but never fewer than two decimals ("41.50", "48.125")."""
    text = format(value.normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _rows(conn, sql: str, params=()) -> list[dict]:
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(sql, params)
        return [dict(r) for r in cur.fetchall()]


def invoices(conn) -> list[dict]:
    """Every invoice in the shape of interfaces.md section 4."""
    heads = _rows(conn, """select * from billing.invoices
                           order by invoice_number nulls last, client_id, period_start, invoice_key""")
    lines = _rows(conn, "select * from billing.invoice_lines order by invoice_id, line_no")
    by_invoice: dict[int, list[dict]] = {}
    for line in lines:
        by_invoice.setdefault(line["invoice_id"], []).append(line)
    out = []
    for head in heads:
        doc = {k: head[k] for k in INVOICE_FIELDS}
        for k in ("period_start", "period_end", "issue_date", "due_date"):
            doc[k] = doc[k].isoformat()
        doc["site_id"] = head["site_id"]
        code = head["currency"]
        doc["lines"] = [
            {
                "site_id": ln["site_id"],
                "category": ln["category"],
                "description": ln["description"],
                "quantity": _money(ln["quantity"]),
                "unit": ln["unit"],
                "unit_price": _unit_price(ln["unit_price"]),
                "amount": currency.display(ln["amount"], code),
                "tax_jurisdiction": ln["tax_jurisdiction"],
                "source_refs": list(ln["source_refs"]),
                "explanation": ln["explanation"],
            }
            for ln in by_invoice.get(head["invoice_id"], [])
        ]
        doc.update(subtotal=currency.display(head["subtotal"], code),
                   tax_total=currency.display(head["tax_total"], code), total=currency.display(head["total"], code))
        if head["status"] == "held":
            doc["held_by"] = head["hold_reasons"]
        if head["status"] == "void" and head.get("void_reason"):
            doc["void_reason"] = head["void_reason"]
        if head.get("credit_for"):
            # A credit note (CN-YYYY-NNNNNN, negative lines): the kind of the invoice it credits.
            doc["credit_for"] = head["credit_for"]
        out.append(doc)
    return out


def write_invoices(conn, out: Path, fmt: str = "jsonl") -> int:
    docs = invoices(conn)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        with out.open("w", encoding="utf-8") as fh:
            for doc in docs:
                fh.write(json.dumps(doc) + "\n")
    else:
        columns = [*INVOICE_FIELDS, "subtotal", "tax_total", "total", *LINE_FIELDS]
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            for doc in docs:
                head = {k: doc[k] for k in (*INVOICE_FIELDS, "subtotal", "tax_total", "total")}
                head["contract_ids"] = ";".join(head["contract_ids"])
                for line in doc["lines"]:
                    writer.writerow({**head, **line, "source_refs": ";".join(line["source_refs"])})
    return len(docs)


def findings(conn, status: str | None = None, client: str | None = None) -> list[dict]:
    rows = _rows(
        conn,
        """select f.finding_id, f.type, f.severity, coalesce(r.status, 'open') as status, f.client_id, f.site_id,
                  f.service_date, f.evidence, f.message, r.reviewed_by, r.note as review_note,
                  r.reviewed_on as reviewed_at
           from marts.fct_findings f left join billing.finding_reviews r using (finding_id)
           where (%(status)s::text is null or coalesce(r.status, 'open') = %(status)s)
             and (%(client)s::text is null or f.client_id = %(client)s)
           order by f.service_date nulls first, f.type, f.finding_id""",
        {"status": status, "client": client},
    )
    for row in rows:
        row["service_date"] = row["service_date"].isoformat() if row["service_date"] else None
        row["reviewed_at"] = row["reviewed_at"].isoformat() if row["reviewed_at"] else None
        row["evidence"] = list(row["evidence"] or [])
    return rows


def write_jsonl(rows: list[dict], out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, default=str) + "\n")
    return len(rows)


def quarantine(conn) -> list[dict]:
    """Records the connectors refused, plus records held back because no contract declares
    their site (billing-rules section 2): those return by themselves once one does. Read
    from the mart the last run built (marts.fct_quarantine)."""
    return _rows(
        conn,
        """select source, source_file as file, source_line as line, record_id, field, reason
           from marts.fct_quarantine
           order by source, file, line nulls first, record_id""",
    )


def summary(conn, payments_mode: str) -> dict:
    """The state after a run (interfaces.md section 1): a second identical run prints the same.
    `payments.mode` is VIGIL_PAYMENTS, so every summary says when auto-pay is off."""
    from connectors.inbox import raw_counts

    counts = raw_counts(conn)
    for row in _rows(conn, "select source, count(*) as n from marts.fct_quarantine_unknown_sites group by source"):
        counts["quarantined"][row["source"]] = counts["quarantined"].get(row["source"], 0) + row["n"]
    finding_counts = {r["type"]: r["n"] for r in _rows(
        conn, "select type, count(*) as n from marts.fct_findings group by type order by type")}
    inv = _rows(
        conn,
        """select count(*) filter (where invoice_number is not null) as issued,
                  count(*) filter (where status = 'held') as held,
                  coalesce(sum(total) filter (where invoice_number is not null and status <> 'void'), 0) as total
           from billing.invoices""",
    )[0]
    pay = _rows(
        conn,
        """select count(*) filter (where status = 'succeeded') as succeeded,
                  count(*) filter (where status = 'failed') as failed,
                  coalesce(sum(amount) filter (where status = 'succeeded'), 0) as amount
           from billing.payment_attempts""",
    )[0]
    messages = {r["channel"]: r["n"] for r in _rows(
        conn, "select channel, count(*) as n from billing.messages where status = 'sent' group by channel order by 1")}
    return {
        "ingested": counts["ingested"],
        "quarantined": counts["quarantined"],
        "findings": finding_counts,
        "invoices": {"issued": inv["issued"], "held": inv["held"], "total": _money(inv["total"])},
        "payments": {"succeeded": pay["succeeded"], "failed": pay["failed"], "amount": _money(pay["amount"]),
                     "mode": payments_mode},
        "messages": messages,
    }
