"""CRM export -> one contract document per client for raw.contract_documents.

The export (research 7c/7e: Salesforce `Contract` fields plus SedonaOffice
`CustomerRecurring` lines) is five CSVs: `accounts.csv`, `sites.csv`, `contacts.csv`,
`contracts.csv`, `contract_lines.csv`, joined by `AccountNumber` and `ContractNumber`; or
JSON pages (`accounts*.json`, `{"data": [account, ...]}`) holding the same fields with
sites, contacts and contracts (with `lines`) nested in each account, as the CRM API
returns them (client.py). Both become `AccountBundle`s and go through one mapping.

An account is all-or-nothing, like a contract file: a contract missing required data
refuses its whole account (every problem quarantined with file, line, field and reason)
and the client's earlier accepted document stays in force, because half a client would
silently stop billing a monitoring line. Draft contracts and cancelled lines are not in
force and are left out, not refused.

A client the contracts folder (`../contracts/*.yaml`) also holds is merged: the YAML is
authoritative for the client block, its sites and every contract that prices guard work;
the CRM contributes its monitoring contracts (replacing a recurring-only YAML contract of
the same id) and sites the YAML lacks. The merged document is written with source `crm`,
validated by the generic contract validator and stored exactly as the contracts
connector stores its documents (canonical JSON, sha256 content hash)."""

from __future__ import annotations

import calendar
import copy
import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from connectors.base import FileRead, ParseResult, Quarantined, sha256_text
from connectors.inbox.contracts import canonical_json, read_contract, validate_document

SOURCE = "crm"
TABLE = "contract_documents"

FILES: dict[str, tuple[str, ...]] = {  # file -> required columns
    "accounts.csv": ("AccountNumber", "ExternalId", "Name"),
    "sites.csv": ("SiteId", "AccountNumber", "SiteName", "TimeZone", "TaxJurisdiction"),
    "contacts.csv": ("AccountNumber", "Email", "Role"),
    "contracts.csv": ("ContractNumber", "AccountNumber", "Status", "StartDate", "Billing_Cycle__c"),
    "contract_lines.csv": ("ContractNumber", "ItemCode", "Family", "MonthlyAmount"),
}
# Salesforce Contract.Status: in force, or not yet (left out, not refused).
IN_FORCE = ("activated", "terminated", "expired")
NOT_YET = ("draft", "in approval", "in approval process")
CYCLES = {"monthly": "monthly", "m": "monthly", "weekly": "weekly", "biweekly": "biweekly", "daily": "daily"}
UNSUPPORTED_CYCLES = ("quarterly", "q", "semi-annual", "semiannual", "s", "annual", "annually", "a")
# Product family (Salesforce Product2.Family) -> recurring category; "Device Monitoring"
# lines are per-device fees (`per_device`), not fixed recurring amounts.
FAMILIES = {"monitoring": "monitoring", "equipment rental": "equipment_rental", "service fee": "service_fee",
            "device monitoring": "per_device"}
CHANNELS = {"email": "email", "e-mail": "email", "sms": "sms", "text": "sms", "portal": "portal"}
GROUPINGS = {"consolidated": "consolidated", "per site": "per_site", "per_site": "per_site"}
GUARD_KEYS = ("rates", "overtime", "holidays", "events", "incidents", "patrol_visit_fee", "hour_tiers",
              "minimum_shift_hours", "basis", "increment_minutes")
SEDONA_NULL_DATE = date(1899, 12, 30)

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0", ""}
_MONEY = re.compile(r"^\d+(\.\d{1,2})?$")
_PERCENT = re.compile(r"^\d+(\.\d+)?$")
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


class DocumentSchema(pa.DataFrameModel):
    """What every accepted row meets (the store's contract_documents insert)."""

    client_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    document: str = pa.Field(nullable=False, str_startswith="{")
    source_file: str = pa.Field(nullable=False)
    content_hash: str = pa.Field(nullable=False, str_matches=r"^[0-9a-f]{64}$")

    class Config:
        strict = True


