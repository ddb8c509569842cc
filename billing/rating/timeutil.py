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


_HOUR_US = 3_600_000_000


def _wall_us_by_zone(df: pl.DataFrame, instant: str, tz_col: str) -> pl.Series:
    """The local wall clock of `instant` (naive microseconds), converted zone by zone."""
    res = by_zone(
        df.select(tz_col, instant),
        tz_col,
        [instant],
        lambda p, tz: p.with_columns(
            pl.col(instant).dt.convert_time_zone(tz).dt.replace_time_zone(None).dt.epoch("us").alias("__wall")
        ),
    )
    return res["__wall"].cast(pl.Int64)


def local_wall_us(df: pl.DataFrame, instant: str, tz_col: str) -> pl.Series:
    """The local wall clock of `instant` in each row's zone, as naive epoch microseconds.

    UTC offsets only change at zone transitions, so the offset is computed once per (zone,
    UTC hour) the data spans and gathered per row; an hour whose offset is not the same at
    both ends (a transition off the hour) is converted exactly, zone by zone."""
    if df.height == 0 or df.schema[tz_col] != pl.String or df[tz_col].null_count():
        return _wall_us_by_zone(df, instant, tz_col)
    us = df[instant].dt.epoch("us")
    hr = us // _HOUR_US
    hmin, hmax = hr.min(), hr.max()
    if hmin is None:
        return us
    cat = df[tz_col].cast(pl.Categorical)
    codes = cat.to_physical().cast(pl.Int64)
    distinct = cat.unique()
    zones = distinct.cast(pl.String).to_list()
    pos = [0] * (int(codes.max()) + 1)
    for i, code in enumerate(distinct.to_physical().to_list()):
        pos[code] = i
    span = int(hmax) - int(hmin) + 1
    if span * len(zones) > max(100_000, 2 * df.height):
        return _wall_us_by_zone(df, instant, tz_col)
    h = pl.int_range(int(hmin), int(hmax) + 1, eager=True, dtype=pl.Int64)
    grid = pl.DataFrame({"t0": h * _HOUR_US, "t1": h * _HOUR_US + (_HOUR_US - 1)})

    def offset(col: str, z: str) -> pl.Expr:
        return pl.col(col).cast(UTC_DT).dt.convert_time_zone(z).dt.replace_time_zone(None).dt.epoch("us") - pl.col(col)

    table = pl.concat(
        [grid.select(pl.when(offset("t0", z) == offset("t1", z)).then(offset("t0", z)).alias("o"))["o"] for z in zones]
    )
    zi = pl.Series(pos, dtype=pl.Int64).gather(codes)
    wall = us + table.gather(zi * span + (hr - int(hmin)))
    bad = wall.is_null() & us.is_not_null()
    if bad.any():
        idx = bad.arg_true()
        exact = _wall_us_by_zone(df.select(tz_col, instant).gather(idx), instant, tz_col)
        wall = wall.scatter(idx, exact)
    return wall


def local_date(df: pl.DataFrame, instant: str, tz_col: str, out: str) -> pl.DataFrame:
    """The wall-clock date of `instant` in each row's zone."""
    wall = local_wall_us(df, instant, tz_col)
    return df.with_columns(wall.cast(pl.Datetime("us")).dt.date().alias(out))


def round_to_increment(df: pl.DataFrame, cols: list[str], tz_col: str, inc_col: str) -> pl.DataFrame:
    """Truncate to the minute, then round to the nearest multiple of the increment counted
    from the local hour (zones with :30/:45 offsets matter), a tie rounding up."""
    inc = pl.col(inc_col).cast(pl.Int64)
    for c in cols:
        df = df.with_columns(pl.col(c).dt.truncate("1m"))
        minute = local_wall_us(df, c, tz_col).cast(pl.Datetime("us")).dt.minute().cast(pl.Int64)
        r = pl.lit(minute) % inc
        shift = pl.when(2 * r >= inc).then(inc - r).otherwise(-r)
        df = df.with_columns((pl.col(c) + pl.duration(minutes=shift)).alias(c))
    return df


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


