"""Guard hours: billable intervals, split into pieces, overtime/holiday/event multipliers, lines.

Everything here works on intervals with polars: a shift becomes a few pieces (split at
site-local and contract-local midnights and at event edges), then overtime and tiers split
pieces again where a running total crosses a threshold. Python only loops over small
tables: distinct (contract, date) keys, distinct multiplier combinations, output lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl

from billing.rating.context import Context
from billing.rating.contracts import Contract, holiday_dates
from billing.rating.frames import SHIFTS, normalize
from billing.rating.lines import CATEGORY_LABEL, Line, service_label
from billing.rating.money import ONE, canon, dec, fmt, hours, round_half_up
from billing.rating.timeutil import BIG, UTC_DT, band_split, day_starts, local_date, minutes_between, round_to_increment

REGULAR, OVERTIME, DOUBLE = 0, 1, 2
WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass
class HoursResult:
    lines: list[Line]
    billed: pl.DataFrame  # guard_id, site_id, start, end: billed shift intervals (incidents subtract them)
    covered: pl.DataFrame  # contract_id, cycle_start, site_id, source_ref: every shift record of a cycle


def _contract_frame(ctx: Context) -> pl.DataFrame:
    rows = []
    for c in ctx.contracts.values():
        ot = c.overtime
        rows.append(
            {
                "contract_id": c.contract_id,
                "inc": c.increment_minutes,
                "basis": c.basis,
                "ctz": c.timezone,
                "policy": ot.policy,
                "wws": ot.workweek_start,
                "shift_day": ot.day_boundary == "shift_start",
                "min_shift": c.minimum_shift_minutes,
            }
        )
    schema = {
        "contract_id": pl.String,
        "inc": pl.Int64,
        "basis": pl.String,
        "ctz": pl.String,
        "policy": pl.String,
        "wws": pl.Int64,
        "shift_day": pl.Boolean,
        "min_shift": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)


def _hourly_priced(c: Contract, service_type: str) -> bool:
    """Billed by the hour? A patrol shift on a contract with a visit fee and no hourly patrol
    rate is billed per visit instead (section 3)."""
    if service_type == "patrol" and c.patrol_visit_fee is not None and not c.has_hourly_rate("patrol"):
        return False
    return c.has_hourly_rate(service_type) or c.hour_tiers is not None


def _covered(ctx: Context, s: pl.DataFrame) -> pl.DataFrame:
    day = pl.coalesce("service_date", pl.col("check_in_at").dt.date())
    x = (
        s.filter(pl.col("contract_id").is_in(list(ctx.contracts)))
        .with_columns(day=day)
        .filter(pl.col("day").is_not_null())
    )
    x = x.join(ctx.cycle_starts(x.rename({"day": "d"}), "d").rename({"d": "day"}), on=["contract_id", "day"])
    return x.select("contract_id", "cycle_start", "site_id", "source_ref")


def prepare_shifts(ctx: Context, shifts: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Billable shifts with rounded, overlap-trimmed intervals (`s`, `e`, `minutes`), and the
    covered-records frame. Unmatched, invalid, excluded or unpriced shifts drop out here."""
    s = normalize(shifts, SHIFTS)
    s = s.filter(~pl.col("source_ref").is_in(list(ctx.excluded))) if ctx.excluded else s
    covered = _covered(ctx, s)
    s = s.filter(pl.col("contract_id").is_in(list(ctx.contracts)) & pl.col("has_valid_interval").fill_null(False))
    pairs = s.select("contract_id", "service_type").unique()
    ok = [_hourly_priced(ctx.contracts[c], t or "") for c, t in pairs.iter_rows()]
    pairs = pairs.filter(pl.Series(ok, dtype=pl.Boolean))
    s = s.join(pairs, on=["contract_id", "service_type"], how="semi", nulls_equal=True)
    site_tz = pl.DataFrame(
        {"site_id": list(ctx.sites), "_stz": [ctx.site_tz(k) for k in ctx.sites]},
        schema={"site_id": pl.String, "_stz": pl.String},
    )
    s = (
        s.join(_contract_frame(ctx), on="contract_id", how="left")
        .join(site_tz, on="site_id", how="left")
        .with_columns(tz=pl.coalesce("site_timezone", "_stz", pl.lit("UTC")))
    )
    sched = (
        (pl.col("basis") == "scheduled")
        & pl.col("scheduled_start_at").is_not_null()
        & pl.col("scheduled_end_at").is_not_null()
    )
    s = s.with_columns(
        s=pl.when(sched).then("scheduled_start_at").otherwise("check_in_at"),
        e=pl.when(sched).then("scheduled_end_at").otherwise("check_out_at"),
    ).filter(pl.col("s").is_not_null() & pl.col("e").is_not_null())
    s = round_to_increment(s, ["s", "e"], "tz", "inc")
    # Overlap between two shifts of one guard is billed once: each shift starts no earlier
    # than the latest end of the guard's shifts before it (time order, ties by shift id).
    s = s.with_columns(guard_key=pl.coalesce("guard_id", pl.lit("shift:") + pl.col("source_ref")))
    # Guards only need to be contiguous: sort on a category code of guard_key, not its text.
    s = s.with_columns(_g=pl.col("guard_key").cast(pl.Categorical).to_physical())
    s = s.sort("_g", "s", "shift_id", "source_ref")
    s = s.with_columns(_prev=pl.col("e").cum_max().shift(1).over("_g"))
    s = s.with_columns(s=pl.max_horizontal("s", pl.col("_prev").fill_null(pl.col("s")))).filter(
        pl.col("e") > pl.col("s")
    )
    s = s.with_columns(minutes=minutes_between("s", "e")).filter(pl.col("minutes") > 0)
    s = s.with_row_index("sid")
    s = local_date(s, "s", "tz", "d0")
    s = local_date(s, "s", "ctz", "cd0")
    keep = [
        "sid",
        "shift_id",
        "source_ref",
        "guard_id",
        "guard_key",
        "site_id",
        "contract_id",
        "service_type",
        "tz",
        "ctz",
        "policy",
        "wws",
        "shift_day",
        "min_shift",
        "s",
        "e",
        "minutes",
        "d0",
        "cd0",
    ]
    return s.select(keep), covered


