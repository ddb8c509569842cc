"""What the accounting export hands to another ledger: the issued invoices and credit notes
of a range of issue dates (void ones excluded; held ones have no number yet), each line
with the account it posts to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import psycopg2.extras

from billing.accounting.settings import AccountingSettings


@dataclass(frozen=True)
class PostedLine:
    category: str  # an adjustment's: `adjustment`
    adjusts: str | None  # the category an adjustment line adjusts
    description: str
    site_id: str | None
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal
    tax_jurisdiction: str | None
    account: str

    @property
    def is_tax(self) -> bool:
        return self.category == "tax"


@dataclass(frozen=True)
class PostedDocument:
    number: str
    credit_for: str | None
    client_id: str
    client_name: str
    client_email: str | None
    issue_date: date
    due_date: date
    period_start: date
    period_end: date
    currency: str
    total: Decimal
    lines: tuple[PostedLine, ...]

    @property
    def is_credit(self) -> bool:
        return self.credit_for is not None


def _account(settings: AccountingSettings, category: str, adjusts: str | None, jurisdiction: str | None) -> str:
    if category == "tax":
        return settings.tax_account_for(jurisdiction)
    if category == "adjustment" and adjusts and settings.adjustment_follows_category:
        return settings.revenue_account(adjusts)  # a correction posts where the corrected revenue went
    return settings.revenue_account(category)


def posted_documents(conn, settings: AccountingSettings, date_from: date | None = None,
                     through: date | None = None) -> list[PostedDocument]:
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(
            """select i.invoice_id, i.invoice_number, i.credit_for, i.client_id, i.issue_date, i.due_date,
                      i.period_start, i.period_end, i.currency, i.total,
                      coalesce(c.client_name, i.client_id) as client_name, c.email
               from billing.invoices i left join marts.dim_clients c using (client_id)
               where i.invoice_number is not null and i.status not in ('void', 'held')
                 and (%(first)s::date is null or i.issue_date >= %(first)s)
                 and (%(last)s::date is null or i.issue_date <= %(last)s)
               order by i.issue_date, i.invoice_number""",
            {"first": date_from, "last": through},
        )
        heads = [dict(row) for row in cur.fetchall()]
        ids = [head["invoice_id"] for head in heads]
        cur.execute("""select l.*, a.category as adjusts
                       from billing.invoice_lines l
                       left join billing.adjustments a
                         on a.billed_invoice_id = l.invoice_id and a.billed_line_no = l.line_no
                       where l.invoice_id = any(%s) order by l.invoice_id, l.line_no""", (ids,))
        lines: dict[int, list[PostedLine]] = {}
        for row in cur.fetchall():
            adjusts = row["adjusts"] if row["category"] == "adjustment" else None
            lines.setdefault(row["invoice_id"], []).append(PostedLine(
                category=row["category"], adjusts=adjusts, description=row["description"], site_id=row["site_id"],
                quantity=row["quantity"], unit=row["unit"], unit_price=row["unit_price"], amount=row["amount"],
                tax_jurisdiction=row["tax_jurisdiction"],
                account=_account(settings, row["category"], adjusts, row["tax_jurisdiction"])))
    return [
        PostedDocument(number=head["invoice_number"], credit_for=head["credit_for"], client_id=head["client_id"],
                       client_name=head["client_name"], client_email=head["email"], issue_date=head["issue_date"],
                       due_date=head["due_date"], period_start=head["period_start"], period_end=head["period_end"],
                       currency=head["currency"], total=head["total"],
                       lines=tuple(lines.get(head["invoice_id"], ())))
        for head in heads
    ]