def _code(col: str, dtype: pl.DataType) -> pl.Expr:
    """An integer standing for each distinct value of a string column (equal iff equal)."""
    if dtype == pl.String:
        return pl.col(col).cast(pl.Categorical).to_physical().alias(col)
    return pl.col(col)


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
    cols = [*df.columns, *([] if label in df.columns else [label])]
    elig = df.select((eligible & pl.col(band_key).is_in(keys)).fill_null(False)).to_series()
    # The running total is computed on a narrow frame of the eligible rows, sorted by group
    # then order; the wide frame is gathered once at the end (eligible rows first, in that
    # order, one output row per band crossed; then the pass-through rows in input order).
    # Group keys only need to be contiguous, not in text order: strings sort as category codes.
    narrow = (
        df.select(*[_code(g, df.schema[g]) for g in group], *order, "minutes", __key=pl.col(band_key))
        .with_row_index("__idx")
        .filter(elig)
        .sort([*group, *order])
    )
    new_group = pl.lit(False) if narrow.height == 0 else pl.int_range(pl.len()) == 0
    for g in group:
        new_group = new_group | pl.col(g).ne_missing(pl.col(g).shift(1))
    total = pl.col("minutes").cum_sum()
    narrow = narrow.select(
        "__idx",
        "minutes",
        "__key",
        __c1=total - pl.when(new_group).then(total - pl.col("minutes")).otherwise(None).forward_fill(),
    ).with_columns(__c0=pl.col("__c1") - pl.col("minutes"))
    work = narrow.join(
        bands.select(pl.col(band_key).alias("__key"), "lo", "hi", label), on="__key", how="inner", maintain_order="left"
    )
    lo = pl.max_horizontal("__c0", "lo")
    hi = pl.min_horizontal("__c1", "hi")
    work = work.filter(hi > lo).select(
        "__idx", __shift=lo - pl.col("__c0"), __minutes=hi - lo, __label=pl.col(label), __w=pl.lit(True)
    )
    rest = (
        pl.DataFrame({"__idx": pl.int_range(0, df.height, dtype=pl.UInt32, eager=True)})
        .filter(~elig)
        .with_columns(
            __shift=pl.lit(0, dtype=pl.Int64),
            __minutes=df["minutes"].filter(~elig).cast(pl.Int64),
            __label=pl.lit(default_label).cast(work.schema["__label"]),
            __w=pl.lit(False),
        )
    )
    # Each input row's first piece updates it in place (no wide copy); further pieces of a
    # row crossing band edges are gathered and appended. Row order is not meaningful.
    out = pl.concat([work, rest.select(work.columns)], how="vertical").sort("__idx", "__shift")
    first = out["__idx"].ne_missing(out["__idx"].shift(1))
    head = out.filter(first)
    if head.height == df.height:
        extra = out.filter(~first)
        parts = [_place(df, head, label), _place(df.gather(extra["__idx"]), extra, label)]
        res = pl.concat([x.select(parts[0].columns) for x in parts], how="vertical")
    else:
        res = _place(df.gather(out["__idx"]), out, label)
    return res.select(cols)


def _place(rows: pl.DataFrame, out: pl.DataFrame, label: str) -> pl.DataFrame:
    """`rows` (aligned with `out`) moved to their band piece: start, minutes, label (and end)."""
    res = rows.drop(label, strict=False).with_columns(
        start=pl.col("start") + pl.duration(minutes=out["__shift"]),
        minutes=out["__minutes"].cast(rows.schema["minutes"]),
        **{label: out["__label"]},
    )
    if "end" in res.columns:
        res = res.with_columns(
            end=pl.when(out["__w"]).then(pl.col("start") + pl.duration(minutes=pl.col("minutes"))).otherwise("end")
        )
    return res