def _midnight_cuts(s: pl.DataFrame, tz_col: str, d0_col: str) -> pl.DataFrame:
    x = local_date(
        s.select("sid", "s", "e", tz_col, d0_col).with_columns(em=pl.col("e") - pl.duration(microseconds=1)),
        "em",
        tz_col,
        "d1",
    )
    x = x.filter(pl.col("d1") > pl.col(d0_col))
    if x.height == 0:
        return pl.DataFrame(schema={"sid": pl.UInt32, "t": UTC_DT})
    x = x.with_columns(date=pl.date_ranges(pl.col(d0_col) + pl.duration(days=1), "d1")).explode("date")
    starts = day_starts(x.select(pl.col(tz_col).alias("tz"), "date"))
    x = x.join(starts, left_on=[tz_col, "date"], right_on=["tz", "date"])
    return x.select("sid", pl.col("day_start").alias("t"))


def _events_frame(ctx: Context) -> pl.DataFrame:
    rows = []
    for c in ctx.contracts.values():
        for ev in c.events:
            rows.append((c.contract_id, ev.start, ev.end, ev.multiplier, ev.name))
    # Events ranked by multiplier, highest first: a minute inside several takes the highest.
    rows.sort(key=lambda r: (r[0], -r[3], r[1], r[4]))
    return pl.DataFrame(
        [(r[0], r[1], r[2], i, canon(r[3]), r[4]) for i, r in enumerate(rows)],
        schema={
            "contract_id": pl.String,
            "ev_start": UTC_DT,
            "ev_end": UTC_DT,
            "ev_idx": pl.Int64,
            "ev_mult": pl.String,
            "ev_name": pl.String,
        },
        orient="row",
    )


