"""Renewal timelines computed by hand (collections.md section 7), on the company of
tests/renewals/inbox.py run day by day from 2026-06-01 to 2028-03-01 (tests/renewals/story.py:
the first range through the Dagster asset, the others through the billing functions).

Step days are calendar days from the end date E: offer E - 90, reminder E - 60, sales alert
or auto-renew notice E - 30, renewal or expiry E + 1.

K-101-M ends 2026-10-31 (the 31st), silent, no auto-renew:
  E - 90 = 2026-08-02 (Oct 31 - 31 = Sep 30, - 30 = Aug 31, - 29 = Aug 2), E - 60 = 2026-09-01,
  E - 30 = 2026-10-01, expired 2026-11-01. Offer summary on 08-02: invoices issued 2025-10-27
  .. 2026-07-27 (November to August) 10 x 79.00 = 790.00. Options: same 79.00, 2026-11-01 ..
  2027-10-31; upgrade to the next tier MON-GOLD at 89.00 (the ladder: MON-STD 79.00, MON-GOLD
  89.00 (89.00 and 89.90 each once: the lower), MON-PLAT 119.00); longer_term 79.00 x 0.95 =
  75.05, 2026-11-01 .. 2028-10-31.
K-102-M ends 2026-10-15, accepted on 2026-10-14 (the last day before its end), longer_term:
  offer 2026-07-17, reminder 08-16, sales alert 09-15, confirmation 10-14 (by SMS). New
  contract K-102-M-R1 2026-10-16 .. 2028-10-15 (24 months), MON-GOLD 89.90 x 0.95 = 85.405 ->
  85.41 (half-up). October 2026 (billing-rules section 7): K-102-M 89.90 x 15/31 = 43.50,
  issued 09-26, due 10-01; K-102-M-R1 85.41 x 16/31 = 44.0825... -> 44.08, issued 10-11, due
  10-16; November 85.41 in full. 15 + 16 = 31 days: no gap, no overlap.
K-103-G ends 2028-02-29 (leap day), auto-renew, silent: offer 2027-12-01, reminder 2027-12-31,
  auto-renew notice 2028-01-30, auto-renewed 2028-03-01 as K-103-G-R1 2028-03-01 .. 2029-02-28
  (12 months, same rates); summary 16.00 h x 30.00 = 480.00 (week of 2027-06-07), worth
  480.00 / 7 days x 365 / 12 = 2085.71 per month.
K-104-M ends 2026-12-31, auto-renew, declined on 2026-12-10 after the notice: offer 10-02,
  reminder 11-01, notice 12-01, renewal_declined 12-10; no renewal on 2027-01-01, nothing
  invoiced after December.
K-105-M runs 2026-06-01 .. 2026-08-31 (3 months): offered 06-02 (E - 90), upgrade accepted
  06-10 (the documented MON-PLAT 119.00): K-105-M-R1 2026-09-01 .. 2026-11-30, offered on its
  first day 09-01 (E - 90 = 09-01), renewed the same on 09-05 as K-105-M-R2 2026-12-01 ..
  2027-02-28, offered 12-01 (its start; E - 90 = 11-30), reminded 12-30, sales alert
  2027-01-29, expired 2027-03-01."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from billing.renewals.kpis import renewal_kpis
from connectors.base import ParseResult, sha256_text
from connectors.inbox import ingest_inbox
from connectors.inbox.contracts import canonical_json
from connectors.store import store_results
from tests.dbt.test_dbt_build import run_dbt
from tests.renewals.inbox import contract_file
from tests.renewals.story import FIRST_DAY, LAST_DAY, open_story
from vigil_app import reports

pytestmark = pytest.mark.integration

# The models (and their dbt tests) a contract document reaches.
CONTRACT_MODELS = ("stg_inbox__contract_documents", "stg_inbox__clients", "stg_inbox__sites", "stg_inbox__contracts",
                   "stg_inbox__contract_rates", "dim_contracts", "dim_clients", "dim_sites",
                   "assert_contract_dates_in_order", "assert_sites_declared_by_one_client")


@pytest.fixture(scope="module")
def story(warehouse, tmp_path_factory):
    from vigil import db

    conn = db.connect()
    played = open_story(conn, warehouse, tmp_path_factory.mktemp("renewals"))
    played.play()
    yield played
    conn.close()


def _rows(conn, sql: str, *params) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        found = cur.fetchall()
    conn.commit()
    return found


def _renewal(story, contract_id: str) -> dict:
    with story.conn.cursor() as cur:
        cur.execute("select * from billing.renewals where contract_id = %s", (contract_id,))
        columns = [d.name for d in cur.description]
        found = dict(zip(columns, cur.fetchone(), strict=True))
    story.conn.commit()
    return found


def _timeline(story, contract_id: str) -> tuple:
    row = _renewal(story, contract_id)
    return (row["offered_on"], row["reminded_on"], row["sales_alerted_on"], row["auto_notice_on"], row["decision"],
            row["decided_on"])


def _messages(story, contract_id: str) -> list[tuple]:
    return _rows(story.conn, """select template, channel, business_date, recipient, status, link is not null
                                from billing.messages where contract_id = %s order by business_date, message_id""",
                 contract_id)


def _in_force(story, contract_id: str) -> tuple | None:
    found = _rows(story.conn, "select start_date, end_date, terms from marts.dim_contracts where contract_id = %s",
                  contract_id)
    return found[0] if found else None


def _option(story, contract_id: str, name: str) -> dict:
    return next(o for o in _renewal(story, contract_id)["offer"]["options"] if o["name"] == name)


def test_contract_ending_on_the_31st_expires_without_an_answer(story):
    assert _timeline(story, "K-101-M") == (date(2026, 8, 2), date(2026, 9, 1), date(2026, 10, 1), None, "expired",
                                           date(2026, 11, 1))
    assert _messages(story, "K-101-M") == [
        ("renewal_offer", "email", date(2026, 8, 2), "ap@alder.example", "sent", True),
        ("renewal_reminder", "email", date(2026, 9, 1), "ap@alder.example", "sent", True),
        ("sales_alert", "internal", date(2026, 10, 1), "sales@sentinel.example", "sent", False),
    ]
    assert _in_force(story, "K-101-M-R1") is None


def test_offer_summarises_what_was_billed_and_prices_the_options(story):
    offer = _renewal(story, "K-101-M")["offer"]
    assert offer["summary"]["since"] == "2025-11-01" and offer["summary"]["through"] == "2026-08-02"
    assert [(g["key"], g["amount"]) for g in offer["summary"]["groups"]] == [("monitoring", "790.00")]
    assert offer["summary"]["total"] == "790.00" and offer["summary"]["monthly_value"] == "79.00"
    assert offer["current"] == [{"what": "Monitoring MON-STD at S-101", "unit": "per monthly cycle",
                                 "amount": "79.00"}]
    options = {o["name"]: (o["start_date"], o["end_date"], o["length"], [p["amount"] for p in o["prices"]],
                           [item["code"] for item in o["terms"]["recurring"]]) for o in offer["options"]}
    assert options == {
        "same": ("2026-11-01", "2027-10-31", "12 months", ["79.00"], ["MON-STD"]),
        "upgrade": ("2026-11-01", "2027-10-31", "12 months", ["89.00"], ["MON-GOLD"]),
        "longer_term": ("2026-11-01", "2028-10-31", "24 months", ["75.05"], ["MON-STD"]),
    }


def test_sales_alert_says_what_the_contract_is_worth_per_month(story):
    path = story.channels.email.path_for("K-101-M:sales_alert:internal")
    alert = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert alert["To"] == "sales@sentinel.example"
    text = alert.get_body(("plain",)).get_content()
    assert "Worth per month: 79.00 USD." in text and "Alder Storage (C-101" in text


def test_renewal_accepted_on_the_last_day_before_the_end_date(story):
    assert _timeline(story, "K-102-M") == (date(2026, 7, 17), date(2026, 8, 16), date(2026, 9, 15), None,
                                           "accepted", date(2026, 10, 14))
    templates = [(m[0], m[1], m[2]) for m in _messages(story, "K-102-M")]
    assert templates == [("renewal_offer", "sms", date(2026, 7, 17)), ("renewal_reminder", "sms", date(2026, 8, 16)),
                         ("sales_alert", "internal", date(2026, 9, 15)),
                         ("renewal_confirmation", "sms", date(2026, 10, 14))]
    sms = json.loads(story.channels.sms.path_for("K-102-M:renewal_offer:sms").read_text())
    assert sms["to"] == "+1 555 010 102" and len(sms["body"]) <= 1600
    short = sms["body"].rsplit(" ", 1)[1]  # a short link to the signed offer page
    [(target,)] = _rows(story.conn, "select target from billing.short_links where code = %s", short.rsplit("/", 1)[1])
    [(recorded,)] = _rows(story.conn, "select link from billing.messages where dedupe_key = %s",
                          "K-102-M:renewal_offer:sms")
    assert short.startswith("http://127.0.0.1:8080/portal/s/") and target.endswith("/renewal")
    assert recorded == "http://127.0.0.1:8080" + target
    row = _renewal(story, "K-102-M")
    assert (row["option"], row["new_contract_id"], row["decided_by"]) == ("longer_term", "K-102-M-R1", "Pat Client")
    start, end, terms = _in_force(story, "K-102-M-R1")
    assert (start, end) == (date(2026, 10, 16), date(2028, 10, 15))
    assert terms["recurring"] == [{"code": "MON-GOLD", "category": "monitoring", "site_id": "S-102",
                                   "amount": "85.41"}]
    assert terms["renewal_of"] == "K-102-M"
    assert (terms["origin"]["decision"], terms["origin"]["option"], terms["origin"]["decided_by"],
            terms["origin"]["decided_on"]) == ("accepted", "longer_term", "Pat Client", "2026-10-14")
    assert _in_force(story, "K-102-M")[1] == date(2026, 10, 15)
    assert _option(story, "K-102-M", "upgrade")["prices"][0]["amount"] == "119.00"  # MON-PLAT, the next tier


def test_first_invoice_under_the_renewed_terms_is_prorated(story):
    october = _rows(story.conn, """select i.contract_ids, i.issue_date, i.due_date, l.amount, l.explanation
                                   from billing.invoices i join billing.invoice_lines l using (invoice_id)
                                   where i.client_id = 'C-102' and i.period_start >= '2026-10-01'
                                     and i.period_start < '2026-12-01' and l.category = 'monitoring'
                                   order by i.issue_date""")
    assert [(ids, issued, due, amount) for ids, issued, due, amount, _ in october] == [
        (["K-102-M"], date(2026, 9, 26), date(2026, 10, 1), Decimal("43.50")),
        (["K-102-M-R1"], date(2026, 10, 11), date(2026, 10, 16), Decimal("44.08")),
        (["K-102-M-R1"], date(2026, 10, 27), date(2026, 11, 1), Decimal("85.41")),
    ]
    assert "prorated 15/31" in october[0][4] and "prorated 16/31" in october[1][4]
    assert "85.41 per monthly cycle" in october[2][4]
    # every day of October is billed once: the old contract's 15 days and the renewal's 16
    assert _rows(story.conn, """select i.period_start, i.period_end from billing.invoices i
                                where i.client_id = 'C-102' and i.period_start between '2026-10-01' and '2026-10-31'
                                order by i.period_start""") == [(date(2026, 10, 1), date(2026, 10, 15)),
                                                                (date(2026, 10, 16), date(2026, 10, 31))]


def test_leap_day_end_auto_renews_for_the_same_length(story):
    assert _timeline(story, "K-103-G") == (date(2027, 12, 1), date(2027, 12, 31), None, date(2028, 1, 30),
                                           "auto_renewed", date(2028, 3, 1))
    assert [(m[0], m[1], m[2]) for m in _messages(story, "K-103-G")] == [
        ("renewal_offer", "portal", date(2027, 12, 1)), ("renewal_reminder", "portal", date(2027, 12, 31)),
        ("renewal_auto_notice", "portal", date(2028, 1, 30)), ("renewal_confirmation", "portal", date(2028, 3, 1))]
    assert _rows(story.conn, "select title, posted_on from billing.portal_notices where client_id = 'C-103' "
                             "order by posted_on")[0] == (
        "Your contract K-103-G ends on 2028-02-29: renewal offer (Sentinel Guard Services LLC)", date(2027, 12, 1))
    row = _renewal(story, "K-103-G")
    assert (row["option"], row["new_contract_id"], row["monthly_value"]) == ("same", "K-103-G-R1",
                                                                                Decimal("2085.71"))
    assert [o["name"] for o in row["offer"]["options"]] == ["same", "longer_term"]  # guard work: no tier above
    assert row["offer"]["summary"]["groups"] == [
        {"key": "guard_hours", "label": "Guard hours", "unit": "h", "amount": "480.00", "quantity": "16.00"}]
    # the renewal document the next run's dbt build reads (the story ends on the renewal day)
    [(document,)] = _rows(story.conn, """select document from raw.contract_documents
                                         where client_id = 'C-103' and source = 'renewals'""")
    [terms] = document["contracts"]
    assert (terms["id"], terms["start_date"], terms["end_date"]) == ("K-103-G-R1", "2028-03-01", "2029-02-28")
    assert terms["rates"] == [{"service_type": "unarmed", "rate": "30.00"}] and terms["auto_renew"] is True
    assert terms["origin"]["decision"] == "auto_renewed" and terms["renewal_of"] == "K-103-G"


def test_decline_after_the_auto_renew_notice_ends_the_contract(story):
    assert _timeline(story, "K-104-M") == (date(2026, 10, 2), date(2026, 11, 1), None, date(2026, 12, 1),
                                           "declined", date(2026, 12, 10))
    assert [(m[0], m[2]) for m in _messages(story, "K-104-M")] == [
        ("renewal_offer", date(2026, 10, 2)), ("renewal_reminder", date(2026, 11, 1)),
        ("renewal_auto_notice", date(2026, 12, 1)), ("renewal_declined", date(2026, 12, 10))]
    assert _renewal(story, "K-104-M")["new_contract_id"] is None and _in_force(story, "K-104-M-R1") is None
    assert _rows(story.conn, "select max(period_end) from billing.invoices where client_id = 'C-104'") == [
        (date(2026, 12, 31),)]


def test_documented_upgrade_then_a_second_renewal(story):
    assert [o["name"] for o in _renewal(story, "K-105-M")["offer"]["options"]] == ["same", "upgrade", "longer_term"]
    upgrade = _option(story, "K-105-M", "upgrade")
    assert upgrade["description"] == "Platinum monitoring with video verification"
    assert [p["amount"] for p in upgrade["prices"]] == ["119.00"]
    assert [p["amount"] for p in _option(story, "K-105-M", "longer_term")["prices"]] == ["84.55"]
    assert _option(story, "K-105-M", "longer_term")["end_date"] == "2027-02-28"  # 6 months
    start, end, terms = _in_force(story, "K-105-M-R1")
    assert (start, end) == (date(2026, 9, 1), date(2026, 11, 30))
    assert terms["recurring"][0]["code"] == "MON-PLAT" and "renewal" not in terms  # the upgrade is used up
    assert _timeline(story, "K-105-M-R1")[0] == date(2026, 9, 1)
    assert _renewal(story, "K-105-M-R1")["new_contract_id"] == "K-105-M-R2"
    assert _in_force(story, "K-105-M-R2")[:2] == (date(2026, 12, 1), date(2027, 2, 28))
    assert _timeline(story, "K-105-M-R2") == (date(2026, 12, 1), date(2026, 12, 30), date(2027, 1, 29), None,
                                              "expired", date(2027, 3, 1))


def test_first_range_through_the_dagster_asset(story):
    """06-01 .. 06-09 ran as one single-run backfill: K-105-M's offer on 06-02, and the KPIs."""
    meta = story.asset_metadata
    assert (meta["through"], meta["offers_sent"], meta["reminders_sent"], meta["messages_sent"]) == (
        "2026-06-09", 1, 0, 1)
    assert meta["offers_pending"] == 1 and meta["renewal_rate"].startswith("n/a")
    assert meta["revenue_up_for_renewal_90_days"] == {"USD": "89.00"} and meta["revenue_lost_to_expiry"] == {}


