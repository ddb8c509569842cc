"""Billable time of shifts (billing-rules.md section 3) and their pieces.

A shift record becomes one narrow row of integers: billed start and end (epoch microseconds,
rounded to the contract's increment in the site's zone, trimmed so a guard's overlapping
shifts bill the overlap once), contract, zone and guard codes, and `record_row`, its row in
the records frame, where its strings stay until an output line needs them. Shifts are then
cut into pieces at site-local and contract-local midnights and at event edges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from billing.rating.context import Context
from billing.rating.contracts import Contract
from billing.rating.frames import SHIFTS, normalize
from billing.rating.hour_terms import HourTerms, hour_terms, per_key_and_date
from billing.rating.refs import text_ranks
from billing.rating.timeutil import DAY_US, MINUTE_US, ZoneClock, day_starts, round_minutes_us, truncate_minute_us


def hourly_priced(contract: Contract, service_type: str) -> bool:
    """Billed by the hour? A patrol shift on a contract with a visit fee and no hourly patrol
    rate is billed per visit instead (section 3)."""
    if service_type == "patrol" and contract.patrol_visit_fee is not None and not contract.has_hourly_rate("patrol"):
        return False
    return contract.has_hourly_rate(service_type) or contract.hour_tiers is not None


def covered_records(ctx: Context, records: pl.DataFrame) -> pl.DataFrame:
    """Every shift record of a known contract with its cycle (invoices list them as covered);
    `records` carries `contract_code`, null where the contract is unknown."""
    # The narrow columns first: filtering the whole records frame would copy every string column.
    known = records.select(
        "contract_id",
        "contract_code",
        "site_id",
        "source_ref",
        "ref_rank",
        # The UTC date of check-in where the mart has no service date, by integer division
        # (a tz-aware `dt.date` over a million instants costs several times more).
        service_day=pl.coalesce(
            "service_date", (pl.col("check_in_at").dt.epoch("us") // DAY_US).cast(pl.Int32).cast(pl.Date)
        ),
    )
    known = known.filter(pl.col("contract_code").is_not_null() & pl.col("service_day").is_not_null())
    if known.height == 0:
        return known.select(
            "contract_id", cycle_start=pl.lit(None, pl.Date), site_id="site_id", source_ref="source_ref",
            ref_rank="ref_rank",
        )
    contract_ids = list(ctx.contracts)
    cycle_start = per_key_and_date(
        known["contract_code"],
        known["service_day"],
        len(contract_ids),
        lambda pairs: [ctx.cycle(contract_ids[code], day).start for code, day in pairs],
        pl.Date,
    )
    return known.select(
        "contract_id", cycle_start=cycle_start, site_id="site_id", source_ref="source_ref", ref_rank="ref_rank"
    )


def _rated_records(ctx: Context, records: pl.DataFrame, services: list[str]) -> pl.DataFrame:
    """Records of a known contract with a valid interval that the contract prices by the hour."""
    records = records.filter(pl.col("contract_code").is_not_null() & pl.col("has_valid_interval").fill_null(False))
    n_services = len(services) + 1
    pair = records["contract_code"].cast(pl.Int64) * n_services + records["service_code"].fill_null(n_services - 1)
    contract_ids = list(ctx.contracts)
    unpriced = [
        key
        for key in pair.unique().to_list()
        if not hourly_priced(
            ctx.contracts[contract_ids[key // n_services]],
            services[key % n_services] if key % n_services < len(services) else "",
        )
    ]
    return records.filter(~pair.is_in(unpriced)) if unpriced else records


def _guard_codes(records: pl.DataFrame) -> pl.Series:
    """An integer per guard (equal iff same guard); a shift without a guard is its own guard,
    keyed by its source ref."""
    guard = records["guard_id"].cast(pl.Categorical).to_physical().cast(pl.Int64)
    if guard.null_count():
        missing = guard.is_null().arg_true()
        by_ref = records["source_ref"].gather(missing).cast(pl.Categorical).to_physical().cast(pl.Int64) + 2**32
        guard = guard.scatter(missing, by_ref)
    return guard


def _stable_order(key: pl.Series, key_bits: int) -> tuple[pl.Series, pl.Series]:
    """Row positions that put `key` (integers in [0, 2**key_bits)) in order, equal keys in row
    order, and the sorted keys. When the row number fits below the key in 62 bits this is
    one sort of values on one thread: on this 2-core machine about half the CPU time of an arg
    sort, and of a sort on two threads."""
    row_bits = max(key.len().bit_length(), 1)
    if key_bits + row_bits <= 62:
        row = pl.int_range(key.len(), dtype=pl.Int64, eager=True)
        packed = (key.cast(pl.Int64) * (1 << row_bits) + row).sort(multithreaded=False)
        return (packed % (1 << row_bits)).cast(pl.get_index_type()), packed // (1 << row_bits)
    order = key.to_frame("key").with_row_index("row").sort("key", maintain_order=True)["row"]
    return order, key.gather(order)


def _guard_start_order(shifts: pl.DataFrame, records: pl.DataFrame) -> pl.Series:
    """Row positions in (guard, rounded start) order, ties by shift id then source ref. One
    integer sort when no guard has two shifts starting at the same minute (the usual case)."""
    start_minute = shifts["billed_start_us"] // MINUTE_US
    relative = start_minute - start_minute.min()
    minute_bits = int(relative.max()).bit_length()
    key_bits = int(shifts["guard"].max()).bit_length() + minute_bits
    if key_bits <= 62:
        order, sorted_key = _stable_order(shifts["guard"] * (1 << minute_bits) + relative, key_bits)
        if not (sorted_key == sorted_key.shift(1)).any():
            return order
    tie_breaks = records.select("shift_id", "source_ref").gather(shifts["record_row"])
    return (
        pl.concat([shifts.select("guard", "billed_start_us"), tie_breaks], how="horizontal")
        .select(pl.arg_sort_by("guard", "billed_start_us", "shift_id", "source_ref"))
        .to_series()
    )


def _bill_overlap_once(shifts: pl.DataFrame, records: pl.DataFrame, n_contracts: int) -> pl.DataFrame:
    """Each shift starts no earlier than the latest end of its guard's earlier shifts (guard
    and start order); the result is in (guard, contract, start) order, the order overtime
    counts in, with `guard_rank` numbering the guards."""
    order = _guard_start_order(shifts, records)
    guard = shifts["guard"].gather(order)
    start, end = shifts["billed_start_us"].gather(order), shifts["billed_end_us"].gather(order)
    new_guard = guard.ne_missing(guard.shift(1))
    guard_rank = new_guard.cum_sum().cast(pl.Int64)
    end_minute = end // MINUTE_US
    base = end_minute.min()
    span = int(end_minute.max() - base) + 1
    if guard_rank.max() * span < 2**62:
        # A running maximum per guard in one pass: guard ranks lift each guard above the last.
        lifted = guard_rank * span + (end_minute - base)
        earlier_end = (lifted.cum_max().shift(1) - guard_rank * span + base) * MINUTE_US
    else:
        earlier_end = (
            pl.DataFrame({"guard_rank": guard_rank, "end": end}).select(
                pl.col("end").cum_max().shift(1).over("guard_rank")
            )
        ).to_series()
    earlier_end = pl.select(pl.when(~new_guard).then(earlier_end)).to_series()
    start = pl.select(pl.max_horizontal(start, earlier_end.fill_null(start))).to_series()
    trimmed = pl.DataFrame(
        {"position": order, "guard_rank": guard_rank, "billed_start_us": start, "billed_end_us": end}
    ).filter(end > start)
    # Overtime runs per guard per contract in time order: a stable sort keeps the start order.
    group = trimmed["guard_rank"] * n_contracts + shifts["contract_code"].gather(trimmed["position"]).cast(pl.Int64)
    if not group.is_sorted():
        trimmed = trimmed.gather(_stable_order(group, int(group.max()).bit_length())[0])
    return (
        shifts.drop("billed_start_us", "guard")
        .gather(trimmed["position"])
        .with_columns(
            trimmed["guard_rank"],
            trimmed["billed_start_us"],
            minutes=(trimmed["billed_end_us"] - trimmed["billed_start_us"]) // MINUTE_US,
        )
    )


@dataclass
class BillableShifts:
    records: pl.DataFrame  # the rated shift records, strings and all; `record_row` is a row of it
    shifts: pl.DataFrame  # one narrow row per billable shift, in (guard, contract, start) order
    covered: pl.DataFrame  # contract_id, cycle_start, site_id, source_ref, ref_rank of every covered record
    ref_texts: pl.Series  # the records' distinct source refs in text order; `ref_rank` indexes it
    terms: HourTerms
    clock: ZoneClock
    sites: list[str]  # site code -> site_id
    services: list[str]  # service code -> service_type


def billable_shifts(ctx: Context, shift_marts: pl.DataFrame) -> BillableShifts:
    """Unmatched, invalid, excluded or unpriced shifts drop out here."""
    records = normalize(shift_marts, SHIFTS)
    if ctx.excluded:
        records = records.filter(~pl.col("source_ref").is_in(list(ctx.excluded)))
    contract_enum = pl.Enum(list(ctx.contracts))
    records = records.with_columns(contract_code=pl.col("contract_id").cast(contract_enum, strict=False).to_physical())
    # Refs ranked once, here: lines and invoices then sort and unite them as integers.
    ref_rank, ref_texts = text_ranks(records["source_ref"])
    records = records.with_columns(ref_rank=ref_rank)
    covered = covered_records(ctx, records)
    services = records["service_type"].drop_nulls().unique().sort().to_list()
    records = records.with_columns(service_code=pl.col("service_type").cast(pl.Enum(services)).to_physical())
    records = _rated_records(ctx, records, services)
    site_zones = {site: ctx.site_tz(site) for site in ctx.sites}
    present = records["site_timezone"].drop_nulls().unique().to_list()
    terms = hour_terms(ctx, [*present, *(z for z in site_zones.values() if z)])
    sites = records["site_id"].drop_nulls().unique().sort().to_list()
    site_code = records["site_id"].cast(pl.Enum(sites)).to_physical()
    # A site's zone: the mart's site_timezone, else the site's, else UTC (zone codes, by gather).
    zone_of_site = pl.Series([terms.zones.index(site_zones.get(site) or "UTC") for site in sites], dtype=pl.UInt32)
    site_zone = pl.coalesce(
        records["site_timezone"].cast(terms.zone_enum).to_physical(),
        zone_of_site.gather(site_code),
        pl.lit(terms.zones.index("UTC"), pl.UInt32),
    )
    shifts = records.select(
        record_row=pl.int_range(pl.len(), dtype=pl.UInt32),
        contract_code="contract_code",
        site_zone=site_zone,
        site_code=site_code,
        service_code="service_code",
        check_in_us=pl.col("check_in_at").dt.epoch("us"),
        check_out_us=pl.col("check_out_at").dt.epoch("us"),
        scheduled_start_us=pl.col("scheduled_start_at").dt.epoch("us"),
        scheduled_end_us=pl.col("scheduled_end_at").dt.epoch("us"),
    )
    contract_terms = terms.frame.select("bills_scheduled", "increment_minutes").gather(shifts["contract_code"])
    # basis: scheduled bills the scheduled times when both are there, else the actuals.
    scheduled = (
        contract_terms["bills_scheduled"]
        & shifts["scheduled_start_us"].is_not_null()
        & shifts["scheduled_end_us"].is_not_null()
    )
    shifts = shifts.select(
        "record_row",
        "contract_code",
        "site_zone",
        "site_code",
        "service_code",
        billed_start_us=pl.when(scheduled).then("scheduled_start_us").otherwise("check_in_us"),
        billed_end_us=pl.when(scheduled).then("scheduled_end_us").otherwise("check_out_us"),
        guard=_guard_codes(records),
        increment_minutes=contract_terms["increment_minutes"],
    ).filter(pl.col("billed_start_us").is_not_null() & pl.col("billed_end_us").is_not_null())
    first, last = shifts["billed_start_us"].min(), shifts["billed_end_us"].max()
    clock = ZoneClock(
        terms.zones,
        None if first is None else first - 2 * DAY_US,
        None if last is None else last + 2 * DAY_US,
        shifts.height,
    )
    for col in ("billed_start_us", "billed_end_us"):
        truncated = truncate_minute_us(shifts[col])
        minute = clock.minute_of_hour(truncated, shifts["site_zone"])
        shifts = shifts.with_columns(round_minutes_us(truncated, minute, shifts["increment_minutes"]).alias(col))
    shifts = shifts.drop("increment_minutes")
    if shifts.height == 0:
        shifts = shifts.drop("guard").with_columns(guard_rank=pl.lit(0, pl.Int64), minutes=pl.lit(0, pl.Int64))
    else:
        shifts = _bill_overlap_once(shifts, records, max(len(terms.contract_ids), 1))
    contract_zone = terms.frame["contract_zone"].gather(shifts["contract_code"])
    start_site_date = clock.local_date(shifts["billed_start_us"], shifts["site_zone"])
    shifts = shifts.with_columns(
        contract_zone=contract_zone,
        start_site_date=start_site_date,
        # Where every site is in its contract's zone (the usual case), the dates are the same.
        start_contract_date=start_site_date
        if shifts["site_zone"].eq_missing(contract_zone).all()
        else clock.local_date(shifts["billed_start_us"], contract_zone),
    )
    return BillableShifts(records, shifts, covered, ref_texts, terms, clock, sites, services)


def _midnights(shifts: pl.DataFrame, zone_col: str, first_date_col: str, terms: HourTerms, clock: ZoneClock):
    """(shift_pos, cut_us): the local midnights strictly inside each shift, in one zone column."""
    last_date = clock.local_date(shifts["billed_end_us"] - 1, shifts[zone_col])
    crossing = shifts.select("shift_pos", zone_col, first_date_col, "billed_end_us").with_columns(last_date=last_date)
    crossing = crossing.filter(pl.col("last_date") > pl.col(first_date_col))
    if crossing.height == 0:
        return pl.DataFrame(schema={"shift_pos": pl.UInt32, "cut_us": pl.Int64})
    if (crossing["last_date"] - crossing[first_date_col]).max() == timedelta(days=1):
        crossing = crossing.with_columns(date=pl.col("last_date"))  # one midnight each: no ranges
    else:
        crossing = crossing.with_columns(
            date=pl.date_ranges(pl.col(first_date_col) + pl.duration(days=1), "last_date")
        ).explode("date")
    zone_dates = crossing.select(pl.col(zone_col).alias("zone_code"), "date").unique()
    zone_dates = zone_dates.with_columns(
        zone=pl.col("zone_code").cast(pl.UInt32).replace_strict(list(range(len(terms.zones))), terms.zones)
    )
    starts = zone_dates.join(day_starts(zone_dates.select("zone", "date"), "zone", "date"), on=["zone", "date"])
    crossing = crossing.join(starts, left_on=[zone_col, "date"], right_on=["zone_code", "date"])
    return crossing.select("shift_pos", cut_us=pl.col("day_start").dt.epoch("us"))


def _distinct_in_order(cuts: pl.DataFrame, n_shifts: int) -> pl.DataFrame:
    """The distinct (shift_pos, cut_us) cuts in that order: one sort of values on one thread
    when both fit one Int64 (the cut as an offset from the earliest), duplicates adjacent."""
    first = cuts["cut_us"].min()
    offset_bits = max(int(cuts["cut_us"].max() - first).bit_length(), 1)
    if offset_bits + max(n_shifts.bit_length(), 1) > 62:
        return cuts.unique().sort("shift_pos", "cut_us")
    packed = (cuts["shift_pos"].cast(pl.Int64) * (1 << offset_bits) + (cuts["cut_us"] - first)).sort(
        multithreaded=False
    )
    packed = packed.filter(packed.ne_missing(packed.shift(1)))
    return pl.DataFrame(
        {"shift_pos": (packed // (1 << offset_bits)).cast(pl.UInt32), "cut_us": packed % (1 << offset_bits) + first}
    )


def split_into_pieces(shifts: pl.DataFrame, terms: HourTerms, clock: ZoneClock) -> pl.DataFrame:
    """Shifts cut at site-local midnights, contract-zone midnights and event edges, in shift
    order (pieces of a shift in time order), each with its local dates and event."""
    shifts = shifts.with_row_index("shift_pos")
    cuts = [_midnights(shifts, "site_zone", "start_site_date", terms, clock)]
    same_zone = bool(shifts["site_zone"].eq_missing(shifts["contract_zone"]).all())
    if not same_zone:
        cuts.append(_midnights(shifts, "contract_zone", "start_contract_date", terms, clock))
    events = terms.events
    with_events = pl.col("contract_code").is_in(events["contract_code"].unique().to_list())
    if events.height:
        spans = (
            shifts.select("shift_pos", "contract_code", "billed_start_us", "billed_end_us")
            .filter(with_events)
            .join(events, on="contract_code")
        )
        for edge in ("event_start_us", "event_end_us"):
            inside = (pl.col(edge) > pl.col("billed_start_us")) & (pl.col(edge) < pl.col("billed_end_us"))
            cuts.append(spans.filter(inside).select("shift_pos", cut_us=pl.col(edge)))
    cuts = pl.concat([cut.select(pl.col("shift_pos").cast(pl.UInt32), pl.col("cut_us").cast(pl.Int64)) for cut in cuts])
    if cuts.height:
        cuts = _distinct_in_order(cuts, shifts.height)
        counts = cuts.group_by("shift_pos").len()
        per_shift = pl.zeros(shifts.height, pl.UInt32, eager=True).scatter(counts["shift_pos"], counts["len"]) + 1
        first_piece = per_shift.cum_sum() - per_shift
        # Piece -> shift: a running count of the shifts whose first piece has been passed.
        starts_shift = pl.zeros(int(per_shift.sum()), pl.UInt32, eager=True).scatter(first_piece.slice(1), 1)
        shift_of_piece = starts_shift.cum_sum()
        # A cut's piece: its shift's first piece plus its rank among the shift's cuts.
        row = pl.int_range(pl.len(), dtype=pl.UInt32)
        first_cut = pl.when(pl.col("shift_pos").ne_missing(pl.col("shift_pos").shift(1))).then(row).forward_fill()
        cut_rank = cuts.select(row - first_cut + 1).to_series()
        piece_start = shifts["billed_start_us"].gather(shift_of_piece)
        piece_start = piece_start.scatter(first_piece.gather(cuts["shift_pos"]) + cut_rank, cuts["cut_us"])
        pieces = shifts.gather(shift_of_piece).with_columns(piece_start_us=piece_start)
        last_of_shift = pl.col("shift_pos").ne_missing(pl.col("shift_pos").shift(-1))
        pieces = pieces.with_columns(
            piece_end_us=pl.when(last_of_shift).then("billed_end_us").otherwise(pl.col("piece_start_us").shift(-1))
        )
    else:
        pieces = shifts.with_columns(piece_start_us=pl.col("billed_start_us"), piece_end_us=pl.col("billed_end_us"))
    pieces = pieces.with_columns(minutes=(pl.col("piece_end_us") - pl.col("piece_start_us")) // MINUTE_US).filter(
        pl.col("minutes") > 0
    )
    # A shift's first piece starts on its start dates; only the later pieces are converted.
    later = pieces["piece_start_us"].ne(pieces["billed_start_us"]).arg_true()
    later_start = pieces["piece_start_us"].gather(later)

    def dates_from(start_col: str, zone_col: str) -> pl.Series:
        dates = clock.local_date(later_start, pieces[zone_col].gather(later))
        return pieces[start_col].scatter(later, dates) if later.len() else pieces[start_col]

    site_date = dates_from("start_site_date", "site_zone")
    pieces = pieces.with_columns(
        site_date=site_date,
        contract_date=site_date if same_zone else dates_from("start_contract_date", "contract_zone"),
        event_rank=pl.lit(None, pl.Int64),
    )
    if events.height:
        inside = (
            pieces.select(
                pl.int_range(pl.len(), dtype=pl.UInt32).alias("piece"),
                "contract_code",
                "piece_start_us",
                "piece_end_us",
            )
            .filter(with_events)
            .join(events, on="contract_code")
            .filter(
                (pl.col("event_start_us") <= pl.col("piece_start_us"))
                & (pl.col("piece_end_us") <= pl.col("event_end_us"))
            )
            .group_by("piece")
            .agg(pl.col("event_rank").min())
        )
        if inside.height:
            pieces = pieces.with_columns(event_rank=pieces["event_rank"].scatter(inside["piece"], inside["event_rank"]))
    return pieces.drop("shift_pos", "billed_start_us", "billed_end_us")
