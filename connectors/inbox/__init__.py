"""The inbox (interfaces.md section 2) -> raw.*: generic folders parsed here, vendor folders
by `connectors.<folder>.parser.parse_folder`, everything stored by connectors.store.

Plain Python, no Dagster: orchestration calls `ingest_inbox` and reports what it returns.
Parsing is a pure function per file (`parse_file`), so vendor connectors and tests reuse
it without a database.

Ingest once (issue 14): a file whose path and content are the version last ingested at that
path is skipped without being parsed (raw.ingested_files; an unchanged size and modification
time spare the hash), so a day's run costs what the day delivered, not the whole inbox. A file
changed less than `settle_seconds` ago may still be written and waits for a later run. A
vendor folder with nothing new is not read; one whose new files its connector can parse alone
(`independent_file` in its parser module) reads those and the folder's context files only.
Processed record exports can be moved to an archive folder."""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import shutil
import time
import traceback
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from psycopg2.extras import execute_values

from connectors.base import ParseResult, Quarantined
from connectors.inbox.company import FILE_NAMES as COMPANY_FILES
from connectors.inbox.company import parse_company
from connectors.inbox.contracts import parse_contract, parse_contracts
from connectors.inbox.records import KINDS, parse_records
from connectors.inbox.tax import parse_tax
from connectors.store import store_results

__all__ = ["GENERIC_FOLDERS", "IngestReport", "InboxFile", "ingest_inbox", "list_inbox", "parse_file", "raw_counts",
           "parse_inbox"]

log = logging.getLogger(__name__)

GENERIC_FOLDERS = ("contracts", "tax", "timesheets", "incidents", "patrols", "devices", "payments")
RECORD_TABLES = ("timesheets", "incidents", "patrols", "devices", "device_events", "payments_received")
# Record exports: once ingested, raw keeps everything they held, so they may be archived.
# Contracts, tax, the company file and its logo stay: they are the documents in force.
ARCHIVED_FOLDERS = RECORD_FOLDERS = ("timesheets", "incidents", "patrols", "devices", "payments")


@dataclass
class IngestReport:
    """What one ingest added (new rows only) and everything it refused on the way
    (including refusals already quarantined by an earlier run)."""

    ingested: dict[str, int] = field(default_factory=dict)      # source -> new accepted rows
    quarantined: dict[str, int] = field(default_factory=dict)   # source -> new quarantine rows
    tables: dict[str, int] = field(default_factory=dict)        # raw table -> new rows
    refused: list[Quarantined] = field(default_factory=list)
    files: int = 0
    skipped: int = 0                                            # files ingested before, not read
    waiting: list[str] = field(default_factory=list)            # changed too recently to be read yet
    archived: int = 0

    def new_rows(self, table: str) -> int:
        return self.tables.get(table, 0)

    def quarantined_records(self) -> list[Quarantined]:
        return list(self.refused)

    def summary(self) -> str:
        def fmt(counts: dict[str, int]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"

        waiting = f"; waiting to settle: {len(self.waiting)}" if self.waiting else ""
        archived = f"; archived: {self.archived}" if self.archived else ""
        return (f"{self.files} file(s) read, {self.skipped} already ingested{waiting}{archived}; "
                f"new records: {fmt(self.ingested)}; newly quarantined: {fmt(self.quarantined)}; "
                f"refused this batch: {len(self.refused)}")

    def as_dict(self) -> dict:
        return {"ingested": dict(self.ingested), "quarantined": dict(self.quarantined)}


@dataclass(frozen=True)
class InboxFile:
    """A file in the inbox: its path relative to the inbox, size, modification time, and the
    time of its last change of any kind (content or metadata, e.g. a copy that restores an
    old modification time): how long it has been left alone."""

    rel: str
    path: Path
    size: int
    mtime_ns: int
    changed_at: float

    def settled(self, now: float, settle_seconds: float) -> bool:
        return now - self.changed_at >= settle_seconds


def list_inbox(inbox_dir: Path) -> list[InboxFile]:
    """Every file under the inbox (hidden files and folders aside), in path order."""
    inbox_dir = Path(inbox_dir)
    if not inbox_dir.is_dir():
        return []
    found = []
    for root, folders, names in os.walk(inbox_dir):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            path = Path(root) / name
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed while listed
                continue
            if not path.is_file():
                continue
            found.append(InboxFile(path.relative_to(inbox_dir).as_posix(), path, stat.st_size, stat.st_mtime_ns,
                                   max(stat.st_mtime, stat.st_ctime)))
    return found


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def _vendor_module(name: str):
    """The parser module of a vendor folder (one with `parse_folder`), or None."""
    module_name = name.lower().replace("-", "_")
    for candidate in (f"connectors.{module_name}.parser", f"connectors.{module_name}"):
        try:
            module = importlib.import_module(candidate)
        except ModuleNotFoundError as exc:
            if exc.name and candidate.startswith(exc.name):
                continue
            raise
        if hasattr(module, "parse_folder"):
            return module
    return None


def _parse_vendor_folder(module, folder: Path, new: list[Path] | None) -> list[ParseResult]:
    """A vendor folder: the files named when its connector can parse a file alone (the
    module's `independent_file`: it reads its context files, e.g. the site map, whatever is
    named), else the whole folder (its files explain each other)."""
    if new is not None and getattr(module, "independent_file", None) is not None:
        return module.parse_folder(folder, only=set(new))
    return module.parse_folder(folder)


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
    """Parse every folder present (all of them, or the files `only_files` names, paths
    relative to the inbox). A vendor folder is parsed whole, its files explain each other
    (site maps, device lists), unless each of its files named can be parsed alone
    (`_parse_vendor_folder`). `in_force` is the client -> contract document in force."""
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
        new = None if wanted is None else [inbox_dir / w for w in sorted(wanted) if w.startswith(folder.name + "/")]
        if new is not None and not new:
            continue
        module = _vendor_module(folder.name)
        if module is None:
            results.append(_unreadable_folder(folder, f"no connector for inbox folder {folder.name!r}"))
            continue
        try:
            results.extend(_parse_vendor_folder(module, folder, new))
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


def _ingested_versions(conn, paths: list[str]) -> dict[str, tuple[str, int | None, int | None]]:
    """file path -> (sha256, size, mtime_ns) of the version last ingested at that path."""
    if not paths:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            """select distinct on (file_path) file_path, file_sha256, file_size, file_mtime_ns
               from raw.ingested_files where file_path = any(%s)
               order by file_path, last_ingested_at desc""",
            (paths,),
        )
        rows = cur.fetchall()
    conn.commit()
    return {path: (sha, size, mtime) for path, sha, size, mtime in rows}


