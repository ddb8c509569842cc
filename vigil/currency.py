"""The one currency table of the product (ISO 4217 active codes and their minor units),
read by the contract validator, the rating engine, storage, payments and every display,
so a Chilean peso is never rounded to cents nor sent to a provider at 100 times its value."""

from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources


@cache
def exponents() -> dict[str, int]:
    """Code -> digits after the decimal point (USD 2, JPY 0, BHD 3, CLF 4)."""
    with resources.files("vigil").joinpath("iso4217.csv").open(encoding="utf-8") as handle:
        return {row["code"]: int(row["exponent"]) for row in csv.DictReader(handle)}


def is_known(code: str) -> bool:
    return code in exponents()


def exponent(code: str | None) -> int:
    """Minor-unit digits of a currency; an unknown code is an error, never a silent default."""
    code = (code or "USD").upper()
    try:
        return exponents()[code]
    except KeyError:
        raise ValueError(f"{code!r} is not an active ISO 4217 currency code") from None


def minor_unit(code: str | None) -> Decimal:
    """The quantum amounts of this currency are rounded to (0.01 for USD, 1 for JPY)."""
    return Decimal(1).scaleb(-exponent(code))


def round_half_up(value: Decimal, code: str | None) -> Decimal:
    """Half away from zero, to the currency's minor unit."""
    return value.quantize(minor_unit(code), rounding=ROUND_HALF_UP)


def to_minor_units(amount: Decimal, code: str | None) -> int:
    """Integer minor units that equal the amount exactly (what a payment provider is sent), or an error."""
    scaled = amount.scaleb(exponent(code))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {code} has more precision than the currency's minor unit")
    return int(scaled)


def display(amount: Decimal, code: str | None) -> str:
    """The amount as text with exactly the currency's digits ("1393.60" USD, "1394" JPY)."""
    return format(amount.quantize(minor_unit(code)), "f")