# --- input model ------------------------------------------------------------------------------

@dataclass
class Row:
    file: str
    line: int
    data: dict[str, Any]
    prefix: str = ""  # field path prefix inside a nested JSON account, e.g. "contracts[0]."

    def get(self, key: str) -> str:
        """The field as trimmed text ('' when absent); names match case-insensitively."""
        value = self.data.get(key)
        if value is None:
            value = next((v for k, v in self.data.items() if k.lower() == key.lower()), None)
        if value is None or isinstance(value, dict | list):
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value).strip()

    def content(self) -> str:
        return json.dumps(self.data, sort_keys=True, default=str)


@dataclass
class ContractRows:
    row: Row
    lines: list[Row] = field(default_factory=list)


@dataclass
class AccountBundle:
    account: Row
    sites: list[Row] = field(default_factory=list)
    contacts: list[Row] = field(default_factory=list)
    contracts: list[ContractRows] = field(default_factory=list)

    @property
    def number(self) -> str:
        return self.account.get("AccountNumber")


@dataclass(frozen=True)
class Problem:
    row: Row
    field: str
    reason: str


class _Refused(Exception):
    pass


# --- entry points -----------------------------------------------------------------------------

def parse_folder(folder: Path, base_documents: dict[str, dict] | None = None) -> list[ParseResult]:
    """The CRM export in `folder` -> [contract_documents]. `base_documents` (client ->
    accepted YAML document) defaults to the inbox's `contracts/` folder next to `folder`."""
    folder = Path(folder)
    source = folder.name or SOURCE
    refused: list[Quarantined] = []
    files: list[FileRead] = []
    tables: dict[str, list[Row]] = {}
    bundles: list[AccountBundle] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        data = path.read_bytes()
        read = FileRead(source, str(path), hashlib.sha256(data).hexdigest(), 0)
        files.append(read)
        text = data.decode("utf-8-sig", errors="replace")
        name = path.name.lower()
        try:
            if name in FILES:
                rows = read_csv(str(path), text, FILES[name])
                tables[name] = rows
                read.rows_read = len(rows)
            elif name.startswith("accounts") and name.endswith(".json"):
                page = json.loads(text)
                items = page.get("data") if isinstance(page, dict) else page
                if not isinstance(items, list):
                    raise ValueError("not a CRM accounts page: no data list")
                bundles.extend(bundles_from_json([(str(path), n, item) for n, item in enumerate(items, 1)]))
                read.rows_read = len(items)
            else:
                raise ValueError(f"unexpected file in {source}/ (expected {', '.join(FILES)} or accounts*.json)")
        except ValueError as exc:
            refused.append(Quarantined(source, str(path), 1 if name.endswith(".csv") else None, None, None,
                                       f"file refused: {exc}", f"sha256:{read.sha256}\n{text[:4000]}"))
    csv_bundles, orphans = bundles_from_csv(tables)
    refused.extend(_quarantine(source, orphans, None))
    if base_documents is None:
        base_documents, blocked = load_base_documents(folder.parent / "contracts")
    else:
        blocked = {}
    result = map_bundles(bundles + csv_bundles, base_documents, blocked, source)
    result.quarantined[:0] = refused
    result.files = files
    return [result]


def load_base_documents(contracts_dir: Path) -> tuple[dict[str, dict], dict[str, str]]:
    """The contracts folder's accepted documents by client, and the clients whose file is
    refused (path): their CRM account is not merged until the YAML is fixed, or the merge
    would put a CRM-only document in force over the client's guarding contract."""
    accepted: dict[str, dict] = {}
    blocked: dict[str, str] = {}
    if not contracts_dir.is_dir():
        return accepted, blocked
    for path in sorted(contracts_dir.glob("*.y*ml")):
        outcome = read_contract(path)
        if outcome.document is not None and outcome.client_id:
            accepted[outcome.client_id] = outcome.document
        elif outcome.client_id:
            blocked[outcome.client_id] = str(path)
        else:
            blocked[path.stem] = str(path)  # unreadable: the file name is the client id by convention
    return accepted, blocked


