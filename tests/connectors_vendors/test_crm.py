"""CRM connector: export mapping into contract documents (completeness checks, the
autopay-without-payment-method client, Salesforce query results, quarterly and annual contracts,
no merge with the contracts YAML at ingest) and the Salesforce REST client over real
HTTP against the local fake (client credentials, nextRecordsUrl, retries, change cursor)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from connectors.crm import parser, simulator
from connectors.crm.client import CrmAuthError, CrmClient
from connectors.crm.fake_server import FakeSalesforce
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
    assert set(docs) == {"C-1", "C-2", "C-3"}
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


def test_quarterly_and_annual_salesforce_contracts_are_billed_on_their_cycle(tmp_path):
    """Billing_Cycle__c Quarterly / Annual: the cycle is ours, a line's Monthly_Amount__c (its
    MRR) becomes the amount per cycle (x 3, x 12), a device fee stays monthly (rating scales it)."""
    [result] = parser.parse_folder(_folder(tmp_path))
    [quarterly] = _docs(result)["C-3"]["contracts"]
    assert quarterly == {"id": "K-3-M", "start_date": "2026-01-01", "end_date": "2026-12-31",
                         "billing_cycle": "quarterly",
                         "recurring": [{"code": "MON-STD", "category": "monitoring", "site_id": "S-3",
                                        "amount": "150.00"}]}
    annual = [dict(CONTRACTS[3], Billing_Cycle__c="Annual", RMR__c="54.50")]
    lines = [dict(LINES[5], BillCycle="A", MonthlyAmount="54.50"),
             {"CustomerRecurringId": "8", "ContractNumber": "K-3-M", "ItemCode": "DEV-CAM",
              "Family": "Device Monitoring", "SiteId": "", "DeviceType": "camera", "MonthlyAmount": "4.50",
              "BillCycle": "A", "IsCancelled": "false"}]
    [result] = parser.parse_folder(_folder(tmp_path, **{"contracts.csv": annual, "contract_lines.csv": lines}))
    [contract] = _docs(result)["C-3"]["contracts"]
    assert contract["billing_cycle"] == "annual"
    assert contract["recurring"] == [{"code": "MON-STD", "category": "monitoring", "site_id": "S-3",
                                      "amount": "654.00"}]
    assert contract["per_device"] == [{"device_type": "camera", "monthly_fee": "4.50"}]
    assert validate_document(_docs(result)["C-3"]) == []


def test_a_line_on_another_cycle_than_its_contract_is_refused(tmp_path):
    lines = [dict(LINES[5], BillCycle="Q")]
    contracts = [dict(CONTRACTS[3], Billing_Cycle__c="Annual")]
    [result] = parser.parse_folder(_folder(tmp_path, **{"contracts.csv": contracts, "contract_lines.csv": lines}))
    assert "C-3" not in _docs(result)
    [hit] = [q for q in result.quarantined if q.field == "BillCycle"]
    assert "BillCycle 'Q' (every 3 months) is not its contract's annual cycle" in hit.reason


def test_autopay_without_payment_method_is_accepted_for_the_finding(tmp_path):
    [result] = parser.parse_folder(_folder(tmp_path))
    client = _docs(result)["C-2"]["client"]
    assert client["autopay"] is True and "payment_method" not in client
    assert client["email"] == "bo@bayview.example" and "phone" not in client  # Primary contact when no Billing


def test_incomplete_accounts_are_refused_with_file_line_field_reason(tmp_path):
    [result] = parser.parse_folder(_folder(tmp_path))
    refused = {(Path(q.file_path).name, q.line, q.field): q for q in result.quarantined}
    assert not [q for q in result.quarantined if q.field == "Billing_Cycle__c"]  # Quarterly is billed now
    assert "no billing contact email and no phone" in refused[("accounts.csv", 5, "Email")].reason
    assert "not an IANA timezone" in refused[("sites.csv", 5, "TimeZone")].reason
    assert "not among the accounts delivered" in refused[("sites.csv", 6, "AccountNumber")].reason
    assert "not among the contracts delivered" in refused[("contract_lines.csv", 8, "ContractNumber")].reason


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


FIXTURES = Path(__file__).parent / "fixtures" / "crm"


def test_salesforce_query_results_map_by_account_id(tmp_path):
    """Real REST shapes (fixtures/crm/README.md): records with attributes, nested child
    query results, a Contract naming its account by AccountId, currency as JSON numbers."""
    folder = tmp_path / "crm"
    shutil.copytree(FIXTURES, folder, ignore=shutil.ignore_patterns("README.md"))
    [result] = parser.parse_folder(folder)
    docs = _docs(result)
    assert set(docs) == {"C-1", "C-3"}
    one = docs["C-1"]
    assert one["client"] == {"id": "C-1", "name": "Harbor Logistics LLC", "email": "ap@harbor.example",
                             "phone": "+15555550100", "preferred_channel": "email", "autopay": True,
                             "payment_method": "pm_card_visa"}
    assert one["sites"] == [{"id": "S-1", "name": "Harbor - Terminal 4", "timezone": "America/New_York",
                             "tax_jurisdiction": "US-NY"}]
    [contract] = one["contracts"]
    assert contract == {"id": "00000107", "start_date": "2025-01-01", "end_date": "2027-12-31",
                        "billing_cycle": "monthly",
                        "recurring": [{"code": "MON-VIDEO", "category": "monitoring", "site_id": "S-1",
                                       "amount": "149.00"}],
                        "per_device": [{"device_type": "camera", "monthly_fee": "4.50"}]}
    # the Quarterly contract (its line Bill_Cycle__c Q) is billed per calendar quarter:
    # Monthly_Amount__c 34.95 x 3 months per quarter, RMR__c 34.95 a month
    [quarterly] = docs["C-3"]["contracts"]
    assert quarterly == {"id": "00000108", "start_date": "2025-04-01", "end_date": "2026-03-31",
                         "billing_cycle": "quarterly",
                         "recurring": [{"code": "MON-BURG", "category": "monitoring", "site_id": "S-3",
                                        "amount": "104.85"}]}
    assert result.quarantined == []


def test_salesforce_page_without_attributes_type_or_incomplete_children(tmp_path):
    folder = tmp_path / "crm"
    shutil.copytree(FIXTURES, folder, ignore=shutil.ignore_patterns("README.md"))
    page = json.loads((folder / "accounts_query.json").read_text())
    page["records"][0]["Contacts"]["done"] = False
    page["records"][0]["Contacts"]["nextRecordsUrl"] = "/services/data/v60.0/query/01gD0000002HU6KIAW-2000"
    page["records"].append({"attributes": {"type": "Opportunity"}, "Id": "006Dn00000AbCdEIAV"})
    (folder / "accounts_query.json").write_text(json.dumps(page))
    (folder / "other.json").write_text(json.dumps({"data": []}))
    [result] = parser.parse_folder(folder)
    reasons = {(Path(q.file_path).name, q.field): q.reason for q in result.quarantined}
    assert "incomplete (done false)" in reasons[("accounts_query.json", "Contacts")]
    assert "'Opportunity' is not an Account" in reasons[("accounts_query.json", "attributes.type")]
    assert "not a Salesforce query result" in reasons[("other.json", None)]


def test_simulated_export_with_planted_records(tmp_path):
    world = build_world(days=35, clients=4, seed=7)
    manifest = simulator.write_exports(world, tmp_path / "crm")
    [result] = parser.parse_folder(tmp_path / "crm")
    docs = _docs(result)
    assert set(docs) == {c.client_id for c in world.clients}
    assert len(result.quarantined) == manifest["quarantine_expected"] == 1
    where = {(Path(q.file_path).name, q.line, q.field) for q in result.quarantined}
    for p in manifest["planted"]:
        if p["expect"] == "quarantine":
            assert (p["file"], p["line"], p["field"]) in where, p
    # the Quarterly contract raises nothing: its account is refused only for the line without an amount
    [quarterly] = [p for p in manifest["planted"] if p["kind"] == "quarterly_contract"]
    assert quarterly["expect"] == "accepted" and (quarterly["file"], quarterly["line"], quarterly["field"]) not in where
    [missing] = result.quarantined
    assert missing.field.endswith("MonthlyAmount") and "missing MonthlyAmount" in missing.reason
    [autopay] = [p for p in manifest["planted"] if p["kind"] == "autopay_without_payment_method"]
    client = docs[autopay["record_id"]]["client"]
    assert client["autopay"] is True and "payment_method" not in client
    monitoring = {k.contract_id for k in world.contracts if k.kind == "monitoring"}
    assert {c["id"] for d in docs.values() for c in d["contracts"]} == monitoring  # drafts left out
    csv_folder = tmp_path / "csv" / "crm"
    simulator.write_csv_exports(world, csv_folder)
    assert '"Id","AccountId"' in (csv_folder / "contracts.csv").read_text().splitlines()[0]
    [from_csv] = parser.parse_folder(csv_folder)
    assert sorted(from_csv.rows["content_hash"]) == sorted(result.rows["content_hash"])
    assert len(from_csv.quarantined) == 1


def test_crm_document_is_the_crm_part_only(tmp_path):
    """No merge at ingest (issue 8 point 16): dbt merges each source's newest document."""
    world = build_world(days=35, clients=4, seed=7)
    write_generic(world, tmp_path, contract_kinds=("guarding",))
    simulator.write_exports(world, tmp_path / "crm")
    yaml_docs = _docs(parse_contracts(sorted((tmp_path / "contracts").glob("*.yaml"))))
    [result] = parser.parse_folder(tmp_path / "crm")
    docs = _docs(result)
    for client_id, doc in docs.items():
        kinds = {k.contract_id: k.kind for k in world.contracts if k.client_id == client_id}
        assert {kinds[c["id"]] for c in doc["contracts"]} <= {"monitoring"}
        assert not {c["id"] for c in doc["contracts"]} & {c["id"] for c in yaml_docs[client_id]["contracts"]}