def _sort_new(conn, inbox_dir: Path, files: list[InboxFile]) -> tuple[list[InboxFile], dict[str, str],
                                                                       list[tuple[InboxFile, str]]]:
    """(new or changed files, their sha256 by path, unchanged files whose stamp moved)."""
    known = _ingested_versions(conn, [str(inbox_dir / f.rel) for f in files])
    new, hashes, touched = [], {}, []
    for f in files:
        key = str(inbox_dir / f.rel)
        last = known.get(key)
        if last is not None and (last[1], last[2]) == (f.size, f.mtime_ns):
            continue
        digest = file_sha256(f.path)
        if last is not None and last[0] == digest:
            touched.append((f, digest))
            continue
        new.append(f)
        hashes[key] = digest
    return new, hashes, touched


def _record_files(conn, inbox_dir: Path, read: list[InboxFile], hashes: dict[str, str],
                  touched: list[tuple[InboxFile, str]]) -> None:
    """Every file read is recorded as ingested in the version read (a context file a
    connector did not list, e.g. a vendor's site map, with no rows), with the size and
    modification time seen, so the next run passes it by without hashing."""
    stamped = [(str(inbox_dir / f.rel), hashes[str(inbox_dir / f.rel)], f.size, f.mtime_ns, f.rel.split("/")[0]
                if "/" in f.rel else "company") for f in read]
    stamped += [(str(inbox_dir / f.rel), digest, f.size, f.mtime_ns, None) for f, digest in touched]
    if not stamped:
        return
    with conn, conn.cursor() as cur:
        execute_values(
            cur,
            """insert into raw.ingested_files (source, file_path, file_sha256, rows_read, rows_ingested,
                                               rows_quarantined, file_size, file_mtime_ns)
               select source, path, sha, 0, 0, 0, size, mtime from (values %s) as seen (path, sha, size, mtime, source)
               where source is not null and not exists (
                   select 1 from raw.ingested_files f where f.file_path = seen.path and f.file_sha256 = seen.sha)""",
            stamped, template="(%s, %s, %s::bigint, %s::bigint, %s)",
        )
        execute_values(
            cur,
            """update raw.ingested_files f set file_size = seen.size, file_mtime_ns = seen.mtime,
                   last_ingested_at = case when seen.source is null then f.last_ingested_at else now() end
               from (values %s) as seen (path, sha, size, mtime, source)
               where f.file_path = seen.path and f.file_sha256 = seen.sha""",
            stamped, template="(%s, %s, %s::bigint, %s::bigint, %s)",
        )