def read_csv(file_path: str, text: str, required: tuple[str, ...]) -> list[Row]:
    """(physical line, row) rows of one CSV; header names are trimmed; a missing required
    column refuses the file (ValueError)."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ValueError("empty file: no header") from None
    lowered = {h.lower(): h for h in header}
    missing = [c for c in required if c.lower() not in lowered]
    if missing:
        raise ValueError(f"missing column(s) {', '.join(missing)}")
    canonical = {h: next((c for c in required if c.lower() == h.lower()), h) for h in header}
    rows = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            data = {"_fields": len(values), "_raw": ",".join(values)}
        else:
            data = {canonical[h]: v.strip() for h, v in zip(header, values, strict=True)}
        rows.append(Row(file_path, reader.line_num, data))
    return rows


def bundles_from_csv(tables: dict[str, list[Row]]) -> tuple[list[AccountBundle], list[Problem]]:
    """Join the five CSVs into accounts; a row naming no known account or contract is an
    orphan problem of its own (it cannot refuse an account it does not reach)."""
    orphans: list[Problem] = []
    accounts: dict[str, AccountBundle] = {}
    for row in tables.get("accounts.csv", []):
        if "_raw" in row.data:
            orphans.append(Problem(row, "", f"row has {row.data['_fields']} fields, not as many as the header"))
        elif not row.get("AccountNumber"):
            orphans.append(Problem(row, "AccountNumber", "missing AccountNumber"))
        elif row.get("AccountNumber") in accounts:
            orphans.append(Problem(row, "AccountNumber", f"account {row.get('AccountNumber')} appears twice"))
        else:
            accounts[row.get("AccountNumber")] = AccountBundle(row)

    def owner(row: Row) -> AccountBundle | None:
        if "_raw" in row.data:
            orphans.append(Problem(row, "", f"row has {row.data['_fields']} fields, not as many as the header"))
            return None
        bundle = accounts.get(row.get("AccountNumber"))
        if bundle is None:
            orphans.append(Problem(row, "AccountNumber", f"account {row.get('AccountNumber')!r} is not in "
                                                         f"accounts.csv"))
        return bundle

    for row in tables.get("sites.csv", []):
        if (bundle := owner(row)) is not None:
            bundle.sites.append(row)
    for row in tables.get("contacts.csv", []):
        if (bundle := owner(row)) is not None:
            bundle.contacts.append(row)
    contracts: dict[str, ContractRows] = {}
    for row in tables.get("contracts.csv", []):
        if (bundle := owner(row)) is not None:
            entry = ContractRows(row)
            bundle.contracts.append(entry)
            if row.get("ContractNumber"):
                contracts.setdefault(row.get("ContractNumber"), entry)
    for row in tables.get("contract_lines.csv", []):
        if "_raw" in row.data:
            orphans.append(Problem(row, "", f"row has {row.data['_fields']} fields, not as many as the header"))
            continue
        entry = contracts.get(row.get("ContractNumber"))
        if entry is None:
            orphans.append(Problem(row, "ContractNumber", f"contract {row.get('ContractNumber')!r} is not in "
                                                          f"contracts.csv"))
        else:
            entry.lines.append(row)
    return list(accounts.values()), orphans


def bundles_from_json(items: Iterable[tuple[str, int, Any]]) -> list[AccountBundle]:
    """(file or URL, position, account object with nested lists) -> bundles; nested rows
    keep the account's position and a field-path prefix."""
    out = []
    for file_path, position, item in items:
        if not isinstance(item, dict):
            item = {"_raw": json.dumps(item, default=str), "_fields": 0}
        flat = {k: v for k, v in item.items() if not isinstance(v, list)}
        bundle = AccountBundle(Row(file_path, position, flat))
        for i, site in enumerate(_dicts(item.get("sites"))):
            bundle.sites.append(Row(file_path, position, site, f"sites[{i}]."))
        for i, contact in enumerate(_dicts(item.get("contacts"))):
            bundle.contacts.append(Row(file_path, position, contact, f"contacts[{i}]."))
        for i, contract in enumerate(_dicts(item.get("contracts"))):
            flat_contract = {k: v for k, v in contract.items() if not isinstance(v, list)}
            entry = ContractRows(Row(file_path, position, flat_contract, f"contracts[{i}]."))
            for j, line in enumerate(_dicts(contract.get("lines"))):
                entry.lines.append(Row(file_path, position, line, f"contracts[{i}].lines[{j}]."))
            bundle.contracts.append(entry)
        out.append(bundle)
    return out


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


