"""The words of every collections message (collections.md sections 3-4), in escalating
tone, as an HTML email with its plain-text part and an SMS; and how each goes out through
the message log (billing/messaging/outbox.py: at most once per key).

Keys: `<invoice>:<template>:<channel>` for reminders, `<invoice>:<template>:<attempt
no>:<channel>` for failure notices, `<invoice>:receipt:<payment>:<channel>` for receipts
(the attempt number, `link-<n>` for a pay link, or the payment_id of a payment received)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

import jinja2

from billing.delivery import route
from billing.links import public_url
from billing.messaging.channels import Channels, OutgoingMessage
from billing.messaging.outbox import SendSummary, deliver
from billing.short_links import shorten
from vigil import currency
from vigil.clock import Seconds

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("billing", "templates/collections"),
    autoescape=jinja2.select_autoescape(["html.j2"]),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=False,
)

SMS_LIMIT = 1600

# template -> tone, subject, headline, opening paragraph, SMS sentence, link action
WORDING: dict[str, dict[str, str]] = {
    "reminder_before_due": {
        "tone": "friendly", "subject": "Invoice {number} is due on {due}",
        "headline": "A reminder: invoice {number} is due on {due}",
        "lead": "This is a friendly reminder that invoice {number} is due on {due}.",
        "sms": "invoice {number} is due on {due}; balance {balance} {currency}.", "action": "Pay now"},
    "reminder_due": {
        "tone": "friendly", "subject": "Invoice {number} is due today",
        "headline": "Invoice {number} is due today",
        "lead": "Invoice {number} is due today, {due}. If you have already paid, thank you: please ignore this "
                "message.",
        "sms": "invoice {number} is due today; balance {balance} {currency}.", "action": "Pay now"},
    "reminder_overdue": {
        "tone": "firm", "subject": "Invoice {number} is overdue",
        "headline": "Invoice {number} is 5 days overdue",
        "lead": "Invoice {number} was due on {due} and has not been paid in full. Please pay the balance now.",
        "sms": "invoice {number} is 5 days overdue; balance {balance} {currency}. Please pay now.",
        "action": "Pay now"},
    "reminder_final": {
        "tone": "final", "subject": "Final notice: invoice {number} is 10 days overdue",
        "headline": "Final notice for invoice {number}",
        "lead": "Invoice {number} was due on {due} and is now 10 days overdue. This is our final reminder: an "
                "account still unpaid 30 days after the due date is referred to our collections agency.",
        "sms": "FINAL NOTICE: invoice {number} is 10 days overdue; balance {balance} {currency}. Unpaid accounts "
               "go to collections 30 days after the due date.", "action": "Pay now"},
    "payment_failed": {
        "tone": "firm", "subject": "We could not collect payment for invoice {number}",
        "headline": "Your payment for invoice {number} did not go through",
        "lead": "Our charge of {amount} {currency} to your payment method on {day} was declined ({reason}). {retry}",
        "sms": "the charge of {amount} {currency} for invoice {number} was declined ({reason}). {retry}",
        "action": "Pay or update your payment method"},
    "payment_method_needed": {
        "tone": "firm", "subject": "Please replace your payment method (invoice {number})",
        "headline": "Your payment method needs to be replaced",
        "lead": "Our charge of {amount} {currency} for invoice {number} on {day} was declined ({reason}), and this "
                "payment method cannot be charged again. Please set a new one: it is charged on the next business "
                "day.",
        "sms": "the charge of {amount} {currency} for invoice {number} was declined ({reason}) and cannot be "
               "retried. Please set a new payment method.", "action": "Replace your payment method"},
    "receipt": {
        "tone": "friendly", "subject": "Receipt: {amount} {currency} received, thank you",
        "headline": "Thank you for your payment",
        "lead": "We received {amount} {currency} on {day} by {method}.",
        "sms": "we received {amount} {currency} on {day} by {method}. Thank you.", "action": "See your invoices"},
}

METHOD_NAMES = {"card": "card", "us_bank_account": "ACH bank debit", "link": "online payment", "check": "check",
                "ach": "ACH transfer", "wire": "wire transfer", "cash": "cash", "manual": "bank transfer"}
REASONS = {"insufficient_funds": "insufficient funds", "generic_decline": "declined by the bank",
           "lost_card": "the card was reported lost", "stolen_card": "the card was reported stolen",
           "expired_card": "the card has expired", "card_declined": "declined by the bank",
           "account_closed": "the bank account is closed", "no_account": "the bank account does not exist",
           "debit_not_authorized": "the debit was not authorized", "resource_missing": "the payment method is unknown",
           "authentication_required": "the bank asks you to authenticate the payment"}


@dataclass
class Message:
    """One collections message about one invoice (or one payment, for a receipt)."""

    template: str
    client: dict  # client_id, client_name, email, phone, preferred_channel
    number: str | None  # the invoice it is about
    code: str  # currency
    day: date  # its business day (for_date)
    facts: dict = field(default_factory=dict)  # amount, balance, due, reason, retry, method, applied...
    link: str | None = None
    link_expires: date | None = None


def money(amount: Decimal, code: str) -> str:
    return currency.display(amount, code)


def reason_text(failure_code: str | None, decline_code: str | None) -> str:
    return REASONS.get(decline_code or "") or REASONS.get(failure_code or "") or (decline_code or failure_code or
                                                                                   "declined")


def _fields(message: Message) -> dict:
    return {"number": message.number or "", "currency": message.code, "day": message.day.isoformat(),
            "retry": "", "reason": "", "method": "", "amount": "", "balance": "", "due": "", **message.facts}


def _facts_table(message: Message) -> list[tuple[str, str]]:
    facts = message.facts
    rows: list[tuple[str, str]] = []
    if message.number:
        rows.append(("Invoice", message.number))
    if facts.get("due"):
        rows.append(("Due date", facts["due"]))
    if facts.get("total"):
        rows.append(("Invoice total", f"{facts['total']} {message.code}"))
    if facts.get("paid") and Decimal(facts["paid"]) > 0:
        rows.append(("Paid so far", f"{facts['paid']} {message.code}"))
    for number, amount in facts.get("applied", []):
        rows.append((f"Applied to {number}", f"{amount} {message.code}"))
    if facts.get("credit") and Decimal(facts["credit"]) > 0:
        rows.append(("Credit for your next invoice", f"{facts['credit']} {message.code}"))
    if facts.get("balance"):
        rows.append(("Remaining balance" if facts.get("paid") and Decimal(facts["paid"]) > 0 else "Balance due",
                     f"{facts['balance']} {message.code}"))
    return rows


def render(message: Message, company: dict) -> tuple[str, str, str, str]:
    """(subject, text, html, sms) of a message."""
    wording = WORDING[message.template]
    values = _fields(message)
    lead = wording["lead"].format(**values).strip()
    paragraphs = [lead]
    if message.template.startswith("reminder") and values.get("paid") and Decimal(values["paid"]) > 0:
        paragraphs.append(f"Thank you for the {values['paid']} {message.code} paid so far; the remaining balance is "
                          f"{values['balance']} {message.code}.")
    context = {
        "subject": wording["subject"].format(**values), "headline": wording["headline"].format(**values),
        "tone": wording["tone"], "paragraphs": paragraphs, "facts": _facts_table(message),
        "client_name": message.client.get("client_name") or message.client["client_id"],
        "link": message.link, "link_expires": message.link_expires.isoformat() if message.link_expires else "",
        "action": wording["action"], "company_name": company.get("name") or "Vigil demo company",
        "company_email": company.get("email"), "sms": wording["sms"].format(**values).strip(),
    }
    html = _env.get_template("email.html.j2").render(**context)
    text = _env.get_template("email.txt.j2").render(**context)
    sms = " ".join(_env.get_template("sms.txt.j2").render(**context).split())[:SMS_LIMIT]
    return context["subject"], text, html, sms


def company(conn) -> dict:
    """The billing company's name and email (marts.dim_company), when the marts have it."""
    with conn.cursor() as cur:
        cur.execute("select to_regclass('marts.dim_company') is not null")
        if not cur.fetchone()[0]:
            conn.commit()
            return {}
        cur.execute("select company_name, email from marts.dim_company limit 1")
        row = cur.fetchone()
    conn.commit()
    return {"name": row[0], "email": row[1]} if row else {}


