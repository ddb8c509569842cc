"""Overtime, double time and hour tiers (billing-rules.md section 4) as running totals over
sorted pieces.

Pieces arrive sorted by guard, contract and start, so every overtime group (a guard's day or
workweek under one contract) is a contiguous run: the daily and weekly running totals are
cumulative sums restarted at run boundaries, in one pass, and a piece is cut only where a
total crosses a limit. Hour tiers count a contract's minutes per cycle across guards, so they
sort the tiered pieces once more, by contract, cycle and start."""

from __future__ import annotations

import polars as pl

from billing.rating.context import Context
from billing.rating.hour_terms import DOUBLE, NO_LIMIT, OVERTIME, REGULAR, DecimalCodes
from billing.rating.timeutil import MINUTE_US


def _running_before(values: pl.Expr, new_run: pl.Expr) -> pl.Expr:
    """The sum of the earlier values of the same run (rows in run order; the first row starts a run)."""
    total = values.cum_sum()
    return total - values - pl.when(new_run).then(total - values).forward_fill()


def _changed(*cols: str) -> pl.Expr:
    """True where any of the columns differs from the previous row (and on the first row)."""
    changed = pl.int_range(pl.len()) == 0
    for col in cols:
        changed = changed | pl.col(col).ne_missing(pl.col(col).shift(1))
    return changed


def _cut(rows: pl.DataFrame, boundaries: list[pl.Expr], limit: pl.Expr, output: list[pl.Expr | str]) -> pl.DataFrame:
    """Each row split at the offsets (minutes from its start) in `boundaries`, ascending where
    not null; an offset counts only strictly inside (0, limit). Each part is `output` evaluated
    with `offset` (0 for the first part) and `minutes` set to the part's length. Most rows
    cross no boundary: the first parts are the rows themselves, later parts only exist where a
    boundary does."""
    names = [f"_cut{i}" for i in range(len(boundaries))]
    rows = rows.with_columns(
        [
            pl.when((offset > 0) & (offset < limit)).then(offset).alias(name)
            for offset, name in zip(boundaries, names, strict=True)
        ]
    )
    parts = []
    for part_index, name in enumerate([None, *names]):
        part = rows if name is None else rows.filter(pl.col(name).is_not_null())
        offset = pl.lit(0, pl.Int64) if name is None else pl.col(name)
        part_end = pl.coalesce([*(pl.col(later) for later in names[part_index:]), pl.col("minutes")])
        part = part.with_columns(offset=offset, minutes=part_end - offset)
        if name is not None:  # equal boundaries leave empty parts; a first part is never empty
            part = part.filter(pl.col("minutes") > 0)
        parts.append(part.select(output))
    return pl.concat(parts, how="vertical")


