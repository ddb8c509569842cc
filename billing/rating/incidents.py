"""Incident responses (section 5): a flat fee plus extended time, never billing a minute the
responder's shift already bills."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from billing.rating.context import Context
from billing.rating.frames import INCIDENTS, normalize
from billing.rating.lines import Line
from billing.rating.money import canon, dec, fmt, hours, round_half_up
from billing.rating.timeutil import local_date, minutes_between, round_to_increment


def _prices(ctx: Context) -> pl.DataFrame:
    rows = [
        (cid, cls, canon(p.flat_fee), p.included_minutes, canon(p.hourly_rate), p.mode, c.increment_minutes)
        for cid, c in ctx.contracts.items()
        for cls, p in c.incidents.items()
    ]
    return pl.DataFrame(
        rows,
        schema={
            "contract_id": pl.String,
            "classification": pl.String,
            "flat_fee": pl.String,
            "included_minutes": pl.Int64,
            "hourly_rate": pl.String,
            "mode": pl.String,
            "increment_minutes": pl.Int64,
        },
        orient="row",
    )


def _with_day(ctx: Context, records: pl.DataFrame, instant: str) -> pl.DataFrame:
    """Site-local service date (`day`): the mart's, else computed from the start instant."""
    zones = pl.DataFrame(
        {"site_id": list(ctx.sites), "site_zone": [ctx.site_tz(k) or "UTC" for k in ctx.sites]},
        schema={"site_id": pl.String, "site_zone": pl.String},
    )
    records = records.join(zones, on="site_id", how="left").with_columns(pl.col("site_zone").fill_null("UTC"))
    records = local_date(
        records.with_columns(pl.col(instant).fill_null(pl.datetime(1970, 1, 1, time_zone="UTC"))),
        instant,
        "site_zone",
        "local_day",
    )
    return records.with_columns(day=pl.coalesce("service_date", "local_day")).drop("local_day")


def covered_frame(ctx: Context, records: pl.DataFrame) -> pl.DataFrame:
    records = records.filter(pl.col("contract_id").is_in(list(ctx.contracts)) & pl.col("day").is_not_null())
    records = records.join(ctx.cycle_starts(records, "day"), on=["contract_id", "day"])
    return records.select("contract_id", "cycle_start", "site_id", "source_ref")


def rate_incidents(ctx: Context, incidents: pl.DataFrame, billed: pl.DataFrame) -> tuple[list[Line], pl.DataFrame]:
    responses = normalize(incidents, INCIDENTS)
    if ctx.excluded:
        responses = responses.filter(~pl.col("source_ref").is_in(list(ctx.excluded)))
    responses = _with_day(ctx, responses, "response_started_at")
    covered = covered_frame(ctx, responses)
    responses = responses.join(_prices(ctx), on=["contract_id", "classification"], how="inner")
    responses = responses.filter(
        pl.col("response_started_at").is_not_null()
        & pl.col("response_ended_at").is_not_null()
        & (pl.col("response_ended_at") > pl.col("response_started_at"))
    )
    responses = responses.with_columns(
        response_start=pl.col("response_started_at"), response_end=pl.col("response_ended_at")
    )
    responses = round_to_increment(responses, ["response_start", "response_end"], "site_zone", "increment_minutes")
    responses = responses.with_columns(
        response_minutes=pl.max_horizontal(minutes_between("response_start", "response_end"), pl.lit(0))
    )
    bills_fee = (pl.col("mode") == "dispatch") | (pl.col("response_minutes") > pl.col("included_minutes"))
    responses = responses.filter(bills_fee).with_row_index("response_row")
    # Extended time: R after its first included minutes, minus the responder's billed shift time there.
    responses = responses.with_columns(
        extended_start=pl.col("response_start") + pl.duration(minutes=pl.col("included_minutes"))
    )
    responses = responses.with_columns(
        beyond_included=pl.max_horizontal(minutes_between("extended_start", "response_end"), pl.lit(0))
    )
    overlap = minutes_between(
        pl.max_horizontal("extended_start", "start"), pl.min_horizontal("response_end", "end")
    ).clip(lower_bound=0)
    inside_shifts = (
        responses.filter((pl.col("beyond_included") > 0) & pl.col("responder_guard_id").is_not_null())
        .select("response_row", "responder_guard_id", "site_id", "extended_start", "response_end")
        .join(billed.rename({"guard_id": "responder_guard_id"}), on=["responder_guard_id", "site_id"])
        .with_columns(inside_shift=overlap)
        .group_by("response_row")
        .agg(pl.col("inside_shift").sum())
    )
    responses = responses.join(inside_shifts, on="response_row", how="left").with_columns(
        extended_minutes=(pl.col("beyond_included") - pl.col("inside_shift").fill_null(0)).clip(lower_bound=0)
    )
    responses = responses.join(ctx.cycle_starts(responses, "day"), on=["contract_id", "day"])
    return _lines(ctx, responses), covered


