"""The small company the renewal tests run on: five clients, one contract each, dates chosen
so each timeline of test_timelines.py falls on days computed by hand there.

| client | contract | runs | prices | auto-renew | what happens |
| --- | --- | --- | --- | --- | --- |
| C-101 email | K-101-M | 2025-11-01..2026-10-31 (the 31st) | MON-STD 79.00 | no | silent: expires |
| C-102 sms | K-102-M | 2025-10-16..2026-10-15 | MON-GOLD 89.90 | no | accepted 2026-10-14 |
| C-103 portal | K-103-G | 2027-03-01..2028-02-29 (leap day) | unarmed 30.00/h, weekly | yes | auto-renewed |
| C-104 email | K-104-M | 2026-01-01..2026-12-31 | MON-STD 79.00, CAM-RENT 25.00 | yes | declined after the notice |
| C-105 email | K-105-M | 2026-06-01..2026-08-31 | MON-GOLD 89.00, documented upgrade | no | upgraded, R1 renewed |

Monitoring contracts are billed monthly in advance (5 days' lead).
"""

from __future__ import annotations

from pathlib import Path

COMPANY = """\
name: Sentinel Guard Services LLC
address: [200 Harbor Way, "Newark, NJ 07102"]
email: billing@sentinel.example
phone: "+1 973 555 0100"
tax_id: 12-3456789
remit_to: ["Sentinel Guard Services LLC, PO Box 1200, Newark, NJ 07101"]
timezone: America/New_York
sales_email: sales@sentinel.example
"""

HEAD = """\
client:
  id: {client}
  name: {name}
  email: ap@{slug}.example
  phone: "+1 555 010 {number}"
  preferred_channel: {channel}
sites:
  - {{id: S-{number}, name: {name} - Main, timezone: America/New_York, tax_jurisdiction: US-NY}}
contracts:
"""

CONTRACTS = {
    "C-101": ("Alder Storage", "email", """\
  - id: K-101-M
    start_date: 2025-11-01
    end_date: 2026-10-31
    billing_cycle: monthly
    recurring:
      - {code: MON-STD, category: monitoring, site_id: S-101, amount: "79.00"}
"""),
    "C-102": ("Birch Logistics", "sms", """\
  - id: K-102-M
    start_date: 2025-10-16
    end_date: 2026-10-15
    billing_cycle: monthly
    recurring:
      - {code: MON-GOLD, category: monitoring, site_id: S-102, amount: "89.90"}
"""),
    "C-103": ("Cedar Hospital", "portal", """\
  - id: K-103-G
    start_date: 2027-03-01
    end_date: 2028-02-29
    auto_renew: true
    billing_cycle: weekly
    payment_terms_days: 15
    rates:
      - {service_type: unarmed, rate: "30.00"}
"""),
    "C-104": ("Dogwood Offices", "email", """\
  - id: K-104-M
    start_date: 2026-01-01
    end_date: 2026-12-31
    auto_renew: true
    billing_cycle: monthly
    recurring:
      - {code: MON-STD, category: monitoring, site_id: S-104, amount: "79.00"}
      - {code: CAM-RENT, category: equipment_rental, site_id: S-104, amount: "25.00"}
"""),
    "C-105": ("Elm Retail", "email", """\
  - id: K-105-M
    start_date: 2026-06-01
    end_date: 2026-08-31
    billing_cycle: monthly
    recurring:
      - {code: MON-GOLD, category: monitoring, site_id: S-105, amount: "89.00"}
    renewal:
      upgrade:
        description: Platinum monitoring with video verification
        recurring:
          - {code: MON-PLAT, category: monitoring, site_id: S-105, amount: "119.00"}
"""),
}

# Two shifts of K-103-G in the week of 2027-06-07: 16.00 h x 30.00 = 480.00, invoiced 2027-06-14.
TIMESHEETS = """\
shift_id,guard_id,site_id,service_type,check_in,check_out
SH-1,G-1,S-103,unarmed,2027-06-07T08:00:00-04:00,2027-06-07T16:00:00-04:00
SH-2,G-1,S-103,unarmed,2027-06-08T08:00:00-04:00,2027-06-08T16:00:00-04:00
"""


def contract_file(client: str) -> str:
    name, channel, contracts = CONTRACTS[client]
    number = client[2:]
    return HEAD.format(client=client, name=name, slug=name.split()[0].lower(), number=number,
                       channel=channel) + contracts


def write_inbox(root: Path) -> Path:
    files = {"company.yaml": COMPANY, "timesheets/2027-06.csv": TIMESHEETS}
    files.update({f"contracts/{client}.yaml": contract_file(client) for client in CONTRACTS})
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
