"""Rendering of console pages: the signed-in user, a CSRF token per form, the navigation and
the money and Dagster helpers every template uses."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from starlette.requests import Request
from starlette.responses import HTMLResponse

from vigil import clock, currency
from vigil_app.web import csrf
from vigil_app.web.pages import render

NAVIGATION = (
    ("findings", "Findings", "/console/findings"),
    ("held", "Held invoices", "/console/held"),
    ("invoices", "Invoices", "/console/invoices"),
    ("payments", "Payments and dunning", "/console/payments"),
    ("kpis", "KPIs", "/console/kpis"),
    ("audit", "Audit", "/console/audit"),
)


def money(amount: Decimal | None, code: str) -> str:
    return "" if amount is None else f"{currency.display(amount, code)} {code}"


def business_today(conn) -> date:
    return clock.read_clock(conn).today(datetime.now(UTC))


def page(request: Request, template: str, *, active: str, status_code: int = 200, **context) -> HTMLResponse:
    session = request.state.session
    return render(
        template,
        status_code=status_code,
        user=session.user,
        csrf=lambda form: csrf.token(session.session_id, form),
        csrf_field=csrf.FIELD,
        navigation=NAVIGATION,
        active=active,
        money=money,
        **context,
    )
