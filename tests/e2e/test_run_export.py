"""`vigil run` then `vigil export invoices`, called in-process (tests/e2e/cli.py: the console
script's own code path; test_demo and test_concurrent_runs start real processes), three
times, against hand-computed invoices.

Week 2026-10-05..11 for C-100 (weekly overtime after 40 h, 15-minute rounding):
  SH-1 07:53-18:07 -> 08:00-18:00 10 h; SH-2 10 h; SH-3 18:08 -> 18:15 10.25 h; SH-4 10 h;
  SH-5 4 h  => G-1 44.25 h: 40 regular + 4.25 overtime; SH-6 (G-2, overnight) 8 h regular.
  regular 48 h x 30.00 = 1440.00; overtime 4.25 h x 45.00 = 191.25; subtotal 1631.25
  tax 4% = 65.25, 4.5% = 73.40625 -> 73.41; total 1769.91
C-200 week 2026-10-05..11: SH-20 8 h x 25.00 = 200.00, IL 6.25% = 12.50, total 212.50,
  due the next day, auto-paid on 2026-10-13.
C-100 week 2026-10-12..18: SH-7 8 h = 240.00, tax 9.60 + 10.80, total 260.40.
SH-8 (2026-10-20) lies after --through: ingested, not billed. SH-99 has a check-in without
an offset: quarantined at line 11 of its file.

The first run has no STRIPE_API_KEY and no VIGIL_PAYMENTS: auto-pay is off, nothing is
charged and every summary says so (interfaces.md section 8). The next two run in test mode
(VIGIL_PAYMENTS=local): the due invoice is charged once, and the third run changes nothing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.cli import vigil
from tests.e2e.inbox_fixture import write_inbox

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def payments_off(warehouse, tmp_path_factory):
    """The first run, without a payment provider: text summary, export and the asset's metadata."""
    from vigil_app.demo.localstripe import stop_localstripe

    stop_localstripe()
    inbox = write_inbox(tmp_path_factory.mktemp("inbox"))
    out = tmp_path_factory.mktemp("out-off")
    with pytest.MonkeyPatch.context() as env:
        for name in ("VIGIL_PAYMENTS", "STRIPE_API_KEY", "STRIPE_API_BASE"):
            env.delenv(name, raising=False)
        text = vigil("run", "--inbox", inbox, "--through", "2026-10-19")
        vigil("export", "invoices", "--out", out / "invoices.jsonl")
    return {"inbox": inbox, "text": text,
            "invoices": [json.loads(x) for x in (out / "invoices.jsonl").read_text().splitlines()]}


@pytest.fixture(scope="module")
def runs(payments_off, tmp_path_factory):
    inbox = payments_off["inbox"]
    out = tmp_path_factory.mktemp("out")
    results = []
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VIGIL_PAYMENTS", "local")
        env.setenv("STRIPE_API_BASE", "")  # the run points it at localstripe; undone after
        for attempt in (1, 2):
            run = vigil("run", "--inbox", inbox, "--through", "2026-10-19", "--json")
            vigil("export", "invoices", "--out", out / f"invoices-{attempt}.jsonl")
            vigil("export", "quarantine", "--out", out / f"quarantine-{attempt}.jsonl")
            results.append(_read(run, out, attempt))
    return results


def _read(run: str, out, attempt: int) -> dict:
    return {
        "summary": json.loads(run.strip().splitlines()[-1]),
        "invoices": [json.loads(x) for x in (out / f"invoices-{attempt}.jsonl").read_text().splitlines()],
        "quarantine": [json.loads(x) for x in (out / f"quarantine-{attempt}.jsonl").read_text().splitlines()],
    }


