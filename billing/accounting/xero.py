"""Xero's sales-invoice CSV import template: one row per line, grouped by invoice number;
credit notes as invoices with negative quantities (Xero turns them into credit notes).
Tax is not left for Xero to recompute: each tax line of the invoice is its own row on the
tax account, and every row carries the one TaxType of accounting.yaml (default "Tax
Exempt"), so every total equals the invoice export's to the cent."""

from __future__ import annotations

import csv
from pathlib import Path

from billing.accounting.documents import PostedDocument
from billing.accounting.pricing import number_text, priced
from billing.accounting.settings import AccountingSettings
from vigil import currency

COLUMNS = ("*ContactName", "EmailAddress", "POAddressLine1", "POAddressLine2", "POAddressLine3", "POAddressLine4",
           "POCity", "PORegion", "POPostalCode", "POCountry", "*InvoiceNumber", "Reference", "*InvoiceDate",
           "*DueDate", "Total", "InventoryItemCode", "*Description", "*Quantity", "*UnitAmount", "Discount",
           "*AccountCode", "*TaxType", "TaxAmount", "TrackingName1", "TrackingOption1", "TrackingName2",
           "TrackingOption2", "Currency", "BrandingTheme")


def _reference(doc: PostedDocument) -> str:
    if doc.is_credit:
        return f"Credit note for {doc.credit_for}"
    return f"Service {doc.period_start} to {doc.period_end}"


def write(docs: list[PostedDocument], settings: AccountingSettings, out: Path) -> int:
    rows = 0
    with Path(out).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for doc in docs:
            for line in doc.lines:
                row = priced(doc, line)
                writer.writerow({
                    "*ContactName": doc.client_name, "EmailAddress": doc.client_email or "",
                    "*InvoiceNumber": doc.number, "Reference": _reference(doc),
                    "*InvoiceDate": doc.issue_date.strftime(settings.strftime),
                    "*DueDate": doc.due_date.strftime(settings.strftime),
                    "Total": currency.display(doc.total, doc.currency), "*Description": row.description,
                    "*Quantity": number_text(row.quantity), "*UnitAmount": number_text(row.unit_amount),
                    "*AccountCode": line.account, "*TaxType": settings.xero_tax_type, "Currency": doc.currency,
                })
                rows += 1
    return rows