def ways(client: dict, template: str) -> list[tuple[str, str]]:
    """(channel, recipient): failure notices by email and by SMS where the client has a
    phone; everything else through the preferred channel."""
    if template in ("payment_failed", "payment_method_needed"):
        found = [("email", client["email"])] if client.get("email") else []
        if client.get("phone"):
            found.append(("sms", client["phone"]))
        return found
    way = route(client)
    return [(way.channel, way.recipient)]


def _short(conn, message: Message) -> str | None:
    """An SMS carries a short link (billing/short_links.py) standing for the signed one."""
    if not message.link or not message.link.startswith(public_url()) or message.link_expires is None:
        return message.link
    with conn, conn.cursor() as cur:
        return shorten(cur, message.client["client_id"], message.link.removeprefix(public_url()),
                       message.link_expires)


def send(conn, channels: Channels, message: Message, *, key_part: str | None, summary: SendSummary,
         invoice_id: int | None, company_facts: dict, payment_ref: str | None = None,
         backoff_seconds: Seconds = 1.0) -> int:
    """Send a message through each of its channels, at most once per key; returns how many
    went out now. `key_part` is the attempt or payment part of the key, if any. The portal
    channel also posts a notice on the client's portal page (as invoices do)."""
    subject, text, html, _ = render(message, company_facts)
    sent = 0
    for channel, recipient in ways(message.client, message.template):
        about = message.number or message.client["client_id"]
        key = ":".join(part for part in (about, message.template, key_part, channel) if part)
        if channel == "sms":
            body = render(replace(message, link=_short(conn, message)), company_facts)[3]
            outgoing = OutgoingMessage(message_key=key, channel=channel, recipient=recipient, subject=subject,
                                       text=body)
        else:
            outgoing = OutgoingMessage(message_key=key, channel=channel, recipient=recipient, subject=subject,
                                       text=text, html=html)
        if channel == "portal":
            with conn, conn.cursor() as cur:
                cur.execute("""insert into billing.portal_notices (client_id, invoice_id, message_key, title, posted_on)
                               values (%s, %s, %s, %s, %s) on conflict (message_key) do nothing""",
                            (message.client["client_id"], invoice_id, key, subject, message.day))
        sent += deliver(conn, channels, outgoing, client_id=message.client["client_id"], template=message.template,
                        for_date=message.day, summary=summary, invoice_id=invoice_id, link=message.link,
                        backoff_seconds=backoff_seconds)
        if payment_ref:
            with conn, conn.cursor() as cur:
                cur.execute("""update billing.messages set payment_ref = %s
                               where dedupe_key = %s and payment_ref is null""", (payment_ref, key))
    return sent
