"""The accounting export (interfaces.md section 6) on the hand-written scenario
(tests/invoices/scenario.py): taxes in two jurisdictions (US-NY with two rows, US-NJ), a
discount, a price with six decimals, and a credit note. Each target's columns, its totals
against the invoice export to the cent, every journal entry balanced and never negative,
credit notes by each target's convention, account codes from accounting.yaml, and a bad
accounting.yaml refused with its file, line and field."""

from __future__ import annotations

import contextlib
import csv
import io
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest

from billing.accounting import export_accounting, journal, load_settings, quickbooks, xero
from tests.invoices import scenario
from tests.invoices import warehouse as wh
from vigil_app import reports
from vigil_app.cli import main

pytestmark = pytest.mark.integration

EXPECTED_TOTALS = {"INV-2026-000001": "839.96", "INV-2026-000002": "200.00", "INV-2026-000003": "108.47",
                   "CN-2026-000001": "-97.65"}


@pytest.fixture(scope="module")
def books(warehouse):
    from vigil import db

    conn = db.connect()
    try:
        scenario.build(conn)
        wh.add_invoice(conn, "INV-2026-000004", "C-2", [  # voided: never reaches another ledger
            wh.line("regular_hours", "Unarmed officer - regular", "1.00", "hour", "25.00", "25.00", "S-9")],
            status="void", contracts=("K-2",))
        export = {doc["invoice_number"]: doc for doc in reports.invoices(conn)}
    finally:
        conn.close()
    assert {number: export[number]["total"] for number in EXPECTED_TOTALS} == EXPECTED_TOTALS
    return export


def _write(conn, tmp_path, target: str, inbox=None, **dates) -> list[dict]:
    out = tmp_path / f"{target}.csv"
    export_accounting(conn, target, out, load_settings(inbox), **dates)
    with out.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        assert tuple(reader.fieldnames) == {"xero": xero, "quickbooks": quickbooks, "journal": journal}[target].COLUMNS
    return rows


def _cents(value: str) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_xero_rows_total_the_invoice_export_and_credit_notes_are_negative_quantities(books, conn, tmp_path):
    rows = _write(conn, tmp_path, "xero")
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row["*InvoiceNumber"]] += _cents(str(Decimal(row["*Quantity"]) * Decimal(row["*UnitAmount"])))
        assert row["Total"] == books[row["*InvoiceNumber"]]["total"] and row["*TaxType"] == "Tax Exempt"
    assert {number: format(total, "f") for number, total in totals.items()} == EXPECTED_TOTALS  # void left out
    first = [row for row in rows if row["*InvoiceNumber"] == "INV-2026-000001"]
    assert [(r["*Description"][:24], r["*Quantity"], r["*UnitAmount"], r["*AccountCode"]) for r in first] == [
        ("Unarmed officer - regula", "16.00", "30.00", "4000"), ("Unarmed officer - overti", "2.00", "45.00", "4000"),
        ("Incident response - alar", "2.00", "75.00", "4100"), ("Patrol visit", "1.00", "24.00", "4200"),
        ("Device monitoring - came", "3.00", "12.50", "4300"), ("Discount 10% - Device mo", "1.00", "-3.75", "4900"),
        ("NY State sales tax (US-N", "1.00", "22.80", "2200"), ("NYC sales tax (US-NY) 4.", "1.00", "25.65", "2200"),
        ("NJ sales tax (US-NJ) 6.6", "1.00", "13.76", "2200")]
    assert first[0]["*InvoiceDate"] == "10/12/2026" and first[0]["*DueDate"] == "11/11/2026"
    assert first[8]["*Description"] == "NJ sales tax (US-NJ) 6.625% of 207.75"
    scaled = next(row for row in rows if row["*Description"].startswith("Device monitoring - camera ("))
    assert (scaled["*Quantity"], scaled["*UnitAmount"]) == ("1.00", "8.47")  # 2.822581 has six decimals
    assert scaled["*Description"] == "Device monitoring - camera (3 device at 2.822581)"
    credit = [(r["*Quantity"], r["*UnitAmount"], r["*AccountCode"], r["Reference"]) for r in rows
              if r["*InvoiceNumber"] == "CN-2026-000001"]
    assert credit == [("-2.00", "45.00", "4000", "Credit note for INV-2026-000001"),  # the overtime it corrects
                      ("-1.00", "3.60", "2200", "Credit note for INV-2026-000001"),
                      ("-1.00", "4.05", "2200", "Credit note for INV-2026-000001")]


def test_quickbooks_amounts_total_the_invoice_export(books, conn, tmp_path):
    rows = _write(conn, tmp_path, "quickbooks")
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row["InvoiceNo"]] += Decimal(row["ItemAmount"])
        assert row["Taxable"] == "N" and row["Currency"] == "USD"
    assert {number: format(total, "f") for number, total in totals.items()} == EXPECTED_TOTALS
    taxes = [(r["Item(Product/Service)"], r["ItemAmount"]) for r in rows
             if r["InvoiceNo"] == "INV-2026-000001" and r["Item(Product/Service)"].startswith("Sales tax")]
    assert taxes == [("Sales tax US-NY", "22.80"), ("Sales tax US-NY", "25.65"), ("Sales tax US-NJ", "13.76")]
    credit = next(r for r in rows if r["InvoiceNo"] == "CN-2026-000001")
    assert (credit["ItemQuantity"], credit["ItemRate"], credit["ItemAmount"], credit["Memo"]) == (
        "-2.00", "45.00", "-90.00", "Credit note for invoice INV-2026-000001")
    assert next(r for r in rows if r["InvoiceNo"] == "INV-2026-000002")["Terms"] == "Net 1"


