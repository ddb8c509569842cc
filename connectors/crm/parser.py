"""CRM export -> one contract document per client account for raw.contract_documents,
source `crm`.

The folder holds CSV exports and/or Salesforce REST query results (connectors/crm/
records.py reads both); each account becomes the CRM's own document for its client:
the client block, its sites, and its monitoring contracts in force. The document is not
merged with the client's contract YAML here: each source keeps its own newest document
and dbt merges them (stg_inbox__contract_documents: the YAML authoritative for the
client block, its sites and every contract pricing guard work; the CRM contributing its
monitoring contracts and the sites the YAML lacks), so the terms in force never depend
on which of the two was ingested last.

The YAML documents next to the folder (`../contracts/*.yaml`) are still read, to refuse
an account whose site or contract id another client owns, or whose contract id is one
the client's YAML uses for a guarding contract (dbt would keep the YAML's, silently
dropping the CRM's). An account is all-or-nothing: any problem refuses it whole, every
problem quarantined with file, line, field and reason, and the client's earlier accepted
CRM document stays in force."""

from __future__ import annotations

from pathlib import Path

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from connectors.base import FileRead, ParseResult, Quarantined, file_refusal, sha256_text
from connectors.crm.mapping import GUARD_KEYS, map_account
from connectors.crm.records import (
    FILES,
    AccountBundle,
    Problem,
    Row,
    bundles_from_tables,
    hubspot_object,
    hubspot_rows,
    is_hubspot_page,
    is_query_result,
    load_json,
    merge_tables,
    query_result_rows,
    read_csv,
)
from connectors.inbox.contracts import canonical_json, read_contract
from connectors.vendor_parsing import read_file

SOURCE = "crm"
TABLE = "contract_documents"
CSV_TABLES = {"accounts.csv": "accounts", "sites.csv": "sites", "contacts.csv": "contacts",
              "contracts.csv": "contracts", "contract_lines.csv": "contract_lines"}


class DocumentSchema(pa.DataFrameModel):
    """What every accepted row meets (the store's contract_documents insert)."""

    client_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    document: str = pa.Field(nullable=False, str_startswith="{")
    source_file: str = pa.Field(nullable=False)
    content_hash: str = pa.Field(nullable=False, str_matches=r"^[0-9a-f]{64}$")

    class Config:
        strict = True


def parse_folder(folder: Path, base_documents: dict[str, dict] | None = None) -> list[ParseResult]:
    """The CRM export in `folder` -> [contract_documents]. `base_documents` (client ->
    accepted YAML document, for the ownership checks) defaults to the inbox's
    `contracts/` folder next to `folder`."""
    folder = Path(folder)
    source = folder.name or SOURCE
    refused: list[Quarantined] = []
    files: list[FileRead] = []
    parts: list[dict[str, list[Row]]] = []
    problems: list[Problem] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        read, text = read_file(path, source)
        files.append(read)
        name = path.name.lower()
        try:
            if name in FILES:
                rows = read_csv(str(path), text, FILES[name])
                parts.append({CSV_TABLES[name]: rows})
                read.rows_read = len(rows)
            elif name.endswith(".json"):
                page = load_json(text)
                if is_query_result(page):
                    parts.append(query_result_rows(str(path), page, problems))
                    read.rows_read = len(page["records"])
                elif is_hubspot_page(page) and hubspot_object(name):
                    parts.append(hubspot_rows(str(path), hubspot_object(name), page, problems))  # type: ignore[arg-type]
                    read.rows_read = len(page["results"])
                else:
                    raise ValueError("not a Salesforce query result (no totalSize and records) nor a HubSpot page "
                                     "(results) named companies, contacts, deals or line_items")
            else:
                raise ValueError(f"unexpected file in {source}/ (expected {', '.join(FILES)} or Salesforce "
                                 f"query results *.json)")
        except ValueError as exc:
            refused.append(file_refusal(source, str(path), text, read.sha256, f"file refused: {exc}",
                                        1 if name.endswith(".csv") else None))
    bundles, orphans = bundles_from_tables(merge_tables(parts))
    refused.extend(quarantine(source, problems + orphans, None))
    if base_documents is None:
        base_documents = load_base_documents(folder.parent / "contracts")
    result = map_bundles(bundles, base_documents, source)
    result.quarantined[:0] = refused
    result.files = files
    return [result]


def load_base_documents(contracts_dir: Path) -> dict[str, dict]:
    """The contracts folder's accepted documents by client (a refused file is the contracts
    connector's to report)."""
    accepted: dict[str, dict] = {}
    if not contracts_dir.is_dir():
        return accepted
    for path in sorted(contracts_dir.glob("*.y*ml")):
        outcome = read_contract(path)
        if outcome.document is not None and outcome.client_id:
            accepted[outcome.client_id] = outcome.document
    return accepted


