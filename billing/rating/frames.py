"""Normalise mart frames to the dtypes the engine expects. A mart read from an empty table
or an all-null column arrives with dtype Null; timestamps may arrive naive (taken as UTC)
or in another zone."""

from __future__ import annotations

import polars as pl

from billing.rating.timeutil import UTC_DT

S, D, T, B, N = pl.String, pl.Date, UTC_DT, pl.Boolean, pl.Int64

SHIFTS = {
    "shift_id": S,
    "source": S,
    "source_ref": S,
    "guard_id": S,
    "site_id": S,
    "client_id": S,
    "contract_id": S,
    "service_type": S,
    "check_in_at": T,
    "check_out_at": T,
    "scheduled_start_at": T,
    "scheduled_end_at": T,
    "service_date": D,
    "site_timezone": S,
    "has_valid_interval": B,
}
INCIDENTS = {
    "incident_id": S,
    "source_ref": S,
    "site_id": S,
    "client_id": S,
    "contract_id": S,
    "classification": S,
    "response_started_at": T,
    "response_ended_at": T,
    "responder_guard_id": S,
    "service_date": D,
}
PATROLS = {
    "tour_id": S,
    "source_ref": S,
    "site_id": S,
    "client_id": S,
    "contract_id": S,
    "guard_id": S,
    "started_at": T,
    "completed_at": T,
    "checkpoints_required": N,
    "checkpoints_scanned": N,
    "service_date": D,
}
DEVICES = {
    "device_id": S,
    "source_ref": S,
    "site_id": S,
    "client_id": S,
    "device_type": S,
}  # active_from / active_to are read as they come (date or timestamp), see recurring.py


def _cast(col: str, have: pl.DataType, want: pl.DataType) -> pl.Expr:
    c = pl.col(col)
    if have == pl.Null:
        return pl.lit(None, dtype=want).alias(col)
    if want == UTC_DT:
        if isinstance(have, pl.Datetime):
            c = c.dt.replace_time_zone("UTC") if have.time_zone is None else c.dt.convert_time_zone("UTC")
            return c.dt.cast_time_unit("us").alias(col)
        if have == pl.Date:
            return c.cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias(col)
        if have == pl.String:
            return c.str.to_datetime(time_unit="us", time_zone="UTC").alias(col)
    if want == pl.Date and isinstance(have, pl.Datetime):
        return c.dt.date().alias(col)
    if want == pl.Date and have == pl.String:
        return c.str.to_date().alias(col)
    return c.cast(want).alias(col)


def normalize(df: pl.DataFrame | None, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The frame with exactly the schema's columns (missing ones null) in the schema's dtypes."""
    if df is None:
        df = pl.DataFrame()
    exprs = []
    for col, want in schema.items():
        if col not in df.columns:
            exprs.append(pl.lit(None, dtype=want).alias(col))
        elif df.schema[col] == want:
            exprs.append(pl.col(col))
        else:
            exprs.append(_cast(col, df.schema[col], want))
    if df.width == 0:
        return pl.DataFrame(schema=schema)
    return df.select(exprs)
