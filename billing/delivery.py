"""Invoice delivery: render, send through the client's channel, log every message once.

A message row (unique `dedupe_key`) is committed as `pending` before sending and marked
`sent` after. A row left `pending` by a crash is not sent again: at most once, as
collections.md asks; it stays visible for a person to check."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import jinja2
import psycopg2.extensions
import psycopg2.extras

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("billing", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True)
class OutgoingMessage:
    dedupe_key: str
    channel: str  # email | sms | portal
    recipient: str
    subject: str
    html: str
    text: str
    attachment_name: str | None = None
    attachment: bytes | None = None


class FileOutbox:
    """Where messages go when no SendGrid key is set: one JSON file (plus the HTML body
    and any PDF) per message under `$VIGIL_HOME/outbox/<channel>/`."""

    def __init__(self, directory: Path, from_email: str):
        self.directory = Path(directory)
        self.from_email = from_email

    def send(self, message: OutgoingMessage) -> str:
        folder = self.directory / message.channel
        folder.mkdir(parents=True, exist_ok=True)
        stem = message.dedupe_key.replace(":", "_").replace("/", "_")
        (folder / f"{stem}.html").write_text(message.html, encoding="utf-8")
        if message.attachment is not None and message.attachment_name:
            (folder / f"{stem}-{message.attachment_name}").write_bytes(message.attachment)
        envelope = {
            "from": self.from_email,
            "to": message.recipient,
            "subject": message.subject,
            "text": message.text,
            "attachment": message.attachment_name,
        }
        (folder / f"{stem}.json").write_text(json.dumps(envelope, indent=2), encoding="utf-8")
        return f"outbox:{message.channel}/{stem}"


class SendGridSender:
    """The SendGrid v3 mail API through the official SDK; `host` lets tests point it at a local peer."""

    def __init__(self, api_key: str, from_email: str, host: str | None = None):
        import sendgrid

        kwargs = {"api_key": api_key}
        if host:
            kwargs["host"] = host
        self._client = sendgrid.SendGridAPIClient(**kwargs)
        self.from_email = from_email

    def send(self, message: OutgoingMessage) -> str:
        from sendgrid.helpers.mail import Attachment, Mail

        if message.channel != "email":
            raise ValueError(f"SendGrid sends email only, not {message.channel}")
        mail = Mail(from_email=self.from_email, to_emails=message.recipient, subject=message.subject,
                    plain_text_content=message.text, html_content=message.html)
        if message.attachment is not None and message.attachment_name:
            mail.add_attachment(Attachment(base64.b64encode(message.attachment).decode(),
                                           message.attachment_name, "application/pdf", "attachment"))
        response = self._client.send(mail)
        if response.status_code >= 300:
            raise RuntimeError(f"SendGrid answered {response.status_code}: {response.body!r}")
        headers = {k.lower(): v for k, v in dict(response.headers or {}).items()}
        return headers.get("x-message-id") or f"sendgrid:{message.dedupe_key}"


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def render_invoice(invoice: dict, lines: list[dict], client: dict) -> tuple[str, str]:
    """HTML body and plain-text fallback of one invoice."""
    shown = [
        {**line, "quantity_display": f"{line['quantity']:.2f}", "unit_price": f"{line['unit_price']:.2f}"
         if line["unit_price"] == line["unit_price"].quantize(Decimal("0.01")) else str(line["unit_price"].normalize()),
         "amount": _money(line["amount"])}
        for line in lines
    ]
    view = {**invoice, "subtotal": _money(invoice["subtotal"]), "tax_total": _money(invoice["tax_total"]),
            "total": _money(invoice["total"])}
    html = _env.get_template("invoice.html.j2").render(
        invoice=view, lines=shown, client=client, autopay=bool(client.get("autopay") and client.get("payment_method"))
    )
    text = (
        f"Invoice {invoice['invoice_number']} for {invoice['period_start']} to {invoice['period_end']}: "
        f"{_money(invoice['total'])} {invoice['currency']}, due {invoice['due_date']}."
    )
    return html, text


def render_pdf(html: str) -> bytes | None:
    """The invoice as PDF; None where WeasyPrint's system libraries are missing."""
    try:
        import weasyprint
    except OSError:
        return None
    return weasyprint.HTML(string=html).write_pdf()