def map_bundles(bundles: list[AccountBundle], base_documents: dict[str, dict] | None = None,
                source: str = SOURCE) -> ParseResult:
    """Accounts -> accepted CRM documents and refusals."""
    base_documents = base_documents or {}
    refused: list[Quarantined] = []
    mapped: list[tuple[AccountBundle, str, dict]] = []
    for bundle in bundles:
        document, problems = map_account(bundle)
        if document is not None:
            problems = guard_clashes(document, base_documents.get(document["client"]["id"]), bundle)
        if problems:
            refused.extend(quarantine(source, problems, bundle))
        else:
            mapped.append((bundle, document["client"]["id"], document))  # type: ignore[index]
    mapped, clashes = _ownership(mapped, base_documents)
    refused.extend(q for problems, bundle in clashes for q in quarantine(source, problems, bundle))
    rows = []
    for bundle, client_id, document in mapped:
        text = canonical_json(document)
        rows.append({"client_id": client_id, "document": text, "source_file": bundle.account.file,
                     "content_hash": sha256_text(text)})
    frame = pl.DataFrame(rows, schema={"client_id": pl.Utf8, "document": pl.Utf8, "source_file": pl.Utf8,
                                       "content_hash": pl.Utf8})
    try:
        DocumentSchema.validate(frame, lazy=True)
    except SchemaErrors as exc:  # cannot happen for documents built above; never store one that fails
        bad = {int(i) for i in exc.failure_cases["index"].drop_nulls().to_list()}
        for i in sorted(bad):
            bundle = mapped[i][0]
            refused.append(Quarantined(source, bundle.account.file, bundle.account.line, bundle.number, None,
                                       "schema check failed for the mapped document", rows[i]["document"]))
        frame = frame[[i for i in range(len(rows)) if i not in bad]]
    return ParseResult(source=source, table=TABLE, rows=frame, quarantined=refused)


def guard_clashes(crm: dict, base: dict | None, bundle: AccountBundle) -> list[Problem]:
    """A CRM contract whose id the client's YAML uses for a contract pricing guard work:
    dbt keeps the YAML's (it is authoritative for guarding), so the CRM's would vanish."""
    if base is None:
        return []
    guarding = {c.get("id") for c in base.get("contracts") or []
                if isinstance(c, dict) and any(key in c for key in GUARD_KEYS)}
    problems = []
    for contract in crm["contracts"]:
        if contract["id"] in guarding:
            row = next((e.row for e in bundle.contracts if contract["id"] in e.row.keys("ContractNumber")),
                       bundle.account)
            problems.append(Problem(row, "ContractNumber", f"contract {contract['id']} is also in the client's "
                                                           f"contracts YAML, where it prices guard work: the YAML's "
                                                           f"would stay in force and this one be ignored"))
    return problems


def _ownership(mapped: list[tuple[AccountBundle, str, dict]], base: dict[str, dict]):
    """A site or contract id must have one owning client across the YAML documents and the
    CRM ones, or dbt could not map records to a client."""
    owners: dict[tuple[str, str], set[str]] = {}
    for client, doc in [*base.items(), *((c, d) for _, c, d in mapped)]:
        for what in ("site", "contract"):
            for item in doc.get(f"{what}s") or []:
                if isinstance(item, dict) and item.get("id"):
                    owners.setdefault((what, item["id"]), set()).add(client)
    keep, clashes = [], []
    for bundle, client, doc in mapped:
        problems = []
        for what in ("site", "contract"):
            for item in doc.get(f"{what}s") or []:
                others = sorted(owners.get((what, item["id"]), set()) - {client})
                if others:
                    problems.append(Problem(bundle.account, f"{what}s.id", f"{what} id {item['id']!r} also belongs "
                                                                           f"to client {', '.join(others)}"))
        if problems:
            clashes.append((problems, bundle))
        else:
            keep.append((bundle, client, doc))
    return keep, clashes


def quarantine(source: str, problems: list[Problem], bundle: AccountBundle | None) -> list[Quarantined]:
    """One quarantine row per refused input row (the store keeps one row per content): its
    first problem names the field, the reason lists them all."""
    grouped: dict[tuple[str, int, str], list[Problem]] = {}
    for problem in problems:
        grouped.setdefault((problem.row.file, problem.row.line, problem.row.prefix), []).append(problem)
    suffix = ""
    if bundle is not None:
        suffix = (f" (account {bundle.number or '?'}, client {bundle.account.get('ExternalId') or '?'}, refused "
                  f"whole: its earlier accepted document stays in force)")
    out = []
    for group in grouped.values():
        first, row = group[0], group[0].row
        record_id = row.get("ContractNumber") or row.get("AccountNumber") or row.get("SiteId") or \
            row.get("Id") or None
        fld = f"{row.prefix}{first.field}" if first.field else (row.prefix.rstrip(".") or None)
        reason = "; ".join(dict.fromkeys(p.reason for p in group))
        out.append(Quarantined(source, row.file, row.line, record_id, fld, f"{reason}{suffix}", row.content()))
    return out

