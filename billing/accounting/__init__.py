"""The accounting export (interfaces.md section 6): the issued invoices and credit notes of
a range of issue dates in the import format of another ledger, with account codes from the
documented defaults or `accounting.yaml` (billing/accounting/settings.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from billing.accounting import journal, quickbooks, xero
from billing.accounting.documents import posted_documents
from billing.accounting.settings import AccountingSettings, AccountingSettingsError, load_settings

TARGETS = {"xero": xero.write, "quickbooks": quickbooks.write, "journal": journal.write}

__all__ = ["TARGETS", "AccountingSettings", "AccountingSettingsError", "export_accounting", "load_settings"]


def export_accounting(conn, target: str, out: Path, settings: AccountingSettings, date_from: date | None = None,
                      through: date | None = None) -> tuple[int, int]:
    """Write `target`'s file; (documents, rows) written."""
    docs = posted_documents(conn, settings, date_from, through)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    rows = TARGETS[target](docs, settings, partial)
    partial.replace(out)
    return len(docs), rows
