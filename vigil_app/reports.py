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
AMOUNT_FIELDS = ("subtotal", "tax_total", "total", "amount_paid", "balance")
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
    """Every invoice in the shape of interfaces.md section 4, with `amount_paid` and `balance`
    (wave 2): what the ledger applied to it and what is left (nothing is owed on a void
    invoice or a credit note)."""
    heads = _rows(conn, """select i.*, coalesce(p.paid, 0) as amount_paid from billing.invoices i
                           left join (select invoice_id, sum(amount) as paid from billing.ledger_entries
                                      where entry_type in ('payment', 'credit') group by invoice_id) p
                               using (invoice_id)
                           order by i.invoice_number nulls last, i.client_id, i.period_start, i.invoice_key""")
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
        owed = head["status"] != "void" and not head.get("credit_for")
        doc.update(amount_paid=currency.display(head["amount_paid"], code),
                   balance=currency.display(head["total"] - head["amount_paid"] if owed else Decimal(0), code))
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
        columns = [*INVOICE_FIELDS, *AMOUNT_FIELDS, *LINE_FIELDS]
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            for doc in docs:
                head = {k: doc[k] for k in (*INVOICE_FIELDS, *AMOUNT_FIELDS)}
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
    from the mart the last run built (marts.fct_quarantine), with the payments received
    that billing could not apply (billing.payment_refusals, judged on the day received)."""
    return _rows(
        conn,
        """select source, file, line, record_id, field, reason from (
               select source, source_file as file, source_line as line, record_id, field, reason
               from marts.fct_quarantine
               union all
               select 'payments', source_file, source_line, payment_id, field, reason
               from billing.payment_refusals) refused
           order by source, file, line nulls first, record_id""",
    )


def messages(conn) -> list[dict]:
    """Every message (interfaces.md section 5), with the delivery events providers reported
    (billing/messaging/tracking.py)."""
    from billing.messaging.tracking import delivery_events

    rows = _rows(
        conn,
        """select m.message_id, m.dedupe_key as message_key, m.client_id, i.invoice_number, m.contract_id, m.template,
                  m.channel, m.business_date as for_date, m.status, m.provider_message_id as provider_ref, m.link
           from billing.messages m left join billing.invoices i using (invoice_id)
           order by m.business_date, m.dedupe_key""",
    )
    events = delivery_events(conn)
    for row in rows:
        row["for_date"] = row["for_date"].isoformat()
        row["events"] = events.get(row.pop("message_id"), [])
    return rows


def payments(conn) -> list[dict]:
    """Every payment (interfaces.md section 5): the provider attempts (auto-pay and pay links),
    payments received (`manual:<payment_id>`, one row per invoice it went to and one for what
    became client credit) and credits applied to invoices (`credit`)."""
    attempts = _rows(
        conn,
        """select a.idempotency_key as attempt_key, i.invoice_number, i.client_id, a.attempt_no,
                  a.attempt_date as for_date, case when a.channel = 'link' then 'link' else a.method end as method,
                  a.amount, a.currency, a.status, a.decline, a.failure_code, a.provider_ref
           from billing.payment_attempts a join billing.invoices i using (invoice_id)""",
    )
    applied = _rows(
        conn,
        """select case when e.received_payment_id is not null then 'manual:' || e.received_payment_id
                       when e.reference like 'credit:%%' then e.reference
                       else 'credit:' || e.reference end as attempt_key,
                  i.invoice_number, e.client_id, null::int as attempt_no, e.effective_date as for_date,
                  case when e.received_payment_id is not null then 'manual' else 'credit' end as method,
                  e.amount, e.currency, 'succeeded' as status, null as decline, null as failure_code,
                  r.reference as provider_ref
           from billing.ledger_entries e
           left join billing.invoices i using (invoice_id)
           left join billing.received_payments r on r.payment_id = e.received_payment_id
           where e.received_payment_id is not null
              or (e.entry_type = 'credit' and e.invoice_id is not null and e.payment_attempt_id is null)""",
    )
    rows = attempts + applied
    for row in rows:
        row["for_date"] = row["for_date"].isoformat()
        row["amount"] = currency.display(row["amount"], row["currency"])
    rows.sort(key=lambda row: (row["for_date"], row["attempt_key"], row["invoice_number"] is None,
                               row["invoice_number"] or ""))
    return rows


COLLECTION_FIELDS = ("invoice_number", "client_id", "client_name", "email", "phone", "currency", "amount_due",
                     "due_date", "days_past_due", "handed_off_on", "attempts", "messages")


def collections(conn) -> list[dict]:
    """The agency hand-off (interfaces.md section 5): one record per invoice handed off."""
    rows = _rows(
        conn,
        f"""select {', '.join('h.' + f if f != 'invoice_number' else 'i.invoice_number' for f in COLLECTION_FIELDS)}
            from billing.collection_handoffs h join billing.invoices i using (invoice_id)
            order by h.handed_off_on, i.invoice_number""",
    )
    for row in rows:
        row["amount_due"] = currency.display(row["amount_due"], row["currency"])
        row["due_date"] = row["due_date"].isoformat()
        row["handed_off_on"] = row["handed_off_on"].isoformat()
    return rows


def write_rows(rows: list[dict], out: Path, fmt: str = "jsonl", columns: tuple[str, ...] = ()) -> int:
    """One JSON object a line, or CSV with `columns`."""
    if fmt == "jsonl":
        return write_jsonl(rows, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns or (rows[0].keys() if rows else ())))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


RENEWAL_DATES = ("end_date", "offered_on", "reminded_on", "sales_alerted_on", "auto_notice_on", "decided_on")


def renewals(conn) -> list[dict]:
    """One record per contract that reached its renewal window (interfaces.md section 5),
    plus `auto_notice_on` (the day of renewal_auto_notice, docs/renewals.md)."""
    from billing.renewals.store import state_of
    from billing.renewals.timeline import status

    out = []
    for row in _rows(conn, "select * from billing.renewals order by end_date, contract_id"):
        record = {"contract_id": row["contract_id"], "client_id": row["client_id"], "end_date": row["end_date"],
                  "auto_renew": row["auto_renew"], "status": status(state_of(row)),
                  "offered_on": row["offered_on"], "reminded_on": row["reminded_on"],
                  "sales_alerted_on": row["sales_alerted_on"], "auto_notice_on": row["auto_notice_on"],
                  "decided_on": row["decided_on"], "option": row["option"],
                  "new_contract_id": row["new_contract_id"]}
        for key in RENEWAL_DATES:
            record[key] = record[key].isoformat() if record[key] else None
        out.append(record)
    return out


def summary(conn, payments_mode: str) -> dict:
    """The state after a run (interfaces.md section 1): a second identical run prints the same.
    `payments.mode` is VIGIL_PAYMENTS, so every summary says when auto-pay is off."""
    from connectors.inbox import raw_counts

    counts = raw_counts(conn)
    # renewal documents are written by billing/renewals, not ingested: the renewals line counts them
    counts["ingested"].pop("renewals", None)
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
    refused = _rows(conn, "select count(*) as n from billing.payment_refusals")[0]["n"]
    if refused:
        counts["quarantined"]["payments"] = counts["quarantined"].get("payments", 0) + refused
    dunning = _rows(
        conn,
        """select (select count(*) from billing.messages where template like 'reminder%%' and status = 'sent')
                      as reminders,
                  (select count(*) from billing.payment_attempts where reason = 'retry') as retries,
                  (select count(*) from billing.messages where template = 'receipt' and status = 'sent') as receipts,
                  (select count(*) from billing.dunning_events where status = 'delinquent') as delinquent,
                  (select count(*) from billing.collection_handoffs) as in_collections""",
    )[0]
    renewal_counts: dict[str, int] = {}
    for record in renewals(conn):
        renewal_counts[record["status"]] = renewal_counts.get(record["status"], 0) + 1
    return {
        "ingested": counts["ingested"],
        "quarantined": counts["quarantined"],
        "findings": finding_counts,
        "invoices": {"issued": inv["issued"], "held": inv["held"], "total": _money(inv["total"])},
        "payments": {"succeeded": pay["succeeded"], "failed": pay["failed"], "amount": _money(pay["amount"]),
                     "mode": payments_mode},
        "messages": messages,
        "collections": dunning,
        "renewals": dict(sorted(renewal_counts.items())),
    }
