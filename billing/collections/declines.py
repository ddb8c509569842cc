"""Soft and hard declines (collections.md section 4). Stripe has no such list, only a
suggested next step per code (docs.stripe.com/declines/codes) and an `advice_code`; a hard
decline is one where trying the same method again cannot succeed: the card is lost,
stolen, expired or invalid, the bank account is closed, or the issuer says never again.
Everything else (insufficient funds, a generic decline, an issuer that is unavailable) is
soft and retried on the schedule."""

from __future__ import annotations

HARD_CODES = frozenset({
    # cards
    "lost_card", "stolen_card", "pickup_card", "expired_card", "restricted_card", "fraudulent",
    "incorrect_number", "invalid_number", "invalid_account", "card_not_supported", "do_not_try_again",
    "revocation_of_authorization", "revocation_of_all_authorizations", "stop_payment_order",
    "authentication_required", "resource_missing", "payment_method_unactivated",
    # ACH Direct Debit returns
    "account_closed", "no_account", "invalid_account_number", "bank_account_restricted",
    "debit_not_authorized", "bank_account_unusable",
})


def classify(code: str | None, decline_code: str | None = None, advice_code: str | None = None) -> str:
    """`hard` or `soft` for a failed charge (codes as the provider reports them)."""
    if advice_code == "do_not_try_again":
        return "hard"
    if advice_code == "try_again_later":
        return "soft"
    if decline_code in HARD_CODES or code in HARD_CODES:
        return "hard"
    return "soft"
