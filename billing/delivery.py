"""Invoice delivery: each issued invoice or credit note rendered once and sent once through
the client's preferred channel (billing/messaging). Credit notes are titled and worded as
credit notes, naming the invoice they credit, and never mention a charge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import jinja2
import psycopg2.extensions
import psycopg2.extras

from billing.messaging.channels import Channels, OutgoingMessage
from billing.messaging.outbox import SendSummary, deliver, settle_interrupted
from vigil import currency

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("billing", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)


def _unit_price(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def render_invoice(invoice: dict, lines: list[dict], client: dict) -> tuple[str, str]:
    """HTML body and plain-text version of one invoice or credit note."""
    code = invoice["currency"]
    is_credit = bool(invoice.get("credit_for"))
    shown = [{**line, "quantity_display": f"{line['quantity']:.2f}", "unit_price": _unit_price(line["unit_price"]),
              "amount": currency.display(line["amount"], code)} for line in lines]
    view = {**invoice, "subtotal": currency.display(invoice["subtotal"], code),
            "tax_total": currency.display(invoice["tax_total"], code),
            "total": currency.display(invoice["total"], code)}
    autopay = bool(client.get("autopay") and client.get("payment_method")) and not is_credit
    html = _env.get_template("invoice.html.j2").render(invoice=view, lines=shown, client=client, autopay=autopay,
                                                       is_credit=is_credit)
    if is_credit:
        text = (f"Credit note {invoice['invoice_number']} crediting invoice {invoice['credit_for']}: "
                f"{view['total']} {code}, applied to your account on {invoice['issue_date']}.")
    else:
        text = (f"Invoice {invoice['invoice_number']} for {invoice['period_start']} to {invoice['period_end']}: "
                f"{view['total']} {code}, due {invoice['due_date']}.")
    return html, text


def render_pdf(html: str) -> bytes | None:
    """The document as PDF; None where WeasyPrint's system libraries are missing."""
    try:
        import weasyprint
    except OSError:
        return None
    return weasyprint.HTML(string=html).write_pdf()


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
    if client.get("email"):
        return Route("email", client["email"])
    return Route("sms", client["phone"])


def deliver_invoices(conn: psycopg2.extensions.connection, channels: Channels, through: date,
                     pdf_dir: Path | None = None, backoff_seconds: float = 1.0) -> SendSummary:
    """Send every issued invoice and credit note (issue date on or before `through`) not yet sent."""
    summary = SendSummary()
    settle_interrupted(conn, channels, summary)
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(
            """select i.*, c.client_name, c.email, c.phone, c.preferred_channel, c.autopay, c.payment_method
               from billing.invoices i join marts.dim_clients c using (client_id)
               where i.invoice_number is not null and i.status <> 'void' and i.issue_date <= %s
                 and not exists (select 1 from billing.messages m
                                 where m.invoice_id = i.invoice_id
                                   and m.template in ('invoice_issued', 'credit_note_issued'))
               order by i.invoice_number""",
            (through,),
        )
        invoices = cur.fetchall()
    conn.commit()
    for invoice in invoices:
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute("select * from billing.invoice_lines where invoice_id = %s order by line_no",
                        (invoice["invoice_id"],))
            lines = cur.fetchall()
        conn.commit()
        number = invoice["invoice_number"]
        is_credit = bool(invoice["credit_for"])
        template = "credit_note_issued" if is_credit else "invoice_issued"
        way = route(invoice)
        html, text = render_invoice(invoice, lines, invoice)
        pdf = render_pdf(html)
        if pdf is not None and pdf_dir is not None:
            pdf_dir.mkdir(parents=True, exist_ok=True)
            (pdf_dir / f"{number}.pdf").write_bytes(pdf)
        title = f"Credit note {number} for invoice {invoice['credit_for']}" if is_credit else f"Invoice {number}"
        message = OutgoingMessage(
            message_key=f"{number}:{template}:{way.channel}",
            channel=way.channel,
            recipient=way.recipient,
            subject=f"{title} from your security provider",
            text=text,
            html=html if way.channel != "sms" else None,
            attachment_name=f"{number}.pdf" if pdf and way.channel != "sms" else None,
            attachment=pdf if way.channel != "sms" else None,
        )
        deliver(conn, channels, message, client_id=invoice["client_id"], template=template,
                for_date=invoice["issue_date"], summary=summary, invoice_id=invoice["invoice_id"],
                backoff_seconds=backoff_seconds)
    return summary
