"""Payment attempts: one state machine for every charge Vigil makes (collections.md section 2,
issue 8 point 11), and the provider behind it (the stripe SDK; localstripe in test mode).

    pending --(provider answers)--> processing | succeeded | failed
    pending --(no answer: timeout, cut connection)--> unknown
    pending | unknown --(reconciled)--> processing | succeeded | failed
    processing --(webhook or polling)--> succeeded | failed

An attempt is recorded `pending` and committed before the provider is called, keyed
`vigil:<invoice>:<n>` (auto-pay) or `vigil:<invoice>:link:<n>` (a pay link); the key is the
provider's idempotency key and is in the charge's metadata. States only move forward
(`settle`): an answer, an event or a poll that arrives late or twice changes nothing. A
`pending` or `unknown` attempt freezes every further charge of its invoice until it is
reconciled (`reconcile`): the provider's own record is looked up by the key in its search
(no paging through the account); when the search has none, the very same request is sent
again with the same key while the provider still keeps keys (it answers with the first
charge if it had one, so there is never a second), and after that a search without the
charge proves it never reached the provider: the attempt is `failed` with failure code
`not_sent` and a new attempt may be made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg2.extras

from billing.collections.declines import classify
from billing.ledger import apply_money, balance_on, lock_client
from vigil import currency as currency_table

FINAL = ("succeeded", "failed")
STAGE = {"pending": 0, "unknown": 0, "processing": 1, "succeeded": 2, "failed": 2}
NOT_SENT = "not_sent"
# Stripe keeps idempotency keys at least 24 hours; within that, the same request is safe
# to send again. Its search shows a charge within a minute (an hour in an outage), so a
# search past the window that finds nothing proves the charge was never made.
RESEND_WINDOW = timedelta(hours=23)
# A pending attempt this young may be one whose request is still on its way.
IN_FLIGHT = timedelta(minutes=15)


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Integer minor units that equal the ledger amount exactly (vigil/iso4217.csv), or an error."""
    return currency_table.to_minor_units(amount, currency)


@dataclass(frozen=True)
class Outcome:
    """What the provider says (or that it said nothing) about one charge."""

    status: str  # processing | succeeded | failed | unknown
    provider_ref: str | None = None
    failure_code: str | None = None
    decline_code: str | None = None
    message: str | None = None
    advice_code: str | None = None

    @property
    def decline(self) -> str | None:
        """soft | hard for a charge the bank refused; None otherwise."""
        if self.status != "failed" or self.failure_code == NOT_SENT:
            return None
        return classify(self.failure_code, self.decline_code, self.advice_code)


class ProviderUnavailable(Exception):
    """No answer from the provider: a charge may or may not exist."""



def outcome_of_intent(intent: dict) -> Outcome:
    """A PaymentIntent (as the API or an event gives it) as an Outcome."""
    status = intent.get("status")
    ref = intent.get("id")
    if status == "succeeded":
        return Outcome("succeeded", ref)
    if status == "processing":
        return Outcome("processing", ref)
    error = intent.get("last_payment_error") or {}
    if status == "requires_payment_method" and error:
        return Outcome("failed", ref, error.get("code") or "payment_failed", error.get("decline_code"),
                       error.get("message"), error.get("advice_code"))
    if status == "canceled":
        return Outcome("failed", ref, "canceled", None, intent.get("cancellation_reason"))
    if status == "requires_action":
        return Outcome("failed", ref, "authentication_required", None, "the client must authenticate this payment")
    # requires_confirmation or requires_payment_method without an error: the charge was never attempted
    return Outcome("failed", ref, NOT_SENT, None, f"payment intent {status}: no charge was attempted")


