"""Small warehouses for the invoices-out tests: the marts the document reads, with the
columns dbt builds (dbt_project/models/marts/_marts__models.yml; the one end-to-end story in
tests/e2e/test_run_export.py renders documents from marts dbt really built), and invoices
written the way billing/store.py writes them. Everything explicit, nothing computed here."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

MARTS = """
create schema if not exists marts;
drop table if exists marts.dim_company, marts.dim_clients, marts.dim_sites, marts.dim_contracts,
    marts.fct_guard_shifts, marts.fct_incident_responses, marts.fct_patrol_tours, marts.fct_devices cascade;
create table marts.dim_company (company_name text, address_lines text[], email text, phone text, tax_id text,
    remit_to_lines text[], timezone text, logo_path text, logo bytea, logo_media_type text, sales_email text,
    source_file text, ingested_at timestamptz, is_default boolean);
create table marts.dim_clients (client_id text primary key, client_name text, email text, phone text,
    preferred_channel text, autopay boolean, payment_method text, "grouping" text, currency text);
create table marts.dim_sites (site_id text primary key, client_id text, site_name text, timezone text,
    tax_jurisdiction text, site_position integer);
create table marts.dim_contracts (contract_id text primary key, client_id text, start_date date, end_date date,
    billing_cycle text, terms jsonb);
create table marts.fct_guard_shifts (shift_id text, source text, source_ref text, guard_id text, guard_name text,
    site_id text, client_id text, contract_id text, service_type text, check_in_at timestamptz,
    check_out_at timestamptz, scheduled_start_at timestamptz, scheduled_end_at timestamptz, service_date date,
    site_timezone text, has_valid_interval boolean, vendor_ref text);
create table marts.fct_incident_responses (incident_id text, source text, source_ref text, site_id text,
    client_id text, contract_id text, classification text, response_started_at timestamptz,
    response_ended_at timestamptz, responder_guard_id text, service_date date, opened_at timestamptz,
    vendor_ref text);
create table marts.fct_patrol_tours (tour_id text, source text, source_ref text, site_id text, client_id text,
    contract_id text, guard_id text, started_at timestamptz, completed_at timestamptz,
    checkpoints_required integer, checkpoints_scanned integer, service_date date, vendor_ref text);
create table marts.fct_devices (device_id text, source text, source_ref text, site_id text, client_id text,
    device_type text, active_from date, active_to date, vendor_ref text);
