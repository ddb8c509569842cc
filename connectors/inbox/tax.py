"""`tax/jurisdictions.csv` -> raw.tax_rates: `code, rate, taxable_categories[, name]`.

Rates are fractions (`0.08875`); a value of 1 or more is refused because it is almost
certainly a percent, and taxing at 887.5 % is not a mistake to bill. Categories must be
invoice line categories (interfaces.md section 4), or the tax would silently apply to
nothing. Rows are unique per file version (`file_sha256`): dbt reads the newest file."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl

from connectors.base import ParseResult, content_hash
from connectors.inbox.tabular import DECIMAL_RE, CsvKind, read_records, validate

SOURCE = "tax"

# Invoice line categories a tax row can name ('tax' itself cannot be taxed).
CATEGORIES = (
    "regular_hours", "overtime_hours", "double_time_hours", "holiday_hours", "holiday_overtime_hours",
    "special_event_hours", "minimum_shift_adjustment", "incident_fee", "incident_extended_time",
    "patrol_visit", "monitoring", "equipment_rental", "service_fee", "device_monitoring", "discount",
    "adjustment",
)


def _categories(column: str) -> pl.Expr:
    return pl.col(column).str.split(";").list.eval(pl.element().str.strip_chars()).list.eval(
        pl.element().filter(pl.element() != ""))


class TaxRow(pa.DataFrameModel):
    code: str = pa.Field(nullable=False)
    rate: str = pa.Field(nullable=False)
    taxable_categories: str = pa.Field(nullable=False)
    name: str = pa.Field(nullable=True)

    @pa.check("rate", name="tax_rate")
    def tax_rate(cls, data):  # noqa: N805
        col = pl.col(data.key)
        number = col.cast(pl.Float64, strict=False)  # range test only; the value is kept as text
        return data.lazyframe.select(col.is_null() | (col.str.contains(DECIMAL_RE) & (number < 1)))

    @pa.check("taxable_categories", name="categories")
    def categories(cls, data):  # noqa: N805
        items = _categories(data.key)
        known = items.list.eval(pl.element().is_in(CATEGORIES)).list.all()
        return data.lazyframe.select(pl.col(data.key).is_null() | (known & (items.list.len() > 0)))

    class Config:
        strict = False


def _rate_reason(column: str, value: Any) -> str:
    return f"{column} {value!r} is not a fraction between 0 and 1 (e.g. 0.08875 for 8.875 %)"


def _categories_reason(column: str, value: Any) -> str:
    items = [v.strip() for v in str(value).split(";") if v.strip()]
    unknown = [v for v in items if v not in CATEGORIES]
    if not items:
        return f"{column} names no category"
    return f"{column} names unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}"


KIND = CsvKind(
    SOURCE, "tax_rates", "code", ("code", "rate", "taxable_categories"), ("name",), TaxRow,
    to_canonical=lambda f: f,
    column_reasons={"tax_rate": _rate_reason, "categories": _categories_reason},
)


def _rate_text(value: str) -> str:
    """`0.040` and `0.04` are the same rate, so they hash the same."""
    try:
        return format(Decimal(value).normalize(), "f")
    except InvalidOperation:  # pragma: no cover - pandera refused it already
        return value


def parse_tax(path: Path) -> ParseResult:
    """The jurisdictions CSV -> ParseResult for raw.tax_rates. Pure."""
    path = Path(path)
    delivered = read_records(path, KIND)
    accepted, refused = validate(delivered, KIND)
    rows = accepted.select(
        pl.col("code").alias("jurisdiction_code"),
        pl.col("rate").map_elements(_rate_text, return_dtype=pl.Utf8).alias("rate"),
        _categories("taxable_categories").alias("taxable_categories"),
        "name",
        pl.lit(str(path), pl.Utf8).alias("source_file"),
        "source_line",
        pl.lit(delivered.file.sha256, pl.Utf8).alias("file_sha256"),
    )
    hashes = [content_hash({k: r[k] for k in ("jurisdiction_code", "rate", "taxable_categories", "name")})
              for r in rows.iter_rows(named=True)]
    rows = rows.with_columns(pl.Series("content_hash", hashes, dtype=pl.Utf8))
    return ParseResult(source=SOURCE, table="tax_rates", rows=rows, quarantined=refused, files=[delivered.file])
