"""The renewals pipeline (collections.md section 7): every contract that reached its renewal
window, where it stands, and the renewal KPIs of the business day (billing/renewals)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from billing.renewals.kpis import renewal_kpis
from billing.renewals.store import renewals, state_of
from billing.renewals.timeline import status
from vigil import db
from vigil_app.web.console.session import signed_in
from vigil_app.web.console.view import business_today, page


@signed_in
async def renewals_page(request: Request) -> Response:
    with db.transaction() as conn:
        today = business_today(conn)
        rows = sorted(renewals(conn).values(), key=lambda row: (row["end_date"], row["contract_id"]))
        kpis = renewal_kpis(conn, today)
    pipeline = [{**row, "status": status(state_of(row), today)} for row in rows]
    return page(request, "console/renewals.html.j2", active="renewals", today=today, pipeline=pipeline, kpis=kpis)