def test_contract_id_the_yaml_uses_for_guarding_is_refused(tmp_path):
    world = build_world(days=35, clients=4, seed=7)
    write_generic(world, tmp_path, contract_kinds=("guarding",))
    simulator.write_exports(world, tmp_path / "crm")
    guarding = next(k for k in world.contracts if k.kind == "guarding" and k.client_id == world.clients[0].client_id)
    page = json.loads((tmp_path / "crm" / "contracts.json").read_text())
    target = next(c for c in page["records"] if c["AccountId"] == page["records"][0]["AccountId"]
                  and c["Status"] == "Activated")
    target["ContractNumber"] = guarding.contract_id
    (tmp_path / "crm" / "contracts.json").write_text(json.dumps(page))
    [result] = parser.parse_folder(tmp_path / "crm")
    assert world.clients[0].client_id not in _docs(result)
    [hit] = [q for q in result.quarantined if "prices guard work" in q.reason]
    assert hit.field == "ContractNumber" and hit.record_id == guarding.contract_id


def test_inbox_hands_the_crm_folder_to_this_parser(tmp_path):
    from connectors.inbox import parse_inbox

    _folder(tmp_path)
    [result] = [r for r in parse_inbox(tmp_path) if r.source == "crm"]
    assert result.table == "contract_documents" and result.rows.height == 3