"""

BILLING_TABLES = ("billing.address_flags, billing.short_links, billing.portal_notices, billing.message_events, "
                  "billing.messages, billing.ledger_entries, billing.payment_attempts, billing.adjustments, "
                  "billing.invoice_lines, billing.invoices")

# The company's logo: a small SVG (company.yaml accepts png, jpg, gif, svg and webp).
LOGO_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="160" height="40" viewBox="0 0 160 40">'
            b'<rect width="40" height="40" rx="6" fill="#12355b"/><path d="M8 30 L20 8 L32 30 Z" fill="#f2b134"/>'
            b'<rect x="48" y="12" width="104" height="6" fill="#12355b"/><rect x="48" y="24" width="72" height="4" '
            b'fill="#5b6b7b"/></svg>')

COMPANY = ("Northwind Security Services", ["100 Quay Street", "Newark, NJ 07114"], "billing@northwind.example",
           "+1 973 555 0100", "EIN 12-3456789", ["Northwind Security Services", "PO Box 4410, Newark, NJ 07101",
                                                 "ACH: First Coastal Bank, routing 021000021, account 4410-778"])


def reset(conn, company: bool = True) -> None:
    """Fresh marts and empty billing tables; the company of COMPANY unless `company` is False
    (then dim_company holds the defaults, as dbt builds it without a company.yaml)."""
    with conn, conn.cursor() as cur:
        cur.execute(MARTS)
        cur.execute(f"truncate {BILLING_TABLES} restart identity cascade")
        if company:
            name, address, email, phone, tax_id, remit_to = COMPANY
            cur.execute("""insert into marts.dim_company values (%s, %s, %s, %s, %s, %s, 'America/New_York',
                               'logo.svg', %s, 'image/svg+xml', null, 'company.yaml', now(), false)""",
                        (name, address, email, phone, tax_id, remit_to, LOGO_SVG))
        else:
            cur.execute("""insert into marts.dim_company values ('Vigil demo company', '{}', null, null, null, '{}',
                               'UTC', null, null, null, null, null, null, true)""")


def add_client(conn, client_id: str, name: str, *, email: str | None = None, phone: str | None = None,
               channel: str = "email", grouping: str = "consolidated", autopay: bool = False,
               payment_method: str | None = None, sites: tuple[tuple[str, str, str, str], ...] = ()) -> None:
    """A client and its sites: (site_id, name, timezone, tax jurisdiction)."""
    with conn, conn.cursor() as cur:
        cur.execute("insert into marts.dim_clients values (%s, %s, %s, %s, %s, %s, %s, %s, 'USD')",
                    (client_id, name, email, phone, channel, autopay, payment_method, grouping))
        for position, (site_id, site_name, zone, jurisdiction) in enumerate(sites, start=1):
            cur.execute("insert into marts.dim_sites values (%s, %s, %s, %s, %s, %s)",
                        (site_id, client_id, site_name, zone, jurisdiction, position))


def add_shift(conn, record_id: str, site_id: str, client_id: str, guard: tuple[str, str], check_in: str,
              check_out: str, source: str = "timesheets", vendor_ref: str | None = None) -> str:
    with conn, conn.cursor() as cur:
        cur.execute("""insert into marts.fct_guard_shifts values (%s, %s, %s, %s, %s, %s, %s, null, 'unarmed', %s, %s,
                           null, null, %s::timestamptz::date, 'America/New_York', true, %s)""",
                    (record_id, source, f"{source}:{record_id}", guard[0], guard[1], site_id, client_id, check_in,
                     check_out, check_in, vendor_ref))
    return f"{source}:{record_id}"


def add_incident(conn, record_id: str, site_id: str, client_id: str, classification: str, opened: str, started: str,
                 ended: str, source: str = "incidents", vendor_ref: str | None = None) -> str:
    with conn, conn.cursor() as cur:
        cur.execute("""insert into marts.fct_incident_responses values (%s, %s, %s, %s, %s, null, %s, %s, %s, 'G-7',
                           %s::timestamptz::date, %s, %s)""",
                    (record_id, source, f"{source}:{record_id}", site_id, client_id, classification, started, ended,
                     started, opened, vendor_ref))
    return f"{source}:{record_id}"


def add_tour(conn, record_id: str, site_id: str, client_id: str, started: str, completed: str, required: int,
             scanned: int, source: str = "patrols") -> str:
    with conn, conn.cursor() as cur:
        cur.execute("""insert into marts.fct_patrol_tours values (%s, %s, %s, %s, %s, null, 'G-3', %s, %s, %s, %s,
                           %s::timestamptz::date, null)""",
                    (record_id, source, f"{source}:{record_id}", site_id, client_id, started, completed, required,
                     scanned, started))
    return f"{source}:{record_id}"


def add_device(conn, record_id: str, site_id: str, client_id: str, device_type: str, active_from: str,
               source: str = "devices", vendor_ref: str | None = None) -> str:
    with conn, conn.cursor() as cur:
        cur.execute("insert into marts.fct_devices values (%s, %s, %s, %s, %s, %s, %s, null, %s)",
                    (record_id, source, f"{source}:{record_id}", site_id, client_id, device_type, active_from,
                     vendor_ref))
    return f"{source}:{record_id}"


def line(category: str, description: str, quantity: str, unit: str, unit_price: str, amount: str,
         site_id: str | None = None, jurisdiction: str | None = None, refs: tuple[str, ...] = (),
         explanation: str = "as the contract prices it") -> dict:
    return {"category": category, "description": description, "quantity": Decimal(quantity), "unit": unit,
            "unit_price": Decimal(unit_price), "amount": Decimal(amount), "site_id": site_id,
            "tax_jurisdiction": jurisdiction, "source_refs": list(refs), "explanation": explanation}


def tax(name: str, jurisdiction: str, rate: str, base: str, amount: str) -> dict:
    return line("tax", name, base, "base", rate, amount, jurisdiction=jurisdiction, explanation=f"{rate} of {base}")


def add_invoice(conn, number: str | None, client_id: str, lines: list[dict], *, issue: date = date(2026, 10, 12),
                due: date = date(2026, 11, 11), period: tuple[date, date] = (date(2026, 10, 5), date(2026, 10, 11)),
                credit_for: str | None = None, status: str = "issued", site_id: str | None = None,
                contracts: tuple[str, ...] = ("K-1",), kind: str = "arrears") -> int:
    """An invoice (or credit note) with its lines; the totals are the sums of the lines."""
    subtotal = sum((ln["amount"] for ln in lines if ln["category"] != "tax"), Decimal(0))
    tax_total = sum((ln["amount"] for ln in lines if ln["category"] == "tax"), Decimal(0))
    with conn, conn.cursor() as cur:
        cur.execute(
            """insert into billing.invoices (invoice_key, invoice_number, status, kind, client_id, site_id,
                   contract_ids, currency, period_start, period_end, issue_date, due_date, subtotal, tax_total,
                   total, credit_for)
               values (%s, %s, %s, %s, %s, %s, %s, 'USD', %s, %s, %s, %s, %s, %s, %s, %s) returning invoice_id""",
            (f"{client_id}|{number}|{period[0]}", number, status, kind, client_id, site_id, list(contracts),
             period[0], period[1], issue, due, subtotal, tax_total, subtotal + tax_total, credit_for),
        )
        invoice_id = cur.fetchone()[0]
        for line_no, ln in enumerate(lines, start=1):
            cur.execute(
                """insert into billing.invoice_lines (invoice_id, line_no, site_id, category, description, quantity,
                       unit, unit_price, amount, tax_jurisdiction, source_refs, explanation)
                   values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                (invoice_id, line_no, ln["site_id"], ln["category"], ln["description"], ln["quantity"], ln["unit"],
                 ln["unit_price"], ln["amount"], ln["tax_jurisdiction"], ln["source_refs"], ln["explanation"]),
            )
    return invoice_id