@dataclass
class DeliverySummary:
    sent: int = 0
    failed: int = 0
    by_channel: dict | None = None


def deliver_invoices(conn: psycopg2.extensions.connection, sender, through: date,
                     pdf_dir: Path | None = None) -> DeliverySummary:
    """Send every issued invoice (issue date on or before `through`) not yet sent."""
    summary = DeliverySummary(by_channel={})
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(
            """select i.*, c.client_name, c.email, c.phone, c.preferred_channel, c.autopay, c.payment_method
               from billing.invoices i join marts.dim_clients c using (client_id)
               where i.invoice_number is not null and i.status <> 'void' and i.issue_date <= %s
                 and not exists (select 1 from billing.messages m
                                 where m.dedupe_key = 'invoice:' || i.invoice_number || ':invoice_issued')
               order by i.invoice_number""",
            (through,),
        )
        invoices = cur.fetchall()
    for invoice in invoices:
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute("select * from billing.invoice_lines where invoice_id = %s order by line_no",
                        (invoice["invoice_id"],))
            lines = cur.fetchall()
        channel = invoice["preferred_channel"] or "email"
        recipient = {"email": invoice["email"], "sms": invoice["phone"], "portal": invoice["client_id"]}[channel]
        if not recipient:
            channel, recipient = ("email", invoice["email"]) if invoice["email"] else ("sms", invoice["phone"])
        html, text = render_invoice(invoice, lines, invoice)
        pdf = render_pdf(html) if channel in ("email", "portal") else None
        if pdf is not None and pdf_dir is not None:
            pdf_dir.mkdir(parents=True, exist_ok=True)
            (pdf_dir / f"{invoice['invoice_number']}.pdf").write_bytes(pdf)
        message = OutgoingMessage(
            dedupe_key=f"invoice:{invoice['invoice_number']}:invoice_issued",
            channel=channel,
            recipient=recipient,
            subject=f"Invoice {invoice['invoice_number']} from your security provider",
            html=html,
            text=text,
            attachment_name=f"{invoice['invoice_number']}.pdf" if pdf else None,
            attachment=pdf,
        )
        with conn, conn.cursor() as cur:
            cur.execute(
                """insert into billing.messages (dedupe_key, client_id, invoice_id, template, channel, recipient,
                       subject, status, business_date)
                   values (%s, %s, %s, 'invoice_issued', %s, %s, %s, 'pending', %s)
                   on conflict (dedupe_key) do nothing returning message_id""",
                (message.dedupe_key, invoice["client_id"], invoice["invoice_id"], channel, recipient,
                 message.subject, invoice["issue_date"]),
            )
            row = cur.fetchone()
        if row is None:
            continue
        message_id = row[0]
        try:
            provider_id = sender.send(message)
        except Exception as err:  # noqa: BLE001 - any provider failure is logged on the message
            with conn, conn.cursor() as cur:
                cur.execute("update billing.messages set status = 'failed' where message_id = %s", (message_id,))
                cur.execute("insert into billing.message_events (message_id, event, detail) values (%s, 'failed', %s)",
                            (message_id, str(err)[:1000]))
            summary.failed += 1
            continue
        with conn, conn.cursor() as cur:
            cur.execute(
                """update billing.messages set status = 'sent', provider_message_id = %s, sent_at = now()
                   where message_id = %s""",
                (provider_id, message_id),
            )
            cur.execute("insert into billing.message_events (message_id, event, detail) values (%s, 'sent', %s)",
                        (message_id, provider_id))
        summary.sent += 1
        summary.by_channel[channel] = summary.by_channel.get(channel, 0) + 1
    return summary