def test_without_a_provider_auto_pay_is_off_and_nothing_is_paid(payments_off, monkeypatch):
    import dagster as dg

    from vigil import services
    from vigil_app.demo.localstripe import SERVICE

    assert "payments:    auto-pay is off (VIGIL_PAYMENTS=off): nothing charged; 0 succeeded (0.00), 0 failed" in (
        payments_off["text"])
    assert {inv["status"] for inv in payments_off["invoices"]} == {"issued"}
    assert services.running(SERVICE) is None  # localstripe was never started
    for name in ("DAGSTER_HOME", "VIGIL_DAGSTER_PG_URL"):
        monkeypatch.setenv(name, "")
    services.prepare_instance()
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["payments", "autopay_charges"]))
    metadata = event.asset_materialization.metadata
    assert (metadata["mode"].value, metadata["attempted"].value) == ("off", 0)


def _by_number(invoices):
    return {inv["invoice_number"]: inv for inv in invoices}


def test_weekly_overtime_invoice_matches_hand_computation(runs):
    inv = _by_number(runs[0]["invoices"])["INV-2026-000001"]
    assert (inv["client_id"], inv["kind"], inv["period_start"], inv["period_end"]) == (
        "C-100", "arrears", "2026-10-05", "2026-10-11")
    assert (inv["issue_date"], inv["due_date"]) == ("2026-10-12", "2026-11-11")
    usage = {ln["category"]: ln for ln in inv["lines"] if ln["category"] != "tax"}
    assert usage["regular_hours"]["quantity"] == "48.00"
    assert usage["regular_hours"]["unit_price"] == "30.00"
    assert usage["regular_hours"]["amount"] == "1440.00"
    assert usage["overtime_hours"]["quantity"] == "4.25"
    assert usage["overtime_hours"]["unit_price"] == "45.00"
    assert usage["overtime_hours"]["amount"] == "191.25"
    assert sorted(usage["regular_hours"]["source_refs"]) == [f"timesheets:SH-{i}" for i in (1, 2, 3, 4, 6)]
    assert usage["overtime_hours"]["source_refs"] == ["timesheets:SH-4", "timesheets:SH-5"]
    taxes = sorted(ln["amount"] for ln in inv["lines"] if ln["category"] == "tax")
    assert taxes == ["65.25", "73.41"]
    assert (inv["subtotal"], inv["tax_total"], inv["total"]) == ("1631.25", "138.66", "1769.91")


def test_every_cycle_is_issued_in_order_and_nothing_after_through(runs):
    invoices = _by_number(runs[0]["invoices"])
    assert sorted(invoices) == ["INV-2026-000001", "INV-2026-000002", "INV-2026-000003"]
    second = invoices["INV-2026-000002"]
    assert (second["client_id"], second["total"], second["due_date"]) == ("C-200", "212.50", "2026-10-13")
    third = invoices["INV-2026-000003"]
    assert (third["client_id"], third["period_start"], third["subtotal"], third["total"]) == (
        "C-100", "2026-10-12", "240.00", "260.40")
    billed = {ref for inv in invoices.values() for ln in inv["lines"] for ref in ln["source_refs"]}
    assert "timesheets:SH-8" not in billed


def test_autopay_charged_once_and_invoice_paid(runs):
    summary = runs[0]["summary"]
    assert summary["payments"] == {"succeeded": 1, "failed": 0, "amount": "212.50", "mode": "local"}
    paid = _by_number(runs[0]["invoices"])["INV-2026-000002"]
    assert (paid["status"], paid["amount_paid"], paid["balance"]) == ("paid", "212.50", "0.00")
    # three invoices, the receipt of the auto-pay charge (collections.md section 1) and the
    # renewal offer of K-100-G, which ends 2026-12-31 (offered on end - 90, 2026-10-02)
    assert summary["messages"] == {"email": 5}
    assert summary["renewals"] == {"offered": 1}
    assert summary["collections"] == {"reminders": 0, "retries": 0, "receipts": 1, "delinquent": 0,
                                      "in_collections": 0}


def test_bad_row_quarantined_with_file_line_and_field(runs):
    rows = runs[0]["quarantine"]
    assert len(rows) == 1
    row = rows[0]
    assert (row["source"], row["line"], row["record_id"], row["field"]) == ("timesheets", 11, "SH-99", "check_in")
    assert row["file"].endswith("timesheets/2026-10.csv")
    assert runs[0]["summary"]["quarantined"].get("timesheets") == 1


