"""The simulated world's monitoring contracts as the CRM holds them (connectors/simulator/
world.py): one account per client (`Client.crm_account_id`, ExternalId = our client id),
its sites and contacts, each monitoring contract with its recurring lines.

Planted on top of the world:
- the client the world plants with `autopay: true` and no payment method (if the world
  has none, the first autopay client loses its PaymentMethodRef here): accepted, and the
  document has `autopay: true` and no `payment_method` (finding `missing_payment_method`);
- a newly signed account whose contract has no StartDate and whose line amount is `TBD`:
  both rows quarantined, the account refused whole;
- a Draft upsell contract on the first account: not in force, left out (not refused)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SOURCE = "crm"
ACCOUNT_COLUMNS = ["AccountNumber", "ExternalId", "Name", "Phone", "PreferredChannel", "AutoPay", "PaymentMethodRef",
                   "InvoiceGrouping", "Currency", "LastModifiedDate"]
SITE_COLUMNS = ["SiteId", "AccountNumber", "SiteName", "City", "State", "TimeZone", "TaxJurisdiction"]
CONTACT_COLUMNS = ["ContactId", "AccountNumber", "FirstName", "LastName", "Email", "Phone", "Role"]
CONTRACT_COLUMNS = ["ContractNumber", "AccountNumber", "Status", "StartDate", "EndDate", "ContractTerm",
                    "Service_Tier__c", "RMR__c", "Billing_Cycle__c", "Auto_Renew__c", "Issue_Lead_Days__c",
                    "Promo_Percent__c", "Promo_Categories__c", "Promo_Cycles__c"]
LINE_COLUMNS = ["CustomerRecurringId", "ContractNumber", "ItemCode", "Family", "SiteId", "DeviceType",
                "MonthlyAmount", "BillCycle", "CycleStartDate", "CycleEndDate", "IsCancelled"]
FAMILY = {"monitoring": "Monitoring", "equipment_rental": "Equipment Rental", "service_fee": "Service Fee"}
TIERS = {"MON-STD": "Standard", "MON-GOLD": "Gold", "MON-VIDEO": "Video Guard Plus"}
CHANNEL = {"email": "Email", "sms": "SMS", "portal": "Portal"}
SEDONA_NULL = "12/30/1899"
NEW_ACCOUNT = "ACCT-49001"


def _mdy(day: date) -> str:
    return day.strftime("%m/%d/%Y")


def _months(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + (1 if end.day >= start.day - 1 else 0)


def _modified(world: Any, n: int) -> str:
    """LastModifiedDate: the morning of the window's first day, one minute per account."""
    at = datetime.combine(world.start, time(8, n % 60), tzinfo=ZoneInfo("UTC"))
    return at.isoformat().replace("+00:00", "Z")


