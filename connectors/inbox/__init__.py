"""The inbox (interfaces.md section 2) -> raw.*: generic folders parsed here, vendor folders
by `connectors.<folder>.parser.parse_folder`, everything stored by connectors.store.

Plain Python, no Dagster: orchestration calls `ingest_inbox` and reports what it returns.
Parsing is a pure function per file (`parse_file`), so vendor connectors and tests reuse
it without a database."""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import traceback
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from connectors.base import ParseResult, Quarantined
from connectors.inbox.company import FILE_NAMES as COMPANY_FILES
from connectors.inbox.company import parse_company
from connectors.inbox.contracts import parse_contract, parse_contracts
from connectors.inbox.records import KINDS, parse_records
from connectors.inbox.tax import parse_tax
from connectors.store import store_results

__all__ = ["GENERIC_FOLDERS", "IngestReport", "ingest_inbox", "parse_file", "raw_counts", "parse_inbox"]

log = logging.getLogger(__name__)

GENERIC_FOLDERS = ("contracts", "tax", "timesheets", "incidents", "patrols", "devices", "payments")
RECORD_TABLES = ("timesheets", "incidents", "patrols", "devices", "device_events", "payments_received")


@dataclass
class IngestReport:
    """What one ingest added (new rows only) and everything it refused on the way
    (including refusals already quarantined by an earlier run)."""

    ingested: dict[str, int] = field(default_factory=dict)      # source -> new accepted rows
    quarantined: dict[str, int] = field(default_factory=dict)   # source -> new quarantine rows
    tables: dict[str, int] = field(default_factory=dict)        # raw table -> new rows
    refused: list[Quarantined] = field(default_factory=list)
    files: int = 0

    def new_rows(self, table: str) -> int:
        return self.tables.get(table, 0)

    def quarantined_records(self) -> list[Quarantined]:
        return list(self.refused)

    def summary(self) -> str:
        def fmt(counts: dict[str, int]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"

        return (f"{self.files} file(s); new records: {fmt(self.ingested)}; "
                f"newly quarantined: {fmt(self.quarantined)}; refused this batch: {len(self.refused)}")

    def as_dict(self) -> dict:
        return {"ingested": dict(self.ingested), "quarantined": dict(self.quarantined)}


def parse_file(path: Path, kind: str) -> ParseResult:
    """One generic inbox file -> ParseResult, `kind` being its folder name. Pure."""
    if kind == "contracts":
        return parse_contract(path)
    if kind == "tax":
        return parse_tax(path)
    if kind in KINDS:
        return parse_records(path, kind)
    raise ValueError(f"{kind!r} is not a generic inbox folder ({', '.join(GENERIC_FOLDERS)})")


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith("."))


def _vendor_parser(name: str):
    module_name = name.lower().replace("-", "_")
    for candidate in (f"connectors.{module_name}.parser", f"connectors.{module_name}"):
        try:
            module = importlib.import_module(candidate)
        except ModuleNotFoundError as exc:
            if exc.name and candidate.startswith(exc.name):
                continue
            raise
        if hasattr(module, "parse_folder"):
            return module.parse_folder
    return None


def _unreadable_files(source: str, paths: list[Path], reason: str) -> ParseResult:
    """Files nothing here can read: one refusal per file, never silence."""
    import polars as pl

    refused = []
    for path in paths:
        data = path.read_bytes()
        head = data[:4000].decode("utf-8", errors="replace")
        refused.append(Quarantined(source, str(path), None, None, None, reason,
                                   f"sha256:{hashlib.sha256(data).hexdigest()}\n{head}"))
    return ParseResult(source, "device_events", pl.DataFrame(), refused)


def _unreadable_folder(folder: Path, reason: str) -> ParseResult:
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    return _unreadable_files(folder.name, paths, reason)