# --- mapping ----------------------------------------------------------------------------------

def map_bundles(bundles: list[AccountBundle], base_documents: dict[str, dict] | None = None,
                blocked: dict[str, str] | None = None, source: str = SOURCE) -> ParseResult:
    """Accounts -> accepted documents (merged with the YAML ones) and refusals."""
    base_documents = base_documents or {}
    blocked = blocked or {}
    refused: list[Quarantined] = []
    mapped: list[tuple[AccountBundle, str, dict]] = []
    for bundle in bundles:
        document, problems = map_account(bundle)
        if document is not None:
            client_id = document["client"]["id"]
            if client_id in blocked:
                problems = [Problem(bundle.account, "ExternalId", f"contract file {blocked[client_id]} for client "
                                                                  f"{client_id} is refused: the CRM account is not "
                                                                  f"merged until it is accepted")]
            else:
                document, problems = merge(document, base_documents.get(client_id), bundle)
        if problems:
            refused.extend(_quarantine(source, problems, bundle))
        else:
            mapped.append((bundle, document["client"]["id"], document))  # type: ignore[index]
    mapped, clashes = _ownership(mapped, base_documents)
    refused.extend(q for problems, bundle in clashes for q in _quarantine(source, problems, bundle))
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


def map_account(bundle: AccountBundle) -> tuple[dict | None, list[Problem]]:
    """One account -> (document, []) or (None, every problem found)."""
    problems: list[Problem] = []
    acc = bundle.account

    def fail(row: Row, fld: str, reason: str) -> None:
        problems.append(Problem(row, fld, reason))

    if "_raw" in acc.data:
        return None, [Problem(acc, "", "account is not a JSON object")]
    client: dict[str, Any] = {}
    for key, column in (("id", "ExternalId"), ("name", "Name")):
        if acc.get(column):
            client[key] = acc.get(column)
        else:
            fail(acc, column, f"missing {column}" + (" (the Vigil client id)" if column == "ExternalId" else ""))
    contacts = sorted(bundle.contacts, key=lambda r: {"billing": 0, "primary": 1}.get(r.get("Role").lower(), 2))
    email = next((r.get("Email") for r in contacts if r.get("Email")), "")
    phone = acc.get("Phone") or next((r.get("Phone") for r in contacts if r.get("Phone")), "")
    if email:
        client["email"] = email
    if phone:
        client["phone"] = phone
    if not email and not phone:
        fail(acc, "Email", "no billing contact email and no phone: the client cannot be invoiced")
    channel = acc.get("PreferredChannel").lower()
    if channel:
        if channel in CHANNELS:
            client["preferred_channel"] = CHANNELS[channel]
        else:
            fail(acc, "PreferredChannel", f"PreferredChannel {acc.get('PreferredChannel')!r} is not Email, SMS "
                                          f"or Portal")
    autopay = _bool(acc, "AutoPay", fail)
    if autopay:
        client["autopay"] = True
    method = acc.get("PaymentMethodRef")
    if method:
        client["payment_method"] = method  # autopay without one is accepted: dbt raises missing_payment_method
    grouping = acc.get("InvoiceGrouping").lower()
    if grouping:
        if grouping in GROUPINGS:
            client["grouping"] = GROUPINGS[grouping]
        else:
            fail(acc, "InvoiceGrouping", f"InvoiceGrouping {acc.get('InvoiceGrouping')!r} is not Consolidated "
                                         f"or Per Site")
    if acc.get("Currency"):
        client["currency"] = acc.get("Currency").upper()

    sites = []
    site_ids: set[str] = set()
    for row in bundle.sites:
        site = {"id": row.get("SiteId"), "name": row.get("SiteName"), "timezone": row.get("TimeZone"),
                "tax_jurisdiction": row.get("TaxJurisdiction")}
        for key, column in (("id", "SiteId"), ("name", "SiteName"), ("timezone", "TimeZone"),
                            ("tax_jurisdiction", "TaxJurisdiction")):
            if not site[key]:
                fail(row, column, f"missing {column}")
        if site["timezone"] and not _zone(site["timezone"]):
            fail(row, "TimeZone", f"{site['timezone']!r} is not an IANA timezone (e.g. America/New_York)")
        if site["id"] in site_ids:
            fail(row, "SiteId", f"site {site['id']} appears twice")
        site_ids.add(site["id"])
        sites.append(site)
    if not bundle.sites:
        fail(acc, "SiteId", "account has no sites")

    contracts = []
    for entry in bundle.contracts:
        contract = _contract(entry, site_ids, fail)
        if contract is not None:
            contracts.append(contract)
    if problems:
        return None, problems
    document = {"client": client, "sites": sites, "contracts": contracts}
    for problem in validate_document(document):  # the generic contract rules are the final word
        fail(acc, problem.path, problem.reason)
    return (None, problems) if problems else (document, [])


