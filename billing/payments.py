"""Auto-pay against our own ledger (collections.md sections 1-2).

The attempt is written as `pending` and committed before the provider is called, keyed
`vigil:<invoice number>:<attempt no>`. A `pending` or `unknown` attempt found at the start
of a run means a crash or a timeout: it freezes the invoice until it is reconciled by
looking the charge up at the provider by that key. So even a provider that ignores
idempotency keys (localstripe does) can never be charged twice for one balance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import psycopg2.extensions

from billing.ledger import refresh_invoice_status
from vigil import currency as currency_table


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Integer minor units that equal the ledger amount exactly (vigil/iso4217.csv), or an error."""
    return currency_table.to_minor_units(amount, currency)


@dataclass(frozen=True)
class ChargeResult:
    status: str  # succeeded | failed
    provider_ref: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None


class GatewayUnavailable(Exception):
    """No answer from the provider: the charge may or may not exist."""


class StripeGateway:
    """The stripe SDK, pointed at localstripe (`api_base`) in the demo and tests."""

    def __init__(self, api_key: str, api_base: str | None = None, timeout_seconds: int = 20):
        import stripe

        self._stripe = stripe
        options = {"max_network_retries": 0, "http_client": stripe.RequestsClient(timeout=timeout_seconds)}
        if api_base:
            options["base_addresses"] = {"api": api_base}
        self._client = stripe.StripeClient(api_key or "sk_test_vigil_local", **options)

    def charge(self, *, amount_minor: int, currency: str, payment_method: str, key: str,
               metadata: dict[str, str]) -> ChargeResult:
        stripe = self._stripe
        try:
            intent = self._client.v1.payment_intents.create(
                params={
                    "amount": amount_minor,
                    "currency": currency.lower(),
                    "payment_method": payment_method,
                    "confirm": True,
                    "off_session": True,
                    "metadata": {**metadata, "vigil_key": key},
                },
                options={"idempotency_key": key},
            )
        except stripe.CardError as err:
            return ChargeResult("failed", None, err.code or "card_declined", err.user_message or str(err))
        except (stripe.APIConnectionError, stripe.RateLimitError) as err:
            raise GatewayUnavailable(str(err)) from err
        except stripe.APIError as err:
            raise GatewayUnavailable(str(err)) from err
        except stripe.StripeError as err:
            return ChargeResult("failed", None, getattr(err, "code", None) or "stripe_error", str(err))
        if intent.status == "succeeded":
            return ChargeResult("succeeded", intent.id)
        if intent.status == "processing":
            raise GatewayUnavailable(f"payment intent {intent.id} still processing")
        return ChargeResult("failed", intent.id, "payment_intent_" + str(intent.status), None)

    def find_by_key(self, key: str) -> ChargeResult | None:
        """The provider's record of a charge made with this key, if any (a success wins)."""
        found: ChargeResult | None = None
        params: dict = {"limit": 100}
        while True:
            page = self._client.v1.payment_intents.list(params=params)
            for intent in page.data:
                if intent.metadata.to_dict().get("vigil_key") != key:
                    continue
                if intent.status == "succeeded":
                    return ChargeResult("succeeded", intent.id)
                found = ChargeResult("failed", intent.id, "payment_intent_" + str(intent.status))
            if not page.has_more or not page.data:
                return found
            params = {"limit": 100, "starting_after": page.data[-1].id}


@dataclass
class CollectionSummary:
    attempted: int = 0
    succeeded: int = 0
    failed: int = 0
    unknown: int = 0
    reconciled: int = 0


def _apply_success(cur, attempt_id: int, invoice_id: int, client_id: str, amount: Decimal, currency: str,
                   on: date, provider_ref: str | None) -> None:
    cur.execute(
        """update billing.payment_attempts set status = 'succeeded', provider_ref = %s, updated_at = now()
           where payment_attempt_id = %s""",
        (provider_ref, attempt_id),
    )
    cur.execute(
        """insert into billing.ledger_entries
               (invoice_id, client_id, entry_type, amount, currency, effective_date, payment_attempt_id, reference)
           values (%s, %s, 'payment', %s, %s, %s, %s, %s)
           on conflict (payment_attempt_id) do nothing""",
        (invoice_id, client_id, amount, currency, on, attempt_id, provider_ref),
    )
    refresh_invoice_status(cur, invoice_id)


def _fail(cur, attempt_id: int, result: ChargeResult) -> None:
    cur.execute(
        """update billing.payment_attempts set status = 'failed', provider_ref = %s, failure_code = %s,
               failure_message = %s, updated_at = now() where payment_attempt_id = %s""",
        (result.provider_ref, result.failure_code, result.failure_message, attempt_id),
    )


