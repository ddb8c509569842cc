"""The portal's renewal offer page through the ASGI app (and once in chromium): the signed
link opens its client's offer only, Accept (with an option) and Decline are recorded with
the name given and dated by the business clock (VIGIL_TODAY), a POST without a valid CSRF
token or from another origin changes nothing, and the offer closes with the contract."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from billing.renewals import store
from billing.renewals.messages import offer_link
from billing.renewals.options import options_for, price_rows
from billing.renewals.summary import BilledGroup, BilledSummary
from tests.browser import LiveServer, browser, page, screenshot  # noqa: F401 - fixtures
from vigil_app.web.app import create_app

pytestmark = pytest.mark.integration

END = date(2026, 12, 31)
TERMS = {"id": "", "start_date": "2026-01-01", "end_date": "2026-12-31", "billing_cycle": "monthly",
         "recurring": [{"code": "MON-STD", "category": "monitoring", "site_id": "S-1", "amount": "79.00"}]}
LADDER = [("MON-STD", Decimal("79.00")), ("MON-GOLD", Decimal("89.00"))]
CLIENTS = {"C-201": "Harbor Logistics", "C-202": "Birch Warehousing", "C-203": "Cedar Clinics"}


def _offer(conn, contract_id: str, client_id: str) -> None:
    """An offer as the daily run makes it (billing.renewals.daily._offer), 790.00 billed."""
    summary = BilledSummary(date(2025, 10, 3), date(2026, 10, 2), "USD",
                            (BilledGroup("monitoring", "Monitoring, rentals and service fees", None, None,
                                         Decimal("790.00")),), Decimal("790.00"), Decimal("79.00"))
    terms = {**TERMS, "id": contract_id}
    offer = {"summary": summary.to_dict(), "current": [row.to_dict() for row in price_rows(terms, "USD")],
             "options": [o.to_dict(END, "USD") for o in options_for(terms, date(2026, 1, 1), END, "USD", LADDER)]}
    contract = {"contract_id": contract_id, "client_id": client_id, "currency": "USD", "end_date": END,
                "auto_renew": False}
    with conn, conn.cursor() as cur:
        store.insert_offer(cur, contract=contract, day=date(2026, 10, 2), root=contract_id, generation=1,
                           offer=offer, monthly_value=summary.monthly_value)


@pytest.fixture(scope="module")
def offers(warehouse):
    from vigil import db

    conn = db.connect()
    with conn, conn.cursor() as cur:
        cur.execute("create schema if not exists marts")
        cur.execute("create table marts.dim_clients (client_id text primary key, client_name text)")
        cur.executemany("insert into marts.dim_clients values (%s, %s)", list(CLIENTS.items()))
    for number, client_id in enumerate(CLIENTS, start=1):
        _offer(conn, f"K-20{number}-M", client_id)
    yield conn
    conn.close()


@pytest.fixture
def client(offers, monkeypatch):
    monkeypatch.setenv("VIGIL_TODAY", "2026-11-15")
    with TestClient(create_app(), base_url="http://127.0.0.1:8080") as test_client:
        yield test_client


def _path(link: str) -> str:
    return link.split("127.0.0.1:8080", 1)[1]


def _decision(conn, contract_id: str) -> tuple:
    with conn.cursor() as cur:
        cur.execute("""select decision, decided_on, decided_by, option, new_contract_id from billing.renewals
                       where contract_id = %s""", (contract_id,))
        found = cur.fetchone()
    conn.commit()
    return found


def _csrf(page_text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_text).group(1)


def test_the_link_opens_its_clients_offer_only(client):
    link = _path(offer_link("C-201", "K-201-M", END))
    shown = client.get(link)
    assert shown.status_code == 200
    text = shown.text
    assert "Harbor Logistics" in text and "K-201-M" in text and "790.00 USD" in text
    assert "Same terms" in text and "Upgrade" in text and "Longer term" in text
    assert "89.00 USD" in text and "75.05 USD" in text and "2027-01-01 to 2028-12-31" in text
    assert "Birch" not in text and text.count('name="csrf_token"') == 2
    for foreign in (offer_link("C-202", "K-201-M", END), offer_link("C-201", "K-202-M", END)):
        refused = client.get(_path(foreign))
        assert refused.status_code == 403 and "Harbor" not in refused.text and "Birch" not in refused.text
    invoices_link = _path(offer_link("C-201", "K-201-M", END)).replace("/renewal", "")
    assert client.get(invoices_link + "x/renewal").status_code == 403  # tampered


def test_a_post_without_a_valid_csrf_token_changes_nothing(client, offers):
    link = _path(offer_link("C-201", "K-201-M", END))
    other = _path(offer_link("C-202", "K-202-M", END))
    foreign_token = _csrf(client.get(other).text)
    for form, headers in (({"action": "accept", "option": "same", "name": "Mallory"}, {}),
                          ({"action": "accept", "option": "same", "name": "Mallory", "csrf_token": foreign_token}, {}),
                          ({"action": "decline", "name": "Mallory", "csrf_token": _csrf(client.get(link).text)},
                           {"origin": "https://evil.example"})):
        answer = client.post(link, data=form, headers=headers, follow_redirects=False)
        assert answer.status_code == 403
    assert _decision(offers, "K-201-M") == (None, None, None, None, None)


def test_accept_with_an_option_is_dated_by_the_business_clock(client, offers):
    link = _path(offer_link("C-201", "K-201-M", END))
    token = _csrf(client.get(link).text)
    answer = client.post(link, data={"csrf_token": token, "action": "accept", "option": "upgrade",
                                     "name": "Dana Reyes"}, follow_redirects=False)
    assert answer.status_code == 303
    assert _decision(offers, "K-201-M") == ("accepted", date(2026, 11, 15), "Dana Reyes", "upgrade", "K-201-M-R1")
    shown = client.get(link).text
    assert "Renewed as <strong>K-201-M-R1</strong>" in shown and "accepted by Dana Reyes on 2026-11-15" in shown
    assert 'name="csrf_token"' not in shown  # decided: no form any more
    with offers.cursor() as cur:
        cur.execute("""select document -> 'contracts' -> 0 from raw.contract_documents
                       where client_id = 'C-201' and source = 'renewals'""")
        [(terms,)] = cur.fetchall()
    offers.commit()
    assert (terms["id"], terms["start_date"], terms["end_date"], terms["recurring"][0]["code"]) == (
        "K-201-M-R1", "2027-01-01", "2027-12-31", "MON-GOLD")
    assert terms["origin"]["decided_by"] == "Dana Reyes" and terms["origin"]["decided_on"] == "2026-11-15"


def test_decline_then_no_second_answer(client, offers):
    link = _path(offer_link("C-202", "K-202-M", END))
    token = _csrf(client.get(link).text)
    assert client.post(link, data={"csrf_token": token, "action": "decline", "name": "Sam Birch"},
                       follow_redirects=False).status_code == 303
    again = client.post(link, data={"csrf_token": token, "action": "accept", "option": "same", "name": "Sam Birch"},
                        follow_redirects=False)
    assert again.status_code == 409 and "already declined on 2026-11-15" in again.text
    assert _decision(offers, "K-202-M") == ("declined", date(2026, 11, 15), "Sam Birch", None, None)


def test_the_offer_closes_with_the_contract(client, offers, monkeypatch):
    monkeypatch.setenv("VIGIL_TODAY", "2027-01-01")
    assert client.get(_path(offer_link("C-203", "K-203-M", END))).status_code == 403  # the link ends with it


def test_accept_in_a_browser(offers, page, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("VIGIL_TODAY", "2026-12-31")  # the contract's last day: still open
    with LiveServer(create_app()) as server:
        monkeypatch.setenv("VIGIL_PUBLIC_URL", server.url)
        page.goto(offer_link("C-203", "K-203-M", END))
        assert page.locator("h1").inner_text() == "Cedar Clinics"
        page.check("input[value=longer_term]")
        page.locator("form.renewal-accept input[name=name]").fill("Lee Cedar")
        page.locator("form.renewal-accept button").click()
        page.wait_for_selector("p.decision")
        assert "Renewed as K-203-M-R1" in page.locator("p.decision").inner_text()
        screenshot(page, tmp_path, "renewal-accepted")
    assert _decision(offers, "K-203-M") == ("accepted", date(2026, 12, 31), "Lee Cedar", "longer_term", "K-203-M-R1")


def test_the_console_lists_the_pipeline_with_its_kpis(client, offers):
    """Finance sees every contract in its renewal window, where it stands, and the KPIs."""
    from tests.web.test_console_sessions import PASSWORD, _sign_in
    from vigil_app import accounts

    with offers.cursor() as cur:
        cur.execute("truncate console.users, console.sessions, console.sign_in_attempts cascade")
    offers.commit()
    accounts.add_user(offers, "ana", "viewer", PASSWORD, actor="test")
    assert _sign_in(client, "ana", PASSWORD).status_code == 303
    page_text = client.get("/console/renewals").text
    for number in (1, 2, 3):
        assert f"K-20{number}-M" in page_text
    assert "2026-12-31" in page_text and "79.00 USD" in page_text
    assert "offer(s) pending" in page_text and "Renewal rate" in page_text
