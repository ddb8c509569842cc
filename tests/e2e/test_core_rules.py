"""Every [core] rule of billing-rules.md through `vigil run` + `vigil export invoices`, against
numbers computed by hand. Run through 2026-09-30, twice: the second run changes nothing.

C-1 (consolidated; S-1 America/New_York, US-NY taxed by two rows: NY state 4% and NYC 4.5%
on regular, overtime and holiday hours). Two weekly contracts, terms 30 days:
  K-1: unarmed 30.00 and armed 40.00 at any site; weekly overtime after 40 h x1.5; holidays
       US/NY narrowed to names [Labor Day] plus the extra date 2026-09-11, x2.0; stacking max;
       alarm_response 75.00 + 45.00/h after 30 included minutes; patrol visit 20.00.
  K-2: armed 50.00 at S-1 (a rate for the shift's site beats K-1's any-site rate: contract selection).
  Week 2026-09-07..13 (Labor Day = Mon 09-07), guard G-1, unarmed, actual basis, 15-min increments:
    Mon 08:00-16:00 8 h (Labor Day)     Tue 07:07-19:08 -> 07:00-19:15 12.25 h
    Wed 08:00-20:00 12 h                Thu 08:00-20:00 12 h          Fri 08:00-12:00 4 h (extra date)
    running total: Mon 8, Tue 20.25, Wed 32.25, 40 h reached 7.75 h into Thursday:
    Thu 4.25 h overtime; Fri's 4 h are overtime (1.5) and holiday (2.0): max -> holiday x2.0.
    regular 12.25 + 12 + 7.75 = 32 h x 30.00 = 960.00; overtime 4.25 h x 45.00 = 191.25;
    holiday (Mon 8 + Fri 4) 12 h x 60.00 = 720.00.
  Incident I-1 (alarm, responder G-1) Thu 19:00-20:40 -> 19:00-20:45 (105 min): first 30 min
    included (to 19:30); 19:30-20:00 lies in G-1's shift (already billed as guard hours);
    extended 20:00-20:45 = 0.75 h x 45.00 = 33.75; fee 75.00. I-2 Fri 10:00-10:20: within grace.
  Patrol tours: P-1 4/4 checkpoints -> 20.00; P-2 3/4 -> not billed (missed_checkpoints).
  G-2 armed at S-1 Sun 09-13 22:00 - Mon 09-14 06:00 -> K-2: split at the cycle's last midnight:
    2 h x 50.00 = 100.00 in week 09-07..13, 6 h x 50.00 = 300.00 in week 09-14..20.
  INV week 09-07..13: subtotal 960 + 191.25 + 720 + 75 + 33.75 + 20 + 100 = 2100.00;
    taxable 960 + 191.25 + 720 + 100 = 1971.25: 4% = 78.85, 4.5% = 88.70625 -> 88.71;
    total 2267.56. Issued 09-14, due 10-14.
  INV week 09-14..20: 300.00, tax 12.00 + 13.50, total 325.50. Issued 09-21, due 10-21.
C-2 (S-3 America/Chicago, US-IL 6.25% on hour categories). K-3 daily cycle, basis scheduled,
  increment 30, unarmed 20.00, daily overtime after 8 h x1.5, holidays US [Labor Day] x2.0,
  stacking multiply, terms 15 days.
  D-1 Mon 09-07 scheduled 06:00-16:10 -> 06:00-16:00 (actual 05:50-16:20 only validates): 10 h,
    all Labor Day: 8 h holiday x40.00 = 320.00, 2 h holiday+overtime 2.0 x 1.5 = 3.0 -> 60.00 =
    120.00; tax 440 x 6.25% = 27.50; total 467.50, issued 09-08, due 09-23.
  D-2 Tue 09-08 scheduled 12:00-22:00: 8 h x 20.00 = 160.00, 2 h x 30.00 = 60.00; tax 13.75;
    total 233.75, issued 09-09, due 09-24.
C-3 (grouping per_site; S-4 and S-5 America/Los_Angeles, US-CA 7.25% on monitoring and regular
  hours). K-4 monthly from 2026-09-19, issue_lead_days 5: MON-A monitoring 89.99 at S-4, RENT-B
  equipment rental 30.00 at S-5, 10% off monitoring for 2 cycles. K-5 weekly, unarmed 25.00.
  September (A = 09-19, issued 09-14, due 09-19, 12 of 30 days active):
    S-4: 89.99 x 12/30 = 35.996 -> 36.00; discount -3.60; tax 32.40 x 7.25% = 2.349 -> 2.35; total 34.75
    S-5: 30.00 x 12/30 = 12.00; untaxed; total 12.00
  October (issued 09-26, due 10-01): S-4 89.99, discount -8.999 -> -9.00, tax 80.99 x 7.25% =
    5.871775 -> 5.87, total 86.86; S-5 30.00.
  E-1 at S-5 Wed 09-09 09:00-17:00 -> K-5: 8 h x 25.00 = 200.00, tax 14.50, total 214.50, issued 09-14.
Numbers (issue date, then client id, kind, site id): 09-08 C-2 -> 1; 09-09 C-2 -> 2;
  09-14 C-1 arrears -> 3, C-3 advance S-4 -> 4, C-3 advance S-5 -> 5, C-3 arrears S-5 -> 6;
  09-21 C-1 -> 7; 09-26 C-3 advance S-4 -> 8, S-5 -> 9. LATE-1 (2026-10-05) is after --through."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from tests.e2e.cli import vigil

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


FILES = {
    "contracts/C-1.yaml": """\
