"""The invoice document (issue 10): what a client receives for every issued invoice and
credit note, whatever its channel, as HTML (email body, portal page) and PDF from one
template, with the seller, remit-to, grouped lines, taxes per jurisdiction, what is paid
and due, a signed pay link, and an evidence appendix citing the records each line bills."""

from __future__ import annotations

from pathlib import Path

from billing.documents.load import load_document
from billing.documents.model import InvoiceDocument, Links
from billing.documents.render import (
    SMS_LIMIT,
    pdf_path,
    render_html,
    render_pdf,
    render_pointer,
    render_sms,
    render_text,
    write_pdf,
)
from billing.links import invoice_paths, public_url
from billing.short_links import shorten

__all__ = ["SMS_LIMIT", "InvoiceDocument", "Links", "ensure_pdf", "load_document", "pdf_path", "render_html",
           "render_pdf", "render_pointer", "render_sms", "render_text", "with_message_links", "write_pdf"]


def with_message_links(conn, doc: InvoiceDocument) -> tuple[InvoiceDocument, str]:
    """The document carrying short links to its portal page and (when something is due) its
    pay page, both under a link scoped to this invoice and valid 30 days from its issue
    date; and the full signed link behind them (recorded with the message)."""
    view, pay, expires = invoice_paths(doc.bill_to.client_id, doc.number, doc.issue_date)
    with conn, conn.cursor() as cur:
        links = Links(view=shorten(cur, doc.bill_to.client_id, view, expires),
                      pay=shorten(cur, doc.bill_to.client_id, pay, expires) if doc.payable else None,
                      expires=expires)
    return doc.with_links(links), public_url() + (pay if doc.payable else view)


def ensure_pdf(conn, number: str, folder: Path) -> Path | None:
    """The invoice's PDF, rendered now if it is not on disk (an invoice issued before PDFs
    were kept, or a cleaned folder); None when there is no such invoice."""
    path = pdf_path(folder, number)
    if path.exists():
        return path
    doc = load_document(conn, number)
    if doc is None:
        return None
    doc, _ = with_message_links(conn, doc)
    return write_pdf(folder, number, render_pdf(doc))
