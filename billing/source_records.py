"""The records a finding's evidence names (`<source>:<record_id>`), as the raw tables keep
them: every delivered version, with the file and line it came from. Evidence refs that name
no record (`contracts:<client>`, `cycle:<contract>/<day>`) are not looked up."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import psycopg2.extras

# raw table -> what its records are, in words
RECORD_KINDS = {
    "timesheets": "shift",
    "incidents": "incident",
    "patrols": "patrol tour",
    "devices": "device",
    "device_events": "device event",
}
PSEUDO_SOURCES = ("contracts", "cycle")
HIDDEN_COLUMNS = {"content_hash"}
# Only text formats whose line numbers are lines; vendor JSON counts records instead.
LINE_FILES = (".csv", ".txt", ".jsonl", ".tsv")
MAX_LINE = 4000


def split_ref(ref: str) -> tuple[str, str]:
    source, _, record_id = ref.partition(":")
    return source, record_id


def is_record_ref(ref: str) -> bool:
    source, record_id = split_ref(ref)
    return bool(record_id) and source not in PSEUDO_SOURCES


def versions(conn, refs: Iterable[str]) -> dict[str, list[dict]]:
    """ref -> its delivered versions, oldest first, each with `table`, `kind`, `source_file`,
    `source_line`, `ingested_at` and `fields` (every other column as delivered)."""
    wanted = sorted({ref for ref in refs if is_record_ref(ref)})
    out: dict[str, list[dict]] = {ref: [] for ref in wanted}
    if not wanted:
        return out
    parts = [
        f"""select '{table}' as table_name, source || ':' || record_id as ref, source_file, source_line, ingested_at,
                   to_jsonb(t) as fields
            from raw.{table} t
            where (source, record_id) in (select * from unnest(%(sources)s::text[], %(ids)s::text[]))"""
        for table in RECORD_KINDS
    ]
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(" union all ".join(parts) + " order by ref, ingested_at, source_file, source_line",
                    {"sources": [split_ref(ref)[0] for ref in wanted], "ids": [split_ref(ref)[1] for ref in wanted]})
        for row in cur.fetchall():
            fields = {k: v for k, v in row["fields"].items()
                      if k not in HIDDEN_COLUMNS | {"source_file", "source_line", "ingested_at"}}
            out[row["ref"]].append({"table": row["table_name"], "kind": RECORD_KINDS[row["table_name"]],
                                    "source_file": row["source_file"], "source_line": row["source_line"],
                                    "ingested_at": row["ingested_at"], "fields": fields})
    return out


def subjects(conn, refs: Iterable[str]) -> dict[str, dict]:
    """ref -> the latest version's guard and incident classification (what the queue groups by)."""
    out = {}
    for ref, found in versions(conn, refs).items():
        if not found:
            continue
        fields = found[-1]["fields"]
        out[ref] = {"guard_id": fields.get("guard_id") or fields.get("responder_guard_id"),
                    "classification": fields.get("classification")}
    return out


def source_line(path: str, line: int | None) -> str | None:
    """The delivered line itself, when the file is still there and its lines are records."""
    if line is None or not path.lower().endswith(LINE_FILES):
        return None
    file = Path(path)
    try:
        with file.open(encoding="utf-8", errors="replace") as handle:
            for number, text in enumerate(handle, start=1):
                if number == line:
                    return text.rstrip("\r\n")[:MAX_LINE]
    except OSError:
        return None
    return None