client:
  id: C-1
  name: Alpha Terminals
  email: ap@alpha.example
sites:
  - id: S-1
    name: Alpha - Pier 1
    timezone: America/New_York
    tax_jurisdiction: US-NY
contracts:
  - id: K-1
    start_date: 2026-01-01
    end_date: 2026-12-31
    billing_cycle: weekly
    payment_terms_days: 30
    increment_minutes: 15
    basis: actual
    rates:
      - {service_type: unarmed, rate: "30.00"}
      - {service_type: armed, rate: "40.00"}
    overtime: {policy: weekly, weekly_hours: 40, multiplier: "1.5"}
    holidays: {country: US, subdiv: NY, names: ["Labor Day"], dates: ["2026-09-11"], multiplier: "2.0"}
    stacking: max
    incidents:
      alarm_response: {flat_fee: "75.00", included_minutes: 30, hourly_rate: "45.00"}
    patrol_visit_fee: "20.00"
  - id: K-2
    start_date: 2026-01-01
    end_date: 2026-12-31
    billing_cycle: weekly
    payment_terms_days: 30
    rates:
      - {service_type: armed, site_id: S-1, rate: "50.00"}
""",
    "contracts/C-2.yaml": """\
client:
  id: C-2
  name: Beta Foods
  email: ap@beta.example
sites:
  - id: S-3
    name: Beta - Plant
    timezone: America/Chicago
    tax_jurisdiction: US-IL
contracts:
  - id: K-3
    start_date: 2026-09-01
    end_date: 2026-12-31
    billing_cycle: daily
    payment_terms_days: 15
    increment_minutes: 30
    basis: scheduled
    rates:
      - {service_type: unarmed, rate: "20.00"}
    overtime: {policy: daily, daily_hours: 8, multiplier: "1.5"}
    holidays: {country: US, names: ["Labor Day"], multiplier: "2.0"}
    stacking: multiply
""",
    "contracts/C-3.yaml": """\
client:
  id: C-3
  name: Gamma Retail
  email: ap@gamma.example
  grouping: per_site
sites:
  - id: S-4
    name: Gamma - North
    timezone: America/Los_Angeles
    tax_jurisdiction: US-CA
  - id: S-5
    name: Gamma - South
    timezone: America/Los_Angeles
    tax_jurisdiction: US-CA
contracts:
  - id: K-4
    start_date: 2026-09-19
    end_date: 2027-09-18
    billing_cycle: monthly
    issue_lead_days: 5
    recurring:
      - {code: MON-A, category: monitoring, site_id: S-4, amount: "89.99"}
      - {code: RENT-B, category: equipment_rental, site_id: S-5, amount: "30.00"}
    discounts:
      - {percent: "10", categories: [monitoring], cycles: 2}
  - id: K-5
    start_date: 2026-09-01
    end_date: 2026-12-31
    billing_cycle: weekly
    rates:
      - {service_type: unarmed, rate: "25.00"}
""",
    "tax/jurisdictions.csv": """\
