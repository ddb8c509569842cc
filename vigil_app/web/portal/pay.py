"""The portal's Pay button and payment-method replacement (interfaces.md section 7,
collections.md sections 2-4), reached through a signed link like every portal page.

Pay: a provider payment for the invoice's balance, attempt key `vigil:<invoice>:link:<n>`,
through the same attempt state machine as auto-pay (billing/payments.py): recorded before
the provider is called, refused while another attempt of the invoice is open, and for
nothing once the balance is zero, so two successful charges for one balance cannot
happen. Replace: a SetupIntent for the new method, in force from today's business day
(auto-pay charges it on the next day that runs). In test mode (VIGIL_PAYMENTS=local) the
client picks one of Stripe's documented test payment methods and localstripe answers; with
a real account both go through Stripe Checkout. Every form carries a CSRF token bound to
the link; what is recorded is dated by the business clock."""

from __future__ import annotations

import os

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from billing.collections.methods import methods_in_force, set_from_portal
from billing.ledger import balance_on
from billing.links import Grant, LinkRefused, public_url, read_grant
from billing.payments import StripeGateway, record_attempt, send, settle
from vigil import config, currency, db
from vigil_app.web import csrf
from vigil_app.web.pages import forbidden, render
from vigil_app.web.portal.invoices import business_today

# Stripe's documented test payment methods offered in test mode (collections.md section 6).
TEST_METHODS = {
    "pm_card_visa": "Visa (approved)",
    "pm_card_mastercard": "Mastercard (approved)",
    "pm_usBankAccount": "ACH bank debit (the bank answers days later)",
    "pm_card_chargeDeclined": "Card declined",
    "pm_card_chargeDeclinedInsufficientFunds": "Card declined: insufficient funds",
    "pm_card_chargeDeclinedLostCard": "Card declined: lost card",
    "pm_card_chargeDeclinedExpiredCard": "Card declined: expired card",
}


def gateway() -> StripeGateway | None:
    """The provider as VIGIL_PAYMENTS says; None when online payment is off."""
    mode = config.payments_mode()
    if mode == "off":
        return None
    if mode == "local":
        base = os.environ.get("STRIPE_API_BASE")
        return StripeGateway(api_key="sk_test_vigil_local", api_base=base) if base else None
    return StripeGateway(api_key=os.environ["STRIPE_API_KEY"], api_base=os.environ.get("STRIPE_API_BASE") or None)


def _invoice(conn, grant: Grant, number: str) -> dict | None:
    """The link's client's invoice `number`, if the link may open it (else None: 403)."""
    if not grant.allows_invoice(number):
        return None
    with conn.cursor() as cur:
        cur.execute("""select i.invoice_id, i.invoice_number, i.status, i.total, i.currency, i.due_date, c.client_name
                       from billing.invoices i left join marts.dim_clients c using (client_id)
                       where i.invoice_number = %s and i.client_id = %s and i.status not in ('void', 'held')
                         and i.credit_for is null""", (number, grant.client_id))
        row = cur.fetchone()
        if row is None:
            return None
        invoice = dict(zip(("invoice_id", "number", "status", "total", "currency", "due_date", "client_name"), row,
                           strict=True))
        invoice["balance"] = balance_on(cur, invoice["invoice_id"])
        cur.execute("""select attempt_no, status, failure_message, channel from billing.payment_attempts
                       where invoice_id = %s order by payment_attempt_id desc limit 1""", (invoice["invoice_id"],))
        last = cur.fetchone()
    invoice["last_attempt"] = dict(zip(("attempt_no", "status", "message", "channel"), last, strict=True)) \
        if last else None
    code = invoice["currency"]
    invoice["shown_total"] = currency.display(invoice["total"], code)
    invoice["shown_balance"] = currency.display(max(invoice["balance"], 0), code)
    return invoice


def _pay_page(token: str, number: str, **extra) -> Response:
    with db.transaction() as conn:
        grant = _grant_by_token(conn, token)
        invoice = _invoice(conn, grant, number) if grant else None
    if invoice is None:
        return forbidden()
    mode = config.payments_mode()
    return render("portal/pay.html.j2", invoice=invoice, token=token, mode=mode, methods=TEST_METHODS,
                  csrf_token=csrf.token(token, f"pay:{number}"), **{"note": None, "error": None, **extra})


def _grant_by_token(conn, token: str) -> Grant | None:
    try:
        return read_grant(token, business_today(conn))
    except LinkRefused:
        return None


async def pay_page(request: Request) -> Response:
    note = {"paid": "Thank you: your payment was received.",
            "processing": "Thank you: your bank debit is on its way; it takes a few days to clear.",
            "failed": "The payment did not go through.", "busy": "A payment of this invoice is already on its way.",
            "nothing": "Nothing is owed on this invoice."}.get(request.query_params.get("outcome", ""))
    return await run_in_threadpool(_pay_page, request.path_params["token"], request.path_params["number"],
                                   note=note)


