"""The web application's foundation: signed portal links judged by the business clock, 403
that shows nothing, security headers, and the health probe (real PostgreSQL)."""

from __future__ import annotations

from datetime import date

import pytest
from starlette.testclient import TestClient

from billing.links import portal_link, token_for
from vigil_app.web import csrf
from vigil_app.web.app import create_app

pytestmark = pytest.mark.integration


@pytest.fixture
def client(conn, monkeypatch):
    with conn, conn.cursor() as cur:
        cur.execute("create schema if not exists marts")
        cur.execute("create table if not exists marts.dim_clients (client_id text primary key, client_name text)")
        cur.execute("delete from marts.dim_clients")
        cur.execute("truncate billing.invoices cascade")
        for client_id, name, number, total in (("C-1", "Harbor Logistics", "INV-2026-000001", "1393.60"),
                                               ("C-2", "Birch Warehousing", "INV-2026-000002", "212.50")):
            cur.execute("insert into marts.dim_clients values (%s, %s)", (client_id, name))
            cur.execute(
                """insert into billing.invoices (invoice_key, invoice_number, status, kind, client_id, contract_ids,
                       currency, period_start, period_end, issue_date, due_date, subtotal, tax_total, total)
                   values (%s, %s, 'issued', 'arrears', %s, '{K}', 'USD', '2026-10-05', '2026-10-11', '2026-10-12',
                           '2026-11-11', %s, 0, %s)""", (number, number, client_id, total, total))
    monkeypatch.setenv("VIGIL_TODAY", "2026-10-20")
    with TestClient(create_app()) as test_client:
        yield test_client


def _path(link: str) -> str:
    return link.split("127.0.0.1:8080", 1)[1]


def test_a_link_shows_its_client_only(client):
    page = client.get(_path(portal_link("C-1", "invoices", date(2026, 10, 12))))
    assert page.status_code == 200
    assert "Harbor Logistics" in page.text and "INV-2026-000001" in page.text and "1393.60" in page.text
    assert "INV-2026-000002" not in page.text and "Birch" not in page.text
    assert page.headers["referrer-policy"] == "no-referrer" and "default-src 'self'" in page.headers[
        "content-security-policy"]


def test_tampered_expired_and_foreign_links_answer_403_showing_nothing(client):
    token = token_for("C-1", "invoices", date(2026, 11, 11))
    body, mac = token.split(".")
    forged = token_for("C-2", "invoices", date(2026, 11, 11)).split(".")[0] + "." + mac
    expired = token_for("C-1", "invoices", date(2026, 10, 19))  # VIGIL_TODAY is 10-20
    for bad in (body + "." + mac[:-2] + "AA", forged, expired, "garbage"):
        page = client.get(f"/portal/{bad}")
        assert page.status_code == 403
        assert "Harbor" not in page.text and "Birch" not in page.text and "INV-" not in page.text
    one_invoice = client.get(f"/portal/{token_for('C-2', 'invoice:INV-2026-000002', date(2026, 11, 11))}")
    assert one_invoice.status_code == 200 and "INV-2026-000001" not in one_invoice.text


def test_csrf_tokens_are_bound_to_their_holder_and_form():
    token = csrf.token("link-a", "pay")
    assert csrf.valid("link-a", "pay", token)
    assert not csrf.valid("link-b", "pay", token) and not csrf.valid("link-a", "decline", token)
    assert not csrf.valid("link-a", "pay", None) and not csrf.valid("link-a", "pay", token + "x")


def test_health_probe(client):
    assert client.get("/healthz").text == "ok"