code,rate,taxable_categories,name
US-NY,0.04,regular_hours;overtime_hours;holiday_hours,NY state
US-NY,0.045,regular_hours;overtime_hours;holiday_hours,NYC
US-IL,0.0625,regular_hours;overtime_hours;holiday_hours;holiday_overtime_hours,IL state
US-CA,0.0725,monitoring;regular_hours,CA state
""",
    "timesheets/2026-09.csv": """\
shift_id,guard_id,site_id,service_type,check_in,check_out,scheduled_start,scheduled_end
C1-MON,G-1,S-1,unarmed,2026-09-07T08:00:00-04:00,2026-09-07T16:00:00-04:00,,
C1-TUE,G-1,S-1,unarmed,2026-09-08T07:07:00-04:00,2026-09-08T19:08:00-04:00,,
C1-WED,G-1,S-1,unarmed,2026-09-09T08:00:00-04:00,2026-09-09T20:00:00-04:00,,
C1-THU,G-1,S-1,unarmed,2026-09-10T08:00:00-04:00,2026-09-10T20:00:00-04:00,,
C1-FRI,G-1,S-1,unarmed,2026-09-11T08:00:00-04:00,2026-09-11T12:00:00-04:00,,
C1-ARM,G-2,S-1,armed,2026-09-13T22:00:00-04:00,2026-09-14T06:00:00-04:00,,
D-1,G-5,S-3,unarmed,2026-09-07T05:50:00-05:00,2026-09-07T16:20:00-05:00,2026-09-07T06:00:00-05:00,2026-09-07T16:10:00-05:00
D-2,G-5,S-3,unarmed,2026-09-08T11:55:00-05:00,2026-09-08T22:05:00-05:00,2026-09-08T12:00:00-05:00,2026-09-08T22:00:00-05:00
E-1,G-9,S-5,unarmed,2026-09-09T09:00:00-07:00,2026-09-09T17:00:00-07:00,,
LATE-1,G-1,S-1,unarmed,2026-10-05T08:00:00-04:00,2026-10-05T16:00:00-04:00,,
""",
    "incidents/2026-09.csv": """\
incident_id,site_id,classification,response_started_at,response_ended_at,responder_guard_id
I-1,S-1,alarm_response,2026-09-10T19:00:00-04:00,2026-09-10T20:40:00-04:00,G-1
I-2,S-1,alarm_response,2026-09-11T10:00:00-04:00,2026-09-11T10:20:00-04:00,G-1
""",
    "patrols/2026-09.csv": """\