def test_kpis(story):
    october = renewal_kpis(story.conn, date(2026, 10, 20))
    # decided by then: K-105-M, K-105-M-R1, K-102-M, all renewed; pending: K-101-M, K-104-M
    assert (october.decided, october.renewed, october.renewal_rate, october.offers_pending) == (3, 3, "100.0%", 2)
    assert october.up_for_renewal == {"USD": "183.00"} and october.lost_to_expiry == {}
    final = renewal_kpis(story.conn, LAST_DAY)
    assert (final.decided, final.renewed, final.renewal_rate, final.offers_pending) == (7, 4, "57.1%", 0)
    assert final.lost_to_expiry == {"USD": "302.00"}  # K-101-M 79.00, K-104-M 104.00, K-105-M-R2 119.00


def test_export_renewals(story):
    records = {r["contract_id"]: r for r in reports.renewals(story.conn)}
    story.conn.commit()
    assert {cid: (r["status"], r["option"], r["new_contract_id"]) for cid, r in records.items()} == {
        "K-101-M": ("expired", None, None), "K-102-M": ("accepted", "longer_term", "K-102-M-R1"),
        "K-103-G": ("auto_renewed", "same", "K-103-G-R1"), "K-104-M": ("declined", None, None),
        "K-105-M": ("accepted", "upgrade", "K-105-M-R1"), "K-105-M-R1": ("accepted", "same", "K-105-M-R2"),
        "K-105-M-R2": ("expired", None, None)}
    assert records["K-104-M"] == {
        "contract_id": "K-104-M", "client_id": "C-104", "end_date": "2026-12-31", "auto_renew": True,
        "status": "declined", "offered_on": "2026-10-02", "reminded_on": "2026-11-01", "sales_alerted_on": None,
        "auto_notice_on": "2026-12-01", "decided_on": "2026-12-10", "option": None, "new_contract_id": None}