def split_pieces(ctx: Context, s: pl.DataFrame) -> pl.DataFrame:
    """Shift intervals cut at site-local midnights, contract-zone midnights and event edges."""
    events = _events_frame(ctx)
    # Cut points strictly inside a shift (midnights, event edges); most shifts have none.
    cuts = [
        _midnight_cuts(s, "tz", "d0"),
        _midnight_cuts(s, "ctz", "cd0"),
    ]
    if events.height:
        ev = s.select("sid", "contract_id", "s", "e").join(events, on="contract_id")
        for col in ("ev_start", "ev_end"):
            cuts.append(
                ev.filter((pl.col(col) > pl.col("s")) & (pl.col(col) < pl.col("e"))).select(
                    "sid", pl.col(col).alias("t")
                )
            )
    inner = pl.concat([c.select(pl.col("sid").cast(pl.UInt32), pl.col("t").cast(UTC_DT)) for c in cuts]).unique()
    starts = s.select(pl.col("sid").cast(pl.UInt32), pl.col("s").cast(UTC_DT).alias("t"))
    pts = pl.concat([starts, inner]).sort("sid", "t") if inner.height else starts
    # A piece ends at the next cut of its shift, the last one at the shift's end. `sid` is
    # the row number of `s` (prepare_shifts), so a shift's columns are a gather, not a join.
    rows = pl.int_range(0, s.height, dtype=pl.UInt32, eager=True)
    if not s["sid"].cast(pl.UInt32).equals(rows):
        raise ValueError("split_pieces expects sid to be the row number of the shifts frame")
    same = pl.col("sid").shift(-1) == pl.col("sid")
    e = s["e"].cast(UTC_DT)
    pts = pts.with_columns(end=pl.when(same).then(pl.col("t").shift(-1)).otherwise(e.gather(pts["sid"])))
    p = pl.concat(
        [pts.select("sid", pl.col("t").alias("start"), "end"), s.drop("sid", "minutes").gather(pts["sid"])],
        how="horizontal",
    )
    p = p.with_columns(minutes=minutes_between("start", "end")).filter(pl.col("minutes") > 0)
    p = local_date(p, "start", "tz", "site_date")
    p = local_date(p, "start", "ctz", "c_date")
    p = p.with_row_index("pid")
    if events.height:
        hit = (
            p.select("pid", "contract_id", "start", "end")
            .join(events, on="contract_id")
            .filter((pl.col("ev_start") <= pl.col("start")) & (pl.col("end") <= pl.col("ev_end")))
            .group_by("pid")
            .agg(pl.col("ev_idx").min())
        )
        p = p.join(hit, on="pid", how="left")
    else:
        p = p.with_columns(ev_idx=pl.lit(None, dtype=pl.Int64))
    return p


def _rates(ctx: Context, p: pl.DataFrame) -> pl.DataFrame:
    keys = p.select("contract_id", "service_type", "site_id", "site_date").unique()
    vals = []
    for cid, st, site, day in keys.iter_rows():
        r = ctx.contracts[cid].rate_for(st, site, day)
        vals.append(canon(r) if r is not None else None)
    return keys.with_columns(rate=pl.Series(vals, dtype=pl.String))


def _holidays(ctx: Context, p: pl.DataFrame) -> pl.DataFrame:
    rows: list[tuple[str, date, str]] = []
    if p.height:
        lo, hi = p["site_date"].min(), p["site_date"].max()
        years = tuple(range(lo.year, hi.year + 1))
        for cid in p["contract_id"].unique().to_list():
            for day, name in holiday_dates(ctx.contracts[cid].holidays, years).items():
                rows.append((cid, day, name))
    return pl.DataFrame(
        rows, schema={"contract_id": pl.String, "site_date": pl.Date, "hol_name": pl.String}, orient="row"
    )


