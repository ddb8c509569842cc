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
            "fee": pl.String,
            "included": pl.Int64,
            "hourly": pl.String,
            "mode": pl.String,
            "inc": pl.Int64,
        },
        orient="row",
    )


def _with_day(ctx: Context, x: pl.DataFrame, instant: str) -> pl.DataFrame:
    """Site-local service date: the mart's, else computed from the start instant."""
    tz = pl.DataFrame(
        {"site_id": list(ctx.sites), "tz": [ctx.site_tz(k) or "UTC" for k in ctx.sites]},
        schema={"site_id": pl.String, "tz": pl.String},
    )
    x = x.join(tz, on="site_id", how="left").with_columns(pl.col("tz").fill_null("UTC"))
    x = local_date(
        x.with_columns(pl.col(instant).fill_null(pl.datetime(1970, 1, 1, time_zone="UTC"))), instant, "tz", "_d"
    )
    return x.with_columns(day=pl.coalesce("service_date", "_d")).drop("_d")


def covered_frame(ctx: Context, x: pl.DataFrame) -> pl.DataFrame:
    x = x.filter(pl.col("contract_id").is_in(list(ctx.contracts)) & pl.col("day").is_not_null())
    x = x.join(ctx.cycle_starts(x.rename({"day": "d"}), "d").rename({"d": "day"}), on=["contract_id", "day"])
    return x.select("contract_id", "cycle_start", "site_id", "source_ref")


def rate_incidents(ctx: Context, incidents: pl.DataFrame, billed: pl.DataFrame) -> tuple[list[Line], pl.DataFrame]:
    x = normalize(incidents, INCIDENTS)
    if ctx.excluded:
        x = x.filter(~pl.col("source_ref").is_in(list(ctx.excluded)))
    x = _with_day(ctx, x, "response_started_at")
    covered = covered_frame(ctx, x)
    x = x.join(_prices(ctx), on=["contract_id", "classification"], how="inner")
    x = x.filter(
        pl.col("response_started_at").is_not_null()
        & pl.col("response_ended_at").is_not_null()
        & (pl.col("response_ended_at") > pl.col("response_started_at"))
    )
    x = x.with_columns(rs=pl.col("response_started_at"), re=pl.col("response_ended_at"))
    x = round_to_increment(x, ["rs", "re"], "tz", "inc")
    x = x.with_columns(r_min=pl.max_horizontal(minutes_between("rs", "re"), pl.lit(0)))
    x = x.with_columns(bill_fee=(pl.col("mode") == "dispatch") | (pl.col("r_min") > pl.col("included")))
    x = x.filter(pl.col("bill_fee")).with_row_index("iid")
    # Extended time: R after its first included minutes, minus the responder's billed shift time there.
    x = x.with_columns(xs=pl.col("rs") + pl.duration(minutes=pl.col("included")))
    x = x.with_columns(x_min=pl.max_horizontal(minutes_between("xs", "re"), pl.lit(0)))
    inside = (
        x.filter((pl.col("x_min") > 0) & pl.col("responder_guard_id").is_not_null())
        .select("iid", "responder_guard_id", "site_id", "xs", "re")
        .join(billed.rename({"guard_id": "responder_guard_id"}), on=["responder_guard_id", "site_id"])
        .with_columns(
            ov=minutes_between(pl.max_horizontal("xs", "start"), pl.min_horizontal("re", "end")).clip(lower_bound=0)
        )
        .group_by("iid")
        .agg(pl.col("ov").sum())
    )
    x = x.join(inside, on="iid", how="left").with_columns(
        ext=(pl.col("x_min") - pl.col("ov").fill_null(0)).clip(lower_bound=0)
    )
    x = x.join(ctx.cycle_starts(x.rename({"day": "d"}), "d").rename({"d": "day"}), on=["contract_id", "day"])
    return _lines(ctx, x), covered


def _lines(ctx: Context, x: pl.DataFrame) -> list[Line]:
    out: list[Line] = []
    fees = (
        x.group_by("contract_id", "cycle_start", "site_id", "fee")
        .agg(
            pl.len().alias("n"),
            pl.col("source_ref").unique().sort().alias("refs"),
            pl.col("classification").unique().sort().alias("classes"),
            pl.col("mode").unique().sort().alias("modes"),
        )
        .sort("contract_id", "cycle_start", "site_id", "fee")
    )
    for cid, start, site, fee_s, n, refs, classes, modes in fees.iter_rows():
        fee = dec(fee_s)
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
    ext = (
        x.filter(pl.col("ext") > 0)
        .group_by("contract_id", "cycle_start", "site_id", "hourly")
        .agg(
            pl.col("ext").sum(),
            pl.col("source_ref").unique().sort().alias("refs"),
            pl.col("classification").unique().sort().alias("classes"),
            pl.col("included").unique().sort().alias("incl"),
        )
        .sort("contract_id", "cycle_start", "site_id", "hourly")
    )
    for cid, start, site, rate_s, minutes, refs, classes, incl in ext.iter_rows():
        rate = dec(rate_s)
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
                    f"{'/'.join(str(i) for i in incl)} included minutes, outside the responder's billed shifts"
                ),
                detail="ext",
            )
        )
    return out
