"""Rendering a document: HTML (one template for the email, the portal page and the PDF),
plain text, the PDF itself (WeasyPrint), the short SMS and the portal channel's email
pointer. Every issued invoice's PDF is kept under $VIGIL_HOME/invoices/<number>.pdf."""

from __future__ import annotations

from pathlib import Path

import jinja2

from billing.documents.model import InvoiceDocument

SMS_LIMIT = 1600  # interfaces.md section 7: an SMS body is at most 1,600 characters

_loader = jinja2.PackageLoader("billing", "templates")
_html = jinja2.Environment(loader=_loader, autoescape=True, undefined=jinja2.StrictUndefined)
_text = jinja2.Environment(loader=_loader, autoescape=False, undefined=jinja2.StrictUndefined,
                           keep_trailing_newline=True)


def render_html(doc: InvoiceDocument, mode: str = "email") -> str:
    """The whole document as an HTML page: `mode` "email" or "pdf" (page size, page numbers)."""
    return _html.get_template("invoice.html.j2").render(doc=doc, mode=mode)


def render_text(doc: InvoiceDocument) -> str:
    return _text.get_template("invoice.txt.j2").render(doc=doc)


def render_pointer(doc: InvoiceDocument) -> tuple[str, str]:
    """The portal channel's email: HTML and text that point to the document in the portal."""
    html = _html.get_template("invoice_pointer.html.j2").render(doc=doc)
    what = (f"Credit note {doc.number} crediting invoice {doc.credit_for}" if doc.is_credit
            else f"Invoice {doc.number}, {doc.money(doc.total)} {doc.currency} due {doc.due_date},")
    text = (f"{what} is in your portal: {doc.links.view} (until {doc.links.expires}).\n"
            f"{doc.company.name}\n")
    return html, text


def render_sms(doc: InvoiceDocument, short_link: str) -> str:
    """A short text with a short link (an SMS is billed per 160-character segment)."""
    if doc.is_credit:
        body = (f"{doc.company.name}: credit note {doc.number} of {doc.money(doc.total)} {doc.currency} "
                f"for invoice {doc.credit_for}. View: {short_link}")
    else:
        body = (f"{doc.company.name}: invoice {doc.number}, {doc.money(doc.total)} {doc.currency} due "
                f"{doc.due_date}. View and pay: {short_link}")
    if len(body) > SMS_LIMIT:  # only a company name of absurd length gets here
        body = body[-SMS_LIMIT:]
    return body


def render_pdf(doc: InvoiceDocument) -> bytes:
    import weasyprint

    return weasyprint.HTML(string=render_html(doc, "pdf")).write_pdf()


def pdf_path(folder: Path, number: str) -> Path:
    return Path(folder) / f"{number}.pdf"


def write_pdf(folder: Path, number: str, pdf: bytes) -> Path:
    """Write whole or not at all: a reader never sees half a PDF."""
    path = pdf_path(folder, number)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".pdf.part")
    partial.write_bytes(pdf)
    partial.replace(path)
    return path