def _ot_bands(ctx: Context) -> tuple[pl.DataFrame, pl.DataFrame]:
    daily, weekly = [], []
    for c in ctx.contracts.values():
        ot, cid = c.overtime, c.contract_id
        if ot.policy in ("daily", "daily_and_weekly"):
            daily += [(f"{cid}|n", 0, ot.daily_minutes, REGULAR), (f"{cid}|n", ot.daily_minutes, BIG, OVERTIME)]
        if ot.policy == "california":
            dt_at = max(12 * 60, ot.daily_minutes)
            daily += [
                (f"{cid}|n", 0, ot.daily_minutes, REGULAR),
                (f"{cid}|n", ot.daily_minutes, dt_at, OVERTIME),
                (f"{cid}|n", dt_at, BIG, DOUBLE),
                (f"{cid}|7", 0, ot.daily_minutes, OVERTIME),
                (f"{cid}|7", ot.daily_minutes, BIG, DOUBLE),
            ]
        if ot.policy in ("weekly", "daily_and_weekly", "california"):
            weekly += [(cid, 0, ot.weekly_minutes, REGULAR), (cid, ot.weekly_minutes, BIG, OVERTIME)]
    sch = {"lo": pl.Int64, "hi": pl.Int64}
    return (
        pl.DataFrame(daily, schema={"dband": pl.String, **sch, "d_ot": pl.Int64}, orient="row"),
        pl.DataFrame(weekly, schema={"wband": pl.String, **sch, "w_ot": pl.Int64}, orient="row"),
    )


def apply_overtime(ctx: Context, p: pl.DataFrame) -> pl.DataFrame:
    """Label each piece's minutes regular / overtime / double time, per guard per contract.

    Daily rules run first on days in the contract's zone (or on the shift's start day with
    day_boundary shift_start); the weekly count then adds up only minutes the daily rule left
    regular, in time order, so an overtime minute is never counted twice (no pyramiding)."""
    day_key = pl.when(pl.col("shift_day")).then(pl.col("cd0")).otherwise(pl.col("c_date"))
    p = p.with_columns(day_key=day_key).with_columns(
        ww=pl.col("day_key") - pl.duration(days=(pl.col("day_key").dt.weekday().cast(pl.Int64) - 1 - pl.col("wws")) % 7)
    )
    daily, weekly = _ot_bands(ctx)
    cal = pl.col("policy") == "california"
    worked = p.filter(cal).group_by("guard_key", "contract_id", "ww").agg(n_days=pl.col("day_key").n_unique())
    p = p.join(worked, on=["guard_key", "contract_id", "ww"], how="left")
    seventh = cal & (pl.col("n_days") == 7) & (pl.col("day_key") == pl.col("ww") + pl.duration(days=6))
    p = p.with_columns(
        dband=pl.when(pl.col("policy").is_in(["daily", "daily_and_weekly", "california"])).then(
            pl.col("contract_id") + pl.when(seventh).then(pl.lit("|7")).otherwise(pl.lit("|n"))
        ),
        wband=pl.col("contract_id"),
    )
    order = ["start", "shift_id", "source_ref"]
    p = band_split(
        p,
        daily,
        group=["guard_key", "contract_id", "day_key"],
        order=order,
        band_key="dband",
        label="d_ot",
        default_label=REGULAR,
    )
    p = band_split(
        p,
        weekly,
        group=["guard_key", "contract_id", "ww"],
        order=order,
        band_key="wband",
        label="w_ot",
        eligible=pl.col("d_ot") == REGULAR,
        default_label=REGULAR,
    )
    return p.with_columns(ot=pl.max_horizontal("d_ot", "w_ot")).drop("dband", "wband", "n_days")