def parse_inbox(inbox_dir: Path, only_files: Iterable[str] | None = None,
                in_force: dict[str, dict] | None = None) -> list[ParseResult]:
    """Parse every folder present (all of them, or those holding `only_files`, paths
    relative to the inbox). A vendor folder is parsed whole: its files explain each other
    (site maps, device lists). `in_force` is the client -> contract document in force."""
    inbox_dir = Path(inbox_dir)
    wanted = {Path(f).as_posix() for f in only_files} if only_files else None

    def chosen(paths: list[Path]) -> list[Path]:
        return paths if wanted is None else [p for p in paths if p.relative_to(inbox_dir).as_posix() in wanted]

    results: list[ParseResult] = []
    # company.yaml, re-read when any file at the inbox root changes (its logo lives there)
    if wanted is None or any("/" not in name for name in wanted):
        for path in [inbox_dir / name for name in COMPANY_FILES if (inbox_dir / name).is_file()]:
            results.append(parse_company(path, inbox_dir))
    contract_files = chosen(_files(inbox_dir / "contracts", "*.y*ml"))
    if contract_files:
        results.append(parse_contracts(contract_files, in_force))
    for path in chosen(_files(inbox_dir / "tax", "*.csv")):
        results.append(parse_tax(path))
    for kind in KINDS:
        for path in chosen(_files(inbox_dir / kind, "*.csv")):
            results.append(parse_records(path, kind))
    for folder, pattern in (("contracts", "*.y*ml"), ("tax", "*.csv"), *((k, "*.csv") for k in KINDS)):
        expected = set(_files(inbox_dir / folder, pattern))
        stray = [p for p in chosen(_files(inbox_dir / folder, "**/*")) if p not in expected]
        if stray:
            results.append(_unreadable_files(folder, stray, f"unexpected file in {folder}/ (expected {pattern})"))
    folders = sorted(p for p in inbox_dir.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if inbox_dir.is_dir() else []
    for folder in folders:
        if folder.name in GENERIC_FOLDERS:
            continue
        if wanted is not None and not any(w.startswith(folder.name + "/") for w in wanted):
            continue
        parse_folder = _vendor_parser(folder.name)
        if parse_folder is None:
            results.append(_unreadable_folder(folder, f"no connector for inbox folder {folder.name!r}"))
            continue
        try:
            results.extend(parse_folder(folder))
        except Exception as exc:  # one vendor's failure must not stop the rest of the inbox
            log.error("connector %s failed on %s:\n%s", folder.name, folder, traceback.format_exc())
            results.append(_unreadable_folder(folder, f"connector {folder.name} failed: {exc!r}"))
    return results


def contracts_in_force(conn) -> dict[str, dict]:
    """client -> the sites and contracts of its documents in force: the newest of each source
    (the contract file and the CRM keep their own documents; dbt merges them)."""
    with conn.cursor() as cur:
        cur.execute("""select distinct on (client_id, source) client_id, document from raw.contract_documents
                       order by client_id, source, document_id desc""")
        rows = cur.fetchall()
    conn.commit()
    merged: dict[str, dict] = {}
    for client, doc in rows:
        doc = doc if isinstance(doc, dict) else json.loads(doc)
        into = merged.setdefault(client, {"sites": [], "contracts": []})
        for what in ("sites", "contracts"):
            into[what] += [item for item in doc.get(what) or [] if isinstance(item, dict)]
    return merged


def ingest_inbox(conn, inbox_dir: Path, only_files: Iterable[str] | None = None) -> IngestReport:
    """Parse and store the inbox. Idempotent: the same inbox again stores nothing."""
    results = parse_inbox(inbox_dir, only_files, contracts_in_force(conn))
    outcome = store_results(conn, results)
    files = {(f.source, f.path) for r in results for f in r.files}
    return IngestReport(
        ingested=dict(outcome.ingested),
        quarantined=dict(outcome.quarantined),
        tables=dict(outcome.tables),
        refused=[q for r in results for q in r.quarantined],
        files=len(files) or len({q.file_path for r in results for q in r.quarantined}),
    )


def raw_counts(conn) -> dict[str, dict[str, int]]:
    """What raw holds now, by `source`: accepted records (contracts and the company file as
    accepted documents, tax as rate rows) and quarantined ones."""
    parts = [f"select source, count(*) from raw.{t} group by source" for t in RECORD_TABLES]
    parts += ["select source, count(*) from raw.contract_documents group by source",
              "select source, count(*) from raw.company_documents group by source",
              "select source, count(*) from raw.tax_rates group by source"]
    ingested: Counter = Counter()
    with conn.cursor() as cur:
        cur.execute(" union all ".join(parts))
        for source, n in cur.fetchall():
            ingested[source] += n
        cur.execute("select source, count(*) from raw.quarantine group by source")
        quarantined = {source: n for source, n in cur.fetchall()}
    conn.commit()
    return {"ingested": dict(sorted(ingested.items())), "quarantined": dict(sorted(quarantined.items()))}
