"""The KPI page (billing/kpis.py, charts drawn as SVG on the server) and the audit log."""

from __future__ import annotations

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from billing.kpis import charts, monthly_kpis
from vigil import db
from vigil_app import audit
from vigil_app.web.console import dagster_links
from vigil_app.web.console.session import signed_in
from vigil_app.web.console.view import business_today, page


@signed_in
async def kpis_page(request: Request) -> Response:
    with db.transaction() as conn:
        today = business_today(conn)
        rows = monthly_kpis(conn, today)
        links = dagster_links.current()
    # The SVG is built by billing/charts.py from numbers and escaped labels only.
    drawn = [(name, title, Markup(svg)) for name, title, svg in charts(rows)]
    return page(request, "console/kpis.html.j2", active="kpis", rows=rows, charts=drawn, today=today,
                links=links.kpis())


@signed_in
async def audit_page(request: Request) -> Response:
    actor = request.query_params.get("actor") or None
    action = request.query_params.get("action") or None
    with db.transaction() as conn:
        entries = audit.entries(conn, limit=500, actor=actor, action=action)
    return page(request, "console/audit.html.j2", active="audit", entries=entries, actor=actor or "",
                action=action or "")
