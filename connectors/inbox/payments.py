"""`payments/*.csv` -> raw.payments_received (interfaces.md section 2a): payments received
outside the payment provider (checks, wires, bank transfers, a lockbox file).

`payment_id, client_id, amount, received_on, method` are required; `invoice_number`,
`currency` (default: the client's) and `reference` are optional. Whether the client and
the invoice exist is decided where the payment is applied (billing/collections/received.py),
on the business day it was received: the invoice may be issued by the same run."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import pandera.polars as pa
import polars as pl

from connectors.inbox.tabular import DECIMAL_RE, CsvKind, date_expr, ok_date
from vigil import currency

METHODS = ("check", "ach", "wire", "cash", "card")


class PaymentRow(pa.DataFrameModel):
    payment_id: str = pa.Field(nullable=False)
    client_id: str = pa.Field(nullable=False)
    amount: str = pa.Field(nullable=False)
    received_on: str = pa.Field(nullable=False)
    method: str = pa.Field(nullable=False)
    invoice_number: str = pa.Field(nullable=True)
    currency: str = pa.Field(nullable=True)
    reference: str = pa.Field(nullable=True)

    @pa.check("amount", name="positive_amount")
    def positive_amount(cls, data):  # noqa: N805
        col = pl.col(data.key)
        # a positive decimal: digits with an optional fraction, and not all zeros
        return data.lazyframe.select(col.is_null() | (col.str.contains(DECIMAL_RE) & col.str.contains(r"[1-9]")))

    @pa.check("received_on", name="date")
    def date(cls, data):  # noqa: N805
        return ok_date(data)

    @pa.check("method", name="method")
    def known_method(cls, data):  # noqa: N805
        return data.lazyframe.select(pl.col(data.key).is_null() | pl.col(data.key).is_in(METHODS))

    @pa.check("currency", name="currency")
    def currency_code(cls, data):  # noqa: N805
        known = list(currency.exponents())
        return data.lazyframe.select(pl.col(data.key).is_null() | pl.col(data.key).is_in(known))

    class Config:
        strict = False


def _amount_reason(column: str, value: Any) -> str:
    return f"{column} {value!r} is not a positive amount (digits and a '.', e.g. 1250.00)"


def _method_reason(column: str, value: Any) -> str:
    return f"{column} {value!r} is not one of {', '.join(METHODS)}"


def _currency_reason(column: str, value: Any) -> str:
    return f"{column} {value!r} is not an active ISO 4217 code (e.g. USD)"


def _amount_text(value: str) -> str:
    """`1250.00` and `1250` are the same amount, so the same payment hashes the same."""
    try:
        return format(Decimal(value).normalize(), "f")
    except InvalidOperation:  # pragma: no cover - pandera refused it already
        return value


def _canonical(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        pl.col("payment_id").alias("record_id"), "client_id",
        pl.col("amount").map_elements(_amount_text, return_dtype=pl.Utf8).alias("amount"),
        date_expr("received_on").alias("received_on"), "method", "invoice_number", "currency", "reference",
        "extra", "source_line",
    )


KIND = CsvKind(
    "payments", "payments_received", "payment_id",
    ("payment_id", "client_id", "amount", "received_on", "method"),
    ("invoice_number", "currency", "reference"),
    PaymentRow, _canonical,
    column_reasons={"positive_amount": _amount_reason, "method": _method_reason, "currency": _currency_reason},
)
