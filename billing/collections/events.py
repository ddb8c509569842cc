"""Payment provider events (collections.md section 5): what Stripe reports, stored once per
(provider, event id) in billing.provider_events with the business day it arrived, then
applied so that arriving late, twice or out of order changes nothing:

- Stripe `payment_intent.*` move the attempt named by the intent's `vigil_key` metadata
  forward through the state machine (billing/payments.settle), dated by the day of arrival;
- Stripe `setup_intent.succeeded` with `vigil_client` metadata sets that client's payment
  method (a replacement made through the provider's own page).

Delivery events of SendGrid and Twilio attach to their message (billing/messaging/tracking.py).

Signatures are checked by the web application before anything here runs."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg2.extras

from billing.collections.methods import set_from_portal
from billing.payments import Outcome, outcome_of_intent, settle


def record_event(cur, *, provider: str, event_id: str, event_type: str, object_id: str | None,
                 occurred_at: datetime | None, for_date: date, payload: dict) -> int | None:
    """Store an event; None when this (provider, event id) was stored before."""
    cur.execute(
        """insert into billing.provider_events (provider, event_id, event_type, object_id, occurred_at, for_date,
               payload) values (%s, %s, %s, %s, %s, %s, %s)
           on conflict (provider, event_id) do nothing returning provider_event_id""",
        (provider, event_id, event_type, object_id, occurred_at, for_date, psycopg2.extras.Json(payload)),
    )
    row = cur.fetchone()
    return row[0] if row else None


def _outcome_of(event_type: str, intent: dict) -> Outcome | None:
    """What an event says happened, by its type (the object shows the intent at that time)."""
    if event_type == "payment_intent.succeeded":
        return Outcome("succeeded", intent.get("id"))
    if event_type == "payment_intent.processing":
        return Outcome("processing", intent.get("id"))
    if event_type in ("payment_intent.payment_failed", "payment_intent.canceled"):
        found = outcome_of_intent(intent)
        if found.status == "failed":
            return found
        return Outcome("failed", intent.get("id"), "canceled" if event_type.endswith("canceled") else "payment_failed")
    return None


def apply_stripe_event(conn, event: dict, for_date: date) -> str:
    """Store and apply one verified Stripe event arriving on business day `for_date`;
    returns what it changed, in words (kept with the event)."""
    intent = (event.get("data") or {}).get("object") or {}
    created = datetime.fromtimestamp(event["created"], UTC) if event.get("created") else None
    with conn, conn.cursor() as cur:
        stored = record_event(cur, provider="stripe", event_id=event["id"], event_type=event["type"],
                              object_id=intent.get("id"), occurred_at=created, for_date=for_date, payload=event)
    if stored is None:
        return "duplicate: already received"
    outcome = _apply(conn, event["type"], intent, for_date)
    with conn, conn.cursor() as cur:
        cur.execute("update billing.provider_events set outcome = %s where provider_event_id = %s", (outcome, stored))
    return outcome


def _apply(conn, event_type: str, intent: dict, for_date: date) -> str:
    metadata = intent.get("metadata") or {}
    if event_type == "setup_intent.succeeded" and metadata.get("vigil_client") and intent.get("payment_method"):
        method = intent["payment_method"]
        method = method if isinstance(method, str) else method.get("id")
        with conn, conn.cursor() as cur:
            set_from_portal(cur, metadata["vigil_client"], method, for_date)
        return f"payment method of {metadata['vigil_client']} set to {method} from {for_date}"
    outcome = _outcome_of(event_type, intent)
    if outcome is None:
        return f"ignored: {event_type}"
    key = metadata.get("vigil_key")
    with conn.cursor() as cur:
        cur.execute("""select payment_attempt_id, status from billing.payment_attempts
                       where idempotency_key = %s or (%s::text is null and provider_ref = %s)""",
                    (key, key, intent.get("id")))
        found = cur.fetchone()
    conn.commit()
    if found is None:
        return f"no attempt with key {key!r}: nothing changed"
    attempt_id, before = found
    after = settle(conn, attempt_id, outcome, for_date)
    if after is None:
        return f"{key}: no change ({before}; an event is never allowed to move an attempt back)"
    return f"{key}: {before} -> {after} on {for_date}"

