"""Money helpers: Decimal only, rounded half-up once per line."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from vigil import currency as currency_table

ZERO = Decimal("0")
ONE = Decimal("1")
CENT = Decimal("0.01")


def minor_unit(currency: str = "USD") -> Decimal:
    """The quantum amounts of this currency are rounded to (vigil/iso4217.csv, the one table)."""
    return currency_table.minor_unit(currency)


def dec(value: object) -> Decimal:
    """A Decimal from a contract or mart value; numbers go through str so no binary fraction leaks in."""
    if isinstance(value, Decimal):
        return value
    if value is None or isinstance(value, bool):
        raise ValueError(f"not a decimal amount: {value!r}")
    return Decimal(str(value).strip())


def round_half_up(value: Decimal, currency: str = "USD") -> Decimal:
    """Half away from zero, to the currency's minor unit."""
    return currency_table.round_half_up(value, currency)


def canon(value: Decimal) -> str:
    """A canonical text for grouping equal amounts ("32.00" and "32" are one rate)."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def fmt(value: Decimal, places: int = 2) -> str:
    """Fixed-point text with at least `places` decimals, never exponent notation."""
    q = Decimal(1).scaleb(-places)
    if value == value.quantize(q):
        return format(value.quantize(q), "f")
    return format(value.normalize(), "f")


def hours(minutes: int) -> Decimal:
    """Billed hours for display: minutes / 60 to 2 decimals (amounts use exact minutes)."""
    return (Decimal(minutes) / Decimal(60)).quantize(CENT, rounding=ROUND_HALF_UP)


PRICE_QUANTUM = Decimal("0.000001")  # billing.invoice_lines.unit_price is numeric(14, 6)


def price(value: Decimal) -> Decimal:
    """A unit price at storage precision (6 decimals, half-up), shown with at least 2:
    32 -> 32.00, 48.000 -> 48.00, 0.08875 stays, 6.774193548... -> 6.774194. What is
    stored is what the next run computes, so an unchanged cycle never re-rates."""
    value = value.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_UP)
    if value == value.quantize(CENT):
        return value.quantize(CENT)
    return value.normalize()
