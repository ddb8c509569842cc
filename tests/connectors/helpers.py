"""Files the connector tests write: the spec's own contract example and small CSVs."""

from __future__ import annotations

from pathlib import Path

# interfaces.md section 3, verbatim: the normative example must be accepted.
SPEC_CONTRACT = """\
client:
  id: C-1001
  name: Harbor Logistics LLC
  email: ap@harborlogistics.example
  phone: "+15555550100"
  preferred_channel: email        # email | sms | portal
  autopay: true                   # charge the stored payment method on the due date
  payment_method: pm_card_visa    # payment provider reference; absent = no autopay
  grouping: consolidated          # consolidated | per_site
sites:
  - id: S-1
    name: Harbor Logistics - Terminal 4
    timezone: America/New_York
    tax_jurisdiction: US-NY
contracts:
  - id: K-1001-G
    start_date: 2026-01-01
    end_date: 2026-12-31
    auto_renew: false
    billing_cycle: weekly          # daily | weekly | biweekly | monthly
    payment_terms_days: 30
    increment_minutes: 15
    basis: actual                  # actual | scheduled
    rates:                         # hourly, by service type, optionally per site
      - {service_type: unarmed, rate: "32.00"}
      - {service_type: armed, site_id: S-1, rate: "41.50"}
    overtime: {policy: weekly, weekly_hours: 40, multiplier: "1.5"}
    holidays: {country: US, subdiv: NY, names: ["New Year's Day", "Independence Day", \
"Thanksgiving Day", "Christmas Day"], multiplier: "1.5"}
    stacking: max
    incidents:
      alarm_response: {flat_fee: "75.00", included_minutes: 30, hourly_rate: "45.00"}
      medical: {flat_fee: "50.00", included_minutes: 0, hourly_rate: "45.00"}
    patrol_visit_fee: "28.00"
  - id: K-1001-M
    start_date: 2026-03-15
    end_date: 2027-03-14
    auto_renew: true
    billing_cycle: monthly
    issue_lead_days: 5
    recurring:
      - {code: MON-GOLD, category: monitoring, site_id: S-1, amount: "89.00"}
      - {code: CAM-RENT, category: equipment_rental, site_id: S-1, amount: "35.00"}
    discounts:
      - {percent: "10", categories: [monitoring], cycles: 3}
"""

SMALL_CONTRACT = """\
client:
  id: C-2
  name: Birch Logistics
  email: billing@birch.example
sites:
  - id: S-2
    name: Birch - Warehouse
    timezone: America/Chicago
    tax_jurisdiction: US-IL
contracts:
  - id: K-2
    start_date: 2026-06-01
    end_date: 2027-05-31
    billing_cycle: weekly
    rates:
      - {service_type: unarmed, rate: "25.00"}
"""

TIMESHEET_HEADER = "shift_id,guard_id,site_id,service_type,check_in,check_out"


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
