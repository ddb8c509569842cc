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
    """Mark what needs PostgreSQL, and under xdist start the longest modules first, so no
    worker is left alone with a long module at the end (each module stays on one worker,
    `--dist loadfile`, so its module fixtures are built once). A module's length is what the
    last run measured (pytest's cache); a module not measured yet counts by its markers."""
    for item in items:
        if DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
    if not getattr(config.option, "numprocesses", None):
        return
    cache = getattr(config, "cache", None)
    measured = cache.get(MODULE_SECONDS, {}) if cache is not None else {}

    def guess(item: pytest.Item) -> float:
        return 300.0 if item.get_closest_marker("e2e") else 30.0 if item.get_closest_marker("integration") else 1.0

    seconds: dict[str, float] = {}
    first_position: dict[str, int] = {}
    for position, item in enumerate(items):
        module = _module_of(item.nodeid)
        first_position.setdefault(module, position)
        seconds[module] = measured.get(module, max(seconds.get(module, 0.0), guess(item)))
    items.sort(key=lambda item: (-seconds[_module_of(item.nodeid)], first_position[_module_of(item.nodeid)]))


MODULE_SECONDS = "vigil/module-seconds"
_module_durations: dict[str, float] = {}


def _module_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Every test's setup, call and teardown, added up per module (on the xdist controller,
    which receives every worker's reports) for the next run's order."""
    _module_durations[_module_of(report.nodeid)] = _module_durations.get(_module_of(report.nodeid), 0.0) + \
        report.duration


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
    """Keep the modules' durations for the next run's order; stop what the session started
    under its VIGIL_HOME, then remove it."""
    from vigil import services

    config = session.config
    if _module_durations and getattr(config, "cache", None) is not None and not hasattr(config, "workerinput"):
        known = config.cache.get(MODULE_SECONDS, {})
        config.cache.set(MODULE_SECONDS, {**known, **{name: round(value, 1) for name, value in
                                                      _module_durations.items()}})

    os.environ["VIGIL_HOME"] = str(_SESSION_HOME)
    try:
        services.stop_all()
    finally:
        shutil.rmtree(_SESSION_HOME, ignore_errors=True)
