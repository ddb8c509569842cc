"""A range of business days of collections, run as if each day ran on its own, in order
(collections.md section 0): for each day, the steps of billing/collections/__init__.py one
after the other. Everything a step does is dated by that day and keyed so that doing it
again is nothing: a second run over the same days changes nothing.

What is learned from outside (a provider's answer to a poll, a changed contract file)
belongs to the day it is learned: the latest day processed or a later one. A day before
that (a range run again) is a replay: it acts on what is dated by then and asks nobody.

One run at a time (a PostgreSQL advisory lock held for the whole range); webhooks and the
portal may act meanwhile, under the ledger's per-client lock and the attempt's row lock."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from billing.collections.autopay import charge_day
from billing.collections.dunning import update_dunning
from billing.collections.messages import company
from billing.collections.methods import sync_contract_methods
from billing.collections.notices import send_failure_notices, send_receipts
from billing.collections.received import apply_received
from billing.collections.reminders import send_reminders
from billing.ledger import apply_client_credits
from billing.messaging.channels import Channels
from billing.messaging.outbox import SendSummary, settle_interrupted
from vigil.clock import Seconds

LOCK = "vigil.collections"


@dataclass
class CollectionsSummary:
    """What a run of days did, step by step (the Dagster assets' metadata)."""

    first: date | None = None
    last: date | None = None
    payments_mode: str = "off"
    received: list[str] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    credits_applied: int = 0
    attempted: Counter = field(default_factory=Counter)  # due | retry | new_method
    outcomes: Counter = field(default_factory=Counter)  # succeeded | failed | processing | unknown
    reconciled: int = 0
    frozen: int = 0
    receipts: int = 0
    failure_notices: int = 0
    reminders: int = 0
    delinquent: list[str] = field(default_factory=list)
    handed_off: list[str] = field(default_factory=list)
    messages: SendSummary = field(default_factory=SendSummary)
    per_day: dict[date, Counter] = field(default_factory=dict)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def latest_day(conn) -> date | None:
    """The latest business day collections has processed."""
    with conn.cursor() as cur:
        cur.execute("select max(day) from billing.collection_days")
        found = cur.fetchone()[0]
    conn.commit()
    return found


def run_day(conn, day: date, *, gateway, channels: Channels, summary: CollectionsSummary, company_facts: dict,
            backoff_seconds: Seconds = 1.0, now: datetime | None = None, replay: bool = False) -> None:
    """Every step of one business day, in order. A `replay` (a day before the latest one
    processed) acts only on what is dated by then: nobody is asked anything new."""
    counts = summary.per_day.setdefault(day, Counter())
    received = apply_received(conn, day)
    summary.received += received.applied
    summary.refused |= received.refused
    counts["received"] += len(received.applied)
    with conn, conn.cursor() as cur:
        if not replay:
            sync_contract_methods(cur, day)
        summary.credits_applied += len(apply_client_credits(cur, day))
    if gateway is not None:
        charged = charge_day(conn, gateway, day, now, ask_provider=not replay)
        summary.attempted.update(charged.attempted)
        summary.outcomes.update(charged.outcomes)
        summary.reconciled += charged.reconciled
        summary.frozen = charged.frozen
        counts["charges"] += sum(charged.attempted.values())
        counts["retries"] += charged.attempted["retry"]
        counts["failed"] += charged.outcomes["failed"]
    sent = send_receipts(conn, channels, day, summary.messages, company_facts, backoff_seconds)
    summary.receipts += sent
    counts["receipts"] += sent
    sent = send_failure_notices(conn, channels, day, summary.messages, company_facts, backoff_seconds)
    summary.failure_notices += sent
    reminders = SendSummary()
    sent = send_reminders(conn, channels, day, reminders, company_facts, backoff_seconds)
    summary.messages.sent += reminders.sent
    summary.messages.failed += reminders.failed
    for channel, n in reminders.by_channel.items():
        summary.messages.by_channel[channel] = summary.messages.by_channel.get(channel, 0) + n
    summary.reminders += sent
    counts["reminders"] += sent
    dunning = update_dunning(conn, day)
    summary.delinquent += dunning.delinquent
    summary.handed_off += dunning.handed_off
    counts["delinquent"] += len(dunning.delinquent)
    counts["handed_off"] += len(dunning.handed_off)
    with conn, conn.cursor() as cur:
        cur.execute("insert into billing.collection_days (day) values (%s) on conflict do nothing", (day,))


def run_days(conn, first: date, last: date, *, gateway, channels: Channels, payments_mode: str = "off",
             backoff_seconds: Seconds = 1.0, now: datetime | None = None) -> CollectionsSummary:
    """Run every day first..last in order. `gateway` None: auto-pay is off (nothing is
    charged, and reminders, receipts of payments received and dunning go on)."""
    summary = CollectionsSummary(first=first, last=last, payments_mode=payments_mode)
    with conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_lock(hashtext(%s))", (LOCK,))
    try:
        settle_interrupted(conn, channels, summary.messages)
        company_facts = company(conn)
        latest = latest_day(conn)
        for day in _days(first, last):
            run_day(conn, day, gateway=gateway, channels=channels, summary=summary, company_facts=company_facts,
                    backoff_seconds=backoff_seconds, now=now, replay=latest is not None and day < latest)
    finally:
        conn.rollback()
        with conn, conn.cursor() as cur:
            cur.execute("select pg_advisory_unlock(hashtext(%s))", (LOCK,))
    return summary