def test_documents_store_like_contract_files(conn, tmp_path):
    from connectors.store import store_results

    _folder(tmp_path)
    first = store_results(conn, parser.parse_folder(tmp_path / "crm"))
    assert first.ingested["crm"] == 3 and first.tables["quarantine"] >= 4
    again = store_results(conn, parser.parse_folder(tmp_path / "crm"))
    assert again.ingested["crm"] == 0 and again.tables["quarantine"] == 0
    with conn.cursor() as cur:
        cur.execute("select document->'client'->>'autopay', document->'client' ? 'payment_method' "
                    "from raw.contract_documents where source = 'crm' and client_id = 'C-2'")
        assert cur.fetchone() == ("true", False)
    conn.commit()


# --- API client -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def org():
    world = build_world(days=35, clients=4, seed=7)
    return world, simulator.records_for_server(world)


def _client(fake, tmp_path, world, **kw):
    sites = simulator.write_sites(world, tmp_path / "crm" / "sites.csv")
    return CrmClient(fake.url, "vigil-crm", "crm-secret", sites=sites, sleep=lambda s: None, **kw)


def test_pull_pages_retries_and_advances_cursor(org, tmp_path):
    world, records = org
    with FakeSalesforce(**records) as fake:
        client = _client(fake, tmp_path, world)
        fake.fail_next(429, 1, retry_after="0")
        fake.fail_next(503, 1)
        [result], cursor = client.pull(None)
        assert result.rows.height == 4 and len(result.quarantined) == 1
        assert fake.statuses()[:3] == [429, 503, 200]
        assert sum(1 for _, path, _ in fake.requests if "/query/01g" in path) >= 2  # nextRecordsUrl followed
        exported = tmp_path / "export" / "crm"
        simulator.write_exports(world, exported)
        [from_files] = parser.parse_folder(exported)
        assert sorted(result.rows["content_hash"]) == sorted(from_files.rows["content_hash"])
        [again], cursor2 = client.pull(cursor)
        assert again.rows.height == 0 and not again.quarantined and cursor2 == cursor
        assert "WHERE LastModifiedDate > " in fake.queries[-1] and fake.queries[-1].endswith("LIMIT 1")
        # an edit to a contract (not its account) is seen: the whole account is mapped again
        contract = next(c for c in records["contracts"] if c["Status"] == "Activated")
        fake.update("contract", contract["Id"], "2030-01-01T00:00:00.000+0000", Auto_Renew__c=False)
        [changed], cursor3 = client.pull(cursor2)
        account = next(a for a in records["accounts"] if a["Id"] == contract["AccountId"])
        docs = _docs(changed)
        terms = next(c for c in docs[account["Vigil_Client_Id__c"]]["contracts"]
                     if c["id"] == contract["ContractNumber"])
        assert terms["auto_renew"] is False
        assert json.loads(cursor3)["modified"] == "2030-01-01T00:00:00.000Z"
        [none], _ = client.pull(cursor3)
        assert none.rows.height == 0