def _pay(token: str, number: str, chosen: str) -> tuple[str, str | None]:
    """(outcome word, a URL to send the client to when the provider hosts the payment)."""
    provider = gateway()
    conn = db.connect()
    try:
        grant = _grant_by_token(conn, token)
        invoice = _invoice(conn, grant, number) if grant else None
        conn.commit()
        if invoice is None:
            return "forbidden", None
        today = business_today(conn)
        live = config.payments_mode() == "stripe"
        if provider is None or (not live and chosen not in TEST_METHODS):
            return "failed", None
        method = "checkout" if live else chosen
        attempt = record_attempt(conn, invoice_id=invoice["invoice_id"], number=number, client_id=grant.client_id,
                                 channel="link", reason="link", day=today, currency=invoice["currency"],
                                 payment_method=method, method="card" if live else provider.method_type(chosen))
        if attempt is None:
            return ("nothing" if invoice["balance"] <= 0 else "busy"), None
        if live:
            page = f"{public_url()}/portal/{token}/invoices/{number}/pay"
            return "redirect", provider.checkout_payment(attempt, success_url=f"{page}?outcome=processing",
                                                         cancel_url=page)
        outcome = send(provider, attempt, off_session=False)
        settle(conn, attempt["payment_attempt_id"], outcome, today)
        return {"succeeded": "paid"}.get(outcome.status, outcome.status), None
    finally:
        conn.close()


async def pay_submit(request: Request) -> Response:
    token, number = request.path_params["token"], request.path_params["number"]
    form = await request.form()
    if not csrf.same_origin(request) or not csrf.valid(token, f"pay:{number}", form.get(csrf.FIELD)):
        return forbidden("This form has expired: open the link again.")
    outcome, url = await run_in_threadpool(_pay, token, number, str(form.get("payment_method", "")))
    if outcome == "forbidden":
        return forbidden()
    return RedirectResponse(url or f"/portal/{token}/invoices/{number}/pay?outcome={outcome}", status_code=303)


def _method_page(token: str, **extra) -> Response:
    with db.transaction() as conn:
        grant = _grant_by_token(conn, token)
        if grant is None:
            return forbidden()
        with conn.cursor() as cur:
            cur.execute("select client_name, payment_method, autopay from marts.dim_clients where client_id = %s",
                        (grant.client_id,))
            found = cur.fetchone()
            current = methods_in_force(cur, business_today(conn)).get(grant.client_id) or (found[1] if found else None)
    return render("portal/payment_method.html.j2", token=token, client_name=found[0] if found else grant.client_id,
                  current=current, autopay=bool(found and found[2]), mode=config.payments_mode(),
                  methods=TEST_METHODS, csrf_token=csrf.token(token, "payment-method"),
                  **{"note": None, "error": None, **extra})


async def method_page(request: Request) -> Response:
    saved = request.query_params.get("saved")
    return await run_in_threadpool(_method_page, request.path_params["token"],
                                   note="Your new payment method is saved: it is charged from the next business day."
                                   if saved else None)


def _replace(token: str, chosen: str) -> tuple[str, str | None]:
    provider = gateway()
    conn = db.connect()
    try:
        grant = _grant_by_token(conn, token)
        if grant is None:
            return "forbidden", None
        today = business_today(conn)
        conn.commit()
        if provider is None:
            return "Online payment methods are not available.", None
        if config.payments_mode() == "stripe":
            page = f"{public_url()}/portal/{token}/payment-method"
            return "redirect", provider.checkout_setup(grant.client_id, success_url=f"{page}?saved=1",
                                                       cancel_url=page)
        if chosen not in TEST_METHODS:
            return "Choose one of the payment methods listed.", None
        saved, refused = provider.save_method(chosen, {"vigil_client": grant.client_id})
        if saved is None:
            return f"This payment method was refused: {refused}", None
        with conn, conn.cursor() as cur:
            set_from_portal(cur, grant.client_id, saved, today)
        return "saved", None
    finally:
        conn.close()


async def method_submit(request: Request) -> Response:
    token = request.path_params["token"]
    form = await request.form()
    if not csrf.same_origin(request) or not csrf.valid(token, "payment-method", form.get(csrf.FIELD)):
        return forbidden("This form has expired: open the link again.")
    outcome, url = await run_in_threadpool(_replace, token, str(form.get("payment_method", "")))
    if outcome == "forbidden":
        return forbidden()
    if url or outcome == "saved":
        return RedirectResponse(url or f"/portal/{token}/payment-method?saved=1", status_code=303)
    return await run_in_threadpool(_method_page, token, error=outcome)


routes = [
    Route("/{token}/invoices/{number}/pay", pay_page, methods=["GET"]),
    Route("/{token}/invoices/{number}/pay", pay_submit, methods=["POST"]),
    Route("/{token}/payment-method", method_page, methods=["GET"]),
    Route("/{token}/payment-method", method_submit, methods=["POST"]),
]
