"""Findings and their review, end to end with the real `vigil` command (billing-rules
sections 8 and 10, docs/validation.md).

The inbox (generated below, deterministic) holds five weeks of normal history
(2026-09-28 .. 2026-11-01) and, in week six (2026-11-02 .. 08), one planted problem of
every finding type:

C-A (consolidated, weekly guarding K-A-G with weekly overtime, monthly monitoring K-A-M with
a per-device fee for door readers at S-A1):
  S-A1  G-1 08-16 Mon-Fri, G-2 08-16 Sat-Sun every week (8 h a day); an incident every
        history Tuesday answered by G-1 on shift.
        Mon 11-02  A1-<mon> delivered twice (16:00, then 15:00)       duplicate_record -> billed_as_is
                   I-FIRE classification `fire`                       unpriced_incident
        Tue 11-03  G-3 12-16 extra (12 h) and incident I-BUSY          busy day with an incident: no spike
        Wed 11-04  G-5 08-16 extra (16 h), no incident                 hours_spike
        Thu 11-05  I-GAP answered by G-1 17:00-18:00, off shift         incident_response_gap
        Sat 11-07  A1-<sat> delivered twice (16:00, then 15:00)       duplicate_record -> corrected
        Sun 11-08  A1-<sun> delivered twice (16:00, then 16:30)       duplicate_record -> excluded
  S-A2  G-6 9 h Mon-Fri (Mon scheduled 7 h)                           schedule_deviation, and
        45 h in the week: 5 h overtime on Fri, no incident there     overtime_without_incident
        G-10 10-14 and 13-17 Wed                                      overlapping_shift -> billed_as_is
        SH-OPEN no check-out Thu                                      missing_checkout -> excluded
        SH-BAD check-out before check-in Thu                          bad_interval -> excluded
        SH-K9 service type k9 Fri                                     missing_rate -> excluded
        SH-PATROL patrol shift without a tour Tue                     shift_without_patrol_scans
        T-MISS 8 of 10 checkpoints                                    missed_checkpoints
  amag/ (AMAG Symmetry, S-A1): readers 501 (events every day) and 502 (never an event)
        502 billed all October with no event                          device_fee_without_events
        a transaction at 2026-11-01 01:30 (fall-back hour)            ambiguous_local_time
  devices/ D-G1 with vendor_ref amag:501: the same reader, counted once.
C-B (per_site, autopay without payment method, basis scheduled, 8 h a day at S-B1 and S-B2
until K-B-G ends on Thu 11-05):
                                                                      missing_payment_method
        SH-AMB armed at S-B1 Tue: K-B-G and K-B-X both price it       ambiguous_contract -> excluded
        SH-OUT at S-B1 Sat 11-07, after every contract                service_outside_contract -> excluded
        SH-NOSCHED at S-B2 Wed without scheduled times                schedule_missing

The first run holds exactly C-A's week-6 invoice and C-B's S-B1 week-6 invoice; resolving
every blocking finding releases them on the next run with the next numbers.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.cli import vigil

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

NY = ZoneInfo("America/New_York")
CHI = ZoneInfo("America/Chicago")
FIRST = date(2026, 9, 28)  # a Monday: five weeks of history, then week six
WEEK6 = date(2026, 11, 2)
THROUGH = "2026-11-09"

CONTRACT_A = """\
client: {id: C-A, name: Alpha Terminals, email: ap@alpha.example}
sites:
  - {id: S-A1, name: Alpha - Gate, timezone: America/New_York, tax_jurisdiction: US-NY}
  - {id: S-A2, name: Alpha - Yard, timezone: America/New_York, tax_jurisdiction: US-NY}
contracts:
  - id: K-A-G
    start_date: 2026-09-01
    end_date: 2026-12-31
    billing_cycle: weekly
    rates:
      - {service_type: unarmed, rate: "30.00"}
    overtime: {policy: weekly, weekly_hours: 40, multiplier: "1.5"}
    incidents:
      alarm_response: {flat_fee: "75.00", included_minutes: 30, hourly_rate: "45.00"}
    patrol_visit_fee: "28.00"
  - id: K-A-M
    start_date: 2026-09-01
    end_date: 2027-08-31
    billing_cycle: monthly
    per_device:
      - {device_type: door_reader, site_id: S-A1, monthly_fee: "10.00"}
