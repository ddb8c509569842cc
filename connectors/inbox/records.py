"""Generic service records (interfaces.md section 2): timesheets, incidents, patrols and
devices CSVs -> canonical raw rows, one pandera model per format.

What is a finding rather than a schema error is left to dbt on purpose: an open shift
(empty check_out), a check-out before its check-in or an incident that ends before it
starts are accepted here and raised as `missing_checkout` / `bad_interval`, so finance
sees them next to the invoice they hold."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl

from connectors.base import CANONICAL_COLUMNS, ParseResult, with_content_hash
from connectors.inbox import payments
from connectors.inbox.tabular import (
    CsvKind,
    date_expr,
    int_expr,
    ok_code,
    ok_date,
    ok_timestamp,
    ok_whole_number,
    read_records,
    timestamp_expr,
    validate,
)


class TimesheetRow(pa.DataFrameModel):
    shift_id: str = pa.Field(nullable=False)
    guard_id: str = pa.Field(nullable=False)
    site_id: str = pa.Field(nullable=False)
    service_type: str = pa.Field(nullable=False)
    check_in: str = pa.Field(nullable=False)
    check_out: str = pa.Field(nullable=True)  # empty: an open shift, raised by dbt
    guard_name: str = pa.Field(nullable=True)
    scheduled_start: str = pa.Field(nullable=True)
    scheduled_end: str = pa.Field(nullable=True)
    post: str = pa.Field(nullable=True)

    @pa.check("check_in", "check_out", "scheduled_start", "scheduled_end", name="timestamp")
    def timestamp(cls, data):  # noqa: N805
        return ok_timestamp(data)

    @pa.check("service_type", name="code")
    def code(cls, data):  # noqa: N805
        return ok_code(data)

    class Config:
        strict = False


class IncidentRow(pa.DataFrameModel):
    incident_id: str = pa.Field(nullable=False)
    site_id: str = pa.Field(nullable=False)
    classification: str = pa.Field(nullable=False)
    response_started_at: str = pa.Field(nullable=False)
    response_ended_at: str = pa.Field(nullable=False)
    responder_guard_id: str = pa.Field(nullable=True)
    opened_at: str = pa.Field(nullable=True)
    description: str = pa.Field(nullable=True)
    source_ref: str = pa.Field(nullable=True)

    @pa.check("response_started_at", "response_ended_at", "opened_at", name="timestamp")
    def timestamp(cls, data):  # noqa: N805
        return ok_timestamp(data)

    @pa.check("classification", name="code")
    def code(cls, data):  # noqa: N805
        return ok_code(data)

    class Config:
        strict = False


class PatrolRow(pa.DataFrameModel):
    tour_id: str = pa.Field(nullable=False)
    site_id: str = pa.Field(nullable=False)
    guard_id: str = pa.Field(nullable=False)
    started_at: str = pa.Field(nullable=False)
    checkpoints_required: str = pa.Field(nullable=False)
    checkpoints_scanned: str = pa.Field(nullable=False)
    completed_at: str = pa.Field(nullable=True)

    @pa.check("started_at", "completed_at", name="timestamp")
    def timestamp(cls, data):  # noqa: N805
        return ok_timestamp(data)

    @pa.check("checkpoints_required", "checkpoints_scanned", name="whole_number")
    def whole_number(cls, data):  # noqa: N805
        return ok_whole_number(data)

    @pa.dataframe_check(name="scanned_within_required")
    def scanned_within_required(cls, data):  # noqa: N805
        # Fewer scans than required is `missed_checkpoints` (a finding); more than the tour
        # has cannot happen and means the counts are swapped or wrong.
        required, scanned = int_expr("checkpoints_required"), int_expr("checkpoints_scanned")
        return data.lazyframe.select(required.is_null() | scanned.is_null() | (scanned <= required))

    class Config:
        strict = False


class DeviceRow(pa.DataFrameModel):
    device_id: str = pa.Field(nullable=False)
    site_id: str = pa.Field(nullable=False)
    device_type: str = pa.Field(nullable=False)
    active_from: str = pa.Field(nullable=False)
    active_to: str = pa.Field(nullable=True)
    vendor_ref: str = pa.Field(nullable=True)

    @pa.check("active_from", "active_to", name="date")
    def date(cls, data):  # noqa: N805
        return ok_date(data)

    @pa.check("device_type", name="code")
    def code(cls, data):  # noqa: N805
        return ok_code(data)

    @pa.dataframe_check(name="active_to_not_before_from")
    def active_to_not_before_from(cls, data):  # noqa: N805
        start, end = date_expr("active_from"), date_expr("active_to")
        return data.lazyframe.select(start.is_null() | end.is_null() | (end >= start))

    class Config:
        strict = False


def _scanned_reason(row: dict[str, Any]) -> tuple[str, str]:
    return ("checkpoints_scanned",
            f"checkpoints_scanned {row['checkpoints_scanned']!r} exceeds checkpoints_required "
            f"{row['checkpoints_required']!r}")


def _active_to_reason(row: dict[str, Any]) -> tuple[str, str]:
    return "active_to", f"active_to {row['active_to']!r} is before active_from {row['active_from']!r}"


def _timesheets(f: pl.DataFrame) -> pl.DataFrame:
    return f.select(
        pl.col("shift_id").alias("record_id"), "guard_id", "guard_name", "site_id", "service_type",
        timestamp_expr("check_in").alias("check_in_at"), timestamp_expr("check_out").alias("check_out_at"),
        timestamp_expr("scheduled_start").alias("scheduled_start_at"),
        timestamp_expr("scheduled_end").alias("scheduled_end_at"),
        "post", pl.lit(None, pl.Utf8).alias("vendor_ref"), "extra", "source_line",
    )


def _incidents(f: pl.DataFrame) -> pl.DataFrame:
    return f.select(
        pl.col("incident_id").alias("record_id"), "site_id", "classification",
        timestamp_expr("response_started_at").alias("response_started_at"),
        timestamp_expr("response_ended_at").alias("response_ended_at"),
        "responder_guard_id", timestamp_expr("opened_at").alias("opened_at"), "description", "source_ref",
        pl.lit(None, pl.Utf8).alias("vendor_ref"), "extra", "source_line",
    )


def _patrols(f: pl.DataFrame) -> pl.DataFrame:
    return f.select(
        pl.col("tour_id").alias("record_id"), "site_id", "guard_id",
        timestamp_expr("started_at").alias("started_at"), timestamp_expr("completed_at").alias("completed_at"),
        int_expr("checkpoints_required").alias("checkpoints_required"),
        int_expr("checkpoints_scanned").alias("checkpoints_scanned"),
        pl.lit(None, pl.Utf8).alias("vendor_ref"), "extra", "source_line",
    )


def _devices(f: pl.DataFrame) -> pl.DataFrame:
    return f.select(
        pl.col("device_id").alias("record_id"), "site_id", "device_type",
        date_expr("active_from").alias("active_from"), date_expr("active_to").alias("active_to"),
        "vendor_ref", "extra", "source_line",
    )


KINDS: dict[str, CsvKind] = {
    "timesheets": CsvKind(
        "timesheets", "timesheets", "shift_id",
        ("shift_id", "guard_id", "site_id", "service_type", "check_in", "check_out"),
        ("guard_name", "scheduled_start", "scheduled_end", "post"),
        TimesheetRow, _timesheets),
    "incidents": CsvKind(
        "incidents", "incidents", "incident_id",
        ("incident_id", "site_id", "classification", "response_started_at", "response_ended_at"),
        ("responder_guard_id", "opened_at", "description", "source_ref"),
        IncidentRow, _incidents),
    "patrols": CsvKind(
        "patrols", "patrols", "tour_id",
        ("tour_id", "site_id", "guard_id", "started_at", "checkpoints_required", "checkpoints_scanned"),
        ("completed_at",),
        PatrolRow, _patrols, {"scanned_within_required": _scanned_reason}),
    "devices": CsvKind(
        "devices", "devices", "device_id",
        ("device_id", "site_id", "device_type", "active_from"),
        ("active_to", "vendor_ref"),
        DeviceRow, _devices, {"active_to_not_before_from": _active_to_reason}),
    # payments received outside the provider (interfaces.md section 2a): connectors/inbox/payments.py
    "payments": payments.KIND,
}


def parse_records(path: Path, kind: str | CsvKind, source: str | None = None) -> ParseResult:
    """One generic CSV -> ParseResult. Pure: reads the file, touches nothing else.

    `kind` is `timesheets`, `incidents`, `patrols` or `devices` (or a CsvKind); `source`
    overrides the source name, for a vendor folder that delivers a generic format."""
    spec = KINDS[kind] if isinstance(kind, str) else kind
    if source and source != spec.source:
        spec = dataclasses.replace(spec, source=source)
    path = Path(path)
    delivered = read_records(path, spec)
    accepted, refused = validate(delivered, spec)
    rows = spec.to_canonical(accepted).with_columns(pl.lit(str(path), pl.Utf8).alias("source_file"))
    rows = rows.select(CANONICAL_COLUMNS[spec.table] + ["source_file", "source_line"])
    rows = with_content_hash(rows, spec.table)
    return ParseResult(source=spec.source, table=spec.table, rows=rows, quarantined=refused,
                       files=[delivered.file])


def parse_timesheets(path: Path) -> ParseResult:
    return parse_records(path, "timesheets")


def parse_incidents(path: Path) -> ParseResult:
    return parse_records(path, "incidents")


def parse_patrols(path: Path) -> ParseResult:
    return parse_records(path, "patrols")


def parse_devices(path: Path) -> ParseResult:
    return parse_records(path, "devices")
