"""Double-entry journal lines for any general ledger (SAP, NetSuite, ...): per invoice,
debit accounts receivable with the total, credit revenue per line category (on the
category's account) and tax payable per jurisdiction and tax. A credit note is the same
entry with debits and credits swapped: every amount is positive and every entry balances.
Adjustment lines post to the account of the category they correct."""

from __future__ import annotations

import csv
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from billing.accounting.documents import PostedDocument
from billing.accounting.settings import AccountingSettings
from vigil import currency

COLUMNS = ("entry_id", "date", "account", "debit", "credit", "currency", "reference", "client_id", "description")


def entry_rows(doc: PostedDocument, settings: AccountingSettings) -> list[dict]:
    """One entry: (account, description) -> signed amount, positive on its natural side
    (debit for receivable, credit for revenue and tax), written on the other side when
    negative, so nothing is ever negative."""
    natural: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)  # (side, account, description)
    natural[("debit", settings.receivable_account, f"Receivable from {doc.client_name}")] += doc.total
    for line in doc.lines:
        if line.is_tax:
            key = ("credit", line.account, f"{line.description} ({line.tax_jurisdiction})")
        elif line.category == "adjustment":
            key = ("credit", line.account, f"Revenue: adjustment of {line.adjusts or 'an earlier invoice'}")
        else:
            key = ("credit", line.account, f"Revenue: {line.category}")
        natural[key] += line.amount
    rows = []
    for (side, account, description), amount in natural.items():
        if amount == 0:
            continue
        debit = (side == "debit") == (amount > 0)
        shown = currency.display(abs(amount), doc.currency)
        reference = f"{doc.number} (credits {doc.credit_for})" if doc.is_credit else doc.number
        rows.append({"entry_id": doc.number, "date": doc.issue_date.isoformat(), "account": account,
                     "debit": shown if debit else "", "credit": "" if debit else shown, "currency": doc.currency,
                     "reference": reference, "client_id": doc.client_id, "description": description})
    return rows


def write(docs: list[PostedDocument], settings: AccountingSettings, out: Path) -> int:
    count = 0
    with Path(out).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for doc in docs:
            for row in entry_rows(doc, settings):
                writer.writerow(row)
                count += 1
    return count
