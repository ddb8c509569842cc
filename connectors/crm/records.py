"""CRM input -> account bundles: the rows of one CRM account (the account, its sites,
contacts, contracts and their recurring lines), whatever shape they were delivered in.

Three shapes are read (docs/connectors/crm.md):
- CSV exports, one file per object (`accounts.csv`, `sites.csv`, `contacts.csv`,
  `contracts.csv`, `contract_lines.csv`), as Salesforce Data Loader writes them (`Id`,
  `AccountId`, every field quoted) or with account and contract numbers as join keys;
- Salesforce REST query results (`{"totalSize", "done", "records": [...]}`, developer.
  salesforce.com "Query" resource), one page per file, each record carrying
  `attributes.type`; child relationships (`Contacts`, `Contracts`, a contract's lines)
  arrive as nested query results;
- HubSpot CRM API v3 object pages (`{"results": [{id, properties, associations}],
  "paging"}`, developers.hubspot.com "CRM API"), one object per file named by it
  (`companies*.json`, `contacts*.json`, `deals*.json`, `line_items*.json`): a company is
  an account, a deal a contract, a line item a recurring line; links are associations.

A Salesforce Contract names its account by `AccountId` (the account's record `Id`), not
by its number, and a custom object's fields end in `__c`: `Row.get("MonthlyAmount")`
also finds `Monthly_Amount__c`, and HubSpot's snake_case internal name `monthly_amount`.
Sites are not a CRM object: `sites.csv` is the deployment's table of each account's
sites (id, name, IANA timezone, tax jurisdiction)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connectors.base import csv_records

# canonical field -> other names it is delivered under (besides the `__c` form)
ALIASES: dict[str, tuple[str, ...]] = {
    "ExternalId": ("Vigil_Client_Id__c", "vigil_client_id"),
    "Currency": ("CurrencyIsoCode",),
    "ContractId": ("Contract__c",),
    "AccountId": ("Account__c",),
}
# file -> groups of columns; each group needs one of its columns (missing: file refused)
FILES: dict[str, tuple[tuple[str, ...], ...]] = {
    "accounts.csv": (("AccountNumber", "Id"), ("Name",)),
    "sites.csv": (("SiteId",), ("AccountNumber", "AccountId"), ("SiteName",), ("TimeZone",), ("TaxJurisdiction",)),
    "contacts.csv": (("AccountNumber", "AccountId"), ("Email",)),
    "contracts.csv": (("ContractNumber",), ("AccountNumber", "AccountId"), ("Status",), ("StartDate",),
                      ("Billing_Cycle__c",)),
    "contract_lines.csv": (("ContractNumber", "ContractId", "Contract__c"), ("ItemCode", "Item_Code__c"),
                           ("Family", "Family__c"), ("MonthlyAmount", "Monthly_Amount__c")),
}
# Salesforce relationship or object name -> our table
OBJECT_TABLES = {"account": "accounts", "contact": "contacts", "contacts": "contacts", "contract": "contracts",
                 "contracts": "contracts"}
TABLES = ("accounts", "sites", "contacts", "contracts", "contract_lines")

_WORD = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def custom_field(name: str) -> str:
    """Our field name as a Salesforce custom field: `MonthlyAmount` -> `Monthly_Amount__c`."""
    return name if name.endswith("__c") else _WORD.sub("_", name) + "__c"


def snake_field(name: str) -> str:
    """Our field name as a HubSpot property: `MonthlyAmount` -> `monthly_amount`,
    `Billing_Cycle__c` -> `billing_cycle`."""
    return _WORD.sub("_", name.removesuffix("__c")).lower()


@dataclass
class Row:
    """One delivered record: `line` is the CSV line, or the record's 1-based position in a
    JSON page; `prefix` the field path of a nested record, e.g. `Contracts.records[0].`."""

    file: str
    line: int
    data: dict[str, Any]
    prefix: str = ""

    def get(self, key: str) -> str:
        """The field as trimmed text ('' when absent or null), under its own name, an alias
        or its `__c` form; names match case-insensitively."""
        for name in (key, *ALIASES.get(key, ()), custom_field(key), snake_field(key)):
            value = self._value(name)
            if value is not None:
                break
        if value is None or isinstance(value, dict | list):
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value).strip()

    def _value(self, name: str) -> Any:
        if name in self.data:
            return self.data[name]
        lowered = name.lower()
        return next((v for k, v in self.data.items() if k.lower() == lowered), None)

    def keys(self, *names: str) -> set[str]:
        return {self.get(n) for n in names} - {""}

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
        return self.account.get("AccountNumber") or self.account.get("Id")


@dataclass(frozen=True)
class Problem:
    row: Row
    field: str
    reason: str


# --- CSV --------------------------------------------------------------------------------------

def read_csv(file_path: str, text: str, required: tuple[tuple[str, ...], ...]) -> list[Row]:
    """Rows of one CSV (line = physical line of the record); a required column group with
    none of its columns refuses the file (ValueError)."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ValueError("empty file: no header") from None
    lowered = {h.lower() for h in header}
    missing = [" or ".join(group) for group in required if not any(c.lower() in lowered for c in group)]
    if missing:
        raise ValueError(f"missing column(s) {', '.join(missing)}")
    rows = []
    for line, values in csv_records(reader):
        if len(values) != len(header):
            data: dict[str, Any] = {"_fields": len(values), "_raw": ",".join(values)}
        else:
            data = {h: v.strip() for h, v in zip(header, values, strict=True)}
        rows.append(Row(file_path, line, data))
    return rows


