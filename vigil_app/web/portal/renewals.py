"""The renewal offer page of the client portal (interfaces.md section 7, collections.md
section 7): reached through the signed link of a renewal message (scope
`renewal:<contract id>`), it shows what the contract was billed, its current prices and the
options with their prices, and takes the client's answer: Accept with an option, or
Decline, each recorded with the name given and dated by the business clock.

Every form carries a CSRF token bound to the link and the contract; a POST without a valid
one (or from another origin) is refused with 403 and changes nothing. A link for another
scope, client or contract shows nothing of any client."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from billing.links import LinkRefused, read_grant
from billing.renewals.decisions import DecisionRefused, decide
from billing.renewals.messages import OPTION_TITLES
from billing.renewals.options import dated_options
from vigil import clock, db
from vigil_app.web import csrf
from vigil_app.web.pages import forbidden, render

SCOPE_PREFIX = "renewal:"


def business_today(conn):
    """Links expire and decisions are dated by the business clock (VIGIL_TODAY when set)."""
    return clock.read_clock(conn).today(datetime.now(UTC))


def _contract_of(token: str, today) -> tuple[str, str] | None:
    """(client, contract) a link opens, or None when it opens no renewal offer."""
    try:
        grant = read_grant(token, today)
    except LinkRefused:
        return None
    if not grant.scope.startswith(SCOPE_PREFIX):
        return None
    return grant.client_id, grant.scope[len(SCOPE_PREFIX):]


def _page(conn, token: str, client_id: str, contract_id: str, today, *, error: str | None = None,
          status_code: int = 200) -> Response:
    with conn.cursor() as cur:
        cur.execute("""select r.end_date, r.auto_renew, r.offered_on, r.decision, r.decided_on, r.decided_by,
                              r.option, r.new_contract_id, r.new_terms, r.offer, c.client_name
                       from billing.renewals r left join marts.dim_clients c using (client_id)
                       where r.contract_id = %s and r.client_id = %s""", (contract_id, client_id))
        found = cur.fetchone()
    if found is None:
        return forbidden()
    columns = ("end_date", "auto_renew", "offered_on", "decision", "decided_on", "decided_by", "option",
               "new_contract_id", "new_terms", "offer", "client_name")
    renewal = dict(zip(columns, found, strict=True))
    options = dated_options(renewal["offer"], renewal["end_date"])
    return render("portal/renewal.html.j2", status_code=status_code, renewal=renewal, contract_id=contract_id,
                  client_name=renewal["client_name"] or client_id, today=today, error=error,
                  open=renewal["decision"] is None and renewal["offered_on"] <= today <= renewal["end_date"],
                  options=options, titles=OPTION_TITLES, csrf_token=csrf.token(token, f"{SCOPE_PREFIX}{contract_id}"))


async def offer_page(request: Request) -> Response:
    token = request.path_params["token"]
    with db.transaction() as conn:
        today = business_today(conn)
        opened = _contract_of(token, today)
        if opened is None:
            return forbidden()
        return _page(conn, token, *opened, today)


async def answer(request: Request) -> Response:
    token = request.path_params["token"]
    form = await request.form()
    conn = db.connect()
    try:
        with conn:
            today = business_today(conn)
        opened = _contract_of(token, today)
        if opened is None:
            return forbidden()
        client_id, contract_id = opened
        if not csrf.same_origin(request) or not csrf.valid(token, f"{SCOPE_PREFIX}{contract_id}",
                                                           form.get(csrf.FIELD)):
            return forbidden("This form is not valid any more: open the link from your message again.")
        try:
            decide(conn, contract_id=contract_id, client_id=client_id, action=str(form.get("action", "")),
                   option=form.get("option") or None, decided_by=str(form.get("name", "")), today=today)
        except DecisionRefused as refused:
            with conn:
                return _page(conn, token, client_id, contract_id, today, error=str(refused), status_code=409)
    finally:
        conn.close()
    return RedirectResponse(request.url.path, status_code=303)


routes = [
    Route("/{token}/renewal", offer_page, methods=["GET"]),
    Route("/{token}/renewal", answer, methods=["POST"]),
]
