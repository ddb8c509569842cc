"""Guard hours (billing-rules.md sections 3 and 4): billable shifts, pieces, multipliers, lines.

A shift becomes a few pieces (split at site-local and contract-local midnights and at event
edges, shift_pieces.py), overtime and tiers split pieces again where a running total crosses a
limit (overtime.py), and each piece gets its rate, holiday, cycle and multiplier through small
code tables. The tables a million shifts flow through are narrow columns of integers; strings
(sites, service types, source refs) are looked up only for the output lines. Python loops only
over small tables: distinct (contract, date) keys, distinct multiplier combinations, lines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

import polars as pl

from billing.rating.context import Context
from billing.rating.contracts import Contract, holiday_dates
from billing.rating.hour_terms import DOUBLE, EPOCH, OVERTIME, DecimalCodes, per_distinct, per_key_and_date
from billing.rating.lines import CATEGORY_LABEL, Line, service_label
from billing.rating.money import ONE, dec, fmt, hours, round_half_up
from billing.rating.overtime import apply_hour_tiers, label_overtime
from billing.rating.refs import SourceRefs, grouped
from billing.rating.shift_pieces import BillableShifts, billable_shifts, split_into_pieces
from billing.rating.timeutil import UTC_DT

WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CATEGORIES = list(CATEGORY_LABEL)  # category code -> category
MINIMUM_SHIFT = CATEGORIES.index("minimum_shift_adjustment")


@dataclass
class HoursResult:
    lines: list[Line]
    billed: pl.DataFrame  # guard_id, site_id, start, end: billed shift intervals (incidents subtract them)
    covered: pl.DataFrame  # contract_id, cycle_start, site_id, source_ref, ref_rank: every shift record of a cycle
    ref_texts: pl.Series  # the shift records' distinct refs in text order: ref_rank and the lines' refs index it


def _rate_codes(
    ctx: Context,
    billable: BillableShifts,
    rows: pl.DataFrame,
    date_col: str,
    rates: DecimalCodes,
    first_tier: bool = False,
) -> pl.Series:
    """The code of the hourly rate in force for each row's (contract, service type, site) on
    its date; with `first_tier`, a tier contract without one takes its first tier's rate."""
    n_sites, n_services = len(billable.sites) + 1, len(billable.services) + 1
    combo = (
        rows["contract_code"].cast(pl.Int64) * n_services + rows["service_code"].fill_null(n_services - 1)
    ) * n_sites + rows["site_code"].fill_null(n_sites - 1)

    def codes(pairs: list[tuple[int, date]]) -> list[int | None]:
        constant: dict[int, int | None] = {}
        out = []
        for combo_key, day in pairs:
            if combo_key in constant:
                out.append(constant[combo_key])
                continue
            contract_code, rest = divmod(combo_key, n_services * n_sites)
            service_code, site_code = divmod(rest, n_sites)
            contract = ctx.contracts[billable.terms.contract_ids[contract_code]]
            service = billable.services[service_code] if service_code < len(billable.services) else None
            site = billable.sites[site_code] if site_code < len(billable.sites) else None
            rate = contract.rate_for(service, site, day)
            tiers = contract.hour_tiers
            if rate is None and first_tier and tiers is not None and tiers.tiers:
                rate = tiers.tiers[0][1]
            out.append(rates.code(rate))
            if not any(price.effective_from for price in contract.rates if price.service_type == service):
                constant[combo_key] = out[-1]  # no rate change: the same rate on every date
        return out

    n_combos = len(billable.terms.contract_ids) * n_services * n_sites
    return per_key_and_date(combo, rows[date_col], n_combos, codes, pl.UInt32)


HOLIDAY_BITS = 16  # a holiday name code (plus one) packed below a cycle start


