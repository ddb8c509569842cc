"""`POST /webhooks/stripe` (interfaces.md section 7, collections.md section 5): the
`Stripe-Signature` header checked with the stripe SDK's own helper against
STRIPE_WEBHOOK_SECRET, with a 5-minute tolerance on its timestamp; a bad or missing
signature answers 400 and changes nothing. A verified event is stored once per event id
and applied on the business day it arrives (the business clock: VIGIL_TODAY in tests);
billing/collections/events.py makes sure a repeated or out-of-order event changes nothing."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from billing.collections.events import apply_stripe_event
from vigil import clock, db

TOLERANCE_SECONDS = 300


def _verified(payload: bytes, header: str) -> dict | None:
    import stripe

    secret = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
    if not secret or not header:
        return None
    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), header, secret, tolerance=TOLERANCE_SECONDS)
        event = json.loads(payload)
    except (ValueError, stripe.SignatureVerificationError):
        return None
    return event if isinstance(event, dict) and event.get("id") and event.get("type") else None


def _apply(event: dict) -> str:
    conn = db.connect()
    try:
        today = clock.read_clock(conn).today(datetime.now(UTC))
        return apply_stripe_event(conn, event, today)
    finally:
        conn.close()


async def stripe_events(request: Request) -> JSONResponse:
    payload = await request.body()
    event = _verified(payload, request.headers.get("stripe-signature", ""))
    if event is None:
        return JSONResponse({"error": "missing or bad Stripe-Signature, or STRIPE_WEBHOOK_SECRET not set"},
                            status_code=400)
    outcome = await run_in_threadpool(_apply, event)
    return JSONResponse({"received": event["id"], "outcome": outcome})
