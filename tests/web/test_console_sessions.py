"""Console sessions and sign-in limits without a browser (real PostgreSQL): the cookie's
flags over https, sign-out revoking the session server-side, a password change ending
sessions, the rate limits per account and per address, and cross-site POSTs refused."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from vigil_app import accounts
from vigil_app.web.app import create_app
from vigil_app.web.console import session as sessions

pytestmark = pytest.mark.integration

PASSWORD = "finance-password-1"


@pytest.fixture
def users(conn):
    with conn.cursor() as cur:
        cur.execute("truncate console.users, console.sessions, console.sign_in_attempts, console.audit_log cascade")
    conn.commit()
    accounts.add_user(conn, "ana", "finance", PASSWORD, actor="test")
    accounts.add_user(conn, "bob", "viewer", PASSWORD, actor="test")
    return conn


def _client(base_url: str = "http://testserver") -> TestClient:
    return TestClient(create_app(), base_url=base_url)


def _sign_in(client: TestClient, name: str, password: str, headers: dict | None = None):
    form = client.get("/console/sign-in").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    return client.post("/console/sign-in", data={"csrf_token": token, "name": name, "password": password},
                       headers=headers or {}, follow_redirects=False)


def test_session_cookie_is_secure_over_https_and_sign_out_revokes_it(users):
    client = _client("https://console.example")
    answer = _sign_in(client, "ana", PASSWORD)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/findings"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    value = client.cookies.get(sessions.COOKIE)
    with users.cursor() as cur:
        cur.execute("select count(*) from console.sessions where revoked_at is null")
        assert cur.fetchone()[0] == 1
    users.commit()
    home = client.get("/console/audit")
    assert home.status_code == 200 and "ana (finance)" in home.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)  # the sign-out form
    assert client.post("/console/sign-out", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    replay = _client("https://console.example")
    replay.cookies.set(sessions.COOKIE, value, domain="console.example", path="/console")
    assert replay.get("/console/audit", follow_redirects=False).headers["location"].startswith("/console/sign-in")


def test_a_password_change_ends_open_sessions(users):
    client = _client()
    _sign_in(client, "bob", PASSWORD)
    assert client.get("/console/audit").status_code == 200
    accounts.add_user(users, "bob", "viewer", "another-password-2", actor="test")
    assert client.get("/console/audit", follow_redirects=False).status_code == 303


def test_sign_in_is_limited_per_account_then_per_address(users):
    client = _client()
    for _ in range(sessions.ACCOUNT_FAILURES):
        assert _sign_in(client, "ana", "wrong password").status_code == 401
    refused = _sign_in(client, "ana", PASSWORD)  # the right password, but too late
    assert refused.status_code == 429 and "Too many failed sign-ins" in refused.text
    assert _sign_in(client, "bob", PASSWORD).status_code == 303  # another account from the same address
    with users.cursor() as cur:  # the address has failed 20 times (other names)
        cur.execute("""insert into console.sign_in_attempts (user_name, client_address, succeeded)
                       select 'guess' || n, 'testclient', false from generate_series(1, 20) n""")
    users.commit()
    assert _sign_in(client, "bob", PASSWORD).status_code == 429


def test_cross_site_posts_and_forged_cookies_are_refused(users):
    client = _client()
    assert _sign_in(client, "ana", PASSWORD, headers={"sec-fetch-site": "cross-site"}).status_code == 403
    assert _sign_in(client, "ana", PASSWORD, headers={"origin": "https://evil.example"}).status_code == 403
    assert _sign_in(client, "ana", PASSWORD, headers={"sec-fetch-site": "same-origin"}).status_code == 303
    forged = _client()
    forged.cookies.set(sessions.COOKIE, client.cookies.get(sessions.COOKIE)[:-3] + "AAA")
    assert forged.get("/console/audit", follow_redirects=False).status_code == 303
    page = client.get("/console/audit").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/console/sign-out", data={"csrf_token": token}, headers={"sec-fetch-site": "cross-site"})
    assert answer.status_code == 403


def test_users_add_refuses_bad_input(users):
    with pytest.raises(accounts.AccountError, match="at least 12"):
        accounts.add_user(users, "carl", "finance", "short", actor="test")
    with pytest.raises(accounts.AccountError, match="not a role"):
        accounts.add_user(users, "carl", "admin", PASSWORD, actor="test")
    with pytest.raises(accounts.AccountError, match="not a user name"):
        accounts.add_user(users, "carl smith", "finance", PASSWORD, actor="test")
    with users.cursor() as cur:
        cur.execute("select password_hash from console.users where user_name = 'ana'")
        stored = cur.fetchone()[0]
        cur.execute("select count(*) from console.audit_log where action = 'add user' and after ? 'password'")
        assert cur.fetchone()[0] == 2
    users.commit()
    assert stored.startswith("scrypt$131072$8$1$") and PASSWORD not in stored
    assert accounts.verify_password(PASSWORD, stored) and not accounts.verify_password(PASSWORD + "x", stored)


def test_the_demo_user_is_created_once_with_a_password_shown_once(users):
    from vigil_app.demo.console_user import DEMO_USER, ensure_demo_user, how_to_open

    password = ensure_demo_user()
    assert accounts.authenticate(users, DEMO_USER, password) == accounts.User(DEMO_USER, "finance")
    assert password in how_to_open(password) and "/console/" in how_to_open(password)
    assert ensure_demo_user() is None
    assert "vigil users add finance --role finance" in how_to_open(None)