def _contract(entry: ContractRows, site_ids: set[str], fail) -> dict | None:
    row = entry.row
    number = row.get("ContractNumber")
    if not number:
        fail(row, "ContractNumber", "missing ContractNumber")
    status = row.get("Status").lower()
    if status in NOT_YET:
        return None
    if status not in IN_FORCE:
        fail(row, "Status", f"Status {row.get('Status')!r} is not one of Draft, In Approval, Activated, "
                            f"Terminated, Expired")
        return None
    start = _date(row, "StartDate", fail, required=True)
    end = _date(row, "EndDate", fail, required=False)
    term = row.get("ContractTerm")
    if end is None and start is not None and not row.get("EndDate"):
        if term.isdigit() and int(term) > 0:
            end = _add_months(start, int(term)) - timedelta(days=1)
        else:
            fail(row, "EndDate", "missing EndDate and no ContractTerm (months) to derive it from")
    if start and end and end < start:
        fail(row, "EndDate", f"EndDate {end} is before StartDate {start}")
    raw_cycle = row.get("Billing_Cycle__c")
    cycle = CYCLES.get(raw_cycle.lower())
    if not raw_cycle:
        fail(row, "Billing_Cycle__c", "missing Billing_Cycle__c")
    elif cycle is None:
        why = ("is not supported: Vigil bills monthly, weekly, biweekly or daily"
               if raw_cycle.lower() in UNSUPPORTED_CYCLES else "is not a billing cycle")
        fail(row, "Billing_Cycle__c", f"Billing_Cycle__c {raw_cycle!r} {why}")
    contract: dict[str, Any] = {"id": number, "start_date": start.isoformat() if start else None,
                                "end_date": end.isoformat() if end else None}
    auto_renew = _bool(row, "Auto_Renew__c", fail)
    if row.get("Auto_Renew__c"):
        contract["auto_renew"] = auto_renew
    contract["billing_cycle"] = cycle
    lead = row.get("Issue_Lead_Days__c")
    if lead:
        if lead.isdigit():
            contract["issue_lead_days"] = int(lead)
        else:
            fail(row, "Issue_Lead_Days__c", f"Issue_Lead_Days__c {lead!r} is not a whole number of days")
    recurring, per_device = [], []
    total = Decimal(0)
    for line in entry.lines:
        item = _line(line, start, end, site_ids, fail)
        if item is None:
            continue
        if "device_type" in item:
            per_device.append(item)
        else:
            recurring.append(item)
            total += Decimal(item["amount"])
    if not any(line.get("IsCancelled").lower() not in _TRUE for line in entry.lines):
        fail(row, "ContractNumber", f"contract {number} has no active recurring lines in contract_lines")
    rmr = row.get("RMR__c")
    if rmr:
        if not _MONEY.match(rmr):
            fail(row, "RMR__c", f"RMR__c {rmr!r} is not an amount")
        elif recurring and Decimal(rmr) != total:
            fail(row, "RMR__c", f"RMR__c {rmr} does not equal the sum of its recurring lines {total:.2f}")
    if recurring:
        contract["recurring"] = recurring
    if per_device:
        contract["per_device"] = per_device
    promo = _promo(row, fail)
    if promo:
        contract["discounts"] = [promo]
    return contract


