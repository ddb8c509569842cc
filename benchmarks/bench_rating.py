"""Rating throughput on synthetic data.

    .venv/bin/python benchmarks/bench_rating.py [N_SHIFTS] [--incidents N]

Generates N shifts (default 1,000,000) for 5,000 guards at 300 sites in several time zones
over about 30 days, with mixed overtime policies and holiday calendars, plus incidents
(default 100,000), with every rule in force somewhere (overtime policies incl. california,
shift-start days, holidays, events, both stackings, minimum shift, graduated and volume hour
tiers, mid-period rate changes), then rates them. Prints one JSON line per stage:
{"stage", "rows", "seconds", "rows_per_second", "ratio_to_floor"}, each the median of
--repeat runs, then a summary with the counts and a digest of every invoice (equal digests:
identical results). The "floor" stage is polars loading (from Parquet) and sorting the same
shifts: the cost no rating engine can go below.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from billing.rating import RatingInputs, draft_invoices  # noqa: E402
from billing.rating.hours import rate_hours  # noqa: E402
from billing.rating.incidents import rate_incidents  # noqa: E402
from billing.rating.invoices import build_context  # noqa: E402

ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Phoenix",
    "Pacific/Honolulu",
    "Europe/London",
    "Asia/Kolkata",
]
POLICIES = ["weekly", "daily", "daily_and_weekly", "california", "none"]
GUARDS, SITES, SITES_PER_CLIENT = 5000, 300, 3
BASE = datetime(2026, 10, 1, 4, 0, tzinfo=UTC)


def _rand(col: pl.Expr, seed: int, modulo: int) -> pl.Expr:
    return (col.hash(seed) % modulo).cast(pl.Int64)


def build(n: int, n_incidents: int) -> RatingInputs:
    clients, sites, contracts = [], [], []
    for c in range(SITES // SITES_PER_CLIENT):
        cid = f"C-{c:04d}"
        clients.append(
            {
                "client_id": cid,
                "client_name": cid,
                "grouping": "per_site" if c % 4 == 0 else "consolidated",
                "currency": "USD",
            }
        )
        for k in range(SITES_PER_CLIENT):
            s = c * SITES_PER_CLIENT + k
            sites.append(
                {
                    "site_id": f"S-{s:04d}",
                    "client_id": cid,
                    "site_name": f"Site {s}",
                    "timezone": ZONES[c % len(ZONES)],
                    "tax_jurisdiction": f"J-{c % 7}",
                }
            )
        rates = [
            {"service_type": "unarmed", "rate": "32.00"},
            {"service_type": "armed", "rate": "41.50"},
            {"service_type": "armed", "site_id": f"S-{c * SITES_PER_CLIENT:04d}", "rate": "44.25"},
        ]
        if c % 6 == 2:  # a rate change in the middle of the period
            rates.append({"service_type": "unarmed", "rate": "33.75", "effective_from": "2026-10-16"})
        overtime = {"policy": POLICIES[c % len(POLICIES)], "multiplier": "1.5"}
        if c % 10 == 1:
            overtime["day_boundary"] = "shift_start"
        if c % 9 == 0:
            overtime["workweek_start"] = "sunday"
        terms = {
            "rates": rates,
            "overtime": overtime,
            "stacking": "multiply" if c % 3 == 0 else "max",
            "incidents": {
                "alarm_response": {"flat_fee": "75.00", "included_minutes": 30, "hourly_rate": "45.00"},
                "medical": {"flat_fee": "50.00", "hourly_rate": "45.00", "mode": "dispatch"},
            },
            "increment_minutes": [15, 6, 1, 30][c % 4],
        }
        if c % 2 == 0:
            terms["holidays"] = {"country": "US", "dates": ["2026-10-15"], "multiplier": "1.5"}
        if c % 7 == 1:
            terms["minimum_shift_hours"] = "3.5"
        if c % 8 in (3, 7):
            terms["hour_tiers"] = {
                "mode": "graduated" if c % 8 == 3 else "volume",
                "tiers": [
                    {"from_hours": 0, "rate": "30.00"},
                    {"from_hours": 4000, "rate": "28.50"},
                    {"from_hours": 9000, "rate": "27.25"},
                ],
            }
        if c % 5 == 0:
            terms["events"] = [
                {
                    "name": "Game",
                    "start": "2026-10-10T18:00:00-04:00",
                    "end": "2026-10-10T23:00:00-04:00",
                    "multiplier": "2.0",
                }
            ]
        contracts.append(
            {
                "contract_id": f"K-{c:04d}",
                "client_id": cid,
                "start_date": date(2026, 1, 1),
                "end_date": date(2027, 12, 31),
                "billing_cycle": ["weekly", "monthly", "biweekly"][c % 3],
                "terms": {**terms, "cycle_anchor": "2026-09-28"},
            }
        )
    site_tz = pl.DataFrame(
        {"site_idx": list(range(SITES)), "site_timezone": [s["timezone"] for s in sites]},
        schema={"site_idx": pl.Int64, "site_timezone": pl.String},
    )
    i = pl.int_range(0, n, eager=True).alias("i").to_frame()
    guard = pl.col("i") % GUARDS
    slot = pl.col("i") // GUARDS
    shifts = (
        i.with_columns(
            g=guard,
            slot=slot,
            site_idx=((guard * 7 + _rand(pl.col("i"), 1, 3)) % SITES),
            jitter=_rand(pl.col("i"), 2, 20 * 60),  # seconds
            dur=180 + _rand(pl.col("i"), 3, 40),  # minutes
        )
        .with_columns(
            check_in_at=pl.lit(BASE)
            + pl.duration(minutes=pl.col("slot") * 225 + (pl.col("g") % 60), seconds=pl.col("jitter")),
        )
        .with_columns(check_out_at=pl.col("check_in_at") + pl.duration(minutes=pl.col("dur")))
        .join(site_tz, on="site_idx")
        .with_columns(
            shift_id=pl.format("SH-{}", pl.col("i")),
            source=pl.lit("timesheets"),
            source_ref=pl.format("timesheets:SH-{}", pl.col("i")),
            guard_id=pl.format("G-{}", pl.col("g")),
            site_id=pl.format("S-{}", pl.col("site_idx").cast(pl.String).str.zfill(4)),
            client_id=pl.format("C-{}", (pl.col("site_idx") // SITES_PER_CLIENT).cast(pl.String).str.zfill(4)),
            contract_id=pl.format("K-{}", (pl.col("site_idx") // SITES_PER_CLIENT).cast(pl.String).str.zfill(4)),
            service_type=pl.when(pl.col("i") % 4 == 0).then(pl.lit("armed")).otherwise(pl.lit("unarmed")),
            scheduled_start_at=pl.lit(None, dtype=pl.Datetime("us", "UTC")),
            scheduled_end_at=pl.lit(None, dtype=pl.Datetime("us", "UTC")),
            service_date=pl.col("check_in_at").dt.date(),
            has_valid_interval=pl.lit(True),
        )
        .drop("i", "g", "slot", "site_idx", "jitter", "dur")
    )
    k = pl.int_range(0, n_incidents, eager=True).alias("k").to_frame()
    incidents = (
        k.with_columns(
            site_idx=_rand(pl.col("k"), 4, SITES),
            start_min=_rand(pl.col("k"), 5, 30 * 24 * 60),
            dur=5 + _rand(pl.col("k"), 6, 120),
        )
        .with_columns(
            response_started_at=pl.lit(BASE) + pl.duration(minutes=pl.col("start_min")),
            incident_id=pl.format("IN-{}", pl.col("k")),
            source_ref=pl.format("incidents:IN-{}", pl.col("k")),
            site_id=pl.format("S-{}", pl.col("site_idx").cast(pl.String).str.zfill(4)),
            client_id=pl.format("C-{}", (pl.col("site_idx") // SITES_PER_CLIENT).cast(pl.String).str.zfill(4)),
            contract_id=pl.format("K-{}", (pl.col("site_idx") // SITES_PER_CLIENT).cast(pl.String).str.zfill(4)),
            classification=pl.when(pl.col("k") % 3 == 0).then(pl.lit("medical")).otherwise(pl.lit("alarm_response")),
            responder_guard_id=pl.format("G-{}", _rand(pl.col("k"), 7, GUARDS)),
        )
        .with_columns(
            response_ended_at=pl.col("response_started_at") + pl.duration(minutes=pl.col("dur")),
            service_date=pl.col("response_started_at").dt.date(),
        )
        .drop("k", "site_idx", "start_min", "dur")
    )
    empty = pl.DataFrame()
    return RatingInputs(
        clients=clients,
        sites=sites,
        contracts=contracts,
        tax_rates=[],
        shifts=shifts,
        incidents=incidents,
        patrols=empty,
        devices=empty,
    )


def timed(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    """The median wall time of `repeat` calls (the machine is shared) and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def emit(stage: str, rows: int, seconds: float, floor: float | None = None) -> None:
    out = {
        "stage": stage,
        "rows": rows,
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds) if seconds > 0 else None,
    }
    if floor:
        out["ratio_to_floor"] = round(seconds / floor, 2)
    print(json.dumps(out), flush=True)