tour_id,site_id,guard_id,started_at,checkpoints_required,checkpoints_scanned,completed_at
P-1,S-1,G-3,2026-09-08T23:00:00-04:00,4,4,2026-09-08T23:40:00-04:00
P-2,S-1,G-3,2026-09-09T23:00:00-04:00,4,3,2026-09-09T23:40:00-04:00
""",
}


@pytest.fixture(scope="module")
def runs(warehouse, tmp_path_factory):
    inbox = tmp_path_factory.mktemp("inbox")
    for rel, text in FILES.items():
        (inbox / rel).parent.mkdir(parents=True, exist_ok=True)
        (inbox / rel).write_text(text, encoding="utf-8")
    out = tmp_path_factory.mktemp("out")
    results = []
    for attempt in (1, 2):
        run = vigil("run", "--inbox", inbox, "--from", "2026-09-01", "--through", "2026-09-30", "--json")
        vigil("export", "invoices", "--out", out / f"invoices-{attempt}.jsonl")
        vigil("export", "findings", "--out", out / f"findings-{attempt}.jsonl")
        results.append({
            "summary": json.loads(run.strip().splitlines()[-1]),
            "invoices": [json.loads(x) for x in (out / f"invoices-{attempt}.jsonl").read_text().splitlines()],
            "findings": [json.loads(x) for x in (out / f"findings-{attempt}.jsonl").read_text().splitlines()],
        })
    return results


@pytest.fixture(scope="module")
def invoices(runs):
    return {inv["invoice_number"]: inv for inv in runs[0]["invoices"]}


def _n(i: int) -> str:
    return f"INV-2026-{i:06d}"


def _usage(inv) -> list[tuple]:
    return [(ln["site_id"], ln["category"], ln["description"], ln["quantity"], ln["unit_price"], ln["amount"],
             sorted(ln["source_refs"])) for ln in inv["lines"] if ln["category"] != "tax"]


def _taxes(inv) -> list[tuple]:
    return [(ln["tax_jurisdiction"], ln["description"], ln["quantity"], ln["unit_price"], ln["amount"])
            for ln in inv["lines"] if ln["category"] == "tax"]


def _head(inv) -> tuple:
    return (inv["client_id"], inv["kind"], inv["site_id"], inv["contract_ids"], inv["period_start"],
            inv["period_end"], inv["issue_date"], inv["due_date"], inv["subtotal"], inv["tax_total"], inv["total"])


def test_numbers_are_gap_free_in_issue_date_client_kind_site_order(invoices, runs):
    assert sorted(invoices) == [_n(i) for i in range(1, 10)]
    # nothing is paid here (auto-pay off): unpaid by D+10 is delinquent on the last day run
    assert {number: inv["status"] for number, inv in invoices.items()} == {
        number: "delinquent" if date.fromisoformat(inv["due_date"]) + timedelta(days=10) <= date(2026, 9, 30)
        else "issued" for number, inv in invoices.items()}
    order = [(invoices[_n(i)]["issue_date"], invoices[_n(i)]["client_id"], invoices[_n(i)]["kind"],
              invoices[_n(i)]["site_id"]) for i in range(1, 10)]
    assert order == [
        ("2026-09-08", "C-2", "arrears", None),
        ("2026-09-09", "C-2", "arrears", None),
        ("2026-09-14", "C-1", "arrears", None),
        ("2026-09-14", "C-3", "advance", "S-4"),
        ("2026-09-14", "C-3", "advance", "S-5"),
        ("2026-09-14", "C-3", "arrears", "S-5"),
        ("2026-09-21", "C-1", "arrears", None),
        ("2026-09-26", "C-3", "advance", "S-4"),
        ("2026-09-26", "C-3", "advance", "S-5"),
    ]
    assert runs[0]["summary"]["invoices"] == {"issued": 9, "held": 0, "total": "3672.42"}


def test_weekly_overtime_holidays_max_incidents_patrols_and_contract_selection(invoices):
    inv = invoices[_n(3)]
    assert _head(inv) == ("C-1", "arrears", None, ["K-1", "K-2"], "2026-09-07", "2026-09-13", "2026-09-14",
                          "2026-10-14", "2100.00", "167.56", "2267.56")
    assert _usage(inv) == [
        ("S-1", "regular_hours", "Unarmed officer - regular", "32.00", "30.00", "960.00",
         ["timesheets:C1-THU", "timesheets:C1-TUE", "timesheets:C1-WED"]),
        ("S-1", "overtime_hours", "Unarmed officer - overtime", "4.25", "45.00", "191.25", ["timesheets:C1-THU"]),
        ("S-1", "holiday_hours", "Unarmed officer - holiday", "12.00", "60.00", "720.00",
         ["timesheets:C1-FRI", "timesheets:C1-MON"]),
        ("S-1", "incident_fee", "Incident response - alarm response", "1.00", "75.00", "75.00", ["incidents:I-1"]),
        ("S-1", "incident_extended_time", "Incident response extended time - alarm response", "0.75", "45.00",
         "33.75", ["incidents:I-1"]),
        ("S-1", "patrol_visit", "Mobile patrol visit", "1.00", "20.00", "20.00", ["patrols:P-1"]),
        ("S-1", "regular_hours", "Armed officer - regular", "2.00", "50.00", "100.00", ["timesheets:C1-ARM"]),
    ]
    assert _taxes(inv) == [("US-NY", "NY state", "1971.25", "0.04", "78.85"),
                           ("US-NY", "NYC", "1971.25", "0.045", "88.71")]


def test_shift_across_the_cycle_end_is_split(invoices):
    inv = invoices[_n(7)]
    assert _head(inv) == ("C-1", "arrears", None, ["K-2"], "2026-09-14", "2026-09-20", "2026-09-21",
                          "2026-10-21", "300.00", "25.50", "325.50")
    assert _usage(inv) == [
        ("S-1", "regular_hours", "Armed officer - regular", "6.00", "50.00", "300.00", ["timesheets:C1-ARM"])]
    assert [t[-1] for t in _taxes(inv)] == ["12.00", "13.50"]


def test_daily_cycle_scheduled_basis_daily_overtime_multiply(invoices):
    labor_day, tuesday = invoices[_n(1)], invoices[_n(2)]
    assert _head(labor_day) == ("C-2", "arrears", None, ["K-3"], "2026-09-07", "2026-09-07", "2026-09-08",
                                "2026-09-23", "440.00", "27.50", "467.50")
    assert _usage(labor_day) == [
        ("S-3", "holiday_hours", "Unarmed officer - holiday", "8.00", "40.00", "320.00", ["timesheets:D-1"]),
        ("S-3", "holiday_overtime_hours", "Unarmed officer - holiday overtime", "2.00", "60.00", "120.00",
         ["timesheets:D-1"]),
    ]
    assert _taxes(labor_day) == [("US-IL", "IL state", "440.00", "0.0625", "27.50")]
    assert _head(tuesday) == ("C-2", "arrears", None, ["K-3"], "2026-09-08", "2026-09-08", "2026-09-09",
                              "2026-09-24", "220.00", "13.75", "233.75")
    assert _usage(tuesday) == [
        ("S-3", "regular_hours", "Unarmed officer - regular", "8.00", "20.00", "160.00", ["timesheets:D-2"]),
        ("S-3", "overtime_hours", "Unarmed officer - overtime", "2.00", "30.00", "60.00", ["timesheets:D-2"]),
    ]


def test_recurring_in_advance_prorated_discounted_per_site(invoices):
    sep_s4, sep_s5, oct_s4, oct_s5 = (invoices[_n(i)] for i in (4, 5, 8, 9))
    assert _head(sep_s4) == ("C-3", "advance", "S-4", ["K-4"], "2026-09-19", "2026-09-30", "2026-09-14",
                             "2026-09-19", "32.40", "2.35", "34.75")
    assert _usage(sep_s4) == [
        ("S-4", "monitoring", "Monitoring - MON-A", "1.00", "36.00", "36.00", ["contracts:K-4"]),
        ("S-4", "discount", "Discount 10% - Monitoring - MON-A", "1.00", "-3.60", "-3.60", ["contracts:K-4"]),
    ]
    assert _taxes(sep_s4) == [("US-CA", "CA state", "32.40", "0.0725", "2.35")]
    assert _head(sep_s5) == ("C-3", "advance", "S-5", ["K-4"], "2026-09-19", "2026-09-30", "2026-09-14",
                             "2026-09-19", "12.00", "0.00", "12.00")
    assert _usage(sep_s5) == [
        ("S-5", "equipment_rental", "Equipment rental - RENT-B", "1.00", "12.00", "12.00", ["contracts:K-4"])]
    assert _head(oct_s4) == ("C-3", "advance", "S-4", ["K-4"], "2026-10-01", "2026-10-31", "2026-09-26",
                             "2026-10-01", "80.99", "5.87", "86.86")
    assert [ln[5] for ln in _usage(oct_s4)] == ["89.99", "-9.00"]
    assert _head(oct_s5)[-3:] == ("30.00", "0.00", "30.00")


def test_per_site_arrears_invoice(invoices):
    inv = invoices[_n(6)]
    assert _head(inv) == ("C-3", "arrears", "S-5", ["K-5"], "2026-09-07", "2026-09-13", "2026-09-14",
                          "2026-10-14", "200.00", "14.50", "214.50")
    assert _usage(inv) == [
        ("S-5", "regular_hours", "Unarmed officer - regular", "8.00", "25.00", "200.00", ["timesheets:E-1"])]


def test_unbilled_records_and_findings(invoices, runs):
    billed = {ref for inv in invoices.values() for ln in inv["lines"] for ref in ln["source_refs"]}
    assert {"patrols:P-2", "incidents:I-2", "timesheets:LATE-1"}.isdisjoint(billed)
    types = {(f["type"], tuple(f["evidence"])) for f in runs[0]["findings"]}
    assert ("missed_checkpoints", ("patrols:P-2",)) in types
    assert not [f for f in runs[0]["findings"] if f["severity"] == "blocking"]


def test_second_run_changes_nothing(runs):
    first, second = runs
    assert second["invoices"] == first["invoices"]
    assert second["summary"] == first["summary"]
