"""The simulated world's monitoring contracts as a Salesforce org holds them
(connectors/simulator/world.py): one Account per client (`Vigil_Client_Id__c` = our
client id), its Contacts, each monitoring Contract (naming its account by `AccountId`)
with its recurring lines in the custom object `Contract_Line__c`, plus the deployment's
`sites.csv` (Salesforce has no site object).

The inbox export is what the REST API answers (`accounts.json`: the Account query with
its Contacts; `contracts.json`: the Contract query with its lines), with Salesforce's
quirks: 18-character record ids, `attributes` on every record, child relationships as
nested query results, `LastModifiedDate` as `...T08:00:00.000+0000`, currency fields as
JSON numbers, empty fields as null. `write_csv_exports` writes the same records as Data
Loader CSVs.

Planted on top of the world:
- the client the world plants with `autopay: true` and no payment method (if the world
  has none, the first autopay client loses its Payment_Method_Ref__c here): accepted,
  finding `missing_payment_method` downstream;
- a newly signed account whose contract is Quarterly (a cycle Vigil bills: the contract
  record raises nothing) and whose line has no monthly amount: the line is quarantined and
  the account refused whole for it;
- a Draft upsell contract on the first account: not in force, left out (not refused)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SOURCE = "crm"
API_VERSION = "v60.0"
LINE_OBJECT = "Contract_Line__c"
LINE_RELATIONSHIP = "Contract_Lines__r"
FAMILY = {"monitoring": "Monitoring", "equipment_rental": "Equipment Rental", "service_fee": "Service Fee"}
TIERS = {"MON-STD": "Standard", "MON-GOLD": "Gold", "MON-VIDEO": "Video Guard Plus"}
CHANNEL = {"email": "Email", "sms": "SMS", "portal": "Portal"}
NEW_ACCOUNT = "ACCT-49001"
SITE_COLUMNS = ["SiteId", "AccountId", "SiteName", "City", "State", "TimeZone", "TaxJurisdiction"]


def record_id(prefix: str, n: int) -> str:
    """An 18-character Salesforce record id (`001` accounts, `003` contacts, `800`
    contracts, `a0B` our line object)."""
    return f"{prefix}Dn{n:010d}IAK"[:18].ljust(18, "A")


def _attributes(kind: str, ident: str) -> dict[str, str]:
    return {"type": kind, "url": f"/services/data/{API_VERSION}/sobjects/{kind}/{ident}"}


def _modified(world: Any, n: int) -> str:
    """LastModifiedDate: the morning of the window's first day, one minute per record."""
    at = datetime.combine(world.start, time(8, n % 60), tzinfo=ZoneInfo("UTC"))
    return at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _months(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + (1 if end.day >= start.day - 1 else 0)


def query_result(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"totalSize": len(records), "done": True, "records": records}


class _Org:
    """The world as Salesforce records: accounts (with contacts), contracts (with lines)."""

    def __init__(self, world: Any):
        self.world = world
        self.accounts: list[dict[str, Any]] = []
        self.contracts: list[dict[str, Any]] = []
        self.sites: list[dict[str, Any]] = []
        self.planted: list[dict[str, Any]] = []
        self._lines = 0
        self._contracts = 0
        no_method = {p.record_id for p in world.planted if p.kind == "autopay_without_payment_method"}
        if not no_method:
            first = next((c for c in world.clients if c.autopay), None)
            no_method = {first.client_id} if first is not None else set()
        for n, client in enumerate(world.clients):
            self._account(n, client, client.client_id in no_method)
        self._new_account(len(world.clients))

    def _account(self, n: int, client: Any, no_method: bool) -> None:
        world = self.world
        ident = record_id("001", n + 1)
        local, domain = client.email.split("@", 1)
        contacts = [
            {"attributes": _attributes("Contact", record_id("003", 2 * n + 1)), "Id": record_id("003", 2 * n + 1),
             "FirstName": "Accounts", "LastName": "Payable", "Email": client.email, "Phone": client.phone,
             "Role__c": "Billing"},
            {"attributes": _attributes("Contact", record_id("003", 2 * n + 2)), "Id": record_id("003", 2 * n + 2),
             "FirstName": "Facilities", "LastName": "Manager", "Email": f"facilities@{domain}", "Phone": None,
             "Role__c": "Primary"},
        ]
        self.accounts.append({
            "attributes": _attributes("Account", ident), "Id": ident, "AccountNumber": client.crm_account_id,
            "Name": client.name, "Phone": client.phone, "Vigil_Client_Id__c": client.client_id,
            "Preferred_Channel__c": CHANNEL[client.preferred_channel], "Auto_Pay__c": bool(client.autopay),
            "Payment_Method_Ref__c": None if no_method else client.payment_method,
            "Invoice_Grouping__c": "Per Site" if client.grouping == "per_site" else "Consolidated",
            "CurrencyIsoCode": "USD", "LastModifiedDate": _modified(world, n),
            "Contacts": query_result(contacts),
        })
        if no_method:
            self.planted.append({"kind": "autopay_without_payment_method", "record_id": client.client_id,
                                 "account": client.crm_account_id, "expect": "missing_payment_method",
                                 "note": "Auto_Pay__c true and no Payment_Method_Ref__c: accepted, finding raised "
                                         "downstream"})
        for site_id in client.site_ids:
            site = world.site(site_id)
            self.sites.append({"SiteId": site.site_id, "AccountId": ident, "SiteName": site.name, "City": site.city,
                               "State": site.state, "TimeZone": site.timezone,
                               "TaxJurisdiction": site.tax_jurisdiction})
        for k in (k for k in world.contracts if k.client_id == client.client_id and k.kind == "monitoring"):
            self._contract(ident, k)
        if n == 0 and any(c["AccountId"] == ident for c in self.contracts):
            number = f"K-{client.client_id[2:]}-M2"
            self._contract(ident, None, number=number, status="Draft", cycle="Monthly",
                           lines=[(None, "MON-VIDEO", "Monitoring", client.site_ids[0], Decimal("149.00"))])
            self.planted.append({"kind": "draft_contract", "record_id": number, "account": client.crm_account_id,
                                 "expect": "none", "note": "Draft contract: not in force, left out of the document"})

    def _contract(self, account_id: str, k: Any, *, number: str = "", status: str = "Activated",
                  cycle: str = "Monthly", lines: list[tuple] | None = None) -> dict[str, Any]:
        self._contracts += 1
        ident = record_id("800", self._contracts)
        items = []
        if k is not None:
            items = [(None, item.code, FAMILY[item.category], item.site_id, item.amount) for item in k.recurring]
            items += [(fee.device_type, f"DEV-{fee.device_type.upper()}", "Device Monitoring", fee.site_id,
                       fee.monthly_fee) for fee in k.per_device]
        items += lines or []
        line_records = []
        for device_type, code, family, site_id, amount in items:
            self._lines += 1
            line_id = record_id("a0B", self._lines)
            line_records.append({
                "attributes": _attributes(LINE_OBJECT, line_id), "Id": line_id, "Contract__c": ident,
                "Item_Code__c": code, "Family__c": family, "Site_Id__c": site_id, "Device_Type__c": device_type,
                "Monthly_Amount__c": amount, "Bill_Cycle__c": "M",
                "Cycle_Start_Date__c": k.start_date.isoformat() if k is not None else None,
                "Cycle_End_Date__c": None, "Is_Cancelled__c": False,
            })
        promo = k.discounts[0] if k is not None and k.discounts else None
        plan = next((r.code for r in k.recurring if r.category == "monitoring"), "") if k is not None else "MON-VIDEO"
        record = {
            "attributes": _attributes("Contract", ident), "Id": ident, "AccountId": account_id,
            "ContractNumber": k.contract_id if k is not None else number, "Status": status,
            "StartDate": k.start_date.isoformat() if k is not None else None,
            "EndDate": k.end_date.isoformat() if k is not None else None,
            "ContractTerm": _months(k.start_date, k.end_date) if k is not None else 12,
            "Service_Tier__c": TIERS.get(plan, plan),
            "RMR__c": sum((r.amount for r in k.recurring), Decimal("0.00")) if k is not None else None,
            "Billing_Cycle__c": cycle, "Auto_Renew__c": bool(k.auto_renew) if k is not None else True,
            "Issue_Lead_Days__c": k.issue_lead_days if k is not None else None,
            "Promo_Percent__c": promo.percent if promo else None,
            "Promo_Categories__c": ";".join(FAMILY[c] for c in promo.categories) if promo else None,
            "Promo_Cycles__c": promo.cycles if promo else None,
            "LastModifiedDate": _modified(self.world, self._contracts),
            LINE_RELATIONSHIP: query_result(line_records),
        }
        self.contracts.append(record)
        return record

    def _new_account(self, n: int) -> None:
        """A client signed in the CRM on a quarterly contract (accepted as such), whose data
        entry is unfinished (a line without an amount refuses the account)."""
        ident = record_id("001", n + 1)
        self.accounts.append({
            "attributes": _attributes("Account", ident), "Id": ident, "AccountNumber": NEW_ACCOUNT,
            "Name": "Northwind Self Storage", "Phone": "+15555550999", "Vigil_Client_Id__c": "C-9001",
            "Preferred_Channel__c": "Email", "Auto_Pay__c": False, "Payment_Method_Ref__c": None,
            "Invoice_Grouping__c": "Consolidated", "CurrencyIsoCode": "USD",
            "LastModifiedDate": _modified(self.world, n),
            "Contacts": query_result([{"attributes": _attributes("Contact", record_id("003", 9001)),
                                       "Id": record_id("003", 9001), "FirstName": "Dana", "LastName": "Price",
                                       "Email": "ap@northwindstorage.example", "Phone": None,
                                       "Role__c": "Billing"}]),
        })
        self.sites.append({"SiteId": "S-9001", "AccountId": ident, "SiteName": "Northwind Storage - Route 9",
                           "City": "Albany", "State": "NY", "TimeZone": "America/New_York",
                           "TaxJurisdiction": "US-NY"})
        record = self._contract(ident, None, number="K-9001-M", cycle="Quarterly",
                                lines=[(None, "MON-STD", "Monitoring", "S-9001", None)])
        record.update(StartDate=self.world.start.isoformat(), EndDate=None, Issue_Lead_Days__c=5)
        self.planted += [
            {"kind": "quarterly_contract", "record_id": "K-9001-M", "account": NEW_ACCOUNT, "expect": "accepted",
             "note": "Billing_Cycle__c Quarterly: billed per calendar quarter, no problem raised on the contract "
                     "(its account is refused only for the line without an amount)"},
            {"kind": "missing_amount", "record_id": "K-9001-M", "account": NEW_ACCOUNT, "expect": "quarantine",
             "note": "a contract line without Monthly_Amount__c: refused with its whole account"},
        ]


def records_for_server(world: Any) -> dict[str, list[dict[str, Any]]]:
    """Keyword arguments for FakeSalesforce: accounts (with Contacts) and contracts (with
    lines), planted records included."""
    org = _Org(world)
    return json.loads(_json({"accounts": org.accounts, "contracts": org.contracts}))  # as sent: JSON numbers


def sites_rows(world: Any) -> list[dict[str, Any]]:
    """The deployment's `sites.csv`: each account's sites, keyed by the account's Id."""
    return _Org(world).sites


def write_sites(world: Any, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_if_changed(path, _csv(SITE_COLUMNS, sites_rows(world)))
    return path


def write_exports(world: Any, folder: Path) -> dict[str, Any]:
    """Write the org's query results (`accounts.json`, `contracts.json`) and `sites.csv`
    under `folder` (the inbox's `crm/`); return a manifest with the planted records, each
    with file, position (line) and field path."""
    folder = Path(folder)
    org = _Org(world)
    folder.mkdir(parents=True, exist_ok=True)
    texts = {"accounts.json": _json(query_result(org.accounts)), "contracts.json": _json(query_result(org.contracts)),
             "sites.csv": _csv(SITE_COLUMNS, org.sites)}
    for name, text in texts.items():
        _write_if_changed(folder / name, text)
    for stale in ("accounts.csv", "contacts.csv", "contracts.csv", "contract_lines.csv"):
        (folder / stale).unlink(missing_ok=True)  # an export of an earlier layout
    position = next(n for n, c in enumerate(org.contracts, start=1) if c["ContractNumber"] == "K-9001-M")
    for p in org.planted:
        if p["kind"] == "quarterly_contract":
            p.update(file="contracts.json", line=position, field="Billing_Cycle__c")
        elif p["kind"] == "missing_amount":
            p.update(file="contracts.json", line=position, field=f"{LINE_RELATIONSHIP}.records[0].MonthlyAmount")
        elif p["kind"] == "autopay_without_payment_method":
            p.update(file="accounts.json", line=next(n for n, a in enumerate(org.accounts, start=1)
                                                     if a["Vigil_Client_Id__c"] == p["record_id"]))
    return {"source": SOURCE, "folder": str(folder), "files": sorted(texts),
            "counts": {"accounts": len(org.accounts), "contracts": len(org.contracts), "sites": len(org.sites)},
            "planted": org.planted, "quarantine_expected": sum(1 for p in org.planted if p["expect"] == "quarantine")}


def write_csv_exports(world: Any, folder: Path) -> list[str]:
    """The same records as Salesforce Data Loader CSVs (every field quoted, `Id` and
    `AccountId`/`Contract__c` as join keys), plus `sites.csv`."""
    folder = Path(folder)
    org = _Org(world)
    contacts = [{**c, "AccountId": a["Id"]} for a in org.accounts for c in a["Contacts"]["records"]]
    lines = [line for c in org.contracts for line in c[LINE_RELATIONSHIP]["records"]]
    tables = {"accounts.csv": org.accounts, "contacts.csv": contacts, "contracts.csv": org.contracts,
              "contract_lines.csv": lines}
    folder.mkdir(parents=True, exist_ok=True)
    for name, records in tables.items():
        columns = [k for k in records[0] if k != "attributes" and not isinstance(records[0][k], dict)]
        _write_if_changed(folder / name, _csv(columns, records, quote_all=True))
    _write_if_changed(folder / "sites.csv", _csv(SITE_COLUMNS, org.sites))
    return sorted([*tables, "sites.csv"])


def _json(page: dict[str, Any]) -> str:
    return json.dumps(page, indent=1, default=_number)


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # only when written: JSON numbers, as Salesforce sends currency fields
    raise TypeError(f"not JSON: {value!r}")


def _csv(columns: list[str], rows: list[dict[str, Any]], quote_all: bool = False) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore",
                            quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
    return buf.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8", newline="")
