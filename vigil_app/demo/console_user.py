"""The demo's console user: `finance` with a random password, created by the first `vigil
demo` of a VIGIL_HOME and printed that once (a later demo only says how to reset it)."""

from __future__ import annotations

import secrets

from vigil import db
from vigil_app import accounts

DEMO_USER = "finance"


def ensure_demo_user() -> str | None:
    """The new password, or None when the user already exists."""
    with db.transaction() as conn:
        with conn.cursor() as cur:
            cur.execute("select 1 from console.users where user_name = %s", (DEMO_USER,))
            if cur.fetchone() is not None:
                return None
        password = secrets.token_urlsafe(12)
        accounts.add_user(conn, DEMO_USER, "finance", password, actor="vigil demo")
    return password


def how_to_open(password: str | None) -> str:
    login = (f"user {DEMO_USER}, password {password} (shown once)" if password else
             f"user {DEMO_USER} (its password was shown by the first demo; "
             f"`vigil users add {DEMO_USER} --role finance` sets a new one)")
    return f"console:     `vigil serve`, then http://127.0.0.1:8080/console/ as {login}"
