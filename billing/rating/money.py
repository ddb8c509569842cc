"""Money helpers: Decimal only, rounded half-up once per line."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0")
ONE = Decimal("1")
CENT = Decimal("0.01")

# ISO 4217 minor units that are not 2; everything else rounds to cents.
_MINOR_DIGITS = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}


def minor_unit(currency: str = "USD") -> Decimal:
    """The quantum amounts of this currency are rounded to (0.01 for USD)."""
    return Decimal(1).scaleb(-_MINOR_DIGITS.get((currency or "USD").upper(), 2))


def dec(value: object) -> Decimal:
    """A Decimal from a contract or mart value; numbers go through str so no binary float leaks in."""
    if isinstance(value, Decimal):
        return value
    if value is None or isinstance(value, bool):
        raise ValueError(f"not a decimal amount: {value!r}")
    return Decimal(str(value).strip())


def round_half_up(value: Decimal, currency: str = "USD") -> Decimal:
    """Half away from zero, to the currency's minor unit."""
    return value.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


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


def price(value: Decimal) -> Decimal:
    """An exact unit price shown with at least 2 decimals: 32 -> 32.00, 48.000 -> 48.00, 0.08875 stays."""
    if value == value.quantize(CENT):
        return value.quantize(CENT)
    return value.normalize()
