"""QuickBooks Online's invoice import CSV: one row per line. QuickBooks has no credit-memo
import, so a credit note's rows carry negative quantities and amounts with its number
(CN-...) and a memo naming the invoice it credits: import them as credit memos (docs/
invoices.md). Tax is its own rows (item "Sales tax <jurisdiction>", Taxable N), never
recomputed, so every total equals the invoice export's to the cent."""

from __future__ import annotations

import csv
from pathlib import Path

from billing.accounting.documents import PostedDocument
from billing.accounting.pricing import number_text, priced, row_amount
from billing.accounting.settings import ACCOUNT_NAMES, AccountingSettings
from vigil import currency

COLUMNS = ("InvoiceNo", "Customer", "InvoiceDate", "DueDate", "Terms", "Location", "Memo", "Item(Product/Service)",
           "ItemDescription", "ItemQuantity", "ItemRate", "ItemAmount", "Taxable", "TaxRate", "ServiceDate",
           "Currency", "Account")


def _terms(doc: PostedDocument) -> str:
    days = (doc.due_date - doc.issue_date).days
    return "Due on receipt" if days <= 0 else f"Net {days}"


def write(docs: list[PostedDocument], settings: AccountingSettings, out: Path) -> int:
    rows = 0
    with Path(out).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for doc in docs:
            memo = (f"Credit note for invoice {doc.credit_for}" if doc.is_credit
                    else f"Service {doc.period_start} to {doc.period_end}")
            for line in doc.lines:
                row = priced(doc, line)
                item = (f"Sales tax {line.tax_jurisdiction}" if line.is_tax
                        else ACCOUNT_NAMES.get(line.account, f"Account {line.account}"))
                writer.writerow({
                    "InvoiceNo": doc.number, "Customer": doc.client_name,
                    "InvoiceDate": doc.issue_date.strftime(settings.strftime),
                    "DueDate": doc.due_date.strftime(settings.strftime), "Terms": _terms(doc), "Location": "",
                    "Memo": memo, "Item(Product/Service)": item, "ItemDescription": row.description,
                    "ItemQuantity": number_text(row.quantity), "ItemRate": number_text(row.unit_amount),
                    "ItemAmount": currency.display(row_amount(doc, row), doc.currency), "Taxable": "N",
                    "TaxRate": "", "ServiceDate": doc.period_start.strftime(settings.strftime),
                    "Currency": doc.currency, "Account": line.account,
                })
                rows += 1
    return rows
