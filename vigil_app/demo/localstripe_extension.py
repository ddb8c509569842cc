"""What localstripe lacks for Vigil's test mode (collections.md section 6), added to the
library when our localstripe process starts (vigil_app/demo/localstripe.py). localstripe
is used as a library: its classes get a few methods replaced and its aiohttp app a few
routes and middlewares; none of its code is copied here.

Added, each as Stripe documents it (docs.stripe.com: testing, declines/codes,
api/idempotent_requests, search, payments/ach-direct-debit):
- the test payment methods `pm_card_mastercard`, `pm_card_chargeDeclined`,
  `pm_card_chargeDeclinedInsufficientFunds`, `..LostCard`, `..StolenCard`, `..ExpiredCard`
  (declined when charged, with Stripe's `code` and `decline_code`; localstripe knows only
  `pm_card_visa`, `pm_card_visa_chargeDeclined` and `pm_card_chargeCustomerFail`, and
  declines without a decline code), and `pm_usBankAccount`, an ACH Direct Debit that stays
  `processing` until it is settled (below);
- `Idempotency-Key` on POST: the first answer (a decline or an error too) is replayed for
  the same key and parameters, other parameters are an `idempotency_error`, a key in use
  answers 409;
- `GET /v1/payment_intents/search` for `metadata['k']:'v'` and `status:'s'` clauses
  joined by AND;
- `POST /_config/payment_intents/{id}/settle` (`outcome=succeeded|failed`,
  `failure_code`): what the bank does to a processing ACH debit days later, announced
  by a signed `payment_intent.succeeded` or `payment_intent.payment_failed` webhook (the
  ones registered with `POST /_config/webhooks/{id}`, localstripe's own signing);
- a test clock, `POST /v1/test_helpers/test_clocks/{id}/advance` (`frozen_time`, as
  Stripe's): Vigil's test mode advances it to each business day it runs, and an ACH debit
  made for business day D (its `for_date` metadata) settles as paid when the clock reaches
  D+4 ("typically 4 business days"), unless it was settled before;
- one Vigil-only card for the demo and the tests, `pm_card_vigil_declinedThenApproved`:
  its first charges on this server are declined for insufficient funds, the later ones
  approved (a client short of funds on the due date who pays on a retry; Stripe has no
  such card). One decline by default; `POST /_config/cards/{id}` with `declines=N` sets how
  many of its next charges are declined;
- no pickling of the whole store to /tmp on every write (shared by every localstripe on
  the machine, and quadratic): the process keeps its state in memory while it runs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from aiohttp import web
from localstripe import resources
from localstripe.errors import UserError
from localstripe.webhooks import schedule_webhook

# Stripe's documented test payment methods -> (card number, brand).
TEST_CARDS: dict[str, tuple[str, str]] = {
    "pm_card_visa": ("4242424242424242", "visa"),
    "pm_card_mastercard": ("5555555555554444", "mastercard"),
    "pm_card_chargeDeclined": ("4000000000000002", "visa"),
    "pm_card_visa_chargeDeclined": ("4000000000000002", "visa"),
    "pm_card_chargeDeclinedInsufficientFunds": ("4000000000009995", "visa"),
    "pm_card_chargeDeclinedLostCard": ("4000000000009987", "visa"),
    "pm_card_chargeDeclinedStolenCard": ("4000000000009979", "visa"),
    "pm_card_chargeDeclinedExpiredCard": ("4000000000000069", "visa"),
    "pm_card_chargeCustomerFail": ("4000000000000341", "visa"),
    "pm_card_vigil_declinedThenApproved": ("4000000000009995", "visa"),
}
RECOVERING_CARD = "pm_card_vigil_declinedThenApproved"

# Card number -> (code, decline_code, message) when charged.
CARD_DECLINES: dict[str, tuple[str, str, str]] = {
    "4000000000000002": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000000341": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "4000000000009987": ("card_declined", "lost_card", "Your card was declined."),
    "4000000000009979": ("card_declined", "stolen_card", "Your card was declined."),
    "4000000000000069": ("expired_card", "expired_card", "Your card has expired."),
}

# Stripe's ACH test account (routing 110000000, account 000123456789).
US_BANK_ACCOUNT = {"account_holder_type": "company", "account_type": "checking", "bank_name": "STRIPE TEST BANK",
                   "fingerprint": "vigilTestBank0001", "last4": "6789", "routing_number": "110000000"}
ACH_TYPE = "us_bank_account"

_declines_left: dict[str, int] = {RECOVERING_CARD: 1}


@dataclass
class _Stored:
    params: object
    status: int | None = None  # None while the first request is in flight
    body: bytes = b""


_idempotent: dict[str, _Stored] = {}


# --- payment methods ----------------------------------------------------------------------

def _card(magic_id: str):
    number, brand = TEST_CARDS[magic_id]
    method = resources.PaymentMethod(type="card", card={"number": number, "exp_month": "12", "exp_year": "2034",
                                                        "cvc": "123"})
    method.card["brand"] = brand
    method.card["country"] = "US"
    method._vigil_magic = magic_id
    return method


def _bank_account():
    # localstripe accepts card and sepa_debit only: built as a debit, then made an ACH one.
    method = resources.PaymentMethod(type="sepa_debit", sepa_debit={"iban": "DE89370400440532013000"})
    del method.sepa_debit
    method.type = ACH_TYPE
    method.us_bank_account = dict(US_BANK_ACCOUNT)
    return method


def _test_article(cls, method_id):
    if method_id in TEST_CARDS:
        return _card(method_id)
    if method_id == "pm_usBankAccount":
        return _bank_account()
    return None


_charging_was_declined = resources.PaymentMethod._charging_is_declined


def _charging_is_declined(self):
    if self.type == ACH_TYPE:
        return False  # decided by the bank, later: POST /_config/payment_intents/{id}/settle
    if self.type != "card":
        return _charging_was_declined(self)
    if getattr(self, "_vigil_magic", None) == RECOVERING_CARD:
        declined = _declines_left[RECOVERING_CARD] > 0
        _declines_left[RECOVERING_CARD] -= declined
        return declined
    return self._card_number in CARD_DECLINES


# --- charges ------------------------------------------------------------------------------

def _payment_method_of(charge):
    return resources.PaymentMethod._api_retrieve(charge.payment_method)


def _set_auth_failure(self):
    method = _payment_method_of(self)
    code, decline_code, message = CARD_DECLINES.get(getattr(method, "_card_number", ""),
                                                    ("card_declined", "generic_decline", "Your card was declined."))
    self.status = "failed"
    self.failure_code = code
    self.failure_message = message
    self._decline_code = decline_code


def _raise_failure(self):
    error = {"code": self.failure_code, "decline_code": getattr(self, "_decline_code", None), "charge": self.id}
    if self.payment_intent:
        error["payment_intent"] = resources.PaymentIntent._api_retrieve(self.payment_intent)._export()
    raise UserError(402, self.failure_message, error)


def _is_async_payment_method(self):
    return _payment_method_of(self).type in ("sepa_debit", ACH_TYPE)


_initialize_charge_as_before = resources.Charge._initialize_charge


def _initialize_charge(self, on_success=None, on_failure_now=None, on_failure_later=None):
    """An ACH debit stays pending (its intent `processing`) until the bank settles it."""
    if _payment_method_of(self).type != ACH_TYPE:
        return _initialize_charge_as_before(self, on_success, on_failure_now, on_failure_later)
    self._settle = (on_success, on_failure_later)
    if self.payment_intent:
        schedule_webhook(resources.Event("payment_intent.processing",
                                         resources.PaymentIntent._api_retrieve(self.payment_intent)))
    return None


_last_payment_error_as_before = resources.PaymentIntent.last_payment_error


def _last_payment_error(self):
    charge = self.latest_charge
    if self._authentication_failed or charge is None or charge.status != "failed":
        return _last_payment_error_as_before.fget(self)
    return {"type": "card_error" if _payment_method_of(charge).type == "card" else "invalid_request_error",
            "charge": charge.id, "code": charge.failure_code, "decline_code": getattr(charge, "_decline_code", None),
            "message": charge.failure_message, "payment_method": {"id": charge.payment_method}}


# --- routes and middlewares ---------------------------------------------------------------

def _json(body: dict, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda value: json.dumps(value, indent=2, sort_keys=True))


def _processing_debit(intent):
    charge = intent.latest_charge
    return charge if charge is not None and hasattr(charge, "_settle") and charge.status == "pending" else None


def _settle(intent, outcome: str, failure_code: str | None = None) -> None:
    charge = _processing_debit(intent)
    on_success, on_failure = charge._settle
    if outcome == "succeeded":
        transaction = resources.BalanceTransaction(amount=charge.amount, currency=charge.currency,
                                                   description=charge.description, exchange_rate=1.0,
                                                   reporting_category="charge", source=charge.id, type="charge")
        charge.balance_transaction = transaction.id
        charge.status = "succeeded"
        if on_success:
            on_success()
    else:
        charge.status = "failed"
        charge.failure_code = failure_code or "insufficient_funds"
        charge.failure_message = f"The bank returned the debit ({charge.failure_code})."
        if on_failure:
            on_failure()


async def settle(request: web.Request) -> web.Response:
    """The bank's answer on a processing ACH debit."""
    data = dict(await request.post()) or dict(request.query)
    intent = resources.PaymentIntent._api_retrieve(request.match_info["id"])
    if data.get("outcome") not in ("succeeded", "failed") or _processing_debit(intent) is None:
        raise UserError(400, "only a processing ACH debit can be settled, as succeeded or failed")
    _settle(intent, data["outcome"], data.get("failure_code"))
    return _json(intent._export())