def _archive(inbox_dir: Path, archive_dir: Path, files: list[InboxFile], independent) -> int:
    """Move ingested record exports to `archive_dir/<date>/<path in the inbox>` (a later file of
    the same name and day keeps both, its hash in the name). Documents in force (contracts,
    tax, company file) and the vendor files a folder needs to read new ones stay."""
    day = datetime.now(UTC).date().isoformat()
    moved = 0
    for f in files:
        folder = f.rel.split("/")[0] if "/" in f.rel else ""
        if folder in ARCHIVED_FOLDERS or (folder and folder not in GENERIC_FOLDERS and independent(folder, f.path)):
            target = Path(archive_dir) / day / f.rel
            if target.exists():
                target = target.with_name(f"{target.stem}.{file_sha256(f.path)[:12]}{target.suffix}")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(f.path), str(target))
            moved += 1
    return moved


def _independent_vendor_file(folder: str, path: Path) -> bool:
    module = _vendor_module(folder)
    independent = getattr(module, "independent_file", None) if module is not None else None
    return bool(independent and independent(path))


# Files parsed and stored together at most (a cold start reads months of exports: in batches,
# memory stays bounded and each batch is committed, so an interrupted ingest resumes).
BATCH_BYTES = 32 * 2**20


def _batches(new: list[InboxFile], every: list[InboxFile]) -> list[list[str]]:
    """The files each batch parses (paths in the inbox). The first holds every file that may
    depend on another (root files, contracts, tax, the files of a vendor folder whose files
    explain each other, a vendor's new context files); record exports and vendor files a
    connector parses alone follow, in batches of about BATCH_BYTES. A vendor's new context
    file (its site map) changes how all its exports read: they are all read again."""
    first, alone = [], []
    new_by_folder: dict[str, list[InboxFile]] = {}
    for f in new:
        new_by_folder.setdefault(f.rel.split("/")[0] if "/" in f.rel else "", []).append(f)
    for folder, files in new_by_folder.items():
        if folder in RECORD_FOLDERS:
            alone += files
            continue
        module = _vendor_module(folder) if folder and folder not in GENERIC_FOLDERS else None
        independent = getattr(module, "independent_file", None) if module is not None else None
        if independent is None:
            first += files
            continue
        context = [f for f in files if not independent(f.path)]
        first += context
        rereads = every if context else files
        alone += [f for f in rereads if f.rel.startswith(folder + "/") and independent(f.path)]
    batches = [[f.rel for f in first]] if first else []
    size = BATCH_BYTES
    for f in alone:
        if size + f.size > BATCH_BYTES and size > 0:
            batches.append([])
            size = 0
        batches[-1].append(f.rel)
        size += f.size
    return batches


def ingest_inbox(conn, inbox_dir: Path, only_files: Iterable[str] | None = None, settle_seconds: float = 0,
                 archive_dir: Path | None = None) -> IngestReport:
    """Parse and store what the inbox holds that was not ingested yet. Idempotent: the same
    inbox again reads nothing. `only_files` (paths relative to the inbox) narrows what is
    looked at; a file changed less than `settle_seconds` ago waits; with `archive_dir`,
    record exports read by this run are moved there once stored."""
    inbox_dir = Path(inbox_dir)
    wanted = {Path(f).as_posix() for f in only_files} if only_files else None
    files = [f for f in list_inbox(inbox_dir) if wanted is None or f.rel in wanted]
    now = time.time()
    waiting = [f.rel for f in files if not f.settled(now, settle_seconds)]
    settled = [f for f in files if f.settled(now, settle_seconds)]
    new, hashes, touched = _sort_new(conn, inbox_dir, settled)
    report = IngestReport(skipped=len(settled) - len(new), waiting=waiting)
    ingested: Counter = Counter()
    quarantined: Counter = Counter()
    tables: Counter = Counter()
    by_rel = {f.rel: f for f in settled}
    for batch in _batches(new, settled):
        results = parse_inbox(inbox_dir, batch, contracts_in_force(conn))
        outcome = store_results(conn, results)
        ingested.update(outcome.ingested)
        quarantined.update(outcome.quarantined)
        tables.update(outcome.tables)
        report.refused += [q for r in results for q in r.quarantined]
        del results
        _record_files(conn, inbox_dir, [by_rel[rel] for rel in batch if str(inbox_dir / rel) in hashes], hashes, [])
    report.files = len(new)
    report.ingested, report.quarantined, report.tables = dict(ingested), dict(quarantined), dict(tables)
    _record_files(conn, inbox_dir, [], hashes, touched)
    if archive_dir is not None and new:
        report.archived = _archive(inbox_dir, Path(archive_dir), new, _independent_vendor_file)
    return report


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
