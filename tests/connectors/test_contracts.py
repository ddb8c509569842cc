"""Contract files: every key validated, a bad file refused whole with field path and YAML
line, and the earlier accepted version stays in force (real PostgreSQL)."""

from __future__ import annotations

import json

import pytest

from connectors.inbox import ingest_inbox, raw_counts
from connectors.inbox.contracts import read_contract
from tests.connectors.helpers import SMALL_CONTRACT, SPEC_CONTRACT, write


def _refusal(tmp_path, text):
    result = read_contract(write(tmp_path, "contracts/c.yaml", text))
    assert result.document is None, "expected the file to be rejected"
    return result.refusal


def test_spec_example_is_accepted_as_written(tmp_path):
    result = read_contract(write(tmp_path, "contracts/C-1001.yaml", SPEC_CONTRACT))
    assert result.refusal is None
    doc = result.document
    assert doc["client"]["id"] == "C-1001" and result.client_id == "C-1001"
    first = doc["contracts"][0]
    assert first["start_date"] == "2026-01-01"              # dates as ISO strings
    assert first["rates"][1] == {"service_type": "armed", "site_id": "S-1", "rate": "41.50"}  # money as text
    assert first["overtime"] == {"policy": "weekly", "weekly_hours": 40, "multiplier": "1.5"}
    assert "payment_terms_days" not in doc["contracts"][1]  # stored as written; defaults apply downstream
    json.dumps(doc)


@pytest.mark.parametrize(
    ("old", "new", "field", "line", "words"),
    [
        ('rate: "41.50"', "rate: 41.50", "contracts[0].rates[1].rate", 26, "quoted decimal string"),
        ("billing_cycle: monthly", "billing_cycle: yearly", "contracts[1].billing_cycle", 38, "must be one of"),
        ("America/New_York", "America/Gotham", "sites[0].timezone", 13, "IANA timezone"),
        ("increment_minutes: 15", "increment_minutes: 7", "contracts[0].increment_minutes", 22, "divisor of 60"),
        ("end_date: 2026-12-31", "end_date: 2025-12-31", "contracts[0].end_date", 18, "before start_date"),
        ("start_date: 2026-03-15", "start_date: 2026-02-30", "contracts[1].start_date", 35, "not a valid date"),
        ("start_date: 2026-03-15", 'start_date: "15/03/2026"', "contracts[1].start_date", 35, "YYYY-MM-DD"),
        ("site_id: S-1, rate", "site_id: S-9, rate", "contracts[0].rates[1].site_id", 26, "not declared"),
        ("    stacking: max", "    stacking: max\n    overtme: {policy: none}", "contracts[0].overtme", 30,
         "did you mean 'overtime'"),
        ('percent: "10"', 'percent: "110"', "contracts[1].discounts[0].percent", 44, "at most 100"),
        ('"Thanksgiving Day"', '"Thanksgiving"', "contracts[0].holidays.names[2]", 28, "holidays library"),
        ("autopay: true ", 'autopay: "yes"', "client.autopay", 7, "true or false"),
        ("category: monitoring", "category: monitorin", "contracts[1].recurring[0].category", 41, "must be one of"),
        ("included_minutes: 30", "included_minutes: -5", "contracts[0].incidents.alarm_response.included_minutes",
         31, ">= 0"),
        ('{flat_fee: "50.00", ', "{", "contracts[0].incidents.medical.flat_fee", 32, "is required"),
    ],
)
def test_bad_key_rejects_the_file_naming_field_and_line(tmp_path, old, new, field, line, words):
    assert old in SPEC_CONTRACT
    refusal = _refusal(tmp_path, SPEC_CONTRACT.replace(old, new, 1))
    assert (refusal.source, refusal.field, refusal.line, refusal.record_id) == ("contracts", field, line, "C-1001")
    assert words in refusal.reason and field in refusal.reason
    assert refusal.reason.startswith("contract file rejected: ")
    assert refusal.file_path.endswith("contracts/c.yaml")


