"""The renewal run of business days `first`..`last`: each day in order, as if each had run on
its own (collections.md section 0), every step at most once (timeline.py says which).

For each day: contracts reaching their offer day get their offer (billed summary, current
prices, options; sent with a signed link to the portal); offered contracts get what the day
holds for them (reminder, sales alert or auto-renew notice, renewal or expiry the day after
their end); decisions dated on or before the day get their renewal_confirmation or
renewal_declined. Invoices count for an offer's summary only when issued by its day.
Running the same days again finds every step recorded and every message key used."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from billing.delivery import route
from billing.links import public_url
from billing.messaging.channels import Channels
from billing.messaging.outbox import SendSummary, deliver, settle_interrupted
from billing.renewals import messages, store
from billing.renewals.decisions import lock_client, renew
from billing.renewals.options import monitoring_ladder, options_for, price_rows
from billing.renewals.summary import billed_summary
from billing.renewals.timeline import offer_due, steps_due
from billing.short_links import shorten
from vigil.clock import Seconds

STEP_TEMPLATES = {"reminder": "renewal_reminder", "auto_notice": "renewal_auto_notice"}
STEP_COLUMNS = {"reminder": "reminded_on", "auto_notice": "auto_notice_on", "sales_alert": "sales_alerted_on"}


@dataclass
class RenewalRunSummary:
    steps: dict[str, list[str]] = field(default_factory=dict)  # step -> contracts, in order
    messages: SendSummary = field(default_factory=SendSummary)
    without_recipient: list[str] = field(default_factory=list)  # sales alerts with no company address

    def record(self, step: str, contract_id: str) -> None:
        self.steps.setdefault(step, []).append(contract_id)

    def count(self, step: str) -> int:
        return len(self.steps.get(step, []))


class _Run:
    """What a run reads once for all its days: the contracts in force, their clients, the
    company (the marts do not change during a run), and how it sends."""

    def __init__(self, conn, channels: Channels, summary: RenewalRunSummary, backoff_seconds: Seconds):
        self.conn, self.channels, self.summary, self.backoff = conn, channels, summary, backoff_seconds
        self.contracts = store.contracts(conn)
        self.clients = store.clients(conn)
        self.company = store.company(conn)
        conn.commit()
        self._ladders: dict[str, list] = {}

    def ladder(self, currency: str) -> list:
        if currency not in self._ladders:
            currencies = {client_id: client["currency"] for client_id, client in self.clients.items()}
            self._ladders[currency] = monitoring_ladder(self.contracts, currency, currencies)
        return self._ladders[currency]

    def offer_links(self, renewal: dict, client: dict) -> tuple[str, str]:
        """The signed link to the offer page (recorded with the message) and the one the
        message shows: a short link in an SMS (billing/short_links.py)."""
        path = messages.offer_path(renewal["client_id"], renewal["contract_id"], renewal["end_date"])
        link = public_url() + path
        if route(client).channel != "sms":
            return link, link
        with self.conn, self.conn.cursor() as cur:
            return link, shorten(cur, renewal["client_id"], path, renewal["end_date"])

    def send(self, message, renewal: dict, template: str, for_date: date, link: str | None = None) -> None:
        if message.channel == "portal":
            # the portal channel: a notice on the client's portal page, pointed to by email
            with self.conn, self.conn.cursor() as cur:
                cur.execute("""insert into billing.portal_notices (client_id, message_key, title, posted_on)
                               values (%s, %s, %s, %s) on conflict (message_key) do nothing""",
                            (renewal["client_id"], message.message_key, message.subject, for_date))
        deliver(self.conn, self.channels, message, client_id=renewal["client_id"], template=template,
                for_date=for_date, summary=self.summary.messages, contract_id=renewal["contract_id"], link=link,
                backoff_seconds=self.backoff)


def _offer(run: _Run, contract: dict, day: date) -> None:
    currency = contract["currency"]
    summary = billed_summary(run.conn, contract, currency, day)
    options = options_for(contract["terms"] or {}, contract["start_date"], contract["end_date"], currency,
                          run.ladder(currency))
    offer = {"summary": summary.to_dict(),
             "current": [row.to_dict() for row in price_rows(contract["terms"] or {}, currency)],
             "options": [option.to_dict(contract["end_date"], currency) for option in options]}
    root, generation = store.lineage(run.conn, contract["contract_id"])
    with run.conn, run.conn.cursor() as cur:
        created = store.insert_offer(cur, contract=contract, day=day, root=root, generation=generation, offer=offer,
                                     monthly_value=summary.monthly_value)
    if not created:
        return
    renewal = store.renewals(run.conn, contract_id=contract["contract_id"])[contract["contract_id"]]
    run.conn.commit()
    client = run.clients[renewal["client_id"]]
    link, shown = run.offer_links(renewal, client)
    run.send(messages.offer_message("renewal_offer", renewal, client, run.company, shown), renewal, "renewal_offer",
             day, link)
    run.summary.record("offer", renewal["contract_id"])


def _step(run: _Run, renewal: dict, step: str, day: date) -> None:
    client = run.clients.get(renewal["client_id"]) or {"client_id": renewal["client_id"],
                                                       "client_name": renewal["client_id"]}
    if step in STEP_TEMPLATES:
        link, shown = run.offer_links(renewal, client)
        template = STEP_TEMPLATES[step]
        run.send(messages.offer_message(template, renewal, client, run.company, shown), renewal, template, day, link)
    elif step == "sales_alert":
        recipient = run.company.get("sales_email") or run.company.get("email")
        if recipient:
            run.send(messages.sales_alert(renewal, client, run.company, recipient), renewal, "sales_alert", day)
        else:
            run.summary.without_recipient.append(renewal["contract_id"])
    elif step == "decision_message":
        message = messages.decision_message(renewal, client, run.company)
        template = "renewal_declined" if renewal["decision"] == "declined" else "renewal_confirmation"
        run.send(message, renewal, template, renewal["decided_on"])
    with run.conn, run.conn.cursor() as cur:
        if step in ("auto_renew", "expire"):
            lock_client(cur, renewal["client_id"])
            if store.renewals(run.conn, for_update=True, contract_id=renewal["contract_id"])[
                    renewal["contract_id"]]["decision"] is not None:
                return  # the client answered while this run was on its way
        if step == "auto_renew":
            renew(cur, renewal, "same", decision="auto_renewed",
                  decided_by=f"auto-renew (no decline by {renewal['end_date']})", day=day)
        elif step == "expire":
            store.record_decision(cur, renewal["contract_id"], decision="expired", day=day,
                                  decided_by=f"no answer by {renewal['end_date']}")
        else:
            store.mark(cur, renewal["contract_id"], STEP_COLUMNS.get(step, "decision_sent_on"), day)
    run.summary.record(step, renewal["contract_id"])


def run_day(run: _Run, day: date) -> None:
    renewals = store.renewals(run.conn)
    run.conn.commit()
    for contract in run.contracts:
        found = renewals.get(contract["contract_id"])
        if found is None:
            if offer_due(day, contract["start_date"], contract["end_date"]):
                _offer(run, contract, day)
        elif found["decision"] is None and (found["end_date"], found["auto_renew"]) != (contract["end_date"],
                                                                                         contract["auto_renew"]):
            with run.conn, run.conn.cursor() as cur:
                store.follow_contract(cur, contract["contract_id"], contract["end_date"], contract["auto_renew"])
            renewals[contract["contract_id"]] = {**found, "end_date": contract["end_date"],
                                                 "auto_renew": contract["auto_renew"]}
    for contract_id, renewal in sorted(renewals.items()):
        # a step may lead to another the same day (an auto-renewal to its confirmation)
        for _ in range(3):  # every step records its day, so this ends after two rounds at most
            due = steps_due(day, store.state_of(renewal))
            if not due:
                break
            for step in due:
                _step(run, renewal, step, day)
            renewal = store.renewals(run.conn, contract_id=contract_id)[contract_id]
            run.conn.commit()


def run_days(conn, channels: Channels, first: date, last: date, backoff_seconds: Seconds = 1.0) -> RenewalRunSummary:
    """Every day first..last in order; idempotent."""
    summary = RenewalRunSummary()
    settle_interrupted(conn, channels, summary.messages)
    run = _Run(conn, channels, summary, backoff_seconds)
    day = first
    while day <= last:
        run_day(run, day)
        day += timedelta(days=1)
    return summary
