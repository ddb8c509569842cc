"""Vectorised time helpers. Polars converts time zones per column, not per row, so a helper
either partitions by the time-zone column (a handful of zones) or gathers offsets from a
ZoneClock table built once; none loops over rows."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

UTC_DT = pl.Datetime("us", "UTC")


def by_zone(
    df: pl.DataFrame, tz_col: str, needed: list[str], fn: Callable[[pl.DataFrame, str], pl.DataFrame]
) -> pl.DataFrame:
    """`df` with the columns `fn(part, zone)` computes on each zone's rows of the narrow frame
    (`tz_col` + `needed`); partitioning only the needed columns keeps wide frames cheap."""
    if df.height == 0:
        computed = fn(df.select(tz_col, *needed), "UTC")
        return df.with_columns([computed[c] for c in computed.columns if c != tz_col])
    narrow = df.select(tz_col, *needed).with_row_index("__row")
    parts = [fn(part, str(key[0])) for key, part in narrow.partition_by(tz_col, as_dict=True).items()]
    computed = pl.concat(parts, how="vertical").sort("__row")
    return df.with_columns([computed[c] for c in computed.columns if c not in ("__row", tz_col)])


HOUR_US = 3_600_000_000
MINUTE_US = 60_000_000
DAY_US = 24 * HOUR_US


def _offset_us(instant_us: pl.Expr, zone: str) -> pl.Expr:
    """UTC offset of `zone` at each instant (epoch microseconds), converted by polars."""
    wall = instant_us.cast(UTC_DT).dt.convert_time_zone(zone).dt.replace_time_zone(None).dt.epoch("us")
    return wall - instant_us


class ZoneClock:
    """Wall clocks of a few zones over the span the data covers, from one offset table.

    UTC offsets only change at zone transitions, so the offset is computed once per (zone,
    UTC hour) of the span and gathered per row: one table per rating run serves rounding,
    local dates and workweeks. An hour whose offset is not the same at both ends (a
    transition off the hour), and any span too long for a table, is converted exactly, zone
    by zone."""

    def __init__(self, zones: list[str], first_us: int | None, last_us: int | None, rows: int = 0) -> None:
        self.zones = list(zones)
        self.first_hour = 0
        self.hours = 0
        self.table: pl.Series | None = None
        if first_us is None or last_us is None or not self.zones:
            return
        first_hour, last_hour = first_us // HOUR_US, last_us // HOUR_US
        span = last_hour - first_hour + 1
        if span * len(self.zones) > max(100_000, 2 * rows):
            return
        hour_start = pl.int_range(first_hour, last_hour + 1, eager=True, dtype=pl.Int64) * HOUR_US
        grid = pl.DataFrame({"hour_start": hour_start, "hour_last": hour_start + (HOUR_US - 1)})
        columns = [
            grid.select(
                pl.when(_offset_us(pl.col("hour_start"), z) == _offset_us(pl.col("hour_last"), z))
                .then(_offset_us(pl.col("hour_start"), z))
                .alias("offset_us")
            )["offset_us"]
            for z in self.zones
        ]
        self.first_hour, self.hours, self.table = first_hour, span, pl.concat(columns)

    def wall_us(self, instant_us: pl.Series, zone_code: pl.Series) -> pl.Series:
        """The local wall clock (naive epoch microseconds) of each instant in zones[zone_code]."""
        instant_us = instant_us.cast(pl.Int64)
        zone_code = zone_code.cast(pl.Int64)
        if self.table is not None:
            hour = instant_us // HOUR_US - self.first_hour
            index = zone_code * self.hours + hour
            if (hour.min() or 0) < 0 or (hour.max() or 0) >= self.hours:
                index = pl.select(pl.when((hour >= 0) & (hour < self.hours)).then(index)).to_series()
            wall = instant_us + self.table.gather(index)
            exact = (wall.is_null() & instant_us.is_not_null() & zone_code.is_not_null()).arg_true()
        else:
            wall = pl.Series(instant_us.name, [None] * instant_us.len(), dtype=pl.Int64)
            exact = (instant_us.is_not_null() & zone_code.is_not_null()).arg_true()
        if exact.len():
            rows = pl.DataFrame({"instant_us": instant_us.gather(exact), "zone_code": zone_code.gather(exact)})
            converted = rows.select(
                pl.coalesce(
                    pl.when(pl.col("zone_code") == code).then(
                        pl.col("instant_us") + _offset_us(pl.col("instant_us"), z)
                    )
                    for code, z in enumerate(self.zones)
                )
            ).to_series()
            wall = wall.scatter(exact, converted)
        return wall.alias(instant_us.name)

    def minute_of_hour(self, instant_us: pl.Series, zone_code: pl.Series) -> pl.Series:
        """The minute of the hour of each instant's local wall clock. In a zone whose offset is
        a whole number of hours throughout the table's span it is the UTC minute, so only the
        rows of other zones (:30 and :45 offsets, a transition off the hour) are converted."""
        instant_us = instant_us.cast(pl.Int64)
        own = (instant_us // MINUTE_US) % 60
        if self.table is None:
            return (self.wall_us(instant_us, zone_code) // MINUTE_US) % 60
        offsets = [self.table.slice(code * self.hours, self.hours) for code in range(len(self.zones))]
        whole = pl.Series([not part.null_count() and bool((part % HOUR_US == 0).all()) for part in offsets])
        converted = whole.gather(zone_code.cast(pl.Int64)).fill_null(False).not_()
        first, last = instant_us.min(), instant_us.max()
        if first is not None and (
            first // HOUR_US < self.first_hour or last // HOUR_US >= self.first_hour + self.hours
        ):  # outside the table's span a zone's offset is not known to be whole hours
            hour = instant_us // HOUR_US - self.first_hour
            converted = converted | (hour < 0) | (hour >= self.hours)
        other = converted.arg_true()
        if other.len() == 0:
            return own
        wall = self.wall_us(instant_us.gather(other), zone_code.gather(other))
        return own.scatter(other, (wall // MINUTE_US) % 60)

    def local_date(self, instant_us: pl.Series, zone_code: pl.Series) -> pl.Series:
        """The wall-clock date of each instant in its zone."""
        return (self.wall_us(instant_us, zone_code) // DAY_US).cast(pl.Int32).cast(pl.Date)


def _wall_us_by_zone(df: pl.DataFrame, instant: str, tz_col: str) -> pl.Series:
    """The local wall clock of `instant` (naive microseconds), converted zone by zone."""
    converted = by_zone(
        df.select(tz_col, instant),
        tz_col,
        [instant],
        lambda part, zone: part.with_columns(
            pl.col(instant).dt.convert_time_zone(zone).dt.replace_time_zone(None).dt.epoch("us").alias("__wall")
        ),
    )
    return converted["__wall"].cast(pl.Int64)


def local_wall_us(df: pl.DataFrame, instant: str, tz_col: str) -> pl.Series:
    """The local wall clock of `instant` in each row's zone (a column of zone names), as naive
    epoch microseconds."""
    if df.height == 0 or df.schema[tz_col] != pl.String or df[tz_col].null_count():
        return _wall_us_by_zone(df, instant, tz_col)
    zones = df[tz_col].unique().sort().to_list()
    instant_us = df[instant].dt.epoch("us")
    clock = ZoneClock(zones, instant_us.min(), instant_us.max(), df.height)
    return clock.wall_us(instant_us, df[tz_col].cast(pl.Enum(zones)).to_physical())


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


def round_minutes_us(instant_us: pl.Series, minute_of_hour: pl.Series, increment: pl.Series) -> pl.Series:
    """`round_to_increment` on epoch microseconds: `minute_of_hour` is that of the local wall
    clock of the instant truncated to the minute (`truncate_minute_us`, `ZoneClock.minute_of_hour`)."""
    past = minute_of_hour % increment
    shift = pl.select(pl.when(2 * past >= increment).then(increment - past).otherwise(-past)).to_series()
    return instant_us + shift * MINUTE_US


def truncate_minute_us(instant_us: pl.Series) -> pl.Series:
    return instant_us - instant_us % MINUTE_US


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
        __total_after=total - pl.when(new_group).then(total - pl.col("minutes")).otherwise(None).forward_fill(),
    ).with_columns(__total_before=pl.col("__total_after") - pl.col("minutes"))
    work = narrow.join(
        bands.select(pl.col(band_key).alias("__key"), "lo", "hi", label), on="__key", how="inner", maintain_order="left"
    )
    piece_lo = pl.max_horizontal("__total_before", "lo")
    piece_hi = pl.min_horizontal("__total_after", "hi")
    work = work.filter(piece_hi > piece_lo).select(
        "__idx",
        __shift=piece_lo - pl.col("__total_before"),
        __minutes=piece_hi - piece_lo,
        __label=pl.col(label),
        __counted=pl.lit(True),
    )
    rest = (
        pl.DataFrame({"__idx": pl.int_range(0, df.height, dtype=pl.UInt32, eager=True)})
        .filter(~elig)
        .with_columns(
            __shift=pl.lit(0, dtype=pl.Int64),
            __minutes=df["minutes"].filter(~elig).cast(pl.Int64),
            __label=pl.lit(default_label).cast(work.schema["__label"]),
            __counted=pl.lit(False),
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
        placed = pl.concat([part.select(parts[0].columns) for part in parts], how="vertical")
    else:
        placed = _place(df.gather(out["__idx"]), out, label)
    return placed.select(cols)


def _place(rows: pl.DataFrame, out: pl.DataFrame, label: str) -> pl.DataFrame:
    """`rows` (aligned with `out`) moved to their band piece: start, minutes, label (and end)."""
    placed = rows.drop(label, strict=False).with_columns(
        start=pl.col("start") + pl.duration(minutes=out["__shift"]),
        minutes=out["__minutes"].cast(rows.schema["minutes"]),
        **{label: out["__label"]},
    )
    if "end" in placed.columns:
        placed = placed.with_columns(
            end=pl.when(out["__counted"])
            .then(pl.col("start") + pl.duration(minutes=pl.col("minutes")))
            .otherwise("end")
        )
    return placed
