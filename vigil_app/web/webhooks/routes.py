"""The provider webhooks' routes (interfaces.md section 7)."""

from __future__ import annotations

from starlette.routing import Route

from vigil_app.web.webhooks.sendgrid import sendgrid
from vigil_app.web.webhooks.twilio import twilio

routes: list = [
    Route("/sendgrid", sendgrid, methods=["POST"]),
    Route("/twilio", twilio, methods=["POST"]),
]
