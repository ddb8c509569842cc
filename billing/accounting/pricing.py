"""Quantity and unit price as a ledger's import recomputes them: the line amount must come
out exactly, or totals drift by a cent. A target multiplies quantity by unit price and
rounds to the currency's unit, and keeps at most four decimals of a price. Where the
invoice's own quantity and price do not reproduce the amount that way (a price with more
decimals, a prorated fee), the row says quantity 1 at the amount, and the description
keeps the real quantity and price. In a credit note the sign sits on the quantity, as
Xero's convention for credit notes imported with invoices wants."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from billing.accounting.documents import PostedDocument, PostedLine
from vigil import currency

MAX_PRICE_DECIMALS = 4


@dataclass(frozen=True)
class Priced:
    quantity: Decimal
    unit_amount: Decimal
    description: str


def _decimals(value: Decimal) -> int:
    return max(0, -value.normalize().as_tuple().exponent)


def _text(value: Decimal) -> str:
    whole, _, fraction = format(value.normalize(), "f").partition(".")
    return f"{whole}.{fraction}" if fraction else whole


def number_text(value: Decimal) -> str:
    """Exact, never fewer than two decimals: "30.00", "48.125", "-1.00"."""
    whole, _, fraction = format(value.normalize(), "f").partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def priced(doc: PostedDocument, line: PostedLine) -> Priced:
    if line.is_tax:
        rate = _text(line.unit_price * 100)
        base = currency.display(line.quantity, doc.currency)
        quantity, unit_amount = Decimal(1), line.amount
        description = f"{line.description} ({line.tax_jurisdiction}) {rate}% of {base}"
    else:
        quantity, unit_amount, description = line.quantity, line.unit_price, line.description
        exact = (_decimals(unit_amount) <= MAX_PRICE_DECIMALS and _decimals(quantity) <= MAX_PRICE_DECIMALS
                 and currency.round_half_up(quantity * unit_amount, doc.currency) == line.amount)
        if not exact:
            description = f"{description} ({_text(quantity)} {line.unit} at {_text(line.unit_price)})"
            quantity, unit_amount = Decimal(1), line.amount
    if doc.is_credit and unit_amount < 0:
        quantity, unit_amount = -quantity, -unit_amount
    return Priced(quantity, unit_amount, description)


def row_amount(doc: PostedDocument, row: Priced) -> Decimal:
    """What the target computes for the row."""
    return currency.round_half_up(row.quantity * row.unit_amount, doc.currency)