def label_overtime(pieces: pl.DataFrame) -> pl.DataFrame:
    """Each piece's minutes as regular / overtime / double time, per guard per contract, pieces
    in (guard, contract, start) order. Returns segments: `piece` (row of `pieces`), `offset`
    (minutes from the piece's start), `minutes`, `workweek` and `overtime_class`.

    The daily rule runs on days in the contract's zone (or the shift's start day with
    day_boundary shift_start); the weekly total then adds up only the minutes the daily rule
    left regular, in time order, so an overtime minute is never counted twice (no pyramiding).
    A piece's regular minutes are its first ones (the day's total grows through it), so each
    piece needs at most three cuts: where the day's total reaches the daily limit and the
    double-time limit, and where the week's regular total reaches the weekly limit."""
    day_key = pl.when(pl.col("day_is_shift_start")).then(pl.col("start_contract_date")).otherwise("contract_date")
    any_california = bool(pieces["is_california"].any())
    # One lazy query: polars evaluates the running totals without materialising each step.
    totals = pieces.lazy().select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("piece"),
        "guard_rank",
        "contract_code",
        "minutes",
        "workweek_start",
        "is_california",
        "daily_minutes",
        "double_time_after",
        "weekly_minutes",
        day_key=day_key,
    )
    weekday = (pl.col("day_key").cast(pl.Int32) + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
    totals = totals.with_columns(
        workweek=(pl.col("day_key").cast(pl.Int32) - (weekday - pl.col("workweek_start")) % 7).cast(pl.Date)
    )
    totals = totals.with_columns(
        _new_day=_changed("guard_rank", "contract_code", "day_key"),
        _new_week=_changed("guard_rank", "contract_code", "workweek"),
    )
    seventh_day = pl.lit(False)
    if any_california:
        # California: the 7th consecutive worked day of a workweek is overtime, then double time.
        days_so_far = _running_before(pl.col("_new_day").cast(pl.Int64), pl.col("_new_week")) + pl.col("_new_day")
        last_of_week = pl.col("_new_week").shift(-1).fill_null(True)
        totals = totals.with_columns(_days_in_week=pl.when(last_of_week).then(days_so_far).backward_fill())
        seventh_day = (
            pl.col("is_california")
            & (pl.col("_days_in_week") == 7)
            & (pl.col("day_key") == pl.col("workweek") + pl.duration(days=6))
        )
    no_daily_rule = pl.col("daily_minutes").is_null()
    totals = totals.with_columns(
        # Positions in the day's running total where overtime, then double time, begin.
        _overtime_from=pl.when(no_daily_rule).then(NO_LIMIT).when(seventh_day).then(0).otherwise("daily_minutes"),
        _double_from=pl.when(no_daily_rule)
        .then(NO_LIMIT)
        .when(seventh_day)
        .then("daily_minutes")
        .otherwise("double_time_after"),
        _day_before=_running_before(pl.col("minutes"), pl.col("_new_day")),
    )
    totals = totals.with_columns(
        _regular=(pl.col("_overtime_from") - pl.col("_day_before")).clip(0, pl.col("minutes")),
        _weekly_limit=pl.col("weekly_minutes").fill_null(NO_LIMIT),
    )
    totals = totals.with_columns(_week_before=_running_before(pl.col("_regular"), pl.col("_new_week")))
    pieces = totals.select(
        "piece",
        "minutes",
        "workweek",
        "_overtime_from",
        "_double_from",
        "_day_before",
        "_regular",
        "_weekly_limit",
        "_week_before",
    ).collect()
    # Ascending where present: the week's limit falls within the day's regular minutes, which
    # end where overtime begins, before double time.
    day_position = pl.col("_day_before") + pl.col("offset")
    daily_class = (
        pl.when(day_position < pl.col("_overtime_from"))
        .then(REGULAR)
        .when(day_position >= pl.col("_double_from"))
        .then(DOUBLE)
        .otherwise(OVERTIME)
    )
    weekly_class = (
        pl.when(
            (pl.col("offset") < pl.col("_regular"))
            & (pl.col("_week_before") + pl.col("offset") >= pl.col("_weekly_limit"))
        )
        .then(OVERTIME)
        .otherwise(REGULAR)
    )
    return _cut(
        pieces,
        [
            pl.when(pl.col("_weekly_limit") - pl.col("_week_before") < pl.col("_regular")).then(
                pl.col("_weekly_limit") - pl.col("_week_before")
            ),
            pl.col("_overtime_from") - pl.col("_day_before"),
            pl.col("_double_from") - pl.col("_day_before"),
        ],
        pl.col("minutes"),
        [
            "piece",
            "offset",
            "minutes",
            "workweek",
            pl.max_horizontal(daily_class, weekly_class).alias("overtime_class"),
        ],
    )


def _tier_table(ctx: Context, contract_ids: list[str], rates: DecimalCodes, mode: str):
    """For contracts with `mode` tiers: each band's first minute (padded with NO_LIMIT) and
    rate code, flattened as contract_code * width + band. A first tier above 0 leaves the
    minutes below it at the hourly rate (a band without a tier rate)."""
    bands: dict[int, list[tuple[int, int | None]]] = {}
    for code, cid in enumerate(contract_ids):
        ht = ctx.contracts[cid].hour_tiers
        if ht is None or not ht.tiers or ht.mode != mode:
            continue
        edges = [(lo, rates.code(rate)) for lo, rate in ht.tiers]
        if edges[0][0] > 0:
            edges.insert(0, (0, None))
        bands[code] = edges
    return bands


def apply_hour_tiers(
    ctx: Context,
    segments: pl.DataFrame,
    pieces: pl.DataFrame,
    contract_ids: list[str],
    rates: DecimalCodes,
    records: pl.DataFrame,
) -> pl.DataFrame:
    """`tier_rate_code` for segments of tier contracts: graduated by the running total of the
    contract's guard minutes in the cycle (time order, ties by shift id then source ref),
    volume by the cycle's total."""
    segments = segments.with_columns(tier_rate_code=pl.lit(None, pl.UInt32))
    graduated = _tier_table(ctx, contract_ids, rates, "graduated")
    if graduated:
        in_graduated = pieces["contract_code"].gather(segments["piece"]).is_in(list(graduated))
        if in_graduated.any():
            segments = pl.concat(
                [segments.filter(~in_graduated), _graduated(segments.filter(in_graduated), pieces, graduated, records)]
            )
    volume = _tier_table(ctx, contract_ids, rates, "volume")
    if volume:
        cycles = pieces.select("contract_code", "cycle_start").gather(segments["piece"])
        in_volume = cycles["contract_code"].is_in(list(volume))
        totals = (
            pl.concat([cycles, segments.select("minutes")], how="horizontal")
            .filter(in_volume)
            .group_by("contract_code", "cycle_start")
            .agg(pl.col("minutes").sum().alias("total"))
        )
        reached = []
        for code, total in totals.select("contract_code", "total").iter_rows():
            in_force = [rate for lo, rate in volume[code] if lo <= total and rate is not None]
            reached.append(in_force[-1] if in_force else None)
        totals = totals.with_columns(volume_rate_code=pl.Series(reached, dtype=pl.UInt32)).drop("total")
        volume_rows = in_volume.arg_true()
        found = cycles.gather(volume_rows).join(
            totals, on=["contract_code", "cycle_start"], how="left", maintain_order="left"
        )
        tier_rate = segments["tier_rate_code"].scatter(volume_rows, found["volume_rate_code"])
        segments = segments.with_columns(tier_rate_code=tier_rate)
    return segments


def _graduated(
    segments: pl.DataFrame, pieces: pl.DataFrame, bands: dict[int, list[tuple[int, int | None]]], records: pl.DataFrame
) -> pl.DataFrame:
    """Graduated tiers: segments in cycle order (contract, cycle, start, ties by shift), cut
    where the cycle's running total of minutes reaches a tier, each part at its tier's rate."""
    width = max(len(edges) for edges in bands.values())
    n_codes = max(bands) + 1
    starts = [[NO_LIMIT] * width for _ in range(n_codes)]
    rate_of_band: list[int | None] = [None] * (n_codes * width)
    for code, edges in bands.items():
        for band, (first_minute, rate) in enumerate(edges):
            starts[code][band] = first_minute
            rate_of_band[code * width + band] = rate
    start_cols = [f"_band_start_{band}" for band in range(width)]
    band_starts = pl.DataFrame(
        [[row[band] for row in starts] for band in range(width)], schema=start_cols, orient="col"
    )
    of_piece = pieces.select("contract_code", "cycle_start", "piece_start_us", "record_row").gather(segments["piece"])
    rows = pl.concat([segments, of_piece], how="horizontal").with_columns(
        segment_start_us=pl.col("piece_start_us") + pl.col("offset") * MINUTE_US
    )
    rows = rows.sort("contract_code", "cycle_start", "segment_start_us", maintain_order=True)
    rows = pl.concat([rows, band_starts.gather(rows["contract_code"])], how="horizontal")
    rows = _order_ties(rows, start_cols, records)
    before = _running_before(pl.col("minutes"), _changed("contract_code", "cycle_start"))
    rows = rows.with_columns(_cycle_before=before, _segment_offset=pl.col("offset")).drop("offset")
    position = pl.col("_cycle_before") + pl.col("offset")
    band = pl.sum_horizontal([(pl.col(col) <= position).cast(pl.Int64) for col in start_cols]) - 1
    rows = _cut(
        rows,
        [pl.col(col) - pl.col("_cycle_before") for col in start_cols[1:]],
        pl.col("minutes"),
        [
            "piece",
            (pl.col("_segment_offset") + pl.col("offset")).alias("offset"),
            "minutes",
            "workweek",
            "overtime_class",
            (pl.col("contract_code").cast(pl.Int64) * width + band).alias("_band"),
        ],
    )
    rate_table = pl.Series(rate_of_band, dtype=pl.UInt32)
    return rows.with_columns(tier_rate_code=rate_table.gather(rows["_band"])).drop("_band")


def _order_ties(rows: pl.DataFrame, start_cols: list[str], records: pl.DataFrame) -> pl.DataFrame:
    """Segments starting at the same instant in one cycle are ordered by shift id, then source
    ref. The order only matters where a tier boundary falls inside such a block, so only those
    blocks are sorted by their strings."""
    new_block = _changed("contract_code", "cycle_start", "segment_start_us")
    rows = rows.with_columns(
        _block=new_block.cum_sum(), _before=_running_before(pl.col("minutes"), _changed("contract_code", "cycle_start"))
    )
    last_of_block = pl.col("_block").ne_missing(pl.col("_block").shift(-1))
    block_end = pl.when(last_of_block).then(pl.col("_before") + pl.col("minutes")).backward_fill()
    block_start = pl.when(new_block).then(pl.col("_before")).forward_fill()
    alone = new_block & last_of_block
    inside = pl.any_horizontal([(pl.col(col) > block_start) & (pl.col(col) < block_end) for col in start_cols])
    critical = rows.select((inside & ~alone).alias("critical"))["critical"]
    rows = rows.drop("_before")
    if not critical.any():
        return rows.drop("_block")
    positions = critical.arg_true()
    ties = pl.concat(
        [
            rows.select("_block").gather(positions),
            records.select("shift_id", "source_ref").gather(rows["record_row"].gather(positions)),
        ],
        how="horizontal",
    ).with_columns(position=positions)
    reordered = ties.sort("_block", "shift_id", "source_ref", maintain_order=True)["position"]
    permutation = pl.int_range(rows.height, dtype=positions.dtype, eager=True).scatter(positions, reordered)
    return rows.gather(permutation).drop("_block")
