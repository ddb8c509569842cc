"""CRM connector: export mapping into contract documents (completeness checks, the
autopay-without-payment-method client, merging with the contracts YAML) and the REST
client over real HTTP against the local fake (API key, cursor paging, retries, cursor)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from connectors.crm import parser, simulator
from connectors.crm.client import CrmAuthError, CrmClient
from connectors.crm.fake_server import FakeCrm
from connectors.inbox.contracts import parse_contracts, validate_document
from connectors.simulator.generic import write_generic
from connectors.simulator.world import build_world

ACCOUNTS = [
    {"AccountNumber": "A-1", "ExternalId": "C-1", "Name": "Harbor Logistics LLC", "Phone": "+15555550100",
     "PreferredChannel": "Email", "AutoPay": "true", "PaymentMethodRef": "pm_card_visa",
     "InvoiceGrouping": "Consolidated", "Currency": "usd"},
    {"AccountNumber": "A-2", "ExternalId": "C-2", "Name": "Bayview Apartments", "Phone": "",
     "PreferredChannel": "Portal", "AutoPay": "Y", "PaymentMethodRef": "", "InvoiceGrouping": "Per Site"},
    {"AccountNumber": "A-3", "ExternalId": "C-3", "Name": "Granite Financial", "Phone": "+15555550300",
     "PreferredChannel": "", "AutoPay": "", "PaymentMethodRef": "", "InvoiceGrouping": ""},
    {"AccountNumber": "A-4", "ExternalId": "C-4", "Name": "No Contact Co", "Phone": "", "PreferredChannel": "",
     "AutoPay": "false", "PaymentMethodRef": "", "InvoiceGrouping": ""},
]
SITES = [
    {"SiteId": "S-1", "AccountNumber": "A-1", "SiteName": "Terminal 4", "TimeZone": "America/New_York",
     "TaxJurisdiction": "US-NY"},
    {"SiteId": "S-2", "AccountNumber": "A-2", "SiteName": "Bayview East", "TimeZone": "America/Chicago",
     "TaxJurisdiction": "US-IL"},
    {"SiteId": "S-3", "AccountNumber": "A-3", "SiteName": "Granite HQ", "TimeZone": "America/Denver",
     "TaxJurisdiction": "US-CO"},
    {"SiteId": "S-4", "AccountNumber": "A-4", "SiteName": "Nowhere", "TimeZone": "Mars/Olympus",
     "TaxJurisdiction": "US-CA"},
    {"SiteId": "S-9", "AccountNumber": "A-99", "SiteName": "Orphan", "TimeZone": "America/Chicago",
     "TaxJurisdiction": "US-IL"},
]
CONTACTS = [
    {"AccountNumber": "A-1", "FirstName": "Pat", "LastName": "Ops", "Email": "ops@harbor.example", "Role": "Primary"},
    {"AccountNumber": "A-1", "FirstName": "AP", "LastName": "Team", "Email": "ap@harbor.example", "Role": "Billing"},
    {"AccountNumber": "A-2", "FirstName": "Bo", "LastName": "Lee", "Email": "bo@bayview.example", "Role": "Primary"},
    {"AccountNumber": "A-3", "FirstName": "Al", "LastName": "Fin", "Email": "", "Role": "Billing"},
]
CONTRACTS = [
    {"ContractNumber": "K-1-M", "AccountNumber": "A-1", "Status": "Activated", "StartDate": "2026-03-15",
     "EndDate": "", "ContractTerm": "12", "RMR__c": "124.00", "Billing_Cycle__c": "Monthly",
     "Auto_Renew__c": "true", "Issue_Lead_Days__c": "7", "Promo_Percent__c": "10",
     "Promo_Categories__c": "Monitoring", "Promo_Cycles__c": "3", "Service_Tier__c": "Gold"},
    {"ContractNumber": "K-1-D", "AccountNumber": "A-1", "Status": "Draft", "StartDate": "", "EndDate": "",
     "Billing_Cycle__c": "Monthly"},
    {"ContractNumber": "K-2-M", "AccountNumber": "A-2", "Status": "Activated", "StartDate": "04/01/2026",
     "EndDate": "2027-03-31", "RMR__c": "79.00", "Billing_Cycle__c": "monthly"},
    {"ContractNumber": "K-3-M", "AccountNumber": "A-3", "Status": "Activated", "StartDate": "2026-01-01",
     "EndDate": "2026-12-31", "RMR__c": "50.00", "Billing_Cycle__c": "Quarterly"},
]
LINES = [
    {"CustomerRecurringId": "1", "ContractNumber": "K-1-M", "ItemCode": "MON-GOLD", "Family": "Monitoring",
     "SiteId": "S-1", "MonthlyAmount": "89.00", "BillCycle": "M", "CycleStartDate": "03/15/2026",
     "CycleEndDate": "12/30/1899", "IsCancelled": "false"},
    {"CustomerRecurringId": "2", "ContractNumber": "K-1-M", "ItemCode": "CAM-RENT", "Family": "Equipment Rental",
     "SiteId": "S-1", "MonthlyAmount": "35", "BillCycle": "M", "CycleStartDate": "06/01/2026",
     "CycleEndDate": "12/30/1899", "IsCancelled": "false"},
    {"CustomerRecurringId": "3", "ContractNumber": "K-1-M", "ItemCode": "DEV-CAM", "Family": "Device Monitoring",
     "SiteId": "", "DeviceType": "camera", "MonthlyAmount": "4.50", "IsCancelled": "false"},
    {"CustomerRecurringId": "4", "ContractNumber": "K-1-M", "ItemCode": "OLD", "Family": "Monitoring",
     "SiteId": "S-1", "MonthlyAmount": "10.00", "IsCancelled": "true"},
    {"CustomerRecurringId": "5", "ContractNumber": "K-2-M", "ItemCode": "MON-STD", "Family": "Monitoring",
     "SiteId": "S-2", "MonthlyAmount": "79.00", "IsCancelled": "false"},
    {"CustomerRecurringId": "6", "ContractNumber": "K-3-M", "ItemCode": "MON-STD", "Family": "Monitoring",
     "SiteId": "S-3", "MonthlyAmount": "50.00", "IsCancelled": "false"},
    {"CustomerRecurringId": "7", "ContractNumber": "K-404", "ItemCode": "MON-STD", "Family": "Monitoring",
     "SiteId": "S-3", "MonthlyAmount": "50.00", "IsCancelled": "false"},
]


def _write(path: Path, rows: list[dict], columns: list[str] | None = None) -> None:
    columns = columns or sorted({k for r in rows for k in r})
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _folder(tmp_path: Path, **override) -> Path:
    folder = tmp_path / "crm"
    folder.mkdir(exist_ok=True)
    tables = {"accounts.csv": ACCOUNTS, "sites.csv": SITES, "contacts.csv": CONTACTS, "contracts.csv": CONTRACTS,
              "contract_lines.csv": LINES, **override}
    for name, rows in tables.items():
        _write(folder / name, rows, ["ContractNumber", "ItemCode", "Family", "SiteId", "DeviceType", "MonthlyAmount",
                                     "BillCycle", "CycleStartDate", "CycleEndDate", "IsCancelled",
                                     "CustomerRecurringId"] if name == "contract_lines.csv" else None)
    return folder


def _docs(result) -> dict[str, dict]:
    return {r["client_id"]: json.loads(r["document"]) for r in result.rows.iter_rows(named=True)}


def test_accounts_map_to_contract_documents(tmp_path):
    [result] = parser.parse_folder(_folder(tmp_path))
    assert result.source == "crm" and result.table == "contract_documents"
    assert set(result.rows.columns) == {"client_id", "document", "source_file", "content_hash"}
    docs = _docs(result)
    assert set(docs) == {"C-1", "C-2"}
    one = docs["C-1"]
    assert one["client"] == {"id": "C-1", "name": "Harbor Logistics LLC", "email": "ap@harbor.example",
                             "phone": "+15555550100", "preferred_channel": "email", "autopay": True,
                             "payment_method": "pm_card_visa", "grouping": "consolidated", "currency": "USD"}
    assert one["sites"] == [{"id": "S-1", "name": "Terminal 4", "timezone": "America/New_York",
                             "tax_jurisdiction": "US-NY"}]
    [contract] = one["contracts"]  # the Draft is not in force
    assert contract["start_date"] == "2026-03-15" and contract["end_date"] == "2027-03-14"  # 12-month term
    assert contract["billing_cycle"] == "monthly" and contract["auto_renew"] is True
    assert contract["issue_lead_days"] == 7
    assert contract["recurring"] == [
        {"code": "MON-GOLD", "category": "monitoring", "site_id": "S-1", "amount": "89.00"},
        {"code": "CAM-RENT", "category": "equipment_rental", "site_id": "S-1", "amount": "35.00",
         "effective_from": "2026-06-01"}]  # the cancelled line is left out
    assert contract["per_device"] == [{"device_type": "camera", "monthly_fee": "4.50"}]
    assert contract["discounts"] == [{"percent": "10", "categories": ["monitoring"], "cycles": 3}]
    assert validate_document(one) == []
    assert docs["C-2"]["contracts"][0]["start_date"] == "2026-04-01"  # MM/DD/YYYY accepted
    assert docs["C-2"]["client"]["grouping"] == "per_site"


def test_autopay_without_payment_method_is_accepted_for_the_finding(tmp_path):
    [result] = parser.parse_folder(_folder(tmp_path))
    client = _docs(result)["C-2"]["client"]
    assert client["autopay"] is True and "payment_method" not in client
    assert client["email"] == "bo@bayview.example" and "phone" not in client  # Primary contact when no Billing


def test_incomplete_accounts_are_refused_with_file_line_field_reason(tmp_path):
    [result] = parser.parse_folder(_folder(tmp_path))
    refused = {(Path(q.file_path).name, q.line, q.field): q for q in result.quarantined}
    quarterly = refused[("contracts.csv", 5, "Billing_Cycle__c")]
    assert "not supported" in quarterly.reason and "refused whole" in quarterly.reason
    assert quarterly.record_id == "K-3-M"
    assert "no billing contact email and no phone" in refused[("accounts.csv", 5, "Email")].reason
    assert "not an IANA timezone" in refused[("sites.csv", 5, "TimeZone")].reason
    assert "not in accounts.csv" in refused[("sites.csv", 6, "AccountNumber")].reason
    assert "not in contracts.csv" in refused[("contract_lines.csv", 8, "ContractNumber")].reason
    assert json.loads(quarterly.content)["ContractNumber"] == "K-3-M"


@pytest.mark.parametrize(("change", "field", "reason"), [
    ({"RMR__c": "130.00"}, "RMR__c", "does not equal the sum"),
    ({"StartDate": ""}, "StartDate", "missing StartDate"),
    ({"ContractTerm": ""}, "EndDate", "no ContractTerm"),
    ({"Status": "Pending"}, "Status", "is not one of"),
    ({"Promo_Cycles__c": ""}, "Promo_Percent__c", "a promotion needs"),
])
def test_contract_missing_required_data_is_refused(tmp_path, change, field, reason):
    contracts = [dict(CONTRACTS[0], **change)]
    [result] = parser.parse_folder(_folder(tmp_path, **{"contracts.csv": contracts}))
    assert "C-1" not in _docs(result)
    hits = [q for q in result.quarantined if q.field == field and Path(q.file_path).name == "contracts.csv"]
    assert hits and reason in hits[0].reason and hits[0].line == 2


def test_bad_line_refuses_its_account(tmp_path):
    lines = [dict(LINES[0], MonthlyAmount="89,00"), *LINES[1:3]]
    [result] = parser.parse_folder(_folder(tmp_path, **{"contract_lines.csv": lines}))
    assert "C-1" not in _docs(result)
    [hit] = [q for q in result.quarantined if q.field == "MonthlyAmount"]
    assert hit.line == 2 and "89,00" in hit.reason


def test_simulated_export_with_planted_rows(tmp_path):
    world = build_world(days=35, clients=4, seed=7)
    manifest = simulator.write_exports(world, tmp_path / "crm")
    [result] = parser.parse_folder(tmp_path / "crm")
    docs = _docs(result)
    assert set(docs) == {c.client_id for c in world.clients}
    assert len(result.quarantined) == manifest["quarantine_expected"] == 2
    where = {(Path(q.file_path).name, q.line, q.record_id) for q in result.quarantined}
    for p in manifest["planted"]:
        if p["expect"] == "quarantine":
            assert (p["file"], p["line"], p["record_id"]) in where
    [autopay] = [p for p in manifest["planted"] if p["kind"] == "autopay_without_payment_method"]
    client = docs[autopay["record_id"]]["client"]
    assert client["autopay"] is True and "payment_method" not in client
    monitoring = {k.contract_id for k in world.contracts if k.kind == "monitoring"}
    assert {c["id"] for d in docs.values() for c in d["contracts"]} == monitoring  # drafts left out
    json_folder = tmp_path / "json" / "crm"
    simulator.write_json_export(world, json_folder)
    [from_json] = parser.parse_folder(json_folder)
    assert sorted(from_json.rows["content_hash"]) == sorted(result.rows["content_hash"])
    assert len(from_json.quarantined) == 2


def test_merge_with_contracts_yaml(tmp_path):
    world = build_world(days=35, clients=4, seed=7)
    write_generic(world, tmp_path)
    simulator.write_exports(world, tmp_path / "crm")
    yaml_docs = _docs(parse_contracts(sorted((tmp_path / "contracts").glob("*.yaml"))))
    [result] = parser.parse_folder(tmp_path / "crm")
    merged = _docs(result)
    # same monitoring contracts in both: the merged document is the YAML one, byte for byte
    assert merged == {c: yaml_docs[c] for c in merged}
    # a new CRM-only monitoring contract and site are added; YAML keeps client and guarding
    base = yaml_docs["C-1001"]
    crm_doc = {"client": {"id": "C-1001", "name": "CRM Name", "email": "x@y.example"},
               "sites": [{"id": "S-190", "name": "New Lot", "timezone": "America/New_York",
                          "tax_jurisdiction": "US-NY"}],
               "contracts": [{"id": "K-1001-M9", "start_date": "2026-10-01", "end_date": "2027-09-30",
                              "billing_cycle": "monthly",
                              "recurring": [{"code": "MON-STD", "category": "monitoring", "site_id": "S-190",
                                             "amount": "79.00"}]}]}
    bundle = parser.AccountBundle(parser.Row("accounts.csv", 2, {"AccountNumber": "A", "ExternalId": "C-1001"}))
    doc, problems = parser.merge(crm_doc, base, bundle)
    assert problems == []
    assert doc["client"] == base["client"]
    assert [s["id"] for s in doc["sites"]] == [s["id"] for s in base["sites"]] + ["S-190"]
    assert [c["id"] for c in doc["contracts"]] == [c["id"] for c in base["contracts"]] + ["K-1001-M9"]
    # the CRM may not replace a contract that prices guard work
    clash = dict(crm_doc, contracts=[dict(crm_doc["contracts"][0], id="K-1001-G")])
    doc, problems = parser.merge(clash, base, bundle)
    assert doc is None and "prices guard work" in problems[0].reason


def test_refused_yaml_blocks_the_merge(tmp_path):
    world = build_world(days=35, clients=4, seed=7)
    write_generic(world, tmp_path)
    simulator.write_exports(world, tmp_path / "crm")
    path = tmp_path / "contracts" / "C-1002.yaml"
    path.write_text(path.read_text().replace("billing_cycle: biweekly", "billing_cycle: fortnightly"))
    [result] = parser.parse_folder(tmp_path / "crm")
    assert "C-1002" not in _docs(result)
    [hit] = [q for q in result.quarantined if q.field == "ExternalId"]
    assert "C-1002.yaml" in hit.reason and "not merged" in hit.reason


def test_inbox_hands_the_crm_folder_to_this_parser(tmp_path):
    from connectors.inbox import parse_inbox

    _folder(tmp_path)
    [result] = [r for r in parse_inbox(tmp_path) if r.source == "crm"]
    assert result.table == "contract_documents" and result.rows.height == 2


def test_documents_store_like_contract_files(conn, tmp_path):
    from connectors.store import store_results

    _folder(tmp_path)
    first = store_results(conn, parser.parse_folder(tmp_path / "crm"))
    assert first.ingested["crm"] == 2 and first.tables["quarantine"] >= 5
    again = store_results(conn, parser.parse_folder(tmp_path / "crm"))
    assert again.ingested["crm"] == 0 and again.tables["quarantine"] == 0
    with conn.cursor() as cur:
        cur.execute("select document->'client'->>'autopay', document->'client' ? 'payment_method' "
                    "from raw.contract_documents where source = 'crm' and client_id = 'C-2'")
        assert cur.fetchone() == ("true", False)
    conn.commit()


# --- API client -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def accounts():
    return simulator.records_for_server(build_world(days=35, clients=4, seed=7))


def test_pull_pages_retries_and_advances_cursor(accounts):
    with FakeCrm(accounts) as fake:
        client = CrmClient(fake.base_url, "crm-test-key", limit=2, sleep=lambda s: None)
        fake.fail_next(429, 1, retry_after="0")
        fake.fail_next(503, 1)
        [result], cursor = client.pull(None)
        assert result.rows.height == 4 and len(result.quarantined) == 2
        assert fake.statuses().count(200) >= 3  # 5 accounts, 2 a page
        assert fake.statuses()[:2] == [429, 503]
        [again], cursor2 = client.pull(cursor)
        assert again.rows.height == 0 and not again.quarantined
        assert cursor2 == cursor
        number = accounts[1]["AccountNumber"]
        fake.update(number, "2026-11-05T09:30:00Z", PaymentMethodRef="pm_card_mastercard")
        [changed], cursor3 = client.pull(cursor2)
        assert changed.rows["client_id"].to_list() == [accounts[1]["ExternalId"]]
        assert json.loads(changed.rows["document"][0])["client"]["payment_method"] == "pm_card_mastercard"
        [none], _ = client.pull(cursor3)
        assert none.rows.height == 0


def test_pull_merges_with_a_contracts_dir(accounts, tmp_path):
    world = build_world(days=35, clients=4, seed=7)
    write_generic(world, tmp_path)
    yaml_docs = _docs(parse_contracts(sorted((tmp_path / "contracts").glob("*.yaml"))))
    with FakeCrm(accounts) as fake:
        client = CrmClient(fake.base_url, "crm-test-key", contracts_dir=tmp_path / "contracts", sleep=lambda s: None)
        [result], _ = client.pull(None)
    assert _docs(result) == {c: yaml_docs[c] for c in _docs(result)}


def test_wrong_api_key_raises_a_clear_error(accounts):
    with FakeCrm(accounts) as fake:
        client = CrmClient(fake.base_url, "wrong", sleep=lambda s: None)
        with pytest.raises(CrmAuthError, match=r"refused the API key \(HTTP 401"):
            client.pull(None)
        assert fake.statuses() == [401]  # not retried


def test_a_row_with_several_problems_is_one_quarantine_row(tmp_path):
    contracts = [dict(CONTRACTS[0], StartDate="", RMR__c="1.00", Billing_Cycle__c="Annual")]
    [result] = parser.parse_folder(_folder(tmp_path, **{"contracts.csv": contracts}))
    [hit] = [q for q in result.quarantined if Path(q.file_path).name == "contracts.csv"]
    assert hit.field == "StartDate"
    assert "missing StartDate" in hit.reason and "Annual" in hit.reason and "RMR__c" in hit.reason


def test_header_case_does_not_matter(tmp_path):
    folder = _folder(tmp_path)
    path = folder / "accounts.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0].lower(), *lines[1:]]) + "\n")
    [result] = parser.parse_folder(folder)
    assert _docs(result)["C-1"]["client"]["payment_method"] == "pm_card_visa"
