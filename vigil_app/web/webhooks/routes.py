"""The provider webhooks' routes (interfaces.md section 7)."""

from __future__ import annotations

from starlette.routing import Route

from vigil_app.web.webhooks.stripe import stripe_events

routes: list = [Route("/stripe", stripe_events, methods=["POST"])]
