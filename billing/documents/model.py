"""What an invoice or credit note document shows, as plain values: the template
(billing/templates/invoice_document.html.j2) only lays them out, so the HTML email, the
portal page and the PDF cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from vigil import currency

DEFAULT_COMPANY_NAME = "Vigil demo company"


@dataclass(frozen=True)
class Company:
    name: str
    address_lines: tuple[str, ...]
    email: str | None
    phone: str | None
    tax_id: str | None
    remit_to_lines: tuple[str, ...]
    logo_data_uri: str | None
    is_default: bool


@dataclass(frozen=True)
class BillTo:
    client_id: str
    name: str
    email: str | None
    phone: str | None
    grouping: str  # consolidated | per_site


@dataclass(frozen=True)
class DocumentLine:
    line_no: int
    site_id: str | None
    site_name: str | None
    category: str
    description: str
    explanation: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    tax_jurisdiction: str | None
    source_refs: tuple[str, ...]
    evidence_id: str | None = None  # "E3": the appendix entry that proves this line

    @property
    def quantity_text(self) -> str:
        return f"{self.quantity:.2f}"

    @property
    def unit_price_text(self) -> str:
        """Exact, never fewer than two decimals: "32.00", "48.125"."""
        whole, _, fraction = format(self.unit_price.normalize(), "f").partition(".")
        return f"{whole}.{fraction.ljust(2, '0')}"

    @property
    def site_label(self) -> str:
        if self.site_id is None:
            return "All sites"
        return f"{self.site_name} ({self.site_id})" if self.site_name else self.site_id


@dataclass(frozen=True)
class LineSection:
    """Lines under one heading: a site (grouping per_site) or a service (consolidated)."""

    title: str
    lines: tuple[DocumentLine, ...]
    subtotal: Decimal


@dataclass(frozen=True)
class TaxRow:
    name: str
    rate: Decimal  # a fraction: 0.04
    base: Decimal
    amount: Decimal

    @property
    def rate_percent(self) -> str:
        text = format((self.rate * 100).normalize(), "f")
        return f"{text}%"


@dataclass(frozen=True)
class TaxJurisdiction:
    code: str
    rows: tuple[TaxRow, ...]
    total: Decimal


@dataclass(frozen=True)
class EvidenceRecord:
    """One source record a line bills, as the marts hold it."""

    ref: str  # `<source>:<record id>`, exactly as the line cites it
    kind: str  # shift | incident | tour | device | contract | invoice | unknown
    vendor_ref: str | None  # the vendor's own id, where it differs from the record id
    what: str
    when: str


@dataclass(frozen=True)
class Evidence:
    evidence_id: str
    line: DocumentLine
    summary: str
    records: tuple[EvidenceRecord, ...]
    same_as: str | None = None  # a discount cites the records of the line it discounts: shown once


@dataclass(frozen=True)
class CreditApplication:
    """Where a credit note's credit went: an invoice, or the client's account."""

    invoice_number: str | None
    amount: Decimal
    applied_on: date


@dataclass(frozen=True)
class Links:
    """The signed links a rendering carries (billing/links.py): `view` opens the document in
    the portal, `pay` its payment page (None when nothing is to pay)."""

    view: str | None = None
    pay: str | None = None
    expires: date | None = None


@dataclass(frozen=True)
class InvoiceDocument:
    invoice_id: int
    number: str
    credit_for: str | None
    credited_issue_date: date | None
    status: str
    kind: str
    issue_date: date
    due_date: date
    period_start: date
    period_end: date
    currency: str
    contract_ids: tuple[str, ...]
    site_label: str | None  # per-site invoices: the site they bill
    company: Company
    bill_to: BillTo
    sections: tuple[LineSection, ...]
    taxes: tuple[TaxJurisdiction, ...]
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    amount_paid: Decimal
    autopay: bool
    evidence: tuple[Evidence, ...]
    applications: tuple[CreditApplication, ...] = ()
    links: Links = field(default_factory=Links)

    @property
    def is_credit(self) -> bool:
        return self.credit_for is not None

    @property
    def title(self) -> str:
        return "Credit note" if self.is_credit else "Invoice"

    @property
    def balance(self) -> Decimal:
        return Decimal(0) if self.is_credit else self.total - self.amount_paid

    @property
    def terms(self) -> str:
        days = (self.due_date - self.issue_date).days
        if days <= 0:
            return "Due on receipt"
        return f"Net {days} day{'s' if days > 1 else ''}"

    @property
    def lines(self) -> tuple[DocumentLine, ...]:
        return tuple(line for section in self.sections for line in section.lines)

    @property
    def payable(self) -> bool:
        return not self.is_credit and self.balance > 0 and self.status != "void"

    def money(self, amount: Decimal) -> str:
        """The amount with the currency's digits and thousands separators: "1,393.60"."""
        return format(amount.quantize(currency.minor_unit(self.currency)), ",f")

    def with_links(self, links: Links) -> InvoiceDocument:
        return replace(self, links=links)