def digest(invoices: list) -> str:
    """A fingerprint of every invoice field, lines and covered refs included: equal digests
    before and after an optimisation mean identical results."""
    h = hashlib.sha256()
    for inv in invoices:
        h.update(repr(inv).encode())
    return h.hexdigest()[:16]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("shifts", nargs="?", type=int, default=1_000_000)
    ap.add_argument("--incidents", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs per stage; the median is reported")
    args = ap.parse_args(argv)
    t = time.perf_counter()
    inputs = build(args.shifts, args.incidents)
    n_shifts, n_incidents = inputs.shifts.height, inputs.incidents.height
    emit("generate", n_shifts, time.perf_counter() - t)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "shifts.parquet"
        inputs.shifts.write_parquet(path)
        floor, _ = timed(args.repeat, lambda: pl.read_parquet(path).sort("guard_id", "check_in_at"))
    emit("floor", n_shifts, floor, floor)
    ctx = build_context(inputs)
    seconds, hours = timed(args.repeat, lambda: rate_hours(build_context(inputs), inputs.shifts))
    emit("guard_hours", n_shifts, seconds, floor)
    seconds, _ = timed(args.repeat, lambda: rate_incidents(ctx, inputs.incidents, hours.billed))
    emit("incidents", n_incidents, seconds, floor)
    seconds, invoices = timed(args.repeat, lambda: draft_invoices(inputs, date(2026, 12, 31)))
    emit("draft_invoices_end_to_end", n_shifts + n_incidents, seconds, floor)
    lines = [ln for inv in invoices for ln in inv.lines]
    print(
        json.dumps(
            {
                "stage": "summary",
                "shifts": n_shifts,
                "incidents": n_incidents,
                "hour_lines": len(hours.lines),
                "invoices": len(invoices),
                "lines": len(lines),
                "minimum_shift_lines": sum(ln.category == "minimum_shift_adjustment" for ln in lines),
                "total": str(sum(inv.total for inv in invoices)),
                "digest": digest(invoices),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
