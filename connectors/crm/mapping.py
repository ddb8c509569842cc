"""One CRM account bundle -> one client contract document (interfaces.md section 3), or
every problem found in it: an account is all-or-nothing, like a contract file.

Billing cycles: Vigil bills daily, weekly, biweekly, monthly, and (an extension of
interfaces.md section 3, docs/interfaces.md) quarterly, semiannual and annual calendar
cycles: Salesforce `Billing_Cycle__c` Quarterly / Semi-Annual / Annual, SedonaOffice
`BillCycle` Q / S / A, HubSpot `recurringbillingfrequency` quarterly / per_six_months /
annually. A recurring amount in Vigil is per cycle: a line's `MonthlyAmount` (Salesforce
`Monthly_Amount__c`, the line's MRR) on a quarterly contract becomes 3 x it per quarter (6, 12
on a semiannual or annual one); a HubSpot line item billed on the contract's own cycle gives
its `amount` per that cycle (`CycleAmount`), used as is. A line billed on another cycle than
its contract's is refused, never billed on the contract's: one contract, one invoice rhythm."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.crm.records import AccountBundle, ContractRows, Problem, Row
from connectors.inbox.contracts import validate_document
from connectors.vendor_parsing import iana_zone
from vigil.billing_cycles import CYCLE_MONTHS

IN_FORCE = ("activated", "terminated", "expired")
NOT_YET = ("draft", "in approval", "in approval process", "lost")  # lost: a HubSpot deal never won
# calendar cycles (Salesforce picklist labels, SedonaOffice codes, HubSpot frequencies) -> ours
CALENDAR_CYCLES = {"monthly": "monthly", "m": "monthly", "quarterly": "quarterly", "q": "quarterly",
                   "semi-annual": "semiannual", "semiannual": "semiannual", "semi-annually": "semiannual",
                   "s": "semiannual", "per_six_months": "semiannual", "annual": "annual", "annually": "annual",
                   "yearly": "annual", "a": "annual"}
CYCLES = {**CALENDAR_CYCLES, "weekly": "weekly", "biweekly": "biweekly", "daily": "daily"}
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
            fail(acc, column, f"missing {column}" + (" (the Vigil client id; Vigil_Client_Id__c in Salesforce)"
                                                      if column == "ExternalId" else ""))
    contacts = sorted(bundle.contacts, key=lambda r: {"billing": 0, "primary": 1}.get(r.get("Role").lower(), 2))
    email = next((r.get("Email") for r in contacts if r.get("Email")), "")
    phone = acc.get("Phone") or next((r.get("Phone") for r in contacts if r.get("Phone")), "")
    if email:
        client["email"] = email
    if phone:
        client["phone"] = phone
    if not email and not phone:
        fail(acc, "Email", "no billing contact email and no phone: the client cannot be invoiced")
    channel = _picklist(acc, "PreferredChannel", CHANNELS, "Email, SMS or Portal", fail)
    if channel:
        client["preferred_channel"] = channel
    autopay = _bool(acc, "AutoPay", fail)
    if autopay:
        client["autopay"] = True
    method = acc.get("PaymentMethodRef")
    if method:
        client["payment_method"] = method  # autopay without one is accepted: dbt raises missing_payment_method
    grouping = _picklist(acc, "InvoiceGrouping", GROUPINGS, "Consolidated or Per Site", fail)
    if grouping:
        client["grouping"] = grouping
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
        if site["timezone"] and iana_zone(site["timezone"]) is None:
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
        fail(row, "Billing_Cycle__c", f"Billing_Cycle__c {raw_cycle!r} is not a billing cycle (Monthly, Quarterly, "
                                      f"Semi-Annual, Annual, Weekly, Biweekly or Daily)")
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
        item = _line(line, cycle, start, end, site_ids, fail)
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
        elif recurring and Decimal(rmr) * CYCLE_MONTHS.get(cycle, 1) != total:
            months = CYCLE_MONTHS.get(cycle, 1)
            fail(row, "RMR__c", f"RMR__c {rmr} does not equal the sum of its recurring lines {total:.2f}"
                 if months == 1 else f"RMR__c {rmr} x {months} months does not equal the sum of its recurring "
                                     f"lines per {cycle} cycle {total:.2f}")
    if recurring:
        contract["recurring"] = recurring
    if per_device:
        contract["per_device"] = per_device
    promo = _promo(row, fail)
    if promo:
        contract["discounts"] = [promo]
    return contract


def _line(line: Row, contract_cycle: str | None, start: date | None, end: date | None, site_ids: set[str],
          fail) -> dict | None:
    """One recurring line -> a recurring item (amount per the contract's cycle) or a per-device
    fee (monthly), or None."""
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
    raw_cycle = line.get("BillCycle")
    line_cycle = CALENDAR_CYCLES.get(raw_cycle.lower()) if raw_cycle else "monthly"
    if line_cycle is None:
        fail(line, "BillCycle", f"BillCycle {raw_cycle!r} is not M, Q, S or A (monthly, quarterly, semi-annual, "
                                f"annual)")
    elif line_cycle != "monthly" and contract_cycle is not None and line_cycle != contract_cycle:
        fail(line, "BillCycle", f"BillCycle {raw_cycle!r} (every {CYCLE_MONTHS[line_cycle]} months) is not its "
                                f"contract's {contract_cycle} cycle: Vigil invoices a contract on one cycle, so the "
                                f"line is refused rather than billed on another")
    months = CYCLE_MONTHS.get(contract_cycle or "", 1)
    per_cycle = line.get("CycleAmount")  # HubSpot: the line item's amount per its own billing frequency
    if per_cycle and line_cycle not in (None, "monthly"):
        column, amount = "CycleAmount", per_cycle
    else:
        column, amount = "MonthlyAmount", line.get("MonthlyAmount")
    if not _MONEY.match(amount):
        fail(line, column, f"{column} {amount!r} is not an amount (e.g. 89.00)" if amount else f"missing {column}")
        amount = None
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
    if column == "CycleAmount":
        per_cycle, monthly = Decimal(amount), Decimal(amount) / months
    else:
        per_cycle, monthly = Decimal(amount) * months, Decimal(amount)
    money = f"{per_cycle:.2f}"
    if category == "per_device":
        if monthly != round(monthly, 2):
            fail(line, column, f"{column} {amount} per {contract_cycle} cycle is not a whole number of cents a "
                               f"month, and a device fee is monthly: give the line's monthly amount")
            return None
        device = line.get("DeviceType")
        if not _CODE.match(device):
            fail(line, "DeviceType", f"DeviceType {device!r} is not a device type code (e.g. camera)"
                 if device else "missing DeviceType for a Device Monitoring line")
            return None
        return {"device_type": device, **({"site_id": site} if site else {}), "monthly_fee": f"{monthly:.2f}"}
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
    plain = format(Decimal(percent), "f")  # 10.0 (a Salesforce percent field) and 10 are one percent
    if "." in plain:
        plain = plain.rstrip("0").rstrip(".")
    return {"percent": plain, "categories": categories, "cycles": int(cycles)}


# --- merge with the contracts folder ----------------------------------------------------------


def _picklist(row: Row, column: str, values: dict[str, str], names: str, fail) -> str | None:
    """An optional picklist field as our value (its label compared case-insensitively); an
    empty one is None, any other label refuses the row naming the labels allowed."""
    label = row.get(column)
    if label and label.lower() not in values:
        fail(row, column, f"{column} {label!r} is not {names}")
    return values.get(label.lower())


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