def pay(conn, invoice_id: int, client_id: str, amount: str, on: date = date(2026, 10, 20),
        entry_type: str = "payment", reference: str = "check 1001") -> None:
    with conn, conn.cursor() as cur:
        cur.execute("""insert into billing.ledger_entries (invoice_id, client_id, entry_type, amount, currency,
                           effective_date, reference) values (%s, %s, %s, %s, 'USD', %s, %s)""",
                    (invoice_id, client_id, entry_type, Decimal(amount), on, reference))
        cur.execute("""update billing.invoices set status = case when total <= %s then 'paid' else 'partially_paid' end
                       where invoice_id = %s""", (Decimal(amount), invoice_id))


def record_adjustment(conn, original_id: int, billed_id: int, billed_line_no: int, category: str) -> None:
    """billing.adjustments as issuing records it: which category a billed adjustment line corrects."""
    with conn, conn.cursor() as cur:
        cur.execute("""insert into billing.adjustments (original_invoice_id, version, site_id, category, description,
                           unit_price, unit, tax_category, tax_jurisdiction, quantity, amount, source_refs,
                           billed_invoice_id, billed_line_no)
                       select %s, 1, site_id, %s, description, unit_price, unit, %s, tax_jurisdiction, quantity,
                              amount, source_refs, invoice_id, line_no
                       from billing.invoice_lines where invoice_id = %s and line_no = %s""",
                    (original_id, category, category, billed_id, billed_line_no))