def test_every_journal_entry_balances_with_positive_amounts_and_credit_notes_swapped(books, conn, tmp_path):
    rows = _write(conn, tmp_path, "journal")
    entries: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        entries[row["entry_id"]].append(row)
        assert (row["debit"] == "") != (row["credit"] == "")  # one side per row
        assert Decimal(row["debit"] or row["credit"]) > 0  # never negative, never zero
    assert set(entries) == set(EXPECTED_TOTALS)
    for number, lines in entries.items():
        debits = sum(Decimal(r["debit"] or 0) for r in lines)
        credits = sum(Decimal(r["credit"] or 0) for r in lines)
        assert debits == credits, number
        receivable = sum(Decimal(r["debit"] or 0) - Decimal(r["credit"] or 0) for r in lines if r["account"] == "1200")
        assert format(receivable, "f") == EXPECTED_TOTALS[number]
    first = {(r["account"], r["description"]): (r["debit"], r["credit"]) for r in entries["INV-2026-000001"]}
    assert first == {
        ("1200", "Receivable from Harbor Logistics"): ("839.96", ""),
        ("4000", "Revenue: regular_hours"): ("", "480.00"), ("4000", "Revenue: overtime_hours"): ("", "90.00"),
        ("4100", "Revenue: incident_fee"): ("", "150.00"), ("4200", "Revenue: patrol_visit"): ("", "24.00"),
        ("4300", "Revenue: device_monitoring"): ("", "37.50"), ("4900", "Revenue: discount"): ("3.75", ""),
        ("2200", "NY State sales tax (US-NY)"): ("", "22.80"), ("2200", "NYC sales tax (US-NY)"): ("", "25.65"),
        ("2200", "NJ sales tax (US-NJ)"): ("", "13.76")}
    credit = {(r["account"], r["description"]): (r["debit"], r["credit"]) for r in entries["CN-2026-000001"]}
    assert credit == {("1200", "Receivable from Harbor Logistics"): ("", "97.65"),
                      ("4000", "Revenue: adjustment of overtime_hours"): ("90.00", ""),
                      ("2200", "NY State sales tax (US-NY)"): ("3.60", ""),
                      ("2200", "NYC sales tax (US-NY)"): ("4.05", "")}
    assert {r["reference"] for r in entries["CN-2026-000001"]} == {"CN-2026-000001 (credits INV-2026-000001)"}
    assert {r["date"] for r in entries["CN-2026-000001"]} == {"2026-10-19"}


def test_the_range_is_by_issue_date(books, conn, tmp_path):
    only_credit = _write(conn, tmp_path, "journal", date_from=date(2026, 10, 13))
    assert {row["entry_id"] for row in only_credit} == {"CN-2026-000001"}
    first_day = _write(conn, tmp_path, "quickbooks", through=date(2026, 10, 12))
    assert {row["InvoiceNo"] for row in first_day} == {"INV-2026-000001", "INV-2026-000002", "INV-2026-000003"}


def test_account_codes_and_date_format_from_accounting_yaml(books, conn, tmp_path):
    (tmp_path / "accounting.yaml").write_text(
        'receivable_account: "1100"\ntax_accounts:\n  US-NJ: "2230"\nrevenue_accounts:\n  overtime_hours: "4010"\n'
        "  adjustment: \"4950\"\ndate_format: DD/MM/YYYY\nxero_tax_type: No VAT\n")
    rows = _write(conn, tmp_path, "xero", inbox=tmp_path)
    first = {row["*Description"].split(" (")[0]: row["*AccountCode"] for row in rows
             if row["*InvoiceNumber"] == "INV-2026-000001"}
    assert (first["Unarmed officer - regular"], first["Unarmed officer - overtime"]) == ("4000", "4010")
    assert (first["NJ sales tax"], first["NY State sales tax"]) == ("2230", "2200")
    assert next(r for r in rows if r["*InvoiceNumber"] == "CN-2026-000001")["*AccountCode"] == "4950"  # named
    assert rows[0]["*InvoiceDate"] == "12/10/2026" and rows[0]["*TaxType"] == "No VAT"
    entries = _write(conn, tmp_path, "journal", inbox=tmp_path)
    assert {r["account"] for r in entries if r["description"].startswith("Receivable")} == {"1100"}


@pytest.mark.parametrize(("text", "expected"), [
    ('receivable_account: "1200"\ntax_acount: "2200"\n', "line 2: tax_acount: unknown setting (did you mean "
                                                         "tax_account?)"),
    ("revenue_accounts:\n  regular_hours: 4000\n", "line 2: revenue_accounts.regular_hours: account code 4000 must "
                                                   "be a quoted string"),
    ('revenue_accounts:\n  guarding: "4000"\n', "line 2: revenue_accounts.guarding: not an invoice line category"),
    ("date_format: 12/31/2026\n", "line 1: date_format: '12/31/2026' is not one of"),
])
def test_a_bad_accounting_yaml_is_refused_naming_file_line_and_field(tmp_path, text, expected):
    (tmp_path / "accounting.yaml").write_text(text)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["export", "accounting", "--target", "xero", "--out", str(tmp_path / "x.csv"),
                     "--inbox", str(tmp_path)])
    assert code == 2
    assert f"vigil: {tmp_path / 'accounting.yaml'}: {expected}" in err.getvalue()
    assert not (tmp_path / "x.csv").exists()


def test_export_accounting_needs_a_target(tmp_path):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["export", "accounting", "--out", str(tmp_path / "x.csv")]) == 2
        assert main(["export", "invoices", "--target", "xero", "--out", str(tmp_path / "x.csv")]) == 2
    assert "export accounting needs --target xero, quickbooks or journal" in err.getvalue()
    assert "--target is for `vigil export accounting` only" in err.getvalue()