def _with_calendar(
    ctx: Context, billable: BillableShifts, pieces: pl.DataFrame, holiday_names: list[str]
) -> pl.DataFrame:
    """`holiday_code` (index into holiday_names) and `cycle_start` of each piece's site-local date."""
    if pieces.height == 0:
        return pieces.with_columns(holiday_code=pl.lit(None, pl.UInt32), cycle_start=pl.lit(None, pl.Date))
    years = tuple(range(pieces["site_date"].min().year, pieces["site_date"].max().year + 1))
    calendars: dict[int, dict[date, str]] = {}
    name_code: dict[str, int] = {}

    def cycle_and_holiday(pairs: list[tuple[int, date]]) -> list[int]:
        out = []
        for contract_code, day in pairs:
            cid = billable.terms.contract_ids[contract_code]
            if contract_code not in calendars:
                calendars[contract_code] = holiday_dates(ctx.contracts[cid].holidays, years)
            name = calendars[contract_code].get(day)
            if name is not None and name not in name_code:
                name_code[name] = len(holiday_names)
                holiday_names.append(name)
            holiday = 0 if name is None else name_code[name] + 1
            out.append((ctx.cycle(cid, day).start - EPOCH).days * 2**HOLIDAY_BITS + holiday)
        return out

    packed = per_key_and_date(
        pieces["contract_code"], pieces["site_date"], len(billable.terms.contract_ids), cycle_and_holiday, pl.Int64
    )
    holiday = packed % 2**HOLIDAY_BITS
    return pieces.with_columns(
        holiday_code=pl.when(holiday > 0).then(holiday - 1).cast(pl.UInt32),
        cycle_start=(packed // 2**HOLIDAY_BITS).cast(pl.Int32).cast(pl.Date),
    )


def _with_multipliers(
    ctx: Context, billable: BillableShifts, rows: pl.DataFrame, multipliers: DecimalCodes
) -> pl.DataFrame:
    """`category_code` and `multiplier_code` for each distinct (contract, overtime class,
    holiday, event) combination."""
    events = billable.terms.events
    event_multiplier = dict(zip(events["event_rank"].to_list(), events["event_multiplier"].to_list(), strict=True))
    n_events = events.height + 1  # event rank + 1; 0 = no event
    combo = (
        (rows["contract_code"].cast(pl.Int64) * 3 + rows["overtime_class"]) * 2
        + rows["holiday_code"].is_not_null().cast(pl.Int64)
    ) * n_events + (rows["event_rank"] + 1).fill_null(0)

    def category_and_multiplier(combos: list[int]) -> list[int]:
        out = []
        for key in combos:
            rest, event = divmod(key, n_events)
            rest, holiday = divmod(rest, 2)
            contract_code, overtime_class = divmod(rest, 3)
            factor = dec(event_multiplier[event - 1]) if event else None
            contract = ctx.contracts[billable.terms.contract_ids[contract_code]]
            mult, category = combine(contract, overtime_class, bool(holiday), factor)
            out.append(multipliers.code(mult) * len(CATEGORIES) + CATEGORIES.index(category))
        return out

    size = len(billable.terms.contract_ids) * 3 * 2 * n_events
    found = per_distinct(combo, size, category_and_multiplier, pl.Int64)
    return rows.with_columns(
        category_code=(found % len(CATEGORIES)).cast(pl.UInt8),
        multiplier_code=(found // len(CATEGORIES)).cast(pl.UInt32),
    )


def combine(contract: Contract, overtime_class: int, holiday: bool, event: Decimal | None) -> tuple[Decimal, str]:
    """Stacking (section 4): the factors that apply to a minute, combined by max or product.
    Ties (and several factors under multiply) go holiday > double time > overtime > event."""
    factors: list[tuple[str, Decimal]] = []
    if holiday and contract.holidays is not None:
        factors.append(("holiday_hours", contract.holidays.multiplier))
    if overtime_class == DOUBLE:
        factors.append(("double_time_hours", contract.overtime.double_time_multiplier))
    if overtime_class == OVERTIME:
        factors.append(("overtime_hours", contract.overtime.multiplier))
    if event is not None:
        factors.append(("special_event_hours", event))
    if not factors:
        return ONE, "regular_hours"
    if contract.stacking == "multiply":
        product = ONE
        for _, factor in factors:
            product *= factor
        if holiday and overtime_class in (OVERTIME, DOUBLE):
            return product, "holiday_overtime_hours"
        return product, factors[0][0]
    best = max(factor for _, factor in factors)
    return best, next(name for name, factor in factors if factor == best)


def _explain_head(rate: str, mult: str, tiered: bool) -> str:
    """What follows the hours in an hour line's explanation (the hours differ per line, this rarely)."""
    head = f" h x {fmt(dec(rate))}" + ("" if mult == "1" else f" x {mult}")
    return head + " (hour tier rate)" if tiered else head


def _explain_rule(contract: Contract, category: str, weeks: list, days: list, hols: list, evs: list) -> str:
    """The rule part of an hour line's explanation (the same for many lines of a contract)."""
    overtime = contract.overtime
    weeks_txt = ", ".join(str(w) for w in weeks[:4]) + (" ..." if len(weeks) > 4 else "")
    wk = f"workweek {weeks_txt} ({WEEKDAY_NAMES[overtime.workweek_start]} 00:00 {contract.timezone})"
    if category == "regular_hours":
        if overtime.policy == "none":
            rule = "regular, no overtime policy"
        elif overtime.policy == "weekly":
            rule = f"regular (first {fmt(Decimal(overtime.weekly_minutes) / 60, 0)} h of {wk})"
        else:
            rule = (
                (
                    f"regular (first {fmt(Decimal(overtime.daily_minutes) / 60, 0)} h a day, "
                    f"{fmt(Decimal(overtime.weekly_minutes) / 60, 0)} h of {wk})"
                )
                if overtime.policy != "daily"
                else (f"regular (first {fmt(Decimal(overtime.daily_minutes) / 60, 0)} h a day)")
            )
    elif category in ("overtime_hours", "double_time_hours"):
        what = "overtime" if category == "overtime_hours" else "double time"
        rule = f"{what}, {overtime.policy} policy ({wk})"
    elif category in ("holiday_hours", "holiday_overtime_hours"):
        rule = f"holiday {', '.join(hols)} on {', '.join(str(d) for d in days[:4])}, stacking {contract.stacking}"
    elif category == "special_event_hours":
        rule = f"special event {', '.join(evs)}, stacking {contract.stacking}"
    else:
        rule = category
    return rule


LINE_COLUMNS = {
    "contract_code": pl.UInt32,
    "cycle_start": pl.Date,
    "site_code": pl.UInt32,
    "service_code": pl.UInt32,
    "category_code": pl.UInt8,
    "rate_code": pl.UInt32,
    "multiplier_code": pl.UInt32,
    "minutes": pl.Int64,
    "tiered": pl.Boolean,
    "workweek": pl.Date,
    "site_date": pl.Date,
    "holiday_code": pl.UInt32,
    "event_rank": pl.Int64,
    "record_row": pl.UInt32,
}


def rate_hours(ctx: Context, shifts: pl.DataFrame) -> HoursResult:
    billable = billable_shifts(ctx, shifts)
    billed = pl.concat(
        [
            billable.records.select("guard_id", "site_id").gather(billable.shifts["record_row"]),
            billable.shifts.select(
                start=pl.col("billed_start_us").cast(UTC_DT), end=pl.col("billed_end_us").cast(UTC_DT)
            ),
        ],
        how="horizontal",
    )
    rates, multipliers, holiday_names = DecimalCodes(), DecimalCodes(), []
    pieces = split_into_pieces(billable.shifts, billable.terms, billable.clock)
    pieces = pieces.with_columns(rate_code=_rate_codes(ctx, billable, pieces, "site_date", rates))
    # A minute without a rate in force is not billed (dbt raises missing_rate); tiers price every minute.
    has_tiers = billable.terms.frame["has_tiers"].gather(pieces["contract_code"])
    pieces = pieces.filter(pl.col("rate_code").is_not_null() | has_tiers)
    pieces = _with_calendar(ctx, billable, pieces, holiday_names)
    overtime_terms = billable.terms.frame.select(
        "day_is_shift_start", "workweek_start", "is_california", "daily_minutes", "double_time_after", "weekly_minutes"
    )
    segments = label_overtime(pl.concat([pieces, overtime_terms.gather(pieces["contract_code"])], how="horizontal"))
    segments = apply_hour_tiers(ctx, segments, pieces, billable.terms.contract_ids, rates, billable.records)
    # Each segment takes its piece's columns once, now that splitting is done.
    of_piece = pieces.select(
        "contract_code",
        "cycle_start",
        "site_code",
        "service_code",
        "site_date",
        "holiday_code",
        "event_rank",
        "record_row",
        "rate_code",
    ).gather(segments["piece"])
    segments = pl.concat([segments.drop("piece", "offset"), of_piece], how="horizontal")
    segments = segments.with_columns(
        rate_code=pl.coalesce("tier_rate_code", "rate_code"), tiered=pl.col("tier_rate_code").is_not_null()
    ).filter(pl.col("rate_code").is_not_null())
    segments = _with_multipliers(ctx, billable, segments, multipliers)
    rated = pl.concat(
        [
            segments.select([pl.col(name).cast(dtype) for name, dtype in LINE_COLUMNS.items()]),
            _minimum_shift(ctx, billable, rates, multipliers),
        ]
    )
    lines = _lines(ctx, billable, rated, rates, multipliers, holiday_names)
    return HoursResult(lines, billed, billable.covered, billable.ref_texts)


def _minimum_shift(
    ctx: Context, billable: BillableShifts, rates: DecimalCodes, multipliers: DecimalCodes
) -> pl.DataFrame:
    """The shortfall of a short shift, at the regular rate of its start date (tier contracts:
    the first tier's rate when rates[] has none); it never counts toward overtime or tiers."""
    minimum = billable.terms.frame["minimum_shift_minutes"].gather(billable.shifts["contract_code"])
    short = billable.shifts.with_columns(minimum_shift_minutes=minimum).filter(
        (pl.col("minimum_shift_minutes") > 0) & (pl.col("minutes") < pl.col("minimum_shift_minutes"))
    )
    if short.height == 0:
        return pl.DataFrame(schema=LINE_COLUMNS)
    short = short.with_columns(rate_code=_rate_codes(ctx, billable, short, "start_site_date", rates, first_tier=True))
    short = short.filter(pl.col("rate_code").is_not_null())
    cycles = ctx.cycle_starts(
        short.select(
            contract_id=pl.col("contract_code")
            .cast(pl.UInt32)
            .replace_strict(list(range(len(billable.terms.contract_ids))), billable.terms.contract_ids),
            day=pl.col("start_site_date"),
        ),
        "day",
    )
    short = short.with_columns(
        contract_id=pl.col("contract_code").replace_strict(
            list(range(len(billable.terms.contract_ids))), billable.terms.contract_ids
        )
    ).join(cycles, left_on=["contract_id", "start_site_date"], right_on=["contract_id", "day"], how="left")
    return short.select(
        "contract_code",
        "cycle_start",
        "site_code",
        "service_code",
        category_code=pl.lit(MINIMUM_SHIFT, pl.UInt8),
        rate_code="rate_code",
        multiplier_code=pl.lit(multipliers.code(ONE), pl.UInt32),
        minutes=pl.col("minimum_shift_minutes") - pl.col("minutes"),
        tiered=pl.lit(False),
        workweek=pl.lit(None, pl.Date),
        site_date="start_site_date",
        holiday_code=pl.lit(None, pl.UInt32),
        event_rank=pl.lit(None, pl.Int64),
        record_row="record_row",
    ).select([pl.col(name).cast(dtype) for name, dtype in LINE_COLUMNS.items()])


def _line_key(rated: pl.DataFrame, sizes: dict[str, int]) -> tuple[pl.Series, bool]:
    """One integer per distinct line key: the key columns' codes (each below its size, null
    taking the size itself) packed into an Int64 in one expression when they fit (they do
    unless a company has millions of sites and rates), else a dense rank. True when packed:
    the key columns can then be read back from the key (`_unpacked`)."""
    first_cycle = rated["cycle_start"].min()
    key = pl.lit(0, pl.Int64)
    capacity = 1
    for col, size in sizes.items():
        code = pl.col(col)
        if col == "cycle_start":
            code = code.cast(pl.Int32) - (first_cycle - EPOCH).days
        key = key * (size + 1) + code.cast(pl.Int64).fill_null(size)
        capacity *= size + 1
    if capacity < 2**62:
        return rated.select(key.alias("line_key")).to_series(), True
    return rated.select(pl.struct(list(sizes)).rank("dense").cast(pl.Int64).alias("line_key")).to_series(), False


def _unpacked(grouped: pl.DataFrame, sizes: dict[str, int], first_cycle: date) -> pl.DataFrame:
    """The key columns read back from a packed `line_key` (the inverse of `_line_key`), on the
    grouped lines only, instead of carrying each column through the group-by."""
    key = grouped["line_key"]
    columns = {}
    for col, size in reversed(sizes.items()):
        code = key % (size + 1)
        key = key // (size + 1)
        code = pl.select(pl.when(code < size).then(code)).to_series()
        if col == "cycle_start":
            columns[col] = (code + (first_cycle - EPOCH).days).cast(pl.Int32).cast(pl.Date)
        else:
            columns[col] = code.cast(pl.UInt32)
    return grouped.with_columns(**{col: columns[col] for col in sizes})


def _source_refs(rated: pl.DataFrame, billable: BillableShifts) -> dict[int, SourceRefs]:
    """Each line's distinct source refs in text order, as slices of one RefColumn (no Python
    string per ref): the records' refs were ranked once (billable_shifts), so each line's refs
    are a sort of integers."""
    ranks = billable.records["ref_rank"].gather(rated["record_row"])
    column, keys = grouped(rated["line_key"], ranks, billable.ref_texts)
    return {key: column.refs(i) for i, key in enumerate(keys)}


DATE_BIT = pl.Series([1 << day for day in range(63)], dtype=pl.Int64)  # day offset -> its bit in an Int64


def _first_dates(bits: int, first: date, count: int) -> list[date]:
    """The first `count` dates whose bits (day offsets from `first`) are set, ascending."""
    out = []
    while bits and len(out) < count:
        lowest = bits & -bits
        out.append(first + timedelta(days=lowest.bit_length() - 1))
        bits ^= lowest
    return out


def _explained_groups(
    rated: pl.DataFrame, keys: list[str]
) -> tuple[pl.DataFrame, list[str], Callable[[dict], tuple[list, list]]]:
    """One row per line key: its key columns, minutes, whether tiered, its holiday codes and
    event ranks; the columns and a function giving a row's first five workweeks (four are shown, and
    whether there are more) and first four days, which its explanation cites. When the data
    spans under 63 days, a line's distinct dates go through the group-by as the bits of one
    Int64 (bitwise or), a fraction of the cost of sorted unique lists per group, and become
    dates only for the output lines; longer spans aggregate the lists."""
    first_day, last_day = rated["site_date"].min(), rated["site_date"].max()
    first_week, last_week = rated["workweek"].min(), rated["workweek"].max()
    totals = [*(pl.col(k).first() for k in keys), pl.col("minutes").sum(), pl.col("tiered").any()]
    as_bits = (
        first_day is not None
        and (last_day - first_day).days < DATE_BIT.len()
        and (first_week is None or (last_week - first_week).days < DATE_BIT.len())
    )
    if not as_bits:
        grouped = rated.group_by("line_key").agg(
            *totals,
            weeks=pl.col("workweek").drop_nulls().unique().sort().head(5),
            days=pl.col("site_date").unique().sort().head(4),
            holidays=pl.col("holiday_code").drop_nulls().unique(),
            events=pl.col("event_rank").drop_nulls().unique(),
        )
        return grouped, ["weeks", "days"], lambda row: (row["weeks"], row["days"])
    week_bit = pl.lit(None, pl.Int64) if first_week is None else _date_bit("workweek", first_week)
    grouped = (
        rated.lazy()
        .with_columns(_day_bits=_date_bit("site_date", first_day), _week_bits=week_bit)
        .group_by("line_key")
        .agg(
            *totals,
            pl.col("_day_bits").bitwise_or(),
            pl.col("_week_bits").bitwise_or(),
            _null_day=pl.col("site_date").is_null().any(),
        )
        .collect()
    )
    # Holidays and events are on few rows: grouped apart and joined.
    cited = (
        rated.lazy()
        .select("line_key", "holiday_code", "event_rank")
        .filter(pl.col("holiday_code").is_not_null() | pl.col("event_rank").is_not_null())
        .group_by("line_key")
        .agg(holidays=pl.col("holiday_code").drop_nulls().unique(), events=pl.col("event_rank").drop_nulls().unique())
        .collect()
    )
    grouped = grouped.join(cited, on="line_key", how="left").with_columns(
        pl.col("holidays").fill_null([]), pl.col("events").fill_null([])
    )

    made: dict[tuple, tuple[list, list]] = {}  # lines share their weeks and days: each set made once

    def dates(row: dict) -> tuple[list, list]:
        key = (row["_week_bits"], row["_day_bits"], row["_null_day"])
        if key not in made:
            weeks = _first_dates(row["_week_bits"] or 0, first_week, 5)
            if row["_null_day"]:  # as a sorted unique list would have it: the null day first
                made[key] = weeks, [None, *_first_dates(row["_day_bits"] or 0, first_day, 3)]
            else:
                made[key] = weeks, _first_dates(row["_day_bits"] or 0, first_day, 4)
        return made[key]

    return grouped, ["_week_bits", "_day_bits", "_null_day"], dates


def _date_bit(col: str, first: date) -> pl.Expr:
    """Each row's date as its bit (its day offset from `first`); null stays null."""
    return pl.lit(DATE_BIT).gather(pl.col(col).cast(pl.Int32) - (first - EPOCH).days)


def _lines(
    ctx: Context,
    billable: BillableShifts,
    rated: pl.DataFrame,
    rates: DecimalCodes,
    multipliers: DecimalCodes,
    holiday_names: list[str],
) -> list[Line]:
    """Minutes grouped by (site, service type, category, rate, multiplier) per contract cycle."""
    if rated.height == 0:
        return []
    keys = [
        "contract_code",
        "cycle_start",
        "site_code",
        "service_code",
        "category_code",
        "rate_code",
        "multiplier_code",
    ]
    cycle_days = (rated["cycle_start"].max() - rated["cycle_start"].min()).days + 1
    sizes = {
        "contract_code": len(billable.terms.contract_ids),
        "cycle_start": cycle_days,
        "site_code": len(billable.sites),
        "service_code": len(billable.services),
        "category_code": len(CATEGORIES),
        "rate_code": len(rates.texts),
        "multiplier_code": len(multipliers.texts),
    }
    line_key, packed = _line_key(rated, sizes)
    rated = rated.with_columns(line_key=line_key)
    grouped, cited_columns, cited_dates = _explained_groups(rated, [] if packed else keys)
    if packed:
        grouped = _unpacked(grouped, sizes, rated["cycle_start"].min())
    refs_of_line = _source_refs(rated, billable)
    event_names = dict(
        zip(billable.terms.events["event_rank"].to_list(), billable.terms.events["event_name"].to_list(), strict=True)
    )

    def decode(codes: list[int | None], names: list[str]) -> list[str | None]:
        return [None if code is None else names[code] for code in codes]

    grouped = grouped.with_columns(
        contract_id=pl.Series(decode(grouped["contract_code"].to_list(), billable.terms.contract_ids), dtype=pl.String),
        site_id=pl.Series(decode(grouped["site_code"].to_list(), billable.sites), dtype=pl.String),
        service_type=pl.Series(decode(grouped["service_code"].to_list(), billable.services), dtype=pl.String),
        category=pl.Series(decode(grouped["category_code"].to_list(), CATEGORIES), dtype=pl.String),
        rate=pl.Series(decode(grouped["rate_code"].to_list(), rates.texts), dtype=pl.String),
        mult=pl.Series(decode(grouped["multiplier_code"].to_list(), multipliers.texts), dtype=pl.String),
    ).sort("contract_id", "cycle_start", "site_id", "service_type", "category", "rate", "mult")
    columns = ["line_key", "contract_id", "cycle_start", "site_id", "service_type", "category", "rate", "mult"]
    columns += ["minutes", "tiered", "holidays", "events", *cited_columns]
    # Rule texts, explanation heads, prices and descriptions repeat across lines: each is made once.

    @cache
    def currency_of(contract_id: str) -> str:
        return (ctx.clients.get(ctx.contracts[contract_id].client_id) or {}).get("currency") or "USD"

    @cache
    def price_of(rate: str, mult: str) -> tuple[Decimal, Decimal]:
        return dec(rate), dec(rate) * dec(mult)

    @cache
    def rule_of(contract_id: str, category: str, weeks: tuple, days: tuple, hols: tuple, evs: tuple) -> str:
        return _explain_rule(ctx.contracts[contract_id], category, list(weeks), list(days), list(hols), list(evs))

    @cache
    def description_of(service_type: str | None, category: str) -> str:
        return f"{service_label(service_type or 'guard')} - {CATEGORY_LABEL[category]}"

    head_of = cache(_explain_head)
    out = []
    for row in grouped.select(columns).iter_rows(named=True):
        contract = ctx.contracts[row["contract_id"]]
        rate, unit_price = price_of(row["rate"], row["mult"])
        minutes = int(row["minutes"])
        quantity = hours(minutes)
        amount = round_half_up(unit_price * minutes / 60, currency_of(contract.contract_id))
        if row["category"] == "minimum_shift_adjustment":
            explanation = (
                f"{fmt(quantity)} h x {fmt(rate)} minimum shift of "
                f"{fmt(Decimal(contract.minimum_shift_minutes) / 60)} h, shortfall at the regular rate"
            )
        else:
            weeks, days = cited_dates(row)
            rule = rule_of(contract.contract_id, row["category"], tuple(weeks), tuple(days),
                           tuple(sorted({holiday_names[h] for h in row["holidays"]})),
                           tuple(sorted({event_names[rank] for rank in row["events"]})))
            explanation = f"{fmt(quantity)}{head_of(row['rate'], row['mult'], row['tiered'])} {rule}"
        description = description_of(row["service_type"], row["category"])
        out.append(
            Line(
                contract_id=contract.contract_id,
                kind="arrears",
                cycle=ctx.cycle(contract.contract_id, row["cycle_start"]),
                site_id=row["site_id"],
                category=row["category"],
                description=description,
                quantity=quantity,
                unit="hour",
                unit_price=unit_price,
                amount=amount,
                source_refs=refs_of_line[row["line_key"]],
                explanation=explanation,
                detail=row["service_type"] or "",
            )
        )
    return out
