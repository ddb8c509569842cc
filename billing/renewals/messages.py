"""The renewal messages (interfaces.md section 5 templates `renewal_offer`,
`renewal_reminder`, `renewal_auto_notice`, `renewal_confirmation`, `renewal_declined`,
`sales_alert`): what each says, as an HTML and a plain-text body (SMS: a short text with the
link, at most 1,600 characters). Keys follow the message log: `<contract>:<template>:<channel>`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import jinja2

from billing.delivery import route
from billing.links import public_url, token_for
from billing.messaging.channels import OutgoingMessage
from billing.renewals.options import dated_options
from vigil import currency as currency_table

SMS_LIMIT = 1600
OPTION_TITLES = {"same": "Same terms", "upgrade": "Upgrade", "longer_term": "Longer term"}

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("billing", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)


def offer_path(client_id: str, contract_id: str, valid_through: date) -> str:
    """The portal path of the offer page with its signed token, working through the
    contract's last day."""
    return f"/portal/{token_for(client_id, f'renewal:{contract_id}', valid_through)}/renewal"


def offer_link(client_id: str, contract_id: str, valid_through: date) -> str:
    """The full signed link to the offer page."""
    return public_url() + offer_path(client_id, contract_id, valid_through)


@dataclass
class Body:
    title: str
    paragraphs: list[str]
    tables: list[dict] = field(default_factory=list)  # {"caption", "header": [...], "rows": [[...]]}
    link: str | None = None
    link_text: str = "Open the offer"

    def html(self) -> str:
        return _env.get_template("renewals/message.html.j2").render(body=self)

    def text(self) -> str:
        parts = [self.title, "", *self.paragraphs]
        for table in self.tables:
            parts += ["", table["caption"] + ":"]
            parts += ["  " + " | ".join(str(cell) for cell in row) for row in table["rows"]]
        if self.link:
            parts += ["", f"{self.link_text}: {self.link}"]
        return "\n".join(parts)

    def sms(self) -> str:
        text = f"{self.title}. {self.paragraphs[0]}" + (f" {self.link_text}: {self.link}" if self.link else "")
        if len(text) <= SMS_LIMIT:
            return text
        tail = f" {self.link_text}: {self.link}" if self.link else ""
        return text[: SMS_LIMIT - len(tail) - 3] + "..." + tail


def _summary_table(offer: dict) -> dict:
    summary = offer["summary"]
    rows = [[group["label"], f"{group['quantity']} {group['unit']}" if group["quantity"] is not None else "",
             f"{group['amount']} {summary['currency']}"] for group in summary["groups"]]
    rows.append(["Total billed", "", f"{summary['total']} {summary['currency']}"])
    return {"caption": f"Billed from {summary['since']} to {summary['through']}", "header": ["", "", "Amount"],
            "rows": rows}


def _options_tables(offer: dict, end_date: date) -> list[dict]:
    currency = offer["summary"]["currency"]
    tables = []
    for option in dated_options(offer, end_date):
        tables.append({
            "caption": f"{OPTION_TITLES[option['name']]} ({option['name']}): {option['start_date']} to "
                       f"{option['end_date']}, {option['length']} - {option['description']}",
            "header": ["Service", "Unit", "Price"],
            "rows": [[row["what"], row["unit"], f"{row['amount']} {currency}"] for row in option["prices"]],
        })
    return tables


def _outgoing(contract_id: str, subject: str, body: Body, client: dict, template: str) -> OutgoingMessage:
    """The message on the client's preferred channel (an SMS gets the short text)."""
    way = route(client)
    return OutgoingMessage(
        message_key=f"{contract_id}:{template}:{way.channel}", channel=way.channel, recipient=way.recipient,
        subject=subject, text=body.sms() if way.channel == "sms" else body.text(),
        html=None if way.channel == "sms" else body.html())