def _line(line: Row, start: date | None, end: date | None, site_ids: set[str], fail) -> dict | None:
    if _bool(line, "IsCancelled", fail):
        return None
    code = line.get("ItemCode")
    if not code:
        fail(line, "ItemCode", "missing ItemCode")
    family = line.get("Family")
    category = FAMILIES.get(family.lower())
    if category is None:
        fail(line, "Family", f"Family {family!r} is not one of Monitoring, Equipment Rental, Service Fee, "
                             f"Device Monitoring" if family else "missing Family")
    amount = line.get("MonthlyAmount")
    if not _MONEY.match(amount):
        fail(line, "MonthlyAmount", f"MonthlyAmount {amount!r} is not an amount (e.g. 89.00)"
             if amount else "missing MonthlyAmount")
        amount = None
    cycle = line.get("BillCycle").upper()
    if cycle and cycle != "M":
        fail(line, "BillCycle", f"BillCycle {line.get('BillCycle')!r}: only M (monthly amounts) is supported")
    site = line.get("SiteId")
    if site and site not in site_ids:
        fail(line, "SiteId", f"site {site!r} is not one of the account's sites")
    cycle_start = _date(line, "CycleStartDate", fail, required=False)
    cycle_end = _date(line, "CycleEndDate", fail, required=False)
    if cycle_end is not None and end is not None and cycle_end < end:
        fail(line, "CycleEndDate", f"CycleEndDate {cycle_end} ends the line before its contract ({end}): "
                                   f"cancel the line or end the contract")
    if category is None or amount is None:
        return None
    money = f"{Decimal(amount):.2f}"
    if category == "per_device":
        device = line.get("DeviceType")
        if not _CODE.match(device):
            fail(line, "DeviceType", f"DeviceType {device!r} is not a device type code (e.g. camera)"
                 if device else "missing DeviceType for a Device Monitoring line")
            return None
        return {"device_type": device, **({"site_id": site} if site else {}), "monthly_fee": money}
    if not site:
        fail(line, "SiteId", "missing SiteId")
        return None
    item: dict[str, Any] = {"code": code, "category": category, "site_id": site, "amount": money}
    if cycle_start is not None and start is not None and cycle_start > start:
        item["effective_from"] = cycle_start.isoformat()
    return item


def _promo(row: Row, fail) -> dict | None:
    percent, cats, cycles = row.get("Promo_Percent__c"), row.get("Promo_Categories__c"), row.get("Promo_Cycles__c")
    if not (percent or cats or cycles):
        return None
    if not (percent and cats and cycles):
        fail(row, "Promo_Percent__c", "a promotion needs Promo_Percent__c, Promo_Categories__c and Promo_Cycles__c")
        return None
    categories = []
    for name in (c.strip() for c in cats.split(";") if c.strip()):
        category = FAMILIES.get(name.lower())
        if category is None or category == "per_device":
            fail(row, "Promo_Categories__c", f"{name!r} is not Monitoring, Equipment Rental or Service Fee")
        else:
            categories.append(category)
    if not _PERCENT.match(percent) or not Decimal(0) < Decimal(percent) <= 100:
        fail(row, "Promo_Percent__c", f"Promo_Percent__c {percent!r} is not a percent in (0, 100]")
    if not cycles.isdigit() or int(cycles) < 1:
        fail(row, "Promo_Cycles__c", f"Promo_Cycles__c {cycles!r} is not a whole number >= 1")
        return None
    return {"percent": percent, "categories": categories, "cycles": int(cycles)}


