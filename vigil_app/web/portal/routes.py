"""The client portal (interfaces.md section 7): every page is reached through a signed link
(billing/links.py) and shows only that link's client. A tampered, expired or other
client's link answers 403 and shows nothing of any client."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from billing.links import LinkRefused, read_grant
from vigil import clock, db
from vigil_app.web.pages import forbidden, render
from vigil_app.web.portal.renewals import routes as renewal_routes


def business_today(conn):
    """The portal judges expiry and dates what it records by the business clock."""
    return clock.read_clock(conn).today(datetime.now(UTC))


def _client_invoices(conn, client_id: str) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(
            """select i.invoice_number, i.status, i.issue_date, i.due_date, i.total, i.currency,
                      i.total - coalesce(sum(e.amount) filter (where e.entry_type in ('payment', 'credit')), 0)
               from billing.invoices i left join billing.ledger_entries e using (invoice_id)
               where i.client_id = %s and i.invoice_number is not null and i.status <> 'void'
               group by i.invoice_id order by i.issue_date desc, i.invoice_number desc""",
            (client_id,),
        )
        columns = ("number", "status", "issue_date", "due_date", "total", "currency", "balance")
        return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]


async def invoices(request: Request) -> Response:
    token = request.path_params["token"]
    with db.transaction() as conn:
        try:
            grant = read_grant(token, business_today(conn))
        except LinkRefused:
            return forbidden()
        rows = [row for row in _client_invoices(conn, grant.client_id) if grant.allows_invoice(row["number"])]
        with conn.cursor() as cur:
            cur.execute("select client_name from marts.dim_clients where client_id = %s", (grant.client_id,))
            found = cur.fetchone()
    return render("portal/invoices.html.j2", client_name=found[0] if found else grant.client_id,
                  invoices=rows, token=token)


routes = [Route("/{token}", invoices, methods=["GET"]), *renewal_routes]
