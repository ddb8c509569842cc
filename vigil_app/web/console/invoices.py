"""Invoices in the console: every invoice (search by number or client, status, balance), one
invoice with its lines, hold reasons, messages and payments, its PDF, and the held invoices
with the findings holding each."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from billing import store
from billing.delivery import render_invoice, render_pdf
from vigil import config, db
from vigil_app.web.console import dagster_links
from vigil_app.web.console.session import signed_in
from vigil_app.web.console.view import page

STATUSES = ("held", "issued", "partially_paid", "paid", "delinquent", "in_collections", "void")
PAGE_SIZE = 200

_LIST_SQL = """
select i.invoice_id, i.invoice_number, i.status, i.kind, i.client_id, c.client_name, i.site_id, i.period_start,
       i.period_end, i.issue_date, i.due_date, i.total, i.currency, i.credit_for,
       i.total - coalesce((select sum(e.amount) from billing.ledger_entries e
                           where e.invoice_id = i.invoice_id and e.entry_type in ('payment', 'credit')), 0) as balance
from billing.invoices i left join marts.dim_clients c using (client_id)
where (%(q)s::text is null or i.invoice_number ilike %(like)s or i.client_id ilike %(like)s
       or c.client_name ilike %(like)s)
  and (%(status)s::text is null or i.status = %(status)s)
  and (not %(open_only)s or (i.invoice_number is not null and i.status not in ('paid', 'void')))
  and (%(id)s::bigint is null or i.invoice_id = %(id)s)
order by i.invoice_number is null desc, i.issue_date desc, i.invoice_number desc, i.invoice_id desc
limit %(limit)s
"""


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@signed_in
async def invoices_page(request: Request) -> Response:
    q = (request.query_params.get("q") or "").strip()
    status = request.query_params.get("status") or None
    status = status if status in STATUSES else None
    open_only = request.query_params.get("balance") == "open"
    with db.transaction() as conn:
        rows = store.rows(conn, _LIST_SQL, {"q": q or None, "like": _like(q), "status": status,
                                            "open_only": open_only, "id": None, "limit": PAGE_SIZE})
        links = dagster_links.current()
    return page(request, "console/invoices.html.j2", active="invoices", invoices=rows, q=q, status=status or "",
                statuses=STATUSES, open_only=open_only, limit=PAGE_SIZE, links=links)


def _invoice(conn, invoice_id: int) -> dict | None:
    found = store.rows(conn, _LIST_SQL, {"id": invoice_id, "q": None, "like": "", "status": None,
                                         "open_only": False, "limit": 1})
    return found[0] if found else None


@signed_in
async def invoice_page(request: Request) -> Response:
    try:
        invoice_id = int(request.path_params["invoice_id"])
    except ValueError:
        invoice_id = -1
    with db.transaction() as conn:
        invoice = _invoice(conn, invoice_id)
        if invoice is None:
            return page(request, "console/not_found.html.j2", active="invoices", status_code=404,
                        what="No such invoice.")
        lines = store.rows(conn, "select * from billing.invoice_lines where invoice_id = %s order by line_no",
                           (invoice_id,))
        holds = store.rows(
            conn,
            """select reason ->> 'finding_id' as finding_id, reason ->> 'type' as type, reason ->> 'message' as message,
                      coalesce(r.status, 'open') as status, r.reviewed_by, r.reviewed_on
               from billing.invoices i cross join lateral jsonb_array_elements(i.hold_reasons) reason
               left join billing.finding_reviews r on r.finding_id = reason ->> 'finding_id'
               where i.invoice_id = %s and i.status = 'held'""",
            (invoice_id,),
        )
        messages = store.rows(
            conn,
            """select m.message_id, m.template, m.channel, m.recipient, m.subject, m.status, m.business_date,
                      m.attempts, m.last_error,
                      array(select e.event || coalesce(': ' || e.detail, '') from billing.message_events e
                            where e.message_id = m.message_id order by e.occurred_at) as events
               from billing.messages m where m.invoice_id = %s order by m.business_date, m.message_id""",
            (invoice_id,),
        )
        attempts = store.rows(conn, """select attempt_no, attempt_date, amount, status, payment_method, provider_ref,
                                              failure_code, failure_message
                                       from billing.payment_attempts where invoice_id = %s order by attempt_no""",
                              (invoice_id,))
        ledger = store.rows(conn, """select entry_type, amount, effective_date, reference
                                     from billing.ledger_entries where invoice_id = %s
                                     order by effective_date, entry_id""", (invoice_id,))
        adjusted_by = store.rows(conn, """select distinct b.invoice_number from billing.adjustments a
                                          join billing.invoices b on b.invoice_id = a.billed_invoice_id
                                          where a.original_invoice_id = %s order by 1""", (invoice_id,))
        links = dagster_links.current()
    return page(request, "console/invoice.html.j2", active="invoices", invoice=invoice, lines=lines, holds=holds,
                messages=messages, attempts=attempts, ledger=ledger, adjusted_by=adjusted_by,
                links=links.invoice(invoice["invoice_number"], invoice["issue_date"]))


@signed_in
async def invoice_pdf(request: Request) -> Response:
    """The PDF sent to the client (kept under $VIGIL_HOME/invoices), or rendered now the same way."""
    try:
        invoice_id = int(request.path_params["invoice_id"])
    except ValueError:
        invoice_id = -1
    with db.transaction() as conn:
        found = store.rows(conn, """select i.*, c.client_name, c.email, c.phone, c.preferred_channel, c.autopay,
                                           c.payment_method
                                    from billing.invoices i join marts.dim_clients c using (client_id)
                                    where i.invoice_id = %s and i.invoice_number is not null""", (invoice_id,))
        if not found:
            return page(request, "console/not_found.html.j2", active="invoices", status_code=404,
                        what="No issued invoice with this id (a held invoice has no document yet).")
        invoice = found[0]
        kept = config.paths().pdfs / f"{invoice['invoice_number']}.pdf"
        if kept.is_file():
            pdf = kept.read_bytes()
        else:
            lines = store.rows(conn, "select * from billing.invoice_lines where invoice_id = %s order by line_no",
                               (invoice_id,))
            pdf = render_pdf(render_invoice(invoice, lines, invoice)[0])
    if pdf is None:
        return page(request, "console/not_found.html.j2", active="invoices", status_code=503,
                    what="PDF rendering is not available here (WeasyPrint's system libraries are missing).")
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{invoice["invoice_number"]}.pdf"'})


@signed_in
async def held_page(request: Request) -> Response:
    with db.transaction() as conn:
        held = store.rows(
            conn,
            """select i.invoice_id, i.client_id, c.client_name, i.site_id, i.kind, i.period_start, i.period_end,
                      i.issue_date, i.total, i.currency,
                      coalesce(jsonb_agg(jsonb_build_object(
                          'finding_id', reason ->> 'finding_id', 'type', reason ->> 'type',
                          'message', reason ->> 'message', 'status', coalesce(r.status, 'open')))
                          filter (where reason is not null), '[]') as holds
               from billing.invoices i left join marts.dim_clients c using (client_id)
               left join lateral jsonb_array_elements(i.hold_reasons) reason on true
               left join billing.finding_reviews r on r.finding_id = reason ->> 'finding_id'
               where i.status = 'held'
               group by i.invoice_id, c.client_name order by i.issue_date, i.client_id, i.invoice_id""",
        )
        links = dagster_links.current()
    return page(request, "console/held.html.j2", active="held", held=held, links=links.invoice(None))
