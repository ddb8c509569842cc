"""The client's invoices in the portal: the list with status and balance, each invoice or
credit note as HTML (the same document as the email and the PDF) and as its PDF, portal
notices (the portal channel) with a form to dismiss them, and short links.

Every page is reached through a signed link (billing/links.py) judged by the business
clock. A tampered, expired or other client's link, and a link used for an invoice it does
not cover (another client's, or another invoice than the one it was made for), answers
403 and shows nothing of any client. The Pay button leads to
`/portal/<token>/invoices/<number>/pay` (vigil_app/web/portal/pay.py)."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, date, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from billing import short_links
from billing.documents import Links, ensure_pdf, load_document
from billing.links import Grant, LinkRefused, invoice_path, read_grant
from vigil import clock, config, db
from vigil_app.web import csrf
from vigil_app.web.pages import forbidden, render

DISMISS_FORM = "dismiss-notice"


def business_today(conn) -> date:
    """The portal judges expiry and dates what it records by the business clock."""
    return clock.read_clock(conn).today(datetime.now(UTC))


def _grant(conn, token: str) -> Grant | None:
    try:
        return read_grant(token, business_today(conn))
    except LinkRefused:
        return None


def _company_name(cur) -> str:
    """The seller's name for the page header (the mart exists once dbt has built)."""
    cur.execute("select to_regclass('marts.dim_company') is not null")
    if not cur.fetchone()[0]:
        return "Vigil"
    cur.execute("select company_name from marts.dim_company limit 1")
    found = cur.fetchone()
    return found[0] if found else "Vigil"


def _client_invoices(cur, client_id: str) -> list[dict]:
    cur.execute(
        """select i.invoice_number, i.status, i.issue_date, i.due_date, i.total, i.currency, i.credit_for,
                  coalesce(sum(e.amount) filter (where e.entry_type in ('payment', 'credit')), 0) as paid
           from billing.invoices i left join billing.ledger_entries e using (invoice_id)
           where i.client_id = %s and i.invoice_number is not null and i.status <> 'void'
           group by i.invoice_id order by i.issue_date desc, i.invoice_number desc""",
        (client_id,),
    )
    columns = ("number", "status", "issue_date", "due_date", "total", "currency", "credit_for", "paid")
    rows = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
    for row in rows:
        row["balance"] = None if row["credit_for"] else row["total"] - row["paid"]
    return rows


def _notices(cur, grant: Grant) -> list[dict]:
    cur.execute(
        """select n.notice_id, n.title, n.posted_on, i.invoice_number
           from billing.portal_notices n left join billing.invoices i using (invoice_id)
           where n.client_id = %s and n.dismissed_on is null order by n.posted_on desc, n.notice_id desc""",
        (grant.client_id,),
    )
    return [{"notice_id": notice_id, "title": title, "posted_on": posted_on, "number": number}
            for notice_id, title, posted_on, number in cur.fetchall() if number is None or grant.allows_invoice(number)]


def invoices(request: Request) -> Response:
    token = request.path_params["token"]
    with db.transaction() as conn:
        grant = _grant(conn, token)
        if grant is None:
            return forbidden()
        with conn.cursor() as cur:
            rows = [row for row in _client_invoices(cur, grant.client_id) if grant.allows_invoice(row["number"])]
            notices = _notices(cur, grant)
            cur.execute("select client_name from marts.dim_clients where client_id = %s", (grant.client_id,))
            found = cur.fetchone()
            company = _company_name(cur)
    return render("portal/invoices.html.j2", client_name=found[0] if found else grant.client_id, invoices=rows,
                  notices=notices, token=token, company=company, expires=grant.expires,
                  csrf_token=csrf.token(token, DISMISS_FORM))


def _document(conn, token: str, number: str):
    """The document `token` may open, or None (then the answer is 403, whatever the reason)."""
    grant = _grant(conn, token)
    if grant is None or not grant.allows_invoice(number):
        return None, None
    doc = load_document(conn, number)
    if doc is None or doc.bill_to.client_id != grant.client_id or doc.status == "void":
        return None, None
    return grant, doc


def invoice_page(request: Request) -> Response:
    token, number = request.path_params["token"], request.path_params["number"]
    with db.transaction() as conn:
        grant, doc = _document(conn, token, number)
    if doc is None:
        return forbidden()
    page = invoice_path(token, number)
    doc = doc.with_links(Links(view=page, pay=f"{page}/pay" if doc.payable else None, expires=grant.expires))
    return render("portal/invoice.html.j2", doc=doc, mode="portal", token=token, pdf_url=f"{page}/pdf",
                  list_url=f"/portal/{token}" if grant.scope == "invoices" else None, company=doc.company.name)


def invoice_pdf(request: Request) -> Response:
    token, number = request.path_params["token"], request.path_params["number"]
    with closing(db.connect()) as conn:  # ensure_pdf commits what it records (short links)
        _, doc = _document(conn, token, number)
        path = ensure_pdf(conn, number, config.paths().pdfs) if doc is not None else None
    if path is None:
        return forbidden()
    return FileResponse(path, media_type="application/pdf", filename=f"{number}.pdf")


def _dismiss(token: str, notice_id: int) -> bool:
    with db.transaction() as conn:
        grant = _grant(conn, token)
        if grant is None:
            return False
        with conn.cursor() as cur:
            cur.execute("""update billing.portal_notices set dismissed_on = %s
                           where notice_id = %s and client_id = %s and dismissed_on is null""",
                        (business_today(conn), notice_id, grant.client_id))
    return True


async def dismiss_notice(request: Request) -> Response:
    """POST: the notice is dismissed on today's business date; refused without this link's
    CSRF token for this form, or from another site."""
    token = request.path_params["token"]
    form = await request.form()
    if not csrf.same_origin(request) or not csrf.valid(token, DISMISS_FORM, form.get(csrf.FIELD)):
        return forbidden("This form is not valid. Reload the page and try again.")
    try:
        notice_id = int(request.path_params["notice_id"])
    except ValueError:
        return forbidden()
    if not await run_in_threadpool(_dismiss, token, notice_id):
        return forbidden()
    return RedirectResponse(f"/portal/{token}", status_code=303)


def short_link(request: Request) -> Response:
    """`/portal/s/<code>`: on to the signed page the code was made for (which judges it)."""
    with db.transaction() as conn, conn.cursor() as cur:
        target = short_links.resolve(cur, request.path_params["code"])
    if target is None:
        return forbidden()
    return RedirectResponse(target, status_code=303)