def apply_tiers(ctx: Context, p: pl.DataFrame) -> pl.DataFrame:
    """Hour tiers replace the hourly rate: graduated by the running total of the contract's
    guard minutes in the cycle (time order, ties by shift id), volume by the cycle's total."""
    tiered = {cid: c.hour_tiers for cid, c in ctx.contracts.items() if c.hour_tiers is not None and c.hour_tiers.tiers}
    if not tiered:
        return p.with_columns(tier_rate=pl.lit(None, dtype=pl.String))
    bands = []
    for cid, ht in tiered.items():
        if ht.mode != "graduated":
            continue
        edges = list(ht.tiers)
        if edges[0][0] > 0:
            bands.append((cid, 0, edges[0][0], None))
        for i, (lo, rate) in enumerate(edges):
            hi = edges[i + 1][0] if i + 1 < len(edges) else BIG
            bands.append((cid, lo, hi, canon(rate)))
    bands_df = pl.DataFrame(
        bands, schema={"tband": pl.String, "lo": pl.Int64, "hi": pl.Int64, "tier_rate": pl.String}, orient="row"
    )
    p = p.with_columns(tband=pl.col("contract_id"))
    p = band_split(
        p,
        bands_df,
        group=["contract_id", "cycle_start"],
        order=["start", "shift_id", "source_ref"],
        band_key="tband",
        label="tier_rate",
        default_label=None,
    ).drop("tband")
    volume = {cid: ht for cid, ht in tiered.items() if ht.mode == "volume"}
    if volume:
        totals = (
            p.filter(pl.col("contract_id").is_in(list(volume)))
            .group_by("contract_id", "cycle_start")
            .agg(pl.col("minutes").sum().alias("total"))
        )
        vals = []
        for cid, _start, total in totals.iter_rows():
            reached = [rate for lo, rate in volume[cid].tiers if lo <= total]
            vals.append(canon(reached[-1]) if reached else None)
        totals = totals.with_columns(vol_rate=pl.Series(vals, dtype=pl.String)).drop("total")
        p = (
            p.join(totals, on=["contract_id", "cycle_start"], how="left")
            .with_columns(tier_rate=pl.coalesce("tier_rate", "vol_rate"))
            .drop("vol_rate")
        )
    return p