def _snapshot(story) -> dict:
    return {
        "renewals": _rows(story.conn, "select * from billing.renewals order by contract_id"),
        "messages": _rows(story.conn, """select dedupe_key, status, business_date, attempts from billing.messages
                                         order by dedupe_key"""),
        "documents": _rows(story.conn, "select document_id, content_hash from raw.contract_documents order by 1"),
        "invoices": _rows(story.conn, "select invoice_number, total from billing.invoices order by invoice_id"),
        "files": sorted(p.name for p in story.outbox.rglob("*") if p.is_file()),
    }


def test_running_the_days_again_changes_nothing(story):
    before = _snapshot(story)
    story.run(FIRST_DAY, LAST_DAY)
    assert _snapshot(story) == before


def _crm_document(client_id: str, name: str, site: str, contract: dict) -> ParseResult:
    """A CRM account as connectors/crm stores it: the CRM's own document of the client."""
    document = canonical_json({"client": {"id": client_id, "name": name, "email": f"crm@{client_id.lower()}.example"},
                               "sites": [{"id": site, "name": f"{name} - Main", "timezone": "America/New_York",
                                          "tax_jurisdiction": "US-NY"}],
                               "contracts": [contract]})
    rows = pl.DataFrame([{"client_id": client_id, "document": document, "source_file": "crm/contracts.json",
                          "content_hash": sha256_text(document)}])
    return ParseResult(source="crm", table="contract_documents", rows=rows)


