"""Normalise mart frames to the dtypes the engine expects. A mart read from an empty table
or an all-null column arrives with dtype Null; timestamps may arrive naive (taken as UTC)
or in another zone."""

from __future__ import annotations

import polars as pl

from billing.rating.timeutil import UTC_DT

TEXT, DATE, INSTANT, FLAG, COUNT = pl.String, pl.Date, UTC_DT, pl.Boolean, pl.Int64

SHIFTS = {
    "shift_id": TEXT,
    "source": TEXT,
    "source_ref": TEXT,
    "guard_id": TEXT,
    "site_id": TEXT,
    "client_id": TEXT,
    "contract_id": TEXT,
    "service_type": TEXT,
    "check_in_at": INSTANT,
    "check_out_at": INSTANT,
    "scheduled_start_at": INSTANT,
    "scheduled_end_at": INSTANT,
    "service_date": DATE,
    "site_timezone": TEXT,
    "has_valid_interval": FLAG,
}
INCIDENTS = {
    "incident_id": TEXT,
    "source_ref": TEXT,
    "site_id": TEXT,
    "client_id": TEXT,
    "contract_id": TEXT,
    "classification": TEXT,
    "response_started_at": INSTANT,
    "response_ended_at": INSTANT,
    "responder_guard_id": TEXT,
    "service_date": DATE,
}
PATROLS = {
    "tour_id": TEXT,
    "source_ref": TEXT,
    "site_id": TEXT,
    "client_id": TEXT,
    "contract_id": TEXT,
    "guard_id": TEXT,
    "started_at": INSTANT,
    "completed_at": INSTANT,
    "checkpoints_required": COUNT,
    "checkpoints_scanned": COUNT,
    "service_date": DATE,
}
DEVICES = {
    "device_id": TEXT,
    "source_ref": TEXT,
    "site_id": TEXT,
    "client_id": TEXT,
    "device_type": TEXT,
}  # active_from / active_to are read as they come (date or timestamp), see recurring.py


def _cast(col: str, have: pl.DataType, want: pl.DataType) -> pl.Expr:
    value = pl.col(col)
    if have == pl.Null:
        return pl.lit(None, dtype=want).alias(col)
    if want == UTC_DT:
        if isinstance(have, pl.Datetime):
            value = value.dt.replace_time_zone("UTC") if have.time_zone is None else value.dt.convert_time_zone("UTC")
            return value.dt.cast_time_unit("us").alias(col)
        if have == pl.Date:
            return value.cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias(col)
        if have == pl.String:
            return value.str.to_datetime(time_unit="us", time_zone="UTC").alias(col)
    if want == pl.Date and isinstance(have, pl.Datetime):
        return value.dt.date().alias(col)
    if want == pl.Date and have == pl.String:
        return value.str.to_date().alias(col)
    return value.cast(want).alias(col)


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
