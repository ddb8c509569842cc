"""`POST /webhooks/sendgrid`: SendGrid's signed event webhook (interfaces.md section 7).

The body is verified with the ECDSA public key in SENDGRID_WEBHOOK_PUBLIC_KEY by the
sendgrid SDK's EventWebhook helper (over the timestamp header and the raw body). The SDK
checks no time, so a timestamp more than TOLERANCE_SECONDS from the wall clock is refused
too: a captured request cannot be replayed later. A bad or missing signature answers 400
and changes nothing; verified events go to billing/messaging/tracking.py."""

from __future__ import annotations

import json
import logging
import os
import time
from contextlib import closing
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from billing.messaging.tracking import record_events, sendgrid_events
from vigil import clock, db

SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
TOLERANCE_SECONDS = 300

log = logging.getLogger(__name__)


def verified(body: bytes, signature: str | None, timestamp: str | None, now: float) -> bool:
    """The signature is SendGrid's for this body and timestamp, and the timestamp is recent."""
    public_key = os.environ.get("SENDGRID_WEBHOOK_PUBLIC_KEY", "").strip()
    if not public_key:
        log.warning("SendGrid event refused: SENDGRID_WEBHOOK_PUBLIC_KEY is not set")
        return False
    if not signature or not timestamp:
        return False
    try:
        if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
            return False
        from sendgrid.helpers.eventwebhook import EventWebhook

        return bool(EventWebhook(public_key).verify_signature(body.decode("utf-8"), signature, timestamp))
    except (ValueError, TypeError, UnicodeDecodeError) as err:  # bad base64, bad DER, bad key, bad number
        log.warning("SendGrid event refused: %s", type(err).__name__)
        return False


def _record(events) -> dict:
    with closing(db.connect()) as conn:
        today = clock.read_clock(conn).today(datetime.now(UTC))
        return record_events(conn, events, today)


async def sendgrid(request: Request) -> Response:
    body = await request.body()
    if not verified(body, request.headers.get(SIGNATURE), request.headers.get(TIMESTAMP), time.time()):
        return PlainTextResponse("invalid signature", status_code=400)
    try:
        payload = json.loads(body)
    except ValueError:
        return PlainTextResponse("not JSON", status_code=400)
    if not isinstance(payload, list):
        return PlainTextResponse("expected a JSON array of events", status_code=400)
    events, ignored = sendgrid_events(payload)
    outcome = await run_in_threadpool(_record, events)
    outcome.ignored += ignored
    return JSONResponse(outcome.as_dict())
