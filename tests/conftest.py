"""Shared fixtures: one embedded PostgreSQL server per test process, a fresh warehouse
database per test module that asks for one.

Each test process (the whole session, or each pytest-xdist worker under `make test`) has a
VIGIL_HOME of its own (never the developer's), so its own embedded server, Dagster instance,
outbox and services, and a dbt target folder of its own (DBT_TARGET_PATH) for the dbt runs
Dagster starts. It stops everything started under its VIGIL_HOME when it ends: `vigil ui`
process groups, localstripe and the embedded server (vigil.services.stop_all, what
`vigil stop` does), then removes it.

Tiers: a test that uses the `warehouse` or `conn` fixture is marked `integration`;
`make test-fast` runs the others with VIGIL_TEST_TIER=unit, where starting PostgreSQL fails
the test that tried (mark it, or give it the fixture)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

_SESSION_HOME = Path(tempfile.mkdtemp(prefix="vigil-test-"))
os.environ["VIGIL_HOME"] = str(_SESSION_HOME)
# A developer's shell settings must not reach the tests: payments are off unless a test
# asks for test mode, and the business clock is the real one unless a test sets it.
for _variable in ("VIGIL_PAYMENTS", "VIGIL_TODAY", "STRIPE_API_KEY", "STRIPE_API_BASE", "DAGSTER_HOME"):
    os.environ.pop(_variable, None)

DBT_PROJECT_TARGET = Path(__file__).resolve().parents[1] / "dbt_project" / "target"
DATABASE_FIXTURES = {"warehouse", "conn"}
UNIT_TIER = os.environ.get("VIGIL_TEST_TIER") == "unit"


def _is_xdist_controller(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    """Parse the dbt project once, before any worker starts (two workers parsing at once
    would write the same manifest), then give this process its own dbt target folder: the
    per-run folders Dagster's dbt runs create land there and go with the session."""
    if not hasattr(config, "workerinput"):
        from orchestration.lib.dbt import ensure_manifest

        ensure_manifest()
    if _is_xdist_controller(config):
        return
    target = _SESSION_HOME / "dbt-target"
    target.mkdir(parents=True, exist_ok=True)
    partial_parse = DBT_PROJECT_TARGET / "partial_parse.msgpack"
    if partial_parse.exists():  # dbt reuses what the parse above found
        shutil.copy2(partial_parse, target / partial_parse.name)
    os.environ["DBT_TARGET_PATH"] = str(target)
    if UNIT_TIER:
        _refuse_postgresql()


def _refuse_postgresql() -> None:
    """The unit tier starts no PostgreSQL: a test that tries fails, saying so."""
    from vigil import db

    def refuse(*_args, **_kwargs):
        raise RuntimeError("the unit tier (make test-fast) starts no PostgreSQL: this test needs the "
                           "`warehouse` fixture or the `integration` marker")

    db._embedded_params = refuse  # starting the embedded server
    db._open = refuse  # connecting to any server


@pytest.hookimpl(tryfirst=True)  # before -m selects on the markers added here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark what needs PostgreSQL, and under xdist start the heaviest modules first, so no
    worker is left alone with a long module at the end (each module stays on one worker,
    `--dist loadfile`, so its module fixtures are built once)."""
    for item in items:
        if DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
    if not getattr(config.option, "numprocesses", None):
        return

    def weight(item: pytest.Item) -> int:
        return 0 if item.get_closest_marker("e2e") else 1 if item.get_closest_marker("integration") else 2

    module_weight: dict[Path, int] = {}
    first_position: dict[Path, int] = {}
    for position, item in enumerate(items):
        first_position.setdefault(item.path, position)
        module_weight[item.path] = min(module_weight.get(item.path, 2), weight(item))
    items.sort(key=lambda item: (module_weight[item.path], first_position[item.path]))


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
    from vigil import services

    os.environ["VIGIL_HOME"] = str(_SESSION_HOME)
    try:
        services.stop_all()
    finally:
        shutil.rmtree(_SESSION_HOME, ignore_errors=True)