def accounts(world: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The world's CRM accounts as nested objects (the API shape, and the source of the
    CSV export) and what was planted."""
    planted: list[dict[str, Any]] = []
    no_method = {p.record_id for p in world.planted if p.kind == "autopay_without_payment_method"}
    if not no_method:
        first = next((c for c in world.clients if c.autopay), None)
        if first is not None:
            no_method = {first.client_id}
    line_id = 40200
    out = []
    for n, client in enumerate(world.clients):
        sites = [world.site(s) for s in client.site_ids]
        account: dict[str, Any] = {
            "AccountNumber": client.crm_account_id, "ExternalId": client.client_id, "Name": client.name,
            "Phone": client.phone, "PreferredChannel": CHANNEL[client.preferred_channel],
            "AutoPay": "true" if client.autopay else "false",
            "PaymentMethodRef": "" if client.client_id in no_method else (client.payment_method or ""),
            "InvoiceGrouping": "Per Site" if client.grouping == "per_site" else "Consolidated",
            "Currency": "USD", "LastModifiedDate": _modified(world, n),
        }
        if client.client_id in no_method:
            planted.append({"kind": "autopay_without_payment_method", "record_id": client.client_id,
                            "account": client.crm_account_id, "expect": "missing_payment_method",
                            "note": "AutoPay true and PaymentMethodRef empty: accepted, finding raised downstream"})
        account["sites"] = [{"SiteId": s.site_id, "AccountNumber": client.crm_account_id, "SiteName": s.name,
                             "City": s.city, "State": s.state, "TimeZone": s.timezone,
                             "TaxJurisdiction": s.tax_jurisdiction} for s in sites]
        local, domain = client.email.split("@", 1)
        account["contacts"] = [
            {"ContactId": f"003-{client.client_id[2:]}-1", "AccountNumber": client.crm_account_id,
             "FirstName": "Accounts", "LastName": "Payable", "Email": client.email, "Phone": client.phone,
             "Role": "Billing"},
            {"ContactId": f"003-{client.client_id[2:]}-2", "AccountNumber": client.crm_account_id,
             "FirstName": "Facilities", "LastName": "Manager", "Email": f"facilities@{domain}", "Phone": "",
             "Role": "Primary"},
        ]
        contracts = []
        for k in (k for k in world.contracts if k.client_id == client.client_id and k.kind == "monitoring"):
            lines = []
            for item in k.recurring:
                line_id += 1
                lines.append({"CustomerRecurringId": line_id, "ContractNumber": k.contract_id, "ItemCode": item.code,
                              "Family": FAMILY[item.category], "SiteId": item.site_id, "DeviceType": "",
                              "MonthlyAmount": f"{item.amount:.2f}", "BillCycle": "M",
                              "CycleStartDate": _mdy(k.start_date), "CycleEndDate": SEDONA_NULL,
                              "IsCancelled": "false"})
            for fee in k.per_device:
                line_id += 1
                lines.append({"CustomerRecurringId": line_id, "ContractNumber": k.contract_id,
                              "ItemCode": f"DEV-{fee.device_type.upper()}", "Family": "Device Monitoring",
                              "SiteId": fee.site_id or "", "DeviceType": fee.device_type,
                              "MonthlyAmount": f"{fee.monthly_fee:.2f}", "BillCycle": "M",
                              "CycleStartDate": _mdy(k.start_date), "CycleEndDate": SEDONA_NULL,
                              "IsCancelled": "false"})
            promo = k.discounts[0] if k.discounts else None
            plan = next((r.code for r in k.recurring if r.category == "monitoring"), "")
            contracts.append({
                "ContractNumber": k.contract_id, "AccountNumber": client.crm_account_id, "Status": "Activated",
                "StartDate": k.start_date.isoformat(), "EndDate": k.end_date.isoformat(),
                "ContractTerm": _months(k.start_date, k.end_date), "Service_Tier__c": TIERS.get(plan, plan),
                "RMR__c": f"{sum(r.amount for r in k.recurring):.2f}", "Billing_Cycle__c": "Monthly",
                "Auto_Renew__c": "true" if k.auto_renew else "false",
                "Issue_Lead_Days__c": k.issue_lead_days if k.issue_lead_days is not None else "",
                "Promo_Percent__c": str(promo.percent) if promo else "",
                "Promo_Categories__c": ";".join(FAMILY[c] for c in promo.categories) if promo else "",
                "Promo_Cycles__c": promo.cycles if promo else "",
                "lines": lines,
            })
        if n == 0 and contracts:
            first_site = sites[0].site_id
            contracts.append({
                "ContractNumber": f"K-{client.client_id[2:]}-M2", "AccountNumber": client.crm_account_id,
                "Status": "Draft", "StartDate": "", "EndDate": "", "ContractTerm": 12,
                "Service_Tier__c": "Video Guard Plus", "RMR__c": "", "Billing_Cycle__c": "Monthly",
                "Auto_Renew__c": "true", "Issue_Lead_Days__c": "", "Promo_Percent__c": "",
                "Promo_Categories__c": "", "Promo_Cycles__c": "",
                "lines": [{"CustomerRecurringId": 40999, "ContractNumber": f"K-{client.client_id[2:]}-M2",
                           "ItemCode": "MON-VIDEO", "Family": "Monitoring", "SiteId": first_site, "DeviceType": "",
                           "MonthlyAmount": "149.00", "BillCycle": "M", "CycleStartDate": SEDONA_NULL,
                           "CycleEndDate": SEDONA_NULL, "IsCancelled": "false"}],
            })
            planted.append({"kind": "draft_contract", "record_id": f"K-{client.client_id[2:]}-M2",
                            "account": client.crm_account_id, "expect": "none",
                            "note": "Draft contract: not in force, left out of the document"})
        account["contracts"] = contracts
        out.append(account)
    out.append(_new_account(world, len(world.clients)))
    planted += [
        {"kind": "missing_start_date", "record_id": "K-9001-M", "account": NEW_ACCOUNT, "expect": "quarantine",
         "note": "contract without StartDate: refused with its whole account"},
        {"kind": "non_numeric_amount", "record_id": "K-9001-M", "account": NEW_ACCOUNT, "expect": "quarantine",
         "note": "MonthlyAmount 'TBD' is not an amount: refused with its whole account"},
    ]
    return out, planted


def _new_account(world: Any, n: int) -> dict[str, Any]:
    """A client signed in the CRM whose data entry is unfinished."""
    return {
        "AccountNumber": NEW_ACCOUNT, "ExternalId": "C-9001", "Name": "Northwind Self Storage",
        "Phone": "+15555550999", "PreferredChannel": "Email", "AutoPay": "false", "PaymentMethodRef": "",
        "InvoiceGrouping": "Consolidated", "Currency": "USD", "LastModifiedDate": _modified(world, n),
        "sites": [{"SiteId": "S-9001", "AccountNumber": NEW_ACCOUNT, "SiteName": "Northwind Storage - Route 9",
                   "City": "Albany", "State": "NY", "TimeZone": "America/New_York", "TaxJurisdiction": "US-NY"}],
        "contacts": [{"ContactId": "003-9001-1", "AccountNumber": NEW_ACCOUNT, "FirstName": "Dana",
                      "LastName": "Price", "Email": "ap@northwindstorage.example", "Phone": "", "Role": "Billing"}],
        "contracts": [{
            "ContractNumber": "K-9001-M", "AccountNumber": NEW_ACCOUNT, "Status": "Activated", "StartDate": "",
            "EndDate": "", "ContractTerm": 12, "Service_Tier__c": "Standard", "RMR__c": "",
            "Billing_Cycle__c": "Monthly", "Auto_Renew__c": "true", "Issue_Lead_Days__c": 5,
            "Promo_Percent__c": "", "Promo_Categories__c": "", "Promo_Cycles__c": "",
            "lines": [{"CustomerRecurringId": 49001, "ContractNumber": "K-9001-M", "ItemCode": "MON-STD",
                       "Family": "Monitoring", "SiteId": "S-9001", "DeviceType": "", "MonthlyAmount": "TBD",
                       "BillCycle": "M", "CycleStartDate": SEDONA_NULL, "CycleEndDate": SEDONA_NULL,
                       "IsCancelled": "false"}],
        }],
    }


def records_for_server(world: Any) -> list[dict[str, Any]]:
    """The accounts as the CRM API serves them (nested objects, planted rows included)."""
    return accounts(world)[0]


def write_exports(world: Any, folder: Path) -> dict[str, Any]:
    """Write the CRM export (five CSVs) under `folder` (the inbox's `crm/`) and return a
    manifest: files, counts, planted problems with file and line."""
    folder = Path(folder)
    items, planted = accounts(world)
    tables: dict[str, list[dict[str, Any]]] = {"accounts.csv": [], "sites.csv": [], "contacts.csv": [],
                                               "contracts.csv": [], "contract_lines.csv": []}
    for account in items:
        tables["accounts.csv"].append({k: v for k, v in account.items() if not isinstance(v, list)})
        tables["sites.csv"].extend(account["sites"])
        tables["contacts.csv"].extend(account["contacts"])
        for contract in account["contracts"]:
            tables["contracts.csv"].append({k: v for k, v in contract.items() if k != "lines"})
            tables["contract_lines.csv"].extend(contract["lines"])
    for p in planted:
        if p["kind"] == "missing_start_date":
            p["file"], p["line"] = "contracts.csv", _line_of(tables["contracts.csv"], "ContractNumber", "K-9001-M")
        elif p["kind"] == "non_numeric_amount":
            p["file"], p["line"] = "contract_lines.csv", _line_of(tables["contract_lines.csv"], "ContractNumber",
                                                                  "K-9001-M")
        elif p["kind"] == "autopay_without_payment_method":
            p["file"], p["line"] = "accounts.csv", _line_of(tables["accounts.csv"], "ExternalId", p["record_id"])
    columns = {"accounts.csv": ACCOUNT_COLUMNS, "sites.csv": SITE_COLUMNS, "contacts.csv": CONTACT_COLUMNS,
               "contracts.csv": CONTRACT_COLUMNS, "contract_lines.csv": LINE_COLUMNS}
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        text = _csv(columns[name], rows)
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8", newline="")
    return {"source": SOURCE, "folder": str(folder), "files": sorted(tables),
            "counts": {name: len(rows) for name, rows in tables.items()}, "planted": planted,
            "quarantine_expected": sum(1 for p in planted if p["expect"] == "quarantine")}


def write_json_export(world: Any, folder: Path) -> Path:
    """The same accounts as one JSON page (`accounts.json`), the API's shape."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "accounts.json"
    path.write_text(json.dumps({"data": records_for_server(world)}, indent=1), encoding="utf-8")
    return path


def _line_of(rows: list[dict[str, Any]], key: str, value: str) -> int:
    return next(n for n, row in enumerate(rows, start=2) if row.get(key) == value)


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in columns})
    return buf.getvalue()
