"""The finance console's routes (interfaces.md section 7): every page needs a signed-in user
(vigil_app/web/console/session.py); every POST a CSRF token, and the finance role to change
anything."""

from __future__ import annotations

from starlette.responses import RedirectResponse
from starlette.routing import Route

from vigil_app.web.console import findings, invoices, payments, reports, signin


async def home(request):
    return RedirectResponse("/console/findings", status_code=303)


routes: list = [
    Route("/", home, methods=["GET"]),
    Route("/sign-in", signin.sign_in_page, methods=["GET"]),
    Route("/sign-in", signin.sign_in, methods=["POST"]),
    Route("/sign-out", signin.sign_out, methods=["POST"]),
    Route("/findings", findings.findings_page, methods=["GET"]),
    Route("/findings/group/{group_id}", findings.group_page, methods=["GET"]),
    Route("/findings/preview", findings.preview_page, methods=["POST"]),
    Route("/findings/resolve", findings.resolve, methods=["POST"]),
    Route("/findings/{finding_id}", findings.finding_page, methods=["GET"]),
    Route("/records/{ref:path}", findings.record_page, methods=["GET"]),
    Route("/held", invoices.held_page, methods=["GET"]),
    Route("/invoices", invoices.invoices_page, methods=["GET"]),
    Route("/invoices/{invoice_id}", invoices.invoice_page, methods=["GET"]),
    Route("/invoices/{invoice_id}/pdf", invoices.invoice_pdf, methods=["GET"]),
    Route("/payments", payments.payments_page, methods=["GET"]),
    Route("/kpis", reports.kpis_page, methods=["GET"]),
    Route("/audit", reports.audit_page, methods=["GET"]),
]
