"""Invoice delivery: each issued invoice and credit note rendered (billing/documents), its
PDF kept under $VIGIL_HOME/invoices whatever the channel, and sent once through the
client's preferred channel (billing/messaging):
- email: the document as HTML and text, the PDF attached;
- sms: a short text with a short link to the document in the portal;
- portal: a notice in the client's portal, and an email pointing to it.
Credit notes are titled and worded as credit notes, naming the invoice they credit."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg2.extensions

from billing.documents import (
    InvoiceDocument,
    load_document,
    pdf_path,
    render_html,
    render_pdf,
    render_pointer,
    render_sms,
    render_text,
    with_message_links,
    write_pdf,
)
from billing.messaging.channels import Channels, OutgoingMessage
from billing.messaging.outbox import SendSummary, deliver, settle_interrupted
from vigil.clock import Seconds


@dataclass(frozen=True)
class Route:
    channel: str
    recipient: str


def route(client: dict) -> Route:
    """The client's preferred channel, or the one it has an address for (portal notices
    point to the portal by email)."""
    preferred = client.get("preferred_channel") or "email"
    if preferred == "sms" and client.get("phone"):
        return Route("sms", client["phone"])
    if preferred == "portal" and client.get("email"):
        return Route("portal", client["email"])
    if client.get("email") or not client.get("phone"):
        return Route("email", client.get("email") or "")  # no address at all: the send fails, saying so
    return Route("sms", client["phone"])


def _subject(doc: InvoiceDocument) -> str:
    if doc.is_credit:
        return f"Credit note {doc.number} for invoice {doc.credit_for} from {doc.company.name}"
    return f"Invoice {doc.number} from {doc.company.name}"


def compose(doc: InvoiceDocument, way: Route, template: str, pdf: bytes) -> OutgoingMessage:
    """The message for one channel (`doc` carries its links)."""
    key = f"{doc.number}:{template}:{way.channel}"
    if way.channel == "sms":
        return OutgoingMessage(key, "sms", way.recipient, _subject(doc), render_sms(doc, doc.links.view))
    if way.channel == "portal":
        html, text = render_pointer(doc)
        return OutgoingMessage(key, "portal", way.recipient, f"{_subject(doc)} is in your portal", text, html)
    return OutgoingMessage(key, way.channel, way.recipient, _subject(doc), render_text(doc), render_html(doc, "email"),
                           attachment_name=f"{doc.number}.pdf", attachment=pdf)


def _post_notice(conn, doc: InvoiceDocument, message_key: str) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(
            """insert into billing.portal_notices (client_id, invoice_id, message_key, title, posted_on)
               values (%s, %s, %s, %s, %s) on conflict (message_key) do nothing""",
            (doc.bill_to.client_id, doc.invoice_id, message_key,
             f"New {doc.title.lower()} {doc.number}: {doc.money(doc.total)} {doc.currency}"
             + ("" if doc.is_credit else f", due {doc.due_date}"), doc.issue_date),
        )


def _numbers(conn, sql: str, params) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        found = [row[0] for row in cur.fetchall()]
    conn.commit()
    return found


# WeasyPrint renders one document on one core and is most of the time a large company's day
# of invoices takes to deliver (docs/performance.md, "Pipeline"): documents are loaded in
# batches, rendered on every core, then sent one by one in invoice-number order as before.
RENDER_BATCH = 64
POOL_FROM = 16  # fewer documents render faster than worker processes start


def _render_pool(stack: ExitStack, documents: int) -> ProcessPoolExecutor | None:
    workers = min(os.cpu_count() or 1, 8)
    if documents < POOL_FROM or workers < 2:
        return None
    # spawn: the calling process (a Dagster step) may hold threads that fork would copy mid-state
    return stack.enter_context(ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")))


def _send(conn, channels: Channels, doc: InvoiceDocument, signed_link: str | None, pdf: bytes,
          pdf_dir: Path | None, summary: SendSummary, backoff_seconds: Seconds) -> None:
    """Keep the PDF, then send the document once through the client's channel."""
    if pdf_dir is not None:
        write_pdf(pdf_dir, doc.number, pdf)
    template = "credit_note_issued" if doc.is_credit else "invoice_issued"
    with conn.cursor() as cur:
        cur.execute("""select preferred_channel, email, phone from marts.dim_clients where client_id = %s""",
                    (doc.bill_to.client_id,))
        found = cur.fetchone()
    conn.commit()
    client = dict(zip(("preferred_channel", "email", "phone"), found, strict=True)) if found else {}
    way = route(client)
    message = compose(doc, way, template, pdf)
    if way.channel == "portal":
        _post_notice(conn, doc, message.message_key)
    deliver(conn, channels, message, client_id=doc.bill_to.client_id, template=template,
            for_date=doc.issue_date, summary=summary, invoice_id=doc.invoice_id, link=signed_link,
            backoff_seconds=backoff_seconds)


def deliver_invoices(conn: psycopg2.extensions.connection, channels: Channels, through: date,
                     pdf_dir: Path | None = None, backoff_seconds: Seconds = 1.0) -> SendSummary:
    """Send every issued invoice and credit note (issue date on or before `through`) not yet
    sent, and keep every issued one's PDF in `pdf_dir` (rendered when missing)."""
    summary = SendSummary()
    settle_interrupted(conn, channels, summary)
    issued = """from billing.invoices i
                where i.invoice_number is not null and i.status <> 'void' and i.issue_date <= %s"""
    unsent = _numbers(conn, f"""select i.invoice_number {issued}
                                  and not exists (select 1 from billing.messages m
                                                  where m.invoice_id = i.invoice_id
                                                    and m.template in ('invoice_issued', 'credit_note_issued'))
                                order by i.invoice_number""", (through,))
    with ExitStack() as stack:
        pool = _render_pool(stack, len(unsent))
        for start in range(0, len(unsent), RENDER_BATCH):
            batch = []
            for number in unsent[start:start + RENDER_BATCH]:
                doc = load_document(conn, number)
                conn.commit()
                batch.append(with_message_links(conn, doc))
            docs = [doc for doc, _ in batch]
            pdfs = list(pool.map(render_pdf, docs, chunksize=4)) if pool else [render_pdf(doc) for doc in docs]
            for (doc, signed_link), pdf in zip(batch, pdfs, strict=True):
                _send(conn, channels, doc, signed_link, pdf, pdf_dir, summary, backoff_seconds)
    if pdf_dir is not None:
        for number in _numbers(conn, f"select i.invoice_number {issued} order by i.invoice_number", (through,)):
            if not pdf_path(pdf_dir, number).exists():
                doc, _ = with_message_links(conn, load_document(conn, number))
                write_pdf(pdf_dir, number, render_pdf(doc))
    return summary