# --- Salesforce query results -------------------------------------------------------------------

def is_query_result(page: Any) -> bool:
    return isinstance(page, dict) and isinstance(page.get("records"), list) and "totalSize" in page


def load_json(text: str) -> Any:
    """JSON with exact decimals: a currency field is never a float on its way to money."""
    return json.loads(text, parse_float=Decimal)


def query_result_rows(file_path: str, page: dict[str, Any], problems: list[Problem]) -> dict[str, list[Row]]:
    """One query result page -> rows per table. Nested child query results become rows
    of their own with the parent's id as their link (`AccountId`, `ContractId`)."""
    tables: dict[str, list[Row]] = {t: [] for t in TABLES}
    for position, record in enumerate(page["records"], start=1):
        _record(file_path, position, "", record, None, tables, problems)
    return tables


def _record(file_path: str, position: int, prefix: str, record: Any, parent: tuple[str, str] | None,
            tables: dict[str, list[Row]], problems: list[Problem]) -> None:
    if not isinstance(record, dict):
        problems.append(Problem(Row(file_path, position, {"_raw": json.dumps(record, default=str)}, prefix), "",
                                "record is not a JSON object"))
        return
    kind = str((record.get("attributes") or {}).get("type") or "")
    flat = {k: v for k, v in record.items() if k != "attributes" and not _is_child_result(v)}
    row = Row(file_path, position, flat, prefix)
    if parent is not None and not row.get(parent[0]):
        row.data[parent[0]] = parent[1]
    table = OBJECT_TABLES.get(kind.lower())
    if table is None:
        if parent is not None and parent[0] == "ContractId" or row.get("ContractId") or row.get("ContractNumber"):
            table = "contract_lines"  # a custom line object (e.g. Contract_Line__c)
        else:
            problems.append(Problem(row, "attributes.type", f"Salesforce object {kind or '(none)'!r} is not an "
                                                            f"Account, Contact, Contract or contract line"))
            return
    tables[table].append(row)
    own_id = row.get("Id")
    for name, child in record.items():
        if not _is_child_result(child):
            continue
        path = f"{prefix}{name}"
        if child.get("done") is False:
            problems.append(Problem(row, name, f"child relationship {name} is incomplete (done false): its "
                                               f"nextRecordsUrl must be followed before the account is complete"))
        link = {"accounts": ("AccountId", own_id), "contracts": ("ContractId", own_id)}.get(table)
        if link is None or not own_id:
            problems.append(Problem(row, name, f"child relationship {name} under a {kind or 'record'} without an Id"))
            continue
        for index, item in enumerate(child["records"]):
            _record(file_path, position, f"{path}.records[{index}].", item, link, tables, problems)


def _is_child_result(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("records"), list)


# --- HubSpot CRM API pages --------------------------------------------------------------------

HUBSPOT_OBJECTS = {"companies": "accounts", "contacts": "contacts", "deals": "contracts",
                   "line_items": "contract_lines", "line-items": "contract_lines"}
# deal stages: won is in force, lost never will be, any other is not yet
HUBSPOT_STAGES = {"closedwon": "Activated", "closedlost": "Lost"}


def is_hubspot_page(page: Any) -> bool:
    return isinstance(page, dict) and isinstance(page.get("results"), list)


def hubspot_object(file_name: str) -> str | None:
    lowered = file_name.lower()
    return next((name for name in HUBSPOT_OBJECTS if lowered.startswith(name)), None)


