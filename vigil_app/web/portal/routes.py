"""The client portal's routes (interfaces.md section 7): every page is reached through a
signed link (billing/links.py) and shows only that link's client. A tampered, expired or
other client's link answers 403 and shows nothing of any client."""

from __future__ import annotations

from starlette.routing import Route

from vigil_app.web.portal import invoices
from vigil_app.web.portal.invoices import business_today

__all__ = ["business_today", "routes"]

routes = [
    Route("/s/{code}", invoices.short_link, methods=["GET"]),
    Route("/{token}", invoices.invoices, methods=["GET"]),
    Route("/{token}/invoices/{number}", invoices.invoice_page, methods=["GET"]),
    Route("/{token}/invoices/{number}/pdf", invoices.invoice_pdf, methods=["GET"]),
    Route("/{token}/notices/{notice_id}/dismiss", invoices.dismiss_notice, methods=["POST"]),
    # the Pay button and the payment-method page: vigil_app/web/portal/pay.py (collections)
]
