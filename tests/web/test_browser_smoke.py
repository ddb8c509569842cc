"""The browser itself works here: Debian's chromium driven by Playwright opens a portal page
served by uvicorn and takes a screenshot (the portal and console tests build on this)."""

from __future__ import annotations

from datetime import date

import pytest

from billing.links import portal_link
from tests.browser import LiveServer, browser, page, screenshot  # noqa: F401 - fixtures
from vigil_app.web.app import create_app

pytestmark = pytest.mark.integration


def test_chromium_opens_a_portal_link(conn, page, tmp_path, monkeypatch):  # noqa: F811
    with conn, conn.cursor() as cur:
        cur.execute("create schema if not exists marts")
        cur.execute("create table if not exists marts.dim_clients (client_id text primary key, client_name text)")
        cur.execute("insert into marts.dim_clients values ('C-9', 'Smoke Test Security') on conflict do nothing")
    monkeypatch.setenv("VIGIL_TODAY", "2026-10-20")
    with LiveServer(create_app()) as server:
        monkeypatch.setenv("VIGIL_PUBLIC_URL", server.url)
        page.goto(portal_link("C-9", "invoices", date(2026, 10, 12)))
        assert page.locator("h1").inner_text() == "Smoke Test Security"
        assert screenshot(page, tmp_path, "portal").stat().st_size > 1000
        page.goto(f"{server.url}/portal/not-a-token")
        assert "Not allowed" in page.locator("h1").inner_text()