ACH_SETTLEMENT_DAYS = 4
_clock: dict[str, date] = {}


async def advance_clock(request: web.Request) -> web.Response:
    """Set the test clock to a business day and let the bank pay the debits due by then.
    (Vigil only ever moves it forward; a second warehouse on this server may start over.)"""
    data = dict(await request.post()) or dict(request.query)
    if not str(data.get("frozen_time", "")).isdigit():
        raise UserError(400, "frozen_time (a Unix timestamp) is required")
    day = datetime.fromtimestamp(int(data["frozen_time"]), UTC).date()
    clock_id = request.match_info["id"]
    _clock[clock_id] = day
    for key, intent in list(resources.store.items()):
        made_for = (getattr(intent, "metadata", None) or {}).get("for_date", "") if key.startswith(
            "payment_intent:") else ""
        if made_for and _processing_debit(intent) is not None \
                and date.fromisoformat(made_for) + timedelta(days=ACH_SETTLEMENT_DAYS) <= _clock[clock_id]:
            _settle(intent, "succeeded")
    return _json({"id": clock_id, "object": "test_helpers.test_clock", "status": "ready",
                  "frozen_time": int(datetime(_clock[clock_id].year, _clock[clock_id].month, _clock[clock_id].day,
                                              tzinfo=UTC).timestamp())})


