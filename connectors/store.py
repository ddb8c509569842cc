"""ParseResults -> raw.* in one transaction. Records go in through COPY into a temporary
table and one `insert ... on conflict do nothing`, so a million-row file is one round
trip and re-delivery stores nothing new: the unique keys of 0001_raw.sql decide what is
new, never this code."""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from psycopg2.extras import execute_values

from connectors.base import CANONICAL_COLUMNS, FileRead, ParseResult, Quarantined, with_content_hash

RECORD_TABLES = tuple(CANONICAL_COLUMNS)


@dataclass
class StoreOutcome:
    """What one store() call added: accepted rows per source and per table, quarantine
    rows per source."""

    ingested: Counter = field(default_factory=Counter)
    quarantined: Counter = field(default_factory=Counter)
    tables: Counter = field(default_factory=Counter)


def store(conn, results: list[ParseResult]) -> dict[str, int]:
    """Store `results` and commit; returns newly stored accepted rows per source."""
    return dict(store_results(conn, results).ingested)


def store_results(conn, results: list[ParseResult]) -> StoreOutcome:
    outcome = StoreOutcome()
    with conn, conn.cursor() as cur:
        for result in results:
            outcome.ingested[result.source] += 0
            if result.table in RECORD_TABLES:
                new = _copy_records(cur, result)
            elif result.table == "contract_documents":
                new = _insert_contracts(cur, result)
            elif result.table == "tax_rates":
                new = _insert_tax(cur, result)
            elif result.table == "company_documents":
                new = _insert_company(cur, result)
            else:
                raise ValueError(f"no raw table {result.table!r}")
            outcome.ingested[result.source] += new
            outcome.tables[result.table] += new
            refused = _insert_quarantine(cur, result.quarantined)
            for source, n in refused.items():
                outcome.quarantined[source] += n
                outcome.tables["quarantine"] += n
            _insert_files(cur, result)
    return outcome


def _copy_records(cur, result: ParseResult) -> int:
    rows = result.rows
    if rows.height == 0:
        return 0
    if "content_hash" not in rows.columns:
        rows = with_content_hash(rows, result.table)
    columns = ["source"] + CANONICAL_COLUMNS[result.table] + ["source_file", "source_line", "content_hash"]
    frame = rows.with_columns(pl.lit(result.source, pl.Utf8).alias("source"))
    if frame.schema.get("extra") not in (pl.Utf8, pl.Null, None):  # a dict/struct column: keep it as JSON
        frame = frame.with_columns(pl.col("extra").struct.json_encode())
    buffer = io.BytesIO()
    frame.select(columns).write_csv(buffer, include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.f%:z")
    buffer.seek(0)
    stage = f"_stage_{result.table}"
    names = ", ".join(columns)
    cur.execute(f"drop table if exists pg_temp.{stage}")
    cur.execute(f"create temp table {stage} as select {names} from raw.{result.table} limit 0")
    cur.copy_expert(f"copy {stage} ({names}) from stdin with (format csv)", buffer)
    cur.execute(f"insert into raw.{result.table} ({names}) select {names} from {stage} on conflict do nothing")
    new = cur.rowcount
    cur.execute(f"drop table {stage}")
    return new


def _insert_contracts(cur, result: ParseResult) -> int:
    rows = [(r["client_id"], result.source, r["source_file"], r["content_hash"], r["document"])
            for r in result.rows.iter_rows(named=True)]
    if not rows:
        return 0
    # one statement per document so a batch holding two versions keeps their order
    new = 0
    for row in rows:
        cur.execute(
            """insert into raw.contract_documents (client_id, source, source_file, content_hash, document)
               values (%s, %s, %s, %s, %s::jsonb) on conflict (client_id, content_hash) do nothing""",
            row,
        )
        new += cur.rowcount
    return new


def _insert_company(cur, result: ParseResult) -> int:
    """A new company document, or an earlier version delivered again (A, B, then A): that
    one becomes the newest again, so the file last delivered is the one in force."""
    new = 0
    for row in result.rows.iter_rows(named=True):
        cur.execute(
            """insert into raw.company_documents (source, source_file, content_hash, document, logo, logo_media_type)
               values (%s, %s, %s, %s::jsonb, %s, %s)
               on conflict (content_hash) do update set ingested_at = now(), source_file = excluded.source_file
               where company_documents.document_id <> (
                   select document_id from raw.company_documents
                   order by ingested_at desc, document_id desc limit 1)""",
            (result.source, row["source_file"], row["content_hash"], row["document"], row["logo"],
             row["logo_media_type"]),
        )
        new += cur.rowcount
    return new


def _insert_tax(cur, result: ParseResult) -> int:
    rows = [(result.source, r["jurisdiction_code"], r["rate"], list(r["taxable_categories"]), r["name"],
             r["source_file"], r["source_line"], r["file_sha256"], r["content_hash"])
            for r in result.rows.iter_rows(named=True)]
    if not rows:
        return 0
    inserted = execute_values(
        cur,
        """insert into raw.tax_rates (source, jurisdiction_code, rate, taxable_categories, name, source_file,
                                      source_line, file_sha256, content_hash)
           values %s on conflict (file_sha256, content_hash) do nothing returning 1""",
        rows, template="(%s, %s, %s::numeric, %s::text[], %s, %s, %s, %s, %s)", fetch=True,
    )
    return len(inserted)


def _insert_quarantine(cur, refused: list[Quarantined]) -> Counter:
    counts: Counter = Counter()
    if not refused:
        return counts
    inserted = execute_values(
        cur,
        """insert into raw.quarantine (source, file_path, line, record_id, field, reason, content, content_hash)
           values %s on conflict (source, content_hash) do nothing returning source""",
        [(q.source, q.file_path, q.line, q.record_id, q.field, q.reason, q.content, q.content_hash)
         for q in refused],
        page_size=5000, fetch=True,
    )
    counts.update(source for (source,) in inserted)
    return counts


def _files_of(result: ParseResult) -> list[FileRead]:
    """Files a result came from; a connector that did not list them gets them derived
    from the rows (a path that is not a local file, e.g. an API page, is hashed by what
    was read from it)."""
    if result.files:
        return result.files
    paths: dict[str, list[str]] = {}
    if result.rows.height and "source_file" in result.rows.columns:
        hashes = (result.rows["content_hash"].to_list() if "content_hash" in result.rows.columns
                  else [""] * result.rows.height)
        for path, digest in zip(result.rows["source_file"].to_list(), hashes, strict=True):
            paths.setdefault(path, []).append(digest)
    for q in result.quarantined:
        paths.setdefault(q.file_path, []).append(q.content_hash)
    files = []
    for path, digests in paths.items():
        local = Path(path)
        if local.is_file():
            digest = hashlib.sha256(local.read_bytes()).hexdigest()
        else:
            digest = hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest()
        files.append(FileRead(result.source, path, digest, len(digests)))
    return files


def _insert_files(cur, result: ParseResult) -> None:
    files = _files_of(result)
    if not files:
        return
    accepted: Counter = Counter()
    if result.rows.height and "source_file" in result.rows.columns:
        accepted.update(result.rows["source_file"].to_list())
    refused = Counter(q.file_path for q in result.quarantined)
    execute_values(
        cur,
        """insert into raw.ingested_files (source, file_path, file_sha256, rows_read, rows_ingested,
                                           rows_quarantined)
           values %s on conflict (source, file_path, file_sha256) do nothing""",
        [(f.source, f.path, f.sha256, max(f.rows_read, accepted[f.path] + refused[f.path]), accepted[f.path],
          refused[f.path]) for f in files],
    )
