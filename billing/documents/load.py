"""Everything one invoice document shows, read from billing and the marts: the company
(marts.dim_company), the client, the lines grouped as the client's `grouping` says, taxes
per jurisdiction, what was paid, and the evidence each line cites."""

from __future__ import annotations

import base64
from collections import defaultdict
from decimal import Decimal

import psycopg2.extras

from billing.documents.evidence import build_evidence
from billing.documents.model import (
    DEFAULT_COMPANY_NAME,
    BillTo,
    Company,
    CreditApplication,
    DocumentLine,
    InvoiceDocument,
    LineSection,
    TaxJurisdiction,
    TaxRow,
)

# Consolidated invoices list their lines by service, in this order.
SERVICES = (
    ("Guarding", ("regular_hours", "overtime_hours", "double_time_hours", "holiday_hours", "holiday_overtime_hours",
                  "special_event_hours", "minimum_shift_adjustment")),
    ("Incident response", ("incident_fee", "incident_extended_time")),
    ("Mobile patrol", ("patrol_visit",)),
    ("Monitoring", ("monitoring", "device_monitoring")),
    ("Equipment", ("equipment_rental",)),
    ("Fees", ("service_fee",)),
    ("Adjustments to earlier invoices", ("adjustment",)),
)
SERVICE_OF = {category: name for name, categories in SERVICES for category in categories}
OTHER_SERVICE = "Other"


def _one(cur, sql: str, params=()) -> dict | None:
    cur.execute(sql, params)
    row = cur.fetchone()
    return dict(row) if row else None


def _company(cur) -> Company:
    row = _one(cur, "select * from marts.dim_company limit 1")
    if row is None:  # the mart always has one row; before any build the defaults stand in
        return Company(DEFAULT_COMPANY_NAME, (), None, None, None, (), None, True)
    logo = None
    if row.get("logo") is not None and row.get("logo_media_type"):
        logo = f"data:{row['logo_media_type']};base64,{base64.b64encode(bytes(row['logo'])).decode()}"
    return Company(
        name=row["company_name"], address_lines=tuple(row["address_lines"] or ()), email=row.get("email"),
        phone=row.get("phone"), tax_id=row.get("tax_id"), remit_to_lines=tuple(row["remit_to_lines"] or ()),
        logo_data_uri=logo, is_default=bool(row["is_default"]),
    )


def _sections(lines: list[DocumentLine], grouping: str) -> tuple[LineSection, ...]:
    """per_site: one section per site; consolidated: one per service. A discount stays with
    the line it discounts (the engine places it right after)."""
    grouped: dict[str, list[DocumentLine]] = defaultdict(list)
    previous_service = OTHER_SERVICE
    for line in lines:
        if grouping == "per_site":
            key = line.site_label
        elif line.category == "discount":
            key = previous_service
        else:
            key = previous_service = SERVICE_OF.get(line.category, OTHER_SERVICE)
        grouped[key].append(line)
    if grouping == "per_site":
        order = sorted(grouped, key=lambda title: (title == "All sites", title))
    else:
        order = [name for name, _ in SERVICES if name in grouped] + [k for k in grouped if k not in SERVICE_OF.values()]
    return tuple(LineSection(title, tuple(grouped[title]), sum((ln.amount for ln in grouped[title]), Decimal(0)))
                 for title in order)


def _taxes(rows: list[dict]) -> tuple[TaxJurisdiction, ...]:
    by_code: dict[str, list[TaxRow]] = defaultdict(list)
    for row in rows:
        by_code[row["tax_jurisdiction"] or "-"].append(
            TaxRow(row["description"], Decimal(row["unit_price"]), Decimal(row["quantity"]), Decimal(row["amount"])))
    return tuple(TaxJurisdiction(code, tuple(found), sum((t.amount for t in found), Decimal(0)))
                 for code, found in sorted(by_code.items()))