# --- merge with the contracts folder ----------------------------------------------------------

def merge(crm: dict, base: dict | None, bundle: AccountBundle) -> tuple[dict | None, list[Problem]]:
    """YAML authoritative for the client, its sites and guard contracts; CRM adds its
    monitoring contracts (replacing recurring-only YAML contracts of the same id) and the
    sites the YAML lacks."""
    if base is None:
        return crm, []
    merged = copy.deepcopy(base)
    known_sites = {s.get("id") for s in merged.get("sites") or []}
    for site in crm["sites"]:
        if site["id"] not in known_sites:
            merged.setdefault("sites", []).append(site)
    contracts = merged.setdefault("contracts", [])
    index = {c.get("id"): n for n, c in enumerate(contracts)}
    problems = []
    for contract in crm["contracts"]:
        n = index.get(contract["id"])
        if n is None:
            contracts.append(contract)
        elif any(key in contracts[n] for key in GUARD_KEYS):
            row = next((e.row for e in bundle.contracts if e.row.get("ContractNumber") == contract["id"]),
                       bundle.account)
            problems.append(Problem(row, "ContractNumber", f"contract {contract['id']} is also in the client's "
                                                           f"contracts YAML, where it prices guard work: the CRM "
                                                           f"may not replace it"))
        else:
            contracts[n] = contract
    for problem in validate_document(merged) if not problems else []:
        problems.append(Problem(bundle.account, problem.path, f"merged with the contracts YAML: {problem.reason}"))
    return (None, problems) if problems else (merged, [])


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


# --- helpers ----------------------------------------------------------------------------------

def _quarantine(source: str, problems: list[Problem], bundle: AccountBundle | None) -> list[Quarantined]:
    """One quarantine row per refused input row (the store keeps one row per content): its
    first problem names the field, the reason lists them all."""
    grouped: dict[tuple[str, int, str], list[Problem]] = {}
    for p in problems:
        grouped.setdefault((p.row.file, p.row.line, p.row.prefix), []).append(p)
    suffix = ""
    if bundle is not None:
        suffix = (f" (account {bundle.number or '?'}, client {bundle.account.get('ExternalId') or '?'}, refused "
                  f"whole: its earlier accepted document stays in force)")
    out = []
    for group in grouped.values():
        first, row = group[0], group[0].row
        record_id = row.get("ContractNumber") or row.get("AccountNumber") or row.get("SiteId") or None
        fld = f"{row.prefix}{first.field}" if first.field else (row.prefix.rstrip(".") or None)
        reason = "; ".join(dict.fromkeys(p.reason for p in group))
        out.append(Quarantined(source, row.file, row.line, record_id, fld, f"{reason}{suffix}", row.content()))
    return out


def _bool(row: Row, column: str, fail) -> bool:
    value = row.get(column).lower()
    if value in _TRUE:
        return True
    if value not in _FALSE:
        fail(row, column, f"{column} {row.get(column)!r} is not true or false")
    return False


def _date(row: Row, column: str, fail, required: bool) -> date | None:
    """ISO dates (Salesforce) or MM/DD/YYYY (SedonaOffice, whose null date 12/30/1899
    means none)."""
    text = row.get(column)
    if not text:
        if required:
            fail(row, column, f"missing {column}")
        return None
    try:
        if re.match(r"^\d{1,2}/\d{1,2}/\d{4}$", text):
            day = datetime.strptime(text, "%m/%d/%Y").date()
        else:
            day = date.fromisoformat(text[:10])
    except ValueError:
        fail(row, column, f"{column} {text!r} is not a date (YYYY-MM-DD or MM/DD/YYYY)")
        return None
    if day == SEDONA_NULL_DATE:
        if required:
            fail(row, column, f"missing {column} (12/30/1899 is SedonaOffice's empty date)")
        return None
    return day


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
