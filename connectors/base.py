"""What every connector returns, whatever the source: canonical rows for one raw table
and the records it refused, each with file, line, field and reason; and what every
connector reads the same way: CSV records with their physical lines, a whole file refused."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl

# Canonical columns per raw table (besides source, source_file, source_line, content_hash).
# Optional ones may be null. `extra` holds a source's columns we keep but do not use.
CANONICAL_COLUMNS: dict[str, list[str]] = {
    "timesheets": [
        "record_id", "guard_id", "guard_name", "site_id", "service_type", "check_in_at",
        "check_out_at", "scheduled_start_at", "scheduled_end_at", "post", "vendor_ref", "extra",
    ],
    "incidents": [
        "record_id", "site_id", "classification", "response_started_at", "response_ended_at",
        "responder_guard_id", "opened_at", "description", "source_ref", "vendor_ref", "extra",
    ],
    "patrols": [
        "record_id", "site_id", "guard_id", "started_at", "completed_at", "checkpoints_required",
        "checkpoints_scanned", "vendor_ref", "extra",
    ],
    "devices": ["record_id", "site_id", "device_type", "active_from", "active_to", "vendor_ref", "extra"],
    "device_events": [
        "record_id", "site_id", "device_id", "event_type", "occurred_at", "incident_ref", "vendor_ref", "extra",
    ],
}
CONTENT_HEAD = 4000  # characters of a refused file kept in raw.quarantine.content
# Service types, classifications and device types are matched against contract keys
# verbatim, so they must already be codes; "Armed Guard" would silently find no rate.
CODE_RE = r"^[a-z][a-z0-9_]*$"


@dataclass(frozen=True)
class Quarantined:
    """A refused record. `line` is the physical line in the file (header = line 1) or,
    for JSON sources, the 1-based position of the record; `content` is the record as
    delivered, so finance can see exactly what came in."""

    source: str
    file_path: str
    line: int | None
    record_id: str | None
    field: str | None
    reason: str
    content: str

    @property
    def content_hash(self) -> str:
        return sha256_text(self.content)

    def message(self) -> str:
        where = f"{self.file_path}:{self.line}" if self.line is not None else self.file_path
        what = f" field {self.field!r}" if self.field else ""
        return f"{where}{what}: {self.reason}"


@dataclass
class FileRead:
    """One delivered file, for raw.ingested_files: what was read from it. Optional on a
    ParseResult; without it the store derives files from `source_file` / `file_path`."""

    source: str
    path: str
    sha256: str
    rows_read: int


@dataclass
class ParseResult:
    """Accepted rows for one raw table plus what was refused on the way.

    `rows` has the table's CANONICAL_COLUMNS (timestamps as UTC-aware Datetime, dates as
    Date) plus `source_file` and `source_line`, optionally `content_hash` (computed by the
    store when absent); `source` is the inbox folder name. `contract_documents` and
    `tax_rates` results carry those tables' columns instead (see connectors/inbox)."""

    source: str
    table: str
    rows: pl.DataFrame
    quarantined: list[Quarantined] = field(default_factory=list)
    files: list[FileRead] = field(default_factory=list)


def file_refusal(source: str, path: str, text: str, digest: str, reason: str,
                 line: int | None = None) -> Quarantined:
    """A whole file refused as one quarantine row. The content names the file's digest so
    two different broken files are two rows, and the same file again is none."""
    return Quarantined(source, path, line, None, None, reason, f"sha256:{digest}\n{text[:CONTENT_HEAD]}")


def csv_records(reader: Any, on_error: Callable[[int, csv.Error], None] | None = None) -> Iterator[
        tuple[int, list[str]]]:
    """The non-blank records a csv.reader has left, each with the physical line it starts on
    (a quoted field may span lines, so neither a record's index nor the reader's line count
    after it is that line). A record the csv module cannot read goes to `on_error(line, error)`
    and reading goes on; without `on_error` the error is raised."""
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if on_error is None:
                raise
            on_error(start, exc)
            continue
        if any(value.strip() for value in values):
            yield start, values


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(record: dict[str, Any]) -> str:
    """Hash of a record's canonical content (never of its file or line), so the same
    record delivered again in another file is recognised."""
    return sha256_text(json.dumps(record, sort_keys=True, default=str, separators=(",", ":")))


def with_content_hash(rows: pl.DataFrame, table: str) -> pl.DataFrame:
    """Add `content_hash` over each row's CANONICAL_COLUMNS, vectorised: polars writes the
    canonical JSON (keys sorted, instants as ISO UTC), Python only runs sha256. It is not
    byte-equal to `content_hash(dict)`; any one source must keep using one of the two."""
    exprs = []
    for column in sorted(CANONICAL_COLUMNS[table]):
        dtype = rows.schema[column]
        if isinstance(dtype, pl.Datetime):
            exprs.append(pl.col(column).dt.to_string("%Y-%m-%dT%H:%M:%S%.6f%:z"))
        elif dtype == pl.Date:
            exprs.append(pl.col(column).dt.to_string("%Y-%m-%d"))
        else:
            exprs.append(pl.col(column))
    encoded = rows.select(pl.struct(exprs).struct.json_encode().alias("j"))["j"]
    hashes = [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in encoded]
    return rows.with_columns(pl.Series("content_hash", hashes, dtype=pl.Utf8))
