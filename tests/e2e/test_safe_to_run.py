"""Issue 8 points 3, 4 and 8 through real `vigil run`s (embedded PostgreSQL, dbt, Dagster).

Client C-700, site S-7 (New York; US-NY taxes regular hours, device monitoring and service
fees at 4%), three contracts:
  K-700-G weekly guarding at 30.00/h, 30-day terms;
  K-700-D weekly per-device monitoring, 210.00 a month per camera from 2026-10-05: on a
    7-day cycle 210 x 7 / 31 = 47.419355 (stored precision) per camera, 3 cameras = 142.26;
  K-700-M monthly service fee 100.00 (4.00 tax).
Shifts: SH-D on 10-06 delivered twice with other content (duplicate_record, blocking: the
week 10-05..11 invoice is held); SH-1 on 10-13 (8 h, 240.00); SH-2 on 10-20 (8 h).

Run 1 through 10-19, run 2 the same: identical exports. The device line used to re-rate to
a zero-net adjustment whose halves collided on the adjustments index as soon as a next
invoice took it (run 3 below), rolling back every client's invoicing.
Then SH-D's finding is resolved `excluded`, and the contract file edits payment terms
(30 -> 15), lead days (5 -> 2) and grouping (consolidated -> per_site). Run 3 through 10-26:
every issued invoice is unchanged, no credit note, the held week is void (nothing left to
bill) with its reason, and only new cycles follow the new terms."""

from __future__ import annotations

import pytest

from tests.e2e.cli import export, vigil

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CONTRACT = """\
client:
  id: C-700
  name: Juniper Data Centers
  email: ap@juniper.example
  grouping: consolidated
sites:
  - id: S-7
    name: Juniper - Hall A
    timezone: America/New_York
    tax_jurisdiction: US-NY
contracts:
  - id: K-700-G
    start_date: 2026-10-01
    end_date: 2027-09-30
    billing_cycle: weekly
    payment_terms_days: 30
    rates:
      - {service_type: unarmed, rate: "30.00"}
  - id: K-700-D
    start_date: 2026-10-05
    end_date: 2027-09-30
    billing_cycle: weekly
    issue_lead_days: 5
    per_device:
      - {device_type: camera, site_id: S-7, monthly_fee: "210.00"}
  - id: K-700-M
    start_date: 2026-10-01
    end_date: 2027-09-30
    billing_cycle: monthly
    issue_lead_days: 5
    recurring:
      - {code: SVC, category: service_fee, site_id: S-7, amount: "100.00"}
"""
EDITED = (CONTRACT.replace("grouping: consolidated", "grouping: per_site")
          .replace("payment_terms_days: 30", "payment_terms_days: 15")
          .replace("issue_lead_days: 5", "issue_lead_days: 2"))
TAX = "code,rate,taxable_categories,name\nUS-NY,0.04,regular_hours;device_monitoring;service_fee,NY state\n"
TIMESHEETS = """\
shift_id,guard_id,site_id,service_type,check_in,check_out
SH-D,G-1,S-7,unarmed,2026-10-06T08:00:00-04:00,2026-10-06T16:00:00-04:00
SH-1,G-1,S-7,unarmed,2026-10-13T08:00:00-04:00,2026-10-13T16:00:00-04:00
SH-2,G-1,S-7,unarmed,2026-10-20T08:00:00-04:00,2026-10-20T16:00:00-04:00
"""
LATE = "shift_id,guard_id,site_id,service_type,check_in,check_out\n" \
       "SH-D,G-1,S-7,unarmed,2026-10-06T08:00:00-04:00,2026-10-06T17:00:00-04:00\n"
DEVICES = """\
device_id,site_id,device_type,active_from
CAM-1,S-7,camera,2026-09-01
CAM-2,S-7,camera,2026-09-01
CAM-3,S-7,camera,2026-09-01
"""