def hubspot_rows(file_path: str, object_name: str, page: dict[str, Any],
                 problems: list[Problem]) -> dict[str, list[Row]]:
    """One HubSpot page of `object_name` -> rows: `properties` flattened, `Id` the record id,
    the parent link (`AccountId`, `ContractId`) from the first associated company or deal.
    A deal's stage becomes its status; a line item's `amount` (price x quantity, per its
    billing frequency) its MonthlyAmount when billed monthly, else its CycleAmount (the amount
    per its frequency), and `recurringbillingfrequency` its BillCycle."""
    table = HUBSPOT_OBJECTS[object_name]
    tables: dict[str, list[Row]] = {t: [] for t in TABLES}
    for position, record in enumerate(page["results"], start=1):
        if not isinstance(record, dict) or not isinstance(record.get("properties"), dict):
            problems.append(Problem(Row(file_path, position, {"_raw": json.dumps(record, default=str)}), "properties",
                                    "HubSpot record without properties"))
            continue
        data = {**record["properties"], "Id": str(record.get("id") or record["properties"].get("hs_object_id") or "")}
        data["LastModifiedDate"] = record.get("updatedAt") or record["properties"].get("hs_lastmodifieddate")
        links = record.get("associations") or {}
        company, deal = _associated(links, "compan"), _associated(links, "deal")
        if table in ("contacts", "contracts") and company:
            data["AccountId"] = company
        if table == "contract_lines" and deal:
            data["ContractId"] = deal
        if table == "contracts":
            stage = str(data.get("dealstage") or "")
            data.setdefault("Status", HUBSPOT_STAGES.get(stage.lower(), "Draft" if stage else ""))
        if table == "contract_lines":
            frequency = str(data.get("recurringbillingfrequency") or "")
            data.setdefault("BillCycle", frequency)  # monthly, quarterly, annually...: mapping.py judges it
            if frequency.lower() in ("", "monthly"):
                data.setdefault("MonthlyAmount", data.get("amount"))
            else:  # `amount` is per the line's billing frequency (a quarter, a year...)
                data.setdefault("CycleAmount", data.get("amount"))
            data.setdefault("ItemCode", data.get("hs_sku") or data.get("name"))
            data.setdefault("CycleStartDate", data.get("hs_recurring_billing_start_date"))
        tables[table].append(Row(file_path, position, data))
    return tables


def _associated(links: dict[str, Any], kind: str) -> str | None:
    for name, value in links.items():
        if kind in name.lower() and isinstance(value, dict) and value.get("results"):
            first = value["results"][0]
            return str(first.get("id") or first.get("toObjectId") or "") or None
    return None


# --- bundling ---------------------------------------------------------------------------------

def bundles_from_tables(tables: dict[str, list[Row]]) -> tuple[list[AccountBundle], list[Problem]]:
    """Join rows into accounts: a child names its account by `AccountNumber` or `AccountId`
    (the account's `Id`), a line its contract by `ContractNumber` or `ContractId`. A row
    naming no known account or contract is an orphan problem of its own (it cannot refuse
    an account it does not reach)."""
    orphans: list[Problem] = []
    accounts: dict[str, AccountBundle] = {}
    bundles: list[AccountBundle] = []
    for row in tables.get("accounts", []):
        keys = row.keys("AccountNumber", "Id")
        if "_raw" in row.data:
            orphans.append(Problem(row, "", _width(row)))
        elif not keys:
            orphans.append(Problem(row, "AccountNumber", "missing AccountNumber and Id"))
        elif keys & set(accounts):
            orphans.append(Problem(row, "AccountNumber", f"account {sorted(keys & set(accounts))[0]} appears twice"))
        else:
            bundle = AccountBundle(row)
            bundles.append(bundle)
            accounts.update(dict.fromkeys(keys, bundle))

    def owner(row: Row) -> AccountBundle | None:
        if "_raw" in row.data:
            orphans.append(Problem(row, "", _width(row)))
            return None
        for key, column in ((row.get("AccountId"), "AccountId"), (row.get("AccountNumber"), "AccountNumber")):
            if key:
                bundle = accounts.get(key)
                if bundle is None:
                    orphans.append(Problem(row, column, f"account {key!r} is not among the accounts delivered"))
                return bundle
        orphans.append(Problem(row, "AccountId", "names no account (AccountId or AccountNumber)"))
        return None

    for row in tables.get("sites", []):
        if (bundle := owner(row)) is not None:
            bundle.sites.append(row)
    for row in tables.get("contacts", []):
        if (bundle := owner(row)) is not None:
            bundle.contacts.append(row)
    contracts: dict[str, ContractRows] = {}
    for row in tables.get("contracts", []):
        if (bundle := owner(row)) is not None:
            entry = ContractRows(row)
            bundle.contracts.append(entry)
            for key in row.keys("ContractNumber", "Id"):
                contracts.setdefault(key, entry)
    for row in tables.get("contract_lines", []):
        if "_raw" in row.data:
            orphans.append(Problem(row, "", _width(row)))
            continue
        key = row.get("ContractId") or row.get("ContractNumber")
        entry = contracts.get(key)
        if entry is None:
            orphans.append(Problem(row, "ContractNumber", f"contract {key!r} is not among the contracts delivered"))
        else:
            entry.lines.append(row)
    return bundles, orphans


def merge_tables(parts: Iterable[dict[str, list[Row]]]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {t: [] for t in TABLES}
    for part in parts:
        for table, rows in part.items():
            out[table].extend(rows)
    return out


def _width(row: Row) -> str:
    return f"row has {row.data['_fields']} fields, not as many as the header"
