"""Vectorised time helpers. Polars converts time zones per column, not per row, so every
helper partitions by the time-zone column (a handful of zones), never loops over rows."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

UTC_DT = pl.Datetime("us", "UTC")
BIG = 10**12  # "no upper bound" for minute counters


def by_zone(
    df: pl.DataFrame, tz_col: str, needed: list[str], fn: Callable[[pl.DataFrame, str], pl.DataFrame]
) -> pl.DataFrame:
    """`df` with the columns `fn(part, zone)` computes on each zone's rows of the narrow frame
    (`tz_col` + `needed`); partitioning only the needed columns keeps wide frames cheap."""
    if df.height == 0:
        res = fn(df.select(tz_col, *needed), "UTC")
        return df.with_columns([res[c] for c in res.columns if c != tz_col])
    narrow = df.select(tz_col, *needed).with_row_index("__row")
    parts = [fn(part, str(key[0])) for key, part in narrow.partition_by(tz_col, as_dict=True).items()]
    res = pl.concat(parts, how="vertical").sort("__row")
    return df.with_columns([res[c] for c in res.columns if c not in ("__row", tz_col)])


def local_date(df: pl.DataFrame, instant: str, tz_col: str, out: str) -> pl.DataFrame:
    """The wall-clock date of `instant` in each row's zone."""
    return by_zone(
        df,
        tz_col,
        [instant],
        lambda p, tz: p.with_columns(pl.col(instant).dt.convert_time_zone(tz).dt.date().alias(out)),
    )


def round_to_increment(df: pl.DataFrame, cols: list[str], tz_col: str, inc_col: str) -> pl.DataFrame:
    """Truncate to the minute, then round to the nearest multiple of the increment counted
    from the local hour (zones with :30/:45 offsets matter), a tie rounding up."""

    def one(part: pl.DataFrame, tz: str) -> pl.DataFrame:
        exprs = []
        inc = pl.col(inc_col).cast(pl.Int64)
        for c in cols:
            t = pl.col(c).dt.truncate("1m")
            r = t.dt.convert_time_zone(tz).dt.minute().cast(pl.Int64) % inc
            shift = pl.when(2 * r >= inc).then(inc - r).otherwise(-r)
            exprs.append((t + pl.duration(minutes=shift)).alias(c))
        return part.with_columns(exprs)

    return by_zone(df, tz_col, [*cols, inc_col], one)


def day_starts(zone_dates: pl.DataFrame, tz_col: str = "tz", date_col: str = "date") -> pl.DataFrame:
    """For each (zone, date): the UTC instant its local day starts. A midnight that does not
    exist (a zone that springs forward at 00:00) starts at the first valid minute after it."""

    def one(part: pl.DataFrame, tz: str) -> pl.DataFrame:
        naive = pl.col(date_col).cast(pl.Datetime("us"))
        first = naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
        later = (naive + pl.duration(hours=1)).dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
        return part.with_columns(pl.coalesce(first, later).dt.convert_time_zone("UTC").alias("day_start"))

    return by_zone(zone_dates.unique([tz_col, date_col]), tz_col, [date_col], one)


def minutes_between(start: str | pl.Expr, end: str | pl.Expr) -> pl.Expr:
    s = pl.col(start) if isinstance(start, str) else start
    e = pl.col(end) if isinstance(end, str) else end
    return (e - s).dt.total_minutes().cast(pl.Int64)


def band_split(
    df: pl.DataFrame,
    bands: pl.DataFrame,
    *,
    group: list[str],
    order: list[str],
    band_key: str,
    label: str,
    eligible: pl.Expr | None = None,
    default_label: object = None,
) -> pl.DataFrame:
    """Split interval rows (`start`, `minutes`) where a running total of minutes, in `order`
    within `group`, crosses a band boundary; each output row gets its band's `label`.

    `bands` has columns band_key, lo, hi (minute counters, hi exclusive) and `label`. Rows
    not `eligible` (and rows whose band_key has no band) pass through with `default_label`
    and do not count toward the running total. This is how weekly/daily overtime, double
    time and hour tiers are applied on intervals: cost grows with rows, not with minutes."""
    if eligible is None:
        eligible = pl.lit(True)
    keys = bands[band_key].unique()
    df = df.with_columns(__elig=(eligible & pl.col(band_key).is_in(keys)).fill_null(False))
    passthrough = df.filter(~pl.col("__elig")).drop("__elig").with_columns(pl.lit(default_label).alias(label))
    work = df.filter(pl.col("__elig")).drop("__elig").sort([*group, *order])
    work = work.with_columns(__c1=pl.col("minutes").cum_sum().over(group)).with_columns(
        __c0=pl.col("__c1") - pl.col("minutes")
    )
    work = work.join(bands.select(band_key, "lo", "hi", label), on=band_key, how="inner")
    lo = pl.max_horizontal("__c0", "lo")
    hi = pl.min_horizontal("__c1", "hi")
    work = (
        work.with_columns(__lo=lo, __hi=hi)
        .filter(pl.col("__hi") > pl.col("__lo"))
        .with_columns(
            start=pl.col("start") + pl.duration(minutes=pl.col("__lo") - pl.col("__c0")),
            minutes=pl.col("__hi") - pl.col("__lo"),
        )
        .drop("__c0", "__c1", "__lo", "__hi", "lo", "hi")
    )
    if "end" in work.columns:
        work = work.with_columns(end=pl.col("start") + pl.duration(minutes=pl.col("minutes")))
    passthrough = passthrough.with_columns(pl.col(label).cast(work.schema[label]))
    return pl.concat([work.select(passthrough.columns), passthrough], how="vertical")