def _factor_table(ctx: Context, p: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Multiplier and category for each distinct (contract, overtime class, holiday, event)."""
    ev_mult = {i: dec(m) for i, m in zip(events["ev_idx"].to_list(), events["ev_mult"].to_list(), strict=True)}
    combos = p.select("contract_id", "ot", "is_hol", "ev_idx").unique()
    mults, cats = [], []
    for cid, ot, is_hol, ev in combos.iter_rows():
        mult, cat = combine(ctx.contracts[cid], ot, bool(is_hol), ev_mult.get(ev) if ev is not None else None)
        mults.append(canon(mult))
        cats.append(cat)
    return combos.with_columns(mult=pl.Series(mults, dtype=pl.String), category=pl.Series(cats, dtype=pl.String))


def combine(c: Contract, ot: int, holiday: bool, event: Decimal | None) -> tuple[Decimal, str]:
    """Stacking (section 4): the factors that apply to a minute, combined by max or product.
    Ties (and several factors under multiply) go holiday > double time > overtime > event."""
    factors: list[tuple[str, Decimal]] = []
    if holiday and c.holidays is not None:
        factors.append(("holiday_hours", c.holidays.multiplier))
    if ot == DOUBLE:
        factors.append(("double_time_hours", c.overtime.double_time_multiplier))
    if ot == OVERTIME:
        factors.append(("overtime_hours", c.overtime.multiplier))
    if event is not None:
        factors.append(("special_event_hours", event))
    if not factors:
        return ONE, "regular_hours"
    if c.stacking == "multiply":
        product = ONE
        for _, f in factors:
            product *= f
        if holiday and ot in (OVERTIME, DOUBLE):
            return product, "holiday_overtime_hours"
        return product, factors[0][0]
    best = max(f for _, f in factors)
    return best, next(name for name, f in factors if f == best)


def _explain(
    c: Contract,
    category: str,
    minutes: int,
    rate: str,
    mult: str,
    weeks: list,
    days: list,
    hols: list,
    evs: list,
    tiered: bool,
) -> str:
    ot = c.overtime
    head = f"{fmt(hours(minutes))} h x {fmt(dec(rate))}" + ("" if mult == "1" else f" x {mult}")
    if tiered:
        head += " (hour tier rate)"
    weeks_txt = ", ".join(str(w) for w in weeks[:4]) + (" ..." if len(weeks) > 4 else "")
    wk = f"workweek {weeks_txt} ({WEEKDAY_NAMES[ot.workweek_start]} 00:00 {c.timezone})"
    if category == "regular_hours":
        if ot.policy == "none":
            rule = "regular, no overtime policy"
        elif ot.policy == "weekly":
            rule = f"regular (first {fmt(Decimal(ot.weekly_minutes) / 60, 0)} h of {wk})"
        else:
            rule = (
                (
                    f"regular (first {fmt(Decimal(ot.daily_minutes) / 60, 0)} h a day, "
                    f"{fmt(Decimal(ot.weekly_minutes) / 60, 0)} h of {wk})"
                )
                if ot.policy != "daily"
                else (f"regular (first {fmt(Decimal(ot.daily_minutes) / 60, 0)} h a day)")
            )
    elif category in ("overtime_hours", "double_time_hours"):
        what = "overtime" if category == "overtime_hours" else "double time"
        rule = f"{what}, {ot.policy} policy ({wk})"
    elif category in ("holiday_hours", "holiday_overtime_hours"):
        rule = f"holiday {', '.join(hols)} on {', '.join(str(d) for d in days[:4])}, stacking {c.stacking}"
    elif category == "special_event_hours":
        rule = f"special event {', '.join(evs)}, stacking {c.stacking}"
    else:
        rule = category
    return f"{head} {rule}"


def rate_hours(ctx: Context, shifts: pl.DataFrame) -> HoursResult:
    s, covered = prepare_shifts(ctx, shifts)
    billed = s.select("guard_id", "site_id", pl.col("s").alias("start"), pl.col("e").alias("end"))
    p = split_pieces(ctx, s)
    p = p.join(_rates(ctx, p), on=["contract_id", "service_type", "site_id", "site_date"], how="left", nulls_equal=True)
    tiered = [cid for cid, c in ctx.contracts.items() if c.hour_tiers is not None and c.hour_tiers.tiers]
    # A minute without a rate in force is not billed (dbt raises missing_rate); tiers price every minute.
    p = p.filter(pl.col("rate").is_not_null() | pl.col("contract_id").is_in(tiered))
    p = p.join(_holidays(ctx, p), on=["contract_id", "site_date"], how="left").with_columns(
        is_hol=pl.col("hol_name").is_not_null()
    )
    p = apply_overtime(ctx, p)
    p = p.join(ctx.cycle_starts(p, "site_date"), on=["contract_id", "site_date"], how="left")
    p = apply_tiers(ctx, p)
    p = p.with_columns(rate=pl.coalesce("tier_rate", "rate"), tiered=pl.col("tier_rate").is_not_null()).filter(
        pl.col("rate").is_not_null()
    )
    events = _events_frame(ctx)
    p = p.join(
        _factor_table(ctx, p, events), on=["contract_id", "ot", "is_hol", "ev_idx"], how="left", nulls_equal=True
    )
    p = p.join(events.select("ev_idx", "ev_name"), on="ev_idx", how="left")
    cols = [
        "contract_id",
        "cycle_start",
        "site_id",
        "service_type",
        "site_date",
        "ww",
        "hol_name",
        "ev_name",
        "category",
        "rate",
        "mult",
        "tiered",
        "minutes",
        "source_ref",
    ]
    parts = [p.select(cols)]
    parts.append(_minimum_shift(ctx, s, p))
    allp = (
        pl.concat([x.select(cols) for x in parts if x.height], how="vertical")
        if any(x.height for x in parts)
        else p.select(cols)
    )
    return HoursResult(_lines(ctx, allp), billed, covered)


def _minimum_shift(ctx: Context, s: pl.DataFrame, p: pl.DataFrame) -> pl.DataFrame:
    """The shortfall of a short shift, at the regular rate of its start date (tier contracts:
    the first tier's rate when rates[] has none); it never counts toward overtime or tiers."""
    short = s.filter((pl.col("min_shift") > 0) & (pl.col("minutes") < pl.col("min_shift")))
    if short.height == 0:
        return p.head(0)
    rows = []
    for cid, st, site, day, short_by, ref in short.select(
        "contract_id", "service_type", "site_id", "d0", pl.col("min_shift") - pl.col("minutes"), "source_ref"
    ).iter_rows():
        c = ctx.contracts[cid]
        rate = c.rate_for(st, site, day)
        if rate is None and c.hour_tiers is not None and c.hour_tiers.tiers:
            rate = c.hour_tiers.tiers[0][1]
        if rate is None:
            continue
        rows.append(
            {
                "contract_id": cid,
                "cycle_start": ctx.cycle(cid, day).start,
                "site_id": site,
                "service_type": st,
                "site_date": day,
                "ww": None,
                "hol_name": None,
                "ev_name": None,
                "category": "minimum_shift_adjustment",
                "rate": canon(rate),
                "mult": "1",
                "tiered": False,
                "minutes": short_by,
                "source_ref": ref,
            }
        )
    return pl.DataFrame(
        rows,
        schema=p.select(
            "contract_id",
            "cycle_start",
            "site_id",
            "service_type",
            "site_date",
            "ww",
            "hol_name",
            "ev_name",
            "category",
            "rate",
            "mult",
            "tiered",
            "minutes",
            "source_ref",
        ).schema,
    )


def _lines(ctx: Context, p: pl.DataFrame) -> list[Line]:
    if p.height == 0:
        return []
    g = (
        p.group_by("contract_id", "cycle_start", "site_id", "service_type", "category", "rate", "mult")
        .agg(
            pl.col("minutes").sum(),
            pl.col("source_ref").unique().sort().alias("refs"),
            pl.col("ww").drop_nulls().unique().sort().alias("weeks"),
            pl.col("site_date").unique().sort().alias("days"),
            pl.col("hol_name").drop_nulls().unique().sort().alias("hols"),
            pl.col("ev_name").drop_nulls().unique().sort().alias("evs"),
            pl.col("tiered").any(),
        )
        .sort("contract_id", "cycle_start", "site_id", "service_type", "category", "rate", "mult")
    )
    out = []
    for row in g.iter_rows(named=True):
        c = ctx.contracts[row["contract_id"]]
        currency = (ctx.clients.get(c.client_id) or {}).get("currency") or "USD"
        rate, mult, minutes = dec(row["rate"]), dec(row["mult"]), int(row["minutes"])
        amount = round_half_up(rate * mult * minutes / 60, currency)
        if row["category"] == "minimum_shift_adjustment":
            explanation = (
                f"{fmt(hours(minutes))} h x {fmt(rate)} minimum shift of "
                f"{fmt(Decimal(c.minimum_shift_minutes) / 60)} h, shortfall at the regular rate"
            )
        else:
            explanation = _explain(
                c,
                row["category"],
                minutes,
                row["rate"],
                row["mult"],
                row["weeks"],
                row["days"],
                row["hols"],
                row["evs"],
                row["tiered"],
            )
        out.append(
            Line(
                contract_id=c.contract_id,
                kind="arrears",
                cycle=ctx.cycle(c.contract_id, row["cycle_start"]),
                site_id=row["site_id"],
                category=row["category"],
                description=f"{service_label(row['service_type'] or 'guard')} - {CATEGORY_LABEL[row['category']]}",
                quantity=hours(minutes),
                unit="hour",
                unit_price=rate * mult,
                amount=amount,
                source_refs=tuple(row["refs"]),
                explanation=explanation,
                detail=row["service_type"] or "",
            )
        )
    return out