def test_edits_after_acceptance_keep_the_renewal_and_the_crm_is_matched_not_duplicated(story):
    """Runs last: it changes the contracts. C-102's contract file is edited after the
    acceptance (K-102-M extended in place to 2027-06-30, a new email); the CRM then sends
    K-103-G's renewal under an id of its own and K-105-M-R2 under ours. One contract bills
    each day, and dbt's tests pass on the result."""
    inbox = story.workdir / "inbox"
    edited = contract_file("C-102").replace("2026-10-15", "2027-06-30").replace("ap@birch", "billing@birch")
    (inbox / "contracts" / "C-102.yaml").write_text(edited)
    assert ingest_inbox(story.conn, inbox).tables.get("contract_documents") == 1
    store_results(story.conn, [
        _crm_document("C-103", "Cedar Hospital", "S-103", {
            "id": "SF-00000103", "start_date": "2028-03-01", "end_date": "2029-02-28", "billing_cycle": "weekly",
            "rates": [{"service_type": "unarmed", "rate": "30.00"}]}),
        _crm_document("C-105", "Elm Retail", "S-105", {
            "id": "K-105-M-R2", "start_date": "2026-12-01", "end_date": "2027-02-28", "billing_cycle": "monthly",
            "recurring": [{"code": "MON-PLAT", "category": "monitoring", "site_id": "S-105", "amount": "119.00"}]}),
    ])
    result = run_dbt(story.warehouse, story.workdir / "dbt", "build", "--indirect-selection", "cautious",
                     "--select", *CONTRACT_MODELS)
    assert result.success, result.exception
    # the accepted renewal stands as accepted; the renewed contract still ends the day before it
    assert _in_force(story, "K-102-M")[:2] == (date(2025, 10, 16), date(2026, 10, 15))
    assert _in_force(story, "K-102-M-R1")[2]["recurring"][0]["amount"] == "85.41"
    # the CRM's own id stands for K-103-G-R1; K-105-M-R2 is one contract, the CRM's
    assert _in_force(story, "K-103-G-R1") is None and _in_force(story, "SF-00000103")[:2] == (
        date(2028, 3, 1), date(2029, 2, 28))
    assert "origin" not in _in_force(story, "K-105-M-R2")[2]
    assert _rows(story.conn, "select count(*) from marts.dim_contracts where client_id in ('C-103', 'C-105')") == [
        (5,)]  # K-103-G, SF-00000103, K-105-M, -R1, -R2
    before = _snapshot(story)
    story.run(FIRST_DAY, LAST_DAY)  # nothing is offered again, nothing billed twice
    assert {k: v for k, v in _snapshot(story).items() if k != "files"} == {
        k: v for k, v in before.items() if k != "files"}