def _lines(ctx: Context, responses: pl.DataFrame) -> list[Line]:
    out: list[Line] = []
    fees = (
        responses.group_by("contract_id", "cycle_start", "site_id", "flat_fee")
        .agg(
            pl.len().alias("n"),
            pl.col("source_ref").unique().sort().alias("refs"),
            pl.col("classification").unique().sort().alias("classes"),
            pl.col("mode").unique().sort().alias("modes"),
        )
        .sort("contract_id", "cycle_start", "site_id", "flat_fee")
    )
    for cid, start, site, fee_text, n, refs, classes, modes in fees.iter_rows():
        fee = dec(fee_text)
        if fee == 0:
            continue
        c = ctx.contracts[cid]
        currency = (ctx.clients.get(c.client_id) or {}).get("currency") or "USD"
        out.append(
            Line(
                contract_id=cid,
                kind="arrears",
                cycle=ctx.cycle(cid, start),
                site_id=site,
                category="incident_fee",
                description=f"Incident response - {', '.join(c.replace('_', ' ') for c in classes)}",
                quantity=Decimal(n),
                unit="incident",
                unit_price=fee,
                amount=round_half_up(fee * n, currency),
                source_refs=tuple(refs),
                explanation=f"{n} x {fmt(fee)} flat fee ({', '.join(classes)}; mode {'/'.join(modes)})",
                detail="fee",
            )
        )
    extended = (
        responses.filter(pl.col("extended_minutes") > 0)
        .group_by("contract_id", "cycle_start", "site_id", "hourly_rate")
        .agg(
            pl.col("extended_minutes").sum(),
            pl.col("source_ref").unique().sort().alias("refs"),
            pl.col("classification").unique().sort().alias("classes"),
            pl.col("included_minutes").unique().sort().alias("included"),
        )
        .sort("contract_id", "cycle_start", "site_id", "hourly_rate")
    )
    for cid, start, site, rate_text, minutes, refs, classes, included in extended.iter_rows():
        rate = dec(rate_text)
        if rate == 0:
            continue
        c = ctx.contracts[cid]
        currency = (ctx.clients.get(c.client_id) or {}).get("currency") or "USD"
        out.append(
            Line(
                contract_id=cid,
                kind="arrears",
                cycle=ctx.cycle(cid, start),
                site_id=site,
                category="incident_extended_time",
                description=f"Incident response extended time - {', '.join(c.replace('_', ' ') for c in classes)}",
                quantity=hours(minutes),
                unit="hour",
                unit_price=rate,
                amount=round_half_up(rate * minutes / 60, currency),
                source_refs=tuple(refs),
                explanation=(
                    f"{fmt(hours(minutes))} h x {fmt(rate)} extended response time beyond "
                    f"{'/'.join(str(i) for i in included)} included minutes, outside the responder's billed shifts"
                ),
                detail="ext",
            )
        )
    return out
