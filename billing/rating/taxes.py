"""Taxes (section 9): per invoice and tax row, round_half_up(rate * taxable base)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from billing.rating.money import ZERO, dec, fmt, round_half_up


@dataclass(frozen=True)
class TaxRow:
    jurisdiction: str
    rate: Decimal
    categories: frozenset[str]
    name: str


def parse_tax_rows(rows: list[dict]) -> list[TaxRow]:
    out = []
    for r in rows:
        cats = r.get("taxable_categories") or []
        if isinstance(cats, str):
            cats = [c for c in cats.replace(",", ";").split(";") if c.strip()]
        out.append(
            TaxRow(
                str(r["jurisdiction_code"]),
                dec(r["rate"]),
                frozenset(c.strip() for c in cats),
                str(r.get("name") or r["jurisdiction_code"]),
            )
        )
    return sorted(out, key=lambda t: (t.jurisdiction, t.name, t.rate))


@dataclass(frozen=True)
class TaxResult:
    row: TaxRow
    base: Decimal
    tax: Decimal
    categories: tuple[str, ...]


def compute_taxes(lines: list[tuple[str | None, str, Decimal]], rows: list[TaxRow], currency: str) -> list[TaxResult]:
    """`lines` are (jurisdiction, taxable category, amount); a discount carries the category
    of the line it discounts. One result per row with non-zero tax."""
    out = []
    for row in rows:
        base, cats = ZERO, set()
        for jurisdiction, category, amount in lines:
            if jurisdiction == row.jurisdiction and category in row.categories:
                base += amount
                cats.add(category)
        tax = round_half_up(row.rate * base, currency)
        if tax != 0:
            out.append(TaxResult(row, base, tax, tuple(sorted(cats))))
    return out


def tax_explanation(t: TaxResult) -> str:
    return f"{t.row.rate} x {fmt(t.base)} taxable ({', '.join(t.categories)}) in {t.row.jurisdiction}"
