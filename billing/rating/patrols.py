"""Patrol visits (section 6): a completed tour (every required checkpoint scanned) is one visit."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from billing.rating.context import Context
from billing.rating.frames import PATROLS, normalize
from billing.rating.incidents import _with_day, covered_frame
from billing.rating.lines import Line
from billing.rating.money import canon, dec, fmt, round_half_up


def rate_patrols(ctx: Context, patrols: pl.DataFrame) -> tuple[list[Line], pl.DataFrame]:
    tours = normalize(patrols, PATROLS)
    if ctx.excluded:
        tours = tours.filter(~pl.col("source_ref").is_in(list(ctx.excluded)))
    tours = _with_day(ctx, tours, "started_at")
    covered = covered_frame(ctx, tours)
    fees = pl.DataFrame(
        [(cid, canon(c.patrol_visit_fee)) for cid, c in ctx.contracts.items() if c.patrol_visit_fee is not None],
        schema={"contract_id": pl.String, "visit_fee": pl.String},
        orient="row",
    )
    completed = tours.join(fees, on="contract_id", how="inner").filter(
        pl.col("checkpoints_required").is_not_null()
        & (pl.col("checkpoints_scanned").fill_null(0) >= pl.col("checkpoints_required"))
        & pl.col("day").is_not_null()
    )
    completed = completed.join(ctx.cycle_starts(completed, "day"), on=["contract_id", "day"])
    visits = (
        completed.group_by("contract_id", "cycle_start", "site_id", "visit_fee")
        .agg(pl.len().alias("n"), pl.col("source_ref").unique().sort().alias("refs"))
        .sort("contract_id", "cycle_start", "site_id", "visit_fee")
    )
    out = []
    for cid, start, site, fee_text, n, refs in visits.iter_rows():
        fee = dec(fee_text)
        currency = (ctx.clients.get(ctx.contracts[cid].client_id) or {}).get("currency") or "USD"
        out.append(
            Line(
                contract_id=cid,
                kind="arrears",
                cycle=ctx.cycle(cid, start),
                site_id=site,
                category="patrol_visit",
                description="Mobile patrol visit",
                quantity=Decimal(n),
                unit="visit",
                unit_price=fee,
                amount=round_half_up(fee * n, currency),
                source_refs=tuple(refs),
                explanation=f"{n} x {fmt(fee)} per completed tour (every required checkpoint scanned)",
            )
        )
    return out, covered
