"""A small inbox whose invoices were computed by hand (see test_run_export.py)."""

from __future__ import annotations

from pathlib import Path

CONTRACT_C100 = """\
client:
  id: C-100
  name: Acme Port Services
  email: ap@acmeport.example
  preferred_channel: email
  grouping: consolidated
sites:
  - id: S-1
    name: Acme Port - Gate 2
    timezone: America/New_York
    tax_jurisdiction: US-NY
contracts:
  - id: K-100-G
    start_date: 2026-01-01
    end_date: 2026-12-31
    billing_cycle: weekly
    payment_terms_days: 30
    increment_minutes: 15
    rates:
      - {service_type: unarmed, rate: "30.00"}
    overtime: {policy: weekly, weekly_hours: 40, multiplier: "1.5"}
"""

CONTRACT_C200 = """\
client:
  id: C-200
  name: Birch Logistics
  email: billing@birch.example
  autopay: true
  payment_method: pm_card_visa
sites:
  - id: S-2
    name: Birch - Warehouse
    timezone: America/Chicago
    tax_jurisdiction: US-IL
contracts:
  - id: K-200-G
    start_date: 2026-06-01
    end_date: 2027-05-31
    billing_cycle: weekly
    payment_terms_days: 1
    rates:
      - {service_type: unarmed, rate: "25.00"}
"""

TAX = """\
code,rate,taxable_categories,name
US-NY,0.04,regular_hours;overtime_hours;holiday_hours,NY state
US-NY,0.045,regular_hours;overtime_hours;holiday_hours,NYC
US-IL,0.0625,regular_hours,IL state
"""

TIMESHEETS = """\
shift_id,guard_id,site_id,service_type,check_in,check_out
SH-1,G-1,S-1,unarmed,2026-10-05T07:53:00-04:00,2026-10-05T18:07:00-04:00
SH-2,G-1,S-1,unarmed,2026-10-06T08:00:00-04:00,2026-10-06T18:00:00-04:00
SH-3,G-1,S-1,unarmed,2026-10-07T08:00:00-04:00,2026-10-07T18:08:00-04:00
SH-4,G-1,S-1,unarmed,2026-10-08T08:00:00-04:00,2026-10-08T18:00:00-04:00
SH-5,G-1,S-1,unarmed,2026-10-09T08:00:00-04:00,2026-10-09T12:00:00-04:00
SH-6,G-2,S-1,unarmed,2026-10-10T22:00:00-04:00,2026-10-11T06:00:00-04:00
SH-7,G-1,S-1,unarmed,2026-10-12T08:00:00-04:00,2026-10-12T16:00:00-04:00
SH-8,G-1,S-1,unarmed,2026-10-20T08:00:00-04:00,2026-10-20T16:00:00-04:00
SH-20,G-3,S-2,unarmed,2026-10-06T09:00:00-05:00,2026-10-06T17:00:00-05:00
SH-99,G-2,S-1,unarmed,2026-10-07T08:00:00,2026-10-07T16:00:00-04:00
"""


def write_inbox(root: Path) -> Path:
    files = {
        "contracts/C-100.yaml": CONTRACT_C100,
        "contracts/C-200.yaml": CONTRACT_C200,
        "tax/jurisdictions.csv": TAX,
        "timesheets/2026-10.csv": TIMESHEETS,
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