class StripeGateway:
    """The stripe SDK, pointed at localstripe (`api_base`) in the demo and tests."""

    def __init__(self, api_key: str, api_base: str | None = None, timeout_seconds: int = 20,
                 test_clock: bool = False):
        import stripe

        self._stripe = stripe
        self._api_key, self._api_base, self._test_clock = api_key, api_base, test_clock
        options = {"max_network_retries": 0, "http_client": stripe.RequestsClient(timeout=timeout_seconds)}
        if api_base:
            options["base_addresses"] = {"api": api_base}
        self._client = stripe.StripeClient(api_key or "sk_test_vigil_local", **options)
        self._method_types: dict[str, str] = {}

    def advance_test_clock(self, day: date) -> None:
        """Test mode only (VIGIL_PAYMENTS=local): tell the local provider which business day it
        is, the way a Stripe test clock is advanced, so what settles days later (an ACH
        debit) settles on the right day. Does nothing against a real account."""
        if not self._test_clock or not self._api_base:
            return
        import requests

        midnight = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        requests.post(f"{self._api_base.rstrip('/')}/v1/test_helpers/test_clocks/vigil/advance",
                      data={"frozen_time": midnight}, auth=(self._api_key or "sk_test_vigil_local", ""),
                      timeout=10).raise_for_status()

    def method_type(self, payment_method: str) -> str:
        """`card` or `us_bank_account` (looked up once per method); `card` when unknown, so a
        method that does not exist fails where it is charged, with the provider's reason."""
        if payment_method not in self._method_types:
            try:
                found = self._client.v1.payment_methods.retrieve(payment_method)
            except self._stripe.StripeError:
                return "card"
            self._method_types[payment_method] = "us_bank_account" if found.type == "us_bank_account" else "card"
        return self._method_types[payment_method]

    def charge(self, *, amount_minor: int, currency: str, payment_method: str, method: str, key: str,
               metadata: dict[str, str], off_session: bool = True) -> Outcome:
        """Create and confirm one PaymentIntent; the same arguments give the same request, so
        sending it again with the same key is answered with the first charge."""
        stripe = self._stripe
        params = {
            "amount": amount_minor,
            "currency": currency.lower(),
            "payment_method": payment_method,
            "payment_method_types": [method],
            "confirm": True,
            "metadata": {**metadata, "vigil_key": key},
        }
        if off_session:
            params["off_session"] = True
        try:
            intent = self._client.v1.payment_intents.create(params=params, options={"idempotency_key": key})
        except stripe.CardError as err:
            error = err.error
            intent = getattr(error, "payment_intent", None) if error is not None else None
            return Outcome("failed", getattr(intent, "id", None), err.code or "card_declined",
                           getattr(error, "decline_code", None), err.user_message or str(err),
                           getattr(error, "advice_code", None))
        except (stripe.IdempotencyError, stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as err:
            return Outcome("unknown", None, None, None, str(err)[:500])
        except stripe.InvalidRequestError as err:
            # refused before any charge: a method that does not exist, a currency it cannot take
            return Outcome("failed", None, err.code or "invalid_request", None, str(err)[:500])
        return outcome_of_intent(intent.to_dict())

    def find(self, key: str) -> Outcome | None:
        """The provider's own record of the charge made with this key, by its metadata."""
        stripe = self._stripe
        try:
            found = self._client.v1.payment_intents.search(
                params={"query": f"metadata['vigil_key']:'{key}'", "limit": 10})
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as err:
            raise ProviderUnavailable(str(err)) from err
        outcomes = [outcome_of_intent(intent.to_dict()) for intent in found.data]
        for wanted in ("succeeded", "processing", "failed"):
            for outcome in outcomes:
                if outcome.status == wanted:
                    return outcome
        return None

    def retrieve(self, provider_ref: str) -> Outcome:
        """Where one PaymentIntent stands now (the polling of processing debits)."""
        stripe = self._stripe
        try:
            intent = self._client.v1.payment_intents.retrieve(provider_ref)
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as err:
            raise ProviderUnavailable(str(err)) from err
        return outcome_of_intent(intent.to_dict())

    def save_method(self, payment_method: str, metadata: dict[str, str]) -> tuple[str | None, str | None]:
        """A SetupIntent for off-session use of `payment_method`: (the method saved, None) or
        (None, why it was refused)."""
        stripe = self._stripe
        try:
            intent = self._client.v1.setup_intents.create(params={"usage": "off_session", "metadata": metadata})
            intent = self._client.v1.setup_intents.confirm(intent.id, params={"payment_method": payment_method})
        except stripe.CardError as err:
            return None, err.user_message or "the card was declined"
        except stripe.InvalidRequestError as err:
            return None, str(err.user_message or err)
        if intent.status != "succeeded":
            return None, f"the payment method needs more steps ({intent.status})"
        return intent.payment_method if isinstance(intent.payment_method, str) else intent.payment_method.id, None


    def checkout_payment(self, attempt: dict, success_url: str, cancel_url: str) -> str:
        """A live-mode pay link: Stripe Checkout for the attempt's amount, its key in the
        payment's metadata (the webhook or the search settles the attempt); returns the URL
        to send the client to. Not available from localstripe."""
        metadata = {**{k: str(v) for k, v in (attempt["metadata"] or {}).items()}, "vigil_key": attempt["key"]}
        session = self._client.v1.checkout.sessions.create(params={
            "mode": "payment", "success_url": success_url, "cancel_url": cancel_url, "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "line_items": [{"quantity": 1, "price_data": {
                "currency": attempt["currency"].lower(), "unit_amount": attempt["amount_minor"],
                "product_data": {"name": f"Invoice {attempt['invoice_number']}"}}}],
        }, options={"idempotency_key": attempt["key"]})
        return session.url

    def checkout_setup(self, client_id: str, success_url: str, cancel_url: str) -> str:
        """A live-mode payment-method replacement: Stripe Checkout in setup mode; the
        `setup_intent.succeeded` event sets the client's method (billing/collections/events.py)."""
        session = self._client.v1.checkout.sessions.create(params={
            "mode": "setup", "currency": "usd", "success_url": success_url, "cancel_url": cancel_url,
            "setup_intent_data": {"metadata": {"vigil_client": client_id}}})
        return session.url