def reconcile_open_attempts(conn: psycopg2.extensions.connection, gateway) -> int:
    """Settle attempts a crash or timeout left `pending`/`unknown`, from the provider's own record."""
    with conn.cursor() as cur:
        cur.execute(
            """select a.payment_attempt_id, a.idempotency_key, a.invoice_id, i.client_id, a.amount,
                      a.currency, a.attempt_date
               from billing.payment_attempts a join billing.invoices i using (invoice_id)
               where a.status in ('pending', 'unknown') order by a.payment_attempt_id"""
        )
        open_attempts = cur.fetchall()
    settled = 0
    for attempt_id, key, invoice_id, client_id, amount, currency, on in open_attempts:
        try:
            found = gateway.find_by_key(key)
        except GatewayUnavailable:
            continue
        with conn, conn.cursor() as cur:
            if found is not None and found.status == "succeeded":
                _apply_success(cur, attempt_id, invoice_id, client_id, amount, currency, on, found.provider_ref)
            else:
                _fail(cur, attempt_id, found or ChargeResult("failed", None, "not_found_at_provider",
                                                             "no charge with this key exists at the provider"))
        settled += 1
    return settled


def collect_autopay(conn: psycopg2.extensions.connection, gateway, first: date, last: date) -> CollectionSummary:
    """Charge each auto-pay invoice that falls due on or before `last`, on its due date
    (or `first`, when the due date lies before this run's window), at most once a day."""
    summary = CollectionSummary()
    with conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_lock(hashtext('vigil.collect_autopay'))")
    try:
        summary.reconciled = reconcile_open_attempts(conn, gateway)
        with conn.cursor() as cur:
            cur.execute(
                """select i.invoice_id, i.invoice_number, i.client_id, i.currency, i.due_date,
                          i.total - coalesce(p.paid, 0) as balance, c.payment_method,
                          coalesce(a.attempts, 0) as attempts
                   from billing.invoices i
                   join marts.dim_clients c on c.client_id = i.client_id
                   left join (select invoice_id, sum(amount) as paid from billing.ledger_entries
                              where entry_type in ('payment', 'credit') group by invoice_id) p
                          using (invoice_id)
                   left join (select invoice_id, count(*) as attempts,
                                     bool_or(status in ('pending', 'unknown')) as open_attempt,
                                     bool_or(status = 'failed') as failed_before
                              from billing.payment_attempts group by invoice_id) a using (invoice_id)
                   where i.status in ('issued', 'partially_paid')
                     and c.autopay and c.payment_method is not null
                     and i.due_date <= %s
                     and i.total - coalesce(p.paid, 0) > 0
                     and not coalesce(a.open_attempt, false)
                     and not coalesce(a.failed_before, false)
                   order by i.due_date, i.invoice_number""",
                (last,),
            )
            due = cur.fetchall()
        for invoice_id, number, client_id, currency, due_date, balance, method, attempts in due:
            attempt_date = max(due_date, first)
            key = f"vigil:{number}:{attempts + 1}"
            with conn, conn.cursor() as cur:
                cur.execute(
                    """insert into billing.payment_attempts
                           (invoice_id, attempt_no, idempotency_key, attempt_date, amount, amount_minor,
                            currency, payment_method, status)
                       values (%s, %s, %s, %s, %s, %s, %s, %s, 'pending')
                       on conflict do nothing returning payment_attempt_id""",
                    (invoice_id, attempts + 1, key, attempt_date, balance, to_minor_units(balance, currency),
                     currency, method),
                )
                row = cur.fetchone()
            if row is None:
                continue
            attempt_id = row[0]
            summary.attempted += 1
            try:
                result = gateway.charge(amount_minor=to_minor_units(balance, currency), currency=currency,
                                        payment_method=method, key=key,
                                        metadata={"invoice_number": number, "client_id": client_id})
            except GatewayUnavailable as err:
                with conn, conn.cursor() as cur:
                    cur.execute(
                        """update billing.payment_attempts set status = 'unknown', failure_message = %s,
                               updated_at = now() where payment_attempt_id = %s""",
                        (str(err)[:500], attempt_id),
                    )
                summary.unknown += 1
                continue
            with conn, conn.cursor() as cur:
                if result.status == "succeeded":
                    _apply_success(cur, attempt_id, invoice_id, client_id, balance, currency, attempt_date,
                                   result.provider_ref)
                    summary.succeeded += 1
                else:
                    _fail(cur, attempt_id, result)
                    summary.failed += 1
    finally:
        with conn, conn.cursor() as cur:
            cur.execute("select pg_advisory_unlock(hashtext('vigil.collect_autopay'))")
    return summary