def offer_message(template: str, renewal: dict, client: dict, company: dict, link: str) -> OutgoingMessage:
    """renewal_offer, renewal_reminder or renewal_auto_notice."""
    offer, contract_id, end = renewal["offer"], renewal["contract_id"], renewal["end_date"]
    start = end + timedelta(days=1)
    same = next(option for option in dated_options(offer, end) if option["name"] == "same")
    auto = (f"Your contract renews automatically on {start} on the same terms for the same length "
            f"({same['length']}, to {same['end_date']}) unless you decline by {end}.")
    if template == "renewal_auto_notice":
        title = f"Contract {contract_id} renews on {start}"
        paragraphs = [auto, "Nothing is needed to keep your service. To decline, or to choose another option, "
                            "use the link below before the contract's last day."]
        tables = _options_tables(offer, end)
    else:
        title = (f"Reminder: your contract {contract_id} ends on {end}" if template == "renewal_reminder"
                 else f"Your contract {contract_id} ends on {end}: renewal offer")
        paragraphs = [f"{company['company_name']} would like to keep serving {client['client_name']}. "
                      f"Choose how to renew from {start}, or decline, with the link below."]
        if renewal["auto_renew"]:
            paragraphs.append(auto)
        tables = [_summary_table(offer), *_options_tables(offer, end)]
    subject = title + f" ({company['company_name']})"
    return _outgoing(contract_id, subject, Body(title, paragraphs, tables, link), client, template)


def decision_message(renewal: dict, client: dict, company: dict) -> OutgoingMessage:
    """renewal_confirmation (accepted or auto-renewed) or renewal_declined."""
    contract_id, end = renewal["contract_id"], renewal["end_date"]
    if renewal["decision"] == "declined":
        template = "renewal_declined"
        title = f"Contract {contract_id} ends on {end}"
        body = Body(title, [f"We have recorded that {client['client_name']} declined the renewal on "
                            f"{renewal['decided_on']}. Your contract ends on {end}; the last invoices follow "
                            f"as usual. Thank you for working with {company['company_name']}."])
    else:
        template = "renewal_confirmation"
        terms = renewal["new_terms"]
        option = next(o for o in renewal["offer"]["options"] if o["name"] == renewal["option"])
        how = ("renewed automatically (no decline by the contract's last day)" if renewal["decision"] == "auto_renewed"
               else f"renewed with the option {OPTION_TITLES[renewal['option']].lower()} ({renewal['option']}), "
                    f"accepted on {renewal['decided_on']}")
        title = f"Contract {contract_id} renewed as {renewal['new_contract_id']}"
        currency = renewal["offer"]["summary"]["currency"]
        body = Body(title, [f"Your contract {contract_id} is {how}. The new contract {renewal['new_contract_id']} "
                            f"runs from {terms['start_date']} to {terms['end_date']} ({option['length']})."],
                    [{"caption": "Prices from " + terms["start_date"], "header": ["Service", "Unit", "Price"],
                      "rows": [[row["what"], row["unit"], f"{row['amount']} {currency}"]
                               for row in option["prices"]]}])
    subject = title + f" ({company['company_name']})"
    return _outgoing(contract_id, subject, body, client, template)


def sales_alert(renewal: dict, client: dict, company: dict, recipient: str) -> OutgoingMessage:
    """For personal outreach: the contract, what it is worth per month, what was sent."""
    contract_id, end = renewal["contract_id"], renewal["end_date"]
    summary = renewal["offer"]["summary"]
    worth = f"{currency_table.display(renewal['monthly_value'], summary['currency'])} {summary['currency']}"
    title = f"Sales alert: {contract_id} ({client['client_name']}) ends {end} without an answer"
    contact = ", ".join(part for part in (client.get("email"), client.get("phone")) if part) or "no contact on file"
    steps = [f"offer sent {renewal['offered_on']}"]
    if renewal["reminded_on"]:
        steps.append(f"reminder sent {renewal['reminded_on']}")
    body = Body(title, [f"{client['client_name']} ({client['client_id']}, {contact}) has not answered the renewal "
                        f"offer for {contract_id} ({'; '.join(steps)}). The contract ends on {end} and expires "
                        "without a renewal unless they accept.",
                        f"Worth per month: {worth}."],
                [{"caption": "Renewal alerts", "header": ["Contract", "Client", "Ends", "Worth per month"],
                  "rows": [[contract_id, client["client_name"], str(end), worth]]},
                 _summary_table(renewal["offer"])])
    return OutgoingMessage(message_key=f"{contract_id}:sales_alert:internal", channel="internal",
                           recipient=recipient, subject=title + f" ({company['company_name']})", text=body.text(),
                           html=body.html())