# --- the state machine --------------------------------------------------------------------

ATTEMPT_COLUMNS = """a.payment_attempt_id, a.invoice_id, a.attempt_no, a.idempotency_key as key, a.attempt_date,
    a.amount, a.amount_minor, a.currency, a.payment_method, a.method, a.channel, a.reason, a.status,
    a.provider_ref, a.metadata, a.created_at, a.settled_on, i.client_id, i.invoice_number"""


def record_attempt(conn, *, invoice_id: int, number: str, client_id: str, channel: str, reason: str, day: date,
                   currency: str, payment_method: str, method: str) -> dict | None:
    """Record the next attempt `pending`, for the invoice's balance, and commit it: under the
    invoice's row lock and its client's ledger lock, unless another attempt is open
    (pending, unknown or processing), auto-pay already charged it today, or nothing is
    owed. Returns the attempt (a dict), or None when it may not be made."""
    with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        lock_client(cur, client_id)
        cur.execute("select 1 from billing.invoices where invoice_id = %s for update", (invoice_id,))
        cur.execute(
            """select count(*) filter (where channel = %s) as made,
                      coalesce(bool_or(status in ('pending', 'unknown', 'processing')), false) as open,
                      coalesce(bool_or(channel = 'autopay' and attempt_date = %s), false) as charged_today
               from billing.payment_attempts where invoice_id = %s""",
            (channel, day, invoice_id),
        )
        seen = cur.fetchone()
        amount = balance_on(cur, invoice_id)
        if seen["open"] or (channel == "autopay" and seen["charged_today"]) or amount <= 0:
            return None
        attempt_no = seen["made"] + 1
        key = f"vigil:{number}:{attempt_no}" if channel == "autopay" else f"vigil:{number}:link:{attempt_no}"
        metadata = {"invoice_number": number, "client_id": client_id, "for_date": day.isoformat()}
        cur.execute(
            """insert into billing.payment_attempts
                   (invoice_id, attempt_no, idempotency_key, attempt_date, amount, amount_minor, currency,
                    payment_method, method, channel, reason, status, metadata)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'pending', %s) returning payment_attempt_id""",
            (invoice_id, attempt_no, key, day, amount, to_minor_units(amount, currency), currency, payment_method,
             method, channel, reason, psycopg2.extras.Json(metadata)),
        )
        attempt_id = cur.fetchone()["payment_attempt_id"]
        cur.execute(f"""select {ATTEMPT_COLUMNS} from billing.payment_attempts a join billing.invoices i
                        using (invoice_id) where a.payment_attempt_id = %s""", (attempt_id,))
        return dict(cur.fetchone())


def send(gateway, attempt: dict, off_session: bool = True) -> Outcome:
    """The attempt's charge, exactly as recorded (so sending it again is the same request)."""
    metadata = {k: str(v) for k, v in (attempt["metadata"] or {}).items()}
    return gateway.charge(amount_minor=attempt["amount_minor"], currency=attempt["currency"],
                          payment_method=attempt["payment_method"], method=attempt["method"], key=attempt["key"],
                          metadata=metadata, off_session=off_session)