async def set_declines(request: web.Request) -> web.Response:
    """How many of the recovering card's next charges are declined."""
    data = dict(await request.post()) or dict(request.query)
    if request.match_info["id"] != RECOVERING_CARD or not str(data.get("declines", "")).isdigit():
        raise UserError(400, f"only {RECOVERING_CARD} takes a number of declines (declines=N)")
    _declines_left[RECOVERING_CARD] = int(data["declines"])
    return _json({"id": RECOVERING_CARD, "declines": _declines_left[RECOVERING_CARD]})


_CLAUSE = re.compile(r"^\s*(metadata\['(?P<key>[^']+)'\]|(?P<field>status|currency|customer))\s*:\s*"
                     r"'(?P<value>[^']*)'\s*$")


def _matches(intent, clauses: list[re.Match]) -> bool:
    for clause in clauses:
        if clause["key"] is not None:
            if (intent.metadata or {}).get(clause["key"]) != clause["value"]:
                return False
        elif str(getattr(intent, clause["field"], None)) != clause["value"]:
            return False
    return True


def search_payment_intents(query: str) -> dict:
    clauses = [_CLAUSE.match(part) for part in re.split(r"\s+AND\s+", query or "")]
    if not query or not all(clauses):
        raise UserError(400, f"unsupported search query {query!r} (metadata['k']:'v' or status:'s', AND only)")
    found = [obj for key, obj in resources.store.items()
             if key.startswith("payment_intent:") and _matches(obj, clauses)]
    found.sort(key=lambda intent: (intent.created, intent.id), reverse=True)
    return {"object": "search_result", "url": "/v1/payment_intents/search", "has_more": False, "next_page": None,
            "data": [intent._export() for intent in found]}


@web.middleware
async def search_middleware(request: web.Request, handler):
    # Routed here, not through the router: localstripe's `/v1/payment_intents/{id}` comes first.
    if request.method == "GET" and request.path == "/v1/payment_intents/search":
        return _json(search_payment_intents(request.query.get("query", "")))
    return await handler(request)


@web.middleware
async def idempotency_middleware(request: web.Request, handler):
    key = request.headers.get("Idempotency-Key")
    if request.method == "DELETE" and request.path == "/_config/data":
        _idempotent.clear()
        _clock.clear()
        _declines_left[RECOVERING_CARD] = 1
    if request.method != "POST" or not key:
        return await handler(request)
    params = (request.path, (await request.read()).decode("utf-8", "replace"))
    stored = _idempotent.get(key)
    if stored is not None:
        if stored.params != params:
            return _json({"error": {"type": "idempotency_error", "message": "Keys for idempotent requests can only "
                                    "be used with the same parameters they were first used with."}}, status=400)
        if stored.status is None:
            return _json({"error": {"type": "idempotency_error", "code": "idempotency_key_in_use",
                                    "message": "A request with this key is still being processed."}}, status=409)
        response = web.Response(body=stored.body, status=stored.status, content_type="application/json")
        response.headers["Idempotent-Replayed"] = "true"
        return response
    stored = _idempotent[key] = _Stored(params)
    try:
        response = await handler(request)
    except UserError as err:
        response = err.to_response()
    except Exception:
        del _idempotent[key]  # nothing was stored: the next try runs
        raise
    stored.status, stored.body = response.status, response.body
    return response


def install(app: web.Application) -> None:
    """Extend the localstripe classes and `app` (before it starts)."""
    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None
    resources.PaymentMethod._try_get_canonical_test_article = classmethod(_test_article)
    resources.PaymentMethod._charging_is_declined = _charging_is_declined
    resources.Charge._set_auth_failure = _set_auth_failure
    resources.Charge._raise_failure = _raise_failure
    resources.Charge._is_async_payment_method = _is_async_payment_method
    resources.Charge._initialize_charge = _initialize_charge
    resources.PaymentIntent.last_payment_error = property(_last_payment_error)
    app.middlewares.append(search_middleware)
    app.middlewares.append(idempotency_middleware)
    app.router.add_post("/_config/payment_intents/{id}/settle", settle)
    app.router.add_post("/_config/cards/{id}", set_declines)
    app.router.add_post("/v1/test_helpers/test_clocks/{id}/advance", advance_clock)
