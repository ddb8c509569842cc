"""Shared fixtures: one embedded PostgreSQL server for the whole session, a fresh
warehouse database per test module that asks for one.

The session has a VIGIL_HOME of its own (never the developer's), and stops everything
started under it when it ends: `vigil ui` process groups, localstripe and the embedded
server (vigil.services.stop_all, what `vigil stop` does), then removes it."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest

_SESSION_HOME = Path(tempfile.mkdtemp(prefix="vigil-test-"))
os.environ["VIGIL_HOME"] = str(_SESSION_HOME)
# A developer's shell settings must not reach the tests: payments are off unless a test
# asks for test mode, and the business clock is the real one unless a test sets it.
for _variable in ("VIGIL_PAYMENTS", "VIGIL_TODAY", "STRIPE_API_KEY", "STRIPE_API_BASE", "DAGSTER_HOME"):
    os.environ.pop(_variable, None)


@pytest.fixture(scope="module")
def warehouse(request):
    """A migrated warehouse database of this module's own; yields its ServerParams."""
    from vigil import db

    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.module.__name__.lower())[-50:]
    previous = os.environ.get("VIGIL_WAREHOUSE_DB")
    os.environ["VIGIL_WAREHOUSE_DB"] = name
    db.reset_cache()
    params = db.server_params()
    admin = __import__("psycopg2").connect(params.dsn("postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'drop database if exists "{name}" with (force)')
        cur.execute(f'drop database if exists "{name}_dagster" with (force)')
    admin.close()
    params = db.prepare()
    yield params
    if previous is None:
        os.environ.pop("VIGIL_WAREHOUSE_DB", None)
    else:
        os.environ["VIGIL_WAREHOUSE_DB"] = previous
    db.reset_cache()


@pytest.fixture
def conn(warehouse):
    from vigil import db

    c = db.connect()
    yield c
    c.close()


def pytest_sessionfinish(session, exitstatus):
    """Stop what the session started under its VIGIL_HOME, then remove it."""
    import shutil

    from vigil import services

    os.environ["VIGIL_HOME"] = str(_SESSION_HOME)
    try:
        services.stop_all()
    finally:
        shutil.rmtree(_SESSION_HOME, ignore_errors=True)
