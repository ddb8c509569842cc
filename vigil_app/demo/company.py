"""The demo's billing company: `company.yaml` and its logo at the inbox root (interfaces.md
section 2a), so the demo's invoices show a seller, a remit-to and a logo."""

from __future__ import annotations

from pathlib import Path

COMPANY_YAML = """\
name: Northwind Security Services
address:
  - 100 Quay Street
  - Newark, NJ 07114
email: billing@northwind-security.example
phone: "+1 973 555 0100"
tax_id: EIN 12-3456789
remit_to:
  - Northwind Security Services, PO Box 4410, Newark, NJ 07101
  - "ACH or wire: First Coastal Bank, routing 021000021, account 4410778"
timezone: America/New_York
logo: logo.svg
sales_email: sales@northwind-security.example
"""

LOGO_SVG = """\
<svg xmlns="http://www.w3.org/2000/svg" width="160" height="40" viewBox="0 0 160 40">
<rect width="40" height="40" rx="6" fill="#12355b"/><path d="M8 30 L20 8 L32 30 Z" fill="#f2b134"/>
<rect x="48" y="12" width="104" height="6" fill="#12355b"/><rect x="48" y="24" width="72" height="4" fill="#5b6b7b"/>
</svg>
"""


def write_company(inbox: Path) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "company.yaml").write_text(COMPANY_YAML, encoding="utf-8")
    (inbox / "logo.svg").write_text(LOGO_SVG, encoding="utf-8")
