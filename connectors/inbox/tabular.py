"""Shared machinery of the generic CSV formats: read a file keeping each record's physical
line, hand pandera a frame of the values as delivered (strings), and turn its failure
cases into one quarantine row per refused record.

Validation runs on strings on purpose: a refused value is reported exactly as it came
(`'2026-10-07T08:00:00'`), and the typed conversion afterwards only ever sees values
pandera accepted."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from connectors.base import CODE_RE, CONTENT_HEAD, FileRead, Quarantined, csv_records, file_refusal

# ISO-8601 instant with an offset or Z; seconds and fraction optional, `T` or one space.
TIMESTAMP_RE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}(:?\d{2})?)$"
LOCAL_TIMESTAMP_RE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$"
DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
WHOLE_NUMBER_RE = r"^\+?\d{1,9}$"
DECIMAL_RE = r"^\d+(\.\d+)?$"


# --- polars expressions shared by checks and typed conversion ------------------------------

def timestamp_expr(column: str) -> pl.Expr:
    """Delivered text -> UTC instant; null when not a valid instant with an offset."""
    text = (
        pl.col(column)
        .str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T")
        .str.replace(r"[Zz]$", "+00:00")
        .str.replace(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})([+-])", "${1}:00${2}")
        .str.replace(r"([+-]\d{2})$", "${1}:00")
    )
    parsed = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us", time_zone="UTC")
    return pl.when(pl.col(column).str.contains(TIMESTAMP_RE)).then(parsed).otherwise(None)


def date_expr(column: str) -> pl.Expr:
    return pl.col(column).str.to_date("%Y-%m-%d", strict=False)


def int_expr(column: str) -> pl.Expr:
    return pl.col(column).str.strip_prefix("+").str.to_integer(strict=False).cast(pl.Int64)


def ok_timestamp(data: Any) -> pl.LazyFrame:
    col = data.key
    return data.lazyframe.select(pl.col(col).is_null() | timestamp_expr(col).is_not_null())


def ok_date(data: Any) -> pl.LazyFrame:
    col = data.key
    return data.lazyframe.select(
        pl.col(col).is_null() | (pl.col(col).str.contains(DATE_RE) & date_expr(col).is_not_null()))


def ok_whole_number(data: Any) -> pl.LazyFrame:
    col = data.key
    return data.lazyframe.select(pl.col(col).is_null() | pl.col(col).str.contains(WHOLE_NUMBER_RE))


def ok_code(data: Any) -> pl.LazyFrame:
    col = data.key
    return data.lazyframe.select(pl.col(col).is_null() | pl.col(col).str.contains(CODE_RE))


# --- reasons ------------------------------------------------------------------------------

def column_reason(column: str, check: str, value: Any) -> str:
    """One sentence per failed column check, naming the field and the value as delivered."""
    shown = repr(value)
    if check == "not_nullable":
        return f"required field {column} is empty"
    if check == "timestamp":
        if isinstance(value, str) and pl.Series([value]).str.contains(LOCAL_TIMESTAMP_RE)[0]:
            return f"{column} {shown} has no UTC offset (ISO-8601 with an offset or Z required)"
        if isinstance(value, str) and pl.Series([value]).str.contains(TIMESTAMP_RE)[0]:
            return f"{column} {shown} is not a valid date and time"
        return f"{column} {shown} is not an ISO-8601 timestamp with an offset"
    if check == "date":
        return f"{column} {shown} is not a date (YYYY-MM-DD)"
    if check == "whole_number":
        return f"{column} {shown} is not a whole number >= 0"
    if check == "code":
        return f"{column} {shown} is not a code (lowercase letters, digits and '_', e.g. 'unarmed')"
    return f"{column} {shown} failed check {check}"


# --- reading ------------------------------------------------------------------------------

@dataclass
class CsvKind:
    """One generic CSV format: its columns, the pandera model of its delivered strings and
    how accepted strings become the raw table's canonical row."""

    source: str
    table: str
    id_column: str | None
    required: tuple[str, ...]
    optional: tuple[str, ...]
    schema: type[pa.DataFrameModel]
    to_canonical: Callable[[pl.DataFrame], pl.DataFrame]
    # dataframe-level check name -> reason built from the delivered row
    row_reasons: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = field(default_factory=dict)
    # column check name -> reason from (column, delivered value), beyond column_reason's
    column_reasons: dict[str, Callable[[str, Any], str]] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


@dataclass
class Delivered:
    """A CSV's records as delivered: string columns, physical lines, the row text for
    quarantine, extra columns as JSON."""

    frame: pl.DataFrame
    refused: list[Quarantined]
    file: FileRead
    names: list[str] = field(default_factory=list)  # header as delivered, for `_raw<i>`

    def content(self, row: dict[str, Any]) -> str:
        """A record as delivered (header -> value), the quarantine's `content`."""
        return json.dumps({n: row[f"_raw{i}"] for i, n in enumerate(self.names)}, ensure_ascii=False,
                          sort_keys=True)


def read_text(path: Path, source: str) -> tuple[str | None, FileRead, Quarantined | None]:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        shown = data[:CONTENT_HEAD].decode("utf-8", errors="replace")
        refusal = file_refusal(source, str(path), shown, digest,
                               f"file is not UTF-8 (byte {exc.start}: {exc.reason})")
        return None, FileRead(source, str(path), digest, 0), refusal
    return text, FileRead(source, str(path), digest, 0), None