def _write(root, files):
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def story(warehouse, tmp_path_factory):
    inbox, out = tmp_path_factory.mktemp("inbox"), tmp_path_factory.mktemp("out")
    _write(inbox, {"contracts/C-700.yaml": CONTRACT, "tax/jurisdictions.csv": TAX,
                   "timesheets/2026-10.csv": TIMESHEETS, "timesheets/late.csv": LATE, "devices/cameras.csv": DEVICES})
    runs = []
    for n in (1, 2):
        vigil("run", "--inbox", inbox, "--from", "2026-10-01", "--through", "2026-10-19")
        runs.append(export("invoices", out, f"invoices-{n}"))
    findings = [f for f in export("findings", out) if f["type"] == "duplicate_record"]
    vigil("findings", "resolve", findings[0]["finding_id"], "--as", "excluded", "--note", "test shift", "--by", "qa")
    _write(inbox, {"contracts/C-700.yaml": EDITED})
    vigil("run", "--inbox", inbox, "--from", "2026-10-01", "--through", "2026-10-26")
    runs.append(export("invoices", out, "invoices-3"))
    return runs, findings


def _numbered(invoices):
    return {i["invoice_number"]: i for i in invoices if i["invoice_number"]}


def _as_issued(invoice):
    """An invoice without what collections changes after issue (status, amount paid, balance):
    by run 3 the unpaid advance invoices of October are past D+10, so delinquent."""
    return {k: v for k, v in invoice.items() if k not in ("status", "amount_paid", "balance")}


def test_device_fee_on_a_weekly_cycle_does_not_stop_invoicing(story):
    (first, second, third), _ = story
    assert first == second
    # Run 3 numbers a new device invoice: an unchanged cycle must not re-rate onto it.
    issued = [_as_issued(i) for i in first]
    new_advance = [i["period_start"] for i in third if i["kind"] == "advance" and _as_issued(i) not in issued]
    assert new_advance == ["2026-10-26"]
    assert not [ln for i in third for ln in i["lines"] if ln["category"] == "adjustment"]
    device_lines = [ln for i in first for ln in i["lines"] if ln["category"] == "device_monitoring"]
    shown = {(ln["quantity"], ln["unit_price"], ln["amount"]) for ln in device_lines}
    assert shown == {("3.00", "47.419355", "142.26")}
    assert not [i for i in first if i.get("credit_for") or any(ln["category"] == "adjustment" for ln in i["lines"])]


def test_held_week_waits_for_review(story):
    (first, _, _), findings = story
    assert findings and findings[0]["evidence"] == ["timesheets:SH-D"]
    held = [i for i in first if i["status"] == "held"]
    assert [(i["period_start"], i["invoice_number"]) for i in held] == [("2026-10-05", None)]


def test_term_edits_reissue_nothing_and_apply_to_new_cycles(story):
    (first, _, third), _ = story
    before, after = _numbered(first), _numbered(third)
    # every issued invoice unchanged (collections may have flagged it delinquent since)
    assert {n: _as_issued(after[n]) for n in before} == {n: _as_issued(i) for n, i in before.items()}
    assert {after[n]["status"] for n in before} <= {"issued", "delinquent"}
    assert not [i for i in third if i.get("credit_for")]
    new = [after[n] for n in sorted(after.keys() - before.keys())]
    guarding = [i for i in new if i["kind"] == "arrears"]
    assert [(i["period_start"], i["site_id"], i["due_date"]) for i in guarding] == [("2026-10-19", "S-7", "2026-11-10")]
    devices = [i for i in new if i["kind"] == "advance"]
    assert [(i["period_start"], i["issue_date"]) for i in devices] == [("2026-10-26", "2026-10-24")]


def test_held_invoice_whose_draft_disappeared_is_void_with_its_reason(story):
    (_, _, third), _ = story
    week = [i for i in third if i["period_start"] == "2026-10-05" and i["kind"] == "arrears"]
    assert [(i["status"], i["invoice_number"], i["total"]) for i in week] == [("void", None, "0.00")]
    assert "nothing left to bill" in week[0]["void_reason"]