"""

CONTRACT_B = """\
client: {id: C-B, name: Birch Storage, email: ap@birch.example, autopay: true, grouping: per_site}
sites:
  - {id: S-B1, name: Birch - North, timezone: America/Chicago, tax_jurisdiction: US-IL}
  - {id: S-B2, name: Birch - South, timezone: America/Chicago, tax_jurisdiction: US-IL}
contracts:
  - id: K-B-G
    start_date: 2026-09-28
    end_date: 2026-11-05
    billing_cycle: weekly
    basis: scheduled
    rates:
      - {service_type: unarmed, rate: "28.00"}
      - {service_type: armed, rate: "40.00"}
  - id: K-B-X
    start_date: 2026-11-02
    end_date: 2026-11-05
    billing_cycle: weekly
    rates:
      - {service_type: armed, rate: "42.00"}
"""

TAX = """\
code,rate,taxable_categories,name
US-NY,0.04,regular_hours;overtime_hours;device_monitoring,NY state
US-IL,0.0625,regular_hours,IL state
"""


def _local(day: date, hour: float, tz: ZoneInfo) -> str:
    """A wall-clock time (fold 0) as an ISO string with the offset in force then."""
    h, m = int(hour), round((hour % 1) * 60)
    return datetime(day.year, day.month, day.day, h, m, tzinfo=tz).isoformat()


def _csv(header: list[str], rows: list[dict]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: row.get(k, "") for k in header})
    return out.getvalue()


SHIFT_COLUMNS = ["shift_id", "guard_id", "site_id", "service_type", "check_in", "check_out",
                 "scheduled_start", "scheduled_end"]


def _shift(sid, guard, site, start_h, end_h, day, tz=NY, service="unarmed", scheduled=None, check_out=True):
    row = {"shift_id": sid, "guard_id": guard, "site_id": site, "service_type": service,
           "check_in": _local(day, start_h, tz), "check_out": _local(day, end_h, tz) if check_out else ""}
    if scheduled:
        row["scheduled_start"], row["scheduled_end"] = _local(day, scheduled[0], tz), _local(day, scheduled[1], tz)
    return row


def generate_inbox(root: Path) -> dict:
    """Writes the inbox; returns what the assertions need (refs by role)."""
    shifts, corrections, incidents, tours = [], [], [], []
    day = FIRST
    while day <= WEEK6 + timedelta(days=6):
        week6 = day >= WEEK6
        d = day.isoformat()
        # S-A1: 8 h every day
        if day.weekday() < 5:
            shifts.append(_shift(f"A1-{d}", "G-1", "S-A1", 8, 16, day))
        else:
            shifts.append(_shift(f"A1-{d}", "G-2", "S-A1", 8, 16, day))
        if day.weekday() == 1 and not week6:
            incidents.append({"incident_id": f"I-{d}", "site_id": "S-A1", "classification": "alarm_response",
                              "response_started_at": _local(day, 10, NY), "response_ended_at": _local(day, 10.25, NY),
                              "responder_guard_id": "G-1"})
        # C-B: 8 h a day at each site while K-B-G runs (basis scheduled)
        if day <= date(2026, 11, 5):
            for site, guard in (("S-B1", "G-21"), ("S-B2", "G-22")):
                sched = None if (site, day) == ("S-B2", date(2026, 11, 4)) else (9, 17)
                sid = "SH-NOSCHED" if sched is None else f"{site}-{d}"
                shifts.append(_shift(sid, guard, site, 9, 17, day, tz=CHI, scheduled=sched))
        day += timedelta(days=1)

    mon, tue, wed, thu, fri, sat, sun = (WEEK6 + timedelta(days=i) for i in range(7))
    # duplicates: the first version in the main file, the second in a later file
    for sid, second_version in ((f"A1-{mon}", 15), (f"A1-{sat}", 15), (f"A1-{sun}", 16.5)):
        original = next(s for s in shifts if s["shift_id"] == sid)
        corrections.append({**original, "check_out": _local(date.fromisoformat(sid[3:]), second_version, NY)})
    shifts += [
        _shift("SH-BUSY", "G-3", "S-A1", 12, 16, tue),
        _shift("SH-SPIKE", "G-5", "S-A1", 8, 16, wed),
        _shift("SH-G6-MON", "G-6", "S-A2", 8, 17, mon, scheduled=(8, 15)),
        *[_shift(f"SH-G6-{n}", "G-6", "S-A2", 8, 17, x) for n, x in (("TUE", tue), ("WED", wed), ("THU", thu),
                                                                      ("FRI", fri))],
        _shift("SH-OV1", "G-10", "S-A2", 10, 14, wed),
        _shift("SH-OV2", "G-10", "S-A2", 13, 17, wed),
        _shift("SH-OPEN", "G-11", "S-A2", 8, 16, thu, check_out=False),
        _shift("SH-BAD", "G-12", "S-A2", 10, 9, thu),
        _shift("SH-K9", "G-13", "S-A2", 8, 12, fri, service="k9"),
        _shift("SH-PATROL", "G-8", "S-A2", 20, 23, tue, service="patrol"),
        _shift("SH-AMB", "G-23", "S-B1", 9, 17, tue, tz=CHI, service="armed", scheduled=(9, 17)),
        _shift("SH-OUT", "G-21", "S-B1", 9, 17, sat, tz=CHI, scheduled=(9, 17)),
    ]
    incidents += [
        {"incident_id": "I-FIRE", "site_id": "S-A1", "classification": "fire",
         "response_started_at": _local(mon, 11, NY), "response_ended_at": _local(mon, 11.5, NY)},
        {"incident_id": "I-BUSY", "site_id": "S-A1", "classification": "alarm_response",
         "response_started_at": _local(tue, 12.5, NY), "response_ended_at": _local(tue, 13, NY),
         "responder_guard_id": "G-3"},
        {"incident_id": "I-GAP", "site_id": "S-A1", "classification": "alarm_response",
         "response_started_at": _local(thu, 17, NY), "response_ended_at": _local(thu, 18, NY),
         "responder_guard_id": "G-1"},
    ]
    tours.append({"tour_id": "T-MISS", "site_id": "S-A2", "guard_id": "G-9", "started_at": _local(tue, 21, NY),
                  "completed_at": _local(tue, 21.5, NY), "checkpoints_required": 10, "checkpoints_scanned": 8})

    # AMAG Symmetry: reader 501 has a badge read every morning, 502 never an event
    txns, txn = [], 88000000
    day = FIRST
    while day <= WEEK6 + timedelta(days=6):
        txn += 1
        txns.append({"TxnID": txn, "DateTimeOfTxn": f"{day} 07:55:00.000", "CompanyID": "1",
                     "CompanyName": "Alpha", "WhereName": "Front Door", "TxnConditionName": "Card Valid"})
        if day == date(2026, 11, 1):
            txn += 1
            ambiguous_txn = txn
            txns.append({"TxnID": txn, "DateTimeOfTxn": "2026-11-01 01:30:00.000", "CompanyID": "1",
                         "CompanyName": "Alpha", "WhereName": "Front Door", "TxnConditionName": "Door Forced Open"})
        day += timedelta(days=1)

    files = {
        "contracts/C-A.yaml": CONTRACT_A,
        "contracts/C-B.yaml": CONTRACT_B,
        "tax/jurisdictions.csv": TAX,
        "timesheets/a-main.csv": _csv(SHIFT_COLUMNS, shifts),
        "timesheets/b-corrections.csv": _csv(SHIFT_COLUMNS, corrections),
        "incidents/incidents.csv": _csv(["incident_id", "site_id", "classification", "response_started_at",
                                         "response_ended_at", "responder_guard_id"], incidents),
        "patrols/tours.csv": _csv(["tour_id", "site_id", "guard_id", "started_at", "completed_at",
                                   "checkpoints_required", "checkpoints_scanned"], tours),
        "devices/devices.csv": _csv(["device_id", "site_id", "device_type", "active_from", "vendor_ref"], [
            {"device_id": "D-G1", "site_id": "S-A1", "device_type": "door_reader", "active_from": "2026-01-01",
             "vendor_ref": "amag:501"}]),
        "amag/sites.csv": "CompanyID,site_id,timezone\n1,S-A1,America/New_York\n",
        "amag/devices.csv": _csv(["DeviceID", "DeviceName", "DeviceType", "CompanyID", "ControllerName",
                                  "ActiveDateTime", "InactiveDateTime"], [
            {"DeviceID": "501", "DeviceName": "Front Door", "DeviceType": "Reader", "CompanyID": "1",
             "ControllerName": "C1", "ActiveDateTime": "2026-01-01 00:00:00.000"},
            {"DeviceID": "502", "DeviceName": "Back Door", "DeviceType": "Reader", "CompanyID": "1",
             "ControllerName": "C1", "ActiveDateTime": "2026-01-01 00:00:00.000"},
        ]),
        "amag/ActivityDataView_202611.csv": _csv(
            ["TxnID", "DateTimeOfTxn", "CompanyID", "CompanyName", "WhereName", "TxnConditionName",
             "AlarmPriority", "FirstName", "LastName", "CustomerCodeNumber", "CardNumber"], txns),
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return {"ambiguous_txn": ambiguous_txn, "mon": mon, "sat": sat, "sun": sun}


# what each planted problem must raise: type -> (severity, evidence, service date)
def expected_findings(ctx: dict) -> dict[str, tuple[str, list[str], str]]:
    w = lambda i: (WEEK6 + timedelta(days=i)).isoformat()  # noqa: E731
    return {
        "duplicate_record": ("blocking", [f"timesheets:A1-{w(0)}"], w(0)),
        "overlapping_shift": ("blocking", ["timesheets:SH-OV1", "timesheets:SH-OV2"], w(2)),
        "missing_checkout": ("blocking", ["timesheets:SH-OPEN"], w(3)),
        "bad_interval": ("blocking", ["timesheets:SH-BAD"], w(3)),
        "missing_rate": ("blocking", ["timesheets:SH-K9"], w(4)),
        "ambiguous_contract": ("blocking", ["timesheets:SH-AMB"], w(1)),
        "service_outside_contract": ("blocking", ["timesheets:SH-OUT"], w(5)),
        "unpriced_incident": ("info", ["incidents:I-FIRE"], w(0)),
        "missed_checkpoints": ("warning", ["patrols:T-MISS"], w(1)),
        "shift_without_patrol_scans": ("warning", ["timesheets:SH-PATROL"], w(1)),
        "schedule_deviation": ("warning", ["timesheets:SH-G6-MON"], w(0)),
        "schedule_missing": ("warning", ["timesheets:SH-NOSCHED"], w(2)),
        "missing_payment_method": ("warning", ["contracts:C-B"], None),
        "hours_spike": ("warning", [f"timesheets:A1-{w(2)}", "timesheets:SH-SPIKE"], w(2)),
        "overtime_without_incident": ("warning", ["timesheets:SH-G6-FRI"], w(4)),
        "incident_response_gap": ("warning", ["incidents:I-GAP"], w(3)),
        "device_fee_without_events": ("warning", ["amag:502", "cycle:K-A-M/2026-10-01"], "2026-10-01"),
        "ambiguous_local_time": ("warning", [f"amag:{ctx['ambiguous_txn']}"], "2026-11-01"),
    }


# the outcome finance picks per blocking type, and for the two other duplicates
OUTCOMES = {
    "overlapping_shift": "billed_as_is",
    "missing_checkout": "excluded",
    "bad_interval": "excluded",
    "missing_rate": "excluded",
    "ambiguous_contract": "excluded",
    "service_outside_contract": "excluded",
}


def _snapshot(out: Path, tag: str) -> dict:
    vigil("export", "findings", "--out", out / f"findings-{tag}.jsonl")
    vigil("export", "invoices", "--out", out / f"invoices-{tag}.jsonl")
    read = lambda name: [json.loads(x) for x in (out / name).read_text().splitlines()]  # noqa: E731
    return {"findings": read(f"findings-{tag}.jsonl"), "invoices": read(f"invoices-{tag}.jsonl")}


@pytest.fixture(scope="module")
def runs(warehouse, tmp_path_factory):
    inbox = tmp_path_factory.mktemp("inbox")
    ctx = generate_inbox(inbox)
    out = tmp_path_factory.mktemp("out")
    run_args = ("run", "--inbox", str(inbox), "--from", "2026-08-25", "--through", THROUGH, "--json")
    first = vigil(*run_args)
    before = _snapshot(out, "before")
    resolved = {}
    for f in before["findings"]:
        if f["severity"] != "blocking":
            continue
        if f["type"] == "duplicate_record":
            ref = f["evidence"][0]
            outcome = {f"timesheets:A1-{ctx['mon']}": "billed_as_is", f"timesheets:A1-{ctx['sat']}": "corrected",
                       f"timesheets:A1-{ctx['sun']}": "excluded"}[ref]
        else:
            outcome = OUTCOMES[f["type"]]
        vigil("findings", "resolve", f["finding_id"], "--as", outcome, "--note", "reviewed in test",
              "--by", "finance")
        resolved[f["finding_id"]] = outcome
    second = vigil(*run_args)
    after = _snapshot(out, "after")
    return {
        "ctx": ctx,
        "before": before,
        "after": after,
        "resolved": resolved,
        "summary_before": json.loads(first.strip().splitlines()[-1]),
        "summary_after": json.loads(second.strip().splitlines()[-1]),
    }


def _key(inv: dict) -> tuple:
    return (inv["client_id"], inv["kind"], inv["period_start"], inv.get("site_id") or "")


def _week6(invoices: list[dict], client: str, site: str | None = None) -> dict:
    [inv] = [i for i in invoices if i["client_id"] == client and i["kind"] == "arrears"
             and i["period_start"] == WEEK6.isoformat() and (site is None or site in _sites(i))]
    return inv


def _sites(inv: dict) -> set[str]:
    return {ln["site_id"] for ln in inv["lines"] if ln.get("site_id")}


def _refs(inv: dict, category: str | None = None) -> set[str]:
    return {r for ln in inv["lines"] if category in (None, ln["category"]) for r in ln["source_refs"]}


def test_every_planted_problem_is_found_with_its_evidence(runs):
    findings = runs["before"]["findings"]
    for type_, (severity, evidence, service_date) in expected_findings(runs["ctx"]).items():
        matches = [f for f in findings if f["type"] == type_ and sorted(f["evidence"]) == sorted(evidence)]
        assert len(matches) == 1, (type_, [f for f in findings if f["type"] == type_])
        f = matches[0]
        assert f["severity"] == severity, type_
        assert f["service_date"] == service_date, type_
        assert f["message"] and f["status"] == "open", type_
        assert len(f["finding_id"]) == 32


def test_no_other_findings(runs):
    """Five weeks of normal history raise nothing: no spike on a normal day or on the busy
    day that had an incident, no overtime, gap or device finding beyond the planted ones."""
    expected = expected_findings(runs["ctx"])
    found = sorted((f["type"], tuple(sorted(f["evidence"]))) for f in runs["before"]["findings"])
    dup_refs = {f"timesheets:A1-{runs['ctx'][d]}" for d in ("mon", "sat", "sun")}
    want = sorted([(t, tuple(sorted(e))) for t, (_, e, _) in expected.items() if t != "duplicate_record"]
                  + [("duplicate_record", (r,)) for r in dup_refs])
    assert found == want
    spikes = [f for f in runs["before"]["findings"] if f["type"] == "hours_spike"]
    assert [f["service_date"] for f in spikes] == [(WEEK6 + timedelta(days=2)).isoformat()]


def test_cross_feed_device_is_counted_once(runs):
    advance = [i for i in runs["before"]["invoices"] if i["client_id"] == "C-A" and i["kind"] == "advance"]
    assert advance
    for inv in advance:
        [line] = [ln for ln in inv["lines"] if ln["category"] == "device_monitoring"]
        assert Decimal(line["quantity"]) == 2
        assert sorted(line["source_refs"]) == ["amag:501", "amag:502"]


def test_blocking_findings_hold_only_the_invoice_billing_their_records(runs):
    invoices = runs["before"]["invoices"]
    held = [i for i in invoices if i["status"] == "held"]
    assert sorted(_key(i)[:3] for i in held) == [("C-A", "arrears", "2026-11-02"), ("C-B", "arrears", "2026-11-02")]
    for inv in held:
        assert inv["invoice_number"] is None
    assert _sites(_week6(invoices, "C-B", "S-B1")) <= {"S-B1"}
    # the client's other invoices are issued: C-A's earlier weeks and advance invoices, C-B's S-B2
    others = [i for i in invoices if i["status"] != "held"]
    assert all(i["invoice_number"] for i in others)
    assert any(i["client_id"] == "C-A" and i["kind"] == "advance" for i in others)
    assert _week6(others, "C-B", "S-B2")["invoice_number"]
    assert runs["summary_before"]["invoices"]["held"] == 2
    numbers = sorted(i["invoice_number"] for i in others)
    assert numbers == [f"INV-2026-{n:06d}" for n in range(1, len(numbers) + 1)]


def test_released_with_the_next_numbers(runs):
    before = {_key(i): i for i in runs["before"]["invoices"]}
    after = {_key(i): i for i in runs["after"]["invoices"]}
    assert set(after) == set(before)
    issued_before = sorted(i["invoice_number"] for i in before.values() if i["invoice_number"])
    last = int(issued_before[-1][-6:])
    released = sorted((after[k] for k, i in before.items() if i["status"] == "held"), key=lambda i: i["client_id"])
    assert [i["invoice_number"] for i in released] == [f"INV-2026-{last + 1:06d}", f"INV-2026-{last + 2:06d}"]
    for inv in released:
        assert inv["status"] != "held" and inv["issue_date"] == THROUGH
    assert [i for i in after.values() if i["status"] == "held"] == []
    assert runs["summary_after"]["invoices"]["held"] == 0


def test_other_invoices_are_unchanged(runs):
    before = {_key(i): i for i in runs["before"]["invoices"] if i["status"] != "held"}
    after = {_key(i): i for i in runs["after"]["invoices"]}
    for key, inv in before.items():
        assert after[key] == inv, key


def test_each_outcome_bills_as_section_10_says(runs):
    ctx = runs["ctx"]
    inv = _week6(runs["after"]["invoices"], "C-A")
    refs = _refs(inv)
    hours = lambda cat: {ln["site_id"]: Decimal(ln["quantity"]) for ln in inv["lines"] if ln["category"] == cat}  # noqa: E731
    # billed_as_is on a duplicate: the first version (8 h, not 7 h)
    # corrected: the latest version (7 h, not 8 h); excluded: not billed at all
    # billed_as_is on the overlap: both shifts, the overlap once (7 h)
    # S-A1: G-1 40 + G-3 4 + G-5 8 + G-2 Sat 7 = 59; S-A2: G-6 40 regular (+5 overtime) + G-10 7 = 47
    assert hours("regular_hours") == {"S-A1": Decimal("59.00"), "S-A2": Decimal("47.00")}
    assert hours("overtime_hours") == {"S-A2": Decimal("5.00")}
    [overtime] = [ln for ln in inv["lines"] if ln["category"] == "overtime_hours"]
    assert overtime["source_refs"] == ["timesheets:SH-G6-FRI"]
    assert f"timesheets:A1-{ctx['mon']}" in refs and f"timesheets:A1-{ctx['sat']}" in refs
    assert f"timesheets:A1-{ctx['sun']}" not in refs
    assert {"timesheets:SH-OV1", "timesheets:SH-OV2"} <= refs
    assert not refs & {"timesheets:SH-OPEN", "timesheets:SH-BAD", "timesheets:SH-K9"}
    b1 = _week6(runs["after"]["invoices"], "C-B", "S-B1")
    assert not _refs(b1) & {"timesheets:SH-AMB", "timesheets:SH-OUT"}
    # reviews are recorded and shown
    statuses = {f["finding_id"]: f["status"] for f in runs["after"]["findings"]}
    for finding_id, outcome in runs["resolved"].items():
        assert statuses[finding_id] == outcome
    assert len(runs["resolved"]) == 9
