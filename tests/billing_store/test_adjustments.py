"""Adjustments and credit notes (billing-rules section 8 [ext]) through the real `vigil run`.

Client C-500, site S-5 (America/New_York, US-NY: 4% state + 4.5% city on regular_hours),
weekly cycle, unarmed 30.00/h, no overtime.

Run 1, through 2026-10-19 (base.csv):
  week 10-05..11: A-1 8 h -> 240.00; tax 9.60 + 10.80 -> INV-2026-000001 total 260.40
  week 10-12..18: A-2 8 h + A-3 10 h = 18 h -> 540.00; tax 21.60 + 24.30 -> INV-2026-000002 585.90
Run 2, through 2026-10-26 (late.csv added):
  A-4, a late 4 h shift on 10-08 (week 1, already invoiced): week 1 re-rates to 12 h = 360.00,
    +120.00 -> an `adjustment` line on the next arrears invoice, citing INV-2026-000001.
  A-5 8 h on 10-20 (week 10-19..25) -> INV-2026-000003: regular 240.00 + adjustment
    4.00 h x 30.00 = 120.00; taxed like regular hours: base 360.00 -> 14.40 + 16.20; total 390.60.
  A-3 delivered again, 08:00-14:00 (6 h): duplicate_record (blocking) -> week 2's difference
    waits for review; nothing else is held.
Review: the duplicate_record finding resolved as `corrected`.
Run 3, through 2026-10-26: week 2 re-rates to 14 h = 420.00, -120.00 -> credit note
  CN-2026-000001 (kind arrears, period 10-12..18): -4.00 h x 30.00 = -120.00, tax -4.80 - 5.40,
  total -130.20, applied as a 130.20 credit to INV-2026-000002 (now partially_paid, 455.70 open).
Run 4 (same as run 3) changes nothing. INV numbers 1..3 and CN number 1, gap-free."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.cli import vigil

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


CONTRACT = """\
client:
  id: C-500
  name: Elm Street Offices
  email: ap@elm.example
sites:
  - id: S-5
    name: Elm Street - Lobby
    timezone: America/New_York
    tax_jurisdiction: US-NY
contracts:
  - id: K-500-G
    start_date: 2026-01-01
    end_date: 2026-12-31
    billing_cycle: weekly
    payment_terms_days: 30
    rates:
      - {service_type: unarmed, rate: "30.00"}