def test_expired_session_gets_a_new_token(org, tmp_path):
    world, records = org
    with FakeSalesforce(**records) as fake:
        client = _client(fake, tmp_path, world)
        client.authenticate()
        fake.revoke_tokens()
        [result], _ = client.pull(None)
        assert result.rows.height == 4 and 401 in fake.statuses()


def test_wrong_credentials_raise_a_clear_error(org, tmp_path):
    world, records = org
    with FakeSalesforce(**records) as fake:
        sites = simulator.write_sites(world, tmp_path / "sites.csv")
        client = CrmClient(fake.url, "vigil-crm", "wrong", sites=sites, sleep=lambda s: None)
        with pytest.raises(CrmAuthError, match=r"refused the client credentials.*HTTP 400"):
            client.pull(None)
        assert fake.statuses() == [400]  # not retried


def test_a_row_with_several_problems_is_one_quarantine_row(tmp_path):
    contracts = [dict(CONTRACTS[0], StartDate="", RMR__c="1.00", Billing_Cycle__c="Annual")]
    [result] = parser.parse_folder(_folder(tmp_path, **{"contracts.csv": contracts}))
    [hit] = [q for q in result.quarantined if Path(q.file_path).name == "contracts.csv"]
    assert hit.field == "StartDate"
    assert "missing StartDate" in hit.reason and "RMR__c 1.00 x 12 months does not equal" in hit.reason


def test_header_case_does_not_matter(tmp_path):
    folder = _folder(tmp_path)
    path = folder / "accounts.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0].lower(), *lines[1:]]) + "\n")
    [result] = parser.parse_folder(folder)
    assert _docs(result)["C-1"]["client"]["payment_method"] == "pm_card_visa"


def test_hubspot_api_pages_map_like_salesforce(tmp_path):
    """fixtures/hubspot/README.md: companies, contacts, deals and line items as the CRM API
    v3 lists them, linked by associations; a deal not yet won is left out."""
    folder = tmp_path / "crm"
    shutil.copytree(Path(__file__).parent / "fixtures" / "hubspot", folder, ignore=shutil.ignore_patterns("README.md"))
    [result] = parser.parse_folder(folder)
    assert not result.quarantined
    [doc] = _docs(result).values()
    assert doc["client"] == {"id": "C-1", "name": "Harbor Logistics LLC", "email": "ap@harbor.example",
                             "phone": "+15555550100", "preferred_channel": "email", "autopay": True,
                             "payment_method": "pm_card_visa"}
    assert doc["contracts"] == [{"id": "K-1-M", "start_date": "2025-01-01", "end_date": "2027-12-31",
                                 "billing_cycle": "monthly",
                                 "recurring": [{"code": "MON-VIDEO", "category": "monitoring", "site_id": "S-1",
                                                "amount": "149.00"}]}]


def _hubspot_quarterly(tmp_path: Path, deal_cycle: str) -> Path:
    """The fixtures with the line item billed quarterly (`amount` 447.00 per quarter, HubSpot's
    price x quantity per billing frequency) and the deal's billing_cycle `deal_cycle`."""
    folder = tmp_path / "crm"
    shutil.copytree(Path(__file__).parent / "fixtures" / "hubspot", folder, ignore=shutil.ignore_patterns("README.md"))
    page = json.loads((folder / "line_items.json").read_text())
    page["results"][0]["properties"].update(recurringbillingfrequency="quarterly", amount="447.00", price="447.00")
    (folder / "line_items.json").write_text(json.dumps(page))
    deals = json.loads((folder / "deals.json").read_text())
    deals["results"][0]["properties"]["billing_cycle"] = deal_cycle
    (folder / "deals.json").write_text(json.dumps(deals))
    return folder


def test_hubspot_quarterly_line_item_on_a_quarterly_deal_is_billed_per_quarter(tmp_path):
    [result] = parser.parse_folder(_hubspot_quarterly(tmp_path, "Quarterly"))
    assert not result.quarantined
    [doc] = _docs(result).values()
    [contract] = doc["contracts"]
    assert contract["billing_cycle"] == "quarterly"
    assert contract["recurring"] == [{"code": "MON-VIDEO", "category": "monitoring", "site_id": "S-1",
                                      "amount": "447.00"}]  # the amount per quarter, as HubSpot gives it


def test_hubspot_quarterly_line_item_on_a_monthly_deal_is_refused_naming_the_cycle(tmp_path):
    [result] = parser.parse_folder(_hubspot_quarterly(tmp_path, "Monthly"))
    assert result.rows.height == 0
    [hit] = result.quarantined
    assert hit.field == "BillCycle" and "'quarterly' (every 3 months) is not its contract's monthly cycle" in hit.reason
    assert Path(hit.file_path).name == "line_items.json" and hit.line == 1
