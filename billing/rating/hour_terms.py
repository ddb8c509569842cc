"""The contracts' guard-hour terms as small code tables, so that a million shifts carry integers
(a contract code, a zone code) and look their terms up by gather instead of joining strings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import polars as pl

from billing.rating.context import Context
from billing.rating.money import canon

REGULAR, OVERTIME, DOUBLE = 0, 1, 2
NO_LIMIT = 10**12  # a minute counter no running total reaches
DENSE_TABLE_LIMIT = 20_000_000  # entries of a dense lookup table (see per_distinct)
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class HourTerms:
    """One row of `frame` per contract, at its code (its position in `contract_ids`)."""

    contract_ids: list[str]
    zones: list[str]  # zone code -> IANA name
    frame: pl.DataFrame
    events: pl.DataFrame  # contract_code, event_start_us, event_end_us, event_rank, event_multiplier, event_name

    @property
    def zone_enum(self) -> pl.Enum:
        return pl.Enum(self.zones)


def hour_terms(ctx: Context, extra_zones: list[str]) -> HourTerms:
    contract_ids = list(ctx.contracts)
    zones = sorted({"UTC", *extra_zones, *(contract.timezone for contract in ctx.contracts.values())})
    rows = []
    for contract in ctx.contracts.values():
        overtime = contract.overtime
        daily = overtime.policy in ("daily", "daily_and_weekly", "california")
        rows.append(
            {
                "increment_minutes": contract.increment_minutes,
                "bills_scheduled": contract.basis == "scheduled",
                "contract_zone": zones.index(contract.timezone),
                "is_california": overtime.policy == "california",
                # Daily rule: regular up to `daily_minutes`, overtime up to `double_time_after`.
                "daily_minutes": overtime.daily_minutes if daily else None,
                "double_time_after": max(12 * 60, overtime.daily_minutes)
                if overtime.policy == "california"
                else NO_LIMIT,
                "weekly_minutes": overtime.weekly_minutes
                if overtime.policy in ("weekly", "daily_and_weekly", "california")
                else None,
                "workweek_start": overtime.workweek_start,
                "day_is_shift_start": overtime.day_boundary == "shift_start",
                "minimum_shift_minutes": contract.minimum_shift_minutes,
                "has_tiers": contract.hour_tiers is not None and bool(contract.hour_tiers.tiers),
            }
        )
    schema = {
        "increment_minutes": pl.Int64,
        "bills_scheduled": pl.Boolean,
        "contract_zone": pl.UInt32,
        "is_california": pl.Boolean,
        "daily_minutes": pl.Int64,
        "double_time_after": pl.Int64,
        "weekly_minutes": pl.Int64,
        "workweek_start": pl.Int64,
        "day_is_shift_start": pl.Boolean,
        "minimum_shift_minutes": pl.Int64,
        "has_tiers": pl.Boolean,
    }
    return HourTerms(contract_ids, zones, pl.DataFrame(rows, schema=schema), _events(ctx, contract_ids))


def _events(ctx: Context, contract_ids: list[str]) -> pl.DataFrame:
    """Events ranked by multiplier, highest first: a minute inside several takes the lowest rank."""
    rows = [
        (contract.contract_id, event.start, event.end, event.multiplier, event.name)
        for contract in ctx.contracts.values()
        for event in contract.events
    ]
    rows.sort(key=lambda row: (row[0], -row[3], row[1], row[4]))
    code = {cid: position for position, cid in enumerate(contract_ids)}
    return pl.DataFrame(
        [(code[cid], start, end, rank, canon(mult), name) for rank, (cid, start, end, mult, name) in enumerate(rows)],
        schema={
            "contract_code": pl.UInt32,
            "event_start_us": pl.Datetime("us", "UTC"),
            "event_end_us": pl.Datetime("us", "UTC"),
            "event_rank": pl.Int64,
            "event_multiplier": pl.String,
            "event_name": pl.String,
        },
        orient="row",
    ).with_columns(pl.col("event_start_us", "event_end_us").dt.epoch("us"))


class DecimalCodes:
    """Distinct amounts (rates, multipliers) as small integer codes; equal amounts share a code
    whatever their text ("32.00" and "32"), and the Decimal is looked up only for output lines."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._code: dict[str, int] = {}

    def code(self, value: Decimal | None) -> int | None:
        if value is None:
            return None
        text = canon(value)
        found = self._code.get(text)
        if found is None:
            found = self._code[text] = len(self.texts)
            self.texts.append(text)
        return found


def per_distinct(index: pl.Series, size: int, compute: Callable[[list[int]], list], dtype: pl.DataType) -> pl.Series:
    """Per row, `compute`'s value for the row's index (a small integer below `size`, or null).
    `compute` runs once on the distinct indexes present (a few thousand (contract, date) pairs,
    say, for a million rows); rows get theirs by gather from a dense table when it is small
    enough, else by hash lookup."""
    valid = index.drop_nulls()
    if size <= DENSE_TABLE_LIMIT:
        distinct = pl.zeros(size, pl.Boolean, eager=True).scatter(valid, True).arg_true()
        values = pl.Series(compute(distinct.to_list()), dtype=dtype)
        table = pl.repeat(None, size, dtype=dtype, eager=True).scatter(distinct, values)
        return table.gather(index)
    distinct = valid.unique()
    values = pl.Series(compute(distinct.to_list()), dtype=dtype)
    return index.replace_strict(distinct, values, default=None, return_dtype=dtype)


def per_key_and_date(
    key: pl.Series, day: pl.Series, n_keys: int, compute: Callable[[list[tuple[int, date]]], list], dtype: pl.DataType
) -> pl.Series:
    """`per_distinct` over (key, date) pairs: key a small integer below n_keys, day a date."""
    days = day.cast(pl.Int32)
    first = days.min()
    if first is None:
        return pl.repeat(None, key.len(), dtype=dtype, eager=True)
    span = days.max() - first + 1
    index = key.cast(pl.Int64) * span + (days - first)

    def pairs(indexes: list[int]) -> list:
        if span > 4 * len(indexes):  # dates far apart: make only those asked for
            return compute([(i // span, EPOCH + timedelta(days=first + i % span)) for i in indexes])
        dates = [EPOCH + timedelta(days=first + offset) for offset in range(span)]  # each date made once
        return compute([(i // span, dates[i % span]) for i in indexes])

    return per_distinct(index, n_keys * span, pairs, dtype)