"""

TAX = """\
code,rate,taxable_categories,name
US-NY,0.04,regular_hours,NY state
US-NY,0.045,regular_hours,NYC
"""

BASE = """\
shift_id,guard_id,site_id,service_type,check_in,check_out
A-1,G-1,S-5,unarmed,2026-10-06T08:00:00-04:00,2026-10-06T16:00:00-04:00
A-2,G-1,S-5,unarmed,2026-10-13T08:00:00-04:00,2026-10-13T16:00:00-04:00
A-3,G-2,S-5,unarmed,2026-10-14T08:00:00-04:00,2026-10-14T18:00:00-04:00
"""

LATE = """\
shift_id,guard_id,site_id,service_type,check_in,check_out
A-4,G-2,S-5,unarmed,2026-10-08T08:00:00-04:00,2026-10-08T12:00:00-04:00
A-5,G-1,S-5,unarmed,2026-10-20T08:00:00-04:00,2026-10-20T16:00:00-04:00
A-3,G-2,S-5,unarmed,2026-10-14T08:00:00-04:00,2026-10-14T14:00:00-04:00
"""


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _run_and_export(inbox: Path, out: Path, through: str, tag: str) -> dict:
    run = vigil("run", "--inbox", inbox, "--from", "2026-10-01", "--through", through, "--json")
    vigil("export", "invoices", "--out", out / f"invoices-{tag}.jsonl")
    vigil("export", "findings", "--out", out / f"findings-{tag}.jsonl")
    read = lambda name: [json.loads(x) for x in (out / f"{name}-{tag}.jsonl").read_text().splitlines()]  # noqa: E731
    return {"summary": json.loads(run.strip().splitlines()[-1]), "invoices": read("invoices"),
            "findings": read("findings")}


@pytest.fixture(scope="module")
def runs(warehouse, tmp_path_factory):
    inbox = tmp_path_factory.mktemp("inbox")
    out = tmp_path_factory.mktemp("out")
    _write(inbox, "contracts/C-500.yaml", CONTRACT)
    _write(inbox, "tax/jurisdictions.csv", TAX)
    _write(inbox, "timesheets/base.csv", BASE)
    results = {"first": _run_and_export(inbox, out, "2026-10-19", "1")}
    _write(inbox, "timesheets/late.csv", LATE)
    results["late"] = _run_and_export(inbox, out, "2026-10-26", "2")
    dup = [f for f in results["late"]["findings"] if f["type"] == "duplicate_record"]
    assert len(dup) == 1 and dup[0]["evidence"] == ["timesheets:A-3"], dup
    vigil("findings", "resolve", dup[0]["finding_id"], "--as", "corrected", "--note", "A-3 ended at 14:00",
          "--by", "finance")
    results["corrected"] = _run_and_export(inbox, out, "2026-10-26", "3")
    results["again"] = _run_and_export(inbox, out, "2026-10-26", "4")
    return results


def _by_number(invoices):
    return {inv["invoice_number"]: inv for inv in invoices}


def test_first_run_issues_two_weeks(runs):
    invoices = _by_number(runs["first"]["invoices"])
    assert sorted(invoices) == ["INV-2026-000001", "INV-2026-000002"]
    assert invoices["INV-2026-000001"]["total"] == "260.40"
    assert invoices["INV-2026-000002"]["total"] == "585.90"


def test_late_shift_is_billed_as_adjustment_on_next_invoice(runs):
    invoices = _by_number(runs["late"]["invoices"])
    assert sorted(invoices) == ["INV-2026-000001", "INV-2026-000002", "INV-2026-000003"]
    # Issued invoices never change.
    first = _by_number(runs["first"]["invoices"])
    assert invoices["INV-2026-000001"]["lines"] == first["INV-2026-000001"]["lines"]
    assert invoices["INV-2026-000002"]["lines"] == first["INV-2026-000002"]["lines"]
    nxt = invoices["INV-2026-000003"]
    assert (nxt["period_start"], nxt["period_end"], nxt["kind"]) == ("2026-10-19", "2026-10-25", "arrears")
    usage = [ln for ln in nxt["lines"] if ln["category"] != "tax"]
    assert [(ln["category"], ln["quantity"], ln["unit_price"], ln["amount"]) for ln in usage] == [
        ("regular_hours", "8.00", "30.00", "240.00"),
        ("adjustment", "4.00", "30.00", "120.00"),
    ]
    adj = usage[1]
    assert adj["description"] == "Adjustment to INV-2026-000001: Unarmed officer - regular"
    assert adj["source_refs"] == ["invoices:INV-2026-000001", "timesheets:A-4"]
    assert "INV-2026-000001" in adj["explanation"] and "billed 240.00" in adj["explanation"]
    assert adj["site_id"] == "S-5" and adj["tax_jurisdiction"] == "US-NY"
    taxes = [(ln["description"], ln["quantity"], ln["amount"]) for ln in nxt["lines"] if ln["category"] == "tax"]
    assert taxes == [("NY state", "360.00", "14.40"), ("NYC", "360.00", "16.20")]
    assert (nxt["subtotal"], nxt["tax_total"], nxt["total"]) == ("360.00", "30.60", "390.60")
    # The corrected A-3 waits for review: no credit note yet.
    assert not [inv for inv in runs["late"]["invoices"] if inv["invoice_number"].startswith("CN-")]


def test_corrected_record_lowering_the_amount_yields_a_credit_note(runs):
    invoices = _by_number(runs["corrected"]["invoices"])
    assert sorted(invoices) == ["CN-2026-000001", "INV-2026-000001", "INV-2026-000002", "INV-2026-000003"]
    cn = invoices["CN-2026-000001"]
    assert (cn["kind"], cn["status"], cn["client_id"], cn["credit_for"]) == (
        "arrears", "issued", "C-500", "INV-2026-000002")
    assert (cn["period_start"], cn["period_end"], cn["issue_date"]) == ("2026-10-12", "2026-10-18", "2026-10-26")
    usage = [ln for ln in cn["lines"] if ln["category"] != "tax"]
    assert [(ln["category"], ln["quantity"], ln["unit_price"], ln["amount"]) for ln in usage] == [
        ("adjustment", "-4.00", "30.00", "-120.00")]
    assert usage[0]["description"] == "Adjustment to INV-2026-000002: Unarmed officer - regular"
    # The same records re-rated (no record came or went): the line cites all of them.
    assert usage[0]["source_refs"] == ["invoices:INV-2026-000002", "timesheets:A-2", "timesheets:A-3"]
    assert [ln["amount"] for ln in cn["lines"] if ln["category"] == "tax"] == ["-4.80", "-5.40"]
    assert (cn["subtotal"], cn["tax_total"], cn["total"]) == ("-120.00", "-10.20", "-130.20")
    original = invoices["INV-2026-000002"]
    assert original["status"] == "partially_paid"
    assert original["lines"] == _by_number(runs["first"]["invoices"])["INV-2026-000002"]["lines"]
    assert invoices["INV-2026-000003"] == _by_number(runs["late"]["invoices"])["INV-2026-000003"]


def test_ledger_and_adjustment_records(runs, conn):
    with conn.cursor() as cur:
        cur.execute("""select i.invoice_number, e.entry_type, e.amount, e.reference from billing.ledger_entries e
                       left join billing.invoices i using (invoice_id) order by e.entry_id""")
        assert cur.fetchall() == [("INV-2026-000002", "credit", Decimal("130.20"), "CN-2026-000001")]
        cur.execute("""select o.invoice_number, a.version, a.category, a.amount, b.invoice_number, a.billed_line_no
                       from billing.adjustments a join billing.invoices o on o.invoice_id = a.original_invoice_id
                       join billing.invoices b on b.invoice_id = a.billed_invoice_id order by a.adjustment_id""")
        assert cur.fetchall() == [
            ("INV-2026-000001", 1, "regular_hours", Decimal("120.00"), "INV-2026-000003", 2),
            ("INV-2026-000002", 1, "regular_hours", Decimal("-120.00"), "CN-2026-000001", 1),
        ]
        cur.execute("select prefix, year, last_value from billing.number_sequences order by prefix")
        assert cur.fetchall() == [("CN", 2026, 1), ("INV", 2026, 3)]


def test_rerun_changes_nothing(runs):
    assert runs["again"]["invoices"] == runs["corrected"]["invoices"]
    assert runs["again"]["summary"] == runs["corrected"]["summary"]
    assert runs["corrected"]["summary"]["invoices"] == {"issued": 4, "held": 0, "total": "1106.70"}