def test_contact_channel_and_ids(tmp_path):
    no_contact = SPEC_CONTRACT.replace("  email: ap@harborlogistics.example\n", "").replace(
        '  phone: "+15555550100"\n', "").replace("  preferred_channel: email        # email | sms | portal\n", "")
    assert _refusal(tmp_path, no_contact).field == "client.email"

    sms_without_phone = SPEC_CONTRACT.replace('  phone: "+15555550100"\n', "").replace(
        "preferred_channel: email", "preferred_channel: sms")
    assert _refusal(tmp_path, sms_without_phone).field == "client.preferred_channel"

    unquoted_phone = SPEC_CONTRACT.replace('phone: "+15555550100"', "phone: +15555550100")
    assert "quote it" in _refusal(tmp_path, unquoted_phone).reason

    twice = SPEC_CONTRACT.replace("id: K-1001-M", "id: K-1001-G")
    refusal = _refusal(tmp_path, twice)
    assert (refusal.field, refusal.line) == ("contracts[1].id", 34) and "declared twice" in refusal.reason

    dup_site = SPEC_CONTRACT.replace("sites:\n", "sites:\n  - {id: S-1, name: x, timezone: UTC, tax_jurisdiction: X}\n")
    assert _refusal(tmp_path, dup_site).field == "sites[1].id"

    dup_key = SPEC_CONTRACT.replace("  grouping: consolidated", "  grouping: consolidated\n  grouping: per_site")
    refusal = _refusal(tmp_path, dup_key)
    assert (refusal.field, refusal.line) == ("client.grouping", 10) and "appears twice" in refusal.reason


def test_biweekly_needs_a_monday_anchor_and_events_need_offsets(tmp_path):
    biweekly = SPEC_CONTRACT.replace("billing_cycle: weekly ", "billing_cycle: biweekly ")
    assert _refusal(tmp_path, biweekly).field == "contracts[0].cycle_anchor"
    tuesday = biweekly.replace("    payment_terms_days: 30", "    cycle_anchor: 2026-01-06\n    payment_terms_days: 30")
    assert "not a Monday" in _refusal(tmp_path, tuesday).reason
    monday = biweekly.replace("    payment_terms_days: 30", "    cycle_anchor: 2026-01-05\n    payment_terms_days: 30")
    assert read_contract(write(tmp_path, "contracts/ok.yaml", monday)).refusal is None

    event = ("    events:\n      - {name: Fair, start: 2026-07-04T18:00:00, end: 2026-07-04T23:00:00-04:00,"
             " multiplier: \"2\"}\n")
    no_offset = SPEC_CONTRACT.replace("    stacking: max\n", "    stacking: max\n" + event)
    refusal = _refusal(tmp_path, no_offset)
    assert refusal.field == "contracts[0].events[0].start" and "no UTC offset" in refusal.reason


@pytest.mark.parametrize("cycle", ["quarterly", "semiannual", "annual"])
def test_calendar_cycles_of_several_months_are_accepted(tmp_path, cycle):
    """An extension of interfaces.md's billing_cycle list (docs/interfaces.md)."""
    text = SPEC_CONTRACT.replace("billing_cycle: monthly", f"billing_cycle: {cycle}", 1)
    result = read_contract(write(tmp_path, "contracts/c.yaml", text))
    assert result.refusal is None and result.document["contracts"][1]["billing_cycle"] == cycle


def test_autopay_without_payment_method_is_accepted(tmp_path):
    # a finding (missing_payment_method), not a schema error
    line = "  payment_method: pm_card_visa    # payment provider reference; absent = no autopay\n"
    text = SPEC_CONTRACT.replace(line, "")
    assert read_contract(write(tmp_path, "contracts/c.yaml", text)).refusal is None


def test_unreadable_yaml_is_rejected_with_its_line(tmp_path):
    refusal = _refusal(tmp_path, "client:\n  id: C-1\n  name: [unclosed\nsites: []\n")
    assert "not valid YAML" in refusal.reason and refusal.line is not None
    assert "must be a mapping" in _refusal(tmp_path, "- just\n- a list\n").reason


def _in_force(conn, client):
    with conn.cursor() as cur:
        cur.execute("""select document from raw.contract_documents where client_id = %s
                       order by document_id desc limit 1""", (client,))
        return cur.fetchone()[0]