def test_second_run_changes_nothing(runs):
    first, second = runs
    assert second["invoices"] == first["invoices"]
    assert second["quarantine"] == first["quarantine"]
    assert second["summary"] == first["summary"]


def _pdf_text(path: Path) -> str:
    """The PDF's words in reading order, whitespace collapsed (pdftotext -raw keeps a cell together)."""
    raw = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, check=True, text=True).stdout
    return " ".join(raw.split())


def test_every_issued_invoice_has_its_pdf_with_evidence_from_the_marts(runs):
    from vigil import config

    for invoice in runs[0]["invoices"]:
        text = _pdf_text(config.paths().pdfs / f"{invoice['invoice_number']}.pdf")
        assert f"Invoice {invoice['invoice_number']}" in text and "Vigil demo company" in text
        assert f"Total {float(invoice['total']):,.2f} USD" in text and f"Due date {invoice['due_date']}" in text
    first = _pdf_text(config.paths().pdfs / "INV-2026-000001.pdf")
    assert "Acme Port Services" in first and "Pay online: " in first and "/portal/s/" in first
    assert "US-NY tax 138.66" in first  # NY state 65.25 and NYC 73.41, as hand-computed above
    evidence = first.split("Evidence appendix", 1)[1]
    assert "timesheets:SH-1 Guard G-1, unarmed in 2026-10-05 07:53 EDT, out 18:07 EDT (10.23 h)" in evidence
    assert "timesheets:SH-6 Guard G-2, unarmed in 2026-10-10 22:00 EDT, out 2026-10-11 06:00 EDT (8.00 h)" in evidence
    overtime = evidence.split("E2 · ", 1)[1].split("E3 · ", 1)[0]
    assert "timesheets:SH-4" in overtime and "timesheets:SH-5" in overtime and "timesheets:SH-1" not in overtime
    second = _pdf_text(config.paths().pdfs / "INV-2026-000002.pdf")
    assert "Your payment method on file will be charged on the due date, 2026-10-13" in second


def test_accounting_export_totals_the_invoice_export_and_every_entry_balances(runs, tmp_path, monkeypatch):
    import csv
    from decimal import Decimal

    monkeypatch.setenv("VIGIL_PAYMENTS", "local")
    totals = {inv["invoice_number"]: Decimal(inv["total"]) for inv in runs[1]["invoices"]}
    vigil("export", "accounting", "--target", "journal", "--out", tmp_path / "journal.csv", "--inbox", tmp_path)
    entries: dict[str, list[dict]] = {}
    with (tmp_path / "journal.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            entries.setdefault(row["entry_id"], []).append(row)
    assert set(entries) == set(totals)
    for number, rows in entries.items():
        assert sum(Decimal(r["debit"] or 0) for r in rows) == sum(Decimal(r["credit"] or 0) for r in rows)
        assert sum(Decimal(r["debit"] or 0) for r in rows if r["account"] == "1200") == totals[number]
    assert {r["account"] for r in entries["INV-2026-000002"]} == {"1200", "4000", "2200"}  # IL tax: its own row
    vigil("export", "accounting", "--target", "xero", "--out", tmp_path / "xero.csv", "--through", "2026-10-12",
          "--inbox", tmp_path)
    with (tmp_path / "xero.csv").open(newline="") as handle:
        xero_rows = list(csv.DictReader(handle))
    xero_totals: dict[str, Decimal] = {}
    for row in xero_rows:
        amount = (Decimal(row["*Quantity"]) * Decimal(row["*UnitAmount"])).quantize(Decimal("0.01"))
        xero_totals[row["*InvoiceNumber"]] = xero_totals.get(row["*InvoiceNumber"], Decimal(0)) + amount
    assert xero_totals == {n: t for n, t in totals.items() if n != "INV-2026-000003"}  # issued 10-19, after --through