def load_document(conn, number: str) -> InvoiceDocument | None:
    """The document of a numbered invoice or credit note, or None when there is none."""
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        invoice = _one(cur, "select * from billing.invoices where invoice_number = %s", (number,))
        if invoice is None:
            return None
        client = _one(cur, """select client_id, client_name, email, phone, "grouping", autopay, payment_method
                              from marts.dim_clients where client_id = %s""", (invoice["client_id"],)) or {
            "client_id": invoice["client_id"], "client_name": invoice["client_id"], "email": None, "phone": None,
            "grouping": "consolidated", "autopay": False, "payment_method": None}
        cur.execute("select * from billing.invoice_lines where invoice_id = %s order by line_no",
                    (invoice["invoice_id"],))
        rows = [dict(row) for row in cur.fetchall()]
        site_ids = sorted({row["site_id"] for row in rows if row["site_id"]} | {invoice["site_id"]} - {None})
        cur.execute("select site_id, site_name, timezone from marts.dim_sites where site_id = any(%s)", (site_ids,))
        sites = {row["site_id"]: dict(row) for row in cur.fetchall()}
        paid = _one(cur, """select coalesce(sum(amount), 0) as amount from billing.ledger_entries
                            where invoice_id = %s and entry_type in ('payment', 'credit')""",
                    (invoice["invoice_id"],))["amount"]
        applications: tuple[CreditApplication, ...] = ()
        credited_issue_date = None
        if invoice["credit_for"]:
            cur.execute("""select i.invoice_number, e.amount, e.effective_date from billing.ledger_entries e
                           left join billing.invoices i using (invoice_id)
                           where e.reference = %s and e.entry_type = 'credit' order by e.entry_id""", (number,))
            applications = tuple(CreditApplication(r["invoice_number"], r["amount"], r["effective_date"])
                                 for r in cur.fetchall())
            credited = _one(cur, "select issue_date from billing.invoices where invoice_number = %s",
                            (invoice["credit_for"],))
            credited_issue_date = credited["issue_date"] if credited else None
        company = _company(cur)

    def site_name(site_id):
        return (sites.get(site_id) or {}).get("site_name")

    billed = [
        DocumentLine(line_no=row["line_no"], site_id=row["site_id"], site_name=site_name(row["site_id"]),
                     category=row["category"], description=row["description"], explanation=row["explanation"],
                     quantity=row["quantity"], unit=row["unit"], unit_price=row["unit_price"], amount=row["amount"],
                     tax_jurisdiction=row["tax_jurisdiction"], source_refs=tuple(row["source_refs"] or ()))
        for row in rows if row["category"] != "tax"
    ]
    zones = {site_id: site["timezone"] for site_id, site in sites.items()}
    billed, evidence = build_evidence(conn, billed, zones)
    grouping = client.get("grouping") or "consolidated"
    site_label = None
    if invoice["site_id"]:
        name = site_name(invoice["site_id"])
        site_label = f"{name} ({invoice['site_id']})" if name else invoice["site_id"]
    return InvoiceDocument(
        invoice_id=invoice["invoice_id"], number=number, credit_for=invoice["credit_for"],
        credited_issue_date=credited_issue_date, status=invoice["status"], kind=invoice["kind"],
        issue_date=invoice["issue_date"], due_date=invoice["due_date"], period_start=invoice["period_start"],
        period_end=invoice["period_end"], currency=invoice["currency"],
        contract_ids=tuple(invoice["contract_ids"] or ()), site_label=site_label, company=company,
        bill_to=BillTo(client["client_id"], client["client_name"], client.get("email"), client.get("phone"),
                       grouping),
        sections=_sections(billed, grouping), taxes=_taxes([row for row in rows if row["category"] == "tax"]),
        subtotal=invoice["subtotal"], tax_total=invoice["tax_total"], total=invoice["total"], amount_paid=paid,
        autopay=bool(client.get("autopay") and client.get("payment_method")) and not invoice["credit_for"],
        evidence=tuple(evidence), applications=applications,
    )