def test_rejected_version_leaves_the_earlier_one_in_force(conn, tmp_path):
    inbox = tmp_path / "inbox"
    write(inbox, "contracts/C-1001.yaml", SPEC_CONTRACT)
    report = ingest_inbox(conn, inbox)
    assert report.ingested == {"contracts": 1} and report.new_rows("contract_documents") == 1

    bad = SPEC_CONTRACT.replace('rate: "32.00"', "rate: 32")
    write(inbox, "contracts/C-1001.yaml", bad)
    report = ingest_inbox(conn, inbox)
    assert report.ingested == {"contracts": 0} and report.quarantined == {"contracts": 1}
    [refusal] = report.quarantined_records()
    assert (refusal.field, refusal.line) == ("contracts[0].rates[0].rate", 25)
    assert _in_force(conn, "C-1001")["contracts"][0]["rates"][0]["rate"] == "32.00"

    again = ingest_inbox(conn, inbox)  # the same bad file again: not read, no second quarantine row
    assert again.quarantined == {} and again.quarantined_records() == [] and again.skipped == 1

    fixed = SPEC_CONTRACT.replace('rate: "32.00"', 'rate: "33.00"')
    write(inbox, "contracts/C-1001.yaml", fixed)
    assert ingest_inbox(conn, inbox).ingested == {"contracts": 1}
    assert _in_force(conn, "C-1001")["contracts"][0]["rates"][0]["rate"] == "33.00"
    assert ingest_inbox(conn, inbox).files == 0

    with conn.cursor() as cur:
        cur.execute("select count(*) from raw.contract_documents where client_id = 'C-1001'")
        assert cur.fetchone()[0] == 2
        cur.execute("select file_path, line, field from raw.quarantine where source = 'contracts'")
        assert cur.fetchall() == [(str(inbox / "contracts/C-1001.yaml"), 25, "contracts[0].rates[0].rate")]
    assert raw_counts(conn)["ingested"]["contracts"] == 2


def test_a_site_owned_by_another_client_is_refused(conn, tmp_path):
    inbox = tmp_path / "inbox"
    write(inbox, "contracts/C-2.yaml", SMALL_CONTRACT)
    assert ingest_inbox(conn, inbox).ingested == {"contracts": 1}
    thief = SMALL_CONTRACT.replace("id: C-2", "id: C-3").replace("id: K-2", "id: K-3")
    write(inbox, "contracts/C-3.yaml", thief)
    report = ingest_inbox(conn, inbox, only_files=["contracts/C-3.yaml"])
    assert report.ingested == {"contracts": 0}
    [refusal] = report.quarantined_records()
    assert refusal.field == "sites[0].id" and "also belongs to client C-2" in refusal.reason
    assert refusal.line == 6


def test_duplicate_recurring_items_and_unknown_currencies_are_refused(tmp_path):
    # Two MON-GOLD items at S-1 with no effective date would bill as one (issue 8, point 9).
    item = '      - {code: MON-GOLD, category: monitoring, site_id: S-1, amount: "89.00"}\n'
    twice = SPEC_CONTRACT.replace(item, item + item.replace('"89.00"', '"95.00"'))
    assert twice != SPEC_CONTRACT
    refusal = _refusal(tmp_path, twice)
    assert refusal.field == "contracts[1].recurring[1].code" and "recurring[0]" in refusal.reason
    versioned = SPEC_CONTRACT.replace(item, item + item.replace("amount:", "effective_from: 2026-06-01, amount:"))
    assert read_contract(write(tmp_path, "contracts/ok.yaml", versioned)).refusal is None

    fee = '      - {device_type: camera, monthly_fee: "5"}\n'
    fees = "    per_device:\n" + fee + fee.replace('"5"', '"6"')
    devices = SPEC_CONTRACT.replace("    discounts:\n", fees + "    discounts:\n")
    assert _refusal(tmp_path, devices).field == "contracts[1].per_device[1].device_type"

    for code, accepted in (("CLP", True), ("XYZ", False)):
        text = SPEC_CONTRACT.replace("  grouping: consolidated", f"  grouping: consolidated\n  currency: {code}")
        result = read_contract(write(tmp_path, f"contracts/{code}.yaml", text))
        assert (result.refusal is None) is accepted
        if not accepted:
            assert result.refusal.field == "client.currency" and "ISO 4217" in result.refusal.reason
