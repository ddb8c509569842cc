"""`POST /webhooks/twilio`: Twilio's message status callbacks (interfaces.md section 7).

`X-Twilio-Signature` is checked by the twilio SDK's RequestValidator with TWILIO_AUTH_TOKEN
over the URL Twilio called, which is the public one (VIGIL_PUBLIC_URL: behind a proxy the
request's own URL differs), and the form's parameters. A bad or missing signature answers
400 and changes nothing; verified statuses go to billing/messaging/tracking.py."""

from __future__ import annotations

import logging
import os
from contextlib import closing
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from billing.links import public_url
from billing.messaging.tracking import Outcome, record_events, twilio_event
from vigil import clock, db

SIGNATURE = "X-Twilio-Signature"

log = logging.getLogger(__name__)


def verified(url: str, params: dict[str, str], signature: str | None) -> bool:
    token = os.environ.get("TWILIO_AUTH_TOKEN", "")
    if not token:
        log.warning("Twilio callback refused: TWILIO_AUTH_TOKEN is not set")
        return False
    if not signature:
        return False
    from twilio.request_validator import RequestValidator

    return bool(RequestValidator(token).validate(url, params, signature))


def _record(form: dict[str, str]) -> Outcome:
    now = datetime.now(UTC)
    event = twilio_event(form, now)
    if event is None:
        return Outcome(ignored=1)
    with closing(db.connect()) as conn:
        return record_events(conn, [event], clock.read_clock(conn).today(now))


async def twilio(request: Request) -> Response:
    body = await request.body()
    try:
        params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return PlainTextResponse("not a form", status_code=400)
    url = public_url() + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not verified(url, params, request.headers.get(SIGNATURE)):
        return PlainTextResponse("invalid signature", status_code=400)
    outcome = await run_in_threadpool(_record, params)
    return JSONResponse(outcome.as_dict())