def settle(conn, attempt_id: int, outcome: Outcome, on: date) -> str | None:
    """Move an attempt forward to `outcome`, learned on business day `on`; a success is
    applied to the ledger in the same transaction. Returns the new status, or None when
    the outcome is not ahead of what is recorded (late, repeated or out of order)."""
    with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(f"""select {ATTEMPT_COLUMNS} from billing.payment_attempts a join billing.invoices i
                        using (invoice_id) where a.payment_attempt_id = %s for update of a""", (attempt_id,))
        attempt = cur.fetchone()
        current = attempt["status"]
        if current in FINAL or STAGE[outcome.status] < STAGE[current]:
            return None
        if outcome.status == current and outcome.status != "unknown":
            return None
        if outcome.status == "unknown" and current == "unknown":
            return None
        settled_on = on if outcome.status in FINAL else None
        cur.execute(
            """update billing.payment_attempts set status = %s, provider_ref = coalesce(%s, provider_ref),
                   failure_code = %s, decline_code = %s, decline = %s, failure_message = %s, settled_on = %s,
                   updated_at = now()
               where payment_attempt_id = %s""",
            (outcome.status, outcome.provider_ref, outcome.failure_code, outcome.decline_code, outcome.decline,
             (outcome.message or "")[:500] or None, settled_on, attempt_id),
        )
        if outcome.status == "succeeded":
            apply_money(cur, client_id=attempt["client_id"], currency=attempt["currency"], amount=attempt["amount"],
                        on=on, reference=attempt["key"], first_invoice_id=attempt["invoice_id"],
                        payment_attempt_id=attempt_id)
    return outcome.status


def reconcile(conn, gateway, attempt: dict, on: date, now: datetime | None = None) -> str | None:
    """Settle a `pending` or `unknown` attempt from the provider's own record (module
    docstring). Returns the new status, or None while it cannot be told yet."""
    now = now or datetime.now(UTC)
    found = gateway.find(attempt["key"])
    if found is not None:
        return settle(conn, attempt["payment_attempt_id"], found, on)
    if now - attempt["created_at"] >= RESEND_WINDOW:
        outcome = Outcome("failed", None, NOT_SENT, None, "never reached the provider: no charge with this key "
                          f"{RESEND_WINDOW.total_seconds() / 3600:.0f} hours after it was recorded")
    elif attempt["payment_method"] == "checkout":
        outcome = None  # a pay-link checkout the client has not completed (yet): nothing to send again
    else:
        outcome = send(gateway, attempt, off_session=attempt["channel"] == "autopay")
    if outcome is None or outcome.status == "unknown":
        settle(conn, attempt["payment_attempt_id"], Outcome("unknown", None, None, None, "still not reconciled"), on)
        return None
    return settle(conn, attempt["payment_attempt_id"], outcome, on)


def open_attempts(conn, statuses: tuple[str, ...] = ("pending", "unknown", "processing"),
                  invoice_id: int | None = None) -> list[dict]:
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(
            f"""select {ATTEMPT_COLUMNS} from billing.payment_attempts a join billing.invoices i using (invoice_id)
                where a.status = any(%s) and (%s::bigint is null or a.invoice_id = %s)
                order by a.payment_attempt_id""",
            (list(statuses), invoice_id, invoice_id),
        )
        rows = [dict(row) for row in cur.fetchall()]
    conn.commit()
    return rows


@dataclass
class Reconciled:
    settled: int = 0  # open attempts that reached a final state or processing
    still_open: int = 0


def reconcile_open(conn, gateway, on: date, now: datetime | None = None, holds_run_lock: bool = True) -> Reconciled:
    """Every attempt a crash or a timeout left `pending`/`unknown`, and every `processing`
    debit, brought up to date with the provider (polling: what a webhook may have missed).

    A `pending` attempt younger than IN_FLIGHT may still be on its way (a pay link being
    paid, or, for a caller without the run lock, today's auto-pay): it is left alone."""
    now = now or datetime.now(UTC)
    result = Reconciled()
    for attempt in open_attempts(conn):
        young = now - attempt["created_at"] < IN_FLIGHT
        if attempt["status"] == "pending" and young and (attempt["channel"] == "link" or not holds_run_lock):
            result.still_open += 1
            continue
        try:
            if attempt["status"] == "processing":
                changed = settle(conn, attempt["payment_attempt_id"], gateway.retrieve(attempt["provider_ref"]), on) \
                    if attempt["provider_ref"] else reconcile(conn, gateway, attempt, on, now)
            else:
                changed = reconcile(conn, gateway, attempt, on, now)
        except ProviderUnavailable:
            changed = None
        if changed in ("succeeded", "failed", "processing") and changed != attempt["status"]:
            result.settled += 1
        else:
            result.still_open += 1
    return result