def read_records(path: Path, kind: CsvKind) -> Delivered:
    """Every record of a generic CSV as strings (stripped, empty -> null) with its physical
    line. Structural problems (no header, missing required column, wrong field count) are
    refused here; value problems are pandera's."""
    source, file_path = kind.source, str(path)
    text, file, refusal = read_text(path, source)
    empty = pl.DataFrame(schema={c: pl.Utf8 for c in kind.columns} | {"source_line": pl.Int64, "extra": pl.Utf8})
    if text is None:
        return Delivered(empty, [refusal], file)
    if not text.strip():
        return Delivered(empty, [file_refusal(source, file_path, text, file.sha256, "empty file: no header row")],
                         file)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except csv.Error as exc:
        return Delivered(empty, [file_refusal(source, file_path, text, file.sha256,
                                              f"unreadable header: {exc}", 1)], file)
    names = [h.strip() for h in header]
    keys = [n.lower() for n in names]
    duplicates = sorted({k for k in keys if keys.count(k) > 1 and k})
    missing = [c for c in kind.required if c not in keys]
    problem = None
    if duplicates:
        problem = f"duplicate column(s) in header: {', '.join(duplicates)}"
    elif missing:
        problem = (f"missing required column(s): {', '.join(missing)} "
                   f"(required: {', '.join(kind.required)})")
    if problem:
        return Delivered(empty, [file_refusal(source, file_path, text, file.sha256, problem, 1)], file)

    known = {k: i for i, k in enumerate(keys) if k in kind.columns}
    extra_at = sorted((names[i], i) for i, k in enumerate(keys) if k not in kind.columns and k)
    good: list[list[str]] = []
    lines: list[int] = []
    refused: list[Quarantined] = []
    id_at = known.get(kind.id_column) if kind.id_column else None
    width = len(header)

    def unreadable(start: int, exc: csv.Error) -> None:
        refused.append(Quarantined(source, file_path, start, None, None, f"unreadable CSV record: {exc}",
                                   f"{file_path}:{start}"))

    for start, row in csv_records(reader, unreadable):
        if len(row) != width:
            record_id = (row[id_at].strip() or None) if id_at is not None and id_at < len(row) else None
            refused.append(Quarantined(source, file_path, start, record_id, None,
                                       f"expected {width} fields as in the header, got {len(row)}",
                                       json.dumps(row, ensure_ascii=False)))
            continue
        good.append(row)
        lines.append(start)
    file.rows_read = len(good) + len(refused)  # every record read, refused ones too
    # Columns as delivered (`_raw<i>`, kept for quarantine content), then the kind's columns
    # stripped with empty -> null, and extra columns as one JSON object: all vectorised.
    raw = pl.DataFrame([pl.Series(f"_raw{i}", list(col), pl.Utf8) for i, col in enumerate(zip(*good, strict=True))]
                       if good else [pl.Series(f"_raw{i}", [], pl.Utf8) for i in range(width)])
    cleaned = [
        (pl.col(f"_raw{known[c]}").str.strip_chars().replace("", None) if c in known
         else pl.lit(None, pl.Utf8)).alias(c)
        for c in kind.columns
    ]
    extra = (pl.struct([pl.col(f"_raw{i}").alias(n) for n, i in extra_at]).struct.json_encode()
             if extra_at else pl.lit(None, pl.Utf8))
    frame = raw.with_columns(*cleaned, extra.alias("extra"), pl.Series("source_line", lines, pl.Int64))
    return Delivered(frame, refused, file, names)


def validate(delivered: Delivered, kind: CsvKind) -> tuple[pl.DataFrame, list[Quarantined]]:
    """Run the kind's pandera model lazily; every refused record becomes one quarantine
    row naming its first failing field and every reason, so nothing is dropped silently."""
    frame = delivered.frame
    refused = list(delivered.refused)
    try:
        kind.schema.validate(frame, lazy=True)
        return frame, refused
    except SchemaErrors as exc:
        cases = exc.failure_cases
    order = {c: i for i, c in enumerate(kind.columns)}
    problems: dict[int, list[tuple[int, str, str]]] = {}
    unplaced: list[str] = []
    for case in cases.iter_rows(named=True):
        index, column, check = case["index"], case["column"], str(case["check"])
        if index is None:
            unplaced.append(f"{column}: {check} ({case['failure_case']})")
            continue
        if check in kind.row_reasons:
            fld, reason = kind.row_reasons[check](frame.row(int(index), named=True))
            rank = 1000
        else:
            explain = kind.column_reasons.get(check)
            value = case["failure_case"]
            fld = column
            reason = explain(column, value) if explain else column_reason(column, check, value)
            rank = (0 if check == "not_nullable" else 100) + order.get(column, 99)
        problems.setdefault(int(index), []).append((rank, fld, reason))
    if unplaced:  # a frame-wide failure (dtype, missing column) is a bug here, not bad data
        raise RuntimeError(f"{kind.source} schema failed outside any row: {'; '.join(unplaced)}")
    bad = sorted(problems)
    details = frame[bad]
    for index, row in zip(bad, details.iter_rows(named=True), strict=True):
        found = sorted(set(problems[index]))
        refused.append(Quarantined(
            kind.source, delivered.file.path, row["source_line"],
            row.get(kind.id_column) if kind.id_column else None,
            found[0][1], "; ".join(dict.fromkeys(r for _, _, r in found)), delivered.content(row)))
    keep = pl.Series(range(frame.height)).is_in(bad).not_()
    refused.sort(key=lambda q: (q.line is not None, q.line or 0))
    return frame.filter(keep), refused
